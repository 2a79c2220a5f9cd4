"""llama-index both ways: our retriever as a llama-index retriever, and llama-index's stock
pipeline as the peer the eval harness scores.

For llama-index users::

    from llama_index.core.query_engine import CitationQueryEngine
    from assistant.evals.llamaindex import PapersRetriever, SeamLLM
    retriever = PapersRetriever(settings, k=5)              # hybrid search over this store
    engine = CitationQueryEngine(retriever, llm=SeamLLM.of(get_llm(settings), settings))

``PapersRetriever`` returns ``NodeWithScore`` whose node is the paper (title and abstract)
with its metadata: ``id``, ``title``, ``date``, ``links``. ``SeamLLM`` and ``SeamEmbedding``
put our LLM seam and embedder behind llama-index's interfaces, so every system in a run uses
the same loaded model and the same vectors.

For the harness, ``StockPipeline`` answers a question the way a llama-index user would out of
the box: ``VectorStoreIndex`` over the same Chroma collection (through
``llama-index-vector-stores-chroma``) fused with ``BM25Retriever`` by ``QueryFusionRetriever``
(reciprocal rank), then ``CitationQueryEngine``; or that engine on ``PapersRetriever``
(``retriever="ours"``). Its text is checked with ``citations.check_text`` like ours.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.base.llms.types import (
    CompletionResponse,
    CompletionResponseGen,
    LLMMetadata,
)
from llama_index.core.callbacks import CallbackManager
from llama_index.core.llms.callbacks import llm_completion_callback
from llama_index.core.llms.custom import CustomLLM
from llama_index.core.postprocessor.types import BaseNodePostprocessor
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode
from pydantic import PrivateAttr

from assistant.citations import check_text, is_abstention
from assistant.embed import get_embedder
from assistant.errors import StoreError
from assistant.llm import LLM, Telemetry
from assistant.models import (
    Answer,
    AnswerTelemetry,
    Citation,
    Evidence,
    EvidenceSet,
    Paper,
    SearchFilters,
)
from assistant.retrieve import search
from assistant.settings import Settings
from assistant.store import open_store
from assistant.text import split_sentences

# --- our side, as llama-index objects ------------------------------------------------------


def paper_node(paper: Paper) -> TextNode:
    """A paper as a llama-index node: title and abstract as text, id/title/date/links as
    metadata (only the title and date are shown to an LLM, none to an embedder)."""
    return TextNode(
        id_=paper.id,
        text=paper.text,
        metadata={
            "id": paper.id,
            "title": paper.title,
            "date": paper.published.isoformat() if paper.published else None,
            "links": paper.links,
        },
        excluded_llm_metadata_keys=["id", "links", "title"],
        excluded_embed_metadata_keys=["id", "title", "date", "links"],
    )


class PapersRetriever(BaseRetriever):
    """Our search (hybrid by default: dense + BM25 fused, optional MMR, filters) as a
    llama-index retriever; scores are the retriever's (RRF in hybrid mode)."""

    def __init__(
        self,
        settings: Settings,
        *,
        k: int | None = None,
        mode: str | None = None,
        mmr: bool | None = None,
        filters: SearchFilters | None = None,
        callback_manager: CallbackManager | None = None,
    ) -> None:
        super().__init__(callback_manager=callback_manager)
        self.settings = settings
        self.k = k
        self.mode = mode
        self.mmr = mmr
        self.filters = filters

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        result = search(
            self.settings,
            query_bundle.query_str,
            k=self.k,
            mode=self.mode,
            mmr=self.mmr,
            filters=self.filters,
            sentences=False,
        )
        return [NodeWithScore(node=paper_node(h.paper), score=h.score) for h in result.hits]


class SeamLLM(CustomLLM):
    """Our LLM seam as a llama-index LLM (completion only, streamed or not): llama-index's
    engines then run on the very model our pipeline uses, with its telemetry kept."""

    context_window: int = 4096
    num_output: int = 384
    model_name: str = "seam"
    _llm: Any = PrivateAttr()
    _calls: list[Telemetry] = PrivateAttr(default_factory=list)

    @classmethod
    def of(cls, llm: LLM, settings: Settings) -> SeamLLM:
        """Wrap ``llm``; the context window and answer length come from ``settings.llm``."""
        made = cls(
            context_window=settings.llm.n_ctx,
            num_output=settings.llm.max_new_tokens,
            model_name=f"{llm.provider}:{llm.name}",
        )
        made._llm = llm
        return made

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(
            context_window=self.context_window,
            num_output=self.num_output,
            model_name=self.model_name,
            is_chat_model=False,
        )

    def take_calls(self) -> list[Telemetry]:
        """The telemetry of the calls since the last ``take_calls``."""
        calls, self._calls = self._calls, []
        return calls

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        done = self._llm.complete(prompt)
        self._calls.append(done.telemetry)
        return CompletionResponse(text=done.text)

    @llm_completion_callback()
    def stream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseGen:
        def chunks() -> CompletionResponseGen:
            text = ""
            with self._llm.stream(prompt) as stream:
                for delta in stream:
                    text += delta
                    yield CompletionResponse(text=text, delta=delta)
                if stream.telemetry is not None:
                    self._calls.append(stream.telemetry)

        return chunks()


