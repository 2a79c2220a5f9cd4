"""Topic digests: "what is there on X?" as a themed, cited, checked page.

``digest_stream(topic, settings)`` reads top to bottom:

1. retrieve   hybrid search with MMR (``-n`` papers, the user's filters), then the relevance
              gate of ``answer.is_relevant``: an uncovered topic gets ``CANNOT_ANSWER``
2. cluster    the papers' stored vectors into themes (``themes.choose_clusters``: spherical
              k-means, the number of themes chosen by silhouette, 2..``digest.max_themes``; a
              small set is one theme); themes near the topic, not on it, are marked to be
              listed only (``themes.mark_off_topic``), and a page with none on it opens by
              saying so (``themes.not_on_topic``) instead of a model's overview
3.-7.         the page (``page.write_page``, shared with ``weekly.py``): number the papers,
              name the themes, write and check the overview and one paragraph per theme,
              and return a typed ``Digest``

``digest_stream`` returns a ``DigestStream``: iterate it for ``DigestProgress`` events and the
model's text chunks (``str``), then read ``result`` for the ``Digest``; ``digest`` returns only
the ``Digest``. Citation parsing, checking, the injection
filter and the gate are the answer pipeline's; nothing here re-implements them.
"""

from __future__ import annotations

import time
from collections.abc import Generator

import numpy as np

from assistant.citations import CANNOT_ANSWER
from assistant.embed import get_embedder
from assistant.errors import InputError
from assistant.evidence import topic_hits
from assistant.llm import LLM
from assistant.models import Digest, DigestProgress, DigestTelemetry, SearchFilters
from assistant.page import (
    DigestEvent,
    DigestStream,
    PageInput,
    overview_sources,
    page_order,
    with_evidence_sentences,
    write_page,
)
from assistant.settings import Settings
from assistant.store import open_store
from assistant.themes import choose_clusters, group_themes, mark_off_topic, not_on_topic


def digest_stream(
    topic: str,
    settings: Settings,
    *,
    n: int | None = None,
    filters: SearchFilters | None = None,
    llm: LLM | None = None,
    use_llm: bool = True,
) -> DigestStream:
    """A digest of ``topic``: iterate for ``DigestProgress`` events and the model's text
    chunks (``str``) as it goes; ``result`` is the ``Digest``. Nothing runs until it is read.

    ``n`` papers are retrieved (default ``digest.papers``) with hybrid search and MMR under
    ``filters``. A topic the store does not cover ends at once with ``covered=False`` and
    ``CANNOT_ANSWER`` as the overview, without calling the model. ``use_llm=False`` names
    themes by keywords and writes no paragraphs (no model is loaded).
    """
    return DigestStream(_digest_steps(topic, settings, n, filters or SearchFilters(), llm, use_llm))


def _digest_steps(
    topic: str,
    settings: Settings,
    n: int | None,
    filters: SearchFilters,
    llm: LLM | None,
    use_llm: bool,
) -> Generator[DigestEvent, None, Digest]:
    started = time.perf_counter()
    config = settings.digest
    n = config.papers if n is None else n
    if isinstance(n, bool) or not 1 <= n <= 100:
        raise InputError(f"-n must be between 1 and 100 papers, not {n}.")
    telemetry = DigestTelemetry()

    yield DigestProgress(stage="retrieval", message=f"retrieving up to {n} papers")
    t0 = time.perf_counter()
    # Evidence sentences are picked after clustering, for the papers shown to the model only:
    # embedding every abstract's sentences is most of retrieval's time.
    found = topic_hits(settings, topic, n, filters, config.min_similarity)
    telemetry.retrieval_s = round(time.perf_counter() - t0, 3)
    notices, hits = found.notices, found.hits
    title = f"Digest: {found.query}"
    if not found.covered:
        telemetry.total_s = round(time.perf_counter() - started, 3)
        return Digest(
            kind="topic",
            title=title,
            topic=found.query,
            covered=False,
            overview=CANNOT_ANSWER,
            notices=notices,
            filters=filters,
            used_llm=False,
            telemetry=telemetry,
        )

    yield DigestProgress(stage="clustering", message=f"grouping {len(hits)} papers into themes")
    t0 = time.perf_counter()
    stored = open_store(settings).vectors([h.paper.id for h in hits])
    vectors = np.stack([stored[h.paper.id] for h in hits])
    labels = choose_clusters(
        vectors, min_k=2, max_k=config.max_themes, single_below=config.single_theme_below
    )
    themes = group_themes(vectors, labels)
    papers = [h.paper for h in hits]
    themes = mark_off_topic(themes, papers, vectors, found.query, get_embedder(settings))
    ordered, themes = page_order(hits, themes)
    on_topic = [t for t in themes if t.on_topic]  # the overview draws on these
    telemetry.clustering_s = round(time.perf_counter() - t0, 3)
    yield DigestProgress(
        stage="clustering",
        message=f"{len(themes)} theme(s) of "
        f"{', '.join(str(len(t.members)) for t in themes)} papers",
    )
    if use_llm:
        t0 = time.perf_counter()
        query_vector = get_embedder(settings).embed_one(found.query)  # cached by the search
        ordered = with_evidence_sentences(settings, ordered, themes, query_vector)
        telemetry.evidence_s = round(time.perf_counter() - t0, 3)
    page = PageInput(
        kind="topic",
        title=title,
        topic=found.query,
        hits=ordered,
        themes=themes,
        overview_sources=overview_sources(on_topic, config.sources_per_theme),
        overview=None if on_topic else not_on_topic(papers, found.query),
        filters=filters,
        notices=notices,
    )
    return (yield from write_page(page, settings, telemetry, started, llm=llm, use_llm=use_llm))


def digest(topic: str, settings: Settings, **options: object) -> Digest:
    """A digest of ``topic`` without streaming (see ``digest_stream`` for the options)."""
    return digest_stream(topic, settings, **options).result  # type: ignore[arg-type]
