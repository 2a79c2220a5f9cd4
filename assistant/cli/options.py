"""Options that several commands share, declared once; their choices come from the code."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import click

from assistant.models import SearchFilters
from assistant.settings import MAX_ANSWER_SOURCES, MODES

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]


def _apply(fn: Callable[..., Any], *options: Decorator) -> Callable[..., Any]:
    for option in reversed(options):
        fn = option(fn)
    return fn


def json_option(help: str = "Print as JSON.") -> Decorator:
    """``--json``: the typed result's model dump on stdout, nothing else."""
    return click.option("--json", "as_json", is_flag=True, help=help)


def format_option(choices: Sequence[str], help: str, default: str | None = None) -> Decorator:
    """``--format FMT`` (the parameter ``fmt``): one of ``choices``."""
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(list(choices)),
        default=default,
        show_default=default is not None,
        help=help,
    )


def mode_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``--mode``: one of the retrieval modes."""
    return click.option(
        "--mode",
        type=click.Choice(MODES, case_sensitive=False),
        help=f"Retrieval: {', '.join(MODES)} (default: retrieval.mode).",
    )(fn)


class _ProviderOption(click.Option):
    """``--provider``, whose help lists the providers when it is shown: finding the installed
    plugins reads every package's metadata, which a command that is run need not wait for."""

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        from assistant.llm import providers

        self.help = f"LLM provider: {', '.join(providers())} (default: llm.provider)."
        return super().get_help_record(ctx)


def provider_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``--provider``: a provider of the registry, built in or installed as a plugin; the
    registry checks the name when the LLM is created (a plugin registered later counts)."""
    return click.option("--provider", metavar="NAME", cls=_ProviderOption)(fn)


def sources_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``-k``: how many sources an answer is given."""
    return click.option(
        "-k",
        "k",
        type=int,
        help=f"Sources handed to the model (1-{MAX_ANSWER_SOURCES}; default: answer.k).",
    )(fn)


def filter_options(*, added: bool = True) -> Decorator:
    """``--since --until --source [--added-days]``, handed to the command as ``filters``.

    They become one ``SearchFilters`` through ``SearchFilters.parse``, so every command reads
    them the same way (``--added-days 0`` means "added today").
    """

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def wrapper(
            *args: Any,
            since: str | None,
            until: str | None,
            source: str | None,
            added_days: int | None = None,
            **kwargs: Any,
        ) -> Any:
            kwargs["filters"] = SearchFilters.parse(since, until, source, added_days)
            return fn(*args, **kwargs)

        options = [
            click.option("--since", help="Only papers published on or after YYYY-MM-DD."),
            click.option("--until", help="Only papers published on or before YYYY-MM-DD."),
            click.option("--source", help="Only papers read from this source file name."),
        ]
        if added:
            options.append(
                click.option(
                    "--added-days",
                    type=int,
                    help="Only papers added in the last N days (0: today).",
                )
            )
        return _apply(wrapper, *options)

    return decorate
