"""Typed results as HTML for the app: answers, source cards, papers, the status page.

Pure functions (no Gradio import), so they are cheap to test and the app module stays a
wiring diagram. Every piece of text that came from a paper or the model is escaped: abstracts
and model output are untrusted data, never markup.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from html import escape
from urllib.parse import urlparse

from assistant.export import support_marker
from assistant.models import Answer, AnswerTelemetry, Citation, Hit, Paper, Source

_CITE = re.compile(r"\[(\d+)\]")

#: Column headers of the Library table, in order (``id`` is what a row click opens).
LIBRARY_COLUMNS = ["date", "title", "id", "score"]


def card_id(turn: int, number: int) -> str:
    """DOM id of the source card ``number`` of answer ``turn`` (what a citation links to)."""
    return f"src-{turn}-{number}"


def link_label(url: str) -> str:
    """A short name for a paper link: arXiv, HF, code, or the site's domain."""
    host = urlparse(url).netloc.lower().removeprefix("www.")
    if host.endswith("arxiv.org"):
        return "arXiv"
    if host.endswith("huggingface.co"):
        return "HF"
    if host in ("github.com", "gitlab.com"):
        return "code"
    return host or url


def _links(urls: Sequence[str]) -> str:
    seen: list[str] = []
    out = []
    for url in urls:
        label = link_label(url)
        if not url.startswith(("http://", "https://")) or label in seen:
            continue
        seen.append(label)
        out.append(f'<a href="{escape(url)}" target="_blank" rel="noopener">{escape(label)}</a>')
    return f'<span class="links">{"".join(out)}</span>' if out else ""


def _with_citations(text: str, turn: int) -> str:
    """Escaped sentence text with each ``[n]`` turned into a link to its source card."""
    return _CITE.sub(
        lambda m: f'<a class="cite" href="#{card_id(turn, int(m.group(1)))}">{m.group(1)}</a>',
        escape(text, quote=False),
    )


def telemetry_line(t: AnswerTelemetry) -> str:
    """Model and timings of one answer, in one muted line."""
    parts = [f"{t.provider}:{t.model}" if t.model else t.provider]
    if t.ttft_s is not None:
        parts.append(f"first token {t.ttft_s:.1f} s")
    parts.append(f"total {t.total_s:.1f} s")
    if t.completion_tokens:
        speed = f" at {t.tokens_per_s:.0f} tok/s" if t.tokens_per_s else ""
        parts.append(f"{t.completion_tokens} tokens{speed}")
    parts.append(f"retrieval {t.retrieval_ms:.0f} ms")
    return " · ".join(escape(p) for p in parts if p)


def answer_html(answer: Answer, turn: int) -> str:
    """The chat message of a finished answer: cited sentences, flags, notices, timings."""
    if answer.abstained or not answer.sentences:
        body = f'<p class="abstain">{escape(answer.answer)}</p>'
    else:
        parts = []
        for s in answer.sentences:
            text = _with_citations(s.text, turn)
            if s.supported is False:
                parts.append(
                    '<span class="unsupported" title="Not supported by the cited source">'
                    f"{text} ⚠</span>"
                )
            elif s.supported is None:
                parts.append(
                    f'<span class="uncited" title="This sentence cites no source">{text}</span>'
                )
            else:
                parts.append(text)
        body = f"<p>{' '.join(parts)}</p>"
    extra = [f'<div class="notice">ℹ {escape(n)}</div>' for n in answer.notices]
    if answer.unsupported:
        n = answer.unsupported
        extra.append(
            f'<div class="notice warn">⚠ {n} sentence{"s" if n > 1 else ""} not supported by '
            "the sources they cite: check before you quote.</div>"
        )
    if not answer.abstained and answer.sentences and not answer.citations:
        extra.append(
            '<div class="notice warn">The model cited no source for this answer: check it '
            "against the retrieved papers beside the chat.</div>"
        )
    if answer.invalid_citations:
        extra.append(
            f'<div class="notice">{answer.invalid_citations} citation(s) to sources that were '
            "never given were removed.</div>"
        )
    meta = f'<div class="answer-meta">{telemetry_line(answer.telemetry)}</div>'
    return body + "".join(extra) + meta


def streaming_html(text: str) -> str:
    """The chat message while the model writes (escaped, with a cursor)."""
    return f'<p class="streaming">{escape(text, quote=False)}<span class="cursor">▍</span></p>'


def error_html(message: str) -> str:
    """An error as a chat message a person can act on."""
    return f'<div class="notice error">⚠ {escape(message)}</div>'


def _citation_card(c: Citation, turn: int) -> str:
    mark = support_marker(c.supported)
    state = "ok" if c.supported else "warn"
    label = "supported" if c.supported else "check: weakly supported"
    title_link = c.links[0] if c.links else ""
    title = escape(c.title)
    if title_link:
        title = f'<a href="{escape(title_link)}" target="_blank" rel="noopener">{title}</a>'
    evidence = "".join(f"<li>{escape(s)}</li>" for s in c.evidence)
    return (
        f'<article class="src-card {state}" id="{card_id(turn, c.number)}">'
        f'<div class="src-head"><span class="src-num">{c.number}</span>'
        f'<div class="src-title">{title}</div></div>'
        f'<div class="src-meta"><span class="mark {state}" title="{label}">{mark} {label}</span>'
        f"{' · ' + escape(c.date) if c.date else ''}{_links(c.links)}</div>"
        f'<ul class="src-evidence">{evidence}</ul></article>'
    )


