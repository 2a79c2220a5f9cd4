"""The Gradio app driven through its API with gradio_client (fake LLM, real sample store).

The app runs in this process (``launch(block=False)``) so the fake model's replies can be
scripted; the auth test starts the real ``assistant ui`` command in a subprocess.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from assistant.llm import FakeLLM
from assistant.settings import Settings
from tests.conftest import free_port, stop, wait_http

pytestmark = pytest.mark.server

QUESTION = "How do optical flow methods handle occlusions?"
REPLY = (
    "SplatFlow handles occlusions with a multi-frame splatting transformation [1]. "
    "Two-frame methods cannot handle occluded regions because they have no correspondences [1]."
)


@pytest.fixture(scope="module")
def served(sample_settings: Settings) -> Iterator[tuple[str, FakeLLM]]:
    """The app on a free port over the sample store, answering with a scripted fake model."""
    from assistant.ui.app import launch

    settings = sample_settings.with_overrides(
        **{"llm.provider": "fake", "ui.port": free_port(), "ui.host": "127.0.0.1"}
    )
    llm = FakeLLM(settings.llm)
    app = launch(settings, llm=llm, block=False, quiet=True)
    try:
        yield f"http://127.0.0.1:{settings.ui.port}/", llm
    finally:
        app.close()


@pytest.fixture
def app_url(served: tuple[str, FakeLLM]) -> tuple[str, FakeLLM]:
    """The served app, its fake model with no reply left over from an earlier test."""
    served[1]._queue.clear()
    return served


def client(url: str, **kwargs: Any) -> Any:
    """A fresh API client: one client is one browser session (one chat)."""
    from gradio_client import Client

    return Client(url, verbose=False, download_files=False, **kwargs)


def ask(c: Any, question: str, **options: Any) -> tuple[Any, ...]:
    """Call the chat endpoint: (chat messages, sources HTML, answer JSON, .md, .bib)."""
    args = {"since": "", "until": "", "source": "All sources", "mode": "hybrid", "k": 3}
    args.update(options)
    return c.predict(
        question,
        args["since"],
        args["until"],
        args["source"],
        args["mode"],
        args["k"],
        api_name="/ask",
    )


def content(message: dict[str, Any]) -> str:
    """The text of a chat message (gradio 6 sends a list of typed parts)."""
    value = message["content"]
    if isinstance(value, list):
        return "".join(part.get("text", "") for part in value if isinstance(part, dict))
    return str(value)


def test_ask_returns_a_cited_answer_with_source_cards(app_url: tuple[str, FakeLLM]) -> None:
    url, llm = app_url
    llm.enqueue(REPLY)
    chat, sources, answer, md_file, bib_file = ask(client(url), QUESTION)

    assert [m["role"] for m in chat] == ["user", "assistant"]
    assert 'href="#src-0-1"' in content(chat[1])  # the citation links to its card
    assert answer["abstained"] is False
    assert answer["citations"][0]["number"] == 1
    assert len(answer["sources"]) == 3
    assert 'id="src-0-1"' in sources and "src-evidence" in sources
    assert answer["citations"][0]["title"] in sources
    assert "first token" in content(chat[1])  # model and timings under the answer
    assert "conversation.md" in str(md_file) and "cited-papers.bib" in str(bib_file)


def test_follow_up_in_the_same_chat_uses_the_history(app_url: tuple[str, FakeLLM]) -> None:
    url, llm = app_url
    c = client(url)
    llm.enqueue(REPLY)
    ask(c, QUESTION)
    # A follow-up: the model first rewrites it as a standalone question, then answers.
    llm.enqueue("How does SplatFlow handle occlusions in optical flow?", REPLY)
    calls = len(llm.history)
    chat, sources, answer, _, _ = ask(c, "And how does it compare on Sintel?")

    assert [m["role"] for m in chat] == ["user", "assistant"] * 2
    condense = llm.history[calls].messages
    assert any(QUESTION in m.content for m in condense)  # the first turn was passed along
    assert answer["standalone_question"] == "How does SplatFlow handle occlusions in optical flow?"
    assert 'id="src-1-1"' in sources and 'id="turn-0"' in sources  # earlier cards kept, folded

    # A new session is a new chat: no history.
    llm.enqueue(REPLY)
    chat, *_ = ask(client(url), QUESTION)
    assert len(chat) == 2


def test_library_search_and_browse(app_url: tuple[str, FakeLLM]) -> None:
    url, _ = app_url
    c = client(url)
    table, count = c.predict("optical flow occlusion", "", "", "hybrid", api_name="/search")
    rows = table["data"]
    assert rows and "best match first" in count
    assert any("Flow" in row[1] for row in rows[:3])
    assert rows[0][3] >= rows[-1][3]  # ranked by similarity

    table, count = c.predict("", "", "", "hybrid", api_name="/search")
    dates = [row[0] for row in table["data"] if row[0]]
    assert "newest first" in count and dates == sorted(dates, reverse=True)


def test_over_long_inputs_are_cut_with_a_message(app_url: tuple[str, FakeLLM]) -> None:
    url, llm = app_url
    llm.enqueue(REPLY)
    long_question = QUESTION + " " + "please explain in detail " * 400
    chat, _, answer, _, _ = ask(client(url), long_question)
    assert "only the first" in " ".join(answer["notices"])  # the question was truncated
    assert "only the first" in content(chat[1])  # ...and the page says so

    with pytest.raises(Exception, match="maximum value 20"):  # the slider's bound holds
        ask(client(url), QUESTION, k=50)

    table, _ = client(url).predict("optical flow " * 400, "", "", "hybrid", api_name="/search")
    assert table["data"]  # searched the first part instead of failing


def test_errors_become_messages_not_tracebacks(app_url: tuple[str, FakeLLM]) -> None:
    url, llm = app_url
    chat, _, answer, _, _ = ask(client(url), QUESTION, since="2024-13-45")
    assert "not a date" in answer["error"]
    assert "Traceback" not in content(chat[-1]) and "not a date" in content(chat[-1])

    llm.enqueue(RuntimeError("llama.cpp exploded"))
    chat, _, answer, _, _ = ask(client(url), QUESTION)
    assert "RuntimeError" in answer["error"] and "server log" in answer["error"]

    _, count = client(url).predict("flow", "yesterday", "", "hybrid", api_name="/search")
    assert "not a date" in count


def test_several_clients_are_answered_one_at_a_time(
    app_url: tuple[str, FakeLLM], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three clients at once: all answered, and never two answers generated together (the
    'llm' queue lane runs ``ui.concurrency`` = 1 at a time, as the README says)."""
    import threading
    import time

    import assistant.ui.app as app_module

    url, llm = app_url
    active, overlaps, lock = [0], [0], threading.Lock()
    real = app_module.ask_stream

    def counted(*args: Any, **kwargs: Any) -> Iterator[Any]:
        with lock:
            active[0] += 1
            overlaps[0] = max(overlaps[0], active[0])
        try:
            time.sleep(0.5)  # long enough that a second handler would overlap if let in
            yield from real(*args, **kwargs)
        finally:
            with lock:
                active[0] -= 1

    monkeypatch.setattr(app_module, "ask_stream", counted)
    llm.enqueue(REPLY, REPLY, REPLY)
    jobs = [
        client(url).submit(QUESTION, "", "", "All sources", "hybrid", 2, api_name="/ask")
        for _ in range(3)
    ]
    results = [job.result(timeout=300) for job in jobs]
    assert all(r[2]["abstained"] is False for r in results)
    assert all(r[2]["citations"] for r in results)
    assert overlaps[0] == 1, "answers were generated concurrently"


