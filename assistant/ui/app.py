"""The Gradio app: Chat, Library, For you, Digests and Status tabs over the same functions
the CLI calls, served by ``launch`` (``assistant ui``, see ``assistant/cli/ui_commands.py``).

This module holds the page around the tabs: the header and the health banner, the check
that fills them (and the source filters) when the page loads, the theme, the sign-in and
the launch. Each tab is its own module (``chat``, ``library``, ``for_you``, ``digests``,
``status``: layout and event wiring only), so a new tab is one more module and one more line
in ``build_app``. All HTML comes from ``render``. Styles and the small page script (citation
chips, copy buttons, dark mode) live in ``ui/`` at the top of the repository
(``assistant/_ui`` inside the wheel).

Answers, digests and weekly summaries are written ``settings.ui.concurrency`` at a time;
the others wait in one ``WaitingLine`` (``waiting_line``), so a waiting question shows
"waiting, 1 ahead" and Stop works while waiting too. Library and status events have no
limit, so search stays responsive while an answer is written.
"""

from __future__ import annotations

import logging
import threading
from html import escape
from pathlib import Path
from typing import Any

import gradio as gr

from assistant.errors import InputError
from assistant.health import ModelProbe, model_label
from assistant.llm import LLM, get_llm
from assistant.retrieve import search
from assistant.settings import Settings
from assistant.ui import render
from assistant.ui.chat import Runs, chat_tab
from assistant.ui.common import ALL_SOURCES, failure, star_paper
from assistant.ui.digests import digests_tab
from assistant.ui.for_you import for_you_tab
from assistant.ui.library import library_tab
from assistant.ui.status import SpeedLog, check_health, measure_speed, status_tab
from assistant.ui.waiting_line import WaitingLine

log = logging.getLogger(__name__)

#: Static assets: inside the wheel (``assistant/_ui``), else the repository's ``ui/``.
_PACKAGE_ASSETS = Path(__file__).resolve().parent.parent / "_ui"
_REPO_ASSETS = Path(__file__).resolve().parents[2] / "ui"


def assets_dir() -> Path:
    """The directory the stylesheet and script are read from."""
    return _PACKAGE_ASSETS if _PACKAGE_ASSETS.is_dir() else _REPO_ASSETS


def _asset(name: str) -> str:
    path = assets_dir() / name
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        log.warning("UI asset %s is missing; the app works but looks plain", path)
        return ""


