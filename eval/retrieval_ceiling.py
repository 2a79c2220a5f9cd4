"""How far fusion and reranking can take hybrid retrieval on a suite, from the store's own lists.

Run: ``.venv/bin/python eval/retrieval_ceiling.py --store DIR [eval/suites/core.jsonl]``
(a store with the sample corpus ingested). Prints hit@5 (the eval harness's ``hit_at``) of:

* the two single lists, dense (stored paper vectors) and BM25 (the retriever's index);
* reciprocal rank fusion over a grid of the constant k and of the BM25 list's weight, to see
  whether ``retrieval.rrf_k`` or a weight is the lever;
* an oracle reranker: the fused top K reordered so that every gold paper in it comes first.
  No reranker does better than that, so where the oracle at K = 20 stays under a target, the
  first stage (the lists themselves), not the reranking, is what must get better.

Every paper is scored for every question (no candidate cut-off), so the figures can differ
from ``eval run`` by a case or two where a gold paper sits just beyond
``retrieval.candidates``. Writes nothing.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from assistant.evals.metrics import hit_at  # noqa: E402
from assistant.evals.suite import load_suite, resolve_gold, title_index  # noqa: E402
from assistant.retrieve import get_retriever, reciprocal_rank_fusion, tokenize  # noqa: E402
from assistant.settings import Settings  # noqa: E402

ORACLE_DEPTHS = (5, 10, 20, 30, 50)


def ranking(scores: np.ndarray, ids: Sequence[str], positive: bool = False) -> list[str]:
    """Ids best first (only scores above 0 when ``positive``, as BM25 returns them)."""
    order = np.argsort(-scores, kind="stable")
    return [ids[i] for i in order if not positive or scores[i] > 0]


def oracle(ranked: Sequence[str], gold: set[str], depth: int) -> list[str]:
    """The top ``depth`` with its gold papers moved to the front: a perfect reranker."""
    top = list(ranked[:depth])
    return [p for p in top if p in gold] + [p for p in top if p not in gold]


def main() -> None:
    parser = argparse.ArgumentParser(
        description="hit@5 of fusion variants and of an oracle reranker"
    )
    parser.add_argument("suite", nargs="?", default=str(ROOT / "eval/suites/core.jsonl"))
    parser.add_argument("--store", required=True, type=Path, help="An ingested store folder.")
    args = parser.parse_args()

    settings = Settings().with_overrides(store_dir=args.store, chroma_url=None)
    retriever = get_retriever(settings)
    index = retriever.bm25_index()
    ids = index.ids
    stored = retriever.store.get_with_vectors(ids)
    vectors = np.stack([stored[pid][1] for pid in ids])
    suite = load_suite(Path(args.suite))
    gold = resolve_gold(suite, title_index(paper for paper, _ in stored.values())).gold
    cases = [c for c in suite.cases if c.type != "unanswerable" and gold.get(c.id)]

    lists = []  # (dense ranking, BM25 ranking) per case
    query_vectors = retriever.embedder.embed([c.question for c in cases])
    for case, query in zip(cases, query_vectors, strict=True):
        tokens = index.model.get_tokens_ids(tokenize([case.question])[0])
        bm25 = index.model.get_scores_from_ids(tokens) if tokens else np.zeros(len(ids))
        lists.append((ranking(vectors @ query, ids), ranking(bm25, ids, positive=True)))

    def report(name: str, rankings: list[list[str]]) -> None:
        by_type: dict[str, list[float]] = defaultdict(list)
        for case, ranked in zip(cases, rankings, strict=True):
            by_type[case.type].append(hit_at(case.type, ranked, gold[case.id], 5))
        every = [x for xs in by_type.values() for x in xs]
        kinds = "  ".join(f"{t} {np.mean(xs):.3f}" for t, xs in sorted(by_type.items()))
        print(f"{name:38} hit@5 {np.mean(every):.3f}   {kinds}")

    def rrf(k: int, weights: tuple[float, float] = (1.0, 1.0)) -> list[list[str]]:
        return [[pid for pid, _ in reciprocal_rank_fusion(pair, k, weights)] for pair in lists]

    k_now = settings.retrieval.rrf_k
    print(f"{suite.name}: {len(cases)} answerable cases, {len(ids)} papers\n")
    report("dense", [dense for dense, _ in lists])
    report("bm25", [bm25 for _, bm25 in lists])
    for k in (5, 10, 20, 60):
        report(f"rrf k={k}", rrf(k))
    for weight in (0.6, 0.8, 1.2, 1.5):
        report(f"rrf k={k_now}, bm25 weight {weight}", rrf(k_now, (1.0, weight)))
    fused = rrf(k_now)
    for depth in ORACLE_DEPTHS:
        report(
            f"oracle rerank of the rrf k={k_now} top {depth}",
            [oracle(r, set(gold[c.id]), depth) for r, c in zip(fused, cases, strict=True)],
        )


if __name__ == "__main__":
    main()