class SeamEmbedding(BaseEmbedding):
    """Our embedder (the store's model) as a llama-index embedding."""

    _embedder: Any = PrivateAttr()

    @classmethod
    def of(cls, settings: Settings) -> SeamEmbedding:
        made = cls(model_name=settings.embedding.model)
        made._embedder = get_embedder(settings)
        return made

    def _get_query_embedding(self, query: str) -> list[float]:
        return [float(x) for x in self._embedder.embed_one(query)]

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._get_query_embedding(text)

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return [[float(x) for x in row] for row in self._embedder.embed(texts)]


# --- the stock pipeline --------------------------------------------------------------------


def _chroma_collection(settings: Settings) -> Any:
    """The store's Chroma collection, opened as ``store.py`` opens it (same client settings,
    so both share one Chroma system in this process).

    TODO: store.py is the only module meant to talk to Chroma; a public
    ``PaperStore.collection`` accessor there would replace this function.
    """
    from urllib.parse import urlparse

    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    try:
        if settings.chroma_url:
            url = urlparse(settings.chroma_url)
            client = chromadb.HttpClient(
                host=url.hostname or "127.0.0.1",
                port=url.port or (443 if url.scheme == "https" else 8000),
                ssl=url.scheme == "https",
                settings=chroma_settings,
            )
        else:
            path = settings.store_dir.expanduser().resolve() / "chroma"
            client = chromadb.PersistentClient(path=str(path), settings=chroma_settings)
        return client.get_collection(settings.collection_name())
    except Exception as exc:
        raise StoreError(f"llama-index cannot open the store's Chroma collection: {exc}") from exc


class HideMetadata(BaseNodePostprocessor):
    """Keeps every metadata field out of the LLM's and the embedder's view of a node.

    Nodes read from a collection llama-index did not write carry its writer's metadata (here
    the whole paper as JSON); a user of the stock pipeline hides it, or each source is
    printed twice into the prompt. The title is part of the node text already.
    """

    def _postprocess_nodes(
        self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None = None
    ) -> list[NodeWithScore]:
        for hit in nodes:
            hit.node.excluded_llm_metadata_keys = list(hit.node.metadata)
            hit.node.excluded_embed_metadata_keys = list(hit.node.metadata)
        return nodes


class FirstPerPaper(BaseNodePostprocessor):
    """Keeps the first node of each paper, then the first ``k``.

    ``QueryFusionRetriever`` merges nodes by ``node.hash`` (text + ``str(metadata)``); the
    Chroma query and ``BM25Retriever`` return one paper's metadata in a different key order,
    so the fused list holds the same paper twice. The stock pipeline asks the fusion for
    2k nodes and keeps k distinct papers, as a user who noticed the duplicates would.
    """

    k: int = 5

    def _postprocess_nodes(
        self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None = None
    ) -> list[NodeWithScore]:
        seen: set[str] = set()
        kept = []
        for hit in nodes:
            if hit.node.node_id not in seen:
                seen.add(hit.node.node_id)
                kept.append(hit)
        return kept[: self.k]


def stock_retriever(settings: Settings, llm: SeamLLM, k: int) -> BaseRetriever:
    """llama-index's own hybrid: ``VectorStoreIndex`` over our Chroma collection (our
    embedder) and ``BM25Retriever`` over the same nodes, fused by reciprocal rank."""
    from llama_index.core import VectorStoreIndex
    from llama_index.core.retrievers import QueryFusionRetriever
    from llama_index.retrievers.bm25 import BM25Retriever
    from llama_index.vector_stores.chroma import ChromaVectorStore

    vector_store = ChromaVectorStore(chroma_collection=_chroma_collection(settings))
    index = VectorStoreIndex.from_vector_store(vector_store, embed_model=SeamEmbedding.of(settings))
    bm25 = BM25Retriever.from_defaults(nodes=vector_store.get_nodes(None), similarity_top_k=k)
    return QueryFusionRetriever(
        [index.as_retriever(similarity_top_k=k), bm25],
        llm=llm,
        mode="reciprocal_rerank",  # type: ignore[arg-type]
        similarity_top_k=2 * k,  # duplicates among them: see FirstPerPaper
        num_queries=1,  # no LLM-written query variants: one query, two retrievers
        use_async=False,
    )


