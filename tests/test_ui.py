"""The Gradio app driven through its API with gradio_client (fake LLM, real sample store).

The app runs in this process (``launch(block=False)``) so the fake model's replies can be
scripted; the auth test starts the real ``assistant ui`` command in a subprocess.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import httpx
import pytest

from assistant.llm import FakeLLM
from assistant.llm.base import Generation, GenParams, Message
from assistant.settings import Settings
from tests.conftest import free_port, stop, wait_http

# Tests that start a server carry the ``server`` marker one by one: the render and
# waiting-line tests need none, so ``make test-fast`` runs them.

QUESTION = "How do optical flow methods handle occlusions?"
REPLY = (
    "SplatFlow handles occlusions with a multi-frame splatting transformation [1]. "
    "Two-frame methods cannot handle occluded regions because they have no correspondences [1]."
)


#: A reply long enough to stop half-way (200 words at ``SlowFakeLLM.delay`` each).
LONG_REPLY = " ".join(
    f"Optical flow word{i} [1]." if i % 20 == 19 else f"word{i}" for i in range(200)
)


class SlowFakeLLM(FakeLLM):
    """The fake model, writing one word per ``delay`` seconds: long enough to press Stop or to
    make a second user wait. ``closed_early`` counts generations stopped before their end."""

    delay = 0.0

    def __init__(self, settings: Any) -> None:
        super().__init__(settings)
        self.closed_early = 0

    def _generate(self, messages: list[Message], params: GenParams) -> Generation:
        words = super()._generate(messages, params)
        finished = False
        try:
            while True:
                try:
                    word = next(words)
                except StopIteration as done:
                    finished = True
                    return done.value
                time.sleep(self.delay)
                yield word
        finally:
            if not finished:
                self.closed_early += 1


class Served(NamedTuple):
    url: str
    llm: SlowFakeLLM
    settings: Settings


def serve(settings: Settings) -> tuple[Any, Served]:
    """The app on a free port over ``settings``' store, with a scripted (slow) fake model."""
    from assistant.ui.app import launch

    settings = settings.with_overrides(
        **{"llm.provider": "fake", "ui.port": free_port(), "ui.host": "127.0.0.1"}
    )
    llm = SlowFakeLLM(settings.llm)
    app = launch(settings, llm=llm, block=False, quiet=True)
    return app, Served(f"http://127.0.0.1:{settings.ui.port}/", llm, settings)


@pytest.fixture(scope="module")
def served(sample_settings: Settings) -> Iterator[Served]:
    app, info = serve(sample_settings)
    try:
        yield info
    finally:
        app.close()


@pytest.fixture
def app_url(served: Served, request: pytest.FixtureRequest) -> Served:
    """The served app, its fake model fast and with no reply left over from an earlier test."""
    assert request.node.get_closest_marker("server"), "a test of the served app is marked server"
    served.llm._queue.clear()
    served.llm.delay = 0.0
    return served


def client(url: str, **kwargs: Any) -> Any:
    """A fresh API client: one client is one browser session (one chat)."""
    from gradio_client import Client

    return Client(url, verbose=False, download_files=False, **kwargs)


def ask_args(question: str, **options: Any) -> list[Any]:
    """The /ask endpoint's arguments: question, since, until, source, mode, k, about, scope."""
    args = {"since": "", "until": "", "source": "All sources", "mode": "hybrid", "k": 3}
    args.update(options)
    keys = ("since", "until", "source", "mode", "k")
    extra = [args.get("about", ""), args.get("scope", "All papers")]
    return [question, *(args[key] for key in keys), *extra]


def ask(c: Any, question: str, **options: Any) -> tuple[Any, ...]:
    """Call the chat endpoint: (chat messages, sources HTML, answer JSON, .md, .bib)."""
    return c.predict(*ask_args(question, **options), api_name="/ask")


def find(c: Any, query: str = "", **options: Any) -> tuple[dict[str, Any], str]:
    """Call the library endpoint: (table, count line)."""
    args = {"mode": "hybrid", "since": "", "until": "", "source": "All sources"}
    args.update(options)
    table, count, _page = c.predict(
        query,
        args["mode"],
        args["since"],
        args["until"],
        args["source"],
        args.get("order", "best match"),
        args.get("page", 1),
        args.get("weaker", False),
        api_name="/search",
    )
    return table, count


