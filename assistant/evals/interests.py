"""Interest cases: the "for you" ranking scored against its single-signal baselines.

Each case's interest is ranked over the whole store by every ranker of ``recommend`` in the
same run: ``phrases`` (BM25 of the phrases alone), ``seeds`` (cosine to the nearest seed
alone) and ``combined`` (the product's ranker). A baseline a case gives no input for (no
seeds, say) ranks nothing and scores 0, as a user of that signal alone would get nothing.
Per ranker: precision@10 and recall@10 of the top 10 against the gold titles, and, for cases
with a "not" phrase, whether none of its excluded papers ranked in the top 10.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, Field

from assistant.errors import InputError
from assistant.evals.metrics import mean, percentile, ratio
from assistant.evals.suite import Case
from assistant.models import normalize_title
from assistant.models.interests import Interest, PaperRef
from assistant.recommend import RANKERS, rank
from assistant.settings import Settings

TOP = 10


class InterestScore(BaseModel):
    """One ranker's top 10 for one interest case."""

    ranker: str
    ranked: list[str] = Field(description="Ids of the top 10, best first.")
    precision: float = Field(description="Share of the top 10 in the gold.")
    recall: float = Field(description="Share of the gold in the top 10.")
    excluded_shown: list[str] = Field(
        default_factory=list, description="Excluded papers (of a 'not' phrase) in the top 10."
    )
    latency_ms: float


def interest_of(case: Case, ids_by_title: Mapping[str, str]) -> tuple[Interest, list[str]]:
    """The case's interest with its seeds as store ids, and the seed titles not found."""
    assert case.interest is not None
    seeds, missing = [], []
    for title in case.interest.seeds:
        pid = ids_by_title.get(normalize_title(title))
        if pid is None:
            missing.append(title)
        else:
            seeds.append(PaperRef(id=pid, title=title))
    interest = Interest(
        name=case.id,
        phrases=list(case.interest.phrases),
        negatives=list(case.interest.negatives),
        seeds=seeds,
    )
    return interest, missing


def score_interest(
    settings: Settings, interest: Interest, gold: Sequence[str], excluded: Sequence[str]
) -> list[InterestScore]:
    """Every ranker's top 10 for ``interest``, scored against ``gold`` and ``excluded`` ids."""
    scores = []
    for ranker in RANKERS:
        started = time.perf_counter()
        try:
            ranked = [r.paper.id for r in rank(settings, interest, k=TOP, ranker=ranker).papers]
        except InputError:  # the interest gives this baseline nothing to rank by
            ranked = []
        latency = (time.perf_counter() - started) * 1000
        hits = len(set(ranked) & set(gold))
        scores.append(
            InterestScore(
                ranker=ranker,
                ranked=ranked,
                precision=hits / TOP,
                recall=hits / len(gold) if gold else 0.0,
                excluded_shown=[pid for pid in ranked if pid in set(excluded)],
                latency_ms=round(latency, 2),
            )
        )
    return scores


def summarize_interests(cases: Sequence[tuple[bool, Sequence[InterestScore]]]) -> dict[str, Any]:
    """Per ranker over (has a 'not' phrase, scores) pairs: mean precision@10 and recall@10,
    and the share of cases with a 'not' phrase whose top 10 holds none of its excluded papers."""
    out: dict[str, Any] = {"n": len(cases), "with_not": sum(1 for negated, _ in cases if negated)}
    for ranker in RANKERS:
        mine = [(negated, s) for negated, scores in cases for s in scores if s.ranker == ranker]
        negated = [s for n, s in mine if n]
        out[ranker] = {
            "precision_at_10": _round(mean(s.precision for _, s in mine)),
            "recall_at_10": _round(mean(s.recall for _, s in mine)),
            "negatives_removed": _round(
                ratio(sum(not s.excluded_shown for s in negated), len(negated))
            ),
            "latency_p50_ms": _round(percentile([s.latency_ms for _, s in mine], 50), 1),
        }
    return out


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)
