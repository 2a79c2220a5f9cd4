"""Commands that put papers side by side: ``compare`` (a table) and ``disagreements``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import click
from click.decorators import FC

from assistant.cli.base import cli, emit, notes, print_json, settings_of
from assistant.cli.options import filter_options, format_option, json_option
from assistant.compare import compare, papers_to_compare
from assistant.disagree import store_disagreements
from assistant.models import SearchFilters
from assistant.render.compare import TABLE_FORMATS, disagreements_markdown, render_comparison


def topic_options(default: int, least: int, topic_help: str) -> Callable[[FC], FC]:
    """``--topic TOPIC`` and ``-n`` (how many of its papers: ``least``..100)."""

    def apply(fn: FC) -> FC:
        fn = click.option(
            "-n",
            "n",
            type=click.IntRange(least, 100),
            default=default,
            show_default=True,
            help="How many of the topic's papers (hybrid search, gated like a digest).",
        )(fn)
        return click.option("--topic", help=topic_help)(fn)

    return apply


@cli.command("compare")
@click.argument("paper_ids", nargs=-1)
@topic_options(12, 1, "Compare the papers the store holds on TOPIC instead of ids.")
@filter_options(added=False)
@format_option(TABLE_FORMATS, "markdown, html (a table), csv, or json.", default="markdown")
@json_option("Print the table as JSON: columns, and rows of paper and cells.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the table to FILE (whole) instead of stdout.",
)
@click.pass_context
def compare_command(
    ctx: click.Context,
    paper_ids: tuple[str, ...],
    topic: str | None,
    n: int,
    filters: SearchFilters,
    fmt: str,
    as_json: bool,
    out: Path | None,
) -> None:
    """Papers side by side: what each proposes, its task or data, its headline result, code.

    Every cell is copied from that paper's abstract; a figure in a cell is checked to occur
    there; a cell the abstract cannot fill says "not stated in the abstract", and a column
    no paper fills is left out.

    \b
    Examples:
      assistant compare t-030608e6ec9d6059 t-c4f8a2083b7456b4   # ids (or arXiv ids)
      assistant compare --topic "KV cache compression" --format csv --out kv.csv
      assistant compare --topic "optical flow" --json
    """
    settings = settings_of(ctx)
    papers, notices = papers_to_compare(settings, paper_ids, topic, n, filters)
    notes(notices)
    table = compare(papers, topic)
    emit(render_comparison(table, "json" if as_json else fmt), out)


@cli.command("disagreements")
@topic_options(30, 2, "Only the papers the store holds on TOPIC (default: every paper).")
@click.option("--limit", type=click.IntRange(1, 200), default=20, show_default=True)
@json_option("Print a JSON list: each pair's kind, two sides (paper, sentence), tension.")
@click.pass_context
def disagreements_command(
    ctx: click.Context, topic: str | None, n: int, limit: int, as_json: bool
) -> None:
    """Pairs of papers whose abstracts say things that cannot both hold.

    A pair is shown only when one paper claims the best result on a benchmark and another
    reports beating it there, or when one finds what the other denies in sentences about the
    same thing. Precision first: most real disagreements need more than the abstracts say,
    so an empty list means none was certain, not that the papers agree.

    \b
    Examples:
      assistant disagreements --topic "state space models"
      assistant disagreements --json
    """
    found, read, notices = store_disagreements(settings_of(ctx), topic, n, limit)
    notes(notices)
    if as_json:
        print_json(found)
        return
    if not found:
        click.echo(f"No disagreement found among {read} papers.")
        return
    click.echo(f"{len(found)} disagreement(s) among {read} papers:\n")
    click.echo(disagreements_markdown(found), nl=False)
