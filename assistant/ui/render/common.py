"""Shared pieces of the app's HTML: short text, titles, links, citation chips, source cards."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Sequence
from html import escape
from urllib.parse import urlparse

from assistant.catalog import shown_title
from assistant.export import support_marker
from assistant.models import (
    Paper,
)

_CITE = re.compile(r"\[(\d+)\]")

#: Longest question shown in a heading or a user bubble (the rest is summarised).
HEADING_CHARS = 140
BUBBLE_CHARS = 1500

#: Hosts that only redirect: their name says nothing about what the link is.
SHORTENERS = frozenset(
    {"bit.ly", "tinyurl.com", "t.co", "goo.gl", "aka.ms", "ow.ly", "is.gd", "buff.ly", "rb.gy"}
)
#: What a link is, guessed from the words just before it in the abstract.
_LINK_CONTEXT = [
    (re.compile(r"\b(code|github|implementation|source|repository|repo)\b", re.I), "code"),
    (re.compile(r"\b(dataset|data|benchmark)\b", re.I), "data"),
    (re.compile(r"\b(demo|video|youtube)\b", re.I), "video"),
    (re.compile(r"\b(models?|weights|checkpoints?)\b", re.I), "model"),
    (re.compile(r"\b(project|website|homepage|page|site)\b", re.I), "project page"),
]


def shorten(text: str, limit: int) -> str:
    """``text`` on one line, cut at a word boundary to at most ``limit`` characters."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    cut = flat[: limit - 1].rsplit(" ", 1)[0] or flat[: limit - 1]
    return cut + "…"


#: The "turn" of the digest on the Digests tab: its cards never clash with the chat's.
DIGEST_TURN = "digest"


def card_id(turn: int | str, number: int) -> str:
    """DOM id of the source card ``number`` of answer ``turn`` (what a citation links to)."""
    return f"src-{turn}-{number}"


def card_ref(turn: int | str) -> str:
    """A link template to the source cards of answer ``turn``: ``ref.format(n=3)``."""
    return "#" + card_id(turn, 0).removesuffix("0") + "{n}"


# --- links ------------------------------------------------------------------------------------


def link_label(url: str, context: str = "") -> str:
    """What a paper link is: arXiv, HF, code, project page, data, video, model or link.

    Known hosts decide; otherwise the words before the URL in the abstract (``context``: "code
    is at https://…"); a URL shortener with no such hint is just "link".
    """
    parsed = urlparse(url)
    host = parsed.netloc.lower().removeprefix("www.")
    path = parsed.path.lower()
    if host.endswith("arxiv.org"):
        return "arXiv"
    if host.endswith("huggingface.co"):
        if path.startswith("/papers"):
            return "HF"
        if path.startswith("/datasets"):
            return "data"
        return "demo" if path.startswith("/spaces") else "model"
    if host in ("github.com", "gitlab.com", "bitbucket.org", "codeberg.org"):
        return "code"
    if host in ("youtu.be", "youtube.com", "vimeo.com"):
        return "video"
    if host.endswith(("github.io", "gitlab.io")):
        return "project page"
    tail = context[-80:]
    for pattern, label in _LINK_CONTEXT:
        if pattern.search(tail):
            return label
    return "link" if host in SHORTENERS or not host else "project page"


def links_html(urls: Sequence[str], abstract: str = "") -> str:
    out, counts = [], Counter[str]()
    for url in urls:
        if not url.startswith(("http://", "https://")):
            continue
        at = abstract.find(url)
        label = link_label(url, abstract[max(0, at - 80) : at] if at >= 0 else "")
        counts[label] += 1
        if counts[label] > 1:
            label = f"{label} {counts[label]}"
        out.append(
            f'<a href="{escape(url)}" target="_blank" rel="noopener" title="{escape(url)}">'
            f"{escape(label)}</a>"
        )
    return f'<span class="links">{"".join(out)}</span>' if out else ""


def with_citations(text: str, turn: int | str, *, links: bool = True) -> str:
    """Escaped text with each ``[n]`` turned into a chip (a link to its source card)."""

    def chip(m: re.Match[str]) -> str:
        n = m.group(1)
        if not links:
            return f'<span class="cite">{n}</span>'
        return f'<a class="cite" href="#{card_id(turn, int(n))}">{n}</a>'

    return _CITE.sub(chip, escape(text, quote=False))


def paragraphs(html_text: str) -> str:
    """Line breaks kept without ever leaving the HTML block (Markdown must not see the text)."""
    return html_text.replace("\n", "<br>")


def card_html(
    anchor: str,
    number: int,
    paper: Paper,
    date: str | None,
    supported: bool | None,
    lines: Sequence[str],
    on_question: bool = True,
) -> str:
    """A source card: number, linked title, support mark (None: not cited; "off the
    question" when it supports its sentences but covers no part of the question), date,
    links and a few lines of the abstract."""
    if supported is None:
        state, mark = "reading", '<span class="dim">listed, not cited</span>'
    else:
        state = "ok" if supported else "warn"
        label = "supported" if supported else "check: weakly supported"
        if supported and not on_question:
            label = "supported, but off the question"
        mark = (
            f'<span class="mark {state}" title="{label}">{support_marker(supported)} {label}</span>'
        )
    links = paper.links
    title = escape(shown_title(paper.title))
    if links:
        title = f'<a href="{escape(links[0])}" target="_blank" rel="noopener">{title}</a>'
    items = "".join(f"<li>{escape(s)}</li>" for s in lines)
    return (
        f'<article class="src-card {state}" id="{anchor}">'
        f'<div class="src-head"><span class="src-num">{number}</span>'
        f'<div class="src-title">{title}</div></div>'
        f'<div class="src-meta">{mark}'
        f"{' · ' + escape(date) if date else ''}{links_html(links, paper.abstract)}"
        f"{star_button(paper.id)}</div>"
        f'<ul class="src-evidence">{items}</ul></article>'
    )


def date_text(value: dt.date | None) -> str:
    return value.isoformat() if value else ""


def copy_button(text: str, label: str = "copy id") -> str:
    """A small button that copies ``text`` to the clipboard (``ui/app.js`` does the copying)."""
    return (
        f'<button type="button" class="copy-btn" data-copy="{escape(text)}" '
        f'title="Copy {escape(text)}">{escape(label)}</button>'
    )


def star_button(paper_id: str) -> str:
    """☆ on a card: saves the paper to the "starred" collection (``ui/app.js`` hands its id
    to the app's save button)."""
    return (
        f'<button type="button" class="star-btn" data-star="{escape(paper_id)}" '
        'title="Save to starred" aria-label="Save to starred">☆</button>'
    )


def panel_html(summary: str, body: str) -> str:
    """The sources panel: one block that folds away (below the answer on a phone)."""
    return (
        f'<details class="src-panel" open><summary class="src-panel-head">{summary}</summary>'
        f"{body}</details>"
    )
