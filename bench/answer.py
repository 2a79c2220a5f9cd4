"""Answer benchmark: our pipeline vs llama-index's stock CitationQueryEngine, same model.

Run: ``.venv/bin/python bench/answer.py [--questions 10] [--store DIR]``. It needs a store
holding the sample corpus (built in a temporary directory when ``--store`` is not given) and
the configured model (the bundled local one by default). For each of the first N answerable
questions of ``eval/suites/core.jsonl`` it measures, in one process and one model load:

* ours: ``answer.gather`` then ``answer.answer_from`` (the exact messages come from
  ``answer.answer_prompt``): retrieval ms, time to first token, total time, prompt tokens,
  citation validity;
* stock: ``assistant.evals.llamaindex.StockPipeline``, llama-index's ``VectorStoreIndex``
  over the same Chroma collection + ``BM25Retriever`` + ``CitationQueryEngine``, on the same
  model through the LLM seam; its text checked by the same checker.

The two systems alternate question by question, so neither reuses the other's prompt prefix
in llama.cpp's cache. (The former "raw llama_cpp" column called the provider's private
``llama_cpp.Llama`` to reset that cache and time a bare call; it is gone with the private
access. ``bench/llm.py`` still measures the seam's overhead over llama.cpp.)

Prints a table of medians and writes ``bench/results/answer.json``. For quality on a whole
suite, use ``assistant eval run SUITE --system ours --system llamaindex``.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

from _common import RESULTS, ROOT, median, print_table, write_results

from assistant.answer import answer_from, answer_prompt
from assistant.embed import get_embedder
from assistant.evals.llamaindex import StockPipeline
from assistant.evals.suite import load_suite
from assistant.evidence import gather
from assistant.ingest import ingest_papers
from assistant.llm import get_llm
from assistant.models import Answer
from assistant.parse import parse_paths
from assistant.settings import Settings
from assistant.store import open_store


def measure(answer: Answer, prompt_chars: int) -> dict[str, Any]:
    """The numbers of one checked answer."""
    t = answer.telemetry
    cited = sum(len(s.citations) for s in answer.sentences)
    return {
        "retrieval_ms": t.retrieval_ms,
        "ttft_s": t.ttft_s,
        "total_s": t.total_s,
        "prompt_tokens": t.prompt_tokens,
        "completion_tokens": t.completion_tokens,
        "prompt_chars": prompt_chars,
        "citations": cited,
        "invalid_citations": answer.invalid_citations,
        "abstained": answer.abstained,
    }


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians over the questions, and the share of valid citations (pooled)."""
    answered = [r for r in rows if not r["abstained"]]
    valid = sum(r["citations"] for r in answered)
    invalid = sum(r["invalid_citations"] for r in answered)
    return {
        "retrieval_ms": median([r["retrieval_ms"] for r in rows], 1),
        "ttft_s": median([r["ttft_s"] for r in answered if r["ttft_s"] is not None], 3),
        "total_s": median([r["total_s"] for r in rows], 3),
        "prompt_tokens": median([r["prompt_tokens"] for r in answered], 0),
        "completion_tokens": median([r["completion_tokens"] for r in answered], 0),
        "citation_validity": round(valid / (valid + invalid), 3) if valid + invalid else None,
        "abstained": len(rows) - len(answered),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--questions", type=int, default=10)
    parser.add_argument("--store", type=Path)
    parser.add_argument("--out", type=Path, default=RESULTS / "answer.json")
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
    stock = StockPipeline(settings, llm)
    # Warm-up: model load, BM25 indexes, first prefill of each prompt template.
    _ = answer_from(gather(questions[0], settings), settings, llm=llm).result
    stock.answer(questions[0])

    ours: list[dict[str, Any]] = []
    theirs: list[dict[str, Any]] = []
    for question in questions:
        gathered = gather(question, settings)
        chars = sum(len(m.content) for m in answer_prompt(gathered))
        ours.append(measure(answer_from(gathered, settings, llm=llm).result, chars))
        answer, _ = stock.answer(question)
        theirs.append(measure(answer, 0))

    result = {
        "questions": len(questions),
        "model": f"{llm.provider}:{llm.name}",
        "ours": summarize(ours),
        "citation_query_engine": summarize(theirs),
    }
    columns = ["", *result["ours"]]
    print_table(
        columns,
        [
            [name, *result[key].values()]
            for name, key in (("ours", "ours"), ("stock", "citation_query_engine"))
        ],
        title=f"answers, medians over {len(questions)} questions ({result['model']})",
    )
    write_results(args.out, {**result, "per_question": {"ours": ours, "stock": theirs}})
    if tmp:
        tmp.cleanup()


if __name__ == "__main__":
    main()
