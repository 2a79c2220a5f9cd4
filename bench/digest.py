"""Digest benchmark: where the time of a topic digest and of a weekly summary goes.

Run: ``.venv/bin/python bench/digest.py [--n 30] [--week-papers 300] [--store DIR]``. It needs
a store holding the sample corpus (built in a temporary directory when ``--store`` is not
given) and the default local model. It measures, after loading the model once:

* a topic digest of ``--n`` papers (hybrid + MMR retrieval, clustering, names, overview, one
  paragraph per theme, checks);
* a weekly summary of a ``--week-papers``-paper week, made from the sample by copying papers
  and their stored vectors into a temporary store with their dates moved into 2026-W11 (the
  rest into the four weeks before, so novelty has something to compare with).

For each: wall time and model time per stage, tokens in and out, and the share of the time
spent outside the model. Prints tables and writes ``bench/results/digest.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from _common import RESULTS, ROOT, print_table, write_results

from assistant.digest import digest
from assistant.embed import get_embedder
from assistant.ingest import ingest_papers
from assistant.llm import get_llm
from assistant.models import Digest
from assistant.parse import parse_paths
from assistant.retrieve import search
from assistant.settings import Settings
from assistant.store import open_store
from assistant.weekly import summarize_week, week_bounds

WEEK = "2026-W11"


def figures(result: Digest, wall: float) -> dict[str, Any]:
    """Per-stage wall and model seconds, tokens, and the share outside the model."""
    t = result.telemetry
    stages = [
        {"stage": "retrieval", "wall_s": t.retrieval_s, "llm_s": 0.0},
        {"stage": "clustering", "wall_s": t.clustering_s, "llm_s": 0.0},
        {"stage": "evidence", "wall_s": t.evidence_s, "llm_s": 0.0},
    ]
    stages += [
        {
            "stage": f"llm: {c.stage}",
            "wall_s": c.seconds,
            "llm_s": c.seconds,
            "prompt_tokens": c.prompt_tokens,
            "completion_tokens": c.completion_tokens,
        }
        for c in t.llm_calls
    ]
    stages.append({"stage": "citation checks", "wall_s": t.check_s, "llm_s": 0.0})
    return {
        "papers": len(result.citations),
        "themes": len(result.themes),
        "paragraphs": sum(1 for th in result.themes if th.paragraph),
        "cited_papers": sum(1 for c in result.citations if c.cited),
        "invalid_citations": result.invalid_citations,
        "wall_s": round(wall, 2),
        "llm_s": t.llm_s,
        "prompt_tokens": t.prompt_tokens,
        "completion_tokens": t.completion_tokens,
        "outside_llm_share": round(1 - t.llm_s / wall, 3) if wall else None,
        "stages": stages,
    }


def week_store(sample: Settings, folder: Path, papers: int) -> Settings:
    """A store whose first ``papers`` sample papers fall in WEEK, the rest in the 4 weeks
    before; vectors are copied, nothing is re-embedded."""
    settings = Settings(store_dir=folder)
    source = open_store(sample)
    ids = sorted(p.id for p in source.iter_papers())
    rows = source.get_with_vectors(ids)
    monday, _ = week_bounds(WEEK)
    target = open_store(settings)
    moved, vectors = [], []
    for i, pid in enumerate(ids):
        paper, vector = rows[pid]
        day = (
            monday + dt.timedelta(days=i % 7)
            if i < papers
            else monday - dt.timedelta(days=1 + (i % 28))
        )
        moved.append(paper.model_copy(update={"published": day}))
        vectors.append(vector)
    for start in range(0, len(moved), 500):
        target.write_batch(moved[start : start + 500], np.stack(vectors[start : start + 500]))
    return settings


def show(title: str, data: dict[str, Any]) -> None:
    rows = [
        (
            s["stage"],
            f"{s['wall_s']:.2f}",
            f"{s['llm_s']:.2f}",
            s.get("prompt_tokens", ""),
            s.get("completion_tokens", ""),
        )
        for s in data["stages"]
    ]
    rows.append(
        (
            "total",
            f"{data['wall_s']:.2f}",
            f"{data['llm_s']:.2f}",
            data["prompt_tokens"],
            data["completion_tokens"],
        )
    )
    print_table(["stage", "wall s", "LLM s", "tokens in", "tokens out"], rows, title=title)
    print(
        f"{data['papers']} papers, {data['themes']} themes, {data['paragraphs']} paragraphs, "
        f"{data['cited_papers']} papers cited; outside the model: "
        f"{100 * (data['outside_llm_share'] or 0):.1f}% of the time"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=30)
    parser.add_argument("--week-papers", type=int, default=300)
    parser.add_argument("--topic", default="diffusion models for text-to-image generation")
    parser.add_argument("--store", type=Path)
    parser.add_argument(
        "--no-llm",
        action="store_true",
        help="Only the stages outside the model (keyword names, no paragraphs): a quick look "
        "at retrieval, clustering and evidence when the model is too slow to wait for.",
    )
    parser.add_argument("--out", type=Path, default=RESULTS / "digest.json")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        store = args.store or Path(tmp) / "sample"
        settings = Settings(store_dir=store)
        if open_store(settings).count() == 0:
            parsed = parse_paths([ROOT / "data" / "sample"], year=2024)
            ingest_papers(open_store(settings), get_embedder(settings), parsed.papers)

        use_llm = not args.no_llm
        # Warm: the embedding model and the BM25 index load once per process, as in the app.
        search(settings, "warm-up query about transformers", k=5, sentences=False)
        started = time.perf_counter()
        llm = get_llm(settings)
        if use_llm:
            llm.complete("Say hi", max_tokens=1)  # load the model outside the measured runs
        load_s = time.perf_counter() - started

        started = time.perf_counter()
        topic = digest(args.topic, settings, n=args.n, use_llm=use_llm)
        topic_figures = figures(topic, time.perf_counter() - started)
        show(f"digest of {args.n} papers: {args.topic!r}", topic_figures)

        week_settings = week_store(settings, Path(tmp) / "week", args.week_papers)
        started = time.perf_counter()
        week = summarize_week(week_settings, WEEK, use_llm=use_llm)
        week_figures = figures(week, time.perf_counter() - started)
        show(f"weekly summary of a {args.week_papers}-paper week", week_figures)

    write_results(
        args.out,
        {
            "model": f"{llm.provider}:{llm.name}" if use_llm else None,
            "model_load_s": round(load_s, 2),
            "digest": {"n": args.n, "topic": args.topic, **topic_figures},
            "week": {"papers_asked": args.week_papers, **week_figures},
        },
    )


if __name__ == "__main__":
    main()
