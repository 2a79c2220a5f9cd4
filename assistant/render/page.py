"""A digest or weekly summary as a page to keep: Markdown, a standalone HTML page, or JSON.

The HTML page needs nothing else to read: inline CSS, no scripts, no external assets. Every
piece of text that comes from an abstract or the model is escaped; citation numbers link to
the reference list, and references to the papers' own pages (http(s) links only).
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable

from assistant.export import support_marker
from assistant.models import Digest, DigestPaper, DigestTheme, SentenceCheck
from assistant.models.compare import NO_CODE, Comparison, ComparisonRow
from assistant.models.papers import PaperRef
from assistant.render.compare import (
    comparison_csv,
    comparison_html,
    comparison_markdown,
    disagreements_html,
    disagreements_markdown,
    left_out_note,
)

FORMATS = ("markdown", "html", "json", "csv")
SUFFIXES = {"markdown": "md", "html": "html", "json": "json", "csv": "csv"}

_CITE = re.compile(r"\[(\d+)\]")


def render(digest: Digest, fmt: str) -> str:
    """The digest in ``fmt``: markdown, html, json, or csv (its comparison table)."""
    renderers: dict[str, Callable[[Digest], str]] = {
        "markdown": digest_markdown,
        "html": digest_html,
        "json": lambda d: d.model_dump_json(indent=2) + "\n",
        "csv": lambda d: comparison_csv(page_comparison(d), page_dates(d)),
    }
    if fmt not in renderers:
        raise ValueError(f"unknown digest format {fmt!r}; use one of {', '.join(FORMATS)}")
    return renderers[fmt](digest)


def subtitle(digest: Digest) -> str:
    """Dates and counts under a digest's title."""
    if digest.week:
        w = digest.week
        return (
            f"{w.start:%d %b %Y} – {w.end:%d %b %Y} · {w.papers} papers · {w.themes} themes · "
            f"{w.with_code} with code"
        )
    return f"{len(digest.citations)} papers · {len(digest.themes)} themes"


def telemetry_line(digest: Digest) -> str:
    """Where a digest's time went, in one line."""
    t = digest.telemetry
    model = f"{t.provider}:{t.model} · " if t.model else ""
    return (
        f"{model}retrieval {t.retrieval_s:.1f} s · clustering {t.clustering_s:.2f} s · "
        f"model {t.llm_s:.1f} s ({len(t.llm_calls)} calls, {t.prompt_tokens}+"
        f"{t.completion_tokens} tokens) · total {t.total_s:.1f} s · "
        f"made {digest.generated_at:%Y-%m-%d %H:%M} UTC"
    )


# --- Markdown ----------------------------------------------------------------------------------


def _md_sentences(sentences: list[SentenceCheck], fallback: str) -> str:
    if not sentences:
        return fallback
    return " ".join(s.text + (" ⚠" if s.supported is False else "") for s in sentences)


def _md_cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


#: A theme lists this many papers, the rest folded (HTML).
LISTED = 12


def shown_date(paper: DigestPaper) -> str:
    """A paper's date as a reader should read it: its publication date, else "added" and the
    day it was added (not a publication date), else "n.d."."""
    if paper.paper.published is None and paper.paper.added is None and paper.date:
        return f"added {paper.date}"  # a page saved before papers kept their added day
    return paper.paper.date_label


def split_undated(digest: Digest) -> tuple[list[DigestPaper], list[DigestPaper]]:
    """The page's papers with a publication date, and those without (listed apart, folded)."""
    dated = [c for c in digest.citations if c.paper.published is not None]
    return dated, [c for c in digest.citations if c.paper.published is None]


def split_near(digest: Digest) -> tuple[list[DigestPaper], list[DigestPaper]]:
    """The page's papers in themes on the topic, and those in themes near it, not on it."""
    near = {p.paper_id for t in digest.themes if t.near for p in t.papers}
    return (
        [c for c in digest.citations if c.paper_id not in near],
        [c for c in digest.citations if c.paper_id in near],
    )


