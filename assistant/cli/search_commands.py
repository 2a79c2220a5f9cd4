"""``assistant search``: the retrieval stage on the command line (a thin layer over retrieve)."""

from __future__ import annotations

import click
from rich.table import Table

from assistant.cli.base import cli, console, notes, plain, print_json, settings_of
from assistant.cli.options import filter_options, json_option, mode_option
from assistant.embed import get_embedder
from assistant.models import SearchFilters
from assistant.retrieve import get_retriever


@cli.command()
@click.argument("query")
@click.option("-k", "k", type=int, help="Papers to return (default: retrieval.k).")
@mode_option
@filter_options()
@click.option(
    "--mmr/--no-mmr", default=None, help="Re-rank for diversity (default: retrieval.mmr)."
)
@json_option("Print the hits as a JSON list.")
@click.pass_context
def search(
    ctx: click.Context,
    query: str,
    k: int | None,
    mode: str | None,
    filters: SearchFilters,
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
    settings = settings_of(ctx)
    get_embedder(settings).load_in_background()  # the query needs it: load it while Chroma opens
    result = get_retriever(settings).search(query, k=k, mode=mode, filters=filters, mmr=mmr)
    notes(result.notices)
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
            plain(hit.paper.title),
            plain(best),
        )
    console.print(table)
    console.print(f"[dim]{len(result.hits)} hit(s), {result.mode}[/]")
