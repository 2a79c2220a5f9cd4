"""Papers "for you": any set of papers ranked against an interest, each with why.

Three signals, each a score for every paper of the store:

- **phrases**: BM25 of each phrase (the retriever's index; each phrase's scores divided by
  its best) and the phrase's cosine to the paper's vector, each averaged over the phrases:
  a paper that says the whole interest ranks above one that says one of its phrases (on the
  dev suite, averaging lifted precision@10 from 0.613 to 0.662 over keeping the best
  phrase's); one phrase is scored as before;
- **seeds**: a linear SVM in the arxiv-sanity-lite manner, trained on the paper vectors with
  the seed papers (for a saved interest, also the papers saved in a collection of its name:
  ``interests.interest_to_rank``) as positives and the rest of the store as negatives; its
  decision value ranks;
- **negatives**: the "not" phrases scored like the phrases push a paper down (by how far
  above the store's mean it is), and a paper about one (a sentence of it, or its title, says
  it: ``coverage.uses_words`` or a sentence at ``COVER_SIMILARITY``) is left out.

The combined ranker adds the signals after putting each on one scale (z-scores over the
store); weights in ``WEIGHTS``, set on ``eval/suites/interests-dev.jsonl`` only (the
checking suite, ``interests.jsonl``, is never tuned on). ``ranker="phrases"`` (BM25 of the
phrases alone) and ``ranker="seeds"`` (cosine to the nearest seed alone) are the
single-signal baselines the eval harness compares against. Seeds are never ranked (the user
knows them). Every ranked paper gets a one-line why: the phrase and its abstract sentence
that matched best (verbatim), or the seed it is closest to.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from assistant.coverage import COVER_SIMILARITY, uses_words
from assistant.errors import InputError
from assistant.models import Paper
from assistant.models.interests import ForYou, Interest, PaperRef, Recommendation
from assistant.retrieve import Retriever, catalog, get_retriever, sentence_table, tokenize
from assistant.settings import Settings
from assistant.text import one_line

Ranker = Literal["combined", "phrases", "seeds"]
RANKERS: tuple[Ranker, ...] = ("combined", "phrases", "seeds")
#: Weights of the signals in the combined ranker (on z-scores).
WEIGHTS = {"dense": 1.0, "bm25": 0.5, "learned": 1.0, "negative": 2.0}

#: The SVM's regularization (arxiv-sanity-lite uses 0.01 on tf-idf; vectors need more).
SVM_C = 0.1
#: How many of the best papers are checked against the negatives, beyond the k shown.
NEGATIVE_POOL = 50


@dataclass(frozen=True)
class _Vectors:
    """Every paper's vector, in one matrix, at one store revision."""

    revision: str
    ids: list[str]
    matrix: np.ndarray
    row: dict[str, int]


def _vectors(retriever: Retriever, revision: str) -> _Vectors:
    """The store's vectors at ``revision``, in its catalog's order (the retriever keeps both
    with that revision's BM25 index: read once per revision and process)."""
    ids, matrix = retriever.paper_vectors(revision)
    return _Vectors(revision, ids, matrix, retriever.bm25_index(revision).catalog.positions())


def _z(values: np.ndarray) -> np.ndarray:
    spread = float(values.std())
    return (values - float(values.mean())) / spread if spread > 0 else np.zeros_like(values)


