"""The eval report's tables: metrics per retrieval mode and per answering system, and the
issue's targets, as Markdown (``report.md``) and as the CLI prints them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from assistant.evals.metrics import ANSWER_METRICS, RETRIEVAL_METRICS, lower_is_better

LABELS = {
    "hit_at_1": "hit@1",
    "hit_at_5": "hit@5",
    "hit_at_10": "hit@10",
    "recall_at_10": "recall@10",
    "mrr": "MRR",
    "ndcg_at_10": "nDCG@10",
    "citation_validity": "cit. validity",
    "citation_precision": "cit. precision",
    "citation_recall": "cit. recall",
    "gold_coverage": "gold coverage",
    "on_question": "on question",
    "source_recall": "gold shown",
    "fact_accuracy": "facts",
    "fact_accuracy_prose": "facts in prose",
    "abstention_accuracy": "abstention acc.",
    "false_abstention": "false abst.",
    "missing_stated": "missing stated",
}


def cell(value: Any, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def retrieval_table(summary: dict[str, Any]) -> str:
    """Retrieval metrics per mode, over the answerable cases."""
    header = ["mode", "n", *(LABELS[m] for m in RETRIEVAL_METRICS), "p50 ms", "p95 ms"]
    rows = [
        [mode, s["n"], *(s[m] for m in RETRIEVAL_METRICS), s["latency_p50_ms"], s["latency_p95_ms"]]
        for mode, s in summary["retrieval"].items()
    ]
    return markdown_table(header, rows)


def retrieval_by_type_table(summary: dict[str, Any], metric: str = "hit_at_5") -> str:
    """One retrieval metric per mode and case type."""
    by_type = summary["retrieval_by_type"]
    types = list(dict.fromkeys(t for per_mode in by_type.values() for t in per_mode))
    header = ["mode", *(f"{t} (n={next(iter(by_type.values()))[t]['n']})" for t in types)]
    rows = [[mode, *(per.get(t, {}).get(metric) for t in types)] for mode, per in by_type.items()]
    return markdown_table(header, rows)


def answers_table(summary: dict[str, Any]) -> str:
    """Answer metrics and timings per system."""
    header = [
        "system",
        "n",
        *(LABELS[m] for m in ANSWER_METRICS),
        "TTFT p50/p95 s",
        "total p50/p95 s",
        "tokens in p50",
        "tokens out p50",
        "errors",
    ]
    rows = [
        [
            system,
            s["n"],
            *(s.get(m) for m in ANSWER_METRICS),
            f"{cell(s['ttft_s_p50'], 2)} / {cell(s['ttft_s_p95'], 2)}",
            f"{cell(s['total_s_p50'], 2)} / {cell(s['total_s_p95'], 2)}",
            cell(s["tokens_in_p50"], 0),
            cell(s["tokens_out_p50"], 0),
            s["errors"],
        ]
        for system, s in summary["answers"].items()
    ]
    return markdown_table(header, rows)


def interests_table(summary: dict[str, Any]) -> str:
    """Interest cases: precision@10, recall@10 and negatives removed per ranker."""
    found = summary["interests"]
    rows = [
        [
            ranker,
            found["n"],
            found[ranker]["precision_at_10"],
            found[ranker]["recall_at_10"],
            found[ranker]["negatives_removed"],
            found[ranker]["latency_p50_ms"],
        ]
        for ranker in ("combined", "phrases", "seeds")
    ]
    header = ["ranker", "n", "precision@10", "recall@10", "'not' removed", "p50 ms"]
    return markdown_table(header, rows)


def tables_table(summary: dict[str, Any]) -> str:
    """Table cases: the comparison's result cells against the labels."""
    t = summary["tables"]
    header = [
        "n",
        "result cell when the abstract states one",
        "cell without a stated result",
        "headline figure in the cell",
        "cell figures found in the abstract",
        "p50 ms per row",
    ]
    row = [
        t["n"],
        t["result_filled"],
        t["filled_without_result"],
        t["headline_figure"],
        t["figures_in_abstract"],
        t["row_ms_p50"],
    ]
    return markdown_table(header, [row])


