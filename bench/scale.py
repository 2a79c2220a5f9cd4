"""Scale benchmark: what the assistant costs at 1k, 10k, 100k papers.

Run: ``.venv/bin/python bench/scale.py --papers 1000,10000`` (``--papers 100000`` for the big
one). It measures COST, NOT QUALITY: the corpus is synthetic, built from the sample (each paper
a recombination of 4-9 sentences of sample abstracts, a unique title and id, dates spread over
2023-2024), so answers over it mean nothing. Each size runs in a child process of its own (peak
RSS is per size) on a fresh embedded store, and writes ``bench/results/scale-<n>.json``; then
``scale.png`` plots every cost against corpus size from all the result files there.

Figures per size (medians; seconds unless said):

* ``build_s``, ``build_papers_per_s``: the whole corpus through ``ingest_papers``, every
  paper's text through the embedding model. With ``--derived`` (``build_vectors`` says
  which), a paper's vector is instead the mean of the vectors of the sample sentences it is
  made of, so 100,000 papers build in minutes, not the ~80 min of embedding on 2 cores: the
  store, the indexes and every query figure are as real, and ``build_*`` is the write path
  alone. The embedding cost is ``cold_*``: a 500-paper slice whose
  every sentence is unique (a variant tag), cache cleared, on a fresh store;
  ``cold_papers_per_s`` and ``cold_sentences_per_s`` are the real ingest speed on this box,
  and ``peer_cold_papers_per_s`` the stock llama-index ingest (``VectorStoreIndex`` into
  Chroma, the same embedder) of the same slice in the same run.
* ``store_mib`` on disk; ``ingest_peak_rss_mib`` of the child after the build. With
  ``--work DIR`` the stores are kept; a rerun measures the rest on them and carries the
  build figures over (``build_when`` says when they were measured).
* ``bm25_build_s`` and ``bm25_mib`` (tracemalloc peak while building; numpy reports to it).
* ``hybrid_p50_ms``/``hybrid_p95_ms``: ``Retriever.search`` warm, over the core suite's
  questions, the papers only (as the Library searches); ``hybrid_sentences_*`` also picks
  each hit's best abstract sentences (as ``assistant search`` and the chat do), embedding
  them on the papers' first showing (the embedder's cache is cleared for every query);
  ``peer_hybrid_*``: llama-index's fused vector+BM25 retriever over the same collection
  (``peer_setup_s`` is its BM25 built from every node), up to ``--peer-max``.
* ``fresh_search_s``: ``assistant search`` in a new process, whole command.
* ``weekly_s``: ``assistant weekly --week W --no-llm`` for the busiest week, whole command;
  ``weeks_s``: listing the store's weeks (the week picker); ``browse_s``: the library's first
  page, newest first; ``stats_s``: ``assistant stats``'s figures (each a median of three calls
  in one process); ``index_load_s``: a new process's first read of the saved BM25 index and
  catalog, which those read from.
* ``for_you_s``, ``for_you_week_s``: ``assistant for-you`` for a phrase interest in a new
  process, over the whole store and the busiest week; ``for_you_first_s``: the first run
  after a new revision, which reads every vector from the store once and keeps them beside
  the BM25 index.
* ``app_start_s`` (``assistant ui`` until it answers) and ``app_rss_mib`` after one search.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

from _common import (
    RESULTS,
    ROOT,
    free_port,
    median,
    percentile,
    print_table,
    stock_ingest,
    write_results,
)

ASSISTANT = str(Path(sys.executable).parent / "assistant")
CORE = ROOT / "eval" / "suites" / "core.jsonl"
COLD_SLICE = 500


# --- the synthetic corpus --------------------------------------------------------------------


def corpus(n: int, seed: int = 7, *, unique_sentences: bool = False) -> list[Any]:
    """``n`` papers recombined from the sample's sentences (see the module docstring)."""
    from assistant.ingest import merge_duplicates
    from assistant.models import Paper
    from assistant.parse import parse_paths
    from assistant.text import split_sentences

    sample = merge_duplicates(parse_paths([ROOT / "data" / "sample"], year=2024).papers)
    sentences = [s for p in sample for s in split_sentences(p.abstract)]
    words = sorted({w for p in sample for w in re.findall(r"[A-Za-z][a-z]{3,}", p.title)})
    rng = random.Random(seed)
    start = dt.date(2023, 1, 1)
    papers = []
    for i in range(n):
        picked = rng.sample(sentences, rng.randint(4, 9))
        if unique_sentences:
            picked = [f"{s.rstrip('.')} (variant {i}.{j})." for j, s in enumerate(picked)]
        title = " ".join(rng.sample(words, 5)).capitalize() + f" {i}"
        papers.append(
            Paper(
                id=f"synthetic-{seed}-{i}",
                title=title,
                abstract=" ".join(picked),
                published=start + dt.timedelta(days=rng.randrange(730)),
                sources=[f"synthetic-{i // 5000:03d}.jsonl"],
            )
        )
    return papers