def test_auth_protects_pages_and_api(sample_settings: Settings, tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "ui.log"
    env = {
        **os.environ,
        "ASSISTANT_LLM__PROVIDER": "fake",
        "ASSISTANT_UI__AUTH": "alice:s3cret",
        "GRADIO_ANALYTICS_ENABLED": "False",
    }
    command = [
        str(Path(sys.executable).parent / "assistant"),
        "--store",
        str(sample_settings.store_dir),
    ]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [*command, "ui", "--port", str(port)], stdout=out, stderr=subprocess.STDOUT, env=env
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(base + "/", proc, log, timeout=180)
        for path in ("/config", "/gradio_api/info", "/gradio_api/queue/join"):
            response = httpx.get(base + path, timeout=10)
            assert response.status_code in (401, 403, 405), (path, response.status_code)
        assert httpx.post(base + "/gradio_api/call/ask", json={"data": []}).status_code == 401
        with pytest.raises(Exception):  # noqa: B017 - gradio_client's error type varies
            client(base + "/")
        api = client(base + "/", auth=("alice", "s3cret")).view_api(
            print_info=False, return_format="dict"
        )
        assert "/ask" in api["named_endpoints"]
    finally:
        stop(proc)


def test_binding_beyond_localhost_without_auth_warns() -> None:
    from assistant.errors import InputError
    from assistant.ui.app import auth_pair, bind_warning

    assert bind_warning("127.0.0.1", False) is None
    assert bind_warning("0.0.0.0", True) is None
    assert "--auth" in (bind_warning("0.0.0.0", False) or "")
    assert auth_pair(Settings(ui={"auth": "a:b:c"})) == ("a", "b:c")
    with pytest.raises(InputError):
        auth_pair(Settings(ui={"auth": "nopassword"}))


def test_answers_are_escaped_and_flags_visible(sample_settings: Settings) -> None:
    from assistant.models import Answer, SentenceCheck
    from assistant.ui.render import answer_html

    answer = Answer(
        question="q",
        standalone_question="q",
        answer="x",
        abstained=False,
        sentences=[
            SentenceCheck(text="Fine claim [1].", citations=[1], support=0.8, supported=True),
            SentenceCheck(text="<script>x</script> made up [2].", citations=[2], supported=False),
        ],
        unsupported=1,
    )
    html = answer_html(answer, 4)
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert 'href="#src-4-2"' in html
    assert 'class="unsupported"' in html and "⚠" in html