def wait_for(condition: Callable[[], Any], timeout: float = 60.0, what: str = "") -> Any:
    """Poll ``condition`` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what or condition}")


def last_chat(job: Any) -> str:
    """The last chat message a running /ask job has shown so far ('' before any)."""
    outputs = job.outputs()
    if not outputs or not outputs[-1][0]:
        return ""
    return content(outputs[-1][0][-1])


def content(message: dict[str, Any]) -> str:
    """The text of a chat message (gradio 6 sends a list of typed parts)."""
    value = message["content"]
    if isinstance(value, list):
        return "".join(part.get("text", "") for part in value if isinstance(part, dict))
    return str(value)


@pytest.mark.server
def test_ask_returns_a_cited_answer_with_source_cards(app_url: Served) -> None:
    url, llm, _ = app_url
    llm.enqueue(REPLY)
    chat, sources, answer, md_file, bib_file = ask(client(url), QUESTION)

    assert [m["role"] for m in chat] == ["user", "assistant"]
    assert 'href="#src-0-1"' in content(chat[1])  # the citation links to its card
    assert answer["abstained"] is False
    assert answer["citations"][0]["number"] == 1
    # Retrieved papers that cover no part of the question are not shown to the model, and counted.
    left = 3 - len(answer["sources"])
    assert 1 <= len(answer["sources"]) <= 3
    assert left == 0 or any("only near the question" in n for n in answer["notices"])
    assert 'id="src-0-1"' in sources and "src-evidence" in sources
    assert answer["citations"][0]["title"] in sources
    assert "first token" in content(chat[1])  # model and timings under the answer
    assert "conversation.md" in str(md_file) and "cited-papers.bib" in str(bib_file)


@pytest.mark.server
def test_follow_up_in_the_same_chat_uses_the_history(app_url: Served) -> None:
    url, llm, _ = app_url
    c = client(url)
    llm.enqueue(REPLY)
    ask(c, QUESTION)
    # A follow-up: the model first rewrites it as a standalone question, then answers.
    llm.enqueue("How does SplatFlow handle occlusions in optical flow?", REPLY)
    calls = len(llm.history)
    chat, sources, answer, _, _ = ask(c, "And how does SplatFlow compare on Sintel?")

    assert [m["role"] for m in chat] == ["user", "assistant"] * 2
    condense = llm.history[calls].messages
    assert any(QUESTION in m.content for m in condense)  # the first turn was passed along
    assert answer["standalone_question"] == "How does SplatFlow handle occlusions in optical flow?"
    assert 'id="src-1-1"' in sources and 'id="turn-0"' in sources  # earlier cards kept, folded
    # The rewritten question shows under the user's turn; the first turn has none.
    assert "searched for: How does SplatFlow handle occlusions" in content(chat[2])
    assert "searched for" not in content(chat[0])

    # One that points back ("those") is answered from the previous sources: no rewrite call.
    llm.enqueue(REPLY)
    calls = len(llm.history)
    chat, _, answer, _, _ = ask(c, "Which of those is fastest?")
    assert len(llm.history) == calls + 1  # the answer only
    assert answer["standalone_question"] == (
        "Which of those is fastest? (follow-up to: "
        "How does SplatFlow handle occlusions in optical flow?)"
    )
    assert any("of the previous answer" in n for n in answer["notices"])

    # A new session is a new chat: no history.
    llm.enqueue(REPLY)
    chat, *_ = ask(client(url), QUESTION)
    assert len(chat) == 2


@pytest.mark.server
def test_library_search_is_ranked_by_the_score_it_shows(app_url: Served) -> None:
    url, _, _ = app_url
    c = client(url)
    table, count = find(c, "optical flow occlusion")
    assert table["headers"] == ["#", "score", "date", "title", "source", "id"]
    rows = table["data"]
    assert rows and "good match" in count and "page 1 of" in count
    assert any("Flow" in row[3] for row in rows[:3])
    ranks = [row[0] for row in rows]
    assert ranks == sorted(ranks) and ranks[0] == 1  # the fused score's rank
    scores = [row[1] for row in rows]
    assert scores == sorted(scores, reverse=True)  # the score shown is the one that ranks

    # A narrow query: the good matches are listed, the rest of the k hits folded away.
    table, count = find(c, "optical flow")
    good = re.match(r"(\d+) good match", count)
    hidden = re.search(r"(\d+) weaker hidden", count)
    assert good and hidden, count
    assert len(table["data"]) == int(good.group(1)) < 10
    assert "SplatFlow" in table["data"][0][3]
    assert "Principles of Deep Learning Theory" not in str(table["data"])
    table, count = find(c, "optical flow", weaker=True)
    assert f"then {hidden.group(1)} weaker" in count
    assert len(table["data"]) == min(25, int(good.group(1)) + int(hidden.group(1)))

    table, _ = find(c, "optical flow occlusion", order="newest")
    dates = [row[2] for row in table["data"] if row[2]]
    assert dates == sorted(dates, reverse=True)


@pytest.mark.server
def test_library_browses_page_by_page_with_filters(app_url: Served) -> None:
    url, _, _ = app_url
    c = client(url)
    first, count = find(c)
    assert "583 papers" in count and "newest first" in count and "page 1 of 24" in count
    assert len(first["data"]) == 25
    dates = [row[2] for row in first["data"] if row[2]]
    assert dates == sorted(dates, reverse=True)
    second, count = find(c, page=2)
    assert "page 2 of 24" in count and second["data"][0][0] == 26
    assert not {r[5] for r in first["data"]} & {r[5] for r in second["data"]}
    last, count = find(c, page=99)  # past the end: the last page
    assert "page 24 of 24" in count and len(last["data"]) == 583 - 23 * 25

    titles, _ = find(c, order="title")
    names = [row[3].lower() for row in titles["data"]]
    assert names == sorted(names)
    assert all(row[3] == row[3].strip() for row in titles["data"])  # titles trimmed

    dated, count = find(c, since="2024-08-01", until="2024-08-31")
    assert all(row[2].startswith("2024-08") for row in dated["data"])
    assert "page 1 of" in count and "583" not in count
    assert "428 undated papers left out by the date filter" in count  # said, not vanished

    # Sources show by a readable label; the filter takes the file name.
    source = "000_008a4770ab7d3f29.txt"
    one, count = find(c, source=source)
    assert count.startswith("71 papers")
    assert all(row[4].startswith("dump 000 · 2024-03-13") for row in one["data"])


def test_the_listing_made_when_the_tab_opens_never_replaces_a_search_typed_at_once() -> None:
    """The rules, in the orders the server may start them (the opening listing was seen to
    start after a search typed right after opening the tab, in the demo app)."""
    from assistant.ui.common import Listings

    empty, search = ("", "hybrid"), ("kv cache", "hybrid")
    out_of_order = Listings()
    asked = out_of_order.start("a", search)
    opened = out_of_order.start("a", empty, opening=True)
    assert out_of_order.shown("a", asked, search)
    assert not out_of_order.shown("a", opened, empty, opening=True)

    in_order = Listings()
    opened = in_order.start("a", empty, opening=True)
    other = in_order.start("b", empty, opening=True)  # another browser does not count
    asked = in_order.start("a", search)
    assert not in_order.shown("a", opened, empty, opening=True)
    assert in_order.shown("a", asked, search) and in_order.shown("b", other, empty, opening=True)
    again = in_order.start("a", search, opening=True)  # the tab opened later: refreshed
    assert in_order.shown("a", again, search, opening=True)
    first, second = in_order.start("a", empty), in_order.start("a", search)
    assert not in_order.shown("a", first, empty) and in_order.shown("a", second, search)


@pytest.mark.server
def test_a_listing_that_returns_after_a_newer_one_is_not_shown(
    app_url: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Library tab lists every paper when it opens; a search typed at once runs beside
    that listing, and if the listing is slower it must not overwrite the search (seen in CI:
    the browser test saw "583 papers · newest first" after its search)."""
    import threading

    import assistant.ui.library as library_ui

    searched, listing_started = threading.Event(), threading.Event()
    real = library_ui.library_page

    def slow_listing(settings: Settings, text: str, **kwargs: Any) -> Any:
        if not text:  # the listing waits until the search has returned
            listing_started.set()
            assert searched.wait(60)
        return real(settings, text, **kwargs)

    monkeypatch.setattr(library_ui, "library_page", slow_listing)
    c = client(app_url.url)
    args = ("hybrid", "", "", "All sources", "best match", 1, False)
    listing = c.submit("", *args, api_name="/search")
    assert listing_started.wait(60)
    _, count, _ = c.submit("optical flow", *args, api_name="/search").result(60)
    assert "good match" in count
    searched.set()
    late = listing.result(60)
    assert "583 papers" not in str(late)  # skipped: the page keeps the search
    assert "583 papers" in find(client(app_url.url))[1]  # alone, the listing is shown


