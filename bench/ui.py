"""UI benchmark: what the app adds to the pipeline's latency, and how it holds 4 users at once.

Run: ``.venv/bin/python bench/ui.py [--store store] [--questions 3] [--clients 4]``
(the store must hold the sample corpus: ``assistant --store store ingest data/sample``).

1. **Time to first token, browser vs pipeline** (real local model). The app is served in this
   process; headless Debian Chromium (Playwright) types a question and records, in the page,
   the time from pressing Enter to the first streamed character on screen. The pipeline's own
   figure is ``ask_stream`` called directly, from the call to its first text chunk. Each
   question is run once first (to first token) so both measured runs see the same llama.cpp
   prompt cache; the difference is what the UI adds (queue, events, transport, rendering).
2. **4 concurrent chat clients** (gradio_client, one session each) against the app with
   ``ui.concurrency=1``. The real model would take minutes for this, so it uses the fake
   provider slowed to a realistic 27 tokens/s (this machine's speed) and 80-token answers;
   meanwhile a library search runs every 0.5 s to show the library stays responsive.

Prints a table and writes ``bench/results/ui.json``.
"""

from __future__ import annotations

import argparse
import platform
import sys
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
    median,
    print_table,
    search_args,
    write_results,
)
from rich.console import Console

from assistant.answer import ask_stream
from assistant.llm import FakeLLM, Generation, GenParams, Message, Usage
from assistant.settings import Settings
from assistant.ui.app import launch

sys.path.insert(0, str(ROOT))  # the Chromium the browser tests use, with the same flags
from tests.browser import CHROMIUM, launch_chromium

QUESTIONS = [
    "How do optical flow methods handle occlusions?",
    "Which papers improve the efficiency of diffusion model sampling?",
    "How do retrieval-augmented language models reduce hallucination?",
]
#: The fake model's answer in the concurrency run: 80 words citing two sources.
SLOW_REPLY = " ".join(
    ["Multi-frame methods align previous motion features to handle occluded regions [1]."] * 8
    + ["Two-frame methods lack correspondences in occluded areas [2]."] * 2
)


class SlowFakeLLM(FakeLLM):
    """The fake model at a realistic decode speed: a fixed reply, ``delay`` seconds a word."""

    def __init__(self, settings: Any, delay: float) -> None:
        super().__init__(settings)
        self.delay = delay

    def _generate(self, messages: list[Message], params: GenParams) -> Generation:
        words = SLOW_REPLY.split(" ")
        time.sleep(0.3)  # prompt processing
        for i, word in enumerate(words):
            time.sleep(self.delay)
            yield word if i == 0 else " " + word
        return Usage(completion_tokens=len(words), finish_reason="stop")


def pipeline_ttft(settings: Settings, question: str) -> float:
    """Seconds from calling ``ask_stream`` to its first text chunk (then stop generating)."""
    start = time.perf_counter()
    stream = ask_stream(question, settings)
    try:
        for chunk in stream:
            if chunk.strip():
                return time.perf_counter() - start
    finally:
        stream.close()
    raise RuntimeError(f"no text for {question!r} (the assistant abstained?)")


_WATCH = """() => {
  window.__firstToken = null; window.__sent = null;
  document.querySelector('#question textarea').addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && window.__sent === null) window.__sent = performance.now();
  }, true);
  new MutationObserver(() => {
    const el = document.querySelector('#chatbot .streaming');
    if (window.__firstToken === null && el && el.innerText.replace('▍', '').trim()) {
      window.__firstToken = performance.now();
    }
  }).observe(document.body, {subtree: true, childList: true, characterData: true});
}"""


def browser_ttft(page: Any, url: str, question: str) -> tuple[float, float]:
    """(seconds from Enter to the first streamed text on screen, seconds to the full answer)."""
    page.goto(url)
    page.wait_for_selector("#question textarea", timeout=60_000)
    page.evaluate(_WATCH)
    page.fill("#question textarea", question)
    page.keyboard.press("Enter")
    page.wait_for_function("() => window.__firstToken !== null", timeout=240_000)
    page.wait_for_selector("#chatbot .answer-meta", timeout=300_000)
    done = page.evaluate("() => performance.now()")
    sent, first = page.evaluate("() => [window.__sent, window.__firstToken]")
    return (first - sent) / 1000, (done - sent) / 1000


def bench_ttft(settings: Settings, n: int) -> list[dict[str, Any]]:
    """Browser vs pipeline time to first token with the real model, per question."""
    from playwright.sync_api import sync_playwright

    settings = settings.with_overrides(**{"ui.port": free_port()})
    app = launch(settings, block=False, quiet=True)
    url = f"http://127.0.0.1:{settings.ui.port}/"
    rows = []
    try:
        with sync_playwright() as pw:
            browser = launch_chromium(pw)
            page = browser.new_page(viewport={"width": 1360, "height": 900})
            for question in QUESTIONS[:n]:
                cold = pipeline_ttft(settings, question)  # also fills the prompt cache
                warm = pipeline_ttft(settings, question)
                in_browser, full = browser_ttft(page, url, question)
                rows.append(
                    {
                        "question": question,
                        "pipeline_ttft_cold_s": round(cold, 3),
                        "pipeline_ttft_s": round(warm, 3),
                        "browser_ttft_s": round(in_browser, 3),
                        "added_ms": round((in_browser - warm) * 1000, 1),
                        "browser_answer_s": round(full, 2),
                    }
                )
                Console().print(rows[-1])
            browser.close()
    finally:
        app.close()
    return rows