def disagreements_table(summary: dict[str, Any]) -> str:
    """Disagreement cases: the detector as a classifier over labelled pairs."""
    d = summary["disagreements"]
    header = ["pairs", "conflicts", "flagged", "precision", "recall"]
    return markdown_table(
        header, [[d["n"], d["conflicts"], d["flagged"], d["precision"], d["recall"]]]
    )


def targets(summary: dict[str, Any]) -> list[tuple[str, str, Any, bool | None]]:
    """The issue's targets: (what, target, measured, met) for what this run measured."""
    out: list[tuple[str, str, Any, bool | None]] = []
    by_type = summary["retrieval_by_type"].get("hybrid", {})
    retrieval = summary["retrieval"]
    if "known_item" in by_type:
        v = by_type["known_item"]["hit_at_5"]
        out.append(("hybrid hit@5, known-item", ">= 0.95", v, v is not None and v >= 0.95))
    interests = summary.get("interests")
    if interests:
        mine = interests["combined"]
        p = mine["precision_at_10"]
        out.append(("for-you precision@10", ">= 0.7", p, p is not None and p >= 0.7))
        best = max(interests[r]["precision_at_10"] or 0.0 for r in ("phrases", "seeds"))
        out.append(("combined above each single signal (p@10)", f"> {best:.3f}", p, p > best))
        removed = mine["negatives_removed"]
        if removed is not None:
            out.append(("'not' phrases remove their papers", "1.0", removed, removed >= 1.0))
    tables = summary.get("tables")
    if tables:
        v = tables["figures_in_abstract"]
        if v is not None:
            out.append(("table cells: figures found in the abstract", "1.0", v, v >= 1.0))
        v = tables["result_filled"]
        if v is not None:
            out.append(("result cell when the abstract states a result", ">= 0.8", v, v >= 0.8))
    pairs = summary.get("disagreements")
    if pairs:
        v = pairs["precision"]
        out.append(("disagreement precision", ">= 0.8", v, None if v is None else v >= 0.8))
    h, dense, bm25 = ((retrieval.get(m) or {}).get("hit_at_5") for m in ("hybrid", "dense", "bm25"))
    if h is not None and dense is not None and bm25 is not None:  # follow-ups: hybrid only
        others = max(dense, bm25)
        out.append(("hybrid hit@5 above dense and bm25", f"> {others:.3f}", h, h > others))
    ours = summary["answers"].get("ours")
    if ours:
        for metric, goal, ok in (
            ("citation_validity", "1.0", lambda v: v >= 1.0),
            ("citation_precision", ">= 0.85", lambda v: v >= 0.85),
            ("abstention_accuracy", ">= 0.9", lambda v: v >= 0.9),
            ("false_abstention", "<= 0.1", lambda v: v <= 0.1),
            ("fact_accuracy", ">= 0.8", lambda v: v >= 0.8),
            ("missing_stated", ">= 0.8", lambda v: v >= 0.8),
            ("on_question", ">= 0.9", lambda v: v >= 0.9),
        ):
            v = ours.get(metric)
            if metric in ("missing_stated", "on_question") and v is None:
                continue  # no partial case in this suite
            out.append((f"ours {LABELS[metric]}", goal, v, None if v is None else ok(v)))
        stock = summary["answers"].get("llamaindex")
        if stock:
            judged = [m for m in ANSWER_METRICS if m != "source_recall"]
            measured = [m for m in judged if ours.get(m) is not None and stock.get(m) is not None]
            behind = [
                m
                for m in measured
                if (ours[m] > stock[m] if lower_is_better(m) else ours[m] < stock[m])
            ]
            out.append(
                (
                    "ours ahead of (or tied with) llamaindex on answer metrics",
                    f"{len(measured)} of {len(measured)}",
                    f"{len(measured) - len(behind)} of {len(measured)}"
                    + (f" (behind: {', '.join(LABELS[m] for m in behind)})" if behind else ""),
                    not behind,
                )
            )
            t_ours, t_stock = ours["total_s_p50"], stock["total_s_p50"]
            if t_ours is not None and t_stock is not None:
                out.append(
                    (
                        "ours faster than llamaindex (total p50 s)",
                        f"< {t_stock:.2f}",
                        t_ours,
                        t_ours < t_stock,
                    )
                )
    return out
