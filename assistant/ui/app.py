"""The Gradio app: Chat, Library and Status tabs over the same functions the CLI calls.

Run it with ``assistant ui`` (see ``assistant/cli/ui_commands.py``). Each tab is built by its
own function, so a new tab (a digest, say) is one more function and one more line in
``build_app``. The event handlers only translate between widgets and the pipeline:
``answer.gather`` then ``answer.answer_from`` answer (the sources the model reads are shown
while it writes), ``retrieve.search`` and ``store.list_papers`` fill the library,
``health.status_report`` reports health. All HTML comes from ``render``. Styles and the
small page script (citation chips, copy buttons, dark mode) live in ``ui/`` at the top of the
repository (``assistant/_ui`` inside the wheel).

Answers, digests and weekly summaries are written ``settings.ui.concurrency`` at a time.
The others wait in a ``WaitingLine`` of our own rather than in a Gradio queue lane, so a
waiting question shows "waiting, 1 ahead" in the chat (a digest on its progress line) and
Stop works while waiting too. Stop closes the answer's
stream, which releases the model for the next user. Library and status events have no limit,
so search stays responsive while an answer is written.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
import shutil
import tempfile
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any

import anyio
import gradio as gr

from assistant.answer import (
    answer_from,
    conversation,
    gather,
)
from assistant.digest import digest_stream
from assistant.errors import AssistantError, InputError
from assistant.export import bibtex, chat_markdown
from assistant.health import ModelProbe, model_label, status_report
from assistant.llm import LLM, get_llm
from assistant.models import (
    Answer,
    AnswerTelemetry,
    Digest,
    DigestProgress,
    EvidenceSet,
    SearchFilters,
)
from assistant.render.page import render as render_digest
from assistant.retrieve import good_matches, search
from assistant.settings import MAX_ANSWER_SOURCES, MODES, Settings
from assistant.store import open_store
from assistant.ui import render
from assistant.weekly import build_latest_week_stream, list_saved_weeks, load_week

log = logging.getLogger(__name__)

#: Static assets: inside the wheel (``assistant/_ui``), else the repository's ``ui/``.
_PACKAGE_ASSETS = Path(__file__).resolve().parent.parent / "_ui"
_REPO_ASSETS = Path(__file__).resolve().parents[2] / "ui"

ALL_SOURCES = "All sources"
#: What the chat input tells a new user (short: it must fit a phone's width).
PLACEHOLDER = "Ask across the papers…"
#: Papers per Library page.
PAGE_SIZE = 25
#: Library orders: the first is relevance for a search (newest first when browsing).
ORDERS = ["best match", "newest", "oldest", "title"]
#: Seconds between looks at the waiting line.
POLL_S = 0.2


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


# --- one answer at a time, Stop, and the model's measured speed ------------------------------


class WaitingLine:
    """Answers are written ``slots`` at a time; other questions wait in arrival order.

    ``poll`` is cheap and never blocks: a waiting handler polls, shows how many are ahead,
    and sleeps without holding a worker thread. A ticket nobody polled for ``stale_s`` (its
    browser tab went away) is dropped so it cannot hold up the line.
    """

    def __init__(self, slots: int, size: int, stale_s: float = 30.0) -> None:
        self.slots, self.size, self.stale_s = slots, size, stale_s
        self._lock = threading.Lock()
        self._waiting: list[object] = []
        self._running: set[object] = set()
        self._seen: dict[object, float] = {}

    def join(self) -> object:
        """A ticket at the end of the line; an InputError when the line is full."""
        with self._lock:
            if len(self._waiting) >= self.size:
                raise InputError(
                    f"{len(self._waiting)} questions are already waiting for the model; "
                    "please ask again in a minute."
                )
            ticket = object()
            self._waiting.append(ticket)
            self._seen[ticket] = time.monotonic()
            return ticket

    def poll(self, ticket: object) -> int:
        """0 once ``ticket`` holds a slot (keep it until ``leave``), else how many are ahead."""
        with self._lock:
            if ticket in self._running:
                return 0
            now = time.monotonic()
            self._seen[ticket] = now
            for other in list(self._waiting):
                if now - self._seen.get(other, now) > self.stale_s:
                    self._waiting.remove(other)
                    self._seen.pop(other, None)
            position = self._waiting.index(ticket)
            if position == 0 and len(self._running) < self.slots:
                self._waiting.pop(0)
                self._running.add(ticket)
                return 0
            return max(1, position + len(self._running) - self.slots + 1)

    def leave(self, ticket: object) -> None:
        """Give back the slot, or the place in line."""
        with self._lock:
            self._running.discard(ticket)
            if ticket in self._waiting:
                self._waiting.remove(ticket)
            self._seen.pop(ticket, None)

    def wait(self, ticket: object) -> None:
        """Block until ``ticket`` holds a slot (for short jobs such as a speed measurement)."""
        while self.poll(ticket):
            time.sleep(POLL_S)


@dataclass
class Waiting:
    """A model job's place in the ``WaitingLine``: how many are ahead of it."""

    ahead: int


