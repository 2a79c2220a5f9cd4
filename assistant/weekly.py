"""Weekly summaries: "what came in this week?", saved as Markdown, HTML, CSV and JSON, and a feed.

``build_week_stream(settings, "2026-W11")`` reads top to bottom:

1. select   the papers whose publication date (else the date they were added) falls in the
            ISO week; none, one, or undated papers each get a clear message
2. cluster  all of them into themes (``themes.choose_clusters``; at least
            papers / ``digest.week_theme_size`` themes, at most ``digest.week_max_themes``)
3. novelty  each theme's distance to the papers of the previous ``digest.novelty_weeks``
            weeks; far ones are "new this week"
4. write    paragraphs only for the most novel, then largest, ``digest.week_paragraphs``
            themes (``page.write_page``: names, overview, checked paragraphs)
5. save     ``<store>/digests/weekly/<week>.{md,html,json}`` atomically, under a lock, never
            over an existing week without ``force``; then the Atom feed of every saved week
            (``feed.xml``, its document made by ``render/atom.py``)

Run from cron: ``assistant weekly --latest`` exits 0 when it wrote a new week, 3 when the week
was already there, 4 when the week has no papers, 1 on failure. This module owns the weekly
folder: nothing else reads or writes it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import re
import time
from collections import Counter
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, Field

from assistant.compare import code_url
from assistant.errors import InputError
from assistant.files import file_lock, write_atomic
from assistant.llm import LLM
from assistant.models import (
    Digest,
    DigestProgress,
    DigestTelemetry,
    Hit,
    Paper,
    SavedWeek,
    WeekInfo,
)
from assistant.models.interests import Interest, Recommendation
from assistant.page import (
    DigestEvent,
    DigestStream,
    PageInput,
    overview_sources,
    page_order,
    paper_date,
    with_evidence_sentences,
    write_page,
)
from assistant.render.atom import FEED_ID, feed_xml
from assistant.render.page import SUFFIXES, render
from assistant.retrieve import catalog
from assistant.settings import Settings
from assistant.store import open_store
from assistant.streams import ResultStream
from assistant.themes import ThemeSpec, choose_clusters, group_themes

_WEEK = re.compile(r"^\s*(\d{4})-?W(\d{1,2})\s*$", re.I)

#: Exit codes of ``assistant weekly``, by outcome (1 is any failure).
EXIT_CODES = {"written": 0, "dry-run": 0, "exists": 3, "empty": 4}


# --- weeks ---------------------------------------------------------------------------------------


def iso_week(day: dt.date) -> str:
    """``2026-W11`` for a day of that ISO week."""
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def week_bounds(week: str) -> tuple[dt.date, dt.date]:
    """Monday and Sunday of an ISO week written ``2026-W11``; an InputError otherwise."""
    match = _WEEK.match(week or "")
    if not match:
        raise InputError(f"week {week!r} is not an ISO week; write it like 2026-W11.")
    year, number = int(match.group(1)), int(match.group(2))
    try:
        monday = dt.date.fromisocalendar(year, number, 1)
    except ValueError:
        raise InputError(f"{year} has no week {number}.") from None
    return monday, monday + dt.timedelta(days=6)


def normalize_week(week: str) -> str:
    """The canonical spelling of a week (``2026-w3`` -> ``2026-W03``)."""
    return iso_week(week_bounds(week)[0])


def papers_between(settings: Settings, start: dt.date, end: dt.date) -> tuple[list[Paper], int]:
    """Papers published in [start, end], plus undated papers added then; and how many of
    those were placed by the date they were added. Only those papers are read."""
    published_ids, added_ids = catalog(settings).in_period(start, end)
    found = open_store(settings).by_ids(published_ids + added_ids)
    published = [found[pid][0] for pid in published_ids if pid in found]
    added = [found[pid][0] for pid in added_ids if pid in found]
    papers = sorted(published + added, key=lambda p: (paper_date(p) or start, p.title.lower()))
    return papers, len(added)


class StoreWeeks(BaseModel):
    """Which ISO weeks the store's papers fall in."""

    weeks: dict[str, int] = Field(description="Week -> papers, oldest week first.")
    undated: int = Field(description="Papers with neither a publication nor an added date.")


