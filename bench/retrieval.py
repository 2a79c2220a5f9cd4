"""Retrieval benchmark: query latency per mode at the sample size, 10k and 100k papers.

Run: ``.venv/bin/python bench/retrieval.py [--sizes sample,10000,100000] [--queries 200]``.
Prints a table and writes ``bench/results/retrieval.json``.

What is measured, per corpus size:

* ``search(query, k=10, mode=..., sentences=False)`` wall time for each mode over ``--queries``
  distinct queries (the embedder's text cache is cleared before each mode, so every query is
  embedded), after a few warm-up queries: p50 and p95 in ms, plus median per-stage times.
* ``hybrid+filter``: hybrid with a publication-date filter (about half the corpus matches):
  Chroma's filtered vector query and BM25's filter mask.
* ``hybrid+sentences``: hybrid with the best-sentence evidence (extra embedding of the hits'
  abstract sentences), reported apart because the issue's latency aim excludes it.
* One-off costs, reported apart: BM25 index build, BM25 index load in a fresh retriever (what
  a new process pays), and the store build (not part of any aim).

Synthetic papers. Embedding 100k abstracts at ~30/s would take an hour, so the corpus is made
by recombination: every sample abstract sentence and title is embedded once (about 5k texts,
cached under ``bench/results/cache/``), and a synthetic paper takes a sample title plus 4-8
random sample sentences; its vector is the normalized sum of those parts' vectors. Text and
vector stay consistent (BM25 sees the words, dense sees their meaning), the vocabulary and
vector distribution are the sample's, and no text is embedded twice. Synthetic stores are
built once per (size, model, seed) under ``bench/results/stores/`` and reused by later runs.
Queries are the core eval suite's questions plus sample titles and sentence fragments.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import os
import random
import shutil
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
from _common import RESULTS, ROOT, percentile, print_table, write_results

from assistant.embed import get_embedder
from assistant.evals.suite import load_suite
from assistant.ingest import merge_duplicates
from assistant.models import Paper, paper_id_for
from assistant.parse import parse_paths
from assistant.retrieve import MODES, Retriever, SearchFilters
from assistant.settings import Settings
from assistant.store import open_store
from assistant.text import split_sentences

SEED = 13


def cached_vectors(name: str, texts: list[str], settings: Settings) -> np.ndarray:
    """Vectors of ``texts``, embedded once and kept in bench/results/cache/."""
    key = hashlib.sha256(
        "\n".join(
            [settings.embedding.model, str(settings.embedding.max_seq_length), *texts]
        ).encode()
    ).hexdigest()[:12]
    path = RESULTS / "cache" / f"{name}-{key}.npy"
    if path.exists():
        return np.load(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    vectors = get_embedder(settings).embed(texts)
    print(f"  embedded {len(texts)} {name} texts once in {time.perf_counter() - t0:.0f} s")
    np.save(path, vectors)
    return vectors


def synthetic(papers: list[Paper], n: int, settings: Settings) -> tuple[list[Paper], np.ndarray]:
    """n recombined papers and their vectors (see the module docstring)."""
    sentences = sorted({s for p in papers for s in split_sentences(p.abstract)})
    titles = [p.title for p in papers]
    s_vec = cached_vectors("sentences", sentences, settings)
    t_vec = cached_vectors("titles", titles, settings)
    rng = random.Random(SEED)
    start = dt.date(2024, 1, 1)
    out, vectors = [], np.empty((n, s_vec.shape[1]), dtype=np.float32)
    for i in range(n):
        t = rng.randrange(len(titles))
        picks = rng.sample(range(len(sentences)), rng.randint(4, 8))
        title = f"{titles[t]} [{i}]"
        vector = t_vec[t] + s_vec[picks].sum(axis=0)
        vectors[i] = vector / np.linalg.norm(vector)
        out.append(
            Paper(
                id=paper_id_for(title),
                title=title,
                abstract=" ".join(sentences[j] for j in picks),
                published=start + dt.timedelta(days=rng.randrange(366)),
                added=dt.date.today(),
                sources=[f"synthetic-{i % 4}.jsonl"],
            )
        )
    return out, vectors


def build_store(settings: Settings, papers: list[Paper], vectors: np.ndarray) -> float:
    """Write papers with their vectors unless the store already holds them; seconds spent."""
    store = open_store(settings)
    if store.count() == len(papers):
        return 0.0
    if store.count():
        store.delete_collection()
        store = open_store(settings)
    t0 = time.perf_counter()
    size = min(store.max_batch, 5000)
    for i in range(0, len(papers), size):
        store.write_batch(papers[i : i + size], vectors[i : i + size])
    return time.perf_counter() - t0


def queries(papers: list[Paper], n: int) -> list[str]:
    """n distinct queries: core-suite questions, then title prefixes and sentence fragments."""
    found = [case.question for case in load_suite(ROOT / "eval" / "suites" / "core.jsonl").cases]
    rng = random.Random(SEED + 1)
    pool = list(papers)
    rng.shuffle(pool)
    for p in pool:
        words = p.title.split()
        found.append(" ".join(words[: rng.randint(3, 8)]))
        sentence = rng.choice(split_sentences(p.abstract) or [p.abstract]).split()
        found.append(" ".join(sentence[: rng.randint(6, 14)]))
    return list(dict.fromkeys(found))[:n]


def measure(retriever: Retriever, qs: list[str], mode: str, **options: Any) -> dict[str, Any]:
    """Latency of each query (ms) and the median of each stage."""
    retriever.embedder.clear_cache()
    for q in ("warm up the retriever", "another warm-up query", "third warm-up"):
        retriever.search(q, k=10, mode=mode, **options)
    times, stages = [], {}
    for q in qs:
        t0 = time.perf_counter()
        result = retriever.search(q, k=10, mode=mode, **options)
        times.append((time.perf_counter() - t0) * 1000)
        for name, ms in result.timings.items():
            stages.setdefault(name, []).append(ms)
    return {
        "queries": len(times),
        "p50_ms": round(percentile(times, 50), 1),
        "p95_ms": round(percentile(times, 95), 1),
        "mean_ms": round(statistics.fmean(times), 1),
        "stage_p50_ms": {
            k: round(percentile(v, 50), 2) for k, v in stages.items() if k != "total_ms"
        },
    }


def run_size(
    label: str, base: Settings, papers: list[Paper], vectors: np.ndarray, n_queries: int
) -> dict[str, Any]:
    """Build (or reuse) a store of these papers and time every mode on it."""
    print(f"[{label}] {len(papers)} papers")
    settings = base.with_overrides(store_dir=RESULTS / "stores" / label)
    store_s = build_store(settings, papers, vectors)
    building = Retriever(settings)
    for old in building.index_root.glob("*"):  # time a real build, not a leftover index
        shutil.rmtree(old, ignore_errors=True)
    building.bm25_index()
    build_event = building.index_event
    fresh = Retriever(settings)  # a new process: loads the saved index
    fresh.bm25_index()
    load_event = fresh.index_event
    qs = queries(papers, n_queries)
    rows: dict[str, Any] = {}
    for mode in MODES:
        rows[mode] = measure(fresh, qs, mode, sentences=False)
        print(f"  {mode:17s} p50 {rows[mode]['p50_ms']:7.1f} ms  p95 {rows[mode]['p95_ms']:7.1f}")
    dates = sorted(p.published for p in papers if p.published)
    if dates:
        half = SearchFilters(since=dates[len(dates) // 2])
        rows["hybrid+filter"] = measure(fresh, qs, "hybrid", sentences=False, filters=half)
    rows["hybrid+sentences"] = measure(fresh, qs[: max(50, n_queries // 4)], "hybrid")
    for name in ("hybrid+filter", "hybrid+sentences"):
        if name in rows:
            print(
                f"  {name:17s} p50 {rows[name]['p50_ms']:7.1f} ms  p95 {rows[name]['p95_ms']:7.1f}"
            )
    return {
        "papers": len(papers),
        "store_build_s": round(store_s, 1) if store_s else "reused",
        "bm25_build_s": round(build_event[1], 2) if build_event else None,
        "bm25_load_s": round(load_event[1], 3) if load_event else None,
        "bm25_load_kind": load_event[0] if load_event else None,
        "modes": rows,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="sample,10000,100000")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--out", type=Path, default=RESULTS / "retrieval.json")
    args = parser.parse_args()

    base = Settings()
    t0 = time.perf_counter()
    get_embedder(base).embed_one("load the model")
    load_s = time.perf_counter() - t0
    sample = merge_duplicates(parse_paths([ROOT / "data" / "sample"], year=2024).papers)
    sample = [p.model_copy(update={"added": dt.date.today()}) for p in sample]

    results: dict[str, Any] = {
        "cpu_count": os.cpu_count(),
        "model_load_s": round(load_s, 2),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "k": 10,
        "sizes": {},
    }
    for size in args.sizes.split(","):
        if size == "sample":
            vectors = cached_vectors("sample-papers", [p.text for p in sample], base)
            results["sizes"]["sample"] = run_size("sample", base, sample, vectors, args.queries)
        else:
            papers, vectors = synthetic(sample, int(size), base)
            results["sizes"][size] = run_size(f"syn{size}", base, papers, vectors, args.queries)
        results["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
        write_results(args.out, results)  # after each size: a long run keeps what it measured

    print_table(
        ["papers", "mode", "p50 ms", "p95 ms", "stage p50 (ms)"],
        [
            [
                info["papers"],
                mode,
                f"{row['p50_ms']:.1f}",
                f"{row['p95_ms']:.1f}",
                " ".join(
                    f"{k.removesuffix('_ms')}={v}"
                    for k, v in row["stage_p50_ms"].items()
                    if v >= 0.05
                ),
            ]
            for info in results["sizes"].values()
            for mode, row in info["modes"].items()
        ],
        left=["mode", "stage p50 (ms)"],
    )
    for info in results["sizes"].values():
        print(
            f"{info['papers']} papers, one-off: BM25 build {info['bm25_build_s']} s, BM25 load "
            f"{info['bm25_load_s']} s ({info['bm25_load_kind']}), "
            f"store build {info['store_build_s']} s"
        )


if __name__ == "__main__":
    main()