@dataclass
class _Signals:
    """Each signal's score for every paper (rows of ``_Vectors``); None when it has no input."""

    bm25: np.ndarray | None  # the best phrase's BM25 (the phrases-only baseline)
    dense: np.ndarray | None  # the phrases' mean cosine
    bm25_mean: np.ndarray | None  # the phrases' mean BM25
    best_phrase: np.ndarray | None  # index of the phrase each paper is closest to
    seed_cosine: np.ndarray | None
    learned: np.ndarray | None
    negative: np.ndarray | None  # how much each paper is about the "not" phrases

    def score(self, ranker: Ranker) -> np.ndarray:
        if ranker == "phrases":
            return _require(self.bm25, "phrases")
        if ranker == "seeds":
            return _require(self.seed_cosine, "seeds")
        parts = [part for part in (self.phrase_part(), self.seed_part()) if part is not None]
        total = np.sum(parts, axis=0)
        if self.negative is not None:
            total = total - WEIGHTS["negative"] * np.clip(_z(self.negative), 0, None)
        return total

    def phrase_part(self) -> np.ndarray | None:
        """The phrases' share of the combined score."""
        if self.dense is None or self.bm25_mean is None:
            return None
        return _said(self.bm25_mean, self.dense)

    def seed_part(self) -> np.ndarray | None:
        """The seeds' share of the combined score."""
        return None if self.learned is None else WEIGHTS["learned"] * _z(self.learned)


def _said(bm25: np.ndarray, dense: np.ndarray) -> np.ndarray:
    """How much each paper says some phrases (the interest's, or its "not" ones): their
    BM25 and cosine, each on the store's scale, weighted."""
    return WEIGHTS["dense"] * _z(dense) + WEIGHTS["bm25"] * _z(bm25)


def _require(values: np.ndarray | None, what: str) -> np.ndarray:
    if values is None:
        raise InputError(f"the {what} ranker needs the interest to have {what}.")
    return values


def _phrase_scores(
    retriever: Retriever, vectors: _Vectors, phrases: Sequence[str]
) -> tuple[np.ndarray, np.ndarray]:
    """For every paper (rows) and phrase (columns): the phrase's BM25 (over its best paper's)
    and its cosine to the paper's vector."""
    phrase_vectors = retriever.embedder.embed(list(phrases))
    similarity = vectors.matrix @ phrase_vectors.T
    index = retriever.bm25_index(vectors.revision)  # its rows are the vectors' rows
    bm25 = np.zeros(similarity.shape, dtype=np.float64)
    for column, phrase in enumerate(phrases):
        token_ids = index.model.get_tokens_ids(tokenize([phrase])[0])
        if not token_ids:
            continue
        scores = np.asarray(index.model.get_scores_from_ids(token_ids), dtype=np.float64)
        top = float(scores.max())
        if top > 0:
            bm25[:, column] = scores / top
    return bm25, similarity


def _signals(retriever: Retriever, vectors: _Vectors, interest: Interest) -> _Signals:
    bm25 = dense = bm25_mean = best_phrase = seed_cosine = learned = negative = None
    if interest.phrases:
        each_bm25, each_dense = _phrase_scores(retriever, vectors, interest.phrases)
        bm25, bm25_mean = each_bm25.max(axis=1), each_bm25.mean(axis=1)
        dense, best_phrase = each_dense.mean(axis=1), each_dense.argmax(axis=1)
    liked = [vectors.row[s.id] for s in interest.seeds if s.id in vectors.row]
    if liked:
        seed_cosine = (vectors.matrix @ vectors.matrix[liked].T).max(axis=1)
        learned = _learned(vectors.matrix, liked)
    if interest.negatives:
        # a paper about any one of them is not wanted: the best "not" phrase counts
        neg_bm25, neg_dense = _phrase_scores(retriever, vectors, interest.negatives)
        negative = _said(neg_bm25.max(axis=1), neg_dense.max(axis=1))
    return _Signals(bm25, dense, bm25_mean, best_phrase, seed_cosine, learned, negative)


def _learned(matrix: np.ndarray, positive_rows: Sequence[int]) -> np.ndarray:
    """The decision value of a linear SVM: positives against every other paper."""
    from sklearn.svm import LinearSVC

    labels = np.zeros(len(matrix), dtype=np.int8)
    labels[list(positive_rows)] = 1
    if labels.all():  # nothing to learn against: closeness to the seeds' centre instead
        return np.asarray(matrix @ matrix[list(positive_rows)].mean(axis=0), dtype=np.float64)
    model = LinearSVC(class_weight="balanced", C=SVM_C, max_iter=20000, tol=1e-6, dual="auto")
    model.fit(matrix, labels)
    return np.asarray(model.decision_function(matrix), dtype=np.float64)