def store_weeks(settings: Settings) -> StoreWeeks:
    """Every week that holds papers, with its paper count (from the store's catalog)."""
    counts: Counter[str] = Counter()
    undated = 0
    for day in catalog(settings).days():  # publication, else added: as ``paper_date``
        if day is None:
            undated += 1
        else:
            counts[iso_week(day)] += 1
    return StoreWeeks(weeks=dict(sorted(counts.items())), undated=undated)


def latest_week(settings: Settings) -> str | None:
    """The most recent week that holds papers (None for an empty store)."""
    weeks = store_weeks(settings).weeks
    return max(weeks) if weeks else None


# --- the summary ---------------------------------------------------------------------------------


def summarize_week_stream(
    settings: Settings,
    week: str,
    *,
    llm: LLM | None = None,
    use_llm: bool = True,
    interest: Interest | None = None,
) -> DigestStream:
    """The summary of one week: iterate for progress and the model's text; ``result`` is the
    ``Digest`` (``kind="week"``, its ``week`` numbers filled). A week without papers gives a
    Digest with ``covered=False`` and a message saying so; nothing is saved here.

    For an ``interest``, the week is its papers ranked "for you" (``recommend.rank``), cut
    at ``digest.interest_min_score``: they come first with their why, and only they are
    grouped into themes and written about."""
    return DigestStream(_week_steps(settings, week, llm, use_llm, interest))


def _for_interest(
    settings: Settings, interest: Interest, papers: list[Paper], week: str
) -> list[Recommendation]:
    """The week's papers ranked for ``interest``: those that say what it asks for, at or
    above the score bar (see the settings)."""
    from assistant.recommend import rank

    config = settings.digest
    ids = [p.id for p in papers]
    ranked = rank(settings, interest, k=config.interest_papers, ids=ids, scope=f"week {week}")
    best = ranked.papers[0].score if ranked.papers else 0.0
    bar = max(config.interest_min_score, config.interest_relative * best)
    kept = [r for r in ranked.strong if r.score >= bar]
    return [r.model_copy(update={"rank": n}) for n, r in enumerate(kept, start=1)]