def theme() -> gr.themes.Base:
    """A quiet theme with system fonts (nothing is fetched from a font CDN: works offline)."""
    return gr.themes.Soft(
        primary_hue="indigo",
        neutral_hue="slate",
        radius_size="md",
        font=("Inter", "ui-sans-serif", "system-ui", "-apple-system", "Segoe UI", "sans-serif"),
        font_mono=("ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "monospace"),
    )


def auth_pair(settings: Settings) -> tuple[str, str] | None:
    """``settings.ui.auth`` ("user:pass") as Gradio wants it, or None when unset."""
    if settings.ui.auth is None:
        return None
    user, sep, password = settings.ui.auth.get_secret_value().partition(":")
    if not sep or not user or not password:
        raise InputError("--auth must look like user:password (both parts non-empty).")
    return user, password


def bind_warning(host: str, authenticated: bool) -> str | None:
    """A warning when the app listens beyond this machine with no password, else None."""
    if authenticated or host in ("127.0.0.1", "localhost", "::1"):
        return None
    return (
        f"the app listens on {host} without a password: anyone who can reach this machine can "
        "use it. Add --auth user:password (or set ASSISTANT_UI__AUTH)."
    )


def header_html(papers: int | None, settings: Settings) -> str:
    """The title bar: what this is, how much it knows, and the dark-mode switch."""
    count = f"{papers:,} papers" if papers is not None else "the papers"
    return (
        '<div class="app-header"><div class="app-title">Papers assistant</div>'
        f'<div class="app-sub">Cited answers across {count} · {escape(model_label(settings))}'
        '</div><button type="button" id="theme-toggle" class="theme-toggle" '
        'title="Switch dark / light mode" aria-label="Switch dark or light mode">◐</button></div>'
    )


def build_app(
    settings: Settings, *, llm: LLM | None = None, probe: ModelProbe | None = None
) -> gr.Blocks:
    """The whole app; ``llm`` replaces ``get_llm(settings)`` (tests and benchmarks); the
    Status tab and the banner show the ``probe``'s check of the model."""
    line = WaitingLine(settings.ui.concurrency, settings.ui.queue_size)
    runs, speed = Runs(), SpeedLog()
    with gr.Blocks(title="Papers assistant", analytics_enabled=False, fill_width=True) as app:
        header = gr.HTML(header_html(None, settings), elem_id="header")
        # What a source card's ☆ fills and presses (ui/app.js): no logic, a save.
        star_id = gr.Textbox(show_label=False, container=False, elem_id="star-id")
        star_go = gr.Button("save", elem_id="star-go")
        banner = gr.HTML("", visible=False, elem_id="banner")
        with gr.Tabs(selected="chat", elem_id="tabs") as tabs:
            with gr.Tab("Chat", id="chat"):
                chat = chat_tab(settings, llm, line, runs, speed)
            with gr.Tab("Library", id="library") as library_item:
                library = library_tab(settings, tabs, chat)
            with gr.Tab("For you", id="for-you") as for_you_item:
                mine = for_you_tab(settings, tabs, chat)
            with gr.Tab("Digests", id="digests") as digests_item:
                list_weeks, weeks, for_whom = digests_tab(settings, llm, line)
            with gr.Tab("Status", id="status") as status_item:
                status, again, measure = status_tab()

        def refresh() -> tuple[Any, ...]:
            try:
                health = check_health(settings, speed, probe)
            except Exception as exc:  # the page must load whatever is broken
                message = failure(exc)
                return (
                    render.error_html(message),
                    gr.HTML(
                        render.banner_html([("status", message, "assistant doctor")]), visible=True
                    ),
                    gr.skip(),
                    gr.skip(),
                    gr.skip(),
                )
            choices = [(ALL_SOURCES, ALL_SOURCES), *health.sources]
            return (
                health.status,
                gr.HTML(health.banner, visible=bool(health.banner)),
                gr.Dropdown(choices=choices),
                gr.Dropdown(choices=choices),
                header_html(health.papers, settings),
            )

        def measure_then_refresh() -> tuple[Any, ...]:
            try:
                measure_speed(settings, llm, line, speed)
            except Exception as exc:
                gr.Warning(failure(exc))
            return refresh()

        health_outputs = [status, banner, chat.source, library.source, header]
        app.load(refresh, None, health_outputs, api_name="status", concurrency_limit=None)
        chat.restore_on(app)
        for trigger in (again.click, status_item.select):  # opening the tab shows today's speed
            trigger(refresh, None, health_outputs, concurrency_limit=None, api_visibility="private")
        measure.click(
            measure_then_refresh,
            None,
            health_outputs,
            concurrency_limit=None,
            api_name="measure_speed",
        )
        star_go.click(
            lambda paper_id: star_paper(settings, paper_id),
            [star_id],
            None,
            concurrency_limit=None,
            api_name="star",
        )
        digests_item.select(
            list_weeks, [for_whom], [weeks], api_name="weeks", concurrency_limit=None
        )
        for_you_item.select(  # interests saved by the CLI or another browser since the load
            mine.names,
            [mine.interest],
            [mine.interest],
            concurrency_limit=None,
            api_visibility="private",
        )
        # Filled when the tab opens, not at page load: a Dataframe filled while its tab is
        # hidden renders no rows once shown (gradio 6.31). It also picks up new papers.
        library_item.select(
            library.opening,
            library.inputs,
            library.outputs,
            concurrency_limit=None,
            api_visibility="private",
        )
    app.queue(default_concurrency_limit=None, max_size=settings.ui.queue_size)
    return app


def warm_up(settings: Settings, llm: LLM | None = None, probe: ModelProbe | None = None) -> None:
    """Check the model in a child process (``probe``), then load the embedder, the
    retriever's BM25 index and the LLM before the first question.

    Failures are only logged: the Status tab and the banner report them to the user.
    """
    check = probe.run() if probe else None
    if check is not None and not check.ok:
        log.warning("the model check failed (answers are off): %s", check.detail)
    try:
        search(settings, "warm up", k=1)
        if llm is None and (check is None or check.ok):
            get_llm(settings)
    except Exception as exc:
        log.warning("warm-up failed (the Status tab says why): %s", exc)


def launch(
    settings: Settings,
    *,
    llm: LLM | None = None,
    probe: ModelProbe | None = None,
    block: bool = True,
    quiet: bool = False,
) -> gr.Blocks:
    """Build and serve the app as ``settings.ui`` says; returns at once when ``block`` is False.

    Without ``llm``, the model is checked in a child process first (``probe``, made here
    when not given) and the app loads it only if that check passes.
    """
    if probe is None and llm is None:
        probe = ModelProbe(settings)
    app = build_app(settings, llm=llm, probe=probe)
    threading.Thread(
        target=warm_up, args=(settings, llm, probe), name="warm-up", daemon=True
    ).start()
    app.launch(
        server_name=settings.ui.host,
        server_port=settings.ui.port,
        auth=auth_pair(settings),
        auth_message="Papers assistant: sign in with the user and password you were given.",
        share=settings.ui.share,
        prevent_thread_lock=not block,
        show_error=False,
        quiet=quiet,
        ssr_mode=False,
        footer_links=["api"],
        theme=theme(),
        css=_asset("style.css"),
        head=f"<script>{_asset('app.js')}</script>",
    )
    return app
