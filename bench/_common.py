"""Helpers the bench scripts share: statistics, peak memory, a free port, tables, results.

Imported as ``from _common import ...``: a script run as ``python bench/x.py`` has its own
folder on ``sys.path``, and ``assistant`` comes from the installed (editable) package.
"""

from __future__ import annotations

import json
import math
import resource
import socket
import statistics
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
#: Where every script writes its JSON (git-ignored).
RESULTS = ROOT / "bench" / "results"


def median(values: Iterable[float], ndigits: int | None = None) -> float:
    """The median, rounded to ``ndigits`` when given; NaN when there are no values."""
    values = list(values)
    if not values:
        return math.nan
    mid = float(statistics.median(values))
    return round(mid, ndigits) if ndigits is not None else mid


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100), linearly interpolated as numpy does."""
    return float(np.percentile(values, q))


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far, MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def print_table(
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    title: str | None = None,
    left: Sequence[str] | None = None,
) -> None:
    """Print rows under column headers; ``left`` names the left-aligned columns (default:
    the first), the others are right-aligned."""
    left = columns[:1] if left is None else left
    table = Table(title=title)
    for column in columns:
        table.add_column(column, justify="left" if column in left else "right")
    for row in rows:
        table.add_row(*(str(cell) for cell in row))
    Console().print(table)


def write_results(path: Path, data: Any) -> None:
    """Write ``data`` as indented JSON to ``path`` (creating its folder) and say where."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2))
    print(f"wrote {path}")


# --- the app's API (bench/load.py, bench/ui.py) ---------------------------------------------


def ask_args(question: str) -> list[Any]:
    """The app's /ask arguments: question, since, until, source, mode, k, about, scope."""
    return [question, "", "", "All sources", "hybrid", 5, "", "All papers"]


def search_args(query: str) -> list[Any]:
    """The app's /search arguments: query, mode, since, until, source, order, page."""
    return [query, "hybrid", "", "", "All sources", "best match", 1]


def stock_ingest(papers: Sequence[Any], folder: Path, settings: Any) -> float:
    """Seconds the stock llama-index ingest takes for ``papers``: ``VectorStoreIndex`` over
    one Document per paper (title and abstract, as ours embeds) into a fresh embedded Chroma
    collection under ``folder``, through our embedder (its cache cleared first)."""
    import time

    import chromadb
    from llama_index.core import Document, StorageContext, VectorStoreIndex
    from llama_index.vector_stores.chroma import ChromaVectorStore

    from assistant.embed import get_embedder
    from assistant.evals.llamaindex import SeamEmbedding

    get_embedder(settings).clear_cache()
    client = chromadb.PersistentClient(path=str(folder))
    collection = client.get_or_create_collection("peer", embedding_function=None)
    documents = [Document(text=p.text, doc_id=p.id) for p in papers]
    t0 = time.perf_counter()
    VectorStoreIndex.from_documents(
        documents,
        storage_context=StorageContext.from_defaults(
            vector_store=ChromaVectorStore(chroma_collection=collection)
        ),
        embed_model=SeamEmbedding.of(settings),
    )
    return time.perf_counter() - t0