def _week_steps(
    settings: Settings, week: str, llm: LLM | None, use_llm: bool, interest: Interest | None
) -> Generator[DigestEvent, None, Digest]:
    started = time.perf_counter()
    week = normalize_week(week)
    start, end = week_bounds(week)
    config = settings.digest
    telemetry = DigestTelemetry()
    store = open_store(settings)

    yield DigestProgress(stage="retrieval", message=f"reading the papers of {week}")
    t0 = time.perf_counter()
    papers, by_added = papers_between(settings, start, end)
    notices: list[str] = []
    for_you: list[Recommendation] = []
    if interest is not None and papers:
        for_you = _for_interest(settings, interest, papers, week)
        kept = {r.paper.id for r in for_you}
        notices.append(
            f"{len(for_you)} of the week's {len(papers)} papers match the interest "
            f"{interest.name!r}; only they are summarized."
        )
        papers = [p for p in papers if p.id in kept]
        by_added = sum(1 for p in papers if p.published is None)
    if by_added:
        notices.append(
            f"{by_added} paper(s) have no publication date; they are placed in the week they "
            "were added to the store."
        )
    info = WeekInfo(
        week=week,
        start=start,
        end=end,
        papers=len(papers),
        themes=0,
        with_code=sum(1 for p in papers if code_url(p)),
        placed_by_added=by_added,
    )
    title = f"Week {week}" + (f" for {interest.name}" if interest else "")
    name = interest.name if interest else None
    if not papers:
        telemetry.total_s = round(time.perf_counter() - started, 3)
        what = f"No papers for {name!r} in" if interest else "No papers fall in"
        return Digest(
            kind="week",
            title=title,
            topic=week,
            covered=False,
            overview=f"{what} {week} ({start:%d %b} – {end:%d %b %Y}).",
            notices=notices,
            week=info,
            used_llm=False,
            telemetry=telemetry,
            interest=name,
        )
    if len(papers) == 1:
        notices.append("this week has a single paper: one theme, no comparison between papers.")
    stored = store.vectors([p.id for p in papers])
    vectors = np.stack([stored[p.id] for p in papers])
    earlier, _ = papers_between(
        settings, start - dt.timedelta(days=7 * config.novelty_weeks), start - dt.timedelta(days=1)
    )
    earlier_vectors = store.vectors([p.id for p in earlier])
    telemetry.retrieval_s = round(time.perf_counter() - t0, 3)

    yield DigestProgress(stage="clustering", message=f"grouping {len(papers)} papers into themes")
    t0 = time.perf_counter()
    min_k = max(2, math.ceil(len(papers) / config.week_theme_size))
    labels = choose_clusters(
        vectors,
        min_k=min_k,
        max_k=max(config.week_max_themes, min_k),
        single_below=config.single_theme_below,
    )
    themes = group_themes(vectors, labels)
    info.earlier_weeks = sorted({iso_week(d) for p in earlier if (d := paper_date(p))})
    info.earlier_papers = len(earlier)
    if earlier_vectors:
        before = np.stack(list(earlier_vectors.values()))
        for theme in themes:
            nearest = (theme.vectors @ before.T).max(axis=1)
            theme.novelty = round(float(1.0 - np.median(nearest)), 3)
            theme.new = theme.novelty >= config.novelty_threshold
    else:
        notices.append(
            f"no earlier weeks: the {config.novelty_weeks} weeks before {week} hold no papers, "
            "so no theme can be called new."
        )
    themes = _choose_written(themes, config.week_paragraphs)
    telemetry.clustering_s = round(time.perf_counter() - t0, 3)
    yield DigestProgress(
        stage="clustering",
        message=f"{len(themes)} theme(s); {sum(t.new for t in themes)} new; paragraphs for "
        f"{sum(t.write for t in themes)}",
    )

    t0 = time.perf_counter()
    hits = _week_hits(papers, themes)
    week_centre = vectors.mean(axis=0)
    central_ids = [
        papers[i].id
        for i in np.argsort(-(vectors @ week_centre), kind="stable")[: config.central_papers]
    ]
    ordered, themes = page_order(hits, themes)
    if use_llm:  # the sentences closest to each written theme, for its shown papers
        ordered = with_evidence_sentences(settings, ordered, themes)
    position = {h.paper.id: i for i, h in enumerate(ordered)}
    info.central = [position[pid] + 1 for pid in central_ids]
    info.themes = len(themes)
    telemetry.evidence_s = round(time.perf_counter() - t0, 3)
    page = PageInput(
        kind="week",
        title=title,
        topic=f"papers of the week {week}",
        hits=ordered,
        themes=themes,
        overview_sources=overview_sources([t for t in themes if t.write], config.sources_per_theme),
        notices=notices,
        week=info,
    )
    digest = yield from write_page(page, settings, telemetry, started, llm=llm, use_llm=use_llm)
    return digest.model_copy(update={"interest": name, "for_you": for_you})


def _choose_written(themes: list[ThemeSpec], paragraphs: int) -> list[ThemeSpec]:
    """Themes in page order: those that get a paragraph (new ones by novelty, then the
    largest) first, then the rest by size."""
    ranked = sorted(
        themes, key=lambda t: (not t.new, -(t.novelty or 0.0) if t.new else 0.0, -len(t.members))
    )
    for i, theme in enumerate(ranked):
        theme.write = i < paragraphs
    return [t for t in ranked if t.write] + sorted(
        (t for t in ranked if not t.write), key=lambda t: -len(t.members)
    )


def _week_hits(papers: list[Paper], themes: list[ThemeSpec]) -> list[Hit]:
    """The week's papers as hits, scored by their similarity to their theme's centre."""
    centrality = {
        i: c for theme in themes for i, c in zip(theme.members, theme.centrality, strict=True)
    }
    return [
        Hit(rank=i + 1, score=centrality[i], paper=paper, similarity=centrality[i])
        for i, paper in enumerate(papers)
    ]


def summarize_week(settings: Settings, week: str, **options: object) -> Digest:
    """The summary of one week without streaming (see ``summarize_week_stream``)."""
    return summarize_week_stream(settings, week, **options).result  # type: ignore[arg-type]


# --- saving --------------------------------------------------------------------------------------


