"""Your interests and saved papers: ``interest``, ``for-you``, ``similar`` and ``saved``.

A thin layer over ``assistant.interests`` (the file beside the store) and
``assistant.recommend`` (the ranking)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import click

from assistant.cli.base import (
    cli,
    console,
    emit,
    notes,
    plain,
    print_json,
    settings_of,
)
from assistant.cli.options import format_option, json_option
from assistant.export import bibtex, collection_markdown
from assistant.interests import (
    add_interest,
    collection_papers,
    get_interest,
    load_profile,
    remove_collection,
    remove_interest,
    save_papers,
    unsave_papers,
)
from assistant.models import parse_date
from assistant.models.interests import STARRED, ForYou, Interest, Recommendation


def scope_options(fn: click.decorators.FC) -> click.decorators.FC:
    """``--week --since --until -k``: which papers to rank, and how many to show."""
    for option in reversed(
        [
            click.option("-k", "k", type=int, default=10, show_default=True, help="Papers shown."),
            click.option("--week", help="Only the papers of this ISO week (like 2026-W11)."),
            click.option("--since", help="Only papers published (or, undated, added) since."),
            click.option("--until", help="Only papers published (or added) until YYYY-MM-DD."),
        ]
    ):
        fn = option(fn)
    return fn


def show_ranking(result: ForYou, as_json: bool) -> None:
    """A ranking as a table with each paper's why, or its JSON list."""
    notes(result.notices)
    if as_json:
        print_json(result.papers)
        return
    console.print(
        f"[bold]{plain(result.interest)}[/] · {plain(result.scope)} · "
        f"{result.candidates} papers ranked",
        highlight=False,
    )
    if not result.papers:
        console.print("[dim]no papers in that scope.[/]")
        return
    for r in result.strong:
        _show_recommendation(r)
    if result.weaker:
        console.print(f"[dim]{len(result.weaker)} weaker match(es):[/]")
        for r in result.weaker:
            _show_recommendation(r)


def _show_recommendation(r: Recommendation) -> None:
    console.print(
        f"[bold]{r.rank:>2}.[/] {plain(r.paper.title)} [dim]({plain(r.paper.id)} · "
        f"{r.paper.date_label} · {r.score:.2f})[/]",
        highlight=False,
        soft_wrap=True,
    )
    console.print(f"    [dim]{plain(r.why)}[/]", highlight=False, soft_wrap=True)


def show_interest(interest: Interest) -> None:
    console.print(f"[bold]{plain(interest.name)}[/]", highlight=False)
    for phrase in interest.phrases:
        console.print(f"  phrase  {plain(phrase)}", highlight=False)
    for phrase in interest.negatives:
        console.print(f"  not     {plain(phrase)}", highlight=False)
    for seed in interest.seeds:
        console.print(f"  seed    {plain(seed.id)}  {plain(seed.title)}", highlight=False)


# --- interest -----------------------------------------------------------------------------------


@cli.group()
def interest() -> None:
    """Named interests: phrases you want, phrases you do not, papers you liked.

    \b
    Kept in <store>/interests.json (written whole; the app and cron share it).
    Examples:
      assistant interest add kv --phrase "KV cache compression" --not "vision"
      assistant interest add flow --seed 2403.07357 --phrase "optical flow"
      assistant for-you kv --week 2026-W49
    """


@interest.command("add")
@click.argument("name")
@click.option("--phrase", "phrases", multiple=True, help="What to look for (repeatable).")
@click.option("--not", "negatives", multiple=True, help="What to leave out (repeatable).")
@click.option("--seed", "seeds", multiple=True, help="A paper id or arXiv id you liked.")
@click.option("--replace", is_flag=True, help="Overwrite an interest of the same name.")
@json_option("Print the saved interest as JSON.")
@click.pass_context
def interest_add(
    ctx: click.Context,
    name: str,
    phrases: tuple[str, ...],
    negatives: tuple[str, ...],
    seeds: tuple[str, ...],
    replace: bool,
    as_json: bool,
) -> None:
    """Save an interest NAME."""
    saved = add_interest(
        settings_of(ctx),
        name,
        phrases=phrases,
        negatives=negatives,
        seeds=seeds,
        replace=replace,
    )
    if as_json:
        print_json(saved)
    else:
        show_interest(saved)


@interest.command("list")
@json_option("Print the interests as a JSON list.")
@click.pass_context
def interest_list(ctx: click.Context, as_json: bool) -> None:
    """The saved interests."""
    interests = load_profile(settings_of(ctx)).interests
    if as_json:
        print_json(interests)
        return
    if not interests:
        console.print("[dim]no interests yet: assistant interest add NAME --phrase TEXT[/]")
    for item in interests:
        show_interest(item)


@interest.command("show")
@click.argument("name")
@json_option("Print the interest as JSON.")
@click.pass_context
def interest_show(ctx: click.Context, name: str, as_json: bool) -> None:
    """One saved interest."""
    found = get_interest(settings_of(ctx), name)
    if as_json:
        print_json(found)
    else:
        show_interest(found)