# --- scope ----------------------------------------------------------------------------------------


def scope_ids(
    settings: Settings,
    *,
    week: str | None = None,
    since: dt.date | None = None,
    until: dt.date | None = None,
) -> tuple[list[str] | None, str]:
    """The ids a ranking covers (None: the whole store) and how to say it.

    A week, or a date range, holds the papers published in it and the undated papers added
    in it (as the weekly summary counts them)."""
    from assistant.weekly import normalize_week, week_bounds

    if week is not None and (since or until):
        raise InputError("give a week or a date range (--since/--until), not both.")
    if week is not None:
        week = normalize_week(week)
        start, end = week_bounds(week)
        label = f"week {week}"
    elif since or until:
        start = since or dt.date(1900, 1, 1)
        end = until or dt.date.today()
        label = f"{since or 'the start'} to {until or 'today'}"
    else:
        return None, "the whole store"
    published, added = catalog(settings).in_period(start, end)  # as weekly counts them
    return published + added, label


# --- ranking --------------------------------------------------------------------------------------


def rank(
    settings: Settings,
    interest: Interest,
    *,
    k: int = 10,
    ids: Sequence[str] | None = None,
    scope: str = "the whole store",
    ranker: Ranker = "combined",
) -> ForYou:
    """The k papers (among ``ids``; default: the whole store) ranked for ``interest``.

    Seeds are not ranked. The baselines (``ranker``) apply no negatives."""
    if k < 1:
        raise InputError(f"-k must be at least 1 (got {k}).")
    if ranker not in RANKERS:
        raise InputError(f"unknown ranker {ranker!r}: use {', '.join(RANKERS)}.")
    retriever = get_retriever(settings)
    if retriever.store.count() == 0:
        raise InputError(f"the store at {retriever.store.where} is empty: ingest papers first.")
    vectors = _vectors(retriever, retriever.store.revision())
    known = [s.id for s in interest.seeds]
    signals = _signals(retriever, vectors, interest)
    score = signals.score(ranker)

    notices: list[str] = []
    missing = [s.title for s in interest.seeds if s.id not in vectors.row]
    if missing:
        notices.append(f"seed papers no longer in the store: {'; '.join(missing)}.")
    allowed = np.zeros(len(vectors.ids), dtype=bool)
    rows = [vectors.row[i] for i in ids if i in vectors.row] if ids is not None else None
    allowed[rows if rows is not None else slice(None)] = True
    allowed[[vectors.row[i] for i in known if i in vectors.row]] = False
    candidates = int(allowed.sum())
    order = [int(i) for i in np.argsort(-score, kind="stable") if allowed[i]]

    negate = ranker == "combined" and bool(interest.negatives)
    kept: list[tuple[int, Paper]] = []
    left_out, start = 0, 0
    while len(kept) < k and start < len(order):  # more papers while negatives leave some out
        pool = order[start : start + k + (NEGATIVE_POOL if negate else 0)]
        start += len(pool)
        papers = _papers(retriever, [vectors.ids[i] for i in pool])
        found = [(i, papers[vectors.ids[i]]) for i in pool if vectors.ids[i] in papers]
        if negate:
            about = _about_negatives(retriever, [p for _, p in found], interest.negatives)
            left_out += sum(1 for _, p in found if p.id in about)
            found = [(i, p) for i, p in found if p.id not in about]
        kept += found
    if left_out:
        notices.append(
            f"{left_out} paper(s) left out as about {', '.join(map(repr, interest.negatives))}."
        )
    kept = kept[:k]
    whys = _whys(retriever, signals, interest, [(i, p) for i, p in kept], vectors, ranker)
    return ForYou(
        interest=interest.name,
        ranker=ranker,
        scope=scope,
        candidates=candidates,
        left_out=left_out,
        papers=[
            Recommendation(rank=n, paper=paper, score=round(float(score[i]), 4), **whys[paper.id])
            for n, (i, paper) in enumerate(kept, start=1)
        ],
        notices=notices,
    )


