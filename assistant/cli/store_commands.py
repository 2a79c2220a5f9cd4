"""Commands that fill and inspect the store: ingest, fetch, stats, list, show."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

import click
from rich.progress import MofNCompleteColumn
from rich.table import Table

from assistant.cli.base import (
    cli,
    console,
    err_console,
    plain,
    print_json,
    progress_bar,
    settings_of,
)
from assistant.cli.options import filter_options, format_option, json_option
from assistant.errors import InputError
from assistant.fetch import download_day
from assistant.ingest import IngestReport, Share, ingest_paths
from assistant.models import SearchFilters, parse_date
from assistant.parse import FORMATS
from assistant.settings import Settings


def run_ingest(
    settings: Settings,
    paths: list[Path],
    fmt: str,
    year: int | None,
    date: dt.date | None,
    skip_invalid: bool,
    quiet: bool,
    share: Share | None = None,
) -> IngestReport:
    """``ingest.ingest_paths`` with a progress bar on stderr."""
    with progress_bar(MofNCompleteColumn(), quiet=quiet) as bar:
        task = bar.add_task("ingest", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        report = ingest_paths(
            settings,
            paths,
            fmt,
            year=year,
            date=date,
            skip_invalid=skip_invalid,
            progress=progress,
            share=share,
        )
    for problem in report.skipped:
        err_console.print(f"[yellow]skipped[/] {plain(problem)}", highlight=False, soft_wrap=True)
    return report


def show_report(report: IngestReport, as_json: bool) -> None:
    """Print an ingest report for people or scripts."""
    if as_json:
        print_json(report)
        return
    console.print(
        f"read {report.entries} entries ({report.papers} distinct papers"
        f"{f' in share {report.share}' if report.share else ''}) from "
        f"{report.files} file(s): [green]{report.added} added[/], {report.updated} updated, "
        f"{report.merged} merged, {report.unchanged} unchanged; store now holds "
        f"[bold]{report.store_total}[/] papers ({report.seconds:.1f} s)."
    )


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@format_option(
    FORMATS, "How to read the files: auto (by content), hf-text, hf-json or jsonl.", default="auto"
)
@click.option("--year", type=int, help="Year for date headers without one (default: this year).")
@click.option("--date", "date_", help="Publication date (YYYY-MM-DD) for files without a header.")
@click.option("--skip-invalid", is_flag=True, help="Ingest the readable files, report the rest.")
@click.option(
    "--share",
    metavar="K/N",
    help="Write only share K of N of the papers: N processes ingest one input into one Chroma "
    "server at once, each with its own K (every process reads all of the input).",
)
@json_option("Print the report as JSON.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@click.pass_context
def ingest(
    ctx: click.Context,
    paths: tuple[Path, ...],
    fmt: str,
    year: int | None,
    date_: str | None,
    skip_invalid: bool,
    share: str | None,
    as_json: bool,
    quiet: bool,
) -> None:
    """Add paper abstracts from files or folders to the store.

    \b
    Examples:
      assistant ingest data/sample
      assistant ingest dump.txt --year 2024
      assistant ingest papers.jsonl --format jsonl
      assistant --chroma-url http://127.0.0.1:8000 ingest big/ --share 1/4   # and 2/4, 3/4, 4/4
    """
    if year is not None and not 1900 <= year <= 2100:
        raise InputError(f"--year {year} is not a plausible year.")
    report = run_ingest(
        settings_of(ctx),
        list(paths),
        fmt,
        year,
        parse_date(date_, "--date"),
        skip_invalid,
        quiet or as_json,
        Share.parse(share) if share else None,
    )
    show_report(report, as_json)


@cli.command()
@click.option("--date", "date_", required=True, help="The day to fetch (YYYY-MM-DD).")
@json_option("Print the report as JSON.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@click.pass_context
def fetch(ctx: click.Context, date_: str, as_json: bool, quiet: bool) -> None:
    """Download one day of Hugging Face Daily Papers and ingest it (needs network)."""
    settings = settings_of(ctx)
    day = parse_date(date_, "--date")
    assert day is not None
    with tempfile.TemporaryDirectory() as tmp:
        path = download_day(settings.daily_papers_url, day, Path(tmp), settings.fetch_timeout)
        report = run_ingest(settings, [path], "hf-json", None, day, False, quiet or as_json)
    show_report(report, as_json)


@cli.command()
@json_option()
@click.pass_context
def stats(ctx: click.Context, as_json: bool) -> None:
    """Papers, sources, date range, embedding model and location of the store."""
    from assistant.retrieve import catalog
    from assistant.store import open_store

    settings = settings_of(ctx)
    info = catalog(settings).stats(open_store(settings))
    if as_json:
        print_json(info)
        return
    console.print(
        f"[bold]{info.papers}[/] papers in {plain(info.location)} ({plain(info.collection)})"
    )
    console.print(f"embedding model: {plain(info.embedding_model)}")
    if info.first_published:
        console.print(
            f"published: {info.first_published} .. {info.last_published} ({info.undated} undated)"
        )
    if info.last_added:
        console.print(f"last added: {info.last_added}")
    for source, count in info.sources.items():
        console.print(f"  {count:6d}  {plain(source)}", highlight=False)


@cli.command(name="list")
@filter_options()
@click.option("--limit", type=int, default=20, show_default=True, help="0 for all.")
@json_option()
@click.pass_context
def list_(ctx: click.Context, filters: SearchFilters, limit: int, as_json: bool) -> None:
    """List papers, newest first."""
    from assistant.catalog import NEWEST
    from assistant.retrieve import catalog
    from assistant.store import open_store

    if limit < 0:
        raise InputError("--limit must be 0 (all) or more.")
    settings = settings_of(ctx)
    listed = catalog(settings)
    ids = [listed.ids[i] for i in listed.listing(filters, NEWEST)[: limit or None]]
    found = open_store(settings).by_ids(ids)  # only the papers listed are read
    papers = [found[pid][0] for pid in ids if pid in found]
    if as_json:
        print_json(papers)
        return
    table = Table("id", "published", "title", box=None, header_style="bold")
    for paper in papers:
        table.add_row(plain(paper.id), str(paper.published or "-"), plain(paper.title))
    console.print(table)
    console.print(f"[dim]{len(papers)} paper(s)[/]")


@cli.command()
@click.argument("paper_id")
@json_option()
@click.pass_context
def show(ctx: click.Context, paper_id: str, as_json: bool) -> None:
    """Show one paper by id or arXiv id."""
    from assistant.store import open_store

    paper = open_store(settings_of(ctx)).get(paper_id)
    if paper is None:
        raise InputError(f"no paper with id {paper_id!r} (see: assistant list).")
    if as_json:
        print_json(paper)
        return
    console.print(f"[bold]{plain(paper.title)}[/]", highlight=False, soft_wrap=True)
    console.print(
        f"[dim]{plain(paper.id)} · published {paper.published or 'unknown'} · added "
        f"{paper.added} · from {plain(', '.join(paper.sources))}[/]",
        highlight=False,
    )
    if paper.authors:
        console.print(plain(", ".join(paper.authors)), highlight=False)
    console.print()
    console.print(plain(paper.abstract), highlight=False, soft_wrap=True)
    if paper.links:
        console.print()
        for link in paper.links:
            console.print(f"  {plain(link)}", highlight=False)