class DerivedVectors:
    """Stands in for the embedder in a ``--derived`` build: a synthetic paper's vector is the
    normalized mean of its sample sentences' vectors (each embedded once, by the model)."""

    def __init__(self, embedder: Any) -> None:
        self.embedder = embedder
        self.sentences: dict[str, Any] = {}

    def embed(self, texts: list[str], progress: Any = None) -> Any:
        import numpy as np

        from assistant.text import split_sentences

        parts = [split_sentences(t.split("\n\n", 1)[-1]) for t in texts]
        unseen = sorted({s for part in parts for s in part} - self.sentences.keys())
        if unseen:
            self.sentences |= dict(zip(unseen, self.embedder.embed(unseen), strict=True))
        rows = [np.mean([self.sentences[s] for s in part], axis=0) for part in parts]
        return np.stack([r / np.linalg.norm(r) for r in rows]).astype(np.float32)


# --- one size, in a child process ------------------------------------------------------------


def rss_mib(pid: int | None = None, field: str = "VmRSS") -> float:
    """Resident memory of a process (``VmHWM``: its peak), MiB, from /proc."""
    text = Path(f"/proc/{pid or os.getpid()}/status").read_text()
    found = re.search(rf"^{field}:\s+(\d+) kB", text, re.M)
    return int(found[1]) / 1024 if found else float("nan")


