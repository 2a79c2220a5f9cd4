"""Faults, tried for real: ingest killed with SIGKILL and re-run; a Chroma server that stops,
hangs and comes back; a hosted model endpoint that is slow, refuses or drops its stream
half-way; the disk filling up, or the model file damaged, while the bundled GGUF is
assembled. Each ends in a clear error or a correct result, and nothing half-done is kept."""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from assistant.errors import StoreError
from assistant.parse import make_paper
from assistant.settings import Settings
from assistant.store import open_store
from tests.conftest import ROOT, SAMPLE, free_port, wait_http
from tests.parts import send, tiny_parts

# --- the Chroma server stops, hangs, and comes back -------------------------------------------


class ChromaServer:
    """A real ``chroma run`` on 127.0.0.1 that a test can stop, pause and start again on the
    same port and data directory."""

    def __init__(self, folder: Path) -> None:
        self.port = free_port()
        self.folder = folder
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        chroma = shutil.which("chroma") or str(Path(sys.executable).parent / "chroma")
        log = self.folder / "server.log"
        with log.open("ab") as out:
            self.proc = subprocess.Popen(
                [
                    chroma,
                    "run",
                    "--path",
                    str(self.folder / "data"),
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
            )
        wait_http(f"{self.url}/api/v2/heartbeat", self.proc, log)

    def stop(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def pause(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)


@pytest.fixture
def chroma(tmp_path: Path) -> Iterator[ChromaServer]:
    server = ChromaServer(tmp_path)
    server.start()
    try:
        yield server
    finally:
        if server.proc is not None and server.proc.poll() is None:
            server.stop()


def papers(n: int, start: int = 0) -> list:  # type: ignore[type-arg]
    return [
        make_paper(f"Fault Paper {i}", f"An abstract about fault number {i}. " * 3, "faults.jsonl")
        for i in range(start, start + n)
    ]


def vectors(n: int) -> np.ndarray:
    rng = np.random.default_rng(n)
    out = rng.normal(size=(n, 384)).astype(np.float32)
    return out / np.linalg.norm(out, axis=1, keepdims=True)


@pytest.mark.server
def test_chroma_server_stopping_is_a_clear_error_and_the_next_request_works(
    chroma: ChromaServer,
) -> None:
    settings = Settings(chroma_url=chroma.url, chroma_timeout=5.0)
    store = open_store(settings)
    store.write_batch(papers(3), vectors(3))
    assert store.count() == 3

    chroma.stop()
    started = time.monotonic()
    with pytest.raises(StoreError) as info:
        store.count()
    assert time.monotonic() - started < 10
    message = str(info.value)
    assert chroma.url in message and "chroma run" in message
    with pytest.raises(StoreError, match="Is the server running"):
        open_store(settings)

    chroma.start()  # same port, same data
    assert store.count() == 3  # the same store object: no dead client kept
    store.write_batch(papers(2, start=3), vectors(2))
    assert open_store(settings).count() == 5


@pytest.mark.server
def test_a_hung_chroma_server_times_out_instead_of_hanging(chroma: ChromaServer) -> None:
    settings = Settings(chroma_url=chroma.url, chroma_timeout=2.0)
    store = open_store(settings)
    store.write_batch(papers(2), vectors(2))
    chroma.pause()  # accepts connections, answers nothing
    try:
        started = time.monotonic()
        with pytest.raises(StoreError, match=r"did not answer within 2s"):
            store.count()
        assert time.monotonic() - started < 8
    finally:
        chroma.resume()
    assert store.count() == 2


@pytest.mark.server
def test_search_recovers_after_the_chroma_server_restarts(
    chroma: ChromaServer, embedder: object
) -> None:
    from assistant.ingest import ingest_papers
    from assistant.retrieve import get_retriever

    settings = Settings(chroma_url=chroma.url, chroma_timeout=5.0)
    ingest_papers(open_store(settings), embedder, papers(4))  # type: ignore[arg-type]
    retriever = get_retriever(settings)
    assert retriever.search("fault number 2", k=2).hits
    chroma.stop()
    with pytest.raises(StoreError):
        retriever.search("fault number 2", k=2)
    chroma.start()
    assert get_retriever(settings) is retriever  # the cached retriever, not a new one
    assert retriever.search("fault number 2", k=2, mode="dense").hits
    assert retriever.search("fault number 2", k=2, mode="hybrid").hits


# --- ingest killed with SIGKILL at a random point, then re-run ----------------------------------

CLI = [sys.executable, "-c", "from assistant.cli import main; main()"]


def cli_run(store: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """The real ``assistant`` command, from this checkout, in a subprocess."""
    return subprocess.run(
        [*CLI, "--store", str(store), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=cli_env(),
        check=False,
    )


def cli_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "ASSISTANT_INGEST_BATCH": "16"}


#: ``ingest_paths`` as ``assistant ingest`` runs it, printing "done total" as batches land: the
#: progress marker the kill below waits for.
INGEST_WITH_PROGRESS = """
import sys
from pathlib import Path
from typing import Any
from assistant.ingest import ingest_paths
from assistant.settings import Settings

def progress(done, total):
    print(done, total, flush=True)

settings = Settings(store_dir=Path(sys.argv[1]))
ingest_paths(settings, [Path(sys.argv[2])], year=2024, progress=progress)
"""


@pytest.mark.slow
def test_ingest_killed_at_random_points_then_rerun_is_exact(tmp_path: Path) -> None:
    from assistant.ingest import merge_duplicates
    from assistant.parse import parse_paths
    from assistant.retrieve import get_retriever

    seed = int(os.environ.get("KILL_SEED", time.time()))
    rng = random.Random(seed)
    store = tmp_path / "store"
    expected = merge_duplicates(parse_paths([SAMPLE], year=2024).papers)
    last = expected[-1]  # new papers are written in this order: it lands in the last batch
    total, batch = len(expected), int(cli_env()["ASSISTANT_INGEST_BATCH"])
    ingest = [sys.executable, "-c", INGEST_WITH_PROGRESS, str(store), str(SAMPLE)]
    counts: list[int] = []
    for _ in range(2):
        before = counts[-1] if counts else 0
        proc = subprocess.Popen(
            ingest, env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        )
        assert proc.stdout is not None
        marks = (
            [int(n) for n in line.split()]
            for line in proc.stdout
            if line.split() and all(n.isdigit() for n in line.split())
        )
        # Kill a random number of whole batches in, at least three batches before the end.
        first = next(marks, None)  # "0 N": N papers to write this run
        assert first is not None, "the ingest printed no progress"
        target = batch * rng.randint(1, max(1, first[1] // batch - 3))
        next((done for done, _ in marks if done >= target), None)  # None: it ended first
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        # Between runs a search builds (and saves) a BM25 index of the partial store.
        searched = cli_run(store, "search", last.title, "--mode", "bm25", "--json")
        assert searched.returncode in (0, 1), searched.stderr
        stats = cli_run(store, "stats", "--json")
        assert stats.returncode == 0, stats.stderr
        counts.append(json.loads(stats.stdout)["papers"])
        # The fault happened: the kill landed mid-ingest, after some batches and before all.
        assert before + target <= counts[-1] < total, f"seed {seed}: papers stored {counts}"
        assert proc.returncode == -signal.SIGKILL, f"seed {seed}: the ingest ended by itself"
    print(f"seed {seed}: papers stored after each kill: {counts}")

    final = cli_run(store, "ingest", str(SAMPLE), "--year", "2024", "--json", "-q")
    assert final.returncode == 0, final.stderr
    report = json.loads(final.stdout)
    assert report["store_total"] == 583
    assert report["added"] == 583 - counts[-1]

    settings = Settings(store_dir=store)
    stored = list(open_store(settings).iter_papers())
    assert len(stored) == 583
    assert len({p.id for p in stored}) == 583  # no duplicates
    assert {p.title_key for p in stored} == {p.title_key for p in expected}  # none missing
    hits = get_retriever(settings).search(last.title, k=3, mode="bm25").hits
    assert hits and hits[0].paper.id == last.id  # the BM25 index is not stale


# --- the hosted model endpoint: slow, refusing, or dropping its stream half-way -----------------

SECRET = "sk-canary-faults-0123456789"


def sse_chunk(text: str, finish: str | None = None) -> bytes:
    body = {
        "id": "c1",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "m",
        "choices": [
            {"index": 0, "delta": {"content": text} if text else {}, "finish_reason": finish}
        ],
    }
    return f"data: {json.dumps(body)}\n\n".encode()


class SSEServer:
    """A small OpenAI-compatible endpoint on 127.0.0.1 that streams a few SSE chunks and then
    does what the test asks: finish, close the connection, break a chunked body, stall, or
    answer with an HTTP error."""

    WORDS = ("Caches ", "shrink ", "when ", "keys ", "are ", "merged [1]. ")

    def __init__(self, mode: str, *, stall: float = 0.0, before: float = 0.0) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.mode, self.stall, self.before = mode, stall, before
        self.requests = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                outer.requests += 1
                outer.respond(self)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        # A client that gave up mid-stream makes the handler's writes fail: expected here,
        # and its traceback would land in the output the CLI tests read.
        self.server.handle_error = lambda *args: None  # type: ignore[method-assign]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def respond(self, handler: object) -> None:
        import socket

        h = handler  # a BaseHTTPRequestHandler
        time.sleep(self.before)
        if self.mode == "refuse":
            body = b'{"error": {"message": "overloaded", "type": "server_error"}}'
            send(h, 503, body, "application/json")  # type: ignore[arg-type]
            return
        chunked = self.mode == "break-chunked"
        h.send_response(200)  # type: ignore[attr-defined]
        h.send_header("Content-Type", "text/event-stream")  # type: ignore[attr-defined]
        h.send_header(
            "Transfer-Encoding" if chunked else "Connection", "chunked" if chunked else "close"
        )  # type: ignore[attr-defined]
        h.end_headers()  # type: ignore[attr-defined]

        def write(data: bytes) -> None:
            if chunked:
                data = f"{len(data):x}\r\n".encode() + data + b"\r\n"
            h.wfile.write(data)  # type: ignore[attr-defined]
            h.wfile.flush()  # type: ignore[attr-defined]

        for word in self.WORDS[:3]:
            write(sse_chunk(word))
            time.sleep(0.02)
        if self.mode == "stall":
            time.sleep(self.stall)
        if self.mode == "finish":
            for word in self.WORDS[3:]:
                write(sse_chunk(word))
            write(sse_chunk("", "stop"))
            write(b"data: [DONE]\n\n")
        h.close_connection = True  # type: ignore[attr-defined]
        with contextlib.suppress(OSError):
            h.connection.shutdown(socket.SHUT_RDWR)  # type: ignore[attr-defined]

    def __enter__(self) -> SSEServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def hosted(url: str, timeout: float = 2.0, retries: int = 0) -> object:
    from pydantic import SecretStr

    from assistant.llm import create_llm
    from assistant.settings import LLMSettings

    return create_llm(
        LLMSettings(
            provider="openai",
            model="m",
            api_base=url,
            api_key=SecretStr(SECRET),
            timeout=timeout,
            max_retries=retries,
        )
    )


def test_a_finished_stream_is_whole() -> None:
    with SSEServer("finish") as server:
        stream = hosted(server.url).stream("hi")  # type: ignore[attr-defined]
        assert "".join(stream) == "".join(SSEServer.WORDS)
        assert stream.telemetry.finish_reason == "stop"


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ("close", r"closed the stream after 19 characters without finishing it"),
        ("break-chunked", r"dropped the connection after 19 characters \(peer closed"),
        ("stall", r"stopped sending for 1s after 19 characters"),
    ],
)
def test_a_stream_cut_half_way_keeps_the_text_and_says_it_is_incomplete(
    mode: str, message: str
) -> None:
    from assistant.errors import ModelError

    with SSEServer(mode, stall=5.0) as server:
        stream = hosted(server.url, timeout=1.0).stream("hi")  # type: ignore[attr-defined]
        started = time.monotonic()
        with pytest.raises(ModelError, match=message) as info:
            for _ in stream:
                pass
        assert time.monotonic() - started < 4.5  # the timeout (1 s) and slack, not the stall
    assert stream.text == "".join(SSEServer.WORDS[:3])  # what came is kept
    assert "the answer is incomplete" in str(info.value) and server.url in str(info.value)
    assert SECRET not in str(info.value)


def test_a_slow_endpoint_times_out_within_the_retries() -> None:
    from assistant.errors import ModelError

    with SSEServer("finish", before=10.0) as server:
        started = time.monotonic()
        with pytest.raises(ModelError, match=r"did not answer within 1s \(after 1 retry\)"):
            "".join(hosted(server.url, timeout=1.0, retries=1).stream("hi"))  # type: ignore[attr-defined]
        assert time.monotonic() - started < 6  # 2 tries of 1 s, plus backoff
        assert server.requests == 2


def test_a_refusing_endpoint_is_a_clear_error_after_its_retries() -> None:
    from assistant.errors import ModelError

    with SSEServer("refuse") as server:
        with pytest.raises(ModelError, match=r"failed with HTTP 503 \(after 1 retry\)"):
            "".join(hosted(server.url, retries=1).stream("hi"))  # type: ignore[attr-defined]
        assert server.requests == 2


@pytest.fixture
def small_store(tmp_path: Path, embedder: object) -> Path:
    from assistant.ingest import ingest_papers

    settings = Settings(store_dir=tmp_path / "store")
    kv = make_paper(
        "KV Cache Merging for Long Contexts",
        "We merge similar keys in the KV cache of transformers, which shrinks the cache by "
        "half while keeping accuracy on long-context benchmarks.",
        "x.jsonl",
    )
    ingest_papers(open_store(settings), embedder, [kv, *papers(2)])  # type: ignore[arg-type]
    return settings.store_dir


@pytest.mark.parametrize("mode", ["close", "stall", "refuse"])
def test_cli_ask_shows_what_came_marked_incomplete_then_one_error_line(
    small_store: Path, mode: str
) -> None:
    from click.testing import CliRunner

    from assistant.cli import cli

    with SSEServer(mode, stall=5.0) as server:
        env = {
            "ASSISTANT_LLM__PROVIDER": "openai",
            "ASSISTANT_LLM__API_BASE": server.url,
            "ASSISTANT_LLM__MODEL": "m",
            "ASSISTANT_LLM__API_KEY": SECRET,
            "ASSISTANT_LLM__TIMEOUT": "1",
            "ASSISTANT_LLM__MAX_RETRIES": "0",
        }
        result = CliRunner().invoke(
            cli, ["--store", str(small_store), "ask", "How is the KV cache shrunk?"], env=env
        )
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)
    assert SECRET not in result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and server.url in errors[0]
    if mode == "refuse":
        assert "incomplete" not in result.stderr
    else:
        assert "Caches shrink when" in result.stderr
        assert "⚠ incomplete:" in result.stderr and "the answer is incomplete" in errors[0]


# --- assembling the bundled model: a full disk, a damaged file, a killed assembly ---------------


@pytest.fixture
def bundle(tmp_path: Path) -> tuple[list[Path], Any, Any]:
    """Tiny model part files, their model, and LLM settings caching under tmp_path/cache."""
    from assistant.settings import LLMSettings

    parts, model = tiny_parts(tmp_path)
    return parts, model, LLMSettings(cache_dir=tmp_path / "cache")


def test_disk_full_while_assembling_is_a_clear_error_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bundle: tuple[list[Path], Any, Any]
) -> None:
    import errno

    from assistant.errors import ModelError
    from assistant.weights import is_verified, prepare_bundled, require_bundled

    parts, model, settings = bundle
    real_open = Path.open
    full: list[Path] = []

    class FillsUp:
        """A file whose second write finds the disk full."""

        def __init__(self, handle: object) -> None:
            self.handle, self.writes = handle, 0

        def write(self, data: bytes) -> int:
            self.writes += 1
            if self.writes > 1:
                raise OSError(errno.ENOSPC, "No space left on device")
            return self.handle.write(data)  # type: ignore[attr-defined, no-any-return]

        def __getattr__(self, name: str) -> object:
            return getattr(self.handle, name)

        def __enter__(self) -> FillsUp:
            return self

        def __exit__(self, *exc: object) -> None:
            self.handle.close()  # type: ignore[attr-defined]

    def open_on_a_full_disk(path: Path, mode: str = "r", *args: object, **kwargs: object) -> object:
        handle = real_open(path, mode, *args, **kwargs)  # type: ignore[call-overload]
        if "w" in mode and path.suffix == ".partial":  # the model being assembled
            full.append(path)
            return FillsUp(handle)
        return handle

    monkeypatch.setattr(Path, "open", open_on_a_full_disk)
    with pytest.raises(ModelError) as info:
        prepare_bundled(settings, model=model, parts=parts)  # type: ignore[arg-type]
    assert full  # the disk filled up while the model was being written
    message = str(info.value)
    assert "No space left on device" in message and "ASSISTANT_LLM__CACHE_DIR" in message
    assert list((tmp_path / "cache").iterdir()) == []  # no partial file, no model, no stamp

    monkeypatch.setattr(Path, "open", real_open)
    dest = prepare_bundled(settings, model=model, parts=parts)  # type: ignore[arg-type]
    assert is_verified(dest, model.sha256, model.size)  # type: ignore[attr-defined]
    assert require_bundled(settings, model=model) == dest  # type: ignore[arg-type]


def test_disk_full_for_the_stamp_only_keeps_the_verified_model(
    monkeypatch: pytest.MonkeyPatch, bundle: tuple[list[Path], Any, Any]
) -> None:
    import errno

    import assistant.weights as weights
    from assistant.weights import is_verified, prepare_bundled, require_bundled

    parts, model, settings = bundle
    real_write = weights.write_atomic
    refused: list[Path] = []

    def full(path: Path, *args: object, **kwargs: object) -> None:
        if path.name.endswith(".verified"):
            refused.append(path)
            raise OSError(errno.ENOSPC, "No space left on device")
        real_write(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(weights, "write_atomic", full)
    dest = prepare_bundled(settings, model=model, parts=parts)  # type: ignore[arg-type]
    assert refused, "the disk-full fault never happened"
    assert dest.read_bytes() == b"".join(p.read_bytes() for p in parts)
    assert not is_verified(dest, model.sha256, model.size)  # type: ignore[attr-defined]
    monkeypatch.setattr(weights, "write_atomic", real_write)
    assert require_bundled(settings, model=model) == dest  # type: ignore[arg-type]  # hashed


def test_a_damaged_model_is_refused_and_removed_so_the_next_start_rebuilds_it(
    bundle: tuple[list[Path], Any, Any],
) -> None:
    from assistant.errors import ModelError
    from assistant.weights import prepare_bundled, require_bundled

    parts, model, settings = bundle
    dest = prepare_bundled(settings, model=model, parts=parts)  # type: ignore[arg-type]
    damaged = bytearray(dest.read_bytes())
    damaged[100] ^= 0xFF  # same size: only the checksum can tell
    dest.write_bytes(bytes(damaged))
    with pytest.raises(ModelError, match=r"sha256 .*\(damaged") as info:
        require_bundled(settings, model=model)  # type: ignore[arg-type]
    assert "assistant model prepare" in str(info.value)
    assert not dest.exists() and list(dest.parent.glob("*.verified")) == []
    # Without --force: the bad copy is gone, so it is simply assembled again.
    assert prepare_bundled(settings, model=model, parts=parts) == dest  # type: ignore[arg-type]
    assert require_bundled(settings, model=model) == dest  # type: ignore[arg-type]


def test_partial_files_of_a_killed_assembly_are_cleaned_up(tmp_path: Path) -> None:
    from assistant.settings import LLMSettings
    from assistant.weights import STALE_PARTIAL_S, prepare_bundled

    parts, model = tiny_parts(tmp_path)
    cache = tmp_path / "cache"
    cache.mkdir()
    stale = cache / "tiny.gguf.abc123.partial"
    stale.write_bytes(b"x" * 100)
    old = time.time() - STALE_PARTIAL_S - 60
    os.utime(stale, (old, old))
    live = cache / "tiny.gguf.def456.partial"  # another process is writing this one now
    live.write_bytes(b"y" * 10)
    prepare_bundled(LLMSettings(cache_dir=cache), model=model, parts=parts)  # type: ignore[arg-type]
    assert not stale.exists() and live.exists()


def test_a_write_killed_before_its_revision_bump_still_changes_the_revision(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Re-embedding changed papers keeps the count: only the revision tells BM25 to rebuild."""
    from assistant.store import PaperStore

    store = open_store(Settings(store_dir=tmp_path / "store"))
    originals = papers(3)
    store.write_batch(originals, vectors(3))
    before = store.revision()
    changed = [p.model_copy(update={"abstract": p.abstract + " Revised."}) for p in originals]
    real_bump = PaperStore._bump_revision

    def killed_after_the_upsert(self: PaperStore) -> None:
        stored = self.get(changed[0].id)
        if stored is not None and stored.abstract.endswith("Revised."):
            raise KeyboardInterrupt  # SIGKILL, as far as the store can tell
        real_bump(self)

    monkeypatch.setattr(PaperStore, "_bump_revision", killed_after_the_upsert)
    with pytest.raises(KeyboardInterrupt):
        store.write_batch(changed, vectors(3))
    monkeypatch.setattr(PaperStore, "_bump_revision", real_bump)
    reopened = open_store(Settings(store_dir=tmp_path / "store"))
    assert reopened.count() == 3
    assert reopened.revision() != before
