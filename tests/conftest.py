"""Shared fixtures: real embedder, a real sample store built once, a real Chroma server; and
the guard that fails a test not marked ``llm`` which loads or runs the real local model."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from assistant.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


class RealModelGuard:
    """Fails any test not marked ``llm`` that loads or runs the real local model (llama.cpp or
    transformers), as pydantic-ai's tests set ``ALLOW_MODEL_REQUESTS = False``: such a test
    takes seconds to minutes, and one that reaches the model by accident should say so.

    The check runs inside the model's load and generation, and is attributed to the test
    being run (its fixtures included, session-scoped ones too); a violation fails the call
    and, should the call have been in another thread, the test at teardown."""

    def __init__(self) -> None:
        self.running: pytest.Item | None = None
        self.violations: list[str] = []

    def install(self) -> None:
        """Wrap the real runtimes' load and generation with the check (once per session)."""
        from assistant.llm.llamacpp import LlamaCppLLM
        from assistant.llm.transformers_runtime import TransformersLLM

        for cls in (LlamaCppLLM, TransformersLLM):
            for name, what in (("_load", "loads"), ("_generate", "runs"), ("_complete", "runs")):
                if name in cls.__dict__:
                    self._wrap(cls, name, f"{what} the real model ({cls.__name__}.{name})")

    def _wrap(self, cls: type, name: str, what: str) -> None:
        original = cls.__dict__[name]
        static = isinstance(original, staticmethod)
        function: Callable[..., Any] = original.__func__ if static else original

        def guarded(*args: Any, **kwargs: Any) -> Any:
            self.check(what)
            return function(*args, **kwargs)

        setattr(cls, name, staticmethod(guarded) if static else guarded)

    def check(self, what: str) -> None:
        """Fail the running test unless it is marked ``llm``."""
        item = self.running
        if item is None or item.get_closest_marker("llm") is not None:
            return
        message = (
            f"{item.nodeid} {what} but is not marked llm: mark it @pytest.mark.llm, "
            "or answer with the fake provider (llm.provider='fake')."
        )
        self.violations.append(message)
        pytest.fail(message, pytrace=False)


REAL_MODEL_GUARD = RealModelGuard()


def pytest_configure(config: pytest.Config) -> None:
    REAL_MODEL_GUARD.install()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Any:
    REAL_MODEL_GUARD.running = item
    try:
        return (yield)
    finally:
        REAL_MODEL_GUARD.running = None


@pytest.fixture(autouse=True)
def _real_model_only_in_llm_tests() -> Iterator[None]:
    """Fail a test whose real-model call was refused where the test could not see it."""
    yield
    refused, REAL_MODEL_GUARD.violations[:] = list(REAL_MODEL_GUARD.violations), []
    if refused:
        pytest.fail("\n".join(refused), pytrace=False)


@pytest.fixture
def real_model_guard() -> RealModelGuard:
    """The session's guard, for the tests of the guard itself."""
    return REAL_MODEL_GUARD


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
