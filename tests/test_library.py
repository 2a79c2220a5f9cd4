"""The library without the app: pages of a search or of every paper, in an order (sample store).

The app's Library tab shows these pages; ``tests/test_ui.py`` checks the same through it.
"""

from __future__ import annotations

import datetime as dt

from assistant.library import PAGE_SIZE, about_question, library_page, ordered
from assistant.models import Paper, SearchFilters
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


def test_items_are_ordered_by_title_or_date_with_the_undated_last() -> None:
    papers = [
        Paper(id="a", title="  b\n title", abstract="x", published=dt.date(2024, 1, 2)),
        Paper(id="b", title="A title", abstract="x"),
        Paper(id="c", title="c", abstract="x", published=dt.date(2024, 3, 1)),
    ]

    def ids(order: str) -> list[str]:
        return [p.id for p in ordered(papers, order, lambda p: p)]

    assert ids("title") == ["b", "a", "c"]  # as shown: case and spacing do not count
    assert ids("newest") == ["c", "a", "b"]
    assert ids("oldest") == ["a", "c", "b"]
    assert ids("best match") == ["a", "b", "c"]  # as given
    assert about_question("  A\n title ") == (
        "What does “A title” propose, and how does it relate to other papers?"
    )
