"""Startup benchmark: fresh-process wall time of the CLI, ONNX embedding backend against torch.

Run: ``.venv/bin/python bench/startup.py [--runs 15] [--store DIR] [--embed-papers 200]``.
Prints tables and writes ``bench/results/startup.json``.

What is measured:

* ``assistant --help``, ``stats`` and ``search "..."`` (the default hybrid search, with its
  best-sentence column) each in a new interpreter (``python -m assistant``), wall time from
  spawn to exit, ``--runs`` times per backend: the ONNX backend (the default) and
  ``ASSISTANT_EMBEDDING__BACKEND=torch``, the baseline, in the same run. Runs are
  interleaved (every command and backend once per round, after one warm-up round that is
  not counted), so machine noise lands on both alike. p50 and p95 per command and backend,
  and the ratio of the p50s (torch / onnx). Also the p50 CPU seconds (user + system) of the
  process: on a busy machine, a closer guess at the wall time a quiet one would show.
* Embedding throughput as ingest embeds (``Embedder.embed``: batches of
  ``embedding.batch_size``, sorted by length), abstracts per second, for each backend in this
  process after its model is loaded, alternating backends over ``--embed-rounds`` rounds.
* The store: ``--store DIR`` (an existing store of the sample corpus), or the sample corpus
  ingested into a temporary directory with the default backend (its wall time is reported).

The targets (issue 13): ``search`` p50 ≤ 1.5 s and ``stats`` ≤ 1 s on the sample store.
Timings on a shared 2-core machine are noisy: compare the same-run ratios.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import RESULTS, ROOT, median, percentile, print_table, write_results

from assistant.embed import Embedder
from assistant.ingest import ingest_paths, merge_duplicates
from assistant.parse import parse_paths
from assistant.settings import EmbeddingSettings, Settings

BACKENDS = ("onnx", "torch")
QUERIES = [
    "KV cache compression",
    "optical flow under occlusion",
    "reward models for RLHF",
    "video diffusion with temporal consistency",
    "mixture-of-experts routing",
]


def timed_cli(args: list[str], backend: str) -> tuple[float, float]:
    """Wall seconds from spawning ``python -m assistant ARGS`` to its exit (which must be 0),
    and the CPU seconds (user + system) the process used."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        "ASSISTANT_EMBEDDING__BACKEND": backend,
    }
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "assistant", *args], capture_output=True, text=True, env=env
    )
    took = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"assistant {' '.join(args)} failed ({backend}):\n{done.stderr}")
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return took, cpu


def startup(store: Path, runs: int) -> dict[str, dict[str, Any]]:
    """p50/p95 wall seconds (and p50 CPU seconds) of each command per backend, interleaved."""
    commands: dict[str, list[str]] = {
        "--help": ["--help"],
        "stats": ["--store", str(store), "stats"],
        "search": ["--store", str(store), "search", QUERIES[0]],
    }
    times: dict[tuple[str, str], list[float]] = {(c, b): [] for c in commands for b in BACKENDS}
    cpus: dict[tuple[str, str], list[float]] = {(c, b): [] for c in commands for b in BACKENDS}
    for round_ in range(runs + 1):  # round 0 warms the page cache and the BM25 index
        for name, args in commands.items():
            if name == "search":  # a different query each round, the same for both backends
                args = [*args[:-1], QUERIES[round_ % len(QUERIES)]]
            for backend in BACKENDS:
                took, cpu = timed_cli(args, backend)
                if round_:
                    times[(name, backend)].append(took)
                    cpus[(name, backend)].append(cpu)
        if round_:
            print(f"  round {round_}/{runs}", end="\r", flush=True)
    print()
    out: dict[str, dict[str, Any]] = {}
    for name in commands:
        row: dict[str, Any] = {}
        for backend in BACKENDS:
            values = times[(name, backend)]
            row[backend] = {
                "p50_s": round(percentile(values, 50), 3),
                "p95_s": round(percentile(values, 95), 3),
                "cpu_p50_s": round(percentile(cpus[(name, backend)], 50), 3),
                "all_s": [round(v, 3) for v in values],
            }
        row["torch_over_onnx_p50"] = round(row["torch"]["p50_s"] / row["onnx"]["p50_s"], 2)
        out[name] = row
    return out