@pytest.mark.server
def test_over_long_inputs_are_cut_with_a_message(app_url: Served) -> None:
    url, llm, _ = app_url
    llm.enqueue(REPLY)
    long_question = QUESTION + " " + "please explain in detail " * 400
    chat, _, answer, _, _ = ask(client(url), long_question)
    assert "only the first" in " ".join(answer["notices"])  # the question was truncated
    assert "only the first" in content(chat[1])  # ...and the page says so

    with pytest.raises(Exception, match="maximum value 20"):  # the slider's bound holds
        ask(client(url), QUESTION, k=50)

    table, _ = find(client(url), "optical flow " * 400)
    assert table["data"]  # searched the first part instead of failing


@pytest.mark.server
def test_errors_become_messages_not_tracebacks(app_url: Served) -> None:
    url, llm, _ = app_url
    chat, _, answer, _, _ = ask(client(url), QUESTION, since="2024-13-45")
    assert "not a date" in answer["error"]
    assert "Traceback" not in content(chat[-1]) and "not a date" in content(chat[-1])

    llm.enqueue(RuntimeError("llama.cpp exploded"))
    chat, _, answer, _, _ = ask(client(url), QUESTION)
    assert "RuntimeError" in answer["error"] and "server log" in answer["error"]

    _, count = find(client(url), "flow", since="yesterday")
    assert "not a date" in count


