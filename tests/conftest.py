"""Shared fixtures: real embedder, a real sample store built once, a real Chroma server."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from assistant.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 60.0) -> None:
    """Poll ``url`` until it answers 200, failing fast (with its log) if ``proc`` dies."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            out = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"server exited with {proc.returncode}: {out}")
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Terminate a server process, killing it if it lingers."""
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings pointing at a fresh, empty embedded store."""
    return Settings(store_dir=tmp_path / "store")


@pytest.fixture(scope="session")
def embedder():  # type: ignore[no-untyped-def]
    """The real offline embedding model, loaded once per test session."""
    from assistant.embed import get_embedder

    return get_embedder(Settings())


@pytest.fixture(scope="session")
def sample_settings(tmp_path_factory: pytest.TempPathFactory, embedder) -> Settings:  # type: ignore[no-untyped-def]
    """Settings of an embedded store holding the whole sample corpus (built once)."""
    from assistant.ingest import ingest_papers
    from assistant.parse import parse_paths
    from assistant.store import open_store

    settings = Settings(store_dir=tmp_path_factory.mktemp("sample") / "store")
    parsed = parse_paths([SAMPLE], year=2024)
    ingest_papers(open_store(settings), embedder, parsed.papers, files=parsed.files)
    return settings


@pytest.fixture
def fake_settings(sample_settings: Settings) -> Settings:
    """The sample store, answered by the deterministic fake model."""
    return sample_settings.with_overrides(**{"llm.provider": "fake"})


@pytest.fixture
def fake(fake_settings: Settings) -> Any:
    """The fake model of ``fake_settings``, with no history or queued reply left over."""
    from assistant.llm import FakeLLM, get_llm

    llm = get_llm(fake_settings)
    assert isinstance(llm, FakeLLM)
    llm.history.clear()
    llm._queue.clear()
    return llm


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a real ``chroma run`` server on 127.0.0.1, stopped after the session."""
    chroma = shutil.which("chroma") or str(Path(sys.executable).parent / "chroma")
    port = free_port()
    path = tmp_path_factory.mktemp("chroma-server")
    log = path / "server.log"
    env = {**os.environ, "ANONYMIZED_TELEMETRY": "False"}
    # Output goes to a file: an unread pipe fills up and blocks the server mid-test.
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                chroma,
                "run",
                "--path",
                str(path / "data"),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        wait_http(f"http://127.0.0.1:{port}/api/v2/heartbeat", proc, log)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(proc)