def table_parts(digest: Digest) -> list[tuple[str, list[DigestPaper]]]:
    """The page's paper table in parts, each with its heading, empty parts left out: the
    papers of the themes on the topic with a publication date ("Papers"), those added without
    one, and the papers of themes near the topic, not on it, apart (a digest of "optical flow"
    retrieves 21 video and vision papers around its one paper on the topic; they do not
    belong in the topic's table). Parts after the first fold in HTML."""
    on_topic, around = split_near(digest)
    dated = [c for c in on_topic if c.paper.published is not None]
    undated = [c for c in on_topic if c.paper.published is None]
    parts = [
        ("Papers", dated),
        (f"Added without a publication date ({len(undated)})", undated),
        (f"Near the topic, not on it ({len(around)})", around),
    ]
    return [(heading, papers) for heading, papers in parts if papers]


def digest_markdown(digest: Digest) -> str:
    """The page as Markdown: overview, themes, paper table, references."""
    lines = [f"# {digest.title}", "", f"*{subtitle(digest)}*", ""]
    for notice in digest.notices:
        lines.append(f"> note: {notice}")
    if digest.notices:
        lines.append("")
    if not digest.covered:
        lines.append(digest.overview)
        return "\n".join(lines).strip() + "\n"
    if digest.for_you:
        lines += [f"## For you: {digest.interest}", ""]
        for r in digest.for_you:
            number = _number(digest, r.paper.id)
            lines += [f"{r.rank}. [{number}] {_md_cell(r.paper.title)}", f"   *{_md_cell(r.why)}*"]
        lines.append("")
    lines += ["## Overview", "", _md_sentences(digest.overview_sentences, digest.overview), ""]
    if digest.week:
        w = digest.week
        central = ", ".join(f"[{n}]" for n in w.central)
        lines += [f"**Most central this week:** {central}", ""]
        new = [t for t in digest.themes if t.new]
        if w.earlier_papers == 0:
            lines += ["**New this week:** no earlier weeks to compare with.", ""]
        elif new:
            names = "; ".join(f"{t.name} (distance {t.novelty:.2f})" for t in new)
            lines += [f"**New this week:** {names}", ""]
        else:
            lines += ["**New this week:** nothing far from the previous weeks.", ""]
    lines += ["## Themes", ""]
    for theme in digest.themes:
        lines += [f"### {theme.number}. {theme.name}{theme_tag(theme)}", ""]
        if theme.near:
            lines += [f"*{near_note(theme.near)}*", ""]
        if theme.paragraph:
            lines += [_md_sentences(theme.sentences, theme.paragraph), ""]
        lines += [f"- [{p.number}] {p.title}" for p in theme.papers]
        lines.append("")
    if digest.disagreements:
        lines += ["## Where the papers disagree", "", disagreements_markdown(digest.disagreements)]
    for heading, papers in table_parts(digest):
        lines += [f"## {heading}", "", _table(digest, papers, comparison_markdown)]
    left = left_out_note(digest.comparison) if digest.comparison else ""
    if left:
        lines += [f"*{left}*", ""]
    lines += ["## References", ""]
    for c in digest.citations:
        link = c.links[0] if c.links else ""
        title = f"[{c.title}]({link})" if link else c.title
        lines.append(f"{c.number}. {title} ({shown_date(c)})")
    lines += ["", f"*{telemetry_line(digest)}*"]
    return "\n".join(lines).strip() + "\n"


def page_comparison(digest: Digest) -> Comparison:
    """The page's comparison table; a page saved before tables gets title, date and code."""
    if digest.comparison is not None:
        return digest.comparison
    rows = [
        ComparisonRow(
            paper=PaperRef(id=c.paper_id, title=c.title),
            number=c.number,
            cells={"Code": c.code_url or NO_CODE},
            code_url=c.code_url,
        )
        for c in digest.citations
    ]
    return Comparison(columns=["Code"], rows=rows)


def page_dates(digest: Digest) -> dict[str, str]:
    """Each paper's date as the page shows it, by paper id (the table's Date column)."""
    return {c.paper_id: shown_date(c) for c in digest.citations}


def _table(digest: Digest, papers: list[DigestPaper], to_text: Callable[..., str]) -> str:
    """The rows of ``papers`` of the page's comparison, with their dates, as ``to_text``
    writes them (Markdown or HTML)."""
    comparison = page_comparison(digest)
    ids = {c.paper_id for c in papers}
    rows = [r for r in comparison.rows if r.paper.id in ids]
    return to_text(comparison, rows, page_dates(digest))