def in_line(line: WaitingLine, job: Callable[[], Iterator[Any]]) -> Iterator[Any]:
    """The events of ``job`` once it holds a slot of ``line``; before that a ``Waiting`` each
    time its place changes. Digests and weekly summaries wait in the chat's line, so a
    question asked meanwhile says "waiting, 1 ahead" instead of a silent cursor. The slot is
    given back however the job ends (done, failed, or closed when the page went away)."""
    ticket = line.join()
    try:
        last = 0
        while ahead := line.poll(ticket):
            if ahead != last:
                last = ahead
                yield Waiting(ahead)
            time.sleep(POLL_S)
        yield from job()
    finally:
        line.leave(ticket)


@dataclass
class Run:
    """One answer being written for one browser session."""

    stop: threading.Event = field(default_factory=threading.Event)


class Runs:
    """The answer each session is writing, so Stop reaches it and a second Ask is refused."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._runs: dict[str, Run] = {}

    def start(self, session: str) -> Run:
        with self._lock:
            if session in self._runs:
                raise InputError(
                    "an answer is already being written in this chat: wait for it, or press Stop."
                )
            run = self._runs[session] = Run()
            return run

    def busy(self, session: str) -> bool:
        with self._lock:
            return session in self._runs

    def stop(self, session: str) -> bool:
        """Ask the session's answer to stop; False when it has none."""
        with self._lock:
            run = self._runs.get(session)
        if run is not None:
            run.stop.set()
        return run is not None

    def finish(self, session: str) -> None:
        with self._lock:
            self._runs.pop(session, None)


class SpeedLog:
    """Telemetry of the answers (and measurements) this process made: the model's speed here."""

    def __init__(self, keep: int = 50) -> None:
        self._samples: deque[AnswerTelemetry] = deque(maxlen=keep)

    def add(self, telemetry: AnswerTelemetry) -> None:
        if telemetry.completion_tokens:
            self._samples.append(telemetry)

    def text(self) -> str:
        return render.speed_text(list(self._samples))


def _session(request: gr.Request | None) -> str:
    return (request.session_hash if request is not None else None) or "anonymous"


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


def gather_about(
    question: str, paper_id: str, settings: Settings, *, k: int, llm: LLM | None = None
) -> EvidenceSet:
    """Evidence from one paper and its nearest neighbours only ("Ask about this paper")."""
    found = open_store(settings).get(paper_id)
    if found is None:
        raise InputError(f"no paper {paper_id!r} in the store (was it removed?).")
    neighbours = search(settings, found.text, k=k, mode="dense", sentences=False).hits
    ids = [found.id, *(h.paper.id for h in neighbours if h.paper.id != found.id)][:k]
    return gather(question, settings, k=k, llm=llm, ids=ids)


def about_question(title: str) -> str:
    """The question "Ask about this paper" sends."""
    return (
        f"What does “{render.clean_title(title)}” propose, and how does it relate to other papers?"
    )


_EXPORT_ROOT: Path | None = None


def export_folder() -> Path:
    """A new folder for one download, inside a temp root removed when the app exits."""
    global _EXPORT_ROOT
    if _EXPORT_ROOT is None:
        _EXPORT_ROOT = Path(tempfile.mkdtemp(prefix="papers-assistant-ui-"))
        atexit.register(shutil.rmtree, _EXPORT_ROOT, True)
    folder = _EXPORT_ROOT / uuid.uuid4().hex
    folder.mkdir()
    return folder


def export_files(answers: list[Answer]) -> tuple[str, str]:
    """The conversation as Markdown and its cited papers as BibTeX, written to a temp folder."""
    folder = export_folder()
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


_LABELS: dict[str, dict[str, str]] = {}


