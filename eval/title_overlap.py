"""How many answerable suite questions find their gold paper from the titles alone.

Run: ``.venv/bin/python eval/title_overlap.py [eval/suites/core.jsonl ...]``. For each suite it
ranks the sample corpus's titles with BM25 (the retriever's tokenizer) against every
answerable question and counts the cases whose top title is a gold paper: a question that
copies its paper's title words makes retrieval look better than it is. Listed cases are the
ones to reword; ``tests/test_eval_suite.py`` keeps the share of ``core.jsonl`` under 40%.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from assistant.evals.suite import load_suite, title_only_first  # noqa: E402
from assistant.ingest import merge_duplicates  # noqa: E402
from assistant.parse import parse_paths  # noqa: E402


def main(paths: list[Path]) -> None:
    papers = merge_duplicates(parse_paths([ROOT / "data" / "sample"], year=2024).papers)
    for path in paths:
        suite = load_suite(path)
        first = title_only_first(suite, papers)
        types = {c.id: c.type for c in suite.cases}
        leaked = [cid for cid, hit in first.items() if hit]
        print(
            f"{suite.name}: {len(leaked)}/{len(first)} answerable cases "
            f"({len(leaked) / len(first):.0%}) rank a gold paper first from titles alone"
        )
        total, hits = Counter(types[c] for c in first), Counter(types[c] for c in leaked)
        for kind in total:
            print(f"  {kind:12} {hits[kind]:3}/{total[kind]}")
        for cid in leaked:
            print(f"  leaks: {cid}")


if __name__ == "__main__":
    main([Path(p) for p in sys.argv[1:]] or [ROOT / "eval" / "suites" / "core.jsonl"])