def interest_slug(name: str) -> str:
    """An interest's name as a file name: lower case, runs of other characters as '-'."""
    return re.sub(r"[^a-z0-9._]+", "-", name.lower()).strip("-.") or "interest"


def weekly_dir(settings: Settings, interest: str | None = None) -> Path:
    """Where weekly summaries and the feed are saved: ``<store_dir>/digests/weekly``, and an
    interest's in its folder ``for-<interest>`` there."""
    folder = settings.store_dir.expanduser().resolve() / "digests" / "weekly"
    return folder / f"for-{interest_slug(interest)}" if interest else folder


def week_paths(settings: Settings, week: str, interest: str | None = None) -> dict[str, Path]:
    """The files of a saved week (for everyone, or for an interest), by format."""
    folder = weekly_dir(settings, interest)
    return {fmt: folder / f"{week}.{suffix}" for fmt, suffix in SUFFIXES.items()}


@contextlib.contextmanager
def weekly_lock(settings: Settings) -> Iterator[None]:
    """Hold the weekly folder's lock (one writer at a time, whatever the interest); wait up
    to ``lock_timeout``."""
    timeout = settings.digest.lock_timeout
    busy = "another weekly run holds the lock; try again when it is done"
    with file_lock(weekly_dir(settings) / ".lock", timeout=timeout, busy=busy):
        yield


def save_week(settings: Settings, digest: Digest) -> list[Path]:
    """Write a week's Markdown, HTML, CSV (its comparison table) and JSON (each whole) and
    rebuild its feed (the interest's own, for an interest's week)."""
    assert digest.week is not None
    paths = week_paths(settings, digest.week.week, digest.interest)
    # JSON last: its presence is what marks the week as saved.
    order = [f for f in paths if f != "json"] + ["json"]
    for fmt in order:
        write_atomic(paths[fmt], render(digest, fmt))
    write_feed(settings, digest.interest)
    return [paths[f] for f in order]


class WeekBuild(BaseModel):
    """What a weekly run did for one week."""

    week: str | None
    status: Literal["written", "exists", "empty", "dry-run"]
    message: str
    paths: list[str] = Field(default_factory=list)
    digest: Digest | None = None

    @property
    def exit_code(self) -> int:
        """The CLI's exit code for this outcome (``EXIT_CODES``)."""
        return EXIT_CODES[self.status]


class WeekStream(ResultStream[DigestEvent, WeekBuild]):
    """A weekly run as it goes: iterate for progress and the model's text, then read
    ``result`` for the ``WeekBuild``."""


def build_week_stream(
    settings: Settings,
    week: str | None = None,
    *,
    force: bool = False,
    dry_run: bool = False,
    use_llm: bool = True,
    llm: LLM | None = None,
    interest: str | None = None,
) -> WeekStream:
    """Build and save one week (default: the latest week holding papers): iterate for
    progress and the model's text; ``result`` is the ``WeekBuild``. With ``interest`` (a
    saved interest's name) the week is that interest's, saved in its own folder and feed.

    A saved week is left alone unless ``force``; ``dry_run`` summarizes without the model and
    saves nothing. Two runs at once are safe: the second waits for the lock, then finds the
    week saved. The app's "build the latest week" button is ``build_week_stream(settings)``.
    """
    return WeekStream(_build_steps(settings, week, force, dry_run, use_llm, llm, interest))


