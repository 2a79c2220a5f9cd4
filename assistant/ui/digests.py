"""The Digests tab: a topic digest streamed stage by stage, and the saved weekly summaries
(opened, or the latest week built), for everyone or for a saved interest. Both wait in the
model's line with the chat's answers; the page reads like an answer, its citation chips
opening the source cards beside it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from html import escape
from typing import Any

import gradio as gr

from assistant.digest import digest_stream
from assistant.errors import InputError
from assistant.llm import LLM
from assistant.models import Digest, DigestProgress
from assistant.page import DigestEvent
from assistant.settings import Settings
from assistant.streams import ResultStream, ResultT
from assistant.ui import render
from assistant.ui.common import failure, filters_of
from assistant.ui.exports import digest_files
from assistant.ui.for_you import interest_names
from assistant.ui.waiting_line import Waiting, WaitingLine, in_line
from assistant.weekly import WeekBuild, build_latest_week_stream, list_saved_weeks, load_week

#: The weekly summaries' "For" choice of the week written for everyone.
EVERYONE = "Everyone"


def _interest(whom: str | None) -> str | None:
    return None if not whom or whom == EVERYONE else whom


def digests_tab(settings: Settings, llm: LLM | None, line: WaitingLine) -> Any:
    """Topic digests streamed stage by stage, and the saved weekly summaries."""
    with gr.Row(elem_id="digest-row", equal_height=True):
        topic = gr.Textbox(
            show_label=False,
            placeholder="A topic, e.g. “KV cache compression”",
            scale=6,
            min_width=240,
            elem_id="digest-topic",
        )
        papers = gr.Slider(
            3, 60, value=settings.digest.papers, step=1, label="Papers", scale=2, min_width=160
        )
        go = gr.Button("Digest", variant="primary", scale=1, min_width=90, elem_id="digest-go")
    with gr.Accordion("Filters", open=False), gr.Row():
        since = gr.Textbox(label="From", placeholder="YYYY-MM-DD", min_width=120)
        until = gr.Textbox(label="Until", placeholder="YYYY-MM-DD", min_width=120)
    with gr.Row(equal_height=True):
        for_whom = gr.Dropdown(
            [EVERYONE, *interest_names(settings)],
            value=EVERYONE,
            label="For",
            scale=2,
            min_width=140,
            elem_id="weeks-for",
        )
        weeks = gr.Dropdown([], label="Saved weekly summaries", scale=4, elem_id="weeks")
        open_week = gr.Button("Open", size="sm", scale=1, min_width=80)
        build = gr.Button("Build the latest week", size="sm", scale=1, min_width=160)
    progress = gr.Markdown("", elem_id="digest-progress")
    with gr.Row(equal_height=False):
        with gr.Column(scale=3, min_width=320):
            page = gr.HTML(render.digest_view_html(None), elem_id="digest-page")
        with gr.Column(scale=2, min_width=280):
            cards = gr.HTML(render.digest_sources_html(None), elem_id="digest-sources")
    with gr.Row():
        md_file = gr.DownloadButton("Markdown", size="sm", interactive=False)
        html_file = gr.DownloadButton("HTML", size="sm", interactive=False)
        csv_file = gr.DownloadButton("Table (.csv)", size="sm", interactive=False)
        bib_file = gr.DownloadButton("Papers (.bib)", size="sm", interactive=False)

    def only_note(note: str) -> tuple[Any, ...]:
        """The progress line changed, the page, cards and downloads left as they are."""
        return (note, *(gr.skip() for _ in outputs[1:]))

    def shown(digest: Digest, note: str) -> tuple[Any, ...]:
        md, html_path, csv_path, bib = digest_files(digest)  # the page shows its notices
        return (
            note,
            render.digest_view_html(digest),
            render.digest_sources_html(digest),
            gr.DownloadButton(value=md, interactive=True),
            gr.DownloadButton(value=html_path, interactive=True),
            gr.DownloadButton(value=csv_path, interactive=digest.covered),
            gr.DownloadButton(value=bib, interactive=bool(digest.citations)),
        )

    def streamed(
        stream: ResultStream[DigestEvent, ResultT], done: Callable[[ResultT], tuple[Any, ...]]
    ) -> Iterator[Any]:
        """Its place in the model's line, progress and the model's text as they come, then
        the finished page."""
        stage, draft = "", ""
        for event in in_line(line, lambda: iter(stream)):
            if isinstance(event, Waiting):
                stage = render.waiting_text(event.ahead)
            elif isinstance(event, DigestProgress):
                stage, draft = f"**{event.stage}** · {escape(event.message)}", ""
            else:
                draft += event
            text = f"{stage}\n\n{escape(draft[-600:])}" if draft else stage
            yield only_note(text)
        yield done(stream.result)

    def make_digest(topic_: str, n_: float, since_: str, until_: str) -> Iterator[Any]:
        try:
            filters = filters_of(since_, until_, None)
            stream = digest_stream(
                topic_ or "", settings, n=round(float(n_)), filters=filters, llm=llm
            )
            yield from streamed(stream, lambda d: shown(d, f"{len(d.citations)} papers"))
        except Exception as exc:
            message = failure(exc)
            gr.Warning(message)
            yield only_note(f"⚠ {escape(message)}")

    def week_choices(whom: str | None = EVERYONE) -> Any:
        try:
            saved = list_saved_weeks(settings, _interest(whom))
        except Exception as exc:
            gr.Warning(failure(exc))
            saved = []
        choices = [
            (render.week_label(w.week, w.papers, w.themes, w.new_themes), w.week) for w in saved
        ]
        return gr.Dropdown(choices=choices, value=choices[0][1] if choices else None)

    def show_week(week: str | None, whom: str | None) -> tuple[Any, ...]:
        try:
            if not week:
                raise InputError("pick a saved week first (or build the latest one).")
            return shown(load_week(settings, week, _interest(whom)), f"week {escape(week)}")
        except Exception as exc:
            message = failure(exc)
            gr.Warning(message)
            return only_note(f"⚠ {escape(message)}")

    def build_latest(whom: str | None) -> Iterator[Any]:
        def finished(result: WeekBuild) -> tuple[Any, ...]:
            if result.digest is None:
                return only_note(escape(result.message))
            return shown(result.digest, escape(result.message))

        try:
            stream = build_latest_week_stream(settings, llm=llm, interest=_interest(whom))
            yield from streamed(stream, finished)
        except Exception as exc:
            message = failure(exc)
            gr.Warning(message)
            yield only_note(f"⚠ {escape(message)}")

    outputs = [progress, page, cards, md_file, html_file, csv_file, bib_file]
    for trigger in (topic.submit, go.click):
        trigger(
            make_digest,
            [topic, papers, since, until],
            outputs,
            api_name="digest" if trigger == go.click else None,
            api_visibility="public" if trigger == go.click else "private",
            concurrency_limit=None,  # the WaitingLine lets one model job through at a time
            show_progress="minimal",
        )
    open_week.click(
        show_week, [weeks, for_whom], outputs, api_name="open_week", concurrency_limit=None
    )
    build.click(
        build_latest,
        [for_whom],
        outputs,
        api_name="build_week",
        concurrency_limit=None,  # in the WaitingLine, with answers and digests
    ).then(week_choices, [for_whom], [weeks], api_visibility="private")
    for_whom.change(week_choices, [for_whom], [weeks], api_visibility="private")
    for_whom.focus(
        lambda: gr.Dropdown(choices=[EVERYONE, *interest_names(settings)]),
        None,
        for_whom,
        api_visibility="private",
    )
    return week_choices, weeks, for_whom