def _number(digest: Digest, paper_id: str) -> int | None:
    """A paper's number on the page."""
    return next((c.number for c in digest.citations if c.paper_id == paper_id), None)


def near_note(near: str) -> str:
    """What a theme near the topic, not on it, says under its heading (``DigestTheme.near``)."""
    return f"Near the topic, not on it ({near}): listed without a paragraph."


def theme_tag(theme: DigestTheme) -> str:
    """' — new this week (distance 0.41)' for a weekly theme far from the earlier weeks."""
    if theme.new and theme.novelty is not None:
        return f" — new this week (distance {theme.novelty:.2f})"
    return ""


# --- HTML --------------------------------------------------------------------------------------

_CSS = """
body{font:16px/1.55 Georgia,'Times New Roman',serif;color:#1d1d1f;background:#fbfaf7;
margin:0 auto;max-width:54rem;padding:2rem 1.25rem}
h1{font-size:1.9rem;line-height:1.2;margin:0 0 .3rem}
h2{font-size:1.3rem;border-bottom:1px solid #ddd;padding-bottom:.2rem;margin-top:2rem}
h3{font-size:1.1rem;margin-bottom:.3rem}
.sub,.meta{color:#666;font-size:.9rem}.note{background:#fff6db;border-left:3px solid #e0b000;
padding:.4rem .7rem;margin:.4rem 0;font-size:.9rem}
a{color:#0b57d0;text-decoration:none}a:hover{text-decoration:underline}
a.cite{font-size:.85em;vertical-align:super;line-height:0}
.warn{color:#b26a00;cursor:help}.new{background:#e6f4ea;color:#137333;border-radius:3px;
padding:0 .35rem;font-size:.8rem;font-family:sans-serif}
.papers{font-size:.9rem;color:#333;padding-left:1.1rem;margin:.3rem 0}
.papers li{margin:.1rem 0}
table{border-collapse:collapse;width:100%;font-size:.88rem;font-family:system-ui,sans-serif}
th,td{border-bottom:1px solid #e3e3e3;padding:.35rem .4rem;text-align:left;vertical-align:top}
summary{cursor:pointer;color:#0b57d0}summary h2{display:inline;font-size:1.2rem}
th{background:#f1efe9}ol.refs li{margin:.25rem 0}ol.refs li:target{background:#fff2b3}
td.dim{color:#888}.sides{display:flex;gap:.8rem;flex-wrap:wrap}
blockquote.side{flex:1 1 18rem;margin:.3rem 0;padding:.4rem .7rem;border-left:3px solid #c9c4b5;
background:#f6f4ee;font-size:.93rem}
"""


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _safe_url(url: str) -> str | None:
    return url if re.match(r"^https?://", url, re.I) else None


def _link_citations(escaped: str, numbers: set[int]) -> str:
    """Citation numbers in already-escaped text as links to their references."""

    def link(match: re.Match[str]) -> str:
        n = int(match.group(1))
        if n not in numbers:
            return match.group(0)
        return f'<a class="cite" href="#ref-{n}">[{n}]</a>'

    return _CITE.sub(link, escaped)


def _html_sentences(sentences: list[SentenceCheck], fallback: str, numbers: set[int]) -> str:
    if not sentences:
        return _link_citations(_e(fallback), numbers)
    parts = []
    for s in sentences:
        text = _link_citations(_e(s.text), numbers)
        if s.problem:
            text += f' <span class="warn" title="{_e(s.problem)}">{support_marker(False)}</span>'
        parts.append(text)
    return " ".join(parts)


