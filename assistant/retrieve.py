"""Retrieval: find the papers that answer a query, dense + BM25 fused by reciprocal rank.

One query runs top to bottom through :meth:`Retriever.search`:

1. check the input (empty, too long, k, mode) and build the Chroma ``where`` of the filters;
2. embed the query once (every hit gets its cosine ``similarity``, whichever retriever found it);
3. dense candidates: a Chroma vector query with the filter applied inside the query;
4. BM25 candidates: ``bm25s`` over title + abstract (English stemmer and stopwords); with a
   filter, only the papers it allows are ranked (a mask over the scores built from filter
   fields kept in the index), so nothing is fetched and dropped;
5. reciprocal rank fusion (``hybrid``), or one list alone (``dense``, ``bm25``);
6. optionally MMR over the fused top, using the stored vectors, so a topic query does not
   return five near-duplicates; one hit per paper, always;
7. the best-matching abstract sentences of the returned hits, scored with their sentence
   vectors (embedded here, the first time a paper is shown; read from the store when it was
   ingested with ``ingest_sentences``).

The BM25 index is derived from the Chroma contents and persisted under
``<store_dir>/bm25/<collection>[-<server>]/<revision hash>/``. Each BM25 query compares
``store.revision()`` (two cheap Chroma reads) with the loaded index's, so an index is never
stale; it is rebuilt once per new revision, and loaded from disk once per process.
We use bm25s directly rather than llama-index's ``BM25Retriever`` because we need to score a
subset of documents (the filter) and to persist the index keyed on the store revision; both
are a few lines on bm25s and awkward through the node-based wrapper.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from assistant.catalog import Catalog
from assistant.embed import Embedder, get_embedder
from assistant.errors import InputError
from assistant.files import atomic_path
from assistant.models import Hit, Paper, SearchFilters, SearchResult, SentenceMatch
from assistant.settings import MODES, RetrievalSettings, Settings, ingest_command
from assistant.store import IndexRow, PaperStore, open_store, where_filter
from assistant.text import mentions_terms, question_terms, split_sentences

# --- input ---------------------------------------------------------------------------------


def clean_query(query: str, max_chars: int) -> tuple[str, str | None]:
    """Whitespace-normalized query, cut at a word boundary past ``max_chars``; and a notice."""
    if not isinstance(query, str) or not query.strip():
        raise InputError("the query is empty: give a few words to search for.")
    text = " ".join(query.split())
    if len(text) <= max_chars:
        return text, None
    cut = text[:max_chars]
    space = cut.rfind(" ")
    if space > max_chars * 0.8:
        cut = cut[:space]
    notice = (
        f"the query was {len(text):,} characters; searched its first {len(cut):,} "
        f"(retrieval.max_query_chars = {max_chars})."
    )
    return cut, notice


def check_k(k: int | None, settings: RetrievalSettings) -> tuple[int, str | None]:
    """k from the call or the settings, capped at ``max_k`` with a notice; k < 1 is an error."""
    if k is None:
        k = settings.k
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise InputError(f"k must be a whole number of at least 1 (got {k!r}).")
    if k > settings.max_k:
        return settings.max_k, (
            f"k={k} is more than retrieval.max_k; returning at most {settings.max_k} hits."
        )
    return k, None


def check_mode(mode: str | None, settings: RetrievalSettings) -> str:
    """The retrieval mode, lower-cased and known, or an error listing the known ones."""
    chosen = (mode or settings.mode).strip().lower()
    if chosen not in MODES:
        raise InputError(f"unknown retrieval mode {mode!r}: use one of {', '.join(MODES)}.")
    return chosen


# --- BM25 ----------------------------------------------------------------------------------


def tokenize(texts: list[str]) -> list[list[str]]:
    """Lower-cased word tokens, English stopwords removed, Snowball-stemmed."""
    import bm25s
    import Stemmer

    # A fresh stemmer per call: PyStemmer objects are not safe to share across threads.
    stemmer = Stemmer.Stemmer("english")
    tokens = bm25s.tokenize(
        texts, stopwords="en", stemmer=stemmer.stemWords, return_ids=False, show_progress=False
    )
    return tokens  # type: ignore[return-value]


class BM25Index:
    """A bm25s index over the store's papers and the store's ``Catalog``, read in one pass and
    stamped with the store revision they were read at.

    The catalog's filter fields turn a filter into a mask over the scores in microseconds;
    reading the allowed ids from Chroma instead costs seconds at 100k papers.
    """

    def __init__(self, model: Any, catalog: Catalog) -> None:
        self.model = model
        self.catalog = catalog
        #: Every paper's vector in the catalog's order, once asked for (``paper_vectors``).
        self.vectors: np.ndarray | None = None

    @property
    def ids(self) -> list[str]:
        return self.catalog.ids

    @property
    def revision(self) -> str:
        return self.catalog.revision

    @classmethod
    def build(cls, rows: Iterable[IndexRow], revision: str) -> BM25Index:
        """Tokenize and index every paper."""
        import bm25s

        rows = list(rows)
        model = None  # an empty store: bm25s cannot index nothing, and nothing is found
        if rows:
            model = bm25s.BM25()
            model.index(tokenize([r.text for r in rows]), show_progress=False)
        return cls(model, Catalog.from_rows(rows, revision))

    def save(self, folder: Path) -> None:
        """Write the index, its catalog and revision into ``folder`` (``Retriever._persist``
        saves no empty index)."""
        self.model.save(str(folder), show_progress=False)
        self.catalog.save(folder)
        meta = {"revision": self.revision, "documents": len(self.ids)}
        (folder / "meta.json").write_text(json.dumps(meta))

    @classmethod
    def load(cls, folder: Path) -> BM25Index:
        """Read an index written by :meth:`save`."""
        import bm25s

        meta = json.loads((folder / "meta.json").read_text())
        return cls(
            # mapped, not read: a query touches its few terms' columns (a new process's first
            # BM25 stage at 100k papers: median 0.25 -> 0.12 s, six runs each)
            bm25s.BM25.load(str(folder), show_progress=False, mmap=True),
            Catalog.load(folder, str(meta["revision"])),
        )

    def top(self, query: str, n: int, allowed: np.ndarray | None = None) -> list[tuple[str, float]]:
        """The n best (id, BM25 score) with a positive score, among ``allowed`` papers."""
        if self.model is None:
            return []
        token_ids = self.model.get_tokens_ids(tokenize([query])[0])
        if not token_ids or n <= 0:
            return []
        scores = self.model.get_scores_from_ids(token_ids)
        if allowed is not None:
            scores = np.where(allowed, scores, 0.0)
        found = np.flatnonzero(scores > 0)
        if len(found) > n:
            found = found[np.argpartition(-scores[found], n - 1)[:n]]
        # Ties broken by index position, so equal scores come out in a repeatable order.
        order = sorted(found.tolist(), key=lambda i: (-float(scores[i]), i))
        return [(self.ids[i], float(scores[i])) for i in order]


# --- fusion and diversity ------------------------------------------------------------------


def reciprocal_rank_fusion(
    rankings: Sequence[Sequence[str]], k: int, weights: Sequence[float] | None = None
) -> list[tuple[str, float]]:
    """Ids scored by sum(weight / (k + rank)) over the rankings (rank from 1; each weight 1
    unless ``weights`` gives one per ranking), best first.

    Ties go to the id with the better single rank, then to the id seen first.
    """
    scores: dict[str, float] = {}
    best: dict[str, int] = {}
    for ranking, weight in zip(rankings, weights or [1.0] * len(rankings), strict=True):
        for rank, pid in enumerate(dict.fromkeys(ranking), start=1):
            scores[pid] = scores.get(pid, 0.0) + weight / (k + rank)
            best[pid] = min(best.get(pid, rank), rank)
    seen = {pid: i for i, pid in enumerate(scores)}
    return sorted(scores.items(), key=lambda item: (-item[1], best[item[0]], seen[item[0]]))


def mmr_order(relevance: np.ndarray, vectors: np.ndarray, k: int, lam: float) -> list[int]:
    """Indices of k items picked by maximal marginal relevance.

    Each step takes the item maximizing ``lam * relevance - (1 - lam) * max cosine to the
    items already picked``. ``relevance`` is rescaled to [0, 1] so it weighs like a cosine.
    """
    n = len(relevance)
    if n == 0:
        return []
    rel = np.asarray(relevance, dtype=np.float64)
    spread = rel.max() - rel.min()
    rel = (rel - rel.min()) / spread if spread > 0 else np.ones(n)
    sims = vectors @ vectors.T
    picked = [int(np.argmax(rel))]
    closest = sims[picked[0]].astype(np.float64)
    while len(picked) < min(k, n):
        gain = lam * rel - (1.0 - lam) * closest
        gain[picked] = -np.inf
        choice = int(np.argmax(gain))
        picked.append(choice)
        closest = np.maximum(closest, sims[choice])
    return picked


def sentence_table(
    embedder: Embedder,
    papers: Sequence[Paper],
    stored: dict[str, tuple[list[str], np.ndarray]] | None = None,
    keep: Callable[[str], bool] | None = None,
) -> dict[str, tuple[list[str], np.ndarray]]:
    """Each paper's abstract sentences (those ``keep`` accepts; all by default) and their
    vectors, by id.

    Vectors come from ``stored`` (a store ingested with ``ingest_sentences``); papers without
    them (the default: ingest embeds only whole texts), or stored with another split than
    today's ``split_sentences``, have their kept sentences embedded here, in one call; the
    embedder's cache keeps them for the process's next look at the same papers.
    """
    table: dict[str, tuple[list[str], np.ndarray]] = {}
    missing: list[tuple[str, list[str]]] = []
    for paper in papers:
        sentences = split_sentences(paper.abstract) or [paper.abstract]
        wanted = [i for i, s in enumerate(sentences) if keep is None or keep(s)]
        found = (stored or {}).get(paper.id)
        if found is not None and found[0] == sentences:
            table[paper.id] = ([sentences[i] for i in wanted], found[1][wanted])
        else:
            missing.append((paper.id, [sentences[i] for i in wanted]))
    flat = [s for _, sentences in missing for s in sentences]
    vectors, start = (embedder.embed(flat) if flat else np.zeros((0, 0), np.float32)), 0
    for pid, sentences in missing:
        table[pid] = (sentences, vectors[start : start + len(sentences)])
        start += len(sentences)
    return table


def best_sentences(
    embedder: Embedder,
    query_vector: np.ndarray,
    papers: Sequence[Paper],
    n: int,
    stored: dict[str, tuple[list[str], np.ndarray]] | None = None,
) -> list[list[SentenceMatch]]:
    """For each paper, its n abstract sentences most similar to the query (sentence vectors
    as ``sentence_table`` finds them)."""
    table = sentence_table(embedder, papers, stored)
    out = []
    for paper in papers:
        sentences, vectors = table.get(paper.id, ([], np.zeros((0, len(query_vector)))))
        scores = vectors @ query_vector if len(sentences) else np.zeros(0)
        order = sorted(range(len(sentences)), key=lambda i: -float(scores[i]))[:n]
        out.append(
            [SentenceMatch(text=sentences[i], score=round(float(scores[i]), 4)) for i in order]
        )
    return out


class Retriever:
    """Dense, BM25 and hybrid search over one store; keeps its BM25 index current."""

    def __init__(
        self,
        settings: Settings,
        store: PaperStore | None = None,
        embedder: Embedder | None = None,
    ) -> None:
        self.settings = settings
        self.config = settings.retrieval
        self.store = store or open_store(settings)
        self.embedder = embedder or get_embedder(settings)
        self._bm25: BM25Index | None = None
        self._lock = threading.Lock()
        scope = self.store.collection_name
        if settings.chroma_url:
            scope += "-" + hashlib.sha256(settings.chroma_url.encode()).hexdigest()[:8]
        self.index_root = settings.store_dir.expanduser().resolve() / "bm25" / scope
        #: How the current BM25 index was obtained ("built", "loaded", "memory") and in how long.
        self.index_event: tuple[str, float] | None = None

    # --- BM25 index lifecycle ---

    def catalog(self) -> Catalog:
        """The store's catalog at its current revision (read with the BM25 index)."""
        return self.bm25_index().catalog

    def bm25_index(self, revision: str | None = None) -> BM25Index:
        """The BM25 index of the store's current revision (read now unless given): in memory,
        on disk, or built now."""
        revision = revision or self.store.revision()
        index = self._bm25
        if index is not None and index.revision == revision:
            return index
        with self._lock:
            if self._bm25 is not None and self._bm25.revision == revision:
                return self._bm25
            started = time.perf_counter()
            index, how = None, "built"
            folder = self._folder(revision)
            if (folder / "meta.json").exists():
                try:
                    index = BM25Index.load(folder)
                    how = "loaded"
                except Exception:  # a damaged index is rebuilt, not reported
                    index = None
            if index is None or index.revision != revision:
                index = BM25Index.build(self.store.iter_index_rows(), revision)
                how = "built" if self._persist(index, folder) else "memory"
            self._bm25 = index
            self.index_event = (how, time.perf_counter() - started)
            return index

    def _folder(self, revision: str) -> Path:
        """Where the derived files of a store revision are kept."""
        return self.index_root / hashlib.sha256(revision.encode()).hexdigest()[:16]

    def paper_vectors(self, revision: str | None = None) -> tuple[list[str], np.ndarray]:
        """Every paper's stored vector, as rows in the catalog's order (its ids, and the
        matrix), at the store's current revision unless given.

        Read from the store once per revision (every vector: 4.5 s at 100k papers) and kept
        beside that revision's BM25 index, so later processes map the file instead (the
        "for you" ranker learns from the whole store)."""
        index = self.bm25_index(revision)
        with self._lock:
            if index.vectors is None:
                index.vectors = self._vectors_of(index)
        return index.ids, index.vectors

    def _vectors_of(self, index: BM25Index) -> np.ndarray:
        folder = self._folder(index.revision)
        path = folder / "vectors.npy"
        # Kept rows are in the order of the folder's catalog; this process's index may have
        # been built here rather than read from there (another process saved it first).
        same_order = False
        with contextlib.suppress(OSError, ValueError):
            same_order = json.loads((folder / "ids.json").read_text()) == index.ids
            kept = np.load(path, mmap_mode="r") if same_order else None
            if kept is not None and kept.shape[0] == len(index.ids):
                return kept
        ids, matrix = self.store.all_vectors()
        row = {pid: i for i, pid in enumerate(ids)}
        ordered = np.zeros((len(index.ids), matrix.shape[1] if len(ids) else 0), np.float32)
        found = [(at, row[pid]) for at, pid in enumerate(index.ids) if pid in row]
        if found:
            ordered[[at for at, _ in found]] = matrix[[r for _, r in found]]
        if len(found) < len(index.ids) or not same_order:  # the store moved on since the
            return ordered  # index was read (missing rows match nothing): nothing is kept
        # whole or not at all; a folder a newer revision removed keeps nothing
        with contextlib.suppress(OSError), atomic_path(path, suffix=".npy", parents=False) as tmp:
            np.save(tmp, ordered)
        return ordered

    def _persist(self, index: BM25Index, folder: Path) -> bool:
        """Save into ``folder`` atomically and drop older revisions; False if not writable
        (or empty: nothing worth saving)."""
        if index.model is None:
            return False
        tmp = folder.with_name(f".tmp-{uuid.uuid4().hex[:8]}")
        try:
            tmp.mkdir(parents=True)
            index.save(tmp)
            try:
                os.rename(tmp, folder)
            except OSError:  # another process saved this revision first: theirs is as good
                shutil.rmtree(tmp, ignore_errors=True)
            for old in self.index_root.iterdir():
                if old.name != folder.name and not old.name.startswith(".tmp-"):
                    shutil.rmtree(old, ignore_errors=True)
            return True
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)
            return False

    # --- search ---

    def search(
        self,
        query: str,
        *,
        k: int | None = None,
        mode: str | None = None,
        filters: SearchFilters | None = None,
        mmr: bool | None = None,
        sentences: bool = True,
        sentence_limit: int | None = None,
        ids: Sequence[str] | None = None,
    ) -> SearchResult:
        """The k papers best matching ``query``, best first (see the module docstring);
        ``ids`` restricts the search to those papers."""
        started = time.perf_counter()
        timings: dict[str, float] = {}
        notices: list[str] = []
        text, truncated = clean_query(query, self.config.max_query_chars)
        if truncated:
            notices.append(truncated)
        k, capped = check_k(k, self.config)
        if capped:
            notices.append(capped)
        mode = check_mode(mode, self.config)
        use_mmr = self.config.mmr if mmr is None else mmr
        filters = filters or SearchFilters()
        where = where_filter(filters)
        if self.store.count() == 0:
            raise InputError(
                f"the store at {self.store.where} is empty: run "
                f"'{ingest_command(self.settings)}' (or your own files) first."
            )
        # Read once per query: it keys the BM25 index and, for an embedded store, reopens a
        # client that another process's writes left behind (so dense search sees them too).
        revision = self.store.revision()
        n = max(self.config.candidates, k)
        if ids is not None:
            n = min(n, len(ids))

        mark = time.perf_counter()
        query_vector = self.embedder.embed_one(text)
        timings["embed_ms"] = _ms(mark)

        mark = time.perf_counter()
        dense = self.store.nearest(query_vector, n, where, ids) if mode != "bm25" else []
        timings["dense_ms"] = _ms(mark)

        mark = time.perf_counter()
        lexical: list[tuple[str, float]] = []
        if mode != "dense":
            index = self.bm25_index(revision)
            lexical = index.top(text, n, index.catalog.allowed(filters, ids))
        timings["bm25_ms"] = _ms(mark)

        mark = time.perf_counter()
        dense_rank = {pid: r for r, (pid, _) in enumerate(dense, start=1)}
        bm25_rank = {pid: r for r, (pid, _) in enumerate(lexical, start=1)}
        bm25_score = dict(lexical)
        if mode == "hybrid":
            fused = reciprocal_rank_fusion([list(dense_rank), list(bm25_rank)], self.config.rrf_k)
        elif mode == "dense":
            fused = dense
        else:
            fused = lexical
        pool = fused[: max(k, self.config.mmr_pool) if use_mmr else k]
        chosen = self._assemble(pool, query_vector, k, use_mmr)
        timings["fuse_ms"] = _ms(mark)

        mark = time.perf_counter()
        papers = [p for _, p, _ in chosen]
        evidence = (
            best_sentences(
                self.embedder,
                query_vector,
                papers,
                sentence_limit or self.config.best_sentences,
                self.store.sentence_vectors([p.id for p in papers]),
            )
            if sentences and papers
            else [[] for _ in chosen]
        )
        timings["sentences_ms"] = _ms(mark)

        hits = [
            Hit(
                rank=rank,
                score=round(score, 6),
                paper=paper,
                similarity=round(similarity, 4),
                dense_rank=dense_rank.get(paper.id),
                bm25_rank=bm25_rank.get(paper.id),
                bm25_score=round(bm25_score[paper.id], 4) if paper.id in bm25_score else None,
                best_sentences=matches,
            )
            for rank, ((score, paper, similarity), matches) in enumerate(
                zip(chosen, evidence, strict=True), start=1
            )
        ]
        timings["total_ms"] = _ms(started)
        return SearchResult(
            query=text,
            mode=mode,
            k=k,
            hits=hits,
            notices=notices,
            truncated=truncated is not None,
            revision=revision,
            timings=timings,
        )

    def _assemble(
        self, pool: list[tuple[str, float]], query_vector: np.ndarray, k: int, use_mmr: bool
    ) -> list[tuple[float, Paper, float]]:
        """(score, paper, similarity) of up to k hits from the pool: MMR-ordered if asked,
        one per paper, each with the query's cosine similarity to its stored vector."""
        fetched = self.store.get_with_vectors([pid for pid, _ in pool]) if pool else {}
        # An id missing here left the store after the BM25 index was read: skip it.
        rows = [(score, *fetched[pid]) for pid, score in pool if pid in fetched]
        if use_mmr and rows:
            relevance = np.array([score for score, _, _ in rows])
            vectors = np.stack([vector for _, _, vector in rows])
            rows = [
                rows[i] for i in mmr_order(relevance, vectors, len(rows), self.config.mmr_lambda)
            ]
        chosen: list[tuple[float, Paper, float]] = []
        seen: set[str] = set()
        for score, paper, vector in rows:
            if paper.id in seen or paper.title_key in seen:
                continue
            seen.update((paper.id, paper.title_key))
            chosen.append((score, paper, float(vector @ query_vector)))
            if len(chosen) == k:
                break
        return chosen


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 3)


