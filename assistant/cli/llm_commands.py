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
    DownloadColumn,
    TransferSpeedColumn,
)

from assistant.cli.base import (
    cli,
    console,
    err_console,
    no_control,
    plain,
    print_json,
    progress_bar,
    settings_of,
)
from assistant.cli.options import json_option, provider_option
from assistant.errors import ModelError
from assistant.settings import Settings
from assistant.weights import uses_bundled


@contextmanager
def byte_progress(quiet: bool = False) -> Iterator[Callable[[str, int], Callable[[int], None]]]:
    """A rich progress bar factory for ``weights.prepare_bundled`` (on stderr)."""
    with progress_bar(DownloadColumn(), TransferSpeedColumn(), quiet=quiet) as bar:

        def factory(description: str, total: int) -> Callable[[int], None]:
            task = bar.add_task(description, total=total)
            return lambda n: bar.advance(task, n)

        yield factory


def ensure_bundled(settings: Settings, *, force: bool = False, quiet: bool = False) -> Path:
    """Assemble/verify the bundled GGUF with a progress bar (fast when already done)."""
    from assistant.weights import prepare_bundled

    with byte_progress(quiet) as factory:
        return prepare_bundled(settings.llm, force=force, progress_factory=factory)


def prepare_embedder(settings: Settings, *, force: bool = False) -> None:
    """Export the embedding model to ONNX once (so queries never import torch), or say why
    it keeps using sentence-transformers."""
    from assistant.embed import onnx_unsupported, prepare_onnx

    embedding = settings.embedding
    if embedding.backend != "onnx":
        console.print(f"[dim]· embedding backend is {plain(embedding.backend)}: no ONNX export[/]")
        return
    reason = onnx_unsupported(embedding)
    if reason:
        console.print(
            f"[dim]· {plain(embedding.model)} embeds with sentence-transformers: "
            f"{plain(reason)}[/]",
            highlight=False,
        )
        return
    start = time.perf_counter()
    with console.status("embedding model: checking (or building) its ONNX export"):
        try:
            path = prepare_onnx(embedding, force=force)
        except ModelError as exc:
            raise ModelError(
                f"{exc}. Fix that and run 'assistant model prepare' again, or set "
                "ASSISTANT_EMBEDDING__BACKEND=torch to embed with sentence-transformers."
            ) from exc
    console.print(
        f"[green]✓[/] embedding model {plain(embedding.model)} ready as ONNX at {plain(path)} "
        f"(sha256 verified, {time.perf_counter() - start:.1f} s)",
        highlight=False,
    )


@cli.group()
def model() -> None:
    """Prepare and inspect the local model."""


@model.command("prepare")
@click.option("--force", is_flag=True, help="Re-assemble and re-hash even if already verified.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@click.pass_context
def model_prepare(ctx: click.Context, force: bool, quiet: bool) -> None:
    """Export the embedding model to ONNX and assemble the bundled GGUF, each once, verified.

    \b
    Example:
        assistant model prepare          # fast when already done
        assistant model prepare --force  # rebuild damaged copies
    """
    from assistant.weights import BUNDLED

    settings = settings_of(ctx)
    prepare_embedder(settings, force=force)
    start = time.perf_counter()
    path = ensure_bundled(settings, force=force, quiet=quiet)
    console.print(
        f"[green]✓[/] {plain(BUNDLED.name)} ready at {plain(path)} "
        f"({BUNDLED.size / 1e9:.2f} GB, sha256 verified, {time.perf_counter() - start:.1f} s)",
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
@json_option()
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
        console.print(f"[bold]{key:>16}[/] {plain(value)}", highlight=False)


def print_telemetry(telemetry: Any) -> None:
    """One line of telemetry on stderr."""
    if telemetry is None:
        return
    approx = "~" if telemetry.tokens_estimated else ""
    err_console.print(
        f"[dim]{plain(telemetry.provider)}:{plain(telemetry.model)} · prompt "
        f"{approx}{telemetry.prompt_tokens} "
        f"tok · completion {approx}{telemetry.completion_tokens} tok · first token "
        f"{telemetry.ttft_s:.2f} s · total {telemetry.total_s:.2f} s · "
        f"{telemetry.tokens_per_s:.1f} tok/s · finish {plain(telemetry.finish_reason)}[/]",
        highlight=False,
    )


@cli.command("llm")
@click.argument("prompt")
@click.option("--system", help="A system message before the prompt.")
@provider_option
@click.option("--runtime", type=click.Choice(["llama.cpp", "transformers"]), help="Local runtime.")
@click.option("--model", "model_name", help="GGUF path, transformers model, or hosted name.")
@click.option("--max-tokens", type=click.IntRange(min=1), help="Most tokens to generate.")
@click.option("--temperature", type=click.FloatRange(0.0, 2.0), help="Sampling temperature.")
@click.option("--stream/--no-stream", default=True, show_default=True, help="Print as it comes.")
@json_option("Print the completion as JSON.")
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
        click.echo(no_control(completion.text))
        print_telemetry(completion.telemetry)
        return
    with llm.stream(messages, max_tokens=max_tokens, temperature=temperature) as chunks:
        for chunk in chunks:
            click.echo(no_control(chunk), nl=False)
            sys.stdout.flush()
        click.echo()
        print_telemetry(chunks.telemetry)


@cli.command()
@click.option("--no-generate", is_flag=True, help="Load the LLM but do not generate.")
@json_option("Print the checks as JSON.")
@click.pass_context
def doctor(ctx: click.Context, no_generate: bool, as_json: bool) -> None:
    """Check the store, the embedding model and the LLM; say what to fix. Exit 1 if broken.

    \b
    Example:
        assistant doctor
        ASSISTANT_LLM__PROVIDER=openai ASSISTANT_LLM__MODEL=gpt-4o-mini assistant doctor
    """
    from assistant.health import doctor_checks

    checks = doctor_checks(
        settings_of(ctx),
        generate=not no_generate,
        prepare=lambda settings: ensure_bundled(settings, quiet=True),
    )
    if as_json:
        click.echo("[" + ",".join(c.model_dump_json() for c in checks) + "]")
    else:
        for check in checks:
            mark = "[green]✓[/]" if check.ok else "[red]✗[/]"
            console.print(
                f"{mark} [bold]{plain(check.name)}[/]: {plain(check.detail)}", highlight=False
            )
            if check.fix:
                console.print(f"    [yellow]fix:[/] {plain(check.fix)}", highlight=False)
    if not all(c.ok for c in checks):
        ctx.exit(1)
