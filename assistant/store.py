"""The Chroma store: the only module that talks to Chroma, and the source of truth for papers.

One record per paper: document = title + abstract, embedding = our own vector (Chroma's
default embedder would download a model), metadata = the full ``Paper`` as JSON plus flat
fields that filters use (``published_int``, ``added_int``, ``sources``, ``title_key``).

Embedded (``PersistentClient`` under the store directory) by default; a Chroma server
(``chroma run``) when ``chroma_url`` is set. The collection name carries a fingerprint of the
embedding model, so vectors of two models never mix.

An embedded store is shared by processes (the app all day, a cron job that ingests): Chroma's
embedded client is thread-safe but not process-safe, and keeps its vector index in memory,
so a query does not see what another process wrote. Writers therefore take the store's
writer lock (one ingest at a time) and lock each batch; a reader that finds the revision
moved by another process reopens its client (under the batch lock, shared) before it
queries. Metadata reads go to SQLite and are always current.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import threading
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import urlparse

import numpy as np
from pydantic import BaseModel

from assistant.errors import InputError, StoreError
from assistant.files import file_lock
from assistant.models import Paper, SearchFilters, date_to_int
from assistant.settings import TEXT_RECIPE, Settings, safe_url

if TYPE_CHECKING:  # chromadb itself is imported when a store opens (0.5 s)
    from chromadb.api.collection_configuration import CreateHNSWConfiguration

#: Largest $in list / id list sent to Chroma in one request.
_CHUNK = 500
#: Vectors between two saves of a collection's HNSW index to disk (Chroma's default: 1000).
#: What a run leaves unsaved stays in Chroma's log, and EVERY process that opens the store
#: adds it to its index again before its first read (~0.65 ms a vector at 100k papers: 0.44 s
#: for the 672 a 100k build left). Saving every 100 bounds that to ~0.06 s, for ~0.04 s of
#: saving per 100 vectors written at 100k (measured; a paper's embedding costs ~0.05 s).
INDEX_SAVE_EVERY = 100
_HNSW: CreateHNSWConfiguration = {"space": "cosine", "sync_threshold": INDEX_SAVE_EVERY}
#: Lock files in an embedded store's folder: one ingest at a time (held for a whole run), and
#: each written batch (exclusive) against a reader reloading the vector index (shared).
WRITER_LOCK = ".writer.lock"
BATCH_LOCK = ".batch.lock"
#: The revision this process last saw of each embedded collection, by (folder, collection).
_SEEN: dict[tuple[Path, str], str] = {}
_SEEN_LOCK = threading.RLock()
#: Embedded store folders this process is writing a batch to (it holds their batch lock).
_WRITING: set[Path] = set()
#: What a retried read returns when it failed again.
_FAILED = object()
#: Chroma's words for vectors of another width than the collection's: (its width, theirs).
_WRONG_WIDTH = re.compile(r"expecting embedding with dimension of (\d+), got (\d+)")


class StoreStats(BaseModel):
    """What ``assistant stats`` reports."""

    papers: int
    sources: dict[str, int]
    first_published: dt.date | None
    last_published: dt.date | None
    undated: int
    last_added: dt.date | None
    embedding_model: str
    collection: str
    location: str


class IndexRow(NamedTuple):
    """What a derived index needs of one paper: its text and the fields filters look at."""

    id: str
    text: str
    published_int: int  # 0 when unknown
    added_int: int  # 0 when unknown
    sources: list[str]


def where_filter(filters: SearchFilters) -> dict[str, Any] | None:
    """The Chroma ``where`` clause of the filters (None when nothing is filtered)."""
    clauses: list[dict[str, Any]] = []
    if filters.since:
        clauses.append({"published_int": {"$gte": date_to_int(filters.since)}})
    if filters.until:
        clauses.append({"published_int": {"$lte": date_to_int(filters.until)}})
    if filters.source:
        clauses.append({"sources": {"$contains": filters.source}})
    if filters.added_since:
        clauses.append({"added_int": {"$gte": date_to_int(filters.added_since)}})
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def _metadata(paper: Paper, content_hash: str) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "paper": paper.model_dump_json(exclude={"arxiv_url", "hf_url", "date"}),
        "title_key": paper.title_key,
        "content_hash": content_hash,
        "sources": list(paper.sources),
    }
    if paper.published:
        meta["published_int"] = date_to_int(paper.published)
    if paper.added:
        meta["added_int"] = date_to_int(paper.added)
    if paper.arxiv_id:
        meta["arxiv_id"] = paper.arxiv_id
    return meta


def _paper(meta: dict[str, Any]) -> Paper:
    return Paper.model_validate_json(meta["paper"])


class PaperStore:
    """Papers in one Chroma collection: read, write in whole batches, query by vector."""

    def __init__(self, settings: Settings) -> None:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        self.settings = settings
        self.collection_name = settings.collection_name()
        #: The embedded store's folder (None for a Chroma server).
        self.folder: Path | None = None
        chroma_settings = ChromaSettings(anonymized_telemetry=False)
        try:
            if settings.chroma_url:
                url = urlparse(settings.chroma_url)
                if not url.hostname:
                    raise InputError(f"chroma URL {settings.chroma_url!r} has no host.")
                self.location = safe_url(settings.chroma_url)
                self._client = chromadb.HttpClient(
                    host=url.hostname,
                    port=url.port or (443 if url.scheme == "https" else 8000),
                    ssl=url.scheme == "https",
                    settings=chroma_settings,
                )
                _set_timeout(self._client, settings.chroma_timeout)
            else:
                path = settings.store_dir.expanduser().resolve()
                path.mkdir(parents=True, exist_ok=True)
                self.location = str(path)
                self.folder = path
                self._client = chromadb.PersistentClient(
                    path=str(path / "chroma"), settings=chroma_settings
                )
            self._open_collections()
            if self.folder is not None:
                with _SEEN_LOCK:
                    _SEEN.setdefault((self.folder, self.collection_name), self._read_revision())
        except (InputError, StoreError):
            raise
        except Exception as exc:
            hint = (
                " Is the server running? Start one with: chroma run --path DIR "
                "--host 127.0.0.1 --port 8000"
                if settings.chroma_url
                else " Check the directory is writable and not used by another Chroma version."
            )
            raise StoreError(f"cannot open the Chroma store at {self.where}: {exc}.{hint}") from exc

    def _open_collections(self) -> None:
        self._collection = self._client.get_or_create_collection(
            self.collection_name,
            embedding_function=None,
            configuration={"hnsw": _HNSW},
            metadata={
                "embedding_model": self.settings.embedding.model,
                "text_recipe": TEXT_RECIPE,
            },
        )
        # Each abstract sentence's vector, when ingested with ``ingest_sentences``: evidence
        # selection reads them instead of embedding a paper's sentences when it is shown.
        self._sentences = self._client.get_or_create_collection(
            f"{self.collection_name}-sentences",
            embedding_function=None,
            configuration={"hnsw": _HNSW},
        )

    @property
    def where(self) -> str:
        """Human-readable location, for messages."""
        return safe_url(self.settings.chroma_url or "") or str(self.settings.store_dir)

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        import httpx

        try:
            return fn(*args, **kwargs)
        except (InputError, StoreError):
            raise
        except httpx.TimeoutException as exc:
            raise StoreError(
                f"the Chroma server at {self.where} did not answer within "
                f"{self.settings.chroma_timeout:g}s ({what}). Is it overloaded or stopped? "
                "Raise ASSISTANT_CHROMA_TIMEOUT if it is just slow."
            ) from exc
        except (httpx.TransportError, ConnectionError) as exc:
            raise StoreError(
                f"cannot reach the Chroma server at {self.where} ({what}: {exc}). Is it "
                "running? Start it with: chroma run --path DIR --host 127.0.0.1 --port 8000"
            ) from exc
        except Exception as exc:
            wrong = _WRONG_WIDTH.search(str(exc))
            if wrong:
                raise StoreError(
                    f"the store at {self.where} holds {wrong[1]}-dimensional vectors of "
                    f"{self.settings.embedding.model!r} and the embedding model gave "
                    f"{wrong[2]}-dimensional ones ({what}). With an embedding server "
                    "(ASSISTANT_EMBEDDING__BACKEND=openai), serve the store's model there."
                ) from exc
            if self.folder is not None and self.folder not in _WRITING:
                retried = self._after_other_writer(fn, args, kwargs)
                if retried is not _FAILED:
                    return retried
            raise StoreError(f"Chroma {what} failed at {self.where}: {exc}") from exc

    def _after_other_writer(self, fn: Any, args: Any, kwargs: Any) -> Any:
        """Retry a failed read of an embedded store once, after another process's batch.

        A read that runs while another process writes a batch can fail inside Chroma ("Error
        finding id", seen with the app serving during a cron ingest): wait for the batch to
        land (the batch lock, shared), reopen the client, and call the same method on the
        reopened collection. ``_FAILED`` when that fails too.
        """
        assert self.folder is not None
        owner = getattr(fn, "__self__", None)
        with _SEEN_LOCK:
            self._reopen()
            _SEEN.pop((self.folder, self.collection_name), None)  # the next revision() sets it
        for fresh in (self._collection, self._sentences, self._client):
            same_type = type(fresh) is type(owner)
            if same_type and getattr(fresh, "name", None) == getattr(owner, "name", None):
                try:
                    return getattr(fresh, fn.__name__)(*args, **kwargs)
                except Exception:
                    return _FAILED
        return _FAILED

    # --- reading -------------------------------------------------------------------------

    def _get_chunked(
        self,
        keys: Sequence[str],
        include: list[str],
        field: str | None = None,
        collection: Any = None,
    ) -> Iterator[tuple[Any, ...]]:
        """(id, *included columns) of the records whose id (or ``field``) is in ``keys``,
        read ``_CHUNK`` keys per request; keys that match nothing are left out."""
        target = self._collection if collection is None else collection
        for start in range(0, len(keys), _CHUNK):
            chunk = list(keys[start : start + _CHUNK])
            select: dict[str, Any] = {"where": {field: {"$in": chunk}}} if field else {"ids": chunk}
            res = self._call("get", target.get, **select, include=include)
            yield from zip(res["ids"], *(res[name] for name in include), strict=True)

    def _pages(
        self, where: dict[str, Any] | None, include: list[str], page: int
    ) -> Iterator[tuple[Any, ...]]:
        """(id, *included columns) of every record matching ``where``, ``page`` per request."""
        offset = 0
        while True:
            res = self._call(
                "get",
                self._collection.get,
                where=where,
                limit=page,
                offset=offset,
                include=include,
            )
            yield from zip(res["ids"], *(res[name] for name in include), strict=True)
            if len(res["ids"]) < page:
                return
            offset += page

    def count(self) -> int:
        """Number of papers in the store."""
        return int(self._call("count", self._collection.count))

    def get(self, paper_id: str) -> Paper | None:
        """One paper by id (or by arXiv id), None when absent."""
        res = self._call("get", self._collection.get, ids=[paper_id], include=["metadatas"])
        if not res["ids"]:
            res = self._call(
                "get", self._collection.get, where={"arxiv_id": paper_id}, include=["metadatas"]
            )
        return _paper(res["metadatas"][0]) if res["ids"] else None

    def find(self, keys: Sequence[str]) -> list[Paper]:
        """Papers by id or arXiv id, in order; an InputError naming every key not found."""
        found, missing = [], []
        for key in dict.fromkeys(k.strip() for k in keys):
            paper = self.get(key)
            if paper is None:
                missing.append(key)
            else:
                found.append(paper)
        if missing:
            raise InputError(
                f"no paper with id {', '.join(repr(k) for k in missing)} in the store "
                "(ids as 'assistant list' or 'assistant search --json' print them)."
            )
        return found

    def by_title_keys(self, keys: Sequence[str]) -> dict[str, tuple[Paper, str]]:
        """Stored papers whose title key is in ``keys``: key -> (paper, content hash)."""
        unique = list(dict.fromkeys(keys))
        return {
            str(meta["title_key"]): (_paper(meta), str(meta["content_hash"]))
            for _, meta in self._get_chunked(unique, ["metadatas"], field="title_key")
        }

    def by_ids(self, ids: Sequence[str]) -> dict[str, tuple[Paper, str]]:
        """Stored papers whose id is in ``ids``: id -> (paper, content hash)."""
        return {
            str(pid): (_paper(meta), str(meta["content_hash"]))
            for pid, meta in self._get_chunked(list(dict.fromkeys(ids)), ["metadatas"])
        }

    def vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """Stored embeddings by id (to rewrite a record's metadata without re-embedding)."""
        return {
            pid: np.asarray(vec, dtype=np.float32)
            for pid, vec in self._get_chunked(ids, ["embeddings"])
        }

    def iter_papers(self, where: dict[str, Any] | None = None, page: int = 2000) -> Iterator[Paper]:
        """Every paper matching ``where``, read page by page."""
        for _, meta in self._pages(where, ["metadatas"], page):
            yield _paper(meta)

    def list_papers(
        self, filters: SearchFilters | None = None, *, limit: int | None = None
    ) -> list[Paper]:
        """Papers matching the filters, newest publication first, then by title."""
        papers = sorted(
            self.iter_papers(where_filter(filters or SearchFilters())),
            key=lambda p: (-(date_to_int(p.published) or 0), p.title.lower()),
        )
        return papers[:limit] if limit else papers

    def nearest(
        self,
        vector: np.ndarray,
        k: int,
        where: dict[str, Any] | None = None,
        ids: Sequence[str] | None = None,
    ) -> list[tuple[str, float]]:
        """Ids and cosine similarities of the k nearest papers matching ``where`` (and among
        ``ids``, when given), best first.

        Reads no metadata: retrieval ranks many candidates and fetches papers for few. Call
        ``revision()`` first to see what another process wrote to an embedded store.
        """
        res = self._call(
            "query",
            self._collection.query,
            query_embeddings=[vector.tolist()],
            n_results=k,
            where=where,
            ids=list(ids) if ids is not None else None,
            include=["distances"],
        )
        return [
            (pid, 1.0 - float(dist))
            for pid, dist in zip(res["ids"][0], res["distances"][0], strict=True)
        ]

    def all_vectors(self, page: int = 2000) -> tuple[list[str], np.ndarray]:
        """Every paper's id and stored vector, as one (papers x dim) matrix, page by page
        (the "for you" ranker learns from the whole store)."""
        ids: list[str] = []
        rows: list[Any] = []
        for pid, vector in self._pages(None, ["embeddings"], page):
            ids.append(str(pid))
            rows.append(vector)
        return ids, np.asarray(rows, dtype=np.float32).reshape(len(ids), -1)

    def iter_index_rows(self, page: int = 2000) -> Iterator[IndexRow]:
        """Every paper's id, indexed text and filter fields, page by page (for BM25)."""
        for pid, doc, meta in self._pages(None, ["documents", "metadatas"], page):
            yield IndexRow(
                pid,
                doc,
                int(meta.get("published_int") or 0),
                int(meta.get("added_int") or 0),
                [str(x) for x in meta.get("sources") or []],
            )

    def get_with_vectors(self, ids: Sequence[str]) -> dict[str, tuple[Paper, np.ndarray]]:
        """Papers and their stored vectors by id in one read; missing ids are left out."""
        return {
            pid: (_paper(meta), np.asarray(vec, dtype=np.float32))
            for pid, meta, vec in self._get_chunked(ids, ["metadatas", "embeddings"])
        }

    def sentence_vectors(self, ids: Sequence[str]) -> dict[str, tuple[list[str], np.ndarray]]:
        """Each paper's abstract sentences and their stored vectors, in abstract order;
        papers stored without sentence vectors are left out (callers embed those)."""
        rows: dict[str, list[tuple[int, str, Any]]] = {}
        unique = list(dict.fromkeys(ids))
        records = self._get_chunked(
            unique, ["metadatas", "documents", "embeddings"], "paper_id", self._sentences
        )
        for _, meta, text, vector in records:
            rows.setdefault(meta["paper_id"], []).append((int(meta["i"]), text, vector))
        out = {}
        for pid, found in rows.items():
            found.sort(key=lambda row: row[0])
            if [i for i, _, _ in found] != list(range(len(found))):
                continue  # torn by an interrupted write: treat as missing
            vectors = np.asarray([v for _, _, v in found], dtype=np.float32)
            out[pid] = ([t for _, t, _ in found], vectors)
        return out

    def _fresh_metadata(self) -> tuple[str, dict[str, Any]]:
        # The collection object caches its metadata; another process may have written since.
        fresh = self._call("get", self._client.get_collection, self.collection_name)
        return str(fresh.id), dict(fresh.metadata or {})

    def _read_revision(self) -> str:
        uid, meta = self._fresh_metadata()
        return f"{self.collection_name}:{uid}:{meta.get('revision', 0)}:{self.count()}"

    def revision(self) -> str:
        """Changes whenever the collection's contents change (derived indexes key on it).

        Read fresh from Chroma (not the client's cached copy) so that writes by another
        process count; the collection's UUID makes a dropped and re-created collection differ.
        An embedded store whose revision moved since this process last saw it was written by
        another process: it is reopened here, so the next query sees the new vectors.
        """
        current = self._read_revision()
        if self.folder is None:
            return current
        key = (self.folder, self.collection_name)
        with _SEEN_LOCK:
            if _SEEN.get(key, current) != current:
                self._reopen()
                current = self._read_revision()
            _SEEN[key] = current
        return current

    def _reopen(self) -> None:
        """A new embedded client, its vector indexes loaded while no batch is being written.

        Chroma caches one client system per path and process; dropping that cache is the
        documented way to get a fresh one (``clear_system_cache``). Objects still holding the
        old system keep working on what they loaded.
        """
        import chromadb
        from chromadb.api.shared_system_client import SharedSystemClient

        assert self.folder is not None
        with file_lock(self.folder / BATCH_LOCK, shared=True):
            SharedSystemClient.clear_system_cache()
            self._client = chromadb.PersistentClient(
                path=str(self.folder / "chroma"), settings=self._client.get_settings()
            )
            self._open_collections()
            for collection in (self._collection, self._sentences):
                one = collection.get(limit=1, include=["embeddings"])
                if one["ids"]:  # the first query loads the index: do it under the lock
                    collection.query(query_embeddings=one["embeddings"], n_results=1)

    # --- writing -------------------------------------------------------------------------

    @property
    def max_batch(self) -> int:
        """Largest batch Chroma accepts in one write."""
        try:
            return int(self._client.get_max_batch_size())
        except Exception:
            return 1000

    def write_batch(
        self,
        papers: Sequence[Paper],
        vectors: np.ndarray,
        sentences: dict[str, tuple[list[str], np.ndarray]] | None = None,
    ) -> None:
        """Upsert papers with their vectors in one Chroma call: it lands whole or not at all.

        ``sentences`` (paper id -> its abstract sentences and their vectors) replace the
        papers' stored sentences first, so a paper never lands without them; a run
        interrupted in between leaves the paper to be rewritten by the next one.

        The revision is bumped before the write as well as after it: a process killed between
        the upsert and the second bump has still changed the revision, so no derived index
        (BM25) built before the write is taken for current afterwards. (Counting alone would
        not tell: re-embedding changed papers leaves the count as it was.)
        """
        if not papers:
            return
        if len(papers) > self.max_batch:
            raise StoreError(f"batch of {len(papers)} exceeds Chroma's limit {self.max_batch}.")
        with self._batch():
            self._bump_revision()
            if sentences:
                self._write_sentences(sentences)
            self._call(
                "upsert",
                self._collection.upsert,
                ids=[p.id for p in papers],
                documents=[p.text for p in papers],
                embeddings=np.asarray(vectors, dtype=np.float32),
                metadatas=[_metadata(p, p.content_hash) for p in papers],
            )
            self._bump_revision()

    @contextlib.contextmanager
    def writer(self) -> Iterator[None]:
        """Be the store's one writer for a whole run (embedded stores; a server needs none).

        Another ingest into the same folder waits up to ``lock_timeout`` seconds for it, so
        two runs never plan their writes against the same stale view.
        """
        if self.folder is None:
            yield
            return
        busy = "another ingest is writing to this store; try again when it is done"
        with file_lock(self.folder / WRITER_LOCK, timeout=self.settings.lock_timeout, busy=busy):
            self.revision()  # catch up with writes made before we held the lock
            for collection in (self._collection, self._sentences):  # made before it was set
                hnsw = collection.configuration.get("hnsw") or {}
                if hnsw.get("sync_threshold") != INDEX_SAVE_EVERY:  # Chroma loads it, so
                    self._call(  # it holds from the next process that writes
                        "modify",
                        collection.modify,
                        configuration={"hnsw": {"sync_threshold": INDEX_SAVE_EVERY}},
                    )
            yield

    @contextlib.contextmanager
    def _batch(self) -> Iterator[None]:
        """Hold the batch lock (embedded stores) and record the revision we leave behind,
        so this process does not take its own write for another's."""
        if self.folder is None:
            yield
            return
        key = (self.folder, self.collection_name)
        with file_lock(self.folder / BATCH_LOCK):
            _WRITING.add(self.folder)
            try:
                yield
            finally:
                _WRITING.discard(self.folder)
                with _SEEN_LOCK:
                    _SEEN.pop(key, None)
                    with contextlib.suppress(Exception):  # dropped: nothing to record
                        _SEEN[key] = self._read_revision()

    def _write_sentences(self, sentences: dict[str, tuple[list[str], np.ndarray]]) -> None:
        """Replace the stored sentences of these papers (one delete, then upserts)."""
        self._call("delete", self._sentences.delete, where={"paper_id": {"$in": list(sentences)}})
        rows = [
            (f"{pid}#{i}", pid, i, text, vector)
            for pid, (texts, vecs) in sentences.items()
            for i, (text, vector) in enumerate(zip(texts, vecs, strict=True))
        ]
        for start in range(0, len(rows), self.max_batch):
            part = rows[start : start + self.max_batch]
            self._call(
                "upsert",
                self._sentences.upsert,
                ids=[r[0] for r in part],
                metadatas=[{"paper_id": r[1], "i": r[2]} for r in part],
                documents=[r[3] for r in part],
                embeddings=np.asarray([r[4] for r in part], dtype=np.float32),
            )

    def _bump_revision(self) -> None:
        """A new revision token: never one used before, so two writers bumping at once (on a
        server) cannot both write the same value and leave a derived index looking current."""
        _, meta = self._fresh_metadata()
        meta["revision"] = uuid.uuid4().hex
        self._call("modify", self._collection.modify, metadata=meta)

    def delete_collection(self) -> None:
        """Drop this collection and its sentences (tests, and ``assistant reset``)."""
        with self._batch():
            self._call("delete", self._client.delete_collection, self.collection_name)
            self._call(
                "delete", self._client.delete_collection, f"{self.collection_name}-sentences"
            )


def _set_timeout(client: Any, seconds: float) -> None:
    """Give the chromadb HTTP client a timeout: it makes its httpx session with
    ``timeout=None``, so a hung server would hang every caller for good."""
    import httpx

    session = getattr(getattr(client, "_server", None), "_session", None)
    if isinstance(session, httpx.Client):
        session.timeout = httpx.Timeout(seconds, connect=min(seconds, 10.0))


def open_store(settings: Settings) -> PaperStore:
    """Open (creating when needed) the store these settings point at."""
    return PaperStore(settings)
