"""The library: the papers searched or browsed page by page in a chosen order, and the
evidence for a question about one paper. The app's Library tab shows these; a script can
call them too::

    page = library_page(settings, "optical flow", order="newest", page=2)
    evidence = gather_about(about_question(paper.title), paper.id, settings, k=4)
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, Field

from assistant.catalog import NEWEST, OLDEST, TITLE, Catalog, shown_title
from assistant.errors import InputError
from assistant.evidence import gather
from assistant.llm import LLM
from assistant.models import EvidenceSet, Hit, Paper, SearchFilters
from assistant.retrieve import get_retriever, good_matches, search
from assistant.settings import Settings
from assistant.store import open_store

#: Papers per page.
PAGE_SIZE = 25
#: The orders a page can be in: the first is relevance for a search (newest first when browsing).
ORDERS = ["best match", NEWEST, OLDEST, TITLE]


class LibraryPage(BaseModel):
    """One page of a search's hits or of the papers browsed, and the counts that describe it."""

    query: str | None = Field(
        description="The query as searched (after truncation); None when browsing every paper."
    )
    order: str = Field(description="The order the items are in (one of ORDERS).")
    number: int = Field(description="This page, from 1 (a page past the end is the last).")
    pages: int
    start: int = Field(description="How many hits or papers come before this page.")
    total: int = Field(description="Hits (or papers) listed over all pages.")
    hits: list[Hit] = Field(
        default_factory=list,
        description="A search's page: its good matches, then the weaker ones when asked for "
        "(or when none is good).",
    )
    papers: list[Paper] = Field(
        default_factory=list, description="A browsed page: the papers the filters let through."
    )
    good: int = Field(0, description="Good matches of the search (over all pages).")
    weaker: int = Field(0, description="Weaker hits of the search, listed or not.")
    undated: int = Field(0, description="Undated papers a date filter left out.")
    notices: list[str] = Field(
        default_factory=list, description="Things the user should know (truncation, caps)."
    )


def library_page(
    settings: Settings,
    text: str | None,
    *,
    mode: str | None = None,
    filters: SearchFilters | None = None,
    order: str = ORDERS[0],
    page: int = 1,
    weaker: bool = False,
) -> LibraryPage:
    """One page of papers: a search's good matches by rank (or as ordered; the weaker ones
    after them when ``weaker``), or every paper when ``text`` is empty."""
    filters = filters or SearchFilters()
    text = (text or "").strip()
    order = order if order in ORDERS else ORDERS[0]
    retriever = get_retriever(settings)
    hits: list[Hit] = []
    papers: list[Paper] = []
    query: str | None = None
    notices: list[str] = []
    good: list[Hit] = []
    weak: list[Hit] = []
    if text:
        k = min(settings.ui.library_limit, settings.retrieval.max_k)
        result = retriever.search(text, k=k, mode=mode or None, filters=filters, sentences=False)
        # the catalog of the revision just searched: no second read of the store's revision
        papers_catalog = retriever.bm25_index(result.revision).catalog
        query, notices = result.query, list(result.notices)
        good, weak = good_matches(result.hits, result.query, settings.retrieval.good_match)
        groups = [good, weak] if weaker or not good else [good]  # weaker after
        hits = [h for group in groups for h in ordered_hits(papers_catalog, group, order)]
        total = len(hits)
    else:  # the catalog orders every paper; only the page's are read from the store
        papers_catalog = retriever.catalog()
        listed = papers_catalog.listing(filters, order)
        total = len(listed)
    pages = max(1, -(-total // PAGE_SIZE))
    number = min(max(1, page), pages)
    start = (number - 1) * PAGE_SIZE
    if not text:
        shown = [papers_catalog.ids[i] for i in listed[start : start + PAGE_SIZE]]
        found = retriever.store.by_ids(shown)
        papers = [found[pid][0] for pid in shown if pid in found]
    return LibraryPage(
        query=query,
        order=order,
        number=number,
        pages=pages,
        start=start,
        total=total,
        hits=hits[start : start + PAGE_SIZE],
        papers=papers,
        good=len(good),
        weaker=len(weak),
        undated=papers_catalog.undated(filters),
        notices=notices,
    )


def ordered_hits(papers: Catalog, hits: list[Hit], order: str) -> list[Hit]:
    """Hits in the chosen order ("best match": as ranked; equal dates keep their rank)."""
    places = [papers.position(h.paper.id) for h in hits]
    if order == ORDERS[0] or None in places:  # a paper newer than the catalog: as ranked
        return hits
    ranked = papers.ordered(np.array(places, dtype=np.int64), order, np.arange(len(hits)))
    by_place = {place: hit for place, hit in zip(places, hits, strict=True)}
    return [by_place[int(place)] for place in ranked]


def about_question(title: str) -> str:
    """The question "Ask about this paper" sends."""
    return f"What does “{shown_title(title)}” propose, and how does it relate to other papers?"


def gather_about(
    question: str, paper_id: str, settings: Settings, *, k: int, llm: LLM | None = None
) -> EvidenceSet:
    """Evidence from one paper and its nearest neighbours only ("Ask about this paper")."""
    found = open_store(settings).get(paper_id)
    if found is None:
        raise InputError(f"no paper {paper_id!r} in the store (was it removed?).")
    neighbours = search(settings, found.text, k=k, mode="dense", sentences=False).hits
    ids = [found.id, *(h.paper.id for h in neighbours if h.paper.id != found.id)][:k]
    return gather(question, settings, k=k, llm=llm, ids=ids)