def _uncited(sources: Sequence[Source]) -> str:
    if not sources:
        return ""
    items = "".join(
        f"<li><span>{escape(s.title)}</span>"
        f'<span class="dim">{escape(s.date or "")} · sim {s.similarity:.2f}</span></li>'
        for s in sources
    )
    return (
        f'<details class="src-uncited"><summary>Also retrieved, not cited ({len(sources)})'
        f"</summary><ul>{items}</ul></details>"
    )


def turn_sources_html(answer: Answer, turn: int) -> str:
    """The source cards of one answer, cited first, then what was retrieved but not cited."""
    cards = "".join(_citation_card(c, turn) for c in answer.citations)
    if not cards:
        cards = '<p class="dim">No source was cited.</p>'
    return cards + _uncited(answer.uncited_sources)


def sources_panel_html(answers: Sequence[Answer]) -> str:
    """The panel beside the chat: the latest answer's cards open, earlier ones folded."""
    if not answers:
        return (
            '<div class="src-empty"><div class="src-empty-title">Sources</div>'
            "<p>Ask a question: the papers an answer cites appear here, each with the "
            "sentences the model was shown and whether they support the claim "
            "(<b>✓</b> supported, <b>⚠</b> check it).</p></div>"
        )
    latest = len(answers) - 1
    blocks = [
        f'<section class="src-turn" id="turn-{latest}">'
        f'<div class="src-q">Sources · {escape(answers[latest].question)}</div>'
        f"{turn_sources_html(answers[latest], latest)}</section>"
    ]
    for turn in range(latest - 1, -1, -1):
        blocks.append(
            f'<details class="src-turn earlier" id="turn-{turn}"><summary>'
            f"{escape(answers[turn].question)}</summary>"
            f"{turn_sources_html(answers[turn], turn)}</details>"
        )
    return "".join(blocks)


def library_rows(papers: Sequence[Paper] | None = None, hits: Sequence[Hit] | None = None) -> list:
    """Table rows for the Library tab: browsed papers (no score) or search hits (scored)."""
    if hits is not None:
        return [
            [
                h.paper.published.isoformat() if h.paper.published else "",
                h.paper.title,
                h.paper.id,
                round(h.similarity, 3),
            ]
            for h in hits
        ]
    return [
        [p.published.isoformat() if p.published else "", p.title, p.id, None] for p in papers or []
    ]


def paper_html(paper: Paper | None) -> str:
    """One paper to read: title, date, authors, links, the whole abstract."""
    if paper is None:
        return '<div class="paper-empty">Pick a paper in the table to read its abstract.</div>'
    authors = ", ".join(paper.authors[:8]) + (" et al." if len(paper.authors) > 8 else "")
    meta = [paper.published.isoformat() if paper.published else "undated", paper.id]
    if paper.upvotes is not None:
        meta.append(f"▲ {paper.upvotes}")
    links = paper.links
    keywords = "".join(f'<span class="kw">{escape(k)}</span>' for k in paper.ai_keywords[:8])
    return (
        f'<article class="paper"><h3>{escape(paper.title)}</h3>'
        f'<div class="src-meta">{" · ".join(escape(m) for m in meta)}{_links(links)}</div>'
        + (f'<div class="authors">{escape(authors)}</div>' if authors else "")
        + f'<p class="abstract">{escape(paper.abstract)}</p>'
        + (f'<div class="kws">{keywords}</div>' if keywords else "")
        + f'<div class="dim">From: {escape(", ".join(paper.sources))}</div></article>'
    )


def banner_html(problems: Sequence[tuple[str, str, str]]) -> str:
    """A banner naming what is not usable and what to do; empty when all is well.

    ``problems`` are ``(what, detail, fix)``.
    """
    if not problems:
        return ""
    items = "".join(
        f"<li><b>{escape(what)}</b>: {escape(detail)}"
        + (f'<div class="fix">What to do: <code>{escape(fix)}</code></div>' if fix else "")
        + "</li>"
        for what, detail, fix in problems
    )
    return f'<div class="banner"><b>Not everything works yet.</b><ul>{items}</ul></div>'


def status_html(
    rows: Sequence[tuple[str, str]], checks: Sequence[tuple[str, bool, str, str]]
) -> str:
    """The Status tab: facts about the setup, then one line per health check."""
    facts = "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in rows)
    lines = "".join(
        f'<tr class="{"ok" if ok else "bad"}"><td class="mark">{"✓" if ok else "✗"}</td>'
        f"<th>{escape(name)}</th><td>{escape(detail)}"
        + (f'<div class="fix">What to do: <code>{escape(fix)}</code></div>' if fix else "")
        + "</td></tr>"
        for name, ok, detail, fix in checks
    )
    return (
        f'<div class="status"><table class="facts">{facts}</table>'
        f'<h4>Health checks</h4><table class="checks">{lines}</table></div>'
    )
