"""Commands that answer questions: ``ask`` (one question) and ``chat`` (a conversation)."""

from __future__ import annotations

import datetime as dt
import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.text import Text

from assistant.cli.base import cli, console, err_console, no_control, notes, plain, settings_of
from assistant.cli.options import (
    filter_options,
    format_option,
    json_option,
    mode_option,
    provider_option,
    sources_option,
)
from assistant.errors import AssistantError
from assistant.export import answer_markdown, bibtex, chat_markdown, support_marker
from assistant.files import write_atomic
from assistant.models import QUOTES_HEADING, Answer, SearchFilters
from assistant.render.compare import comparison_markdown
from assistant.settings import Settings

if TYPE_CHECKING:
    from assistant.llm import Message

# The answer pipeline and rich's Live view are imported by the commands that use them, so
# that every other command starts without them (tests/test_embed.py checks what loads).


def answer_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Options shared by ``ask`` and ``chat``: sources, filters, retrieval mode, provider,
    and a scope (a saved collection or an interest), handed over as ``ids``."""

    @functools.wraps(fn)
    def scoped(*args: Any, collection: str | None, interest: str | None, **kw: Any) -> Any:
        from assistant.recommend import ask_scope

        settings = settings_of(click.get_current_context())
        kw["ids"] = ask_scope(settings, collection=collection, interest=interest)
        return fn(*args, **kw)

    scope = [
        click.option("--collection", help="Answer only from the papers saved in COLLECTION."),
        click.option("--interest", help="Answer only from the best papers for INTEREST."),
    ]
    wrapped: Callable[..., Any] = scoped
    for option in reversed(scope):
        wrapped = option(wrapped)
    return sources_option(filter_options(added=False)(mode_option(provider_option(wrapped))))


def _settings(ctx: click.Context, mode: str | None, provider: str | None) -> Settings:
    return settings_of(ctx).with_overrides(**{"llm.provider": provider, "retrieval.mode": mode})


def render_answer(answer: Answer) -> None:
    """The checked answer: sentences with support markers, references, timings."""
    notes(answer.notices)
    if answer.abstained:
        console.print(Text(no_control(answer.answer), style="bold"))
    else:
        text = Text()
        for s in answer.prose:
            text.append(no_control(s.text))
            if s.supported is False:
                text.append(" ⚠", style="bold yellow")
            elif s.off_question:
                text.append(" ◌ (off the question)", style="dim")
            text.append(" ")
        console.print(text)
        if answer.quotes:
            console.print(f"\n[dim]{QUOTES_HEADING}[/]", highlight=False)
            for q in answer.quotes:
                console.print(Text("  " + no_control(q.text), style="italic"))
        if answer.unsupported:
            console.print(
                f"[yellow]⚠ {answer.unsupported} sentence(s) not supported by the sources "
                "they cite[/]"
            )
        if answer.uncited:
            console.print(f"[dim]· {answer.uncited} sentence(s) cite no source[/]")
    if answer.comparison is not None:
        console.print()
        console.print(Text(no_control(comparison_markdown(answer.comparison))), soft_wrap=True)
    if answer.citations:
        console.print("\n[bold]References[/]")
        for c in answer.citations:
            link = c.links[0] if c.links else ""
            console.print(
                f" [{c.number}] {support_marker(c.supported)} {plain(c.title)}"
                f" [dim]({c.date or 'n.d.'}) {plain(link)}[/]",
                highlight=False,
            )
    t = answer.telemetry
    ttft = f"first token {t.ttft_s:.1f} s · " if t.ttft_s is not None else ""
    console.print(
        f"[dim]{plain(t.provider)}:{plain(t.model)} · retrieval {t.retrieval_ms:.0f} ms · {ttft}"
        f"total {t.total_s:.1f} s · {t.prompt_tokens}+{t.completion_tokens} tokens[/]",
        highlight=False,
    )


def stream_answer(
    question: str,
    settings: Settings,
    filters: SearchFilters,
    k: int | None,
    history: list[Message],
    live: bool,
    previous: Answer | None = None,
    ids: list[str] | None = None,
) -> Answer:
    """Run the pipeline, showing tokens as they arrive, and return the checked answer.

    When the model fails mid-answer, what it wrote so far is printed on stderr, marked
    incomplete, before the error: the user sees how far it got, never a silent cut.
    """
    from rich.live import Live

    from assistant.answer import ask_stream

    draft = Text(style="dim")
    received: list[str] = []
    try:
        with Live(
            draft, console=console, transient=True, auto_refresh=False, redirect_stderr=False
        ) as view:
            stream = ask_stream(
                question,
                settings,
                history=history,
                previous=previous,
                filters=filters,
                k=k,
                ids=ids,
            )
            for chunk in stream:
                received.append(chunk)
                if live:
                    draft.append(no_control(chunk))
                    view.refresh()
            answer = stream.result
    except AssistantError:
        partial = "".join(received).strip()
        if partial:
            err_console.print(Text(no_control(partial)))
            err_console.print(
                "[bold yellow]⚠ incomplete:[/] the model stopped before finishing this answer; "
                "its citations were not checked.",
                highlight=False,
            )
        raise
    return answer


@cli.command()
@click.argument("question")
@answer_options
@json_option("Print the Answer as JSON.")
@format_option(
    ["text", "markdown", "bibtex"],
    "text (streamed), Markdown with references, BibTeX of cited papers.",
    default="text",
)
@click.pass_context
def ask(
    ctx: click.Context,
    question: str,
    k: int | None,
    filters: SearchFilters,
    mode: str | None,
    provider: str | None,
    ids: list[str] | None,
    as_json: bool,
    fmt: str,
) -> None:
    """Answer a question from the indexed papers, with checked citations.

    \b
    Examples:
      assistant ask "Which papers compress the KV cache, and how do they differ?"
      assistant ask "What is new in optical flow?" --since 2024-03-01 -k 8
      assistant ask "How is vector quantization trained?" --json
      assistant ask "How do these differ?" --collection kv-reading
    """
    streaming = fmt == "text" and not as_json
    settings = _settings(ctx, mode, provider)
    answer = stream_answer(question, settings, filters, k, [], streaming, ids=ids)
    if as_json:
        click.echo(answer.model_dump_json(indent=2))
    elif fmt == "markdown":
        click.echo(no_control(answer_markdown(answer)), nl=False)
    elif fmt == "bibtex":
        click.echo(no_control(bibtex([c.paper for c in answer.citations])), nl=False)
    else:
        render_answer(answer)


@cli.command()
@answer_options
@json_option("Read one question a line from stdin, print one JSON Answer a line (as ask --json).")
@click.pass_context
def chat(
    ctx: click.Context,
    k: int | None,
    filters: SearchFilters,
    mode: str | None,
    provider: str | None,
    ids: list[str] | None,
    as_json: bool,
) -> None:
    """A multi-turn conversation in the terminal (/new, /export FILE, /quit).

    \b
    Each question is a follow-up of the ones before: "which of those ..." is answered from
    the previous answer's sources. For scripts:
      printf 'Which papers compress the KV cache?\nWhich of those need no retraining?\n' |
        assistant chat --json
    """
    from assistant.evidence import conversation

    settings = _settings(ctx, mode, provider)
    answers: list[Answer] = []
    if as_json:
        for line in sys.stdin:
            if line.strip():
                answer = stream_answer(
                    line.strip(),
                    settings,
                    filters,
                    k,
                    conversation(answers),
                    False,
                    answers[-1] if answers else None,
                    ids,
                )
                click.echo(answer.model_dump_json())
                answers.append(answer)
        return
    console.print(
        "[bold]papers-assistant chat[/] · /new starts over · /export FILE saves "
        "Markdown · /quit (or Ctrl-D) leaves"
    )
    while True:
        try:
            question = console.input("[bold cyan]you>[/] ").strip()
        except (EOFError, KeyboardInterrupt):
            console.print()
            return
        if not question:
            continue
        if question in ("/quit", "/exit"):
            return
        if question == "/new":
            answers = []
            console.print("[dim]new conversation[/]")
            continue
        if question.startswith("/export"):
            target = Path(
                question.removeprefix("/export").strip()
                or f"chat-{dt.datetime.now():%Y%m%d-%H%M%S}.md"
            )
            try:
                # No folders made: a typo in the path is an error, said, not a new folder.
                write_atomic(target, chat_markdown(answers), parents=False)
            except OSError as exc:  # a typo in the path must not end the conversation
                err_console.print(
                    f"[red]error:[/] cannot save {plain(target)} ({plain(exc.strerror or exc)}).",
                    highlight=False,
                )
                continue
            console.print(f"[dim]saved {plain(target)}[/]")
            continue
        try:
            answer = stream_answer(
                question,
                settings,
                filters,
                k,
                conversation(answers),
                True,
                answers[-1] if answers else None,
                ids,
            )
        except AssistantError as exc:  # the chat goes on: ask again, or /quit
            err_console.print(f"[red]error:[/] {plain(exc)}", highlight=False)
            continue
        render_answer(answer)
        answers.append(answer)
