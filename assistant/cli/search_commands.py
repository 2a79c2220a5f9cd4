"""``assistant search``: the retrieval stage on the command line (a thin layer over retrieve)."""

from __future__ import annotations

import datetime as dt

import click
from rich.table import Table

from assistant.cli.base import cli, console, err_console, parse_date, print_json, settings_of
from assistant.errors import InputError
from assistant.retrieve import MODES, SearchFilters, get_retriever


@cli.command()
@click.argument("query")
@click.option("-k", "k", type=int, help="Papers to return (default: retrieval.k).")
@click.option(
    "--mode",
    type=click.Choice(MODES, case_sensitive=False),
    help="hybrid (dense + BM25 fused), dense or bm25 (default: retrieval.mode).",
)
@click.option("--since", help="Published on or after (YYYY-MM-DD).")
@click.option("--until", help="Published on or before (YYYY-MM-DD).")
@click.option("--source", help="Only papers read from this file name.")
@click.option("--added-days", type=int, help="Only papers added in the last N days (0: today).")
@click.option(
    "--mmr/--no-mmr", default=None, help="Re-rank for diversity (default: retrieval.mmr)."
)
@click.option("--json", "as_json", is_flag=True, help="Print the hits as a JSON list.")
@click.pass_context
def search(
    ctx: click.Context,
    query: str,
    k: int | None,
    mode: str | None,
    since: str | None,
    until: str | None,
    source: str | None,
    added_days: int | None,
    mmr: bool | None,
    as_json: bool,
) -> None:
    """Find the papers that best match QUERY.

    \b
    Examples:
      assistant search "optical flow under occlusion"
      assistant search "reward models" -k 10 --mode bm25
      assistant search "video diffusion" --since 2024-08-01 --mmr --json
    """
    if added_days is not None and added_days < 0:
        raise InputError("--added-days must be 0 or more.")
    filters = SearchFilters(
        since=parse_date(since, "--since"),
        until=parse_date(until, "--until"),
        source=source,
        added_since=(
            dt.date.today() - dt.timedelta(days=added_days) if added_days is not None else None
        ),
    )
    result = get_retriever(settings_of(ctx)).search(query, k=k, mode=mode, filters=filters, mmr=mmr)
    for notice in result.notices:
        err_console.print(f"[yellow]note:[/] {notice}", highlight=False, soft_wrap=True)
    if as_json:
        print_json(result.hits)
        return
    if not result.hits:
        console.print("[dim]no papers match (try fewer filters or other words).[/]")
        return
    table = Table("#", "score", "date", "title", "best sentence", header_style="bold")
    for hit in result.hits:
        best = hit.best_sentences[0].text if hit.best_sentences else ""
        table.add_row(
            str(hit.rank),
            f"{hit.score:.4f}",
            str(hit.paper.published or "-"),
            hit.paper.title,
            best,
        )
    console.print(table)
    console.print(f"[dim]{len(result.hits)} hit(s), {result.mode}[/]")
