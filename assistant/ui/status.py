"""The Status tab: where the data lives, which models run, how fast, and whether each one
works; the same check fills the page's banner. The model's speed here is measured from the
answers this process wrote (``SpeedLog``) or by "Measure speed", in the model's line."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import gradio as gr

from assistant.health import ModelProbe, status_report
from assistant.llm import LLM, get_llm
from assistant.models import AnswerTelemetry
from assistant.settings import Settings
from assistant.ui import render
from assistant.ui.common import source_labels
from assistant.ui.waiting_line import WaitingLine


class SpeedLog:
    """Telemetry of the answers (and measurements) this process made: the model's speed here."""

    def __init__(self, keep: int = 50) -> None:
        self._samples: deque[AnswerTelemetry] = deque(maxlen=keep)

    def add(self, telemetry: AnswerTelemetry) -> None:
        if telemetry.completion_tokens:
            self._samples.append(telemetry)

    def text(self) -> str:
        return render.speed_text(list(self._samples))


@dataclass
class Health:
    """What the Status tab and the page banner show."""

    status: str
    banner: str
    sources: list[tuple[str, str]]
    papers: int


def check_health(settings: Settings, speed: SpeedLog, probe: ModelProbe | None = None) -> Health:
    """The status report rendered for the Status tab and the banner; the model's check is
    the ``probe``'s when the app probed it (it never loads the model here)."""
    report = status_report(settings, llm_check=probe.check if probe else None)
    try:
        labels = source_labels(settings) if report.papers else {}
    except Exception:  # the report already says what is wrong with the store
        labels = {}
    facts = [(k, _relabel(v, labels) if k == "Sources" else v) for k, v in report.facts]
    facts.append(("Model speed here", speed.text()))
    return Health(
        status=render.status_html(facts, [(c.name, c.ok, c.detail, c.fix) for c in report.checks]),
        banner=render.banner_html([(p.name, p.detail, p.fix) for p in report.problems]),
        sources=[(labels.get(name, name), name) for name in report.sources],
        papers=report.papers,
    )


def _relabel(text: str, labels: dict[str, str]) -> str:
    """Source file names in ``text`` replaced by their readable labels."""
    for name, label in labels.items():
        text = text.replace(name, label)
    return text


def status_tab() -> tuple[gr.HTML, gr.Button, gr.Button]:
    """Where the data lives, which models run, how fast, and whether each one works."""
    status = gr.HTML("<p class='dim'>Checking the store and the models…</p>", elem_id="status")
    with gr.Row():
        again = gr.Button("Check again", size="sm", scale=0, min_width=130, elem_id="check-again")
        measure = gr.Button(
            "Measure speed", size="sm", scale=0, min_width=140, elem_id="measure-speed"
        )
    return status, again, measure


def measure_speed(settings: Settings, llm: LLM | None, line: WaitingLine, speed: SpeedLog) -> None:
    """One short generation, in line with the answers, to time the model on this machine."""
    ticket = line.join()
    try:
        line.wait(ticket)
        model = llm or get_llm(settings)
        t = model.complete("Explain optical flow in two sentences.", max_tokens=48).telemetry
    finally:
        line.leave(ticket)
    speed.add(
        AnswerTelemetry(
            ttft_s=t.ttft_s,
            total_s=t.total_s,
            completion_tokens=t.completion_tokens,
            tokens_per_s=t.tokens_per_s,
            model=t.model,
            provider=t.provider,
        )
    )