def source_labels(settings: Settings) -> dict[str, str]:
    """Readable names of the store's source files, computed once per store revision."""
    store = open_store(settings)
    revision = store.revision()
    if revision not in _LABELS:
        _LABELS.clear()
        _LABELS[revision] = render.source_labels(store.iter_papers())
    return _LABELS[revision]


def source_choices(settings: Settings) -> list[tuple[str, str]]:
    """The source filter's choices: (readable label, file name), "All sources" first."""
    try:
        labels = source_labels(settings)
    except Exception:  # a broken store: the Status tab and the banner say why
        labels = {}
    return [
        (ALL_SOURCES, ALL_SOURCES),
        *sorted(((v, k) for k, v in labels.items()), key=lambda c: c[1]),
    ]


# --- Chat ---------------------------------------------------------------------------------------


@dataclass
class ChatTab:
    """The Chat tab's parts others use: the library asks about a paper through ``answer_after``
    (chained after an event that staged the question), the health check fills the sources,
    the page's load brings back the chat this browser kept (``restore_on``)."""

    question: gr.Textbox
    chatbot: gr.Chatbot
    pending: gr.Textbox
    about: gr.Textbox
    send: gr.Button
    stop: gr.Button
    source: gr.Dropdown
    answer_after: Callable[[Any], None]
    busy: Callable[[gr.Request], bool]
    restore_on: Callable[[gr.Blocks], Any]


