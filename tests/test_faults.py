"""Faults, tried for real: ingest killed with SIGKILL and re-run; a Chroma server that stops,
hangs and comes back; a hosted model endpoint that is slow, refuses or drops its stream
half-way; the disk filling up, or the model file damaged, while the bundled GGUF is
assembled. Each ends in a clear error or a correct result, and nothing half-done is kept."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from assistant.errors import StoreError
from assistant.ingest import make_paper
from assistant.settings import Settings
from assistant.store import open_store
from tests.conftest import free_port, wait_http

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
