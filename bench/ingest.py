"""Ingest benchmark: cold ingest of the sample corpus and warm re-ingest of it, unchanged.

Run: ``.venv/bin/python bench/ingest.py [--runs 3] [--batch 32,64]``. Each run uses a fresh
store; the embedding model is loaded once beforehand (its load time is reported apart).
Prints a table and writes ``bench/results/ingest.json``. Figures: abstracts/second (median
over runs), wall seconds, and peak RSS of this process. Two baselines, measured in the same
run, each run in turn: the bare model (the embedding backend, ONNX by default, over the same
texts in batches of the same size, sorted by length; ``cold_vs_bare_encode`` is our whole
ingest, parse, merge, embed, write, over that), and the stock llama-index ingest of the same
papers into Chroma through the same embedder (``cold_vs_stock``). ``cold_sentences_s`` is our
ingest with ``ingest_sentences`` (every abstract sentence embedded and stored too).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from _common import RESULTS, ROOT, median, peak_rss_mib, print_table, stock_ingest, write_results

from assistant.embed import get_embedder
from assistant.ingest import ingest_papers, merge_duplicates
from assistant.parse import parse_paths
from assistant.settings import Settings
from assistant.store import open_store


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--corpus", type=Path, default=ROOT / "data" / "sample")
    parser.add_argument("--out", type=Path, default=RESULTS / "ingest.json")
    parser.add_argument(
        "--sentences", action="store_true", help="Also time ingest with ingest_sentences."
    )
    args = parser.parse_args()

    t0 = time.perf_counter()
    base = Settings()
    embedder = get_embedder(base)
    embedder.embed(["warm-up"])  # the model loads lazily: load it here, timed apart
    load_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    papers = parse_paths([args.corpus], year=2024).papers
    parse_s = time.perf_counter() - t0

    texts = [p.text for p in merge_duplicates(papers)]
    by_length = sorted(texts, key=len)  # as sentence-transformers' encode batches them
    cold, warm, counts, bare, stock, eager = [], [], [], [], [], []
    for _ in range(args.runs):
        t0 = time.perf_counter()
        for i in range(0, len(by_length), base.embedding.batch_size):
            embedder.encode(by_length[i : i + base.embedding.batch_size])
        bare.append(time.perf_counter() - t0)
        with tempfile.TemporaryDirectory() as tmp:
            settings = base.with_overrides(store_dir=Path(tmp) / "ours")
            embedder.clear_cache()
            t0 = time.perf_counter()
            report = ingest_papers(
                open_store(settings), embedder, papers, batch_size=settings.ingest_batch
            )
            cold.append(time.perf_counter() - t0)
            counts.append(report.added)
            t0 = time.perf_counter()
            again = parse_paths([args.corpus], year=2024).papers
            ingest_papers(open_store(settings), embedder, again)
            warm.append(time.perf_counter() - t0)
            stock.append(stock_ingest(merge_duplicates(papers), Path(tmp) / "stock", base))
            if args.sentences:
                settings = base.with_overrides(store_dir=Path(tmp) / "eager")
                embedder.clear_cache()
                t0 = time.perf_counter()
                ingest_papers(
                    open_store(settings),
                    embedder,
                    papers,
                    batch_size=settings.ingest_batch,
                    sentences=True,
                )
                eager.append(time.perf_counter() - t0)

    n = counts[0]
    result = {
        "papers": n,
        "runs": args.runs,
        "model_load_s": round(load_s, 2),
        "parse_s": round(parse_s, 3),
        "cold_s_median": round(median(cold), 2),
        "cold_abstracts_per_s_median": round(n / median(cold), 1),
        "warm_reingest_s_median": round(median(warm), 2),
        "bare_encode_s_median": round(median(bare), 2),
        "cold_vs_bare_encode": round(median(cold) / median(bare), 3),
        "stock_cold_s_median": round(median(stock), 2),
        "cold_vs_stock": round(median(cold) / median(stock), 3),
        "cold_sentences_s_median": round(median(eager), 2) if eager else None,
        "cold_s_all": [round(x, 2) for x in cold],
        "warm_s_all": [round(x, 2) for x in warm],
        "stock_s_all": [round(x, 2) for x in stock],
        "cold_sentences_s_all": [round(x, 2) for x in eager],
        "peak_rss_mib": round(peak_rss_mib(), 0),
        "embedding_batch": base.embedding.batch_size,
        "max_seq_length": base.embedding.max_seq_length,
        "embedding_backend": embedder.backend,
    }
    print_table(["metric", "value"], result.items())
    write_results(args.out, result)


if __name__ == "__main__":
    main()
