"""The library without the app: pages of a search or of every paper, in an order (sample store).

The app's Library tab shows these pages; ``tests/test_ui.py`` checks the same through it.
"""

from __future__ import annotations

import pytest

from assistant.library import PAGE_SIZE, about_question, library_page, ordered_hits
from assistant.models import Hit, Paper, SearchFilters
from assistant.settings import Settings


def test_browsing_pages_through_every_paper_newest_first(sample_settings: Settings) -> None:
    first = library_page(sample_settings, "")
    assert first.query is None and not first.hits
    assert (first.total, first.pages, first.number, first.start) == (583, 24, 1, 0)
    assert len(first.papers) == PAGE_SIZE
    dates = [p.published for p in first.papers if p.published]
    assert dates == sorted(dates, reverse=True)

    last = library_page(sample_settings, "  ", page=99)  # past the end: the last page
    assert (last.number, last.start) == (24, 23 * PAGE_SIZE)
    assert len(last.papers) == 583 - 23 * PAGE_SIZE
    assert library_page(sample_settings, "", order="no such order").order == "best match"

    august = SearchFilters.parse("2024-08-01", "2024-08-31")
    dated = library_page(sample_settings, "", filters=august)
    assert dated.papers and all(p.published and p.published.month == 8 for p in dated.papers)
    assert dated.undated == 428  # said, not silently dropped


def test_a_search_lists_its_good_matches_then_the_weaker_when_asked(
    sample_settings: Settings,
) -> None:
    narrow = library_page(sample_settings, "optical flow")
    assert narrow.query == "optical flow" and 0 < narrow.good < 10 and narrow.weaker > 0
    assert narrow.total == narrow.good == len(narrow.hits)
    assert "SplatFlow" in narrow.hits[0].paper.title

    wide = library_page(sample_settings, "optical flow", weaker=True)
    assert wide.total == narrow.good + narrow.weaker
    assert [h.paper.id for h in wide.hits[: narrow.good]] == [h.paper.id for h in narrow.hits]


def test_a_search_reads_the_store_revision_once(
    sample_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The page's catalog is the one the search used: on a Chroma server every revision read
    is a round trip."""
    from assistant.retrieve import get_retriever

    store = get_retriever(sample_settings).store
    reads: list[str] = []
    real = store.revision

    def counted() -> str:
        reads.append("read")
        return real()

    monkeypatch.setattr(store, "revision", counted)
    page = library_page(sample_settings, "optical flow", order="newest")
    assert page.good and len(reads) == 1


def test_items_are_ordered_by_title_or_date_with_the_undated_last() -> None:
    from assistant.catalog import Catalog
    from assistant.store import IndexRow

    rows = [
        IndexRow("a", "  b\n title\n\nx", 20240102, 0, []),
        IndexRow("b", "A title\n\nx", 0, 0, []),
        IndexRow("c", "c\n\nx", 20240301, 0, []),
        IndexRow("d", "d\n\nx", 20240102, 0, []),
    ]
    papers = Catalog.from_rows(rows, "r")

    def ids(order: str) -> list[str]:
        return [papers.ids[i] for i in papers.listing(SearchFilters(), order)]

    assert ids("title") == ["b", "a", "c", "d"]  # as shown: case and spacing do not count
    assert ids("newest") == ["c", "a", "d", "b"]  # equal dates by title, the undated last
    assert ids("oldest") == ["a", "d", "c", "b"]
    assert ids("best match") == ids("newest")  # browsing has no ranking
    # Hits keep their rank among equal dates, and "best match" keeps it whole.
    hits = [
        Hit(rank=n, score=1.0, paper=Paper(id=i, title=i, abstract="x"), similarity=0.5)
        for n, i in enumerate("dbca", 1)
    ]
    assert [h.paper.id for h in ordered_hits(papers, hits, "newest")] == ["c", "d", "a", "b"]
    assert ordered_hits(papers, hits, "best match") == hits
    assert about_question("  A\n title ") == (
        "What does “A title” propose, and how does it relate to other papers?"
    )
