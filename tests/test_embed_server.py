"""The ``openai`` embedding backend against a real embedding server: infinity-emb, started by
the test on 127.0.0.1 from its own venv (``make embed-server``, which ``make test`` runs),
serving the bundled MiniLM from its local folder with no network."""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from assistant.embed import Embedder, ServerBackend, default_model_path
from assistant.errors import ModelError, StoreError
from assistant.settings import DEFAULT_EMBEDDING_MODEL, Settings
from tests.conftest import ROOT, SAMPLE, free_port, stop, wait_http

INFINITY = ROOT / os.environ.get("EMBED_VENV", ".venv-embed") / "bin" / "infinity_emb"
CORE = ROOT / "eval" / "suites" / "core.jsonl"


@pytest.fixture(scope="module")
def embedding_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of infinity-emb serving the bundled all-MiniLM-L6-v2 offline."""
    assert INFINITY.exists(), f"no {INFINITY}: run 'make embed-server' (make test does)"
    port = free_port()
    log = tmp_path_factory.mktemp("embedding-server") / "server.log"
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "INFINITY_ANONYMOUS_USAGE_STATS": "0",
        "DO_NOT_TRACK": "1",
    }
    command = [
        str(INFINITY),
        "v2",
        "--model-id",
        str(default_model_path()),
        "--served-model-name",
        DEFAULT_EMBEDDING_MODEL,
        "--engine",
        "torch",
        "--device",
        "cpu",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    # Output goes to a file: an unread pipe fills up and blocks the server mid-test.
    with log.open("wb") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_http(f"{url}/health", proc, log, timeout=180)
        yield url
    finally:
        stop(proc)


def served(settings: Settings, url: str, **more: object) -> Settings:
    """``settings`` embedding through the server at ``url``."""
    options = {f"embedding.{k}": v for k, v in more.items()}
    return settings.with_overrides(
        **{"embedding.backend": "openai", "embedding.api_base": url, **options}
    )


def abstracts(n: int) -> list[str]:
    from assistant.parse import parse_paths

    papers = parse_paths([SAMPLE], year=2024).papers
    return [f"{p.title}\n{p.abstract}" for p in papers[:n]]


@pytest.mark.server
def test_the_servers_vectors_are_ours(embedding_server: str, embedder: Embedder) -> None:
    """Split into requests of 8, three at a time, back in order and equal to the ONNX ones."""
    texts = abstracts(60)
    settings = served(Settings(), embedding_server, batch_size=8, concurrency=3)
    remote = Embedder(settings.embedding)
    got = remote.embed(texts)
    assert remote.backend == "openai" and remote.dim == embedder.dim == 384
    want = embedder.embed(texts)
    cosines = (got * want).sum(axis=1)
    assert cosines.min() >= 0.999, cosines.min()
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)


@pytest.mark.server
def test_retrieval_through_the_server_scores_as_in_process(
    embedding_server: str, sample_settings: Settings
) -> None:
    """The core suite's retrieval figures, queries embedded by the server, as with ONNX."""
    from assistant.evals.runner import run_suite
    from assistant.evals.suite import load_suite

    suite = load_suite(CORE)
    ours = run_suite(suite, sample_settings, no_llm=True).summary()
    theirs = run_suite(suite, served(sample_settings, embedding_server), no_llm=True).summary()
    for mode, figures in ours["retrieval"].items():
        for name in ("hit_at_1", "hit_at_5", "recall_at_10", "mrr", "ndcg_at_10"):
            assert theirs["retrieval"][mode][name] == figures[name], (mode, name)
    assert theirs["gate"] == ours["gate"]


@pytest.mark.server
def test_a_store_ingested_through_the_server_finds_what_ours_finds(
    embedding_server: str, tmp_path: Path
) -> None:
    from assistant.ingest import ingest_papers
    from assistant.parse import parse_paths
    from assistant.retrieve import search
    from assistant.store import open_store

    papers = parse_paths([SAMPLE], year=2024).papers[:40]
    found = []
    for name, settings in (
        ("onnx", Settings(store_dir=tmp_path / "onnx")),
        ("server", served(Settings(store_dir=tmp_path / "server"), embedding_server)),
    ):
        embedder = Embedder(settings.embedding)
        report = ingest_papers(open_store(settings), embedder, papers)
        assert report.added == report.papers > 30, name
        hits = search(settings, "optical flow with several frames", k=5, mode="dense").hits
        found.append([h.paper.id for h in hits])
    assert found[0] == found[1] and found[0]


@pytest.mark.server
def test_a_server_serving_another_model_is_refused(embedding_server: str) -> None:
    """infinity answers any model name with the one it serves, and says which: we check."""
    settings = served(Settings(), embedding_server, served_model="bge-small-en-v1.5")
    with pytest.raises(ModelError, match=r"answered with model 'all-MiniLM-L6-v2', not 'bge-sm"):
        Embedder(settings.embedding).embed(["a query"])


def test_no_server_is_a_clear_error_after_the_retries() -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    settings = served(Settings(), url, max_retries=1, timeout=5)
    with pytest.raises(ModelError) as caught:
        Embedder(settings.embedding).embed(["a query"])
    message = str(caught.value)
    assert f"cannot connect to the embedding endpoint {url} (after 1 retry)" in message
    assert "ASSISTANT_EMBEDDING__API_BASE" in message


def test_requests_run_at_most_concurrency_at_once() -> None:
    """Eight texts in batches of two, two requests at once: both slots are used (a barrier of
    two passes only when two requests are in flight together) and never a third."""
    settings = served(Settings(), "http://127.0.0.1:9", batch_size=2, concurrency=2)
    backend = ServerBackend(settings.embedding)
    barrier = threading.Barrier(2, timeout=30)
    lock = threading.Lock()
    flying, most = [0], [0]

    def request(texts: list[str]) -> np.ndarray:
        with lock:
            flying[0] += 1
            most[0] = max(most[0], flying[0])
        barrier.wait()
        with lock:
            flying[0] -= 1
        return np.asarray([[float(t), 1.0] for t in texts], dtype=np.float32)

    backend._request = request  # type: ignore[method-assign]
    vectors = backend.encode([str(i) for i in range(8)])
    assert most[0] == 2
    assert vectors[:, 0].tolist() == list(range(8))  # in the order asked


def test_vectors_of_another_width_than_the_stores_are_a_clear_error(
    settings: Settings, embedder: Embedder
) -> None:
    from assistant.ingest import ingest_papers
    from assistant.parse import parse_paths
    from assistant.store import open_store

    store = open_store(settings)
    ingest_papers(store, embedder, parse_paths([SAMPLE], year=2024).papers[:2])
    with pytest.raises(StoreError, match=r"holds 384-dimensional vectors .* gave 768-dim"):
        store.nearest(np.ones(768, dtype=np.float32), k=1)


def test_a_reply_in_base64_or_in_numbers_reads_as_the_same_vector() -> None:
    import base64

    from assistant.embed import _vector

    want = np.array([0.25, -1.5, 3.0], dtype=np.float32)
    packed = base64.b64encode(want.astype("<f4").tobytes()).decode()
    assert _vector(packed).tolist() == _vector([0.25, -1.5, 3.0]).tolist() == want.tolist()