def folder_mib(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20


def timed_command(args: list[str], env: dict[str, str], runs: int = 3) -> float:
    """Median wall seconds of a whole command (it must succeed)."""
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(args, env=env, check=True, capture_output=True)
        times.append(time.perf_counter() - t0)
    return median(times)


def questions(n: int = 40) -> list[str]:
    rows = [json.loads(line) for line in CORE.read_text().splitlines() if line.strip()]
    return [str(r["question"]) for r in rows if r.get("question")][:n]


def latencies(search: Any, queries: list[str]) -> tuple[float, float]:
    """p50 and p95 ms of ``search`` over the queries, warm (indexes loaded) but each query
    embedded anew: ours and the peer share one embedder, whose cache would favour the
    second to run."""
    from assistant.embed import get_embedder
    from assistant.settings import Settings

    embedder = get_embedder(Settings())
    for q in queries[:3]:
        search(q)  # warm: indexes and models loaded
    times = []
    for q in queries:
        embedder.clear_cache()
        t0 = time.perf_counter()
        search(q)
        times.append((time.perf_counter() - t0) * 1000)
    return round(median(times), 1), round(percentile(times, 95), 1)


def cold_ingest(folder: Path) -> dict[str, Any]:
    """Ours and the stock llama-index ingest over one slice of unique texts, same run."""
    from assistant.embed import get_embedder
    from assistant.ingest import ingest_papers
    from assistant.settings import Settings
    from assistant.store import open_store
    from assistant.text import split_sentences

    papers = corpus(COLD_SLICE, seed=11, unique_sentences=True)
    for kept in ("cold", "peer"):  # a kept --work folder holds the last run's: start empty
        shutil.rmtree(folder / kept, ignore_errors=True)
    settings = Settings(store_dir=folder / "cold")
    embedder = get_embedder(settings)
    embedder.clear_cache()
    t0 = time.perf_counter()
    ingest_papers(open_store(settings), embedder, papers, batch_size=settings.ingest_batch)
    ours = time.perf_counter() - t0
    sentences = sum(len(split_sentences(p.abstract)) for p in papers)
    peer = stock_ingest(papers, folder / "peer", settings)
    return {
        "cold_papers": len(papers),
        "cold_s": round(ours, 2),
        "cold_papers_per_s": round(len(papers) / ours, 1),
        "cold_sentences_per_s": round(sentences / ours, 1),
        "peer_cold_s": round(peer, 2),
        "peer_cold_papers_per_s": round(len(papers) / peer, 1),
        "cold_vs_peer": round(ours / peer, 2),
    }


def measure(
    n: int, folder: Path, peer_max: int, cold: bool, previous: dict[str, Any], derived: bool
) -> dict[str, Any]:
    from assistant.embed import get_embedder
    from assistant.ingest import ingest_papers
    from assistant.library import library_page
    from assistant.retrieve import BM25Index, Retriever, catalog, get_retriever
    from assistant.settings import Settings
    from assistant.store import open_store
    from assistant.weekly import store_weeks

    out: dict[str, Any] = {"papers": n, "when": dt.datetime.now().isoformat(timespec="seconds")}
    settings = Settings(store_dir=folder / "store")
    if open_store(settings).count() == n and "build_s" in previous:  # kept from a run before
        kept = ("build_s", "build_papers_per_s", "ingest_peak_rss_mib", "build_when")
        for name in (*kept, "build_vectors"):
            out[name] = previous.get(name)
    else:
        papers = corpus(n)
        embedder: Any = get_embedder(settings)
        embedder.embed(["warm-up"])
        if derived:
            embedder = DerivedVectors(embedder)
            embedder.embed([p.text for p in papers])  # every sentence, before the clock
        t0 = time.perf_counter()
        ingest_papers(open_store(settings), embedder, papers, batch_size=settings.ingest_batch)
        build = time.perf_counter() - t0
        out["build_vectors"] = "derived from sentence vectors" if derived else "model"
        out |= {"build_s": round(build, 1), "build_papers_per_s": round(n / build, 1)}
        out["ingest_peak_rss_mib"] = round(rss_mib(field="VmHWM"))
        out["build_when"] = out["when"]
    out["store_mib"] = round(folder_mib(folder / "store"), 1)

    store = open_store(settings)
    revision = store.revision()
    tracemalloc.start()
    t0 = time.perf_counter()
    BM25Index.build(store.iter_index_rows(), revision)
    out["bm25_build_s"] = round(time.perf_counter() - t0, 2)
    out["bm25_mib"] = round(tracemalloc.get_traced_memory()[1] / 2**20, 1)
    tracemalloc.stop()

    retriever = get_retriever(settings)
    queries = questions()
    out["hybrid_p50_ms"], out["hybrid_p95_ms"] = latencies(
        lambda q: retriever.search(q, k=10, mode="hybrid", sentences=False), queries
    )
    out["hybrid_sentences_p50_ms"], out["hybrid_sentences_p95_ms"] = latencies(
        lambda q: retriever.search(q, k=10, mode="hybrid"), queries
    )
    if n <= peer_max:
        from llama_index.core import QueryBundle

        from assistant.evals.llamaindex import SeamLLM, stock_retriever
        from assistant.llm import FakeLLM

        t0 = time.perf_counter()
        stock = stock_retriever(settings, SeamLLM.of(FakeLLM(settings.llm), settings), 10)
        out["peer_setup_s"] = round(time.perf_counter() - t0, 2)
        out["peer_hybrid_p50_ms"], out["peer_hybrid_p95_ms"] = latencies(
            lambda q: stock.retrieve(QueryBundle(q)), queries
        )

    t0 = time.perf_counter()
    Retriever(settings).bm25_index()  # a new process's first read: the saved index and catalog
    out["index_load_s"] = round(time.perf_counter() - t0, 2)
    for name, call in (
        ("weeks_s", lambda: store_weeks(settings)),
        ("browse_s", lambda: library_page(settings, "", order="newest", page=1)),
        ("stats_s", lambda: catalog(settings).stats(open_store(settings))),
    ):
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            call()
            times.append(time.perf_counter() - t0)
        out[name] = round(median(times), 3)

    env = {**os.environ, "ASSISTANT_STORE_DIR": str(folder / "store")}
    out["fresh_search_s"] = round(
        timed_command([ASSISTANT, "search", "optical flow occlusion", "--json"], env), 2
    )
    weeks = store_weeks(settings).weeks
    busiest = max(weeks, key=lambda w: weeks[w])
    out["weekly_week"], out["weekly_papers"] = busiest, weeks[busiest]
    out["weekly_s"] = round(
        timed_command([ASSISTANT, "weekly", "--week", busiest, "--no-llm", "--force"], env, runs=1),
        2,
    )
    # For you: a phrase interest over the whole store and over the busiest week. The first
    # run after a new revision reads every vector from the store and keeps them beside the
    # BM25 index (removed here so that run is measured); later runs map that file.
    subprocess.run([ASSISTANT, "interest", "remove", "bench"], env=env, capture_output=True)
    add = [ASSISTANT, "interest", "add", "bench", "--phrase", "optical flow occlusion"]
    subprocess.run(add, env=env, check=True, capture_output=True)
    for kept in (folder / "store" / "bm25").glob("*/*/vectors.npy"):
        kept.unlink()
    for_you = [ASSISTANT, "for-you", "bench", "-k", "10", "--json"]
    out["for_you_first_s"] = round(timed_command(for_you, env, runs=1), 2)
    out["for_you_s"] = round(timed_command(for_you, env), 2)
    out["for_you_week_s"] = round(timed_command([*for_you, "--week", busiest], env), 2)
    out |= app_start(env)
    if cold:
        out |= cold_ingest(folder)
    return out


def app_start(env: dict[str, str]) -> dict[str, Any]:
    """Start ``assistant ui``, time until it answers, search once, read its RSS."""
    import httpx
    from gradio_client import Client

    port = free_port()
    log = open(os.devnull, "wb")  # noqa: SIM115 (closed with the process below)
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [ASSISTANT, "ui", "--host", "127.0.0.1", "--port", str(port)],
        env={**env, "ASSISTANT_LLM__PROVIDER": "fake"},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"assistant ui exited with {proc.returncode}")
            try:
                if httpx.get(url, timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        started = time.perf_counter() - t0
        client = Client(url, verbose=False, download_files=False)
        args = ["optical flow", "hybrid", "", "", "All sources", "best match", 1, False]
        client.predict(*args, api_name="/search")
        return {"app_start_s": round(started, 2), "app_rss_mib": round(rss_mib(proc.pid))}
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


# --- the parent: sizes, results, plot ----------------------------------------------------------


def real(result: dict[str, Any], name: str) -> bool:
    """Whether a figure is what its name says: a build with derived vectors has no model
    speed to plot."""
    return not name.startswith("build") or result.get("build_vectors", "model") == "model"


def plot(results: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results = sorted(results, key=lambda r: r["papers"])
    sizes = [r["papers"] for r in results]
    panels = [
        (
            "seconds",
            ["weekly_s", "fresh_search_s", "for_you_s", "app_start_s", "bm25_build_s", "browse_s"],
        ),
        (
            "ms per query (warm)",
            ["hybrid_p50_ms", "hybrid_sentences_p50_ms", "peer_hybrid_p50_ms"],
        ),
        ("MiB", ["store_mib", "ingest_peak_rss_mib", "app_rss_mib", "bm25_mib"]),
        ("papers/s", ["build_papers_per_s", "cold_papers_per_s", "peer_cold_papers_per_s"]),
    ]
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 4))
    for ax, (unit, names) in zip(axes, panels, strict=True):
        for name in names:
            points = [(r["papers"], r[name]) for r in results if name in r and real(r, name)]
            if points:
                ax.plot(*zip(*points, strict=True), marker="o", label=name)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("papers")
        ax.set_ylabel(unit)
        ax.set_xticks(sizes, [f"{s:,}" for s in sizes])
        ax.legend(fontsize=7)
    fig.suptitle("papers-assistant: cost against corpus size (synthetic corpus)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    print(f"wrote {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--papers", default="1000,10000", help="Sizes, comma-separated.")
    parser.add_argument("--peer-max", type=int, default=10000, help="Largest size for the peer.")
    parser.add_argument("--no-cold", action="store_true", help="Skip the cold-ingest slice.")
    parser.add_argument(
        "--derived", action="store_true", help="Build paper vectors without the model."
    )
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument(
        "--work", type=Path, help="Keep the built stores here; a rerun skips the build."
    )
    args = parser.parse_args()

    if args.child:
        path = args.out / f"scale-{args.child}.json"
        previous = json.loads(path.read_text()) if path.exists() else {}
        cold = not args.no_cold
        if args.work:  # the store is kept there: a rerun measures it without rebuilding it
            folder = args.work / f"scale-{args.child}"
            folder.mkdir(parents=True, exist_ok=True)
            result = measure(args.child, folder, args.peer_max, cold, previous, args.derived)
        else:
            with tempfile.TemporaryDirectory(prefix="scale-") as tmp:
                result = measure(args.child, Path(tmp), args.peer_max, cold, previous, args.derived)
        if not cold:  # the cold slice does not depend on the size: keep the last one
            result |= {k: v for k, v in previous.items() if k.startswith(("cold", "peer_cold"))}
        write_results(path, result)
        return

    for n in [int(s) for s in args.papers.split(",")]:
        command = [sys.executable, __file__, "--child", str(n), "--peer-max", str(args.peer_max)]
        command += ["--out", str(args.out)] + (["--no-cold"] if args.no_cold else [])
        command += ["--derived"] if args.derived else []
        subprocess.run(command + (["--work", str(args.work)] if args.work else []), check=True)
    results = [json.loads(p.read_text()) for p in sorted(args.out.glob("scale-*.json"))]
    keys = sorted({k for r in results for k in r} - {"papers", "when", "build_when"})
    print_table(
        ["figure", *(f"{r['papers']:,}" for r in results)],
        [[k, *(r.get(k, "") for r in results)] for k in keys],
    )
    plot(results, args.out / "scale.png")


if __name__ == "__main__":
    main()