def _papers(retriever: Retriever, ids: Sequence[str]) -> dict[str, Paper]:
    return {pid: paper for pid, (paper, _) in retriever.store.by_ids(ids).items()}


def _sentences(
    retriever: Retriever, papers: Sequence[Paper]
) -> dict[str, tuple[list[str], np.ndarray]]:
    """Each paper's abstract sentences with their vectors (stored, else embedded now)."""
    if not papers:
        return {}
    stored = retriever.store.sentence_vectors([p.id for p in papers])
    return sentence_table(retriever.embedder, papers, stored)


def _about_negatives(
    retriever: Retriever, papers: Sequence[Paper], negatives: Sequence[str]
) -> set[str]:
    """Ids of the papers whose title or one of whose sentences says a negative phrase."""
    vectors = retriever.embedder.embed(list(negatives))
    sentences = _sentences(retriever, papers)
    about = set()
    for paper in papers:
        texts, matrix = sentences.get(paper.id, ([], np.zeros((0, vectors.shape[1]))))
        spelt = any(uses_words(t, neg) for t in [paper.title, *texts] for neg in negatives)
        said = len(texts) > 0 and float((matrix @ vectors.T).max()) >= COVER_SIMILARITY
        if spelt or said:
            about.add(paper.id)
    return about


def _whys(
    retriever: Retriever,
    signals: _Signals,
    interest: Interest,
    ranked: Sequence[tuple[int, Paper]],
    vectors: _Vectors,
    ranker: Ranker,
) -> dict[str, dict[str, Any]]:
    """For each ranked paper: ``why``, ``because``, ``matched``, ``sentence``, ``strong``."""
    phrase_part, seed_part = signals.phrase_part(), signals.seed_part()
    use_phrase: dict[str, bool] = {}
    for row, paper in ranked:
        if ranker != "combined":
            use_phrase[paper.id] = ranker == "phrases"
        elif phrase_part is None or signals.best_phrase is None:
            use_phrase[paper.id] = False
        elif seed_part is None:
            use_phrase[paper.id] = True
        else:  # the signal that put it here names it
            use_phrase[paper.id] = bool(phrase_part[row] >= seed_part[row])
    phrase_papers = [p for _, p in ranked if use_phrase[p.id]]
    sentences = _sentences(retriever, phrase_papers)
    phrase_vectors = retriever.embedder.embed(list(interest.phrases)) if phrase_papers else None
    seeds = [s for s in interest.seeds if s.id in vectors.row]
    out: dict[str, dict[str, Any]] = {}
    for row, paper in ranked:
        if use_phrase[paper.id] and signals.best_phrase is not None and phrase_vectors is not None:
            which = int(signals.best_phrase[row])
            phrase = interest.phrases[which]
            sentence, says = _quote(sentences.get(paper.id), phrase, phrase_vectors[which])
            quoted = f"“{one_line(sentence)}”" if sentence else ""
            why = (
                f"matches “{phrase}”: {quoted}"
                if says
                else f"weaker match: no sentence says “{phrase}”; the closest: {quoted}"
            )
            out[paper.id] = {
                "why": why.rstrip(": "),
                "because": "phrase",
                "matched": phrase,
                "sentence": sentence,
                "strong": says,
            }
        else:
            seed = _nearest_seed(seeds, row, vectors)
            similarity = float(vectors.matrix[row] @ vectors.matrix[vectors.row[seed.id]])
            out[paper.id] = {
                "why": f"close to “{seed.title}” (similarity {similarity:.2f})",
                "because": "seed",
                "matched": seed.title,
                "sentence": None,
                "strong": similarity >= COVER_SIMILARITY,
            }
    return out


