"""The Library tab: match counts, rows, one paper."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from html import escape

from assistant.catalog import shown_title
from assistant.models import (
    Hit,
    Paper,
)
from assistant.ui.render.common import copy_button, date_text, links_html, shorten

#: Column headers of the Library table, in order. ``id`` is hidden by the stylesheet: a row
#: click reads it from the row, so it stays right whatever order the table is shown in.
LIBRARY_COLUMNS = ["#", "score", "date", "title", "source", "id"]


def matches_line(good: int, weaker: int, query: str, shown_weaker: bool) -> str:
    """What a library search found: good matches, and the weaker ones folded or listed."""
    about = f"“{escape(shorten(query, 80))}”"
    if not good:
        return f"no good match for {about}: {weaker} weaker matches, the closest first"
    line = f"{good} good match{'es' if good != 1 else ''} for {about}"
    if not weaker:
        return line
    if shown_weaker:
        return f"{line}, then {weaker} weaker"
    return f"{line} · {weaker} weaker hidden (tick “Weaker matches too”)"


def source_labels(dates: Mapping[str, Counter[dt.date | None]]) -> dict[str, str]:
    """A readable name for each source file, from how many of its papers were published on
    each day (``Catalog.source_dates``): the date of the dump it holds.

    A page dump saved under a hashed name (``002_845fed19e190d690.txt``) is called by its
    number and the day most of its papers were published ("dump 002 · 2024-08-11"), or the
    span of its dates when no day dominates; a name a person chose is kept, with that date.
    """
    labels = {}
    for name, counts in dates.items():
        dated = {d: n for d, n in counts.items() if d is not None}
        total = sum(counts.values())
        if not dated:
            when = "undated"
        else:
            day, n = max(dated.items(), key=lambda item: (item[1], item[0]))
            when = day.isoformat() if n * 2 >= total else f"{min(dated)} → {max(dated)}"
        hashed = _HASHED_SOURCE.match(name)
        base = f"dump {hashed.group(1)}" if hashed else name
        labels[name] = f"{base} · {when}"
    return labels


def library_rows(
    papers: Sequence[Paper] | None = None,
    hits: Sequence[Hit] | None = None,
    labels: dict[str, str] | None = None,
    start: int = 1,
) -> list[list[object]]:
    """Table rows (``LIBRARY_COLUMNS``) for browsed papers (no score) or search hits.

    A hit's ``#`` is its rank and its score the fused score that ranked it; browsed papers
    are numbered from ``start`` in the order shown.
    """
    labels = labels or {}

    def source(p: Paper) -> str:  # the first source, and how many more (the paper view lists all)
        if not p.sources:
            return ""
        more = f" +{len(p.sources) - 1}" if len(p.sources) > 1 else ""
        return labels.get(p.sources[0], p.sources[0]) + more

    if hits is not None:
        return [
            [
                h.rank,
                round(h.score, 4),
                date_text(h.paper.published),
                shown_title(h.paper.title),
                source(h.paper),
                h.paper.id,
            ]
            for h in hits
        ]
    return [
        [start + i, None, date_text(p.published), shown_title(p.title), source(p), p.id]
        for i, p in enumerate(papers or [])
    ]


def paper_html(paper: Paper | None, labels: dict[str, str] | None = None) -> str:
    """One paper to read: title, date, authors, links, the whole abstract, where it came from."""
    if paper is None:
        return '<div class="paper-empty">Pick a paper in the table to read its abstract.</div>'
    labels = labels or {}
    authors = ", ".join(paper.authors[:8]) + (" et al." if len(paper.authors) > 8 else "")
    meta = [paper.date_label]  # "added <day>" for a paper without a publication date
    if paper.upvotes is not None:
        meta.append(f"▲ {paper.upvotes}")
    keywords = "".join(f'<span class="kw">{escape(k)}</span>' for k in paper.ai_keywords[:8])
    sources = ", ".join(labels.get(s, s) for s in paper.sources) or "—"
    return (
        f'<article class="paper"><h3>{escape(shown_title(paper.title))}</h3>'
        f'<div class="src-meta">{" · ".join(escape(m) for m in meta)}'
        f"{links_html(paper.links, paper.abstract)}</div>"
        + (f'<div class="authors">{escape(authors)}</div>' if authors else "")
        + f'<p class="abstract">{escape(paper.abstract.strip())}</p>'
        + (f'<div class="kws">{keywords}</div>' if keywords else "")
        + f'<div class="dim paper-from">From {escape(sources)} {copy_button(paper.id)}</div>'
        "</article>"
    )


_HASHED_SOURCE = re.compile(r"^(\d+)_[0-9a-f]{8,}\.\w+$")
