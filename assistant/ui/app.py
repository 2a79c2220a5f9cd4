"""The Gradio app: Chat, Library and Status tabs over the same functions the CLI calls.

Run it with ``assistant ui`` (see ``assistant/cli/ui_commands.py``). Each tab is built by its
own function, so a new tab (a digest, say) is one more function and one more line in
``build_app``. The event handlers only translate between widgets and the pipeline:
``answer.ask_stream`` answers, ``retrieve.search`` and ``store.list_papers`` fill the library,
``health.status_report`` reports health. Styles and the citation-click script live in ``ui/`` at the
top of the repository (``assistant/_ui`` inside the wheel).

LLM work runs in its own queue lane (``concurrency_id="llm"``, ``settings.ui.concurrency``
at once) so users wait in line with a visible position; library events have no limit, so
search stays responsive while an answer is written.
"""

from __future__ import annotations

import atexit
import logging
import shutil
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

import gradio as gr

from assistant.answer import ask_stream, conversation
from assistant.errors import AssistantError, InputError
from assistant.export import bibtex, chat_markdown
from assistant.health import model_label, status_report
from assistant.llm import LLM
from assistant.models import Answer, SearchFilters
from assistant.retrieve import search
from assistant.settings import MAX_ANSWER_SOURCES, MODES, Settings
from assistant.store import open_store
from assistant.ui import render

log = logging.getLogger(__name__)

#: Static assets: inside the wheel (``assistant/_ui``), else the repository's ``ui/``.
_PACKAGE_ASSETS = Path(__file__).resolve().parent.parent / "_ui"
_REPO_ASSETS = Path(__file__).resolve().parents[2] / "ui"

ALL_SOURCES = "All sources"
#: What the chat input tells a new user.
PLACEHOLDER = "Ask across the papers, e.g. “Which papers handle occlusion in optical flow?”"


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


# --- small translations between widgets and the pipeline ------------------------------------


def filters_of(since: str | None, until: str | None, source: str | None) -> SearchFilters:
    """Search filters from the filter widgets; a bad date is an InputError naming the field."""
    source = None if source == ALL_SOURCES else source
    return SearchFilters.parse(since, until, source, labels=("'From'", "'Until'"))


def sources_count(k: Any) -> int:
    """The slider's value as a whole number (Gradio already holds it within its bounds)."""
    try:
        return round(float(k))
    except (TypeError, ValueError):
        raise InputError(f"the number of sources must be a whole number, not {k!r}.") from None


def chat_messages(answers: list[Answer]) -> list[dict[str, str]]:
    """The chatbot's messages for a list of finished answers."""
    messages: list[dict[str, str]] = []
    for turn, a in enumerate(answers):
        messages.append({"role": "user", "content": a.question})
        messages.append({"role": "assistant", "content": render.answer_html(a, turn)})
    return messages


_EXPORT_ROOT: Path | None = None


def export_files(answers: list[Answer]) -> tuple[str, str]:
    """The conversation as Markdown and its cited papers as BibTeX, written to a temp folder."""
    global _EXPORT_ROOT
    if _EXPORT_ROOT is None:
        _EXPORT_ROOT = Path(tempfile.mkdtemp(prefix="papers-assistant-ui-"))
        atexit.register(shutil.rmtree, _EXPORT_ROOT, True)
    folder = _EXPORT_ROOT / uuid.uuid4().hex
    folder.mkdir()
    markdown = folder / "conversation.md"
    markdown.write_text(chat_markdown(answers), encoding="utf-8")
    papers = {c.paper.id: c.paper for a in answers for c in a.citations}
    bib = folder / "cited-papers.bib"
    bib.write_text(bibtex(list(papers.values())), encoding="utf-8")
    return str(markdown), str(bib)


def _failure(exc: Exception) -> str:
    """A readable message for any failure: ours say what to do, others point at the log."""
    if isinstance(exc, AssistantError):
        return str(exc)
    log.exception("unexpected error in the app")
    return f"Something went wrong ({type(exc).__name__}: {exc}). The server log has the details."


# --- Chat ---------------------------------------------------------------------------------------


@dataclass
class ChatTab:
    """The Chat tab's widgets other parts need: the library pre-fills the question, the
    health check fills the source list."""

    question: gr.Textbox
    source: gr.Dropdown


