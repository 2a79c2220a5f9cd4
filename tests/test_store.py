"""The Chroma store with the real embedder: embedded and a real ``chroma run`` server."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from assistant.errors import InputError, StoreError
from assistant.files import file_lock
from assistant.ingest import ingest_papers
from assistant.models import SearchFilters
from assistant.parse import parse_file, parse_paths
from assistant.retrieve import Retriever
from assistant.settings import Settings
from assistant.store import (
    INDEX_SAVE_EVERY,
    WRITER_LOCK,
    PaperStore,
    open_store,
    where_filter,
)
from assistant.text import split_sentences
from tests.conftest import FIXTURES, SAMPLE

BLANK_LAYOUT = SAMPLE / "000_008a4770ab7d3f29.txt"
TODAY = dt.date(2026, 11, 23)


class CountingEmbedder:
    """Wraps the real embedder, counting texts embedded; can fail on a given call."""

    def __init__(self, inner: Any, fail_on_call: int | None = None) -> None:
        self.inner = inner
        self.texts = 0
        self.seen: list[str] = []
        self.calls = 0
        self.fail_on_call = fail_on_call

    def embed(self, texts: list[str], progress: Any = None) -> np.ndarray:
        self.calls += 1
        if self.calls == self.fail_on_call:
            raise KeyboardInterrupt  # what a user's Ctrl-C looks like mid-ingest
        self.texts += len(texts)
        self.seen += texts
        return self.inner.embed(texts)


@pytest.fixture(params=["embedded", "server"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> PaperStore:
    """An empty store, embedded or on the shared test server (own collection per test)."""
    if request.param == "server":
        url = request.getfixturevalue("chroma_server")
        settings = Settings(chroma_url=url, collection=f"t{uuid.uuid4().hex[:8]}")
    else:
        settings = Settings(store_dir=tmp_path / "store")
    return open_store(settings)


def test_ingest_sample_then_reingest_is_a_no_op(store: PaperStore, embedder: Any) -> None:
    counting = CountingEmbedder(embedder)
    parsed = parse_paths([SAMPLE], year=2024)
    first = ingest_papers(store, counting, parsed.papers, files=4, today=TODAY)
    assert (first.entries, first.papers, first.added, first.store_total) == (617, 583, 583, 583)
    embedded = counting.texts
    assert embedded == 583, "each paper's text once; sentences wait until a paper is shown"
    assert store.sentence_vectors([p.id for p in parsed.papers]) == {}
    again = ingest_papers(store, counting, parse_paths([SAMPLE], year=2024).papers, today=TODAY)
    assert (again.added, again.updated, again.merged, again.unchanged) == (0, 0, 0, 583)
    assert counting.texts == embedded, "unchanged papers must not be re-embedded"
    assert store.count() == 583

    from assistant.catalog import Catalog

    stats = Catalog.from_rows(list(store.iter_index_rows()), store.revision()).stats(store)
    assert stats.papers == 583
    assert set(stats.sources) == {p.name for p in SAMPLE.iterdir()}
    assert stats.first_published == dt.date(2024, 3, 13)
    assert stats.last_published == dt.date(2024, 8, 11)
    assert stats.last_added == TODAY


def test_list_filters_run_inside_chroma(store: PaperStore, embedder: Any) -> None:
    ingest_papers(store, embedder, parse_paths([SAMPLE], year=2024).papers, today=TODAY)
    march = store.list_papers(SearchFilters(since=dt.date(2024, 3, 1), until=dt.date(2024, 3, 31)))
    assert len(march) == 71 and {p.published for p in march} == {dt.date(2024, 3, 13)}
    august = store.list_papers(SearchFilters(since=dt.date(2024, 8, 1)))
    # Papers of the August page that already appeared in March keep their first date.
    march_keys = {p.title_key for p in parse_file(BLANK_LAYOUT, year=2024)}
    aug_page = parse_file(SAMPLE / "002_845fed19e190d690.txt", year=2024)
    assert len(august) == len({p.title_key for p in aug_page} - march_keys) == 84
    from_file = store.list_papers(SearchFilters(source="001_9d533ba750abefce.txt"))
    assert len(from_file) == len(
        {p.title_key for p in parse_file(SAMPLE / from_file[0].sources[0])}
    )
    assert all("001_9d533ba750abefce.txt" in p.sources for p in from_file)
    assert len(store.list_papers(limit=5)) == 5
    assert store.list_papers(SearchFilters(added_since=TODAY + dt.timedelta(days=1))) == []
    assert len(store.list_papers(SearchFilters(added_since=TODAY))) == 583


def test_same_paper_from_json_merges_into_page_dump_record(
    store: PaperStore, embedder: Any
) -> None:
    counting = CountingEmbedder(embedder)
    ingest_papers(store, counting, parse_file(BLANK_LAYOUT, year=2024), today=TODAY)
    before = len(counting.seen)
    incoming = parse_file(FIXTURES / "daily_papers_2026-03-07.json")
    report = ingest_papers(store, counting, incoming, today=TODAY, sentences=True)
    assert (report.added, report.merged, report.updated) == (2, 1, 0)
    embedded = set(counting.seen[before:])
    papers_embedded = [p for p in incoming if p.text in embedded]
    assert len(papers_embedded) == 2, "the merged paper's text is unchanged: no re-embed"
    for paper in papers_embedded:  # ...while the new papers' sentences are embedded with them
        assert set(split_sentences(paper.abstract)) <= embedded
    assert len(store.sentence_vectors([p.id for p in papers_embedded])) == 2
    assert store.count() == 71 + 2
    yolo = next(p for p in store.list_papers() if p.title.startswith("YOLOv9"))
    assert yolo.id.startswith("t-"), "ids never change once stored"
    assert yolo.arxiv_id == "2402.13616"
    assert yolo.arxiv_url == "https://arxiv.org/abs/2402.13616"
    assert yolo.sources == [BLANK_LAYOUT.name, "daily_papers_2026-03-07.json"]
    assert yolo.published == dt.date(2024, 3, 13), "first known date is kept"
    assert yolo.github_repo == "https://github.com/WongKinYiu/yolov9"
    assert store.get("2402.13616") == yolo, "lookup by arXiv id works too"


@pytest.mark.parametrize("with_sentences", [True, False], ids=["ingest_sentences", "default"])
def test_changed_abstract_is_re_embedded(
    store: PaperStore, embedder: Any, tmp_path: Path, with_sentences: bool
) -> None:
    path = tmp_path / "p.jsonl"
    path.write_text('{"title": "A Paper", "abstract": "About sparse attention for video."}\n')
    ingest_papers(store, embedder, parse_file(path), today=TODAY, sentences=True)
    ((old_sentences, _),) = store.sentence_vectors([parse_file(path)[0].id]).values()
    assert old_sentences == ["About sparse attention for video."]
    path.write_text('{"title": "A Paper", "abstract": "About KV cache compression instead."}\n')
    report = ingest_papers(
        store, embedder, parse_file(path), today=TODAY + dt.timedelta(1), sentences=with_sentences
    )
    assert report.updated == 1 and store.count() == 1
    (paper,) = store.list_papers()
    assert "KV cache" in paper.abstract and paper.added == TODAY
    if with_sentences:
        ((sentences, vectors),) = store.sentence_vectors([paper.id]).values()
        assert sentences == ["About KV cache compression instead."], "old sentences are replaced"
        assert float(vectors[0] @ embedder.embed_one(sentences[0])) > 0.999
    else:
        assert store.sentence_vectors([paper.id]) == {}, "the old abstract's sentences go"
    # Either way, the paper's shown sentence is the new abstract's.
    (hit,) = Retriever(store.settings, store, embedder).search("KV cache", k=1).hits
    assert [m.text for m in hit.best_sentences] == ["About KV cache compression instead."]
    hits = store.nearest(embedder.embed_one("compressing the key-value cache"), k=1)
    assert len(hits) == 1 and hits[0][0] == paper.id and hits[0][1] > 0.3


def test_interrupted_ingest_leaves_whole_batches_and_reruns(
    store: PaperStore, embedder: Any
) -> None:
    papers = parse_file(BLANK_LAYOUT, year=2024)  # 71 papers, batches of 16
    failing = CountingEmbedder(embedder, fail_on_call=3)
    with pytest.raises(KeyboardInterrupt):
        ingest_papers(store, failing, papers, batch_size=16, today=TODAY)
    assert store.count() == 32, "exactly the two batches that completed"
    report = ingest_papers(store, CountingEmbedder(embedder), papers, batch_size=16, today=TODAY)
    assert (report.added, report.unchanged, report.store_total) == (39, 32, 71)


def test_nearest_returns_similarities_best_first(sample_settings: Settings, embedder: Any) -> None:
    store = open_store(sample_settings)
    hits = store.nearest(embedder.embed_one("multi-frame optical flow with occlusions"), k=5)
    assert len(hits) == 5
    top = store.get(hits[0][0])
    assert top is not None and top.title.startswith("SplatFlow")
    scores = [s for _, s in hits]
    assert scores == sorted(scores, reverse=True) and 0 < scores[0] <= 1


@pytest.mark.parametrize("page", [53, 100])  # 583 = 11 * 53: the last page is exactly full
def test_paged_and_chunked_reads_return_every_paper_once(
    sample_settings: Settings, page: int
) -> None:
    store = open_store(sample_settings)
    papers = list(store.iter_papers(page=page))
    ids = {p.id for p in papers}
    assert len(papers) == len(ids) == store.count() == 583
    rows = list(store.iter_index_rows(page=page))
    assert len(rows) == 583 and {r.id for r in rows} == ids
    # 583 ids or keys are two chunks of 500; an unknown id is left out, not an error.
    assert set(store.vectors(sorted(ids))) == ids
    with_vectors = store.get_with_vectors([*sorted(ids), "no-such-id"])
    assert set(with_vectors) == ids and all(p.id == pid for pid, (p, _) in with_vectors.items())
    keys = {p.title_key for p in papers}
    assert set(store.by_title_keys(sorted(keys))) == keys


def test_collection_name_carries_the_embedding_fingerprint(tmp_path: Path) -> None:
    a = Settings(store_dir=tmp_path)
    b = a.with_overrides(**{"embedding.model": "/models/other-model"})
    assert a.collection_name() != b.collection_name()
    assert a.collection_name().startswith("papers-")


def test_where_filter_rejects_inverted_range() -> None:
    with pytest.raises(InputError, match="after"):
        SearchFilters(since=dt.date(2024, 5, 1), until=dt.date(2024, 4, 1))
    assert where_filter(SearchFilters()) is None
    assert where_filter(SearchFilters(source="x.txt")) == {"sources": {"$contains": "x.txt"}}
    both = where_filter(SearchFilters(since=dt.date(2024, 3, 1), source="x.txt"))
    assert both == {
        "$and": [{"published_int": {"$gte": 20240301}}, {"sources": {"$contains": "x.txt"}}]
    }


def test_unreachable_server_is_a_store_error() -> None:
    from tests.conftest import free_port

    settings = Settings(chroma_url=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(StoreError, match=r"cannot open the Chroma store at http://127\.0\.0\.1"):
        open_store(settings)


# --- one embedded store, several processes ------------------------------------------------


def _assistant(store: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """The real ``assistant`` command on ``store``, in a process of its own."""
    command = [str(Path(sys.executable).parent / "assistant"), "--store", str(store), *args]
    return subprocess.run(
        command, capture_output=True, text=True, env={**os.environ, **env}, timeout=600
    )


def test_a_query_sees_the_papers_another_process_wrote(tmp_path: Path, embedder: Any) -> None:
    settings = Settings(store_dir=tmp_path / "store")
    first, second = sorted(SAMPLE.glob("*.txt"))[:2]
    ingest_papers(open_store(settings), embedder, parse_file(first, year=2024))
    store = open_store(settings)
    before = {p.id for p in store.iter_papers()}
    assert store.nearest(embedder.embed_one("in-context learning"), 3)  # index loaded here

    done = _assistant(settings.store_dir, "ingest", str(second), "--year", "2024")
    assert done.returncode == 0, done.stderr

    new = [p for p in store.iter_papers() if p.id not in before]
    assert len(new) > 100
    store.revision()  # what every search reads first
    # Chroma's embedded client keeps the vector index it loaded: without the reopen on a
    # revision moved by another process, none of these is found (0 of 20, measured).
    found = [p for p in new[:20] if store.nearest(embedder.embed_one(p.text), 1)[0][0] == p.id]
    assert len(found) == 20


def test_a_second_writer_waits_then_says_the_store_is_busy(tmp_path: Path, embedder: Any) -> None:
    settings = Settings(store_dir=tmp_path / "store")
    first, second = sorted(SAMPLE.glob("*.txt"))[:2]
    ingest_papers(open_store(settings), embedder, parse_file(first, year=2024))
    count = open_store(settings).count()
    with file_lock(settings.store_dir.resolve() / WRITER_LOCK):  # an ingest that is running
        done = _assistant(
            settings.store_dir,
            "ingest",
            str(second),
            "--year",
            "2024",
            ASSISTANT_LOCK_TIMEOUT="0.5",
        )
    assert done.returncode != 0
    assert "another ingest is writing to this store" in done.stderr + done.stdout
    assert open_store(settings).count() == count  # nothing written, nothing half-written


def _index_lag(folder: Path) -> dict[str, int]:
    """Per collection: how far (in log sequence numbers) its saved vector index is behind
    Chroma's log; every new process adds what lies between to its index before a read."""
    import sqlite3

    with sqlite3.connect(folder / "chroma" / "chroma.sqlite3") as db:
        rows = db.execute(
            "SELECT c.name, q.top - COALESCE(m.seq_id, 0) FROM collections c"
            " JOIN segments s ON s.collection = c.id AND s.scope = 'VECTOR'"
            " JOIN (SELECT topic, MAX(seq_id) AS top FROM embeddings_queue GROUP BY topic) q"
            "   ON q.topic LIKE '%' || c.id"
            " LEFT JOIN max_seq_id m ON m.segment_id = s.id"
        ).fetchall()
    return {name: lag for name, lag in rows}


