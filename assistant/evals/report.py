"""An eval run as files, and read back.

``write_report(run, out)`` writes into ``out``:

- ``report.md``: provenance, tables per mode and per system, the issue's targets, and the
  worst cases with their question, answer and what went wrong;
- ``results.jsonl``: one line per case and system (retrieval and gate repeated on each line,
  so every line stands alone);
- ``summary.json``: the run's metadata, every metric, and the titles the report names;
- ``retrieval.png``, ``answers.png``, ``latency.png``: matplotlib plots (Agg backend).

``load_run(out)`` reads a run back from ``summary.json`` and ``results.jsonl``. The tables
and targets are ``tables.py``'s, the worst cases ``worst_cases.py``'s, the plots
``plots.py``'s; ``compare.py`` compares two runs.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from assistant.errors import InputError
from assistant.evals.metrics import AnswerScore
from assistant.evals.plots import plot
from assistant.evals.runner import CaseResult, RunMeta, RunResult
from assistant.evals.tables import (
    answers_table,
    disagreements_table,
    interests_table,
    markdown_table,
    retrieval_by_type_table,
    retrieval_table,
    tables_table,
    targets,
)
from assistant.evals.worst_cases import worst_answers, worst_retrieval
from assistant.files import write_atomic

# --- files ---------------------------------------------------------------------------------


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


# --- report.md -----------------------------------------------------------------------------


def render_markdown(run: RunResult, summary: dict[str, Any], plots: Sequence[str]) -> str:
    """``report.md``."""
    m = run.meta
    commit = (m.git_commit or "unknown")[:12] + (
        " (with uncommitted changes)" if m.git_dirty else ""
    )
    parts = [
        f"# Eval: {m.suite} ({m.cases} cases)",
        "",
        markdown_table(
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
    if m.notes:
        parts += ["## Notes", "", *(f"- {n}" for n in m.notes), ""]
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
        markdown_table(
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
            markdown_table(
                [
                    "n",
                    "core included",
                    "included relevant",
                    "cit. validity",
                    "cit. precision",
                    "paragraphs whole",
                    "markdown left",
                    "papers by position",
                    "table figures in abstract",
                    "result cells",
                    "table s p50",
                    "disagreements",
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
                        d.get("table_figures_in_abstract"),
                        d.get("table_result_cells"),
                        d.get("table_s_p50"),
                        d.get("disagreements"),
                        d["total_s_p50"],
                    ]
                ],
            ),
            "",
        ]
    if "interests" in summary:
        parts += [
            "## For you (interest cases)",
            "",
            "Each interest ranked over the whole store by the combined ranker and by each "
            "signal alone, in the same run; 'not' removed: share of cases with a 'not' phrase "
            "whose top 10 holds none of its excluded papers.",
            "",
            interests_table(summary),
            "",
        ]
    if "tables" in summary:
        parts += [
            "## Comparison tables (table cases)",
            "",
            "Each labelled paper's row of the comparison table: whether an abstract that "
            "states a result got a result cell, whether it holds the labelled headline figure, "
            "and whether every figure of every cell occurs in the abstract.",
            "",
            tables_table(summary),
            "",
        ]
    if "disagreements" in summary:
        parts += [
            "## Disagreements (labelled pairs)",
            "",
            "The detector run on each labelled pair of papers alone: precision is the share "
            "of flagged pairs that truly conflict, recall the share of conflicts flagged.",
            "",
            disagreements_table(summary),
            "",
        ]
    goals = targets(summary)
    if goals:
        mark = {True: "met", False: "**missed**", None: "–"}
        parts += [
            "## Targets (issue 11)",
            "",
            markdown_table(
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