@pytest.mark.server
def test_several_clients_are_answered_one_at_a_time(
    app_url: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three clients at once: all answered, and never two answers generated together (the
    waiting line lets ``ui.concurrency`` = 1 through at a time, as the README says). The first
    answer holds its slot until both others have been told to wait, or until a second answer
    starts beside it: a barrier, not a sleep, so a line that lets two through always fails."""
    import threading

    import assistant.ui.chat as chat_module
    from assistant.answer import AnswerStream
    from assistant.ui.waiting_line import WaitingLine

    url, llm, _ = app_url
    active, overlaps, told_to_wait = [0], [0], set()
    changed = threading.Condition()
    real_answer, real_poll = chat_module.answer_from, WaitingLine.poll

    def poll(line: WaitingLine, ticket: object) -> int:
        ahead = real_poll(line, ticket)
        if ahead:
            with changed:
                told_to_wait.add(ticket)
                changed.notify_all()
        return ahead

    def counted(*args: Any, **kwargs: Any) -> AnswerStream:
        def steps() -> Iterator[Any]:
            with changed:
                active[0] += 1
                overlaps[0] = max(overlaps[0], active[0])
                changed.notify_all()
                if active[0] == 1 and not told_to_wait:  # the first answer: the barrier
                    assert changed.wait_for(
                        lambda: len(told_to_wait) >= 2 or active[0] > 1, timeout=120
                    ), "the other questions neither waited nor were answered beside this one"
            try:
                stream = real_answer(*args, **kwargs)
                yield from stream
                return stream.result
            finally:
                with changed:
                    active[0] -= 1

        return AnswerStream(steps())  # type: ignore[arg-type]

    monkeypatch.setattr(WaitingLine, "poll", poll)
    monkeypatch.setattr(chat_module, "answer_from", counted)
    llm.enqueue(REPLY, REPLY, REPLY)
    jobs = [client(url).submit(*ask_args(QUESTION, k=2), api_name="/ask") for _ in range(3)]
    results = [job.result(timeout=300) for job in jobs]
    assert all(r[2]["abstained"] is False for r in results)
    assert all(r[2]["citations"] for r in results)
    assert len(told_to_wait) >= 2, "the other two questions were told to wait"
    assert overlaps[0] == 1, "answers were generated concurrently"


@pytest.mark.server
def test_a_second_user_sees_their_place_in_line(app_url: Served) -> None:
    url, llm, _ = app_url
    llm.delay = 0.05
    llm.enqueue(LONG_REPLY, REPLY)
    first_client, second_client = client(url), client(url)
    first = first_client.submit(*ask_args(QUESTION), api_name="/ask")
    wait_for(lambda: "word3" in last_chat(first), what="the first answer to stream")
    second = second_client.submit(*ask_args(QUESTION), api_name="/ask")
    wait_for(lambda: "waiting, 1 ahead" in last_chat(second), what="the second to be told")
    assert not first.done()

    first_client.predict(api_name="/stop")  # the first user gives up: the second goes next
    assert first.result(timeout=30)[2]["stopped"] is True
    chat, _, answer, _, _ = second.result(timeout=60)
    assert answer["citations"] and "waiting" not in content(chat[-1])


@pytest.mark.server
def test_a_question_asked_during_a_digest_is_told_it_waits(app_url: Served) -> None:
    url, llm, _ = app_url
    llm.delay = 0.05
    # The digest's theme names, its overview (long: it holds the model), its paragraphs.
    llm.enqueue("1. Flow\n2. Motion\n3. Other", LONG_REPLY, *[REPLY] * 6)
    writer, asker = client(url), client(url)
    digest = writer.submit("optical flow estimation", 6, "", "", api_name="/digest")

    def digest_note() -> str:
        outputs = digest.outputs()
        return str(outputs[-1][0]) if outputs else ""

    wait_for(lambda: "word3" in digest_note(), what="the digest to write its overview")
    question = asker.submit(*ask_args(QUESTION), api_name="/ask")
    wait_for(lambda: "waiting, 1 ahead" in last_chat(question), what="the question to be told")
    assert not digest.done()
    note, *_ = digest.result(timeout=120)
    assert "papers" in note
    chat, _, answer, _, _ = question.result(timeout=120)
    assert answer["citations"] and "waiting" not in content(chat[-1])


@pytest.mark.server
def test_stop_ends_the_answer_and_frees_the_model(app_url: Served) -> None:
    url, llm, _ = app_url
    llm.delay = 0.05
    llm.enqueue(LONG_REPLY)
    c = client(url)
    job = c.submit(*ask_args(QUESTION), api_name="/ask")
    wait_for(lambda: "word5" in last_chat(job), what="the answer to stream")
    closed = llm.closed_early
    started = time.monotonic()
    c.predict(api_name="/stop")
    chat, sources, answer, _, _ = job.result(timeout=30)
    # The sources panel no longer says the model is reading them.
    assert "Sources · stopped" in sources and "is reading" not in sources

    assert time.monotonic() - started < 5  # not the 10 s the whole reply takes
    assert answer["stopped"] is True
    assert 5 < len(answer["partial"].split()) < 200
    assert "Stopped" in content(chat[-1]) and "not checked" in content(chat[-1])
    assert llm.closed_early == closed + 1  # the model's generation was closed, not drained
    assert not llm._lock.locked()  # ...and the model is free for the next user

    llm.delay = 0.0
    llm.enqueue(REPLY)
    chat, _, answer, _, _ = ask(c, QUESTION)  # the same chat asks again at once
    assert answer["citations"] and [m["role"] for m in chat] == ["user", "assistant"] * 2


@pytest.mark.server
def test_ask_about_a_paper_answers_from_it_and_its_neighbours(app_url: Served) -> None:
    from assistant.library import about_question
    from assistant.retrieve import search
    from assistant.store import open_store

    url, llm, settings = app_url
    c = client(url)
    table, _ = find(c, "multi-frame optical flow splatting")
    paper_id = table["data"][0][5]
    paper = open_store(settings).get(paper_id)
    assert paper is not None
    neighbours = {h.paper.id for h in search(settings, paper.text, k=4, mode="dense").hits}

    llm.enqueue("It proposes a splatting-based multi-frame method [1]. Others differ [2].")
    chat, _, answer, _, _ = ask(c, about_question(paper.title), about=paper_id, k=3)
    ids = [s["paper_id"] for s in answer["sources"]]
    assert answer["citations"][0]["paper_id"] == paper_id
    assert paper_id in ids and set(ids) <= neighbours and len(ids) == 3
    assert paper.title.strip() in content(chat[0])

    # A question about the same topic without the restriction draws on other papers too.
    llm.enqueue(REPLY)
    _, _, free, _, _ = ask(client(url), about_question(paper.title), k=3, mode="bm25")
    assert {s["paper_id"] for s in free["sources"]} != set(ids)


@pytest.mark.server
def test_the_users_words_are_text_not_markup(app_url: Served) -> None:
    url, llm, _ = app_url
    hostile = "Flow? <img src=x onerror=alert(1)> <script>alert(2)</script> **bold**"
    llm.enqueue(REPLY)
    chat, sources, _, _, _ = ask(client(url), hostile)
    bubble = content(chat[0])
    assert "<img" not in bubble and "<script" not in bubble
    assert "&lt;img src=x onerror=alert(1)&gt;" in bubble

    # A huge question: the sources panel's heading stays short, and escaped.
    llm.enqueue(REPLY)
    _, sources, _, _, _ = ask(client(url), "<b>optical flow</b> " + "occlusion " * 2000)
    heading = sources.split('class="src-q"', 1)[1].split("</div>", 1)[0]
    assert len(heading) < 1000 and "<b>" not in heading and "&lt;b&gt;" in heading


@pytest.mark.server
def test_status_says_what_to_act_on(app_url: Served) -> None:
    url, _, settings = app_url
    c = client(url)
    status, *_ = c.predict(api_name="/status")
    for fact in ("Published", "undated", "Last ingest", "Last weekly summary", "none yet"):
        assert fact in status, fact
    assert "Model speed here" in status

    weekly = settings.store_dir / "digests" / "weekly"
    made = [d for d in (weekly.parent, weekly) if not d.exists()]
    summary = weekly / "2099-W01.json"  # newest by far; removed again, the store is shared
    try:
        weekly.mkdir(parents=True, exist_ok=True)
        summary.write_text("{}")
        status, *_ = c.predict(api_name="/measure_speed")
    finally:
        summary.unlink(missing_ok=True)
        for folder in reversed(made):
            folder.rmdir()
    assert "2099-W01" in status
    assert "tokens/s" in status.split("Model speed here", 1)[1]


@pytest.mark.server
def test_digests_tab_streams_a_cited_page_with_exports(app_url: Served) -> None:
    url, _, _ = app_url
    c = client(url)
    note, page, cards, md_file, html_file, csv_file, bib_file = c.predict(
        "optical flow estimation", 6, "", "", api_name="/digest"
    )
    assert "papers" in note
    assert 'class="dg-theme"' in page and "<script" not in page
    # Read like the chat: every citation chip opens a source card shown beside the page.
    chips = set(re.findall(r'href="#(src-digest-\d+)"', page))
    assert chips and chips <= set(re.findall(r'id="(src-digest-\d+)"', cards))
    assert 'class="src-card' in cards and re.search(r"Papers \(\d+ cited of \d+\)", cards)
    assert "digest.md" in str(md_file) and "digest.html" in str(html_file)
    assert "digest-papers.bib" in str(bib_file)
    # the papers side by side, sortable, each row's number opening its card
    assert '<table class="compare">' in page and 'data-sort="0"' in page
    assert "digest-table.csv" in str(csv_file)
    csv_path = Path(csv_file["value"]["path"] if isinstance(csv_file, dict) else csv_file)
    assert csv_path.read_text().startswith("#,Title,Id,Date,")

    note, *_ = c.predict("", 6, "", "", api_name="/digest")
    assert note.startswith("⚠")  # an empty topic is a message, not a traceback
    note, *_ = c.predict(None, api_name="/open_week")  # no saved week picked
    assert note.startswith("⚠") and "pick a saved week" in note


@pytest.mark.server
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


def test_answers_are_escaped_and_flags_visible() -> None:
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
    assert 'class="quotes"' not in html

    quote = "“Errors fall by <b>19.4%</b>.” [1]"
    answer.sentences.append(
        SentenceCheck(text=quote, citations=[1], supported=True, supported_by=[1], quoted=True)
    )
    html = answer_html(answer, 4)
    prose, quotes = html.split('<div class="quotes"')
    assert "19.4%" not in prose, "a quote is shown apart from the model's prose"
    assert "<blockquote>“Errors fall by &lt;b&gt;19.4%&lt;/b&gt;.”" in quotes
    assert 'href="#src-4-1"' in quotes and "Reported in the papers" in quotes


def test_an_answer_that_cites_nothing_shows_its_closest_papers() -> None:
    # A withheld draft says "the closest papers are listed instead"; the panel had them folded
    # under "Also retrieved, not cited".
    from assistant.models import Answer, Citation, Paper, Source
    from assistant.ui.render.chat import turn_sources_html

    near = Source(
        number=2, paper_id="p", title="LM-Infinite", date=None, cited=False, similarity=0.4
    )
    withheld = Answer(
        question="q", standalone_question="q", answer="x", abstained=True, sources=[near]
    )
    html = turn_sources_html(withheld, 2)
    assert '<details class="src-uncited" open><summary>The closest papers (1)' in html
    assert "LM-Infinite" in html
    paper = Paper(id="c", title="Self-Extend", abstract="It extends context without tuning.")
    one = Citation(
        number=1,
        paper_id="c",
        title=paper.title,
        date=None,
        links=[],
        evidence=[],
        supported=True,
        paper=paper,
    )
    cited = withheld.model_copy(update={"abstained": False, "citations": [one]})
    assert '<details class="src-uncited"><summary>Also retrieved, not cited (1)' in (
        turn_sources_html(cited, 2)
    )


def test_a_digest_reads_like_an_answer_with_chips_cards_and_flags() -> None:
    from assistant.models import Digest, DigestPaper, DigestTheme, Paper, SentenceCheck, ThemePaper
    from assistant.ui.render import digest_sources_html, digest_view_html

    def listed(n: int, title: str) -> DigestPaper:
        url = f"https://github.com/x/{n}"
        p = Paper(id=f"p{n}", title=title, abstract=f"Abstract {n}. Code: {url}", urls=[url])
        return DigestPaper(
            number=n, paper_id=p.id, title=title, date="2024-08-01", theme=1,
            contribution=f"Does thing {n}.", centrality=0.9, paper=p,
        )  # fmt: skip

    papers = [listed(1, "SplatFlow"), listed(2, "<img src=x onerror=alert(1)>"), listed(3, "Idle")]
    digest = Digest(
        kind="topic", title="Digest: optical flow", topic="optical flow", covered=True,
        overview="SplatFlow splats [1].",
        overview_sentences=[SentenceCheck(text="SplatFlow splats [1].", citations=[1],
                                          supported=True, supported_by=[1])],
        themes=[DigestTheme(
            number=1, name="Flow <b>", named_by="llm", paragraph="x", cohesion=0.5, new=True,
            novelty=0.41,
            sentences=[SentenceCheck(text="It wins by 9% [2].", citations=[2], supported=False)],
            papers=[ThemePaper(number=p.number, paper_id=p.paper_id, title=p.title)
                    for p in papers],
        )],
        citations=papers, generated_at=dt.datetime(2024, 8, 2, tzinfo=dt.UTC),
    )  # fmt: skip
    page, cards = digest_view_html(digest), digest_sources_html(digest)
    assert "<img" not in page + cards and "&lt;img" in cards and "Flow &lt;b&gt;" in page
    assert 'href="#src-digest-1"' in page and 'class="unsupported"' in page
    assert "new this week (distance 0.41)" in page
    assert cards.index('id="src-digest-1"') < cards.index('id="src-digest-3"')
    assert "Papers (2 cited of 3)" in cards and "Listed, not cited (1)" in cards
    assert "check: weakly supported" in cards  # paper 2 is cited by an unsupported sentence
    assert "github.com/x/1" in cards
    # A week written without the model cites nothing: its papers show unfolded.
    plain = digest.model_copy(
        update={
            "overview_sentences": [],
            "themes": [digest.themes[0].model_copy(update={"sentences": [], "paragraph": None})],
        }
    )
    cards = digest_sources_html(plain)
    assert cards.count('class="src-card') == 3 and "Listed, not cited" not in cards


def test_links_are_labelled_by_what_they_are() -> None:
    from assistant.ui.render import link_label, paper_html

    assert link_label("https://arxiv.org/abs/2401.00001") == "arXiv"
    assert link_label("https://huggingface.co/papers/2401.00001") == "HF"
    assert link_label("https://github.com/a/b") == "code"
    assert link_label("https://someone.github.io/project") == "project page"
    assert link_label("https://aka.ms/xyz") == "link"  # a shortener says nothing by itself...
    assert (
        link_label("https://aka.ms/xyz", "The code is available at ") == "code"
    )  # ...its text does
    assert link_label("https://tfhub.dev/x", "All the models are released at ") == "model"

    from assistant.models import Paper

    paper = Paper(
        id="t-1",
        title="  A title\n with spaces ",
        abstract="Our code is at https://bit.ly/abc and a demo at https://youtu.be/q.",
        urls=["https://bit.ly/abc", "https://youtu.be/q"],
        sources=["002_845fed19e190d690.txt"],
    )
    html = paper_html(paper, {"002_845fed19e190d690.txt": "dump 002 · 2024-08-11"})
    assert ">code</a>" in html and ">video</a>" in html and "bit.ly</a>" not in html
    assert "<h3>A title with spaces</h3>" in html
    assert "From dump 002 · 2024-08-11" in html and 'data-copy="t-1"' in html


def test_sources_are_named_by_the_date_of_their_dump() -> None:

    from assistant.catalog import Catalog
    from assistant.models import date_to_int
    from assistant.store import IndexRow
    from assistant.ui.render import source_labels

    aug, mar = dt.date(2024, 8, 11), dt.date(2024, 3, 13)
    one, two = "001_9d533ba750abefce.txt", "002_845fed19e190d690.txt"
    dates = [(aug, two), (aug, two), (mar, one), (aug, one), (None, one), (None, one)]
    dates.append((None, "my-papers.jsonl"))
    rows = [
        IndexRow(f"t-{n}", f"p{n}\n\na", date_to_int(day) or 0, 0, [source])
        for n, (day, source) in enumerate(dates)
    ]
    labels = source_labels(Catalog.from_rows(rows, "r").source_dates())
    assert labels == {
        "002_845fed19e190d690.txt": "dump 002 · 2024-08-11",
        "001_9d533ba750abefce.txt": "dump 001 · 2024-03-13 → 2024-08-11",
        "my-papers.jsonl": "my-papers.jsonl · undated",
    }


def test_status_gives_the_command_that_fixes_a_red_check() -> None:
    from assistant.ui.render import status_html

    html = status_html(
        [("Papers", "3")],
        [("store", True, "3 papers", "unused"), ("llm", False, "no model <here>", "assistant x")],
    )
    assert "unused" not in html  # a green check needs no fix
    assert "To fix: <code>assistant x</code>" in html and 'data-copy="assistant x"' in html
    assert "&lt;here&gt;" in html


def test_the_waiting_line_serves_in_order_and_forgets_the_departed() -> None:
    from assistant.errors import InputError
    from assistant.ui.waiting_line import WaitingLine

    now = [0.0]
    line = WaitingLine(slots=1, size=2, stale_s=30, clock=lambda: now[0])
    a, b = line.join(), line.join()
    with pytest.raises(InputError, match="already waiting"):
        line.join()  # two waiting: the line is full
    assert line.poll(b) == 1  # a is ahead, not yet admitted
    assert line.poll(a) == 0  # a holds the slot...
    assert line.poll(b) == 1  # ...so b waits, one ahead
    c = line.join()
    assert line.poll(c) == 2
    line.leave(a)
    assert line.poll(c) == 1 and line.poll(b) == 0  # first come, first served
    line.leave(b)
    d = line.join()
    now[0] = 29.0
    assert line.poll(d) == 1  # c still counts: it polled within stale_s
    now[0] = 31.0  # d polled a moment ago; c's tab went away: it stopped polling
    assert line.poll(d) == 0


@pytest.mark.server
def test_a_model_that_crashes_its_check_is_reported_on_the_page(sample_settings: Settings) -> None:
    """The app probes the local model in a child before serving; a crash is a red check and
    a banner with the fix, and a question gets that message instead of killing the app."""
    from assistant.health import ModelProbe
    from assistant.llm import loaded_models
    from assistant.llm.registry import release
    from assistant.ui.app import launch

    settings = sample_settings.with_overrides(**{"ui.port": free_port(), "ui.host": "127.0.0.1"})
    crash = [sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)"]
    probe = ModelProbe(settings, probe_command=crash)
    before = loaded_models()
    app = launch(settings, probe=probe, block=False, quiet=True)
    try:
        wait_for(lambda: probe.check is not None and not probe.check.ok, 120, "the probe")
        c = client(f"http://127.0.0.1:{settings.ui.port}/")
        status, banner, *_ = c.predict(api_name="/status")
        assert "SIGSEGV" in status and "EXTRA_BUFFERS=off" in status
        assert "SIGSEGV" in banner["value"] and "EXTRA_BUFFERS=off" in banner["value"]
        chat, *_ = ask(c, QUESTION)
        assert "crashed" in content(chat[-1]) and "EXTRA_BUFFERS=off" in content(chat[-1])
        assert loaded_models() == before  # the crashing model never entered the app
    finally:
        app.close()
        release(settings.llm)


def test_a_list_in_an_answer_stays_a_list() -> None:
    from assistant.models import SentenceCheck
    from assistant.ui.render import checked_html

    items = ["The methods are [1]:", "1. EMS evicts then merges [1].", "2. FastGen adapts [2]."]
    html = checked_html([SentenceCheck(text=t, citations=[]) for t in items], 0)
    assert html.count("<br>") == 2 and html.index("<br>") < html.index("1. EMS")
    # The sentence after the list read as part of its last item ("2. Memory^3 These papers
    # found that ...", this session's demo).
    after = checked_html([SentenceCheck(text=t, citations=[]) for t in [*items, "Both save."]], 0)
    assert after.count("<br>") == 3 and after.index("2. FastGen") < after.rindex("<br>")


def test_the_line_that_opens_a_list_is_no_uncited_claim() -> None:
    # The demo's digest overview underlined "The main directions of these papers are:" as
    # "cites no source"; it says nothing a source should back.
    from assistant.models import CheckedText, SentenceCheck
    from assistant.ui.render import checked_html

    intro = SentenceCheck(text="The main directions of these papers are:", citations=[])
    claim = SentenceCheck(text="Linear models scale well.", citations=[])
    html = checked_html([intro, claim], 0)
    assert html.count('class="uncited"') == 1 and "Linear models" in html.split("uncited")[1]
    assert CheckedText(text="", sentences=[intro, claim]).uncited == 1
