"""One embedded store, two processes: the app serves while a cron job ingests and writes the
week (the README's deployment notes). Real ``assistant`` processes, fake model.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from assistant.ingest import merge_duplicates
from assistant.parse import parse_paths
from assistant.settings import Settings
from assistant.store import open_store
from tests.conftest import SAMPLE, free_port, stop, wait_http
from tests.test_ui import client, find

pytestmark = [pytest.mark.server, pytest.mark.slow]

ASSISTANT = str(Path(sys.executable).parent / "assistant")
ENV = {**os.environ, "ASSISTANT_LLM__PROVIDER": "fake", "GRADIO_ANALYTICS_ENABLED": "False"}


def test_the_app_serves_while_cron_ingests_and_writes_the_week(tmp_path: Path) -> None:
    store = tmp_path / "store"
    base = [ASSISTANT, "--store", str(store)]
    files = sorted(SAMPLE.glob("*.txt"))
    first = subprocess.run([*base, "ingest", str(files[0]), "--year", "2024"], env=ENV)
    assert first.returncode == 0

    # A paper the cron job brings that the app has not seen.
    seen = {p.title_key for p in parse_paths(files[:1], year=2024).papers}
    expected = merge_duplicates(parse_paths(files, year=2024).papers)
    target = next(p for p in expected if p.title_key not in seen)

    port = free_port()
    log = tmp_path / "ui.log"
    with log.open("wb") as out:
        app = subprocess.Popen(
            [*base, "ui", "--port", str(port)], stdout=out, stderr=subprocess.STDOUT, env=ENV
        )
    try:
        url = f"http://127.0.0.1:{port}/"
        wait_http(url, app, log, timeout=180)
        c = client(url)
        table, _ = find(c, target.title)
        assert table["data"][0][3] != target.title

        cron = [
            subprocess.Popen(
                [*base, "ingest", *map(str, files[1:]), "--year", "2024"],
                env=ENV,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            ),
            subprocess.Popen(
                [*base, "weekly", "--all", "--no-llm"],
                env=ENV,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            ),
        ]
        during_ingest = 0
        for _ in range(400):  # bounded: the two runs take well under a minute here
            table, note = find(c, "optical flow occlusion")
            assert table.get("data"), f"the app stopped answering: {note}"
            during_ingest += cron[0].poll() is None
            if all(proc.poll() is not None for proc in cron):
                break
        outputs = [proc.communicate(timeout=600)[0].decode(errors="replace") for proc in cron]
        assert cron[0].returncode == 0, outputs[0]
        assert cron[1].returncode in (0, 3), outputs[1]  # 3: every week already written
        assert during_ingest > 0, "no question was answered while the ingest ran"

        # Exact counts: nothing lost, nothing twice.
        settings = Settings(store_dir=store)
        stored = list(open_store(settings).iter_papers())
        assert len(stored) == len(expected)
        assert len({p.title_key for p in stored}) == len(stored)
        assert list((store / "digests" / "weekly").glob("*.json"))

        # The app sees the new papers without a restart, by meaning (vectors) and by words.
        for mode in ("dense", "bm25"):
            table, _ = find(c, target.title, mode=mode)
            assert table["data"][0][3] == target.title, mode
    finally:
        stop(app)


def test_three_processes_ingest_their_shares_into_one_chroma_server(
    chroma_server: str, tmp_path: Path, embedder: object
) -> None:
    """Many writers, one store: three ``assistant ingest --share K/3`` at once into one
    Chroma server end with every paper once, and a BM25 index built before them is not
    taken for current after them."""
    import json
    import uuid

    from assistant.retrieve import Retriever

    collection = f"w{uuid.uuid4().hex[:8]}"
    settings = Settings(chroma_url=chroma_server, collection=collection, store_dir=tmp_path)
    files = sorted(SAMPLE.glob("*.txt"))
    expected = merge_duplicates(parse_paths(files, year=2024).papers)
    retriever = Retriever(settings, embedder=embedder)  # type: ignore[arg-type]
    before = retriever.bm25_index()  # built on the empty store
    assert len(before.ids) == 0

    env = {
        **ENV,
        "ASSISTANT_CHROMA_URL": chroma_server,
        "ASSISTANT_COLLECTION": collection,
        "ASSISTANT_STORE_DIR": str(tmp_path),
    }
    command = [ASSISTANT, "ingest", *map(str, files), "--year", "2024", "--json"]
    writers = [
        subprocess.Popen(
            [*command, "--share", f"{k}/3"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for k in (1, 2, 3)
    ]
    reports = []
    for proc in writers:
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err.decode(errors="replace")
        reports.append(json.loads(out))
    # The shares split the papers: together each one once, none in two.
    assert sum(r["papers"] for r in reports) == len(expected)
    assert sum(r["added"] for r in reports) == len(expected)
    assert all(r["papers"] > len(expected) // 5 for r in reports)
    stored = list(open_store(settings).iter_papers())
    assert len(stored) == len(expected)
    assert {p.title_key for p in stored} == {p.title_key for p in expected}

    # The index the retriever built before the writes is rebuilt, with every paper.
    assert len(retriever.bm25_index().ids) == len(expected)
    last = expected[-1]
    assert retriever.search(last.title, k=1, mode="bm25").hits[0].paper.id == last.id

    # What reads the catalog works on the server as on the embedded store.
    from assistant.library import library_page
    from assistant.retrieve import catalog
    from assistant.weekly import store_weeks

    page = library_page(settings, "", order="newest")
    assert page.total == len(expected) and len(page.papers) == 25
    dates = [p.published for p in page.papers]
    assert None not in dates and dates == sorted(dates, reverse=True)
    weeks = store_weeks(settings)
    assert sum(weeks.weeks.values()) + weeks.undated == len(expected)
    assert catalog(settings).stats(open_store(settings)).papers == len(expected)
