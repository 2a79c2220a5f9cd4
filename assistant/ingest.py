"""Parsed papers into the store: merge duplicates, plan what changed, embed, write batches.

``ingest_paths`` is the whole run (``assistant ingest``): parse every file first (``parse``),
then merge, plan and write under the store's writer lock. Each batch is one Chroma upsert,
so an interrupted run leaves only whole batches behind and a re-run finishes the rest.
Several processes can ingest one big folder into one Chroma server at once, each writing its
``Share`` of the papers.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
from pydantic import BaseModel, Field

from assistant.errors import InputError
from assistant.models import Paper
from assistant.parse import parse_paths
from assistant.settings import Settings
from assistant.text import split_sentences

if TYPE_CHECKING:
    from assistant.embed import Embedder
    from assistant.store import PaperStore


def _other_arxiv_paper(old: Paper, new: Paper) -> bool:
    """Same title, but two different arXiv papers (they are kept apart)."""
    return bool(old.arxiv_id and new.arxiv_id and old.arxiv_id != new.arxiv_id)


def merge_duplicates(papers: Iterable[Paper]) -> list[Paper]:
    """One record per paper, sources and links united: same normalized title, or same id.

    One arXiv id under two titles (a revised title, or a careless dump) is one paper whose
    later text wins, as on re-ingest; never two records with one id, which Chroma refuses
    in one write and which would overwrite each other across writes.
    """
    merged: dict[str, Paper] = {}
    for paper in papers:
        key = paper.title_key
        old = merged.get(key)
        if old is not None and _other_arxiv_paper(old, paper):
            key = paper.id  # same title, different arXiv papers: keep both
            old = merged.get(key)
        merged[key] = paper.model_copy(deep=True) if old is None else merge_paper(old, paper)
    by_id: dict[str, Paper] = {}
    for paper in merged.values():
        seen = by_id.get(paper.id)
        by_id[paper.id] = paper if seen is None else merge_paper(seen, paper)
    return list(by_id.values())


def merge_paper(old: Paper, new: Paper) -> Paper:
    """``new`` seen again after ``old``: union of sources/links, first-known dates kept."""

    def union(a: list[str], b: list[str]) -> list[str]:
        return list(dict.fromkeys([*a, *b]))

    return old.model_copy(
        update={
            "id": old.id,
            "title": new.title,
            "abstract": new.abstract,
            "published": old.published or new.published,
            "added": old.added or new.added,
            "sources": union(old.sources, new.sources),
            "urls": union(old.urls, new.urls),
            "authors": new.authors or old.authors,
            "upvotes": new.upvotes if new.upvotes is not None else old.upvotes,
            "ai_summary": new.ai_summary or old.ai_summary,
            "ai_keywords": new.ai_keywords or old.ai_keywords,
            "github_repo": new.github_repo or old.github_repo,
            "arxiv_id": old.arxiv_id or new.arxiv_id,
        }
    )


# --- into the store --------------------------------------------------------------------------


class Share(NamedTuple):
    """The part of the papers one of several ingesting processes writes: paper ``part`` of
    every ``of`` by title key. A paper may be in several files, so the share is of papers,
    not files: every process reads all the input and writes only its own papers, so two
    processes never write one paper and the store ends with each paper once."""

    part: int
    of: int

    @classmethod
    def parse(cls, text: str) -> Share:
        """``"2/3"``: the second share of three."""
        part, sep, of = text.partition("/")
        try:
            share = cls(int(part), int(of))
        except ValueError:
            share = cls(0, 0)
        if not sep or not 1 <= share.part <= share.of:
            raise InputError(f"--share {text!r} must be K/N with 1 <= K <= N, like 2/3.")
        return share

    def holds(self, paper: Paper) -> bool:
        return int(paper.title_key, 16) % self.of == self.part - 1

    def __str__(self) -> str:
        return f"{self.part}/{self.of}"


class IngestReport(BaseModel):
    """What an ingest run did; ``assistant ingest --json`` prints it."""

    files: int
    entries: int = Field(description="Title/abstract pairs read, duplicates included.")
    papers: int = Field(description="Distinct papers among the entries (in the share).")
    added: int = Field(description="Papers new to the store (embedded).")
    updated: int = Field(description="Stored papers whose text changed (re-embedded).")
    merged: int = Field(description="Stored papers that only gained a source or link.")
    unchanged: int
    store_total: int
    seconds: float
    skipped: list[str] = Field(
        default_factory=list, description="Files left out with --skip-invalid, and why."
    )
    share: str | None = Field(None, description="The share of the papers written: 'K/N'.")


def plan_writes(
    incoming: list[Paper],
    stored: dict[str, tuple[Paper, str]],
    today: dt.date,
    stored_ids: dict[str, tuple[Paper, str]] | None = None,
) -> tuple[list[Paper], list[Paper], list[Paper], int]:
    """Split incoming papers into (to embed: new, to embed: changed text, metadata-only, same).

    A stored paper is found by title key (``stored``) or else by id (``stored_ids``): a
    paper whose title changed keeps its record instead of being counted as new.
    """
    new, changed, merged = [], [], []
    unchanged = 0
    for paper in incoming:
        hit = stored.get(paper.title_key)
        if hit is not None and _other_arxiv_paper(hit[0], paper):
            hit = None
        if hit is None and stored_ids:
            hit = stored_ids.get(paper.id)
        if hit is None:
            new.append(paper.model_copy(update={"added": today}))
            continue
        old, old_hash = hit
        combined = merge_paper(old, paper)
        if combined.content_hash != old_hash:
            changed.append(combined)
        elif combined != old:
            merged.append(combined)
        else:
            unchanged += 1
    return new, changed, merged, unchanged


def ingest_papers(
    store: PaperStore,
    embedder: Embedder,
    papers: list[Paper],
    *,
    files: int = 0,
    batch_size: int = 64,
    progress: Callable[[int, int], None] | None = None,
    today: dt.date | None = None,
    share: Share | None = None,
    sentences: bool = False,
) -> IngestReport:
    """Merge, embed what is new or changed, and write whole batches; safe to re-run.

    With ``sentences``, every abstract sentence of a new or changed paper is embedded and
    stored too; without, a changed paper's stored sentences are dropped (they are embedded
    when the paper is first shown: ``retrieve.sentence_table``).

    ``progress(done, total)`` is called as batches land. Each batch is one Chroma upsert, so
    an interrupted run leaves only whole batches behind and a re-run finishes the rest.
    With a ``share``, only the papers of that share are written (several processes at once).
    """
    with store.writer():  # one writer per embedded store: plans never see a stale store
        return _ingest(
            store, embedder, papers, files, batch_size, progress, today, share, sentences
        )


def _ingest(
    store: PaperStore,
    embedder: Embedder,
    papers: list[Paper],
    files: int,
    batch_size: int,
    progress: Callable[[int, int], None] | None,
    today: dt.date | None,
    share: Share | None,
    with_sentences: bool,
) -> IngestReport:
    started = time.perf_counter()
    distinct = merge_duplicates(papers)
    if share is not None:
        distinct = [p for p in distinct if share.holds(p)]
    stored = store.by_title_keys([p.title_key for p in distinct])
    stored_ids = store.by_ids([p.id for p in distinct])
    new, changed, merged, unchanged = plan_writes(
        distinct, stored, today or dt.date.today(), stored_ids
    )
    to_embed = new + changed
    reuse = store.vectors([p.id for p in merged]) if merged else {}
    todo: list[tuple[Paper, bool]] = [(p, True) for p in to_embed] + [(p, False) for p in merged]
    size = max(1, min(batch_size, store.max_batch))
    changed_ids = {p.id for p in changed}
    done = 0
    if progress:
        progress(0, len(todo))
    for start in range(0, len(todo), size):
        batch = todo[start : start + size]
        fresh = [p for p, needs in batch if needs]
        if with_sentences:
            split = [split_sentences(p.abstract) or [p.abstract] for p in fresh]
        else:  # nothing to embed but the texts; a changed paper's old sentences are dropped
            split = [[] for _ in fresh]
        # One embed call per batch: the papers' texts, then (with_sentences) every sentence.
        embedded = embedder.embed([p.text for p in fresh] + [s for part in split for s in part])
        fresh_vectors, offset, sentences = iter(embedded[: len(fresh)]), len(fresh), {}
        for paper, part in zip(fresh, split, strict=True):
            if part or paper.id in changed_ids:
                sentences[paper.id] = (part, embedded[offset : offset + len(part)])
            offset += len(part)
        vectors = np.stack([next(fresh_vectors) if needs else reuse[p.id] for p, needs in batch])
        store.write_batch([p for p, _ in batch], vectors, sentences)
        done += len(batch)
        if progress:
            progress(done, len(todo))
    return IngestReport(
        files=files,
        entries=len(papers),
        papers=len(distinct),
        added=len(new),
        updated=len(changed),
        merged=len(merged),
        unchanged=unchanged,
        store_total=store.count(),
        seconds=round(time.perf_counter() - started, 3),
        share=str(share) if share else None,
    )


def ingest_paths(
    settings: Settings,
    paths: list[Path],
    fmt: str = "auto",
    *,
    year: int | None = None,
    date: dt.date | None = None,
    skip_invalid: bool = False,
    progress: Callable[[int, int], None] | None = None,
    share: Share | None = None,
) -> IngestReport:
    """Parse every file first; write only when all parsed (or the bad ones are skipped).

    A file that cannot be read stops the run before anything is written, with every problem
    named by file and line; with ``skip_invalid`` the readable files go in and the report
    lists the others under ``skipped``.
    """
    from assistant.embed import get_embedder
    from assistant.store import open_store

    parsed = parse_paths(paths, fmt, year=year, date=date, max_bytes=settings.max_file_bytes)
    if parsed.problems and (not skip_invalid or not parsed.papers):
        listed = "\n".join(f"  ✗ {problem}" for problem in parsed.problems)
        raise InputError(
            f"{len(parsed.problems)} of {parsed.files} file(s) could not be read; nothing "
            f"was written. Fix them, or pass --skip-invalid to ingest the others.\n{listed}"
        )
    report = ingest_papers(
        open_store(settings),
        get_embedder(settings),
        parsed.papers,
        files=parsed.files,
        batch_size=settings.ingest_batch,
        progress=progress,
        share=share,
        sentences=settings.ingest_sentences,
    )
    report.skipped = list(parsed.problems)
    if report.added or report.updated or report.merged:
        # Leave the BM25 index and the catalog of the new revision built (and saved) here,
        # so the app and the next commands load them instead of reading the whole store.
        from assistant.retrieve import get_retriever

        get_retriever(settings).bm25_index()
    return report