def test_a_run_leaves_little_of_the_vector_index_unsaved(tmp_path: Path) -> None:
    """Chroma saves its index every ``sync_threshold`` vectors and every new process redoes
    what a run left unsaved before its first read (0.44 s at 100k papers with Chroma's 1000):
    the store saves every INDEX_SAVE_EVERY, on stores made before that setting too."""
    settings = Settings(store_dir=tmp_path / "store")
    papers = list({p.id: p for p in parse_paths([SAMPLE], year=2024).papers}.values())[:250]
    assert len(papers) == 250
    vectors = np.random.default_rng(0).standard_normal((len(papers), 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    store = open_store(settings)
    with store.writer():
        for start in range(0, len(papers), 64):
            store.write_batch(papers[start : start + 64], vectors[start : start + 64])
    lag = _index_lag(settings.store_dir)[store.collection_name]
    assert lag < 100, lag  # with Chroma's 1000 nothing is saved: 250 (checked)

    # a store made with Chroma's default gets the setting at its next run's start
    old = open_store(Settings(store_dir=tmp_path / "old", collection="old"))
    old._collection.modify(configuration={"hnsw": {"sync_threshold": 1000}})
    with old.writer():
        pass
    reopened = open_store(Settings(store_dir=tmp_path / "old", collection="old"))
    assert reopened._collection.configuration["hnsw"]["sync_threshold"] == INDEX_SAVE_EVERY
