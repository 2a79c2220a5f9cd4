"""Load and soak benchmark: the app under concurrent chat users, the library while an answer
streams, and 200 questions in one process (does memory stay flat?).

Run: ``.venv/bin/python bench/load.py [--store store] [--levels 1,2,4,8] [--seconds 20]
[--searches 50] [--soak 200]`` (the store must hold the sample corpus:
``assistant --store store ingest data/sample --year 2024``).

1. **Concurrent chat clients.** The app is served in this process on 127.0.0.1 with the fake
   provider slowed to a realistic speed (27 tokens/s, 80-token answers, 0.3 s of prompt
   processing), one answer at a time (``ui.concurrency=1``), as with the one local model.
   For each level (1, 2, 4, 8 clients) every client (its own ``gradio_client`` session)
   asks question after question for ``--seconds``; a request started in time runs to the
   end. Reported: completed requests, errors (must be 0), latency p50/p95 (submit to
   answer), and queue wait p50/p95 (submit until Gradio's queue hands the request to the
   app; time spent in the app's own waiting line for the model counts in the latency).
2. **Library searches while an answer streams.** One chat answer is started; once it is
   generating, ``--searches`` library searches are sent at once: their latency p50/p95.
3. **Soak.** ``--soak`` questions through ``ask`` with the fake provider (full speed) over the
   same store, in this process: resident memory after the first question and at the end.

Prints tables and writes ``bench/results/load.json``.
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from _common import (
    RESULTS,
    ROOT,
    ask_args,
    free_port,
    percentile,
    print_table,
    search_args,
    write_results,
)
from rich.console import Console

from assistant.llm import FakeLLM, Generation, GenParams, Message, Usage
from assistant.settings import Settings

#: 80 words citing two sources: the fake model's answer during the load runs.
REPLY = " ".join(
    ["Multi-frame methods align previous motion features to handle occluded regions [1]."] * 8
    + ["Two-frame methods lack correspondences in occluded areas [2]."] * 2
)


#: What the library searches for during the load runs.
SEARCHES = ("optical flow occlusion", "KV cache", "diffusion sampling")


def questions() -> list[str]:
    """The answerable questions of the core eval suite (varied text, real retrieval)."""
    rows = [
        json.loads(line)
        for line in (ROOT / "eval" / "suites" / "core.jsonl").read_text().splitlines()
        if line.strip()
    ]
    found = [r["question"] for r in rows if r.get("type") not in ("unanswerable", "abstain")]
    return found or ["How do optical flow methods handle occlusions?"]


class PacedFakeLLM(FakeLLM):
    """The fake model at a realistic speed: ``prefill`` seconds, then ``delay`` per word."""

    def __init__(self, settings: Any, delay: float, prefill: float = 0.3) -> None:
        super().__init__(settings)
        self.delay, self.prefill = delay, prefill

    def _generate(self, messages: list[Message], params: GenParams) -> Generation:
        words = REPLY.split(" ")
        time.sleep(self.prefill)
        for i, word in enumerate(words):
            time.sleep(self.delay)
            yield word if i == 0 else " " + word
        return Usage(completion_tokens=len(words), finish_reason="stop")


def stats(values: list[float]) -> dict[str, float | None]:
    """p50 and p95 in seconds (None when there are no values)."""
    if not values:
        return {"p50": None, "p95": None}
    return {"p50": round(percentile(values, 50), 3), "p95": round(percentile(values, 95), 3)}


def timed_ask(client: Any, question: str) -> dict[str, Any]:
    """One chat request: total latency, queue wait, and whether it answered without error."""
    from gradio_client.utils import Status

    waiting = {Status.STARTING, Status.JOINING_QUEUE, Status.IN_QUEUE, Status.SENDING_DATA}
    start = time.perf_counter()
    job = client.submit(*ask_args(question), api_name="/ask")
    queued: float | None = None
    while not job.done():
        if queued is None and job.status().code not in waiting:
            queued = time.perf_counter() - start
        time.sleep(0.02)
    total = time.perf_counter() - start
    try:
        result = job.result()
        answer = result[2] if isinstance(result, list | tuple) else {}
        error = answer.get("error") if isinstance(answer, dict) else "no answer"
        abstained = bool(isinstance(answer, dict) and answer.get("abstained"))
    except Exception as exc:
        error, abstained = f"{type(exc).__name__}: {exc}", False
    return {
        "s": total,
        "queue_s": queued if queued is not None else total,
        "error": error,
        "abstained": abstained,  # an answer ("not covered"), not an error
    }


def chat_level(url: str, clients: int, seconds: float, asked: list[str]) -> dict[str, Any]:
    """``clients`` sessions asking back to back for ``seconds``."""
    from gradio_client import Client

    sessions = [Client(url, verbose=False, download_files=False) for _ in range(clients)]
    for session in sessions:  # a session's first call pays for setting it up: not measured
        session.predict(*search_args("warm up"), api_name="/search")
    deadline = time.perf_counter() + seconds
    results: list[dict[str, Any]] = []
    lock = threading.Lock()

    def loop(i: int) -> None:
        n = 0
        while time.perf_counter() < deadline:
            outcome = timed_ask(sessions[i], asked[(i * 7 + n) % len(asked)])
            n += 1
            with lock:
                results.append(outcome)

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(loop, range(clients)))
    wall = time.perf_counter() - started
    errors = [r["error"] for r in results if r["error"]]
    return {
        "clients": clients,
        "completed": len(results) - len(errors),
        "abstained": sum(r["abstained"] for r in results),
        "errors": len(errors),
        "error_messages": sorted(set(errors))[:5],
        "latency_s": stats([r["s"] for r in results]),
        "queue_wait_s": stats([r["queue_s"] for r in results]),
        "wall_s": round(wall, 1),
        "answers_per_min": round(60 * len(results) / wall, 1),
    }


def searches_during_answer(url: str, n: int, answering: bool = True) -> dict[str, Any]:
    """``n`` library searches at once while one answer is generating (or, for comparison,
    with the app idle)."""
    from gradio_client import Client
    from gradio_client.utils import Status

    chat = Client(url, verbose=False, download_files=False)
    searchers = [Client(url, verbose=False, download_files=False) for _ in range(n)]
    for i, searcher in enumerate(searchers):  # open sessions, as a browser tab has one,
        searcher.predict(*search_args(SEARCHES[i % 3]), api_name="/search")  # warm caches
    job = chat.submit(*ask_args(questions()[0]), api_name="/ask")
    while job.status().code not in (Status.PROCESSING, Status.ITERATING) and not job.done():
        time.sleep(0.02)
    time.sleep(0.5)  # well into generation
    if not answering:
        job.result()

    def one(i: int) -> tuple[float, str | None]:
        start = time.perf_counter()
        try:
            searchers[i].predict(*search_args(SEARCHES[i % 3]), api_name="/search")
            return time.perf_counter() - start, None
        except Exception as exc:
            return time.perf_counter() - start, f"{type(exc).__name__}: {exc}"

    with ThreadPoolExecutor(n) as pool:
        done = list(pool.map(one, range(n)))
    generating = answering and not job.done()
    job.result()
    errors = [e for _, e in done if e]
    return {
        "searches": n,
        "during_an_answer": answering,
        "errors": len(errors),
        "answer_still_generating_when_searches_ended": generating,
        "latency_s": stats([s for s, _ in done]),
        "max_s": round(max(s for s, _ in done), 3),
    }


def rss_mib() -> float:
    """Resident memory of this process now, MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def soak(settings: Settings, n: int) -> dict[str, Any]:
    """``n`` questions through ``ask`` with the fake provider; memory after 1 and after n."""
    from assistant.answer import ask
    from assistant.llm import create_llm
    from assistant.settings import LLMSettings

    llm = create_llm(LLMSettings(provider="fake"))
    asked = questions()
    ask(asked[0], settings, llm=llm)
    gc.collect()
    start_rss = rss_mib()
    checkpoints = []
    started = time.perf_counter()
    abstained = 0
    for i in range(n):
        # Vary the text so the embedding and retrieval caches see new questions too.
        answer = ask(f"{asked[i % len(asked)]} (#{i})", settings, llm=llm)
        abstained += answer.abstained
        llm.history.clear()  # the fake keeps every call for tests; a real model does not
        if (i + 1) % 50 == 0:
            gc.collect()
            checkpoints.append({"questions": i + 1, "rss_mib": round(rss_mib(), 1)})
    seconds = time.perf_counter() - started
    gc.collect()
    end_rss = rss_mib()
    return {
        "questions": n,
        "abstained": abstained,
        "seconds": round(seconds, 1),
        "per_question_ms": round(1000 * seconds / n, 1),
        "rss_start_mib": round(start_rss, 1),
        "rss_end_mib": round(end_rss, 1),
        "rss_growth_mib": round(end_rss - start_rss, 1),
        "checkpoints": checkpoints,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--store", type=Path, default=ROOT / "store")
    parser.add_argument("--levels", default="1,2,4,8", help="Concurrent chat clients per run.")
    parser.add_argument("--seconds", type=float, default=20.0, help="Time each level runs.")
    parser.add_argument("--token-delay", type=float, default=1 / 27)
    parser.add_argument("--searches", type=int, default=50)
    parser.add_argument("--soak", type=int, default=200, help="Questions in the soak (0: skip).")
    parser.add_argument("--out", type=Path, default=RESULTS / "load.json")
    args = parser.parse_args()
    console = Console()
    settings = Settings(store_dir=args.store).with_overrides(**{"llm.provider": "fake"})
    levels = [int(x) for x in args.levels.split(",") if x.strip()]
    result: dict[str, Any] = {
        "machine": {"platform": platform.platform(), "python": platform.python_version()},
        "store": str(args.store),
    }

    if levels or args.searches:
        from assistant.ui.app import launch

        served = settings.with_overrides(
            **{"ui.port": free_port(), "ui.concurrency": 1, "ui.queue_size": 64}
        )
        llm = PacedFakeLLM(served.llm, args.token_delay)
        app = launch(served, llm=llm, block=False, quiet=True)
        url = f"http://127.0.0.1:{served.ui.port}/"
        try:
            from gradio_client import Client

            warm = Client(url, verbose=False, download_files=False)
            warm.predict(*search_args("warm up"), api_name="/search")
            timed_ask(warm, questions()[0])
            asked = questions()
            runs = []
            for clients in levels:
                runs.append(chat_level(url, clients, args.seconds, asked))
                console.print(runs[-1])
            result["chat"] = {
                "provider": f"fake, {1 / args.token_delay:.0f} tokens/s, "
                f"{len(REPLY.split())} tokens, one answer at a time",
                "seconds_per_level": args.seconds,
                "levels": runs,
            }
            if args.searches:
                result["library_idle"] = searches_during_answer(url, args.searches, False)
                result["library_during_answer"] = searches_during_answer(url, args.searches)
                console.print(result["library_idle"], result["library_during_answer"])
        finally:
            app.close()
        print_table(
            [
                "clients",
                "completed",
                "errors",
                "latency p50",
                "latency p95",
                "queue p50",
                "queue p95",
            ],
            [
                [
                    r["clients"],
                    r["completed"],
                    r["errors"],
                    r["latency_s"]["p50"],
                    r["latency_s"]["p95"],
                    r["queue_wait_s"]["p50"],
                    r["queue_wait_s"]["p95"],
                ]
                for r in result.get("chat", {}).get("levels", [])
            ],
            title="Concurrent chat clients (seconds)",
        )

    if args.soak:
        result["soak"] = soak(settings, args.soak)
        s = result["soak"]
        console.print(
            f"soak: {s['questions']} questions in {s['seconds']} s "
            f"({s['per_question_ms']} ms each); RSS {s['rss_start_mib']} MiB after the first, "
            f"{s['rss_end_mib']} MiB at the end ({s['rss_growth_mib']:+} MiB); "
            f"checkpoints {s['checkpoints']}"
        )
    write_results(args.out, result)


if __name__ == "__main__":
    main()