def digest_html(digest: Digest) -> str:
    """The page as standalone HTML (inline CSS, no scripts, every text escaped)."""
    numbers = {c.number for c in digest.citations}
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(digest.title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{_e(digest.title)}</h1>",
        f'<p class="sub">{_e(subtitle(digest))}</p>',
    ]
    out += [f'<p class="note">note: {_e(n)}</p>' for n in digest.notices]
    if not digest.covered:
        out += [f"<p><strong>{_e(digest.overview)}</strong></p>", "</body></html>"]
        return "\n".join(out) + "\n"
    if digest.for_you:
        items = [
            f'<li><a href="#ref-{_number(digest, r.paper.id)}">[{_number(digest, r.paper.id)}]'
            f'</a> {_e(r.paper.title)}<br><span class="meta">{_e(r.why)}</span></li>'
            for r in digest.for_you
        ]
        out += [f"<h2>For you: {_e(digest.interest or '')}</h2>", f"<ol>{''.join(items)}</ol>"]
    out += [
        "<h2>Overview</h2>",
        f"<p>{_html_sentences(digest.overview_sentences, digest.overview, numbers)}</p>",
    ]
    if digest.week:
        w = digest.week
        central = ", ".join(_link_citations(f"[{n}]", numbers) for n in w.central)
        out.append(f"<p><strong>Most central this week:</strong> {central}</p>")
        new = [t for t in digest.themes if t.new]
        if w.earlier_papers == 0:
            news = "no earlier weeks to compare with."
        elif new:
            news = "; ".join(
                f'<a href="#theme-{t.number}">{_e(t.name)}</a> (distance {t.novelty:.2f})'
                for t in new
            )
        else:
            news = "nothing far from the previous weeks."
        out.append(f"<p><strong>New this week:</strong> {news}</p>")
    out.append("<h2>Themes</h2>")
    for theme in digest.themes:
        tag = (
            f' <span class="new">new · distance {theme.novelty:.2f}</span>'
            if theme.new and theme.novelty is not None
            else ""
        )
        out.append(f'<h3 id="theme-{theme.number}">{theme.number}. {_e(theme.name)}{tag}</h3>')
        if theme.near:
            out.append(f'<p class="note">{_e(near_note(theme.near))}</p>')
        if theme.paragraph:
            out.append(f"<p>{_html_sentences(theme.sentences, theme.paragraph, numbers)}</p>")
        items = [
            f'<li><a href="#ref-{p.number}">[{p.number}]</a> {_e(p.title)}</li>'
            for p in theme.papers
        ]
        out.append('<ul class="papers">' + "".join(items[:LISTED]) + "</ul>")
        if len(items) > LISTED:  # a long theme folds: the page stays readable
            more = len(items) - LISTED
            out.append(
                f"<details><summary>{more} more paper{'s' if more > 1 else ''}</summary>"
                f'<ul class="papers">{"".join(items[LISTED:])}</ul></details>'
            )
    if digest.disagreements:
        out += ["<h2>Where the papers disagree</h2>", disagreements_html(digest.disagreements)]
    for n, (heading, papers) in enumerate(table_parts(digest)):
        table = _table(digest, papers, comparison_html)
        if n == 0:
            out += [f"<h2>{_e(heading)}</h2>", table]
        else:
            out.append(f"<details><summary><h2>{_e(heading)}</h2></summary>{table}</details>")
    dated, undated = split_undated(digest)
    left = left_out_note(digest.comparison) if digest.comparison else ""
    if left:
        out.append(f'<p class="meta">{_e(left)}</p>')
    out.append("<h2>References</h2>")
    if dated:
        out.append(_html_references(dated))
    if undated:  # a citation link to one of them opens the fold (the browser does)
        out.append(
            f"<details><summary>Added without a publication date ({len(undated)})</summary>"
            f"{_html_references(undated)}</details>"
        )
    out += [f'<p class="meta">{_e(telemetry_line(digest))}</p>', "</body></html>"]
    return "\n".join(out) + "\n"


def _html_references(papers: list[DigestPaper]) -> str:
    items = []
    for c in papers:
        urls = [u for u in (_safe_url(x) for x in c.links) if u]
        title = f'<a href="{_e(urls[0])}">{_e(c.title)}</a>' if urls else _e(c.title)
        extra = " ".join(f'<a href="{_e(u)}">{_e(_host(u))}</a>' for u in urls[1:4])
        items.append(
            f'<li id="ref-{c.number}" value="{c.number}">{title} '
            f'<span class="meta">({_e(shown_date(c))}) {extra}</span></li>'
        )
    return f'<ol class="refs">{"".join(items)}</ol>'


def _host(url: str) -> str:
    match = re.match(r"^https?://([^/]+)", url, re.I)
    return match.group(1) if match else url
