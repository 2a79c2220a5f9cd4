"""The Chat tab: a question is staged at once, waits in the model's line, and is answered
as a stream beside the sources the model reads, then checked; with Stop, filters, exports,
and the chat this browser kept brought back on reload.

The handlers only translate between widgets and the pipeline: ``evidence.gather`` (or
``library.gather_about`` for "Ask about this paper") then ``answer.answer_from``. Stop
closes the answer's stream, which releases the model for the next user.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
import gradio as gr

from assistant.answer import AnswerStream, answer_from
from assistant.errors import InputError
from assistant.evidence import conversation, gather
from assistant.library import gather_about
from assistant.llm import LLM
from assistant.models import Answer, EvidenceSet
from assistant.settings import MAX_ANSWER_SOURCES, MODES, Settings
from assistant.ui import render
from assistant.ui.common import (
    ALL_PAPERS,
    ALL_SOURCES,
    failure,
    filters_of,
    scope_choices,
    scope_ids,
    session_of,
    source_choices,
    sources_count,
)
from assistant.ui.exports import export_files
from assistant.ui.status import SpeedLog
from assistant.ui.waiting_line import POLL_S, WaitingLine

#: What the chat input tells a new user (short: it must fit a phone's width).
PLACEHOLDER = "Ask across the papers…"


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
    scope: gr.Dropdown
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
                    scope = gr.Dropdown(
                        scope_choices(settings),
                        value=ALL_PAPERS,
                        label="Answer from",
                        min_width=200,
                        allow_custom_value=True,  # a collection saved after the page loaded
                        elem_id="scope",
                    )
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
        if runs.busy(session_of(request)):
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
        scope_: str,
        request: gr.Request,
    ) -> Any:
        """Wait for the model, stream an answer with its sources, then the checked result.

        Yields (chat, sources panel, answers, shown chat, answer JSON, .md, .bib).
        """
        if not (text or "").strip():
            yield skip_all
            return
        session = session_of(request)
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
        stream: AnswerStream | None = None
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
            ids = await anyio.to_thread.run_sync(lambda: scope_ids(settings, scope_))
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
                        ids=ids,
                        llm=llm,
                    )
                )
            user["content"] = render.user_html(text, gathered.standalone_question)
            yield progress(render.evidence_panel_html(gathered.evidence, turn, gathered.question))
            if run.stop.is_set():
                yield stopped()
                return
            stream = answer_from(gathered, settings, llm=llm)
            chunks = iter(stream)
            while True:
                item = await anyio.to_thread.run_sync(next, chunks, None)
                if item is None:
                    break
                written += item
                if run.stop.is_set():
                    yield stopped()
                    return
                reply["content"] = render.streaming_html(written, turn)
                yield progress()
            answer = stream.result  # its notices show in the answer itself, not as toasts
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
            message = failure(exc)
            gr.Warning(message)
            reply["content"] = render.error_html(message)
            yield (messages, gr.skip(), done, messages, {"error": message}, gr.skip(), gr.skip())
        finally:
            # Closing the stream closes the model's: the model is free for the next user.
            if stream is not None:
                # ValueError: still running in a worker thread; it is closed when collected.
                with contextlib.suppress(ValueError):
                    stream.close()
            if ticket is not None:
                line.leave(ticket)
            runs.finish(session)

    def unlock(request: gr.Request) -> tuple[Any, Any]:
        """Ask again once this session's answer is done (or stopped)."""
        if runs.busy(session_of(request)):
            return gr.skip(), gr.skip()
        return gr.Button(interactive=True), gr.Button(visible=False)

    def request_stop(request: gr.Request) -> None:
        """Stop this session's answer (or its place in line): the model is freed at once."""
        runs.stop(session_of(request))

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
    inputs = [pending, answers, shown, since, until, source, mode, k, about, scope]

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
    # Collections and interests saved since the page loaded are offered when it is opened.
    scope.focus(
        lambda: gr.Dropdown(choices=scope_choices(settings)),
        None,
        scope,
        queue=False,
        api_visibility="private",
    )
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
        scope=scope,
        answer_after=answer_after,
        busy=lambda request: runs.busy(session_of(request)),
        restore_on=lambda app: app.load(
            restore, kept, outputs, queue=False, api_visibility="private"
        ),
    )