def chat_tab(
    settings: Settings, llm: LLM | None, line: WaitingLine, runs: Runs, speed: SpeedLog
) -> ChatTab:
    """Streaming cited answers beside their source cards, with filters and exports."""
    answers = gr.State([])
    shown = gr.State([])  # the chat as displayed (stopped answers included), kept server-side
    with gr.Row(equal_height=False, elem_id="chat-row"):
        with gr.Column(scale=7, min_width=300, elem_id="chat-col"):
            chatbot = gr.Chatbot(
                label="Conversation",
                show_label=False,
                height=None,
                min_height=260,
                max_height="68vh",
                elem_id="chatbot",
                feedback_options=None,
                buttons=["copy"],
                placeholder=(
                    "<div class='chat-empty'><h3>Ask the papers</h3><p>Answers cite their "
                    "sources; click a number to see the evidence.</p><p class='dim'>e.g. "
                    "“Which papers handle occlusion in optical flow?”</p></div>"
                ),
            )
            gr.HTML(render.legend_html(), elem_id="legend")
            with gr.Row(elem_id="ask-row"):
                question = gr.Textbox(
                    show_label=False,
                    placeholder=PLACEHOLDER,
                    lines=1,
                    max_lines=6,
                    scale=8,
                    min_width=160,
                    elem_id="question",
                )
                send = gr.Button("Ask", variant="primary", scale=1, min_width=72, elem_id="send")
                stop = gr.Button(
                    "Stop", variant="stop", scale=1, min_width=72, visible=False, elem_id="stop"
                )
            pending = gr.Textbox(visible=False)
            about = gr.Textbox(visible=False)
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
                        source_choices(settings),
                        value=ALL_SOURCES,
                        label="Source",
                        min_width=200,
                        allow_custom_value=True,  # a source ingested after the page loaded
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
        with gr.Column(scale=5, min_width=300, elem_id="sources-col"):
            sources = gr.HTML(render.sources_panel_html([]), elem_id="sources")
    answer_json = gr.JSON(visible=False)

    def stage(text: str, messages: list[dict[str, Any]], request: gr.Request) -> tuple[Any, ...]:
        """Show the question at once (even while waiting in line), clear the input, lock Ask."""
        if not (text or "").strip():
            gr.Warning("Type a question first.")
            return gr.skip(), gr.skip(), "", "", gr.skip(), gr.skip()
        if runs.busy(_session(request)):
            gr.Info("An answer is being written: wait for it, or press Stop.")
            return gr.skip(), gr.skip(), "", "", gr.skip(), gr.skip()
        staged = [
            *messages,
            {"role": "user", "content": render.user_html(text)},
            {"role": "assistant", "content": render.streaming_html("")},
        ]
        return "", staged, text, "", gr.Button(interactive=False), gr.Button(visible=True)

    skip_all = (gr.skip(),) * 7

    async def respond(
        text: str,
        done: list[Answer],
        before: list[dict[str, Any]],
        since_: str,
        until_: str,
        source_: str,
        mode_: str,
        k_: float,
        about_: str,
        request: gr.Request,
    ) -> Any:
        """Wait for the model, stream an answer with its sources, then the checked result.

        Yields (chat, sources panel, answers, shown chat, answer JSON, .md, .bib).
        """
        if not (text or "").strip():
            yield skip_all
            return
        session = _session(request)
        try:
            run = runs.start(session)
        except InputError as exc:
            gr.Warning(str(exc))
            yield skip_all
            return
        done, before = list(done or []), list(before or [])
        turn = len(done)
        user = {"role": "user", "content": render.user_html(text)}
        reply = {"role": "assistant", "content": render.streaming_html("")}
        messages = [*before, user, reply]
        ticket: object | None = None
        steps: Iterator[str | Answer] | None = None
        gathered: EvidenceSet | None = None
        written = ""

        def progress(panel: Any = None) -> tuple[Any, ...]:
            shown_panel = gr.skip() if panel is None else panel
            return (messages, shown_panel, *(gr.skip(),) * 5)

        def stopped() -> tuple[Any, ...]:
            reply["content"] = render.stopped_html(written)
            partial = {"stopped": True, "question": text, "partial": written}
            panel = (
                gr.skip()
                if gathered is None
                else render.evidence_panel_html(
                    gathered.evidence, turn, gathered.question, stopped=True
                )
            )
            return (messages, panel, done, messages, partial, gr.skip(), gr.skip())

        try:
            filters = filters_of(since_, until_, source_)
            k_value = sources_count(k_)
            if mode_ and mode_ not in MODES:
                raise InputError(f"retrieval mode must be one of {', '.join(MODES)}.")
            ticket = line.join()
            last_ahead = 0
            while ahead := line.poll(ticket):
                if run.stop.is_set():
                    yield stopped()
                    return
                if ahead != last_ahead:
                    last_ahead = ahead
                    reply["content"] = render.waiting_html(ahead)
                    yield progress()
                await asyncio.sleep(POLL_S)
            if last_ahead:
                reply["content"] = render.streaming_html("")
                yield progress()
            if about_:
                gathered = await anyio.to_thread.run_sync(
                    lambda: gather_about(text, about_, settings, k=k_value, llm=llm)
                )
            else:
                gathered = await anyio.to_thread.run_sync(
                    lambda: gather(
                        text,
                        settings,
                        history=conversation(done),
                        previous=done[-1] if done else None,
                        filters=filters,
                        mode=mode_ or None,
                        k=k_value,
                        llm=llm,
                    )
                )
            user["content"] = render.user_html(text, gathered.standalone_question)
            yield progress(render.evidence_panel_html(gathered.evidence, turn, gathered.question))
            if run.stop.is_set():
                yield stopped()
                return
            steps = answer_from(gathered, settings, llm=llm)
            answer: Answer | None = None
            while True:
                item = await anyio.to_thread.run_sync(next, steps, None)
                if item is None:
                    break
                if isinstance(item, Answer):
                    answer = item
                    continue
                written += item
                if run.stop.is_set():
                    yield stopped()
                    return
                reply["content"] = render.streaming_html(written, turn)
                yield progress()
            if answer is None:  # pragma: no cover - answer_from always ends with an Answer
                raise AssistantError("the answer did not finish; please ask again.")
            for notice in answer.notices:
                gr.Warning(notice)
            speed.add(answer.telemetry)
            done.append(answer)
            user["content"] = render.user_html(text, answer.standalone_question)
            reply["content"] = render.answer_html(answer, turn)
            md, bib = export_files(done)
            yield (
                messages,
                render.sources_panel_html(done),
                done,
                messages,
                answer.model_dump(mode="json"),
                gr.DownloadButton(value=md, interactive=True),
                gr.DownloadButton(value=bib, interactive=any(a.citations for a in done)),
            )
        except Exception as exc:  # every failure becomes a message, never a frozen spinner
            message = _failure(exc)
            gr.Warning(message)
            reply["content"] = render.error_html(message)
            yield (messages, gr.skip(), done, messages, {"error": message}, gr.skip(), gr.skip())
        finally:
            # Closing the steps closes the model's stream: the model is free for the next user.
            if steps is not None:
                # ValueError: still running in a worker thread; it is closed when collected.
                with contextlib.suppress(ValueError):
                    steps.close()  # type: ignore[attr-defined]
            if ticket is not None:
                line.leave(ticket)
            runs.finish(session)

    def unlock(request: gr.Request) -> tuple[Any, Any]:
        """Ask again once this session's answer is done (or stopped)."""
        if runs.busy(_session(request)):
            return gr.skip(), gr.skip()
        return gr.Button(interactive=True), gr.Button(visible=False)

    def request_stop(request: gr.Request) -> None:
        """Stop this session's answer (or its place in line): the model is freed at once."""
        runs.stop(_session(request))

    def reset() -> tuple[Any, ...]:
        """Forget the conversation (the library and filters stay as they are)."""
        return (
            [],
            render.sources_panel_html([]),
            [],
            [],
            None,
            gr.DownloadButton(value=None, interactive=False),
            gr.DownloadButton(value=None, interactive=False),
            "",
        )

    outputs = [chatbot, sources, answers, shown, answer_json, md_file, bib_file]
    inputs = [pending, answers, shown, since, until, source, mode, k, about]

    # The chat survives a reload: this browser keeps it (gradio encrypts it in localStorage
    # with a key of this server's run, so a restarted server starts a new chat).
    kept = gr.BrowserState({}, storage_key="papers-assistant-chat")

    def keep(chat: list[dict[str, Any]], done: list[Answer]) -> dict[str, Any]:
        return {"chat": chat, "answers": [a.model_dump(mode="json") for a in done]}

    def restore(saved: Any) -> tuple[Any, ...]:
        try:
            chat = list(saved.get("chat") or [])
            done = [Answer.model_validate(a) for a in saved.get("answers") or []]
        except (AttributeError, TypeError, ValueError):  # not a chat this version kept
            chat, done = [], []
        if not chat:
            return skip_all
        md, bib = export_files(done) if done else (None, None)
        return (
            chat,
            render.sources_panel_html(done),
            done,
            chat,
            gr.skip(),
            gr.DownloadButton(value=md, interactive=bool(done)),
            gr.DownloadButton(value=bib, interactive=any(a.citations for a in done)),
        )

    def saved_after(event: Any) -> None:
        event.then(keep, [shown, answers], kept, queue=False, api_visibility="private")

    def answer_after(event: Any, *, api_name: str | None = None) -> None:
        answered = event.then(
            respond,
            inputs,
            outputs,
            api_name=api_name,
            api_visibility="public" if api_name == "ask" else "private",
            concurrency_limit=None,  # the WaitingLine lets one answer through at a time
            concurrency_id="chat",
            show_progress="hidden",
        )
        unlocked = answered.then(unlock, None, [send, stop], queue=False, api_visibility="private")
        saved_after(unlocked)

    staged = [question, chatbot, pending, about, send, stop]
    for trigger in (question.submit, send.click):
        answer_after(
            trigger(stage, [question, chatbot], staged, queue=False, api_visibility="private"),
            api_name="ask" if trigger == question.submit else "ask_click",
        )
    stop.click(request_stop, None, None, concurrency_limit=None, api_name="stop")
    saved_after(new_chat.click(reset, None, [*outputs, question], queue=False, api_name="new_chat"))
    # The chatbot's own trash icon forgets the conversation too, not only what is shown.
    saved_after(
        chatbot.clear(reset, None, [*outputs, question], queue=False, api_visibility="private")
    )
    return ChatTab(
        question=question,
        chatbot=chatbot,
        pending=pending,
        about=about,
        send=send,
        stop=stop,
        source=source,
        answer_after=answer_after,
        busy=lambda request: runs.busy(_session(request)),
        restore_on=lambda app: app.load(
            restore, kept, outputs, queue=False, api_visibility="private"
        ),
    )