def throughput(texts: list[str], rounds: int) -> dict[str, Any]:
    """Abstracts per second of ``Embedder.embed`` per backend (model loaded beforehand)."""
    embedders: dict[str, Embedder] = {}
    load_s: dict[str, float] = {}
    for backend in BACKENDS:
        t0 = time.perf_counter()
        embedders[backend] = Embedder(EmbeddingSettings(backend=backend))
        embedders[backend].embed(["load the model"])
        load_s[backend] = round(time.perf_counter() - t0, 2)
        assert embedders[backend].backend == backend, f"{backend} backend did not load"
    rates: dict[str, list[float]] = {b: [] for b in BACKENDS}
    for _ in range(rounds):
        for backend, embedder in embedders.items():
            embedder.clear_cache()
            t0 = time.perf_counter()
            embedder.embed(texts)
            rates[backend].append(len(texts) / (time.perf_counter() - t0))
    result: dict[str, Any] = {"abstracts": len(texts), "rounds": rounds}
    for backend in BACKENDS:
        result[backend] = {
            "abstracts_per_s_median": round(median(rates[backend]), 1),
            "abstracts_per_s_all": [round(r, 1) for r in rates[backend]],
            "in_process_load_s": load_s[backend],
        }
    result["onnx_over_torch"] = round(
        result["onnx"]["abstracts_per_s_median"] / result["torch"]["abstracts_per_s_median"], 2
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15, help="Counted runs per command/backend.")
    parser.add_argument("--store", type=Path, help="A store of the sample corpus (else built).")
    parser.add_argument("--embed-papers", type=int, default=200, help="Abstracts to embed.")
    parser.add_argument("--embed-rounds", type=int, default=2)
    parser.add_argument("--out", type=Path, default=RESULTS / "startup.json")
    args = parser.parse_args()

    results: dict[str, Any] = {
        "cpu_count": os.cpu_count(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "runs": args.runs,
    }
    with tempfile.TemporaryDirectory() as tmp:
        store = args.store
        if store is None:
            store = Path(tmp) / "store"
            t0 = time.perf_counter()
            report = ingest_paths(
                Settings(store_dir=store), [ROOT / "data" / "sample"], "auto", year=2024
            )
            results["store_build"] = {
                "papers": report.store_total,
                "seconds": round(time.perf_counter() - t0, 1),
                "backend": Settings().embedding.backend,
            }
            print(f"built the sample store: {report.store_total} papers, {results['store_build']}")
        print(f"fresh-process startup, {args.runs} interleaved runs per command and backend")
        results["startup"] = startup(store, args.runs)

    papers = merge_duplicates(parse_paths([ROOT / "data" / "sample"], year=2024).papers)
    chosen = random.Random(7).sample(papers, min(args.embed_papers, len(papers)))
    print(f"embedding throughput: {len(chosen)} abstracts x {args.embed_rounds} rounds")
    results["embed_throughput"] = throughput([p.text for p in chosen], args.embed_rounds)
    results["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    write_results(args.out, results)

    print_table(
        [
            "command",
            "onnx p50",
            "onnx p95",
            "onnx CPU",
            "torch p50",
            "torch p95",
            "torch CPU",
            "ratio",
        ],
        [
            [
                name,
                row["onnx"]["p50_s"],
                row["onnx"]["p95_s"],
                row["onnx"]["cpu_p50_s"],
                row["torch"]["p50_s"],
                row["torch"]["p95_s"],
                row["torch"]["cpu_p50_s"],
                f"{row['torch_over_onnx_p50']}x",
            ]
            for name, row in results["startup"].items()
        ],
        title="fresh-process seconds (CPU: p50 user+system; ratio: torch p50 / onnx p50)",
    )
    tp = results["embed_throughput"]
    print_table(
        ["backend", "abstracts/s (median)", "all rounds", "model load s"],
        [
            [
                b,
                tp[b]["abstracts_per_s_median"],
                tp[b]["abstracts_per_s_all"],
                tp[b]["in_process_load_s"],
            ]
            for b in BACKENDS
        ],
        title=f"embedding throughput, {tp['abstracts']} abstracts "
        f"(onnx/torch {tp['onnx_over_torch']}x)",
    )
    print(
        f"load average: start {results['load_average_at_start']}, "
        f"end {results['load_average_at_end']}"
    )


if __name__ == "__main__":
    main()
