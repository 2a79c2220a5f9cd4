"""The root ``assistant`` group and the helpers every command module shares."""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import click
from pydantic import BaseModel, ValidationError
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, ProgressColumn, TextColumn, TimeRemainingColumn

from assistant.errors import AssistantError
from assistant.files import write_atomic
from assistant.settings import Settings, invalid_settings
from assistant.text import CONTROL

console = Console()
err_console = Console(stderr=True)


def no_control(text: object) -> str:
    """``text`` without control characters (``text.CONTROL``): what a paper, a model or a
    question says may not move the cursor, recolour or retitle the user's terminal, nor
    reorder what it shows."""
    return CONTROL.sub("", str(text))


def plain(text: object) -> str:
    """Untrusted text to put inside a rich markup string: control characters dropped and
    brackets escaped, so a title like ``[/]`` or ``[link=...]`` prints as itself (unescaped,
    the first crashed the command and the second hid a link in the terminal)."""
    return escape(no_control(text))


class AssistantGroup(click.Group):
    """A click group that turns an ``AssistantError`` into a one-line message and exit 1, and
    imports a command's module (``modules``: command name -> module in ``assistant.cli``) when
    the command is first looked up."""

    modules: dict[str, str] = {}  # noqa: RUF012 (set once, on the root group)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.modules})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in self.modules:
            importlib.import_module(f"assistant.cli.{self.modules[cmd_name]}")
        return super().get_command(ctx, cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except AssistantError as exc:
            err_console.print(f"[bold red]error:[/] {plain(exc)}", highlight=False, soft_wrap=True)
            sys.exit(1)
        except KeyboardInterrupt:
            err_console.print("[yellow]interrupted[/] (the store keeps only whole batches)")
            sys.exit(130)


def progress_bar(*counters: ProgressColumn, quiet: bool = False) -> Progress:
    """A transient progress bar on stderr: description, bar, ``counters``, time left."""
    return Progress(
        TextColumn("[bold]{task.description}[/]"),
        BarColumn(),
        *counters,
        TimeRemainingColumn(),
        console=err_console,
        disable=quiet,
        transient=True,
    )


def settings_of(ctx: click.Context) -> Settings:
    """The effective settings for this invocation (env vars, then global flags)."""
    return ctx.find_root().obj  # type: ignore[no-any-return]


def print_json(value: BaseModel | Sequence[BaseModel] | dict[str, Any]) -> None:
    """Print a model, a list of models or a dict as JSON on stdout (nothing else)."""
    if isinstance(value, BaseModel):
        text = value.model_dump_json(indent=2)
    elif isinstance(value, Sequence):
        text = json.dumps([v.model_dump(mode="json") for v in value], indent=2)
    else:
        text = json.dumps(value, indent=2, default=str)
    click.echo(text)


def notes(texts: Iterable[str]) -> None:
    """Each text as a "note:" line on stderr (untrusted text made plain, not wrapped)."""
    for text in texts:
        err_console.print(f"[yellow]note:[/] {plain(text)}", highlight=False, soft_wrap=True)


def emit(text: str, out: Path | None) -> None:
    """``text`` on stdout, or written whole to ``out`` (folders made) and said on stderr."""
    if out is None:
        click.echo(text, nl=False)
    else:
        write_atomic(out, text)
        err_console.print(f"wrote {plain(out)}", highlight=False)


@click.group(cls=AssistantGroup)
@click.option("--store", "store_dir", type=click.Path(path_type=Path), help="Store directory.")
@click.option("--chroma-url", help="Use a Chroma server (chroma run) instead of --store.")
@click.version_option(package_name="papers-assistant")
@click.pass_context
def cli(ctx: click.Context, store_dir: Path | None, chroma_url: str | None) -> None:
    """Ask cited questions across a pile of ML paper abstracts."""
    try:
        settings = Settings()  # an unknown ASSISTANT_ name is a SettingsError already
    except ValidationError as exc:
        raise invalid_settings(exc) from None
    ctx.obj = settings.with_overrides(store_dir=store_dir, chroma_url=chroma_url)


@cli.command()
@click.pass_context
def config(ctx: click.Context) -> None:
    """Print the effective settings (secrets masked) as JSON."""
    print_json(settings_of(ctx).public_dump())