@interest.command("remove")
@click.argument("name")
@click.pass_context
def interest_remove(ctx: click.Context, name: str) -> None:
    """Forget an interest."""
    removed = remove_interest(settings_of(ctx), name)
    console.print(f"removed interest {plain(removed.name)}", highlight=False)


# --- rankings -----------------------------------------------------------------------------------


@cli.command("for-you")
@click.argument("name")
@scope_options
@json_option("Print a JSON list: each paper with its score and why.")
@click.pass_context
def for_you_command(
    ctx: click.Context,
    name: str,
    k: int,
    week: str | None,
    since: str | None,
    until: str | None,
    as_json: bool,
) -> None:
    """Papers ranked for the interest NAME, each with why.

    \b
    Examples:
      assistant for-you kv
      assistant for-you kv --week 2026-W49 -k 20 --json
    """
    from assistant.recommend import for_you

    _rank_and_show(ctx, for_you, name, k, week, since, until, as_json)


@cli.command()
@click.argument("paper_ids", nargs=-1, required=True)
@scope_options
@json_option("Print a JSON list: each paper with its score and why.")
@click.pass_context
def similar(
    ctx: click.Context,
    paper_ids: tuple[str, ...],
    k: int,
    week: str | None,
    since: str | None,
    until: str | None,
    as_json: bool,
) -> None:
    """Papers like PAPER_IDS (ids or arXiv ids), each with the one it is closest to."""
    from assistant.recommend import similar as like

    _rank_and_show(ctx, like, paper_ids, k, week, since, until, as_json)


def _rank_and_show(
    ctx: click.Context,
    ranking: Callable[..., ForYou],
    subject: object,
    k: int,
    week: str | None,
    since: str | None,
    until: str | None,
    as_json: bool,
) -> None:
    """Rank (``recommend.for_you`` or ``similar``) within the scope options, and show it."""
    result = ranking(
        settings_of(ctx),
        subject,
        k=k,
        week=week,
        since=parse_date(since, "--since"),
        until=parse_date(until, "--until"),
    )
    show_ranking(result, as_json)


# --- saved papers -------------------------------------------------------------------------------


@cli.group()
def saved() -> None:
    """Saved papers in named collections (default: starred).

    \b
    Examples:
      assistant saved add 2402.13616 2403.07357 --to kv-reading
      assistant saved list kv-reading
      assistant saved export kv-reading --format bibtex --out kv.bib
      assistant ask "How do these compare?" --collection kv-reading
    """


@saved.command("add")
@click.argument("paper_ids", nargs=-1, required=True)
@click.option("--to", "collection", default=STARRED, show_default=True, help="Collection.")
@click.pass_context
def saved_add(ctx: click.Context, paper_ids: tuple[str, ...], collection: str) -> None:
    """Save papers (ids or arXiv ids) to a collection."""
    found = save_papers(settings_of(ctx), paper_ids, collection)
    console.print(f"{plain(found.name)}: {len(found.papers)} paper(s)", highlight=False)


@saved.command("remove")
@click.argument("paper_ids", nargs=-1, required=True)
@click.option("--from", "collection", default=STARRED, show_default=True, help="Collection.")
@click.pass_context
def saved_remove(ctx: click.Context, paper_ids: tuple[str, ...], collection: str) -> None:
    """Take papers out of a collection."""
    found = unsave_papers(settings_of(ctx), paper_ids, collection)
    console.print(f"{plain(found.name)}: {len(found.papers)} paper(s)", highlight=False)


@saved.command("drop")
@click.argument("collection")
@click.pass_context
def saved_drop(ctx: click.Context, collection: str) -> None:
    """Forget a whole collection (the papers stay in the store)."""
    removed = remove_collection(settings_of(ctx), collection)
    console.print(f"removed collection {plain(removed.name)}", highlight=False)


@saved.command("list")
@click.argument("collection", required=False)
@json_option("Print the collections (or one collection's papers) as JSON.")
@click.pass_context
def saved_list(ctx: click.Context, collection: str | None, as_json: bool) -> None:
    """The collections, or the papers of one."""
    settings = settings_of(ctx)
    if collection is None:
        collections = load_profile(settings).collections
        if as_json:
            print_json(collections)
            return
        if not collections:
            console.print("[dim]nothing saved yet: assistant saved add ID[/]")
        for c in collections:
            console.print(f"{plain(c.name)}: {len(c.papers)} paper(s)", highlight=False)
        return
    papers = collection_papers(settings, collection)
    if as_json:
        print_json(papers)
        return
    for paper in papers:
        console.print(f"{plain(paper.id)}  {plain(paper.title)}", highlight=False)


@saved.command("export")
@click.argument("collection", default=STARRED)
@format_option(["markdown", "bibtex"], "What to write.", default="markdown")
@click.option("--out", type=click.Path(path_type=Path), help="Write to this file (whole).")
@click.pass_context
def saved_export(ctx: click.Context, collection: str, fmt: str, out: Path | None) -> None:
    """A collection as Markdown or BibTeX."""
    papers = collection_papers(settings_of(ctx), collection)
    emit(bibtex(papers) if fmt == "bibtex" else collection_markdown(collection, papers), out)