def bench_concurrency(settings: Settings, clients: int, delay: float) -> dict[str, Any]:
    """``clients`` chats at once against one answer lane; library searches meanwhile."""
    from gradio_client import Client

    settings = settings.with_overrides(**{"ui.port": free_port(), "ui.concurrency": 1})
    llm = SlowFakeLLM(settings.llm, delay)
    app = launch(settings, llm=llm, block=False, quiet=True)
    url = f"http://127.0.0.1:{settings.ui.port}/"
    searches: list[float] = []
    stop = threading.Event()

    def chat(i: int) -> dict[str, Any]:
        client = Client(url, verbose=False, download_files=False)
        start = time.perf_counter()
        try:
            out = client.predict(*ask_args(QUESTIONS[0]), api_name="/ask")
            ok = "error" not in out[2] and not out[2].get("abstained")
            error = out[2].get("error")
        except Exception as exc:
            ok, error = False, f"{type(exc).__name__}: {exc}"
        return {"client": i, "ok": ok, "error": error, "s": time.perf_counter() - start}

    def search_loop() -> None:
        client = Client(url, verbose=False, download_files=False)
        while not stop.is_set():
            start = time.perf_counter()
            client.predict(*search_args("optical flow occlusion"), api_name="/search")
            searches.append(time.perf_counter() - start)
            stop.wait(0.5)

    try:
        Client(url, verbose=False).predict(*search_args("warm up"), api_name="/search")
        searcher = threading.Thread(target=search_loop, daemon=True)
        searcher.start()
        start = time.perf_counter()
        with ThreadPoolExecutor(clients) as pool:
            results = list(pool.map(chat, range(clients)))
        wall = time.perf_counter() - start
        stop.set()
        searcher.join(timeout=30)
    finally:
        app.close()
    latencies = sorted(r["s"] for r in results)
    return {
        "clients": clients,
        "provider": f"fake, {1 / delay:.0f} tokens/s, {len(SLOW_REPLY.split())} tokens",
        "completed": sum(r["ok"] for r in results),
        "errors": [r["error"] for r in results if not r["ok"]],
        "latencies_s": [round(x, 2) for x in latencies],
        "wall_s": round(wall, 2),
        "search_during_s": {
            "n": len(searches),
            "median": median(searches, 3) if searches else None,
            "max": round(max(searches), 3) if searches else None,
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--store", type=Path, default=ROOT / "store")
    parser.add_argument("--questions", type=int, default=3)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--token-delay", type=float, default=1 / 27)
    parser.add_argument("--skip-browser", action="store_true")
    parser.add_argument("--out", type=Path, default=RESULTS / "ui.json")
    args = parser.parse_args()
    if not CHROMIUM.exists() and not args.skip_browser:
        sys.exit("needs /usr/bin/chromium (apt-get install chromium), or --skip-browser")
    settings = Settings(store_dir=args.store)
    console = Console()

    ttft = [] if args.skip_browser else bench_ttft(settings, args.questions)
    concurrency = bench_concurrency(
        settings.with_overrides(**{"llm.provider": "fake"}), args.clients, args.token_delay
    )

    if ttft:
        print_table(
            ["question", "pipeline cold", "pipeline", "browser", "added", "full answer"],
            [
                [
                    r["question"][:48],
                    f"{r['pipeline_ttft_cold_s']:.2f} s",
                    f"{r['pipeline_ttft_s']:.2f} s",
                    f"{r['browser_ttft_s']:.2f} s",
                    f"{r['added_ms']:+.0f} ms",
                    f"{r['browser_answer_s']:.1f} s",
                ]
                for r in ttft
            ],
            title="Time to first token: browser vs pipeline (real local model)",
        )
        added = median(r["added_ms"] for r in ttft)
        console.print(f"median added by the UI: {added:+.0f} ms (aim: <= 300 ms)")
    c = concurrency
    console.print(
        f"\n{c['clients']} concurrent chats ({c['provider']}, one answer at a time): "
        f"{c['completed']}/{c['clients']} completed, errors: {c['errors'] or 'none'}; "
        f"latencies {c['latencies_s']} s; wall {c['wall_s']} s. Library search meanwhile: "
        f"median {c['search_during_s']['median']} s, max {c['search_during_s']['max']} s "
        f"({c['search_during_s']['n']} searches)."
    )
    result = {
        "machine": {"platform": platform.platform(), "python": platform.python_version()},
        "ttft": ttft,
        "ttft_added_ms_median": median(r["added_ms"] for r in ttft) if ttft else None,
        "concurrency": concurrency,
    }
    write_results(args.out, result)


if __name__ == "__main__":
    main()