def _build_steps(
    settings: Settings,
    week: str | None,
    force: bool,
    dry_run: bool,
    use_llm: bool,
    llm: LLM | None,
    interest_name: str | None,
) -> Generator[DigestEvent, None, WeekBuild]:
    from assistant.interests import interest_to_rank

    interest = interest_to_rank(settings, interest_name) if interest_name else None
    name = interest.name if interest else None
    if week is None:
        found = store_weeks(settings)
        if not found.weeks:
            extra = f" ({found.undated} papers have no date at all)" if found.undated else ""
            return WeekBuild(
                week=None, status="empty", message=f"the store has no dated papers{extra}."
            )
        week = max(found.weeks)
    week = normalize_week(week)
    if dry_run:
        summary = yield from summarize_week_stream(
            settings, week, llm=None, use_llm=False, interest=interest
        )
        status: Literal["empty", "dry-run"] = "empty" if not summary.covered else "dry-run"
        return WeekBuild(week=week, status=status, message=_describe(summary), digest=summary)
    paths = week_paths(settings, week, name)
    with weekly_lock(settings):
        if paths["json"].exists() and not force:
            return WeekBuild(
                week=week,
                status="exists",
                message=f"{week} is already saved at {paths['json'].parent} (--force rewrites it).",
                paths=[str(p) for p in paths.values()],
            )
        summary = yield from summarize_week_stream(
            settings, week, llm=llm, use_llm=use_llm, interest=interest
        )
        if not summary.covered:
            return WeekBuild(week=week, status="empty", message=summary.overview, digest=summary)
        yield DigestProgress(stage="save", message=f"saving {week}")
        saved = save_week(settings, summary)
    return WeekBuild(
        week=week,
        status="written",
        message=f"{week}: {_describe(summary)}",
        paths=[str(p) for p in saved],
        digest=summary,
    )


def _describe(summary: Digest) -> str:
    if not summary.covered or summary.week is None:
        return summary.overview
    w = summary.week
    new = sum(t.new for t in summary.themes)
    return f"{w.papers} papers, {w.themes} themes ({new} new), {w.with_code} with code" + (
        "" if summary.used_llm else "; no model used"
    )


def build_week(settings: Settings, week: str | None = None, **options: object) -> WeekBuild:
    """``build_week_stream`` without the progress: the ``WeekBuild``."""
    return build_week_stream(settings, week, **options).result  # type: ignore[arg-type]


def build_latest_week_stream(
    settings: Settings,
    *,
    force: bool = False,
    use_llm: bool = True,
    llm: LLM | None = None,
    interest: str | None = None,
) -> WeekStream:
    """Build the most recent week holding papers (the app's button); see ``build_week_stream``."""
    return build_week_stream(
        settings, None, force=force, use_llm=use_llm, llm=llm, interest=interest
    )


# --- reading saved weeks -------------------------------------------------------------------------


def load_week(settings: Settings, week: str, interest: str | None = None) -> Digest:
    """A saved week's ``Digest`` (for everyone, or for an interest); an InputError when it
    was never saved."""
    path = week_paths(settings, normalize_week(week), interest)["json"]
    try:
        return Digest.model_validate_json(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        option = f" --interest {interest!r}" if interest else ""
        raise InputError(
            f"{week} has not been built; run 'assistant weekly --week {week}{option}'."
        ) from None


def list_saved_weeks(settings: Settings, interest: str | None = None) -> list[SavedWeek]:
    """Every saved weekly summary (for everyone, or for an interest), newest week first
    (unreadable files are skipped)."""
    folder = weekly_dir(settings, interest)
    saved = []
    for path in sorted(folder.glob("*-W*.json"), reverse=True) if folder.is_dir() else []:
        try:
            d = Digest.model_validate_json(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if d.week is None:
            continue
        saved.append(
            SavedWeek(
                week=d.week.week,
                title=d.title,
                papers=d.week.papers,
                themes=d.week.themes,
                new_themes=[t.name for t in d.themes if t.new],
                overview=d.overview,
                generated_at=d.generated_at,
                used_llm=d.used_llm,
                paths={f: str(p) for f, p in week_paths(settings, d.week.week, interest).items()},
            )
        )
    return saved


# --- the feed ------------------------------------------------------------------------------------


def feed_path(settings: Settings, interest: str | None = None) -> Path:
    """Where the feed is written: ``feed.xml``, or ``for-<interest>/feed-<interest>.xml``."""
    name = f"feed-{interest_slug(interest)}.xml" if interest else "feed.xml"
    return weekly_dir(settings, interest) / name


def write_feed(settings: Settings, interest: str | None = None) -> Path:
    """Rebuild a feed from every saved week, whole (temporary file, rename); its path."""
    path = feed_path(settings, interest)
    weeks = list_saved_weeks(settings, interest)
    if interest is None:
        document = feed_xml(weeks)
    else:
        document = feed_xml(
            weeks,
            title=f"Papers assistant: weekly summaries for {interest}",
            feed_id=f"{FEED_ID}:for-{interest_slug(interest)}",
            name=path.name,
        )
    write_atomic(path, document)
    return path
