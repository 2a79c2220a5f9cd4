"""LLM benchmark: time to first token and decode speed of the default local model, through
our seam (``assistant.llm``, the llama-index ``LlamaCPP`` path) and through ``llama_cpp.Llama``
called directly on the same loaded weights and the same prompt.

Run: ``.venv/bin/python bench/llm.py [--runs 3] [--sizes 256,1024,2048] [--threads N]``.
Prompts are paper abstracts from ``data/sample`` cut to the target size in tokens (chat
template included); each run starts with a distinct nonce so llama.cpp's prompt cache cannot
skip the prefill. Both paths are greedy and interleaved run by run. Reports the median of
the runs: time to first token (s), prefill tokens/s, decode tokens/s, and the seam/direct
ratio of total time (the overhead; 1.00 means none). Peak RSS after loading and at the end.
Prints a table and writes ``bench/results/llm.json``.

``--buffers-runs N`` (default 3; 0 skips) times the same prompts with llama.cpp's extra
buffers as ``llm.extra_buffers=auto`` decides on this CPU and forced off (what a CPU with AMX
gets, ggml-org/llama.cpp#20824), interleaved, and reports prefill/decode tokens/s and their
ratio.

``--prefix-runs N`` (default 5; 0 skips) then measures what reusing the fixed part of the
answer prompt gives: answer prompts (``prompts/answer.md``, ~500 tokens of abstracts) timed
to first token when the call before was another answer prompt (llama-cpp-python keeps the
KV cache of the longest common prefix: chat template and system prompt), after an unrelated
short prompt (nothing shared), and after that unrelated prompt with ``llama_cpp.LlamaRAMCache``
set (states saved per prompt, the best prefix restored).
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path
from typing import Any

from _common import RESULTS, ROOT, median, peak_rss_mib, print_table, write_results
from rich.console import Console

from assistant.llm import LlamaCppLLM, Message, get_llm
from assistant.settings import LLMSettings
from assistant.weights import prepare_bundled

INSTRUCTION = "Summarize the abstracts above in one detailed paragraph."


def corpus_text() -> str:
    """Abstracts of the sample corpus, enough text for the largest prompt."""
    files = sorted((ROOT / "data" / "sample").glob("*.txt"))
    return "\n\n".join(f.read_text(errors="replace") for f in files)


def build_messages(llm: LlamaCppLLM, text: str, target: int, nonce: int) -> list[Message]:
    """Messages whose rendered prompt is ``target`` tokens (±a few), led by a nonce."""
    words = text.split()
    lo, hi = 1, len(words)
    best: list[Message] = []

    def messages(n: int) -> list[Message]:
        body = f"Run {nonce}.\n" + " ".join(words[:n]) + "\n\n" + INSTRUCTION
        return [Message(role="user", content=body)]

    while lo <= hi:  # binary search on the word count
        mid = (lo + hi) // 2
        size = llm.count_tokens(llm.prompt_text(messages(mid)))
        if size <= target:
            best, lo = messages(mid), mid + 1
        else:
            hi = mid - 1
    return best


def via_seam(llm: LlamaCppLLM, messages: list[Message], max_tokens: int) -> dict[str, float]:
    """One greedy streamed generation through ``assistant.llm``."""
    stream = llm.stream(messages, max_tokens=max_tokens, temperature=0.0)
    for _ in stream:
        pass
    t = stream.telemetry
    assert t is not None
    return {
        "prompt_tokens": t.prompt_tokens,
        "completion_tokens": t.completion_tokens,
        "ttft_s": t.ttft_s,
        "total_s": t.total_s,
        "decode_tps": t.tokens_per_s,
    }


def via_direct(llm: LlamaCppLLM, messages: list[Message], max_tokens: int) -> dict[str, float]:
    """The same generation with ``llama_cpp.Llama`` called directly on the same weights."""
    llama = llm._llama
    prompt = llm.prompt_text(messages)
    prompt_tokens = len(llama.tokenize(prompt.encode(), add_bos=False, special=True))
    start = time.perf_counter()
    first = None
    text = ""
    for chunk in llama(
        prompt=prompt,
        max_tokens=max_tokens,
        temperature=0.0,
        stop=["<|im_end|>"],
        seed=0,
        stream=True,
    ):
        delta = chunk["choices"][0]["text"]
        if delta and first is None:
            first = time.perf_counter()
        text += delta
    end = time.perf_counter()
    first = first or end
    completion_tokens = len(llama.tokenize(text.encode(), add_bos=False, special=True))
    decode = (completion_tokens - 1) / (end - first) if completion_tokens > 1 else 0.0
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "ttft_s": first - start,
        "total_s": end - start,
        "decode_tps": decode,
    }


def answer_messages(text: str, run: int) -> list[Message]:
    """An answer prompt as ``ask`` builds it: a distinct question and ~500 tokens of papers."""
    from assistant.answer import ANSWER_FIELDS
    from assistant.prompts import load_prompt

    words = text.split()
    start = (run * 997) % max(1, len(words) - 400)
    sources = (
        f'<paper number="1" title="Run {run}">\n{" ".join(words[start : start + 370])}\n</paper>'
    )
    question = f"What do these papers report about result number {run}?"
    return load_prompt("answer", ANSWER_FIELDS).render(sources=sources, question=question)


def buffers_section(
    settings: LLMSettings, llm: LlamaCppLLM, text: str, sizes: list[int], runs: int, tokens: int
) -> dict[str, Any]:
    """Prefill and decode tokens/s with llama.cpp's extra buffers as ``auto`` decides here
    and forced off (what an AMX CPU gets), runs interleaved on the same prompts."""
    off = get_llm(settings.model_copy(update={"extra_buffers": "off"}))
    assert isinstance(off, LlamaCppLLM)
    via_seam(off, [Message(role="user", content="Hi")], 4)
    variants = {f"auto ({llm.buffers.reason})": llm, "off": off}
    rows = []
    nonce = 10_000
    for size in sizes:
        timed: dict[str, list[dict[str, float]]] = {name: [] for name in variants}
        for _ in range(runs):
            nonce += 1
            for name, model in variants.items():
                messages = build_messages(model, text, size, nonce)
                timed[name].append(via_seam(model, messages, tokens))
        row: dict[str, Any] = {"target_tokens": size}
        for name, done in timed.items():
            ttft = median(r["ttft_s"] for r in done)
            row[name] = {
                "prompt_tokens": median(r["prompt_tokens"] for r in done),
                "prefill_tps": median(r["prompt_tokens"] / r["ttft_s"] for r in done),
                "decode_tps": median(r["decode_tps"] for r in done),
                "ttft_s": ttft,
            }
        auto, forced = (row[name] for name in variants)
        row["off_over_auto"] = {
            "prefill": forced["prefill_tps"] / auto["prefill_tps"],
            "decode": forced["decode_tps"] / auto["decode_tps"],
        }
        rows.append(row)
    print_table(
        ["prompt tok", "extra buffers", "prefill tok/s", "decode tok/s", "off / auto"],
        [
            [
                f"{row[name]['prompt_tokens']:.0f}",
                name,
                f"{row[name]['prefill_tps']:.0f}",
                f"{row[name]['decode_tps']:.1f}",
                f"prefill {row['off_over_auto']['prefill']:.2f}, "
                f"decode {row['off_over_auto']['decode']:.2f}"
                if name == "off"
                else "",
            ]
            for row in rows
            for name in variants
        ],
        title=f"llama.cpp extra buffers · median of {runs}, interleaved",
        left=["extra buffers", "off / auto"],
    )
    return {"variants": list(variants), "rows": rows}


def prefix_section(llm: LlamaCppLLM, text: str, runs: int, max_tokens: int) -> dict[str, Any]:
    """Time to first token of answer prompts by what the previous call left in the cache."""
    from llama_cpp import LlamaRAMCache

    def other(run: int) -> None:  # an unrelated call: a condense or digest prompt, say
        via_seam(llm, [Message(role="user", content=f"Unrelated {run}: say hi.")], 2)

    times: dict[str, list[float]] = {
        "after an answer": [],
        "after another prompt": [],
        "after another prompt, RAM cache": [],
    }
    run = 1000
    for _ in range(runs):
        run += 1
        via_seam(llm, answer_messages(text, run), 2)
        run += 1
        times["after an answer"].append(
            via_seam(llm, answer_messages(text, run), max_tokens)["ttft_s"]
        )
        run += 1
        other(run)
        times["after another prompt"].append(
            via_seam(llm, answer_messages(text, run), max_tokens)["ttft_s"]
        )
    llm._llama.set_cache(LlamaRAMCache(capacity_bytes=2 << 30))
    via_seam(llm, answer_messages(text, run), 2)  # an answer state in the cache
    for _ in range(runs):
        run += 1
        other(run)
        times["after another prompt, RAM cache"].append(
            via_seam(llm, answer_messages(text, run), max_tokens)["ttft_s"]
        )
    llm._llama.set_cache(None)
    tokens = llm.count_tokens(llm.prompt_text(answer_messages(text, run)))
    return {
        "prompt_tokens": tokens,
        "runs": runs,
        "ttft_s": {name: median(values) for name, values in times.items()},
        "all_ttft_s": times,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sizes", default="256,1024,2048")
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--prefix-runs", type=int, default=5)
    parser.add_argument("--buffers-runs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=RESULTS / "llm.json")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    console = Console()

    settings = LLMSettings(n_threads=args.threads, n_ctx=4096, temperature=0.0)
    prepare_bundled(settings)
    rss_before = peak_rss_mib()
    t0 = time.perf_counter()
    llm = get_llm(settings)
    assert isinstance(llm, LlamaCppLLM)
    load_s = time.perf_counter() - t0
    rss_loaded = peak_rss_mib()
    text = corpus_text()

    # one short warm-up so neither path pays first-use costs
    via_seam(llm, [Message(role="user", content="Hi")], 4)

    rows: list[dict[str, Any]] = []
    nonce = 0
    for size in sizes:
        seam_runs, direct_runs = [], []
        for _ in range(args.runs):
            nonce += 1
            seam_runs.append(via_seam(llm, build_messages(llm, text, size, nonce), args.max_tokens))
            nonce += 1
            msgs = build_messages(llm, text, size, nonce)
            direct_runs.append(via_direct(llm, msgs, args.max_tokens))
        row = {"target_tokens": size}
        for name, runs in (("seam", seam_runs), ("direct", direct_runs)):
            mid = {key: median(r[key] for r in runs) for key in runs[0]}
            row[name] = {
                "prompt_tokens": mid["prompt_tokens"],
                "completion_tokens": mid["completion_tokens"],
                "ttft_s": mid["ttft_s"],
                "prefill_tps": mid["prompt_tokens"] / mid["ttft_s"],
                "decode_tps": mid["decode_tps"],
                "total_s": mid["total_s"],
                "runs": runs,
            }
        row["overhead_ratio"] = row["seam"]["total_s"] / row["direct"]["total_s"]
        row["ttft_ratio"] = row["seam"]["ttft_s"] / row["direct"]["ttft_s"]
        rows.append(row)
        console.print(f"[dim]{size} tokens done[/]")

    print_table(
        [
            "prompt tok",
            "path",
            "TTFT s",
            "prefill tok/s",
            "decode tok/s",
            "gen tok",
            "total s",
            "seam/direct",
        ],
        [
            [
                f"{r['prompt_tokens']:.0f}",
                name,
                f"{r['ttft_s']:.2f}",
                f"{r['prefill_tps']:.0f}",
                f"{r['decode_tps']:.1f}",
                f"{r['completion_tokens']:.0f}",
                f"{r['total_s']:.2f}",
                f"{row['overhead_ratio']:.3f}" if name == "seam" else "",
            ]
            for row in rows
            for name, r in (("seam", row["seam"]), ("direct", row["direct"]))
        ],
        title=f"{llm.name} · {args.threads} threads · median of {args.runs}",
        left=[],
    )
    prefix = (
        prefix_section(llm, text, args.prefix_runs, args.max_tokens) if args.prefix_runs else None
    )
    if prefix:
        base = prefix["ttft_s"]["after another prompt"]
        print_table(
            ["previous call", "TTFT s (median)", "vs nothing shared"],
            [[name, f"{v:.2f}", f"{v / base:.2f}"] for name, v in prefix["ttft_s"].items()],
            title=f"answer prompt, {prefix['prompt_tokens']} tokens · median of {prefix['runs']}",
            left=["previous call"],
        )
    buffers = (
        buffers_section(settings, llm, text, sizes, args.buffers_runs, args.max_tokens)
        if args.buffers_runs
        else None
    )
    rss_peak = peak_rss_mib()
    console.print(
        f"load {load_s:.1f} s · peak RSS before load {rss_before:.0f} MiB, after load "
        f"{rss_loaded:.0f} MiB, at end {rss_peak:.0f} MiB"
    )
    result = {
        "model": llm.name,
        "threads": args.threads,
        "n_ctx": settings.n_ctx,
        "runs": args.runs,
        "max_tokens": args.max_tokens,
        "load_s": load_s,
        "peak_rss_mib": {"before_load": rss_before, "after_load": rss_loaded, "end": rss_peak},
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "load_average": os.getloadavg(),
        "rows": rows,
        "prefix": prefix,
        "extra_buffers": buffers,
    }
    write_results(args.out, result)


if __name__ == "__main__":
    main()