_RETRIEVERS: OrderedDict[str, Retriever] = OrderedDict()
_RETRIEVERS_LOCK = threading.Lock()


def get_retriever(settings: Settings) -> Retriever:
    """The process-wide retriever for this store and these settings (one BM25 load each)."""
    key = settings.model_dump_json(
        include={"store_dir", "chroma_url", "collection", "embedding", "retrieval"}
    )
    with _RETRIEVERS_LOCK:
        retriever = _RETRIEVERS.get(key)
        if retriever is None:
            retriever = Retriever(settings)
            _RETRIEVERS[key] = retriever
            if len(_RETRIEVERS) > 8:
                _RETRIEVERS.popitem(last=False)
        _RETRIEVERS.move_to_end(key)
        return retriever


def catalog(settings: Settings) -> Catalog:
    """The catalog of the store these settings point at, at its current revision."""
    return get_retriever(settings).catalog()


def search(settings: Settings, query: str, **options: Any) -> SearchResult:
    """Search the store these settings point at; ``options`` as in :meth:`Retriever.search`."""
    return get_retriever(settings).search(query, **options)


def good_matches(hits: Sequence[Hit], query: str, similarity: float) -> tuple[list[Hit], list[Hit]]:
    """The hits that match ``query`` well (they use its words, or are at least
    ``similarity`` close to it) and the weaker ones, each in rank order: a search always
    returns k hits, and for a narrow query most of them are only the least far away."""
    terms = question_terms(query)
    good = [h for h in hits if h.similarity >= similarity or mentions_terms(h.paper.text, terms)]
    kept = {id(h) for h in good}
    return good, [h for h in hits if id(h) not in kept]
