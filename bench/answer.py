"""Answer benchmark: our pipeline vs the raw model call vs llama-index's CitationQueryEngine.

Run: ``.venv/bin/python bench/answer.py [--questions 10] [--store DIR]``. It needs a store
holding the sample corpus (built in a temporary directory when ``--store`` is not given) and
the default local model. For each of the first N answerable questions of
``eval/suites/core.jsonl`` it measures, in one process and one model load:

* ours: retrieval ms, time to first token, total time, prompt tokens, citation validity;
* raw: ``llama_cpp.Llama`` called directly on the very prompt our pipeline sent (same
  tokens, same sampling), so ``ours_total / raw_total - 1`` is our overhead;
* stock: llama-index's ``CitationQueryEngine`` over the same papers, vectors and model.

Prints a table of medians and writes ``bench/results/answer.json``.
"""

from __future__ import annotations

import argparse
import json
import re
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import ROOT, median

from assistant.answer import ANSWER_FIELDS, ask, format_sources, select_evidence
from assistant.embed import get_embedder
from assistant.evals.suite import load_suite
from assistant.ingest import ingest_papers, parse_paths
from assistant.llm import get_llm
from assistant.prompts import load_prompt
from assistant.retrieve import search
from assistant.settings import Settings
from assistant.store import open_store


def raw_call(llm: Any, question: str, settings: Settings) -> dict[str, float]:
    """The model called directly on the prompt our pipeline builds for ``question``."""
    hits = search(settings, question, k=settings.answer.k, sentences=True).hits
    evidence, _ = select_evidence(hits, settings.answer.evidence_sentences)
    messages = load_prompt("answer", ANSWER_FIELDS).render(
        sources=format_sources(evidence), question=question
    )
    prompt = llm.prompt_text(messages)
    raw = llm._llama  # the llama_cpp.Llama our provider loaded
    raw.reset()  # no prefix reuse from the previous call: same footing as ours
    start = time.perf_counter()
    first = None
    n = 0
    for chunk in raw.create_completion(
        prompt,
        max_tokens=settings.llm.max_new_tokens,
        temperature=settings.llm.temperature,
        seed=settings.llm.seed,
        stream=True,
        stop=list(llm._stop),
    ):
        if first is None and chunk["choices"][0]["text"]:
            first = time.perf_counter()
        n += 1
    end = time.perf_counter()
    return {
        "ttft_s": (first or end) - start,
        "total_s": end - start,
        "tokens": n,
        "prompt_tokens": llm.count_tokens(prompt),
    }


def stock_engine(settings: Settings, llm: Any) -> Any:
    """llama-index's CitationQueryEngine over the same papers, vectors and loaded model."""
    from llama_index.core import Settings as LISettings
    from llama_index.core import VectorStoreIndex
    from llama_index.core.embeddings import BaseEmbedding
    from llama_index.core.query_engine import CitationQueryEngine
    from llama_index.core.schema import TextNode

    embedder = get_embedder(settings)

    class OurEmbedding(BaseEmbedding):
        def _get_query_embedding(self, query: str) -> list[float]:
            return embedder.embed_one(query).tolist()

        def _get_text_embedding(self, text: str) -> list[float]:
            return embedder.embed_one(text).tolist()

        async def _aget_query_embedding(self, query: str) -> list[float]:
            return self._get_query_embedding(query)

    store = open_store(settings)
    papers = list(store.iter_papers())
    vectors = store.vectors([p.id for p in papers])
    nodes = [
        TextNode(
            id_=p.id, text=p.text, embedding=vectors[p.id].tolist(), metadata={"title": p.title}
        )
        for p in papers
    ]
    LISettings.llm = llm._li
    LISettings.embed_model = OurEmbedding()
    index = VectorStoreIndex(nodes)
    return CitationQueryEngine.from_args(
        index, similarity_top_k=settings.answer.k, citation_chunk_size=512
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--questions", type=int, default=10)
    parser.add_argument("--store", type=Path)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "answer.json")
    args = parser.parse_args()

    tmp = None
    if args.store is None:
        tmp = tempfile.TemporaryDirectory()
        args.store = Path(tmp.name)
    settings = Settings(store_dir=args.store)
    store = open_store(settings)
    if store.count() == 0:
        parsed = parse_paths([ROOT / "data" / "sample"], year=2024)
        ingest_papers(store, get_embedder(settings), parsed.papers)
    suite = load_suite(ROOT / "eval" / "suites" / "core.jsonl")
    questions = [case.question for case in suite.answerable][: args.questions]

    llm = get_llm(settings)
    ask(questions[0], settings)  # warm-up: model load, BM25 index, first prefill
    ours: list[dict[str, Any]] = []
    raw: list[dict[str, float]] = []
    for question in questions:
        llm._llama.reset()
        answer = ask(question, settings)
        t = answer.telemetry
        ours.append(
            {
                "retrieval_ms": t.retrieval_ms,
                "ttft_s": t.ttft_s or 0.0,
                "total_s": t.total_s,
                "prompt_tokens": t.prompt_tokens,
                "completion_tokens": t.completion_tokens,
                "valid": answer.invalid_citations == 0,
                "abstained": answer.abstained,
            }
        )
        raw.append(raw_call(llm, answer.standalone_question, settings))

    engine = stock_engine(settings, llm)
    stock: list[dict[str, Any]] = []
    for question in questions:
        llm._llama.reset()
        start = time.perf_counter()
        response = engine.query(question)
        total = time.perf_counter() - start
        given = len(response.source_nodes)
        cited = {int(n) for n in re.findall(r"\[(\d+)\]", str(response))}
        stock.append(
            {
                "total_s": total,
                "valid": all(1 <= n <= given for n in cited),
                "cites": bool(cited),
                "prompt_tokens": llm.count_tokens(
                    "\n".join(n.node.get_content() for n in response.source_nodes)
                ),
            }
        )

    answered = [o for o in ours if not o["abstained"]]
    result = {
        "questions": len(questions),
        "model": llm.name,
        "ours": {
            "retrieval_ms": median([o["retrieval_ms"] for o in ours], 3),
            "ttft_s": median([o["ttft_s"] for o in answered], 3),
            "total_s": median([o["total_s"] for o in ours], 3),
            "prompt_tokens": median([o["prompt_tokens"] for o in answered], 3),
            "valid_citation_share": sum(o["valid"] for o in ours) / len(ours),
            "abstained": sum(o["abstained"] for o in ours),
        },
        "raw_llama_cpp": {
            "ttft_s": median([r["ttft_s"] for r in raw], 3),
            "total_s": median([r["total_s"] for r in raw], 3),
            "prompt_tokens": median([r["prompt_tokens"] for r in raw], 3),
        },
        "citation_query_engine": {
            "total_s": median([s["total_s"] for s in stock], 3),
            "source_tokens": median([s["prompt_tokens"] for s in stock], 3),
            "valid_citation_share": sum(s["valid"] for s in stock) / len(stock),
            "cites_share": sum(s["cites"] for s in stock) / len(stock),
        },
    }
    result["overhead_vs_raw"] = round(
        result["ours"]["total_s"] / result["raw_llama_cpp"]["total_s"] - 1, 3
    )
    print(json.dumps(result, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps({**result, "per_question": {"ours": ours, "raw": raw, "stock": stock}}, indent=2)
    )
    print(f"wrote {args.out}")
    if tmp:
        tmp.cleanup()


if __name__ == "__main__":
    main()
