"""The store's catalog: every paper's id, title, dates and sources in arrays, stamped with the
store revision it was read at.

It is read in the same pass over the store as the BM25 index (``retrieve.BM25Index`` holds
it) and saved beside it, so a process that finds the index of the current revision on disk
loads both, and ``assistant ingest`` leaves them built for the revision it wrote. What the
library lists when browsing, the status page's counts, the week list and the source filter
are computed from it; only the papers a page shows are read from the store. Reading every
record for those instead took 0.4-0.6 s a call at 10k papers and grew with the store
(``bench/scale.py``).

``allowed`` is also what turns search filters into a mask over the BM25 scores, and
``tests/test_retrieve.py`` checks that it selects what the store's ``where`` selects.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from assistant.models import SearchFilters, date_to_int, int_to_date

if TYPE_CHECKING:
    from assistant.store import IndexRow, PaperStore, StoreStats

#: The orders papers are listed in (``library.ORDERS`` adds a search's "best match").
NEWEST, OLDEST, TITLE = "newest", "oldest", "title"


def shown_title(title: str) -> str:
    """A title as pages show it: whitespace runs collapsed."""
    return " ".join(title.split())


class Catalog:
    """Per paper, by position: ``ids``, ``titles``, ``published`` and ``added`` (dates as
    ``YYYYMMDD`` integers, 0 when unknown) and ``sources``."""

    def __init__(
        self,
        ids: list[str],
        titles: list[str] | Callable[[], list[str]],
        published: np.ndarray,
        added: np.ndarray,
        sources: list[list[str]] | Callable[[], list[list[str]]],
        revision: str,
    ) -> None:
        """``titles`` and ``sources`` may be given as functions that read them: a search
        needs neither, and reading them costs a new process 0.08 s at 100k papers."""
        self.ids = ids
        self.published = published
        self.added = added
        self.revision = revision
        self._titles = titles
        self._sources = sources
        self._by_source: dict[str, list[int]] | None = None
        self._title_rank: np.ndarray | None = None
        self._positions: dict[str, int] | None = None

    @property
    def titles(self) -> list[str]:
        if callable(self._titles):
            self._titles = self._titles()
        return self._titles

    @property
    def sources(self) -> list[list[str]]:
        if callable(self._sources):
            self._sources = self._sources()
        return self._sources

    @property
    def by_source(self) -> dict[str, list[int]]:
        """Positions of the papers read from each source file, by its name."""
        if self._by_source is None:
            by_source: dict[str, list[int]] = {}
            for i, names in enumerate(self.sources):
                for name in names:
                    by_source.setdefault(name, []).append(i)
            self._by_source = by_source
        return self._by_source

    @classmethod
    def from_rows(cls, rows: Sequence[IndexRow], revision: str) -> Catalog:
        return cls(
            [r.id for r in rows],
            [r.text.split("\n\n", 1)[0] for r in rows],  # the text is title, blank line, abstract
            np.array([r.published_int for r in rows], dtype=np.int64),
            np.array([r.added_int for r in rows], dtype=np.int64),
            [r.sources for r in rows],
            revision,
        )

    def save(self, folder: Path) -> None:
        (folder / "ids.json").write_text(json.dumps(self.ids))
        (folder / "titles.json").write_text(json.dumps(self.titles))
        (folder / "sources.json").write_text(json.dumps(self.sources))
        np.savez(folder / "filters.npz", published=self.published, added=self.added)

    @classmethod
    def load(cls, folder: Path, revision: str) -> Catalog:
        fields = np.load(folder / "filters.npz")
        return cls(
            json.loads((folder / "ids.json").read_text()),
            lambda: json.loads((folder / "titles.json").read_text()),
            fields["published"],
            fields["added"],
            lambda: json.loads((folder / "sources.json").read_text()),
            revision,
        )

    # --- selecting and ordering ---

    def allowed(
        self, filters: SearchFilters, ids: Sequence[str] | None = None
    ) -> np.ndarray | None:
        """Boolean mask of the papers the filters allow (None: no filter), as the store's
        ``where_filter`` would select them: a paper without a date never matches a date bound.
        ``ids`` restricts it to those papers."""
        mask = np.ones(len(self.ids), dtype=bool)
        if ids is not None:
            wanted = set(ids)
            mask &= np.array([pid in wanted for pid in self.ids], dtype=bool)
        if filters.since or filters.until:
            mask &= self.published > 0
        if filters.since:
            mask &= self.published >= date_to_int(filters.since)
        if filters.until:
            mask &= self.published <= date_to_int(filters.until)
        if filters.added_since:
            mask &= self.added >= date_to_int(filters.added_since)
        if filters.source is not None:
            by_source = np.zeros(len(self.ids), dtype=bool)
            by_source[self.by_source.get(filters.source, [])] = True
            mask &= by_source
        filtered = filters.since or filters.until or filters.added_since
        return mask if filtered or filters.source is not None or ids is not None else None

    def listing(self, filters: SearchFilters, order: str) -> np.ndarray:
        """Positions of the papers the filters allow, in ``order`` (newest first unless
        ``OLDEST`` or ``TITLE``)."""
        mask = self.allowed(filters)
        return self.ordered(
            np.arange(len(self.ids)) if mask is None else np.flatnonzero(mask), order
        )

    def ordered(
        self, positions: np.ndarray, order: str, ties: np.ndarray | None = None
    ) -> np.ndarray:
        """``positions`` by title (as shown: case and spacing do not count), or by
        publication date, newest first unless ``OLDEST``, undated papers last; equal dates
        keep the order of ``ties`` (default: title order)."""
        titles = self.title_rank()[positions]
        if order == TITLE:
            return positions[np.argsort(titles, kind="stable")]
        ties = titles if ties is None else ties
        dates = self.published[positions]
        key = dates if order == OLDEST else -dates
        return positions[np.lexsort((ties, key, dates == 0))]  # the last key sorts first

    def positions(self) -> dict[str, int]:
        """Where each paper is in the arrays, by id (computed once)."""
        if self._positions is None:
            self._positions = {pid: i for i, pid in enumerate(self.ids)}
        return self._positions

    def position(self, paper_id: str) -> int | None:
        """Where a paper is in the arrays (None: not in this revision)."""
        return self.positions().get(paper_id)

    def title_rank(self) -> np.ndarray:
        """Each paper's place in title order (computed once)."""
        if self._title_rank is None:
            order = sorted(range(len(self.ids)), key=lambda i: shown_title(self.titles[i]).lower())
            rank = np.empty(len(self.ids), dtype=np.int64)
            rank[order] = np.arange(len(order))
            self._title_rank = rank
        return self._title_rank

    def undated(self, filters: SearchFilters) -> int:
        """How many papers the filters' other conditions keep but their date bounds leave
        out, as they have no publication date (a page dump's papers often have none)."""
        if not (filters.since or filters.until):
            return 0
        rest = self.allowed(filters.model_copy(update={"since": None, "until": None}))
        missing = self.published == 0
        return int((missing if rest is None else missing & rest).sum())

    def in_period(self, start: dt.date, end: dt.date) -> tuple[list[str], list[str]]:
        """Ids of the papers published between ``start`` and ``end``, and of those with no
        publication date added then (the weekly summary places them by that day)."""
        low, high = date_to_int(start), date_to_int(end)
        published = (self.published >= low) & (self.published <= high)
        added = (self.added >= low) & (self.added <= high) & (self.published == 0)
        return [self.ids[i] for i in np.flatnonzero(published)], [
            self.ids[i] for i in np.flatnonzero(added)
        ]

    # --- what pages count ---

    def days(self) -> list[dt.date | None]:
        """Each paper's publication date, else the day it was added, else None."""
        known = np.where(self.published > 0, self.published, self.added)
        by_value = {int(v): int_to_date(int(v)) for v in np.unique(known)}
        return [by_value[int(v)] for v in known]

    def source_dates(self) -> dict[str, Counter[dt.date | None]]:
        """Per source file, how many of its papers were published on each day."""
        dates: dict[str, Counter[dt.date | None]] = defaultdict(Counter)
        published = [int_to_date(int(v)) if v else None for v in self.published]
        for day, names in zip(published, self.sources, strict=True):
            for name in names:
                dates[name][day] += 1
        return dict(dates)

    def stats(self, store: PaperStore) -> StoreStats:
        """What ``assistant stats`` and the status page report of the store."""
        from assistant.store import StoreStats

        dated = self.published[self.published > 0]
        return StoreStats(
            papers=len(self.ids),
            sources=dict(sorted((name, len(rows)) for name, rows in self.by_source.items())),
            first_published=int_to_date(int(dated.min())) if len(dated) else None,
            last_published=int_to_date(int(dated.max())) if len(dated) else None,
            undated=len(self.ids) - len(dated),
            last_added=int_to_date(int(self.added.max())) if len(self.added) else None,
            embedding_model=store.settings.embedding.model,
            collection=store.collection_name,
            location=store.location,
        )