# --- Library ------------------------------------------------------------------------------------


@dataclass
class LibraryTab:
    """The Library's listing, which the app fills when the tab opens, and its source filter."""

    find: Callable[..., tuple[Any, ...]]
    inputs: list[Any]
    outputs: list[Any]
    source: gr.Dropdown


def library_tab(settings: Settings, tabs: gr.Tabs, chat: ChatTab) -> LibraryTab:
    """Search or browse the papers page by page, read one, and ask the chat about it."""
    with gr.Row(elem_id="library-search", equal_height=True):
        query = gr.Textbox(
            show_label=False,
            placeholder="Search titles and abstracts",
            scale=6,
            min_width=200,
            elem_id="library-query",
        )
        go = gr.Button("Search", variant="primary", scale=1, min_width=90, elem_id="library-go")
    with gr.Row(elem_id="library-filters"):
        since = gr.Textbox(label="From", placeholder="YYYY-MM-DD", min_width=120, scale=1)
        until = gr.Textbox(label="Until", placeholder="YYYY-MM-DD", min_width=120, scale=1)
        source = gr.Dropdown(
            source_choices(settings),
            value=ALL_SOURCES,
            label="Source",
            min_width=180,
            scale=2,
            allow_custom_value=True,  # a source ingested after the page loaded
        )
        order = gr.Dropdown(
            ORDERS, value=ORDERS[0], label="Order", min_width=120, scale=1, elem_id="library-order"
        )
        lib_mode = gr.Dropdown(
            list(MODES), value=settings.retrieval.mode, label="Retrieval", min_width=110, scale=1
        )
        weaker = gr.Checkbox(
            False, label="Weaker matches too", min_width=120, scale=1, elem_id="library-weaker"
        )
    with gr.Row(elem_id="library-pager", equal_height=True):
        count = gr.Markdown("", elem_id="library-count")
        prev_page = gr.Button("← Previous", size="sm", scale=0, min_width=100, elem_id="prev-page")
        next_page = gr.Button("Next →", size="sm", scale=0, min_width=90, elem_id="next-page")
    page = gr.Number(1, visible=False, precision=0)
    api_search = gr.Button(visible=False)  # the API's /search: any page, no reset to page 1
    with gr.Row(equal_height=False, elem_id="library-row"):
        with gr.Column(scale=7, min_width=300):
            table = gr.Dataframe(
                headers=render.LIBRARY_COLUMNS,
                datatype=["number", "number", "str", "str", "str", "str"],
                interactive=False,
                wrap=True,
                max_height=640,
                column_widths=["6%", "9%", "16%", "49%", "20%", "0%"],
                show_label=False,
                elem_id="library-table",
            )
        with gr.Column(scale=5, min_width=300, elem_id="paper-col"):
            ask = gr.Button(
                "Ask about this paper",
                visible=False,
                size="sm",
                variant="primary",
                elem_id="ask-paper",
            )
            paper = gr.HTML(render.paper_html(None), elem_id="paper")
            selected = gr.State("")

    def find(
        text: str,
        mode_: str,
        since_: str,
        until_: str,
        source_: str,
        order_: str,
        page_: Any,
        weaker_: bool = False,
    ) -> tuple[Any, ...]:
        """One page of papers: a search's good matches by rank (or as ordered; the weaker
        ones after them when asked for), or every paper."""
        try:
            filters = filters_of(since_, until_, source_)
            labels = source_labels(settings)
            text = (text or "").strip()
            order_ = order_ if order_ in ORDERS else ORDERS[0]
            if text:
                k = min(settings.ui.library_limit, settings.retrieval.max_k)
                result = search(
                    settings, text, k=k, mode=mode_ or None, filters=filters, sentences=False
                )
                for notice in result.notices:
                    gr.Warning(notice)
                good, weak = good_matches(result.hits, result.query, settings.retrieval.good_match)
                groups = [good, weak] if weaker_ or not good else [good]  # weaker after
                hits = [h for group in groups for h in _ordered(group, order_, lambda h: h.paper)]
                what = render.matches_line(len(good), len(weak), result.query, weaker_)
                how = "rank 1 = highest fused score" if order_ == ORDERS[0] else f"by {order_}"
                total = len(hits)
            else:
                papers = _ordered(open_store(settings).list_papers(filters), order_, lambda p: p)
                what, total = f"{len(papers):,} papers", len(papers)
                how = "newest first" if order_ in ORDERS[:2] else f"by {order_}"
            undated = open_store(settings).undated(filters)
            if undated:
                what += f" · {undated:,} undated papers left out by the date filter"
            pages = max(1, -(-total // PAGE_SIZE))
            number = min(max(1, int(page_ or 1)), pages)
            start = (number - 1) * PAGE_SIZE
            if text:
                rows = render.library_rows(hits=hits[start : start + PAGE_SIZE], labels=labels)
            else:
                rows = render.library_rows(
                    papers=papers[start : start + PAGE_SIZE], labels=labels, start=start + 1
                )
            return rows, f"{what} · {how} · page {number} of {pages}", number
        except Exception as exc:
            message = _failure(exc)
            gr.Warning(message)
            return gr.skip(), f"⚠ {escape(message)}", gr.skip()

    def first_page(*args: Any) -> tuple[Any, ...]:
        text, mode_, since_, until_, source_, order_, _page, weaker_ = args
        return find(text, mode_, since_, until_, source_, order_, 1, weaker_)

    def turn_page(step: int) -> Callable[..., tuple[Any, ...]]:
        def turn(*args: Any) -> tuple[Any, ...]:
            text, mode_, since_, until_, source_, order_, page_, weaker_ = args
            return find(
                text, mode_, since_, until_, source_, order_, int(page_ or 1) + step, weaker_
            )

        return turn

    def open_paper(evt: gr.SelectData) -> tuple[str, str, Any]:
        """Show the abstract of the clicked row (its id is in the row, whatever the order)."""
        row = evt.row_value or []
        paper_id = str(row[-1]) if row else ""
        try:
            found = open_store(settings).get(paper_id) if paper_id else None
            labels = source_labels(settings) if found else {}
        except Exception as exc:
            gr.Warning(_failure(exc))
            found, labels = None, {}
        shown = render.paper_html(found, labels)
        return shown, paper_id if found else "", gr.Button(visible=bool(found))

    def ask_about(paper_id: str, messages: list[dict[str, Any]], request: gr.Request) -> tuple:
        """Switch to the chat and send a question about this paper (answered from it and its
        nearest neighbours only)."""
        found = open_store(settings).get(paper_id) if paper_id else None
        if found is None:
            return (gr.skip(),) * 7
        if chat.busy(request):
            gr.Info("An answer is being written: wait for it, or press Stop.")
            return (gr.Tabs(selected="chat"), gr.skip(), gr.skip(), "", "", gr.skip(), gr.skip())
        text = about_question(found.title)
        staged = [
            *messages,
            {"role": "user", "content": render.user_html(text)},
            {"role": "assistant", "content": render.streaming_html("")},
        ]
        return (
            gr.Tabs(selected="chat"),
            "",
            staged,
            text,
            found.id,
            gr.Button(interactive=False),
            gr.Button(visible=True),
        )

    inputs = [query, lib_mode, since, until, source, order, page, weaker]
    outputs = [table, count, page]
    for trigger in (query.submit, go.click, order.change, source.change, weaker.change):
        trigger(
            first_page,
            inputs,
            outputs,
            api_visibility="private",
            concurrency_limit=None,
            concurrency_id="library",
            show_progress="minimal",
        )
    api_search.click(
        find, inputs, outputs, api_name="search", concurrency_limit=None, concurrency_id="library"
    )
    for button, step in ((prev_page, -1), (next_page, 1)):
        button.click(
            turn_page(step),
            inputs,
            outputs,
            concurrency_limit=None,
            concurrency_id="library",
            api_visibility="private",
        )
    table.select(
        open_paper, None, [paper, selected, ask], concurrency_limit=None, api_visibility="private"
    )
    chat.answer_after(
        ask.click(
            ask_about,
            [selected, chat.chatbot],
            [tabs, chat.question, chat.chatbot, chat.pending, chat.about, chat.send, chat.stop],
            queue=False,
            api_visibility="private",
        )
    )
    return LibraryTab(find=find, inputs=inputs, outputs=outputs, source=source)


def _ordered(items: list[Any], order: str, paper_of: Callable[[Any], Any]) -> list[Any]:
    """Items (hits or papers) in the chosen order; "best match" keeps the given order."""
    if order == "title":
        return sorted(items, key=lambda x: render.clean_title(paper_of(x).title).lower())
    if order in ("newest", "oldest"):
        dated = [x for x in items if paper_of(x).published]
        undated = [x for x in items if not paper_of(x).published]
        dated.sort(key=lambda x: paper_of(x).published, reverse=order == "newest")
        return dated + undated  # undated last either way
    return items


# --- Status -------------------------------------------------------------------------------------


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


# --- the app ------------------------------------------------------------------------------------


# --- Digests -----------------------------------------------------------------------------------


def digest_files(digest: Digest) -> tuple[str, str, str]:
    """The shown digest as Markdown, HTML and the BibTeX of its papers, in a temp folder."""
    folder = export_folder()
    out = []
    for name, text in (
        ("digest.md", render_digest(digest, "markdown")),
        ("digest.html", render_digest(digest, "html")),
        ("digest-papers.bib", bibtex([c.paper for c in digest.citations])),
    ):
        (folder / name).write_text(text, encoding="utf-8")
        out.append(str(folder / name))
    return out[0], out[1], out[2]


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
        bib_file = gr.DownloadButton("Papers (.bib)", size="sm", interactive=False)

    def shown(digest: Digest, note: str) -> tuple[Any, ...]:
        md, html_path, bib = digest_files(digest)  # the page itself shows its notices
        return (
            note,
            render.digest_view_html(digest),
            render.digest_sources_html(digest),
            gr.DownloadButton(value=md, interactive=True),
            gr.DownloadButton(value=html_path, interactive=True),
            gr.DownloadButton(value=bib, interactive=bool(digest.citations)),
        )

    def streamed(events: Iterator[Any], done: Callable[[Any], tuple[Any, ...]]) -> Iterator[Any]:
        """Progress and the model's text as they come, then the finished page."""
        stage, draft = "", ""
        for event in events:
            if isinstance(event, Waiting):
                stage = render.waiting_text(event.ahead)
            elif isinstance(event, DigestProgress):
                stage, draft = f"**{event.stage}** · {escape(event.message)}", ""
            elif isinstance(event, str):
                draft += event
            else:
                yield done(event)
                return
            text = f"{stage}\n\n{escape(draft[-600:])}" if draft else stage
            yield text, gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()

    def make_digest(topic_: str, n_: float, since_: str, until_: str) -> Iterator[Any]:
        try:
            filters = filters_of(since_, until_, None)
            events = in_line(
                line,
                lambda: digest_stream(
                    topic_ or "", settings, n=round(float(n_)), filters=filters, llm=llm
                ),
            )
            yield from streamed(events, lambda d: shown(d, f"{len(d.citations)} papers"))
        except Exception as exc:
            message = _failure(exc)
            gr.Warning(message)
            yield f"⚠ {escape(message)}", gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()

    def week_choices() -> Any:
        try:
            saved = list_saved_weeks(settings)
        except Exception as exc:
            gr.Warning(_failure(exc))
            saved = []
        choices = [
            (render.week_label(w.week, w.papers, w.themes, w.new_themes), w.week) for w in saved
        ]
        return gr.Dropdown(choices=choices, value=choices[0][1] if choices else None)

    def show_week(week: str | None) -> tuple[Any, ...]:
        try:
            if not week:
                raise InputError("pick a saved week first (or build the latest one).")
            return shown(load_week(settings, week), f"week {escape(week)}")
        except Exception as exc:
            message = _failure(exc)
            gr.Warning(message)
            return f"⚠ {escape(message)}", gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()

    def build_latest() -> Iterator[Any]:
        def finished(result: Any) -> tuple[Any, ...]:
            if result.digest is None:
                return escape(result.message), gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
            return shown(result.digest, escape(result.message))

        try:
            events = in_line(line, lambda: build_latest_week_stream(settings, llm=llm))
            yield from streamed(events, finished)
        except Exception as exc:
            message = _failure(exc)
            gr.Warning(message)
            yield f"⚠ {escape(message)}", gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()

    outputs = [progress, page, cards, md_file, html_file, bib_file]
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
    open_week.click(show_week, [weeks], outputs, api_name="open_week", concurrency_limit=None)
    build.click(
        build_latest,
        None,
        outputs,
        api_name="build_week",
        concurrency_limit=None,  # in the WaitingLine, with answers and digests
    ).then(week_choices, None, [weeks], api_visibility="private")
    return week_choices, weeks


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
        banner = gr.HTML("", visible=False, elem_id="banner")
        with gr.Tabs(selected="chat", elem_id="tabs") as tabs:
            with gr.Tab("Chat", id="chat"):
                chat = chat_tab(settings, llm, line, runs, speed)
            with gr.Tab("Library", id="library") as library_item:
                library = library_tab(settings, tabs, chat)
            with gr.Tab("Digests", id="digests") as digests_item:
                list_weeks, weeks = digests_tab(settings, llm, line)
            with gr.Tab("Status", id="status") as status_item:
                status, again, measure = status_tab()

        def refresh() -> tuple[Any, ...]:
            try:
                health = check_health(settings, speed, probe)
            except Exception as exc:  # the page must load whatever is broken
                message = _failure(exc)
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
                gr.Warning(_failure(exc))
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
        digests_item.select(list_weeks, None, [weeks], api_name="weeks", concurrency_limit=None)
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