def chat_tab(settings: Settings, llm: LLM | None) -> ChatTab:
    """Streaming cited answers beside their source cards, with filters and exports."""
    answers = gr.State([])
    with gr.Row(equal_height=False, elem_id="chat-row"):
        with gr.Column(scale=7, min_width=420):
            chatbot = gr.Chatbot(
                label="Conversation",
                show_label=False,
                height=560,
                elem_id="chatbot",
                feedback_options=None,
                buttons=["copy"],
                placeholder=(
                    "<div class='chat-empty'><h3>Ask the papers</h3><p>Answers cite their "
                    "sources; click a number to see the evidence.</p></div>"
                ),
            )
            with gr.Row(elem_id="ask-row"):
                question = gr.Textbox(
                    show_label=False,
                    placeholder=PLACEHOLDER,
                    lines=1,
                    max_lines=6,
                    scale=8,
                    autofocus=True,
                    elem_id="question",
                )
                send = gr.Button("Ask", variant="primary", scale=1, min_width=90, elem_id="send")
            pending = gr.Textbox(visible=False)
            with gr.Row(elem_id="chat-actions"):
                new_chat = gr.Button("New chat", size="sm", variant="secondary")
                md_file = gr.DownloadButton(
                    "Export chat (.md)", size="sm", interactive=False, elem_id="export-md"
                )
                bib_file = gr.DownloadButton(
                    "Cited papers (.bib)", size="sm", interactive=False, elem_id="export-bib"
                )
            with gr.Accordion("Filters", open=False, elem_id="filters"):
                with gr.Row():
                    since = gr.Textbox(label="From", placeholder="YYYY-MM-DD", min_width=120)
                    until = gr.Textbox(label="Until", placeholder="YYYY-MM-DD", min_width=120)
                    source = gr.Dropdown(
                        [ALL_SOURCES], value=ALL_SOURCES, label="Source file", min_width=200
                    )
                with gr.Row():
                    mode = gr.Radio(list(MODES), value=settings.retrieval.mode, label="Retrieval")
                    k = gr.Slider(
                        1,
                        MAX_ANSWER_SOURCES,
                        value=settings.answer.k,
                        step=1,
                        label="Sources per answer",
                    )
        with gr.Column(scale=5, min_width=320, elem_id="sources-col"):
            sources = gr.HTML(render.sources_panel_html([]), elem_id="sources")
    answer_json = gr.JSON(visible=False)

    def stage(text: str, messages: list[dict[str, Any]]) -> tuple[Any, Any, str]:
        """Show the question at once (even while waiting in line) and clear the input."""
        if not (text or "").strip():
            return gr.skip(), gr.skip(), ""
        placeholder = {"role": "assistant", "content": render.streaming_html("")}
        return "", [*messages, {"role": "user", "content": text}, placeholder], text

    def respond(
        text: str,
        done: list[Answer],
        since_: str,
        until_: str,
        source_: str,
        mode_: str,
        k_: float,
    ) -> Iterator[tuple[Any, ...]]:
        """Stream an answer into the chat, then its cards, the exports and the typed result."""
        done = list(done or [])
        messages = chat_messages(done)
        if not (text or "").strip():
            gr.Warning("Type a question first.")
            yield messages, gr.skip(), done, gr.skip(), gr.skip(), gr.skip()
            return
        messages.append({"role": "user", "content": text})
        messages.append({"role": "assistant", "content": render.streaming_html("")})
        try:
            filters = filters_of(since_, until_, source_)
            k_value = sources_count(k_)
            if mode_ and mode_ not in MODES:
                raise InputError(f"retrieval mode must be one of {', '.join(MODES)}.")
            written = ""
            answer: Answer | None = None
            stream = ask_stream(
                text,
                settings,
                history=conversation(done),
                filters=filters,
                mode=mode_ or None,
                k=k_value,
                llm=llm,
            )
            for item in stream:
                if isinstance(item, Answer):
                    answer = item
                    continue
                written += item
                messages[-1]["content"] = render.streaming_html(written)
                yield messages, gr.skip(), done, gr.skip(), gr.skip(), gr.skip()
            if answer is None:  # pragma: no cover - ask_stream always ends with an Answer
                raise AssistantError("the answer did not finish; please ask again.")
            for notice in answer.notices:
                gr.Warning(notice)
            done.append(answer)
            md, bib = export_files(done)
            yield (
                chat_messages(done),
                render.sources_panel_html(done),
                done,
                answer.model_dump(mode="json"),
                gr.DownloadButton(value=md, interactive=True),
                gr.DownloadButton(value=bib, interactive=any(a.citations for a in done)),
            )
        except Exception as exc:  # every failure becomes a message, never a frozen spinner
            message = _failure(exc)
            gr.Warning(message)
            messages[-1]["content"] = render.error_html(message)
            yield messages, gr.skip(), done, {"error": message}, gr.skip(), gr.skip()

    def reset() -> tuple[Any, ...]:
        """Forget the conversation (the library and filters stay as they are)."""
        return (
            [],
            render.sources_panel_html([]),
            [],
            None,
            gr.DownloadButton(value=None, interactive=False),
            gr.DownloadButton(value=None, interactive=False),
            "",
        )

    outputs = [chatbot, sources, answers, answer_json, md_file, bib_file]
    for trigger in (question.submit, send.click):
        trigger(
            stage,
            [question, chatbot],
            [question, chatbot, pending],
            queue=False,
            api_visibility="private",
        ).then(
            respond,
            [pending, answers, since, until, source, mode, k],
            outputs,
            api_name="ask" if trigger == question.submit else "ask_click",
            api_visibility="public" if trigger == question.submit else "private",
            concurrency_limit=settings.ui.concurrency,
            concurrency_id="llm",
            show_progress="minimal",
        )
    new_chat.click(reset, None, [*outputs, question], queue=False, api_name="new_chat")
    # The chatbot's own trash icon forgets the conversation too, not only what is shown.
    chatbot.clear(reset, None, [*outputs, question], queue=False, api_visibility="private")
    return ChatTab(question=question, source=source)