class StockPipeline:
    """llama-index's ``CitationQueryEngine`` on the stock retriever (``"llamaindex"``) or on
    ours (``"ours"``), run on our model; each answer judged by ``answer.check_text``
    (see ``check``)."""

    def __init__(self, settings: Settings, llm: LLM, *, retriever: str = "llamaindex") -> None:
        from llama_index.core import get_response_synthesizer
        from llama_index.core.query_engine import CitationQueryEngine
        from llama_index.core.query_engine.citation_query_engine import (
            CITATION_QA_TEMPLATE,
            CITATION_REFINE_TEMPLATE,
        )

        self.settings = settings
        self.llm = SeamLLM.of(llm, settings)
        k = settings.answer.k
        base = (
            PapersRetriever(settings, k=k)
            if retriever == "ours"
            else stock_retriever(settings, self.llm, k)
        )
        self.engine = CitationQueryEngine(
            retriever=base,
            llm=self.llm,
            node_postprocessors=[] if retriever == "ours" else [FirstPerPaper(k=k), HideMetadata()],
            response_synthesizer=get_response_synthesizer(
                llm=self.llm,
                text_qa_template=CITATION_QA_TEMPLATE,
                refine_template=CITATION_REFINE_TEMPLATE,
                streaming=True,
            ),
        )
        self.papers = {p.id: p for p in open_store(settings).iter_papers()}
        self.embedder = get_embedder(settings)
        self.engine.retrieve(QueryBundle("warm up"))  # loads what the first query would

    def _paper(self, chunk: str, retrieved: Sequence[NodeWithScore]) -> Paper:
        """The paper a citation chunk was cut from. CitationQueryEngine gives each chunk a new
        node id, so it is found by its text among the retrieved nodes (ids = paper ids)."""
        head = chunk.strip()[:200]
        for hit in retrieved:
            if head in hit.node.get_content():
                return self.papers[hit.node.node_id]
        raise KeyError(f"citation chunk not found among the retrieved papers: {head[:60]!r}")

    def check(self, gathered: EvidenceSet, text: str) -> Answer:
        """llama-index's text judged by our checker as it is: ``check_text`` without the
        repair, and no withholding (both are features of our pipeline, not of the judge)."""
        question = gathered.question
        if is_abstention(text):
            return Answer(
                question=question,
                standalone_question=question,
                answer=text,
                abstained=True,
                draft=text,
            )
        checked = check_text(
            text,
            gathered.evidence,
            self.embedder,
            self.settings.answer.support_threshold,
            repair=False,
            question=gathered.question,
        )
        by_number = {ev.number: ev for ev in gathered.evidence}
        citations = [
            Citation(
                number=new,
                paper_id=by_number[old].paper.id,
                title=by_number[old].paper.title,
                date=None,
                links=by_number[old].paper.links,
                evidence=by_number[old].sentences,
                supported=all(c.supported for c in checked.sentences if new in c.citations),
                paper=by_number[old].paper,
            )
            for old, new in sorted(checked.numbering.items(), key=lambda item: item[1])
        ]
        return Answer(
            question=question,
            standalone_question=question,
            answer=checked.text,
            abstained=False,
            draft=text,
            sentences=checked.sentences,
            citations=citations,
            invalid_citations=checked.invalid_citations,
        )

    def answer(self, question: str) -> tuple[Answer, list[str]]:
        """The checked answer and the paper ids of the sources it was given, in order."""
        started = time.perf_counter()
        self.llm.take_calls()
        bundle = QueryBundle(question)
        nodes = self.engine.retrieve(bundle)
        retrieval_ms = (time.perf_counter() - started) * 1000
        response: Any = self.engine.synthesize(bundle, nodes)
        text, first = "", None
        for delta in getattr(response, "response_gen", None) or [str(response)]:
            if first is None and delta.strip():
                first = time.perf_counter() - started
            text += delta
        evidence = []
        for number, source in enumerate(response.source_nodes, start=1):
            chunk = source.node.get_content().split("\n", 1)[-1]  # after "Source n:"
            evidence.append(
                Evidence(
                    number=number,
                    paper=self._paper(chunk, nodes),
                    sentences=split_sentences(chunk),
                    similarity=float(source.score or 0.0),
                )
            )
        gathered = EvidenceSet(
            question=question, standalone_question=question, evidence=evidence, relevant=True
        )
        answer = self.check(gathered, text)
        calls = self.llm.take_calls()
        answer.telemetry = AnswerTelemetry(
            retrieval_ms=round(retrieval_ms, 1),
            ttft_s=None if first is None else round(first, 3),
            total_s=round(time.perf_counter() - started, 3),
            prompt_tokens=sum(c.prompt_tokens for c in calls),
            completion_tokens=sum(c.completion_tokens for c in calls),
            generation_s=sum(c.total_s for c in calls) or None,
            model=self.llm.model_name,
            provider="llama-index",
        )
        return answer, _unique([ev.paper.id for ev in evidence])


def _unique(ids: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(ids))
