"""Eval reports as files, and the comparison of two runs.

``write_report(run, out)`` writes into ``out``:

- ``report.md``: provenance, tables per mode and per system, the issue's targets, and the
  worst cases with their question, answer and what went wrong;
- ``results.jsonl``: one line per case and system (retrieval and gate repeated on each line,
  so every line stands alone);
- ``summary.json``: the run's metadata, every metric, and the titles the report names;
- ``retrieval.png``, ``answers.png``, ``latency.png``: matplotlib plots (Agg backend).

``load_run(out)`` reads a run back from ``summary.json`` and ``results.jsonl``;
``compare(a, b)`` gives metric deltas and per-case wins and losses.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from assistant.errors import InputError
from assistant.evals.metrics import (
    ANSWER_METRICS,
    RETRIEVAL_METRICS,
    AnswerScore,
    lower_is_better,
)
from assistant.evals.runner import CaseResult, RunMeta, RunResult
from assistant.files import write_atomic

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
WORST = 10


def result_lines(run: RunResult) -> list[dict[str, Any]]:
    """``results.jsonl``: one object per case and system (system None in a --no-llm run)."""
    lines = []
    for case in run.cases:
        base = case.model_dump(mode="json", exclude={"answers"})
        answers: Sequence[AnswerScore | None] = case.answers or [None]
        for answer in answers:
            lines.append(
                {
                    **base,
                    "system": answer.system if answer else None,
                    "answer": answer.model_dump(mode="json") if answer else None,
                }
            )
    return lines


def write_report(run: RunResult, out: Path) -> list[Path]:
    """Write the report, results, summary and plots into ``out``; returns the paths."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    summary = run.summary()
    paths = [out / "summary.json", out / "results.jsonl", out / "report.md"]
    write_atomic(
        paths[0],
        json.dumps(
            {"meta": run.meta.model_dump(mode="json"), "summary": summary, "titles": run.titles},
            indent=2,
        ),
    )
    write_atomic(paths[1], "".join(json.dumps(line) + "\n" for line in result_lines(run)))
    paths += plot(run, summary, out)
    write_atomic(paths[2], render_markdown(run, summary, [p.name for p in paths[3:]]))
    return paths


def load_run(folder: Path) -> RunResult:
    """A run read back from the ``summary.json`` and ``results.jsonl`` in ``folder``."""
    folder = Path(folder)
    summary_path, results_path = folder / "summary.json", folder / "results.jsonl"
    for path in (summary_path, results_path):
        if not path.is_file():
            raise InputError(
                f"{folder} is not an eval run: {path.name} is missing "
                "(runs are written by 'assistant eval run SUITE --out DIR')."
            )
    try:
        data = json.loads(summary_path.read_text())
        meta = RunMeta.model_validate(data["meta"])
        cases: dict[str, CaseResult] = {}
        for line in results_path.read_text().splitlines():
            if not line.strip():
                continue
            row = json.loads(line)
            answer, _ = row.pop("answer"), row.pop("system")
            case = cases.setdefault(row["id"], CaseResult.model_validate(row))
            if answer is not None:
                case.answers.append(AnswerScore.model_validate(answer))
    except (ValueError, KeyError) as exc:
        raise InputError(f"{folder}: cannot read the run ({exc}).") from None
    return RunResult(meta=meta, cases=list(cases.values()), titles=data.get("titles", {}))


# --- markdown ------------------------------------------------------------------------------


def _f(value: Any, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_f(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def retrieval_table(summary: dict[str, Any]) -> str:
    """Retrieval metrics per mode, over the answerable cases."""
    header = ["mode", "n", *(LABELS[m] for m in RETRIEVAL_METRICS), "p50 ms", "p95 ms"]
    rows = [
        [mode, s["n"], *(s[m] for m in RETRIEVAL_METRICS), s["latency_p50_ms"], s["latency_p95_ms"]]
        for mode, s in summary["retrieval"].items()
    ]
    return _table(header, rows)


def retrieval_by_type_table(summary: dict[str, Any], metric: str = "hit_at_5") -> str:
    """One retrieval metric per mode and case type."""
    by_type = summary["retrieval_by_type"]
    types = list(dict.fromkeys(t for per_mode in by_type.values() for t in per_mode))
    header = ["mode", *(f"{t} (n={next(iter(by_type.values()))[t]['n']})" for t in types)]
    rows = [[mode, *(per.get(t, {}).get(metric) for t in types)] for mode, per in by_type.items()]
    return _table(header, rows)


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
            f"{_f(s['ttft_s_p50'], 2)} / {_f(s['ttft_s_p95'], 2)}",
            f"{_f(s['total_s_p50'], 2)} / {_f(s['total_s_p95'], 2)}",
            _f(s["tokens_in_p50"], 0),
            _f(s["tokens_out_p50"], 0),
            s["errors"],
        ]
        for system, s in summary["answers"].items()
    ]
    return _table(header, rows)


def targets(summary: dict[str, Any]) -> list[tuple[str, str, Any, bool | None]]:
    """The issue's targets: (what, target, measured, met) for what this run measured."""
    out: list[tuple[str, str, Any, bool | None]] = []
    by_type = summary["retrieval_by_type"].get("hybrid", {})
    retrieval = summary["retrieval"]
    if "known_item" in by_type:
        v = by_type["known_item"]["hit_at_5"]
        out.append(("hybrid hit@5, known-item", ">= 0.95", v, v is not None and v >= 0.95))
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
                continue  # no partial case (or no gold) in this suite
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


