"""Two eval runs compared: metric deltas (B - A) and, case by case, wins and losses
(``assistant eval compare A B``)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from assistant.evals.metrics import lower_is_better
from assistant.evals.runner import RunResult


class MetricDelta(BaseModel):
    """One summary metric in two runs."""

    metric: str = Field(description="Dotted summary key, e.g. retrieval.hybrid.hit_at_5.")
    a: float | None
    b: float | None
    delta: float | None
    improved: bool | None = Field(description="Whether B is better (None: no change or n/a).")


class CaseChanges(BaseModel):
    """Per-case wins (B better) and losses (B worse) on one per-case score."""

    score: str
    compared: int
    wins: list[str] = Field(default_factory=list)
    losses: list[str] = Field(default_factory=list)


class Comparison(BaseModel):
    """Run B against run A: metric deltas and per-case wins and losses."""

    a: str
    b: str
    notes: list[str] = Field(default_factory=list, description="Why the runs may not compare.")
    deltas: list[MetricDelta]
    cases: list[CaseChanges]


def _flatten(data: dict[str, Any], prefix: str = "") -> dict[str, float]:
    out: dict[str, float] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if name.startswith("retrieval_by_type.") and "latency" in key:
            continue  # a few cases per type: their latency percentiles are noise
        if isinstance(value, dict):
            out |= _flatten(value, name + ".")
        elif isinstance(value, int | float) and not isinstance(value, bool) and key != "n":
            out[name] = float(value)
    return out


def case_scores(run: RunResult) -> dict[str, dict[str, float]]:
    """Per-case scores compared case by case: score name -> case id -> value."""
    out: dict[str, dict[str, float]] = {}
    for c in run.cases:
        for r in c.retrieval:
            out.setdefault(f"retrieval.{r.mode}.mrr", {})[c.id] = r.mrr
            out.setdefault(f"retrieval.{r.mode}.recall_at_10", {})[c.id] = r.recall_at_10
        for a in c.answers:
            key = f"answers.{a.system}"
            if c.type == "unanswerable":
                out.setdefault(f"{key}.abstention_correct", {})[c.id] = float(a.abstained)
                continue
            out.setdefault(f"{key}.abstention_correct", {})[c.id] = float(not a.abstained)
            out.setdefault(f"{key}.gold_coverage", {})[c.id] = a.gold_coverage or 0.0
            if a.facts:
                out.setdefault(f"{key}.fact_accuracy", {})[c.id] = len(a.facts_found) / len(a.facts)
            if a.citations_valid:
                out.setdefault(f"{key}.citation_precision", {})[c.id] = (
                    a.citations_supported / a.citations_valid
                )
    return out


def compare(run_a: RunResult, run_b: RunResult, *, a: str = "A", b: str = "B") -> Comparison:
    """Metric deltas (B - A) and, per case present in both, which improved or got worse."""
    notes = []
    ma, mb = run_a.meta, run_b.meta
    if ma.suite_sha256 != mb.suite_sha256:
        notes.append(
            f"the suites differ ({ma.suite} {ma.suite_sha256[:12]} vs "
            f"{mb.suite} {mb.suite_sha256[:12]})."
        )
    if ma.store.revision != mb.store.revision:
        notes.append("the store revisions differ: the papers scored may not be the same.")
    if ma.model != mb.model:
        notes.append(f"the models differ ({ma.model} vs {mb.model}).")
    if ma.cases != mb.cases:
        notes.append(
            f"the runs scored {ma.cases} and {mb.cases} cases; "
            "per-case changes use the cases both have."
        )
    fa, fb = _flatten(run_a.summary()), _flatten(run_b.summary())
    deltas = []
    for key in list(dict.fromkeys([*fa, *fb])):
        va, vb = fa.get(key), fb.get(key)
        delta = None if va is None or vb is None else round(vb - va, 4)
        improved = None
        if delta:
            improved = delta < 0 if lower_is_better(key) else delta > 0
        deltas.append(MetricDelta(metric=key, a=va, b=vb, delta=delta, improved=improved))
    sa, sb = case_scores(run_a), case_scores(run_b)
    changes = []
    for score in list(dict.fromkeys([*sa, *sb])):
        shared = sorted(set(sa.get(score, {})) & set(sb.get(score, {})))
        if not shared:
            continue
        ca, cb = sa[score], sb[score]
        changes.append(
            CaseChanges(
                score=score,
                compared=len(shared),
                wins=[i for i in shared if cb[i] > ca[i] + 1e-9],
                losses=[i for i in shared if cb[i] < ca[i] - 1e-9],
            )
        )
    return Comparison(a=a, b=b, notes=notes, deltas=deltas, cases=changes)