# --- Library ------------------------------------------------------------------------------------


@dataclass
class LibraryTab:
    """The Library's listing, which the app fills when a page loads."""

    find: Callable[..., tuple[Any, str]]
    inputs: list[Any]
    outputs: list[Any]


def library_tab(settings: Settings, tabs: gr.Tabs, chat: ChatTab) -> LibraryTab:
    """Search or browse the papers, read one, and ask about it in the chat."""
    limit = settings.ui.library_limit
    with gr.Row(elem_id="library-search", equal_height=True):
        query = gr.Textbox(
            show_label=False,
            placeholder="Search titles and abstracts (empty: browse everything, newest first)",
            scale=6,
            min_width=280,
            elem_id="library-query",
        )
        lib_mode = gr.Dropdown(
            list(MODES),
            value=settings.retrieval.mode,
            show_label=False,
            scale=1,
            min_width=110,
            container=False,
        )
        since = gr.Textbox(show_label=False, placeholder="from 2024-01-31", scale=1, min_width=150)
        until = gr.Textbox(show_label=False, placeholder="until 2024-12-31", scale=1, min_width=150)
        go = gr.Button("Search", variant="primary", scale=1, min_width=90, elem_id="library-go")
    count = gr.Markdown("", elem_id="library-count")
    with gr.Row(equal_height=False):
        with gr.Column(scale=7, min_width=420):
            table = gr.Dataframe(
                headers=render.LIBRARY_COLUMNS,
                datatype=["str", "str", "str", "number"],
                interactive=False,
                wrap=True,
                max_height=640,
                column_widths=["15%", "59%", "17%", "9%"],
                show_label=False,
                buttons=["copy"],
                elem_id="library-table",
            )
        with gr.Column(scale=5, min_width=320):
            ask = gr.Button("Ask about this paper", visible=False, size="sm", elem_id="ask-paper")
            paper = gr.HTML(render.paper_html(None), elem_id="paper")
            selected = gr.State("")

    def find(text: str, since_: str, until_: str, mode_: str) -> tuple[Any, str]:
        """Search (ranked by relevance) or, with no query, browse newest first."""
        try:
            filters = filters_of(since_, until_, None)
            if not (text or "").strip():
                papers = open_store(settings).list_papers(filters, limit=limit)
                shown = f"the first {limit}" if len(papers) == limit else f"{len(papers)}"
                return render.library_rows(papers=papers), f"{shown} papers, newest first"
            result = search(settings, text, k=min(limit, 50), mode=mode_ or None, filters=filters)
            for notice in result.notices:
                gr.Warning(notice)
            return (
                render.library_rows(hits=result.hits),
                f"{len(result.hits)} papers for “{result.query[:80]}”, best match first",
            )
        except Exception as exc:
            message = _failure(exc)
            gr.Warning(message)
            return gr.skip(), f"⚠ {message}"

    def open_paper(evt: gr.SelectData) -> tuple[str, str, Any]:
        """Show the abstract of the clicked row."""
        row = evt.row_value or []
        paper_id = str(row[2]) if len(row) > 2 else ""
        try:
            found = open_store(settings).get(paper_id) if paper_id else None
        except Exception as exc:
            gr.Warning(_failure(exc))
            found = None
        return render.paper_html(found), paper_id if found else "", gr.Button(visible=bool(found))

    def ask_about(paper_id: str) -> tuple[Any, str]:
        """Switch to the chat with a question about this paper ready to send."""
        found = open_store(settings).get(paper_id) if paper_id else None
        if found is None:
            return gr.skip(), gr.skip()
        question = f"What does “{found.title}” propose, and how does it relate to other papers?"
        return gr.Tabs(selected="chat"), question

    inputs = [query, since, until, lib_mode]
    for trigger in (query.submit, go.click):
        trigger(
            find,
            inputs,
            [table, count],
            api_name="search" if trigger == go.click else None,
            api_visibility="public" if trigger == go.click else "private",
            concurrency_limit=None,
            concurrency_id="library",
            show_progress="minimal",
        )
    table.select(
        open_paper, None, [paper, selected, ask], concurrency_limit=None, api_visibility="private"
    )
    ask.click(ask_about, [selected], [tabs, chat.question], queue=False, api_visibility="private")
    return LibraryTab(find=find, inputs=inputs, outputs=[table, count])


