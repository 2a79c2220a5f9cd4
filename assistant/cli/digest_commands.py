"""Commands that write pages: ``digest`` (a topic) and ``weekly`` (an ISO week, saved)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from assistant.cli.base import cli, emit, err_console, notes, plain, settings_of
from assistant.cli.options import filter_options, format_option, json_option, provider_option
from assistant.digest import digest_stream
from assistant.errors import InputError
from assistant.models import Digest, DigestProgress, SearchFilters
from assistant.page import DigestEvent
from assistant.render.page import FORMATS, render
from assistant.settings import Settings
from assistant.streams import ResultStream, ResultT
from assistant.weekly import EXIT_CODES, WeekBuild, build_week_stream, store_weeks


def _settings(ctx: click.Context, provider: str | None) -> Settings:
    return settings_of(ctx).with_overrides(**{"llm.provider": provider})


def follow(stream: ResultStream[DigestEvent, ResultT]) -> ResultT:
    """Show progress on stderr and the model's text as it streams (when stderr is a
    terminal); return the stream's result."""
    live = sys.stderr.isatty()
    for event in stream:
        if isinstance(event, DigestProgress):
            step = f" {event.done}/{event.total}" if event.total else ""
            err_console.print(
                f"[dim]› {event.stage}{step}: {plain(event.message)}[/]", highlight=False
            )
        elif live:
            click.echo(event, nl=False, err=True)
    return stream.result


@cli.command()
@click.argument("topic")
@click.option(
    "-n",
    "n",
    type=click.IntRange(1, 100),
    help="Papers to retrieve and group (1-100; default: digest.papers, 30).",
)
@filter_options(added=False)
@provider_option
@format_option(
    FORMATS,
    "markdown, a standalone html page, json (the Digest), or csv (its comparison table).",
    default="markdown",
)
@json_option("Print the Digest as JSON (same as --format json).")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the page to FILE (whole) instead of stdout.",
)
@click.option("--no-llm", is_flag=True, help="No model: themes named by keywords, no paragraphs.")
@click.pass_context
def digest(
    ctx: click.Context,
    topic: str,
    n: int | None,
    filters: SearchFilters,
    provider: str | None,
    fmt: str,
    as_json: bool,
    out: Path | None,
    no_llm: bool,
) -> None:
    """A themed, cited digest of what the store holds on TOPIC.

    Papers are retrieved (hybrid + MMR), grouped into themes by their vectors, and each
    theme gets a short paragraph whose citations are checked; then a paper table and the
    references. Progress goes to stderr, the page to stdout (or --out).

    \b
    Examples:
      assistant digest "KV cache compression"
      assistant digest "diffusion models" -n 20 --since 2024-08-01 --format html --out d.html
      assistant digest "optical flow" --format json
    """
    settings = _settings(ctx, provider)
    result = follow(digest_stream(topic, settings, n=n, filters=filters, use_llm=not no_llm))
    notes(result.notices)
    emit(render(result, "json" if as_json else fmt), out)


@cli.command()
@click.option("--week", help="An ISO week, like 2026-W11.")
@click.option("--latest", is_flag=True, help="The most recent week holding papers (default).")
@click.option("--all", "all_weeks", is_flag=True, help="Every week holding papers.")
@click.option("--force", is_flag=True, help="Rewrite a week that is already saved.")
@click.option(
    "--dry-run", is_flag=True, help="Show the week's papers and themes; no model, nothing saved."
)
@click.option(
    "--no-llm", is_flag=True, help="Save without a model: keyword theme names, no paragraphs."
)
@click.option(
    "--interest",
    help="Write the week for this saved interest: its papers first, each with why, in "
    "digests/weekly/for-<interest>/ with its own feed.",
)
@provider_option
@format_option(FORMATS, "Also print each week's page on stdout in this format.")
@click.pass_context
def weekly(
    ctx: click.Context,
    week: str | None,
    latest: bool,
    all_weeks: bool,
    force: bool,
    dry_run: bool,
    no_llm: bool,
    interest: str | None,
    provider: str | None,
    fmt: str | None,
) -> None:
    """Summarize an ISO week of papers and save it under <store>/digests/weekly/.

    Each week is saved as Markdown, HTML, CSV (its table) and JSON (written whole) and
    listed in the Atom feed digests/weekly/feed.xml. A saved week is never rewritten without
    --force; two runs at once are safe (a lock). Exit codes: 0 a new week written (or
    --dry-run), 3 already there, 4 no papers in the week, 1 failure.

    \b
    Examples:
      assistant weekly                     # the latest week
      assistant weekly --week 2026-W11 --dry-run
      assistant weekly --all --no-llm      # every week, quickly, without the model
      assistant weekly --interest kv       # the latest week, for the interest "kv"
    """
    if sum(bool(x) for x in (week, latest, all_weeks)) > 1:
        raise click.UsageError("give one of --week, --latest or --all.")
    settings = _settings(ctx, provider)
    targets: list[str | None] = [week] if week else [None]
    if all_weeks or not week:
        found = store_weeks(settings)
        if found.undated:
            notes(
                [
                    f"{found.undated} paper(s) have no date at all (neither published nor "
                    "added) and belong to no week."
                ]
            )
        # One pass over the store: the latest week is known from it.
        latest_only: list[str | None] = [max(found.weeks)] if found.weeks else [None]
        targets = (list(found.weeks) or [None]) if all_weeks else latest_only
    builds: list[WeekBuild] = []
    for target in targets:
        stream = build_week_stream(
            settings, target, force=force, dry_run=dry_run, use_llm=not no_llm, interest=interest
        )
        result = follow(stream)
        builds.append(result)
        style = {"written": "green", "dry-run": "cyan", "exists": "yellow", "empty": "yellow"}
        err_console.print(
            f"[{style[result.status]}]{result.status}[/] {plain(result.message)}", highlight=False
        )
        if result.digest is not None:
            if dry_run:
                _print_plan(result.digest)
            if fmt:
                click.echo(render(result.digest, fmt), nl=False)
    ctx.exit(_exit_code(builds))


def _print_plan(summary: Digest) -> None:
    """What a dry run shows: the week's numbers and its themes."""
    if summary.week is None or not summary.covered:
        click.echo(summary.overview)
        return
    w = summary.week
    click.echo(
        f"{w.week} ({w.start} – {w.end}): {w.papers} papers, {w.themes} themes, "
        f"{w.with_code} with code"
    )
    for notice in summary.notices:
        click.echo(f"  note: {notice}")
    for theme in summary.themes:
        novelty = "" if theme.novelty is None else f", distance {theme.novelty:.2f}"
        mark = " NEW" if theme.new else ""
        plan = "paragraph" if theme.planned else "listed"
        click.echo(
            f"  {theme.number:>2}. {theme.name} ({len(theme.papers)} papers{novelty}, {plan}){mark}"
        )


def _exit_code(builds: list[WeekBuild]) -> int:
    """0 when any week was written (or dry-run), else 3 when any was already there, else 4."""
    if not builds:
        raise InputError("no week to build.")
    codes = {EXIT_CODES[b.status] for b in builds}
    for code in (0, 3, 4):
        if code in codes:
            return code
    return 1
