"""The embedding backends: ONNX agrees with sentence-transformers, and the CLI stays torch-free.

The ONNX export is the one ``assistant model prepare`` builds into the default cache (built
here if missing); one test exports into a temporary directory to check a damaged file is
rebuilt. Nothing here is timed: ``bench/startup.py`` measures the speed.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from assistant.embed import (
    Embedder,
    OnnxBackend,
    TorchBackend,
    default_model_path,
    load_backend,
    onnx_ready,
    onnx_unsupported,
    prepare_onnx,
)
from assistant.errors import ModelError
from assistant.ingest import merge_duplicates
from assistant.parse import parse_paths
from assistant.settings import EmbeddingSettings, Settings
from assistant.text import split_sentences
from tests.conftest import ROOT, SAMPLE

QUERIES = [
    "KV cache compression",
    "Which papers use diffusion models?",
    "optical flow under occlusion",
    "mixture-of-experts routing",
    "RLHF",
    "x",
    "",
    "  leading and trailing spaces  ",
    "Ünïcode, accents and émojis 🚀 in a query",
    "GPT-4o vs. Llama-3 (70B): 12.5% better on MMLU?",
]

#: Modules a command that only reads the store must never import.
HEAVY = ("torch", "sentence_transformers", "transformers", "llama_cpp", "llama_index", "gradio")


@pytest.fixture(scope="module")
def texts() -> list[str]:
    """Real abstracts (several longer than the 256-token limit), sentences and queries."""
    papers = merge_duplicates(parse_paths([SAMPLE], year=2024).papers)
    papers = sorted(papers, key=lambda p: len(p.text))
    # The shortest, the longest and a spread between: lengths on both sides of the limit.
    picked = papers[:5] + papers[-5:] + papers[10 : len(papers) - 10 : len(papers) // 30]
    sentences = [s for p in picked[:4] for s in split_sentences(p.abstract)]
    return [p.text for p in picked] + sentences + QUERIES


@pytest.fixture(scope="module")
def torch_backend() -> TorchBackend:
    return TorchBackend(EmbeddingSettings(backend="torch"))


@pytest.fixture(scope="module")
def onnx_backend() -> OnnxBackend:
    settings = EmbeddingSettings()
    return OnnxBackend(settings, prepare_onnx(settings))


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def test_onnx_vectors_match_sentence_transformers(
    texts: list[str], onnx_backend: OnnxBackend, torch_backend: TorchBackend
) -> None:
    assert len(texts) >= 40
    longest = max(len(onnx_backend.tokenizer.encode(t, add_special_tokens=True).ids) for t in texts)
    assert longest == 256, "some abstracts must reach the truncation limit"
    # One mixed-length batch (much padding), then one text at a time.
    batched = onnx_backend.encode(texts)
    single = np.stack([onnx_backend.encode([t])[0] for t in texts])
    reference = torch_backend.encode(texts)
    assert batched.dtype == np.float32 and batched.shape == reference.shape == (len(texts), 384)
    assert np.allclose(np.linalg.norm(batched, axis=1), 1.0, atol=1e-5)
    assert cosines(batched, reference).min() >= 0.9999
    assert cosines(single, reference).min() >= 0.9999
    assert onnx_backend.dim == torch_backend.dim == 384


def test_a_shorter_max_seq_length_truncates_alike(texts: list[str]) -> None:
    settings = EmbeddingSettings(max_seq_length=32)
    onnx = OnnxBackend(settings, prepare_onnx(settings))
    reference = TorchBackend(settings.model_copy(update={"backend": "torch"})).encode(texts[:12])
    assert cosines(onnx.encode(texts[:12]), reference).min() >= 0.9999


def test_the_backend_does_not_change_the_collection() -> None:
    onnx = Settings()
    torch = Settings(embedding=EmbeddingSettings(backend="torch"))
    assert onnx.embedding.backend == "onnx"
    assert onnx.collection_name() == torch.collection_name()


def test_backend_setting_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSISTANT_EMBEDDING__BACKEND", "torch")
    assert Settings().embedding.backend == "torch"
    monkeypatch.setenv("ASSISTANT_EMBEDDING__BACKEND", "tensorflow")
    with pytest.raises(ValueError, match="onnx"):
        Settings()


def test_embedder_uses_onnx_by_default() -> None:
    embedder = Embedder(EmbeddingSettings())
    assert embedder.backend == "onnx"
    assert embedder.embed(["a", "b"]).shape == (2, 384)


def test_models_the_onnx_path_cannot_reproduce_use_torch(tmp_path: Path) -> None:
    assert onnx_unsupported(EmbeddingSettings()) is None
    assert "device" in str(onnx_unsupported(EmbeddingSettings(device="cuda")))
    hub = EmbeddingSettings(model="sentence-transformers/all-mpnet-base-v2")
    assert "local directory" in str(onnx_unsupported(hub))
    cls = tmp_path / "cls-model"
    shutil.copytree(default_model_path(), cls)
    config = cls / "1_Pooling" / "config.json"
    pooling = json.loads(config.read_text())
    config.write_text(
        json.dumps(pooling | {"pooling_mode_mean_tokens": False, "pooling_mode_cls_token": True})
    )
    custom = EmbeddingSettings(model=str(cls))
    assert "mean pooling" in str(onnx_unsupported(custom))
    with pytest.raises(ModelError, match="mean pooling"):
        prepare_onnx(custom)


def test_a_damaged_export_is_rebuilt(tmp_path: Path, texts: list[str]) -> None:
    settings = EmbeddingSettings(cache_dir=tmp_path / "cache")
    path = prepare_onnx(settings)  # a real export, into an empty cache
    assert path.parent == tmp_path / "cache" and onnx_ready(path, rehash=True)
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name, path.name + ".verified"]
    good = OnnxBackend(settings, path).encode(texts[:8])

    with path.open("r+b") as handle:  # flip bytes in place, keeping size and mtime
        stat = path.stat()
        handle.seek(stat.st_size // 2)
        handle.write(b"\0" * 64)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert onnx_ready(path) and not onnx_ready(path, rehash=True)
    assert prepare_onnx(settings) == path and onnx_ready(path, rehash=True)

    path.write_bytes(b"not a model")  # truncated: the stamp no longer matches, rebuilt on load
    assert not onnx_ready(path)
    backend = load_backend(settings)
    assert isinstance(backend, OnnxBackend) and onnx_ready(path, rehash=True)
    assert cosines(backend.encode(texts[:8]), good).min() >= 0.99999


def test_falls_back_to_torch_with_a_message_when_no_export_can_be_built(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def no_export(source: Path, path: Path) -> None:
        raise ModelError("exporting the embedding model to ONNX needs torch, transformers and onnx")

    monkeypatch.setattr("assistant.embed._export", no_export)
    with caplog.at_level(logging.WARNING, logger="assistant.embed"):
        backend = load_backend(EmbeddingSettings(cache_dir=tmp_path / "empty"))
    assert isinstance(backend, TorchBackend)
    assert "assistant model prepare" in caplog.text and "sentence-transformers" in caplog.text


def run_cli(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    """``assistant ARGS`` in a fresh interpreter that reports which heavy modules it imported."""
    script = (
        "import sys\n"
        "from assistant.cli import main\n"
        "try:\n"
        "    main()\n"
        "finally:\n"
        f"    heavy = [m for m in {HEAVY!r} if m in sys.modules]\n"
        "    print('HEAVY=' + ','.join(heavy), file=sys.stderr)\n"
    )
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    env["ASSISTANT_LLM__CACHE_DIR"] = str(home / "llm")  # nothing may touch the LLM
    return subprocess.run(
        [sys.executable, "-c", script, *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=home,
        timeout=300,
    )


def test_read_only_commands_never_import_torch(tmp_path: Path, onnx_backend: OnnxBackend) -> None:
    store = str(tmp_path / "store")
    papers = tmp_path / "papers.jsonl"
    sample = merge_duplicates(parse_paths([SAMPLE], year=2024).papers)[:12]
    papers.write_text(
        "".join(json.dumps({"title": p.title, "abstract": p.abstract}) + "\n" for p in sample)
    )
    commands = [
        ["--help"],
        ["config"],
        ["--store", store, "ingest", str(papers), "--json"],
        ["--store", store, "stats"],
        ["--store", store, "list"],
        ["--store", store, "search", sample[3].title, "-k", "3", "--json"],
        ["--store", store, "show", "does-not-exist"],
    ]
    outputs = {}
    for args in commands:
        done = run_cli(*args, home=tmp_path)
        assert done.returncode == (1 if args[-1] == "does-not-exist" else 0), done.stderr
        assert "HEAVY=\n" in done.stderr, f"{args[-2:]} imported: {done.stderr[-300:]}"
        outputs[args[2] if len(args) > 2 else args[0]] = done.stdout
    assert json.loads(outputs["ingest"])["added"] == 12
    assert json.loads(outputs["search"])[0]["paper"]["title"] == sample[3].title


def test_model_prepare_reports_the_embedding_export(
    onnx_backend: OnnxBackend, capsys: pytest.CaptureFixture[str]
) -> None:
    from assistant.cli.llm_commands import prepare_embedder

    prepare_embedder(Settings())
    prepare_embedder(Settings(embedding=EmbeddingSettings(backend="torch")))
    prepare_embedder(Settings(embedding=EmbeddingSettings(device="cuda")))
    out = " ".join(capsys.readouterr().out.split())
    assert "ready as ONNX at" in out and "sha256 verified" in out
    assert "embedding backend is torch: no ONNX export" in out
    assert "embeds with sentence-transformers: the device is 'cuda'" in out