# --- Status -------------------------------------------------------------------------------------


@dataclass
class Health:
    """What the Status tab and the page banner show."""

    status: str
    banner: str
    sources: list[str]
    papers: int


def check_health(settings: Settings) -> Health:
    """The status report rendered for the Status tab and the banner."""
    report = status_report(settings)
    return Health(
        status=render.status_html(
            report.facts, [(c.name, c.ok, c.detail, c.fix) for c in report.checks]
        ),
        banner=render.banner_html([(p.name, p.detail, p.fix) for p in report.problems]),
        sources=report.sources,
        papers=report.papers,
    )


def status_tab(settings: Settings) -> tuple[gr.HTML, gr.Button]:
    """Where the data lives, which models run, and whether each one works."""
    status = gr.HTML("<p class='dim'>Checking the store and the models…</p>", elem_id="status")
    with gr.Row():
        again = gr.Button("Check again", size="sm", scale=0, min_width=130, elem_id="check-again")
    return status, again


# --- the app ------------------------------------------------------------------------------------


def header_html(papers: int | None, settings: Settings) -> str:
    """The title bar: what this is and how much it knows."""
    count = f"{papers:,} papers" if papers is not None else "the papers"
    return (
        '<div class="app-header"><div class="app-title">Papers assistant</div>'
        f'<div class="app-sub">Cited answers across {count} · {escape(model_label(settings))}'
        "</div></div>"
    )


def build_app(settings: Settings, *, llm: LLM | None = None) -> gr.Blocks:
    """The whole app; ``llm`` replaces ``get_llm(settings)`` (tests and benchmarks)."""
    with gr.Blocks(title="Papers assistant", analytics_enabled=False, fill_width=True) as app:
        header = gr.HTML(header_html(None, settings))
        banner = gr.HTML("", visible=False, elem_id="banner")
        with gr.Tabs(selected="chat", elem_id="tabs") as tabs:
            with gr.Tab("Chat", id="chat"):
                chat = chat_tab(settings, llm)
            with gr.Tab("Library", id="library") as library_item:
                library = library_tab(settings, tabs, chat)
            with gr.Tab("Status", id="status"):
                status, again = status_tab(settings)

        def refresh() -> tuple[Any, ...]:
            try:
                health = check_health(settings)
            except Exception as exc:  # the page must load whatever is broken
                message = _failure(exc)
                return (
                    render.error_html(message),
                    gr.HTML(
                        render.banner_html([("status", message, "assistant doctor")]), visible=True
                    ),
                    gr.skip(),
                    gr.skip(),
                )
            return (
                health.status,
                gr.HTML(health.banner, visible=bool(health.banner)),
                gr.Dropdown(choices=[ALL_SOURCES, *health.sources]),
                header_html(health.papers, settings),
            )

        health_outputs = [status, banner, chat.source, header]
        app.load(refresh, None, health_outputs, api_name="status", concurrency_limit=None)
        again.click(refresh, None, health_outputs, concurrency_limit=None, api_visibility="private")
        # Filled when the tab opens, not at page load: a Dataframe filled while its tab is
        # hidden renders no rows once shown (gradio 6.31). It also picks up new papers.
        library_item.select(
            library.find,
            library.inputs,
            library.outputs,
            concurrency_limit=None,
            api_visibility="private",
        )
    app.queue(default_concurrency_limit=None, max_size=settings.ui.queue_size)
    return app


def warm_up(settings: Settings, llm: LLM | None = None) -> None:
    """Load the embedder, the retriever's BM25 index and the LLM before the first question.

    Failures are only logged: the Status tab reports them to the user.
    """
    from assistant.llm import get_llm

    try:
        search(settings, "warm up", k=1)
        if llm is None:
            get_llm(settings)
    except Exception as exc:
        log.warning("warm-up failed (the Status tab says why): %s", exc)


def launch(
    settings: Settings, *, llm: LLM | None = None, block: bool = True, quiet: bool = False
) -> gr.Blocks:
    """Build and serve the app as ``settings.ui`` says; returns at once when ``block`` is False."""
    app = build_app(settings, llm=llm)
    threading.Thread(target=warm_up, args=(settings, llm), name="warm-up", daemon=True).start()
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
