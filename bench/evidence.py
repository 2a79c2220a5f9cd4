"""Evidence benchmark: what ``ask`` spends before the model, in one warm process.

Run: ``.venv/bin/python bench/evidence.py --store DIR [--questions 60] [--budgets 300,500,700]``
(the store must hold the sample corpus: ``assistant --store DIR ingest data/sample``).

For the questions of ``eval/suites/core.jsonl`` (answerable and not) it times
``answer.gather`` (hybrid search with the stored sentence vectors, the relevance gate, the
named-term check and ``select_evidence``; no history, so no model call) after a warm-up pass,
and reports p50/p95 ms with the median of ``AnswerTelemetry.retrieval_ms``; the issue's aim is
300 ms. Then, on the same hits, ``select_evidence`` alone per evidence budget: its median ms,
the prompt tokens it fills, and the share of ``answer_facts`` it shows (the ceiling of fact
accuracy, as ``assistant eval`` reports it). Prints tables, writes ``bench/results/evidence.json``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from _common import RESULTS, ROOT, median, percentile, print_table, write_results

from assistant.evals.metrics import fact_found, fact_share
from assistant.evals.suite import load_suite
from assistant.evidence import estimate_tokens, gather, select_evidence
from assistant.settings import Settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", type=Path, default=ROOT / "store")
    parser.add_argument("--questions", type=int, default=60)
    parser.add_argument("--budgets", default="300,500,700")
    parser.add_argument("--out", type=Path, default=RESULTS / "evidence.json")
    args = parser.parse_args()

    settings = Settings(store_dir=args.store)
    cases = load_suite(ROOT / "eval" / "suites" / "core.jsonl").cases[: args.questions]
    for case in cases[:5]:  # warm-up: embedder, BM25 index, Chroma collections
        gather(case.question, settings)

    walls, stages, gathered = [], [], []
    for case in cases:
        t0 = time.perf_counter()
        g = gather(case.question, settings)
        walls.append((time.perf_counter() - t0) * 1000)
        stages.append(g.telemetry.retrieval_ms)
        gathered.append((case, g))
    gather_row = {
        "questions": len(cases),
        "gather_ms_p50": round(median(walls), 1),
        "gather_ms_p95": round(percentile(walls, 95), 1),
        "retrieval_ms_p50": round(median(stages), 1),
        "aim_ms": 300,
    }

    budget_rows: list[dict[str, Any]] = []
    for budget in [int(b) for b in args.budgets.split(",")]:
        times: list[float] = []
        tokens: list[int] = []
        shown: list[tuple[list[str], list[str]]] = []
        for case, g in gathered:
            t0 = time.perf_counter()
            evidence, _ = select_evidence(g.hits, g.standalone_question, budget)
            times.append((time.perf_counter() - t0) * 1000)
            text = " ".join(ev.text for ev in evidence)
            tokens.append(estimate_tokens(text))
            if case.answer_facts:
                found = [f for f in case.answer_facts if fact_found(f, text)]
                shown.append((found, list(case.answer_facts)))
        budget_rows.append(
            {
                "budget": budget,
                "select_ms_p50": round(median(times), 2),
                "tokens_p50": median(tokens),
                "facts_shown": fact_share(shown),
                "fact_cases": len(shown),
            }
        )

    print_table(list(gather_row), [list(gather_row.values())], title="gather (warm, ms)")
    print_table(
        list(budget_rows[0]),
        [list(r.values()) for r in budget_rows],
        title="select_evidence per budget",
    )
    write_results(args.out, {"gather": gather_row, "budgets": budget_rows})


if __name__ == "__main__":
    main()