def render_markdown(run: RunResult, summary: dict[str, Any], plots: Sequence[str]) -> str:
    """``report.md``."""
    m = run.meta
    commit = (m.git_commit or "unknown")[:12] + (
        " (with uncommitted changes)" if m.git_dirty else ""
    )
    parts = [
        f"# Eval: {m.suite} ({m.cases} cases)",
        "",
        _table(
            ["", ""],
            [
                ["suite", f"{m.suite_path} (sha256 {m.suite_sha256[:12]})"],
                ["started", f"{m.started}, {m.duration_s:.1f} s"],
                ["systems", ", ".join(m.systems) or "none (--no-llm: retrieval and gate only)"],
                ["model", m.model or "–"],
                ["embedding", m.embedding_model],
                ["store", f"{m.store.location} · {m.store.collection} · {m.store.papers} papers"],
                ["store revision", m.store.revision],
                ["git commit", commit],
                ["limit", m.limit or "all cases"],
            ],
        ),
        "",
    ]
    if m.missing_gold:
        parts += [
            "## Gold papers not in the store",
            "",
            "These cases are left out of the scores (not counted as misses):",
            "",
            *(f"- {g.case_id} ({g.role}): {g.reference!r}" for g in m.missing_gold),
            "",
        ]
    parts += [
        "## Retrieval per mode (answerable cases)",
        "",
        retrieval_table(summary),
        "",
        "hit@5 by case type:",
        "",
        retrieval_by_type_table(summary),
        "",
        "## Relevance gate (retrieval only: abstains without calling the model)",
        "",
        _table(
            [
                "n",
                "abstention acc. (unanswerable stopped)",
                "false abst. (answerable stopped)",
                "facts shown (answer facts in the evidence)",
            ],
            [
                [
                    summary["gate"]["n"],
                    summary["gate"]["abstention_accuracy"],
                    summary["gate"]["false_abstention"],
                    summary["gate"].get("facts_shown"),
                ]
            ],
        ),
        "",
    ]
    if summary["answers"]:
        parts += ["## Answers per system", "", answers_table(summary), ""]
    if "digests" in summary:
        d = summary["digests"]
        parts += [
            "## Digests (topic cases)",
            "",
            _table(
                [
                    "n",
                    "core included",
                    "included relevant",
                    "cit. validity",
                    "cit. precision",
                    "paragraphs whole",
                    "markdown left",
                    "papers by position",
                    "p50 s",
                ],
                [
                    [
                        d["n"],
                        d["core_included"],
                        d["included_relevant"],
                        d["citation_validity"],
                        d["citation_precision"],
                        d.get("paragraphs_finished"),
                        d.get("markdown_left"),
                        d.get("papers_by_position"),
                        d["total_s_p50"],
                    ]
                ],
            ),
            "",
        ]
    goals = targets(summary)
    if goals:
        mark = {True: "met", False: "**missed**", None: "–"}
        parts += [
            "## Targets (issue 11)",
            "",
            _table(
                ["target", "goal", "measured", ""], [[a, b, c, mark[d]] for a, b, c, d in goals]
            ),
            "",
        ]
    if plots:
        parts += ["## Plots", "", *(f"![{p}]({p})" for p in plots), ""]
    if "hybrid" in m.modes:
        parts += ["## Worst retrieval (hybrid)", "", worst_retrieval(run), ""]
    for system in m.systems:
        parts += [f"## Worst answers: {system}", "", worst_answers(run, system), ""]
    return "\n".join(parts)


# --- plots ---------------------------------------------------------------------------------


def plot(run: RunResult, summary: dict[str, Any], out: Path) -> list[Path]:
    """Bar charts of the metrics per mode and per system, and the latency distributions."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    paths: list[Path] = []

    def bars(
        groups: dict[str, dict[str, Any]], metrics: Sequence[str], title: str, name: str
    ) -> None:
        fig, ax = plt.subplots(figsize=(max(7, 1.3 * len(metrics) + 2), 4))
        width = 0.8 / max(len(groups), 1)
        x = np.arange(len(metrics))
        for i, (label, values) in enumerate(groups.items()):
            heights = [values.get(m) or 0.0 for m in metrics]
            ax.bar(x + (i - (len(groups) - 1) / 2) * width, heights, width, label=label)
        ax.set_xticks(x, [LABELS.get(m, m) for m in metrics], rotation=20, ha="right")
        ax.set_ylim(0, 1.18)
        ax.set_yticks([0, 0.2, 0.4, 0.6, 0.8, 1.0])
        ax.set_title(title)
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize="small", ncols=len(groups), loc="upper center", frameon=False)
        fig.tight_layout()
        path = out / name
        fig.savefig(path, dpi=110)
        plt.close(fig)
        paths.append(path)

    bars(
        summary["retrieval"],
        RETRIEVAL_METRICS,
        f"Retrieval per mode ({run.meta.suite}, answerable cases)",
        "retrieval.png",
    )
    if summary["answers"]:
        bars(
            summary["answers"],
            ANSWER_METRICS,
            f"Answers per system ({run.meta.suite})",
            "answers.png",
        )

    panels = [
        (
            "retrieval latency per mode (ms)",
            {
                mode: [s.latency_ms for c in run.cases if (s := c.in_mode(mode))]
                for mode in run.meta.modes
            },
        )
    ]
    if run.meta.systems:
        panels.append(
            (
                "answer total time per system (s)",
                {
                    system: [
                        a.total_s for c in run.cases if (a := c.by_system(system)) and not a.error
                    ]
                    for system in run.meta.systems
                },
            )
        )
    fig, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels), 4), squeeze=False)
    for ax, (title, data) in zip(axes[0], panels, strict=True):
        labels = [k for k, v in data.items() if v]
        if labels:
            ax.boxplot([data[k] for k in labels], tick_labels=labels, showfliers=True)
        ax.set_title(title)
        ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    path = out / "latency.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    paths.append(path)
    return paths


# --- compare -------------------------------------------------------------------------------


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
