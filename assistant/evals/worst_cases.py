"""The eval report's worst cases: which answers and rankings went worst, and what went wrong
with each (the question, the answer, the gold papers and where they ranked)."""

from __future__ import annotations

from assistant.evals.metrics import AnswerScore
from assistant.evals.runner import CaseResult, RunResult

#: How many worst cases the report lists per system and for retrieval.
WORST = 10


def answer_problems(case: CaseResult, answer: AnswerScore, titles: dict[str, str]) -> list[str]:
    """What went wrong with one answer, worst first (empty: nothing)."""
    out: list[str] = []
    if answer.error:
        return [f"failed: {answer.error}"]
    if case.type == "unanswerable":
        if not answer.abstained:
            out.append("answered a question the corpus does not cover")
        return out
    if answer.abstained:
        note = "; gold was among the sources" if answer.source_recall else ""
        return [f"abstained on an answerable question{note}"]
    missing_gold = [g for g in case.gold if g not in answer.cited]
    if missing_gold:
        shown = [g for g in missing_gold if g in answer.sources]
        names = ", ".join(repr(titles.get(g, g)[:60]) for g in missing_gold[:3])
        where = "shown but not cited" if shown else "not among the sources"
        out.append(f"gold not cited ({where}): {names}")
    if answer.facts and len(answer.facts_found) < len(answer.facts):
        lost = [f for f in answer.facts if f not in answer.facts_found]
        out.append(f"facts missing: {', '.join(repr(f) for f in lost)}")
    if answer.citations_invalid:
        out.append(f"{answer.citations_invalid} citation(s) to sources never given")
    unsupported = answer.citations_valid - answer.citations_supported
    if unsupported:
        out.append(f"{unsupported} citation(s) on sentences their sources do not support")
    if answer.sentences and answer.sentences_supported < answer.sentences:
        out.append(
            f"{answer.sentences - answer.sentences_supported} of {answer.sentences} sentences "
            "without a supporting citation"
        )
    return out


def _severity(case: CaseResult, answer: AnswerScore) -> float:
    """Higher is worse: wrong abstention decisions and failures first, then missed content."""
    if answer.error:
        return 10.0
    if case.type == "unanswerable":
        return 0.0 if answer.abstained else 8.0
    if answer.abstained:
        return 7.0
    facts = 1 - len(answer.facts_found) / len(answer.facts) if answer.facts else 0.0
    precision = (
        1 - answer.citations_supported / answer.citations_valid if answer.citations_valid else 1.0
    )
    return (
        2 * (1 - (answer.gold_coverage or 0.0))
        + 2 * facts
        + precision
        + 3 * min(answer.citations_invalid, 1)
    )


def _quote(text: str, limit: int = 500) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def worst_answers(run: RunResult, system: str, n: int = WORST) -> str:
    """The n worst answers of ``system``: question, answer, and what went wrong."""
    scored = [
        (_severity(c, a), c, a)
        for c in run.cases
        if (a := c.by_system(system)) and answer_problems(c, a, run.titles)
    ]
    scored.sort(key=lambda x: -x[0])
    blocks = []
    for _, case, answer in scored[:n]:
        problems = "\n".join(f"  - {p}" for p in answer_problems(case, answer, run.titles))
        blocks.append(
            f"- **{case.id}** ({case.type}): {_quote(case.question, 240)}\n"
            f"  - answer: {_quote(answer.text) or '(none)'}\n{problems}"
        )
    return "\n".join(blocks) or "(no problems found)"


def worst_retrieval(run: RunResult, mode: str = "hybrid", n: int = WORST) -> str:
    """The n answerable cases ``mode`` ranked worst: the question, the gold and what came first."""
    scored = [(s.mrr + s.recall_at_10, c, s) for c in run.cases if (s := c.in_mode(mode))]
    scored = [x for x in scored if x[2].recall_at_10 < 1.0 or x[2].hit_at_1 < 1.0]
    scored.sort(key=lambda x: x[0])
    blocks = []
    for _, case, s in scored[:n]:
        ranks = {pid: r for r, pid in enumerate(s.ranked, start=1)}
        gold = "; ".join(
            f"{run.titles.get(g, g)[:70]!r} at {ranks.get(g, '>10')}" for g in case.gold
        )
        first = "; ".join(repr(run.titles.get(p, p)[:60]) for p in s.ranked[:3])
        blocks.append(
            f"- **{case.id}** ({case.type}, MRR {s.mrr:.2f}, recall@10 {s.recall_at_10:.2f}): "
            f"{_quote(case.question, 240)}\n  - gold: {gold}\n  - ranked first: {first}"
        )
    return "\n".join(blocks) or "(every gold paper ranked first)"