def _quote(
    sentences: tuple[list[str], np.ndarray] | None, phrase: str, vector: np.ndarray
) -> tuple[str | None, bool]:
    """The sentence that says the phrase best (among those using its words, if any, the one
    closest in meaning), and whether it says it: uses its words or is ``COVER_SIMILARITY``
    close (``coverage``'s rule)."""
    if not sentences or not sentences[0]:
        return None, False
    texts, matrix = sentences
    similarity = matrix @ vector
    spelt = [i for i, t in enumerate(texts) if uses_words(t, phrase)]
    best = max(spelt or range(len(texts)), key=lambda i: float(similarity[i]))
    return texts[best], bool(spelt) or float(similarity[best]) >= COVER_SIMILARITY


def _nearest_seed(seeds: Sequence[PaperRef], row: int, vectors: _Vectors) -> PaperRef:
    if not seeds:
        raise InputError(
            "nothing to say why: the interest has neither phrases nor seeds in the store."
        )
    return max(seeds, key=lambda s: float(vectors.matrix[row] @ vectors.matrix[vectors.row[s.id]]))


def for_you(
    settings: Settings,
    name: str,
    *,
    k: int = 10,
    week: str | None = None,
    since: dt.date | None = None,
    until: dt.date | None = None,
    ranker: Ranker = "combined",
) -> ForYou:
    """The papers of a week, a date range or the whole store ranked for the saved interest
    ``name``; the papers saved in a collection of the same name are learned from as seeds
    (``interests.interest_to_rank``)."""
    from assistant.interests import interest_to_rank

    interest = interest_to_rank(settings, name)
    ids, scope = scope_ids(settings, week=week, since=since, until=until)
    return rank(settings, interest, k=k, ids=ids, scope=scope, ranker=ranker)


#: How many of an interest's best papers a chat scoped to it is answered from.
SCOPE_PAPERS = 30


def ask_scope(
    settings: Settings,
    *,
    collection: str | None = None,
    interest: str | None = None,
    week: str | None = None,
    since: dt.date | None = None,
    until: dt.date | None = None,
) -> list[str] | None:
    """The paper ids a question is answered from when scoped to a saved collection or to an
    interest (the strong matches among its ``SCOPE_PAPERS`` best papers, of ``week`` or
    between the dates when given, as the For you tab shows them above the weaker ones);
    None when not scoped."""
    from assistant.interests import get_collection

    if collection and interest:
        raise InputError("scope a question to a collection or to an interest, not both.")
    if collection:
        ids = get_collection(settings, collection).ids
        if not ids:
            raise InputError(f"collection {collection!r} holds no papers.")
        return ids
    if interest:  # the papers that say what it asks; weaker matches only when none does
        ranked = for_you(settings, interest, k=SCOPE_PAPERS, week=week, since=since, until=until)
        return [r.paper.id for r in ranked.strong or ranked.papers]
    return None


def similar(
    settings: Settings,
    keys: Sequence[str],
    *,
    k: int = 10,
    week: str | None = None,
    since: dt.date | None = None,
    until: dt.date | None = None,
) -> ForYou:
    """ "Papers like these": papers ranked for an interest whose seeds are ``keys`` (ids or
    arXiv ids), within a week, a date range or the whole store."""
    if not keys:
        raise InputError("name at least one paper to find papers like it.")
    seeds = get_retriever(settings).store.find(keys)
    interest = Interest(name="like", seeds=[PaperRef(id=p.id, title=p.title) for p in seeds])
    ids, scope = scope_ids(settings, week=week, since=since, until=until)
    result = rank(settings, interest, k=k, ids=ids, scope=scope)
    more = f" and {len(seeds) - 1} more" if len(seeds) > 1 else ""
    return result.model_copy(update={"interest": f"papers like “{seeds[0].title}”{more}"})


__all__ = ["RANKERS", "Ranker", "ask_scope", "for_you", "rank", "scope_ids", "similar"]
