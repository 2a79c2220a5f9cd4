"""The hosted (OpenAI-compatible) provider against real servers on 127.0.0.1.

- A real ``python -m llama_cpp.server`` with the bundled GGUF (marked ``server`` and ``llm``):
  streamed and non-streamed completions through ``OpenAILike``.
- The failures a user meets, each against a tiny HTTP server in a thread (no model, fast, so
  not marked): connection refused, 401, timeout, 500 then success, 500 for good, malformed
  replies. Each must be a ``ModelError`` naming the endpoint, with the key masked, in
  bounded time.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from pydantic import SecretStr

from assistant.errors import ModelError
from assistant.llm import BaseLLM, clear_llm_cache, create_llm
from assistant.settings import LLMSettings
from assistant.weights import require_bundled
from tests.conftest import ROOT, free_port, stop, wait_http
from tests.parts import send

SECRET = "sk-test-secret-0123456789abcdef"


def hosted(api_base: str, **extra: object) -> BaseLLM:
    """An openai-provider LLM for ``api_base`` with a short timeout and quick retries."""
    values: dict[str, object] = {
        "provider": "openai",
        "model": "qwen-local",
        "api_base": api_base,
        "api_key": SecretStr(SECRET),
        "timeout": 20.0,
        "max_retries": 0,
    }
    values.update(extra)
    return create_llm(LLMSettings(**values))  # type: ignore[arg-type]


# --------------------------------------------------------------------------- tiny fake servers

Reply = Callable[[BaseHTTPRequestHandler, int], None]


def chat_reply(text: str) -> dict[str, object]:
    """A minimal valid chat.completion body."""
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 0,
        "model": "qwen-local",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7},
    }


class FakeServer:
    """An HTTP server in a thread answering every POST with ``reply(handler, n)``."""

    def __init__(self, reply: Reply) -> None:
        self.requests = 0
        self.release = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                outer.requests += 1
                reply(self, outer.requests)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self) -> FakeServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def test_connection_refused_names_the_endpoint() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    llm = hosted(url, max_retries=1)
    start = time.monotonic()
    with pytest.raises(ModelError) as info:
        llm.complete("hi")
    assert time.monotonic() - start < 15
    message = str(info.value)
    assert url in message
    assert "cannot connect" in message
    assert "ASSISTANT_LLM__API_BASE" in message


def test_401_names_the_fix_and_hides_the_key() -> None:
    def unauthorized(handler: BaseHTTPRequestHandler, n: int) -> None:
        body = {"error": {"message": f"Incorrect API key provided: {SECRET}", "code": 401}}
        send(handler, 401, json.dumps(body).encode(), "application/json")

    with FakeServer(unauthorized) as server:
        llm = hosted(server.url, max_retries=2)
        with pytest.raises(ModelError) as info:
            llm.complete("hi")
        with pytest.raises(ModelError) as streamed:
            "".join(llm.stream("hi"))
    for exc in (info.value, streamed.value):
        message = str(exc)
        assert server.url in message
        assert "API key" in message
        assert "ASSISTANT_LLM__API_KEY" in message
        assert SECRET not in message
        assert SECRET not in repr(exc)
        assert exc.__cause__ is None
    assert server.requests == 2  # no retries on 401


def test_timeout_is_bounded_and_says_so() -> None:
    def hang(handler: BaseHTTPRequestHandler, n: int) -> None:
        server_release.wait(10)

    with FakeServer(hang) as server:
        server_release = server.release
        llm = hosted(server.url, timeout=0.5, max_retries=1)
        start = time.monotonic()
        with pytest.raises(ModelError) as info:
            llm.complete("hi")
        elapsed = time.monotonic() - start
    assert elapsed < 6
    message = str(info.value)
    assert server.url in message
    assert "did not answer within 0.5s" in message
    assert "after 1 retry" in message
    assert server.requests == 2


def test_500_then_success_is_retried() -> None:
    def flaky(handler: BaseHTTPRequestHandler, n: int) -> None:
        if n == 1:
            send(handler, 500, b'{"error": {"message": "boom"}}', "application/json")
        else:
            send(handler, 200, json.dumps(chat_reply("recovered")).encode(), "application/json")

    with FakeServer(flaky) as server:
        completion = hosted(server.url, max_retries=2).complete("hi")
    assert completion.text == "recovered"
    assert server.requests == 2
    assert (completion.telemetry.prompt_tokens, completion.telemetry.completion_tokens) == (5, 2)
    assert completion.telemetry.tokens_estimated is False


def test_500_for_good_gives_up_after_the_retries() -> None:
    def broken(handler: BaseHTTPRequestHandler, n: int) -> None:
        send(handler, 500, b'{"error": {"message": "internal"}}', "application/json")

    with FakeServer(broken) as server:
        start = time.monotonic()
        with pytest.raises(ModelError) as info:
            hosted(server.url, max_retries=2).complete("hi")
        assert time.monotonic() - start < 15
    assert "HTTP 500 (after 2 retries)" in str(info.value)
    assert server.url in str(info.value)
    assert server.requests == 3


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        (b'{"choices": [ {"message": ', "application/json"),  # cut-off JSON
        (b'{"unexpected": true}', "application/json"),  # JSON, wrong shape
        (b"<html>proxy error page</html>", "text/html"),  # not JSON at all
    ],
    ids=["truncated-json", "wrong-shape", "html"],
)
def test_malformed_reply_is_a_clear_error(body: bytes, kind: str) -> None:
    def malformed(handler: BaseHTTPRequestHandler, n: int) -> None:
        send(handler, 200, body, kind)

    with FakeServer(malformed) as server, pytest.raises(ModelError) as info:
        hosted(server.url).complete("hi")
    message = str(info.value)
    assert server.url in message
    assert "OpenAI-compatible" in message


def test_malformed_stream_is_a_clear_error() -> None:
    def bad_stream(handler: BaseHTTPRequestHandler, n: int) -> None:
        send(handler, 200, b"data: {not json}\n\n", "text/event-stream")

    with FakeServer(bad_stream) as server, pytest.raises(ModelError) as info:
        "".join(hosted(server.url).stream("hi"))
    assert server.url in str(info.value)


# --------------------------------------------------------------------------- a real server


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``python -m llama_cpp.server`` on the bundled GGUF, on a free loopback port."""
    pytest.importorskip("llama_cpp.server.app", reason="needs llama-cpp-python[server]")
    gguf = require_bundled(LLMSettings())
    port = free_port()
    log = tmp_path_factory.mktemp("llama-server") / "server.log"
    args = [
        "--model",
        str(gguf),
        "--model_alias",
        "qwen-local",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        "2048",
        "--n_threads",
        "2",
        "--verbose",
        "false",
    ]
    with log.open("wb") as out:  # a file, not a pipe nobody reads (it would fill up)
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.llama_server", *args],  # AMX-safe, as the app
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}/v1"
    try:
        wait_http(f"{url}/models", proc, log, timeout=180)
        yield url
    finally:
        stop(proc)


@pytest.mark.server
@pytest.mark.llm
def test_real_server_complete_and_stream(llama_server: str, tmp_path: Path) -> None:
    clear_llm_cache()
    llm = hosted(llama_server, temperature=0.0, timeout=120.0, max_retries=1)
    question = "What is the capital of France? Answer with one word."
    completion = llm.complete(question, max_tokens=8)
    assert "paris" in completion.text.lower()
    t = completion.telemetry
    assert (t.provider, t.model) == ("openai", "qwen-local")
    assert t.prompt_tokens > 10
    assert 0 < t.completion_tokens <= 8
    assert t.total_s > 0

    stream = llm.stream(question, max_tokens=8)
    chunks = list(stream)
    assert len(chunks) >= 1
    assert "".join(chunks) == stream.text
    assert "paris" in stream.text.lower()
    assert stream.telemetry is not None
    assert 0 < stream.telemetry.ttft_s <= stream.telemetry.total_s

    short = llm.complete("Count from 1 to 50, separated by commas.", max_tokens=5)
    assert short.telemetry.finish_reason == "length"
