"""Typed results as HTML for the app: answers, source cards, papers, the status page.

Pure functions (no Gradio import), so they are cheap to test and the app module stays a
wiring diagram. Every piece of text that came from a paper, the model or the user is escaped:
abstracts, model output and questions are untrusted data, never markup.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from html import escape
from urllib.parse import urlparse

from assistant.export import support_marker
from assistant.models import (
    QUOTES_HEADING,
    Answer,
    AnswerTelemetry,
    Citation,
    Digest,
    DigestPaper,
    Evidence,
    Hit,
    Paper,
    SentenceCheck,
    Source,
)
from assistant.render.page import LISTED, shown_date, subtitle, theme_tag
from assistant.render.page import telemetry_line as digest_telemetry_line

_CITE = re.compile(r"\[(\d+)\]")

#: Column headers of the Library table, in order. ``id`` is hidden by the stylesheet: a row
#: click reads it from the row, so it stays right whatever order the table is shown in.
LIBRARY_COLUMNS = ["#", "score", "date", "title", "source", "id"]

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
_HASHED_SOURCE = re.compile(r"^(\d+)_[0-9a-f]{8,}\.\w+$")


def shorten(text: str, limit: int) -> str:
    """``text`` on one line, cut at a word boundary to at most ``limit`` characters."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    cut = flat[: limit - 1].rsplit(" ", 1)[0] or flat[: limit - 1]
    return cut + "…"


def clean_title(title: str) -> str:
    """A title as shown: whitespace runs (and leading/trailing spaces) collapsed."""
    return " ".join(title.split())


#: The "turn" of the digest on the Digests tab: its cards never clash with the chat's.
DIGEST_TURN = "digest"


def card_id(turn: int | str, number: int) -> str:
    """DOM id of the source card ``number`` of answer ``turn`` (what a citation links to)."""
    return f"src-{turn}-{number}"


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


def _links(urls: Sequence[str], abstract: str = "") -> str:
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


# --- chat -------------------------------------------------------------------------------------


def _with_citations(text: str, turn: int | str, *, links: bool = True) -> str:
    """Escaped text with each ``[n]`` turned into a chip (a link to its source card)."""

    def chip(m: re.Match[str]) -> str:
        n = m.group(1)
        if not links:
            return f'<span class="cite">{n}</span>'
        return f'<a class="cite" href="#{card_id(turn, int(n))}">{n}</a>'

    return _CITE.sub(chip, escape(text, quote=False))


def _paragraphs(html_text: str) -> str:
    """Line breaks kept without ever leaving the HTML block (Markdown must not see the text)."""
    return html_text.replace("\n", "<br>")


def user_html(question: str, searched: str | None = None) -> str:
    """The user's turn: their words escaped, and the rewritten question when it differs."""
    shown = question if len(question) <= BUBBLE_CHARS else question[:BUBBLE_CHARS] + "…"
    more = (
        f'<div class="dim">({len(question):,} characters; the first {BUBBLE_CHARS:,} shown)</div>'
        if len(question) > BUBBLE_CHARS
        else ""
    )
    out = f'<div class="user-q">{_paragraphs(escape(shown, quote=False))}</div>{more}'
    if searched and " ".join(searched.split()) != " ".join(question.split()):
        out += (
            '<div class="searched" title="The follow-up rewritten to stand alone: this is what '
            f'the sources were retrieved for">searched for: {escape(shorten(searched, 300))}</div>'
        )
    return out


def legend_html() -> str:
    """The one line that explains the marks in answers."""
    return (
        '<div class="legend"><a class="cite" href="#" tabindex="-1">1</a> opens its source · '
        '<span class="uncited">dashed underline</span>: cites no source · '
        '<span class="unsupported">⚠</span> not supported by the cited source · '
        '<span class="offq">◌</span> supported, but off the question</div>'
    )


def telemetry_line(t: AnswerTelemetry) -> str:
    """Model and timings of one answer, in one muted line."""
    parts = [f"{t.provider}:{t.model}" if t.model else t.provider]
    if t.ttft_s is not None:
        parts.append(f"first token {t.ttft_s:.1f} s")
    parts.append(f"total {t.total_s:.1f} s")
    if t.completion_tokens:
        rate = t.tokens_per_s or 0.0
        speed = f" at {rate:.0f} tok/s" if rate >= 10 else f" at {rate:.1f} tok/s" if rate else ""
        parts.append(f"{t.completion_tokens} tokens{speed}")
    parts.append(f"retrieval {t.retrieval_ms:.0f} ms")
    return " · ".join(escape(p) for p in parts if p)


_LIST_ITEM = re.compile(r"\d{1,2}[.)]\s")


_OFF_QUESTION = "Supported by the cited paper, but that paper covers no part of the question"


def checked_html(sentences: Sequence[SentenceCheck], turn: int | str) -> str:
    """Checked sentences with citation chips; unsupported ones flagged ⚠, uncited ones
    underlined (answers and digest paragraphs alike)."""
    parts: list[str] = []
    for s in sentences:
        if parts and _LIST_ITEM.match(s.text):
            parts.append("<br>")  # a list the model wrote stays a list
        text = _with_citations(s.text, turn)
        if s.note:
            parts.append(f'<span class="note">{text}</span>')
        elif s.problem:
            flag = escape(s.problem.capitalize())
            parts.append(f'<span class="unsupported" title="{flag}">{text} ⚠</span>')
        elif s.off_question:
            parts.append(f'<span class="offq" title="{_OFF_QUESTION}">{text} ◌</span>')
        elif s.supported is None:
            parts.append(
                f'<span class="uncited" title="This sentence cites no source">{text}</span>'
            )
        else:
            parts.append(text)
    return " ".join(parts)


def quotes_html(quotes: Sequence[SentenceCheck], turn: int | str) -> str:
    """The result sentences quoted from cited abstracts under an answer, marked as quotes."""
    if not quotes:
        return ""
    lines = "".join(f"<blockquote>{_with_citations(q.text, turn)}</blockquote>" for q in quotes)
    return (
        '<div class="quotes" title="Quoted from the cited abstracts by the assistant, not '
        f'written by the model"><div class="quotes-head">{escape(QUOTES_HEADING)}</div>'
        f"{lines}</div>"
    )


def answer_html(answer: Answer, turn: int) -> str:
    """The chat message of a finished answer: cited sentences, flags, notices, timings."""
    if answer.abstained or not answer.sentences:
        body = f'<p class="abstain">{escape(answer.answer)}</p>'
    else:
        body = f"<p>{checked_html(answer.prose, turn)}</p>" + quotes_html(answer.quotes, turn)
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


def streaming_html(text: str, turn: int = 0) -> str:
    """The chat message while the model writes: escaped, citations already chips, a cursor."""
    body = _paragraphs(_with_citations(text, turn))
    return f'<p class="streaming">{body}<span class="cursor">▍</span></p>'


def waiting_text(ahead: int) -> str:
    """Why nothing is written yet: the model is busy with others' answers or digests."""
    return f"waiting, {ahead} ahead: the model writes one answer or digest at a time."


def waiting_html(ahead: int) -> str:
    """The chat message of a question waiting for the model."""
    return (
        f'<p class="waiting"><span class="spinner"></span>{escape(waiting_text(ahead))} '
        "Press Stop to leave the line.</p>"
    )


def stopped_html(text: str) -> str:
    """What was written before the user pressed Stop, marked unchecked."""
    body = _paragraphs(_with_citations(text, 0, links=False)) if text.strip() else ""
    note = (
        "Stopped. The partial answer above was not checked against its sources."
        if body
        else "Stopped before the model wrote anything."
    )
    kept = f'<p class="stopped">{body}</p>' if body else ""
    return kept + f'<div class="notice">■ {note}</div>'


def error_html(message: str) -> str:
    """An error as a chat message a person can act on."""
    return f'<div class="notice error">⚠ {escape(message)}</div>'


# --- source cards -----------------------------------------------------------------------------


def _card(
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
    title = escape(clean_title(paper.title))
    if links:
        title = f'<a href="{escape(links[0])}" target="_blank" rel="noopener">{title}</a>'
    items = "".join(f"<li>{escape(s)}</li>" for s in lines)
    return (
        f'<article class="src-card {state}" id="{anchor}">'
        f'<div class="src-head"><span class="src-num">{number}</span>'
        f'<div class="src-title">{title}</div></div>'
        f'<div class="src-meta">{mark}'
        f"{' · ' + escape(date) if date else ''}{_links(links, paper.abstract)}</div>"
        f'<ul class="src-evidence">{items}</ul></article>'
    )


def _citation_card(c: Citation, turn: int) -> str:
    return _card(
        card_id(turn, c.number),
        c.number,
        c.paper,
        c.date,
        c.supported,
        c.evidence,
        on_question=c.on_question,
    )


def _uncited(sources: Sequence[Source]) -> str:
    if not sources:
        return ""
    items = "".join(
        f"<li><span>{escape(clean_title(s.title))}</span>"
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


def _panel(summary: str, body: str) -> str:
    """The sources panel: one block that folds away (below the answer on a phone)."""
    return (
        f'<details class="src-panel" open><summary class="src-panel-head">{summary}</summary>'
        f"{body}</details>"
    )


def sources_panel_html(answers: Sequence[Answer]) -> str:
    """The panel beside the chat: the latest answer's cards open, earlier ones folded."""
    if not answers:
        return _panel(
            "Sources",
            '<div class="src-empty"><p>Ask a question: the papers an answer cites appear here, '
            "each with the sentences the model was shown and whether they support the claim "
            "(<b>✓</b> supported, <b>⚠</b> check it).</p></div>",
        )
    latest = len(answers) - 1
    question = answers[latest].question
    blocks = [
        f'<section class="src-turn" id="turn-{latest}">'
        f'<div class="src-q" title="{escape(shorten(question, 600))}">'
        f"{escape(shorten(question, HEADING_CHARS))}</div>"
        f"{turn_sources_html(answers[latest], latest)}</section>"
    ]
    for turn in range(latest - 1, -1, -1):
        blocks.append(
            f'<details class="src-turn earlier" id="turn-{turn}"><summary>'
            f"{escape(shorten(answers[turn].question, HEADING_CHARS))}</summary>"
            f"{turn_sources_html(answers[turn], turn)}</details>"
        )
    return _panel(f"Sources · {len(answers[latest].citations)} cited", "".join(blocks))


def evidence_panel_html(
    evidence: Sequence[Evidence], turn: int, question: str, *, stopped: bool = False
) -> str:
    """The panel while the model writes: the numbered sources it was given, as cards; once
    the user stopped it, the same cards said to be what it was reading."""
    cards = "".join(
        f'<article class="src-card reading" id="{card_id(turn, ev.number)}">'
        f'<div class="src-head"><span class="src-num">{ev.number}</span>'
        f'<div class="src-title">{escape(clean_title(ev.paper.title))}</div></div>'
        f'<div class="src-meta">{escape(_date(ev.paper.published))}'
        f"{_links(ev.paper.links, ev.paper.abstract)}</div>"
        f'<ul class="src-evidence">{"".join(f"<li>{escape(s)}</li>" for s in ev.sentences)}'
        "</ul></article>"
        for ev in evidence
    )
    state = (
        "Stopped: the model was reading these sources; the answer was not finished, so "
        "nothing was checked against them."
        if stopped
        else "The model is reading these sources; they are checked and renumbered when the "
        "answer is done."
    )
    body = (
        f'<div class="src-q">{escape(shorten(question, HEADING_CHARS))}</div>'
        f'<p class="dim">{state}</p>' + (cards or '<p class="dim">No source found.</p>')
    )
    word = "stopped" if stopped else "reading"
    return _panel(f"Sources · {word} {len(evidence)}", body)


# --- library ----------------------------------------------------------------------------------


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


def _date(value: dt.date | None) -> str:
    return value.isoformat() if value else ""


def source_labels(papers: Iterable[Paper]) -> dict[str, str]:
    """A readable name for each source file: the date of the dump it holds.

    A page dump saved under a hashed name (``002_845fed19e190d690.txt``) is called by its
    number and the day most of its papers were published ("dump 002 · 2024-08-11"), or the
    span of its dates when no day dominates; a name a person chose is kept, with that date.
    """
    dates: dict[str, Counter[dt.date | None]] = defaultdict(Counter)
    for paper in papers:
        for name in paper.sources:
            dates[name][paper.published] += 1
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
                _date(h.paper.published),
                clean_title(h.paper.title),
                source(h.paper),
                h.paper.id,
            ]
            for h in hits
        ]
    return [
        [start + i, None, _date(p.published), clean_title(p.title), source(p), p.id]
        for i, p in enumerate(papers or [])
    ]


def copy_button(text: str, label: str = "copy id") -> str:
    """A small button that copies ``text`` to the clipboard (``ui/app.js`` does the copying)."""
    return (
        f'<button type="button" class="copy-btn" data-copy="{escape(text)}" '
        f'title="Copy {escape(text)}">{escape(label)}</button>'
    )


def paper_html(paper: Paper | None, labels: dict[str, str] | None = None) -> str:
    """One paper to read: title, date, authors, links, the whole abstract, where it came from."""
    if paper is None:
        return '<div class="paper-empty">Pick a paper in the table to read its abstract.</div>'
    labels = labels or {}
    authors = ", ".join(paper.authors[:8]) + (" et al." if len(paper.authors) > 8 else "")
    meta = [_date(paper.published) or "undated"]
    if paper.upvotes is not None:
        meta.append(f"▲ {paper.upvotes}")
    keywords = "".join(f'<span class="kw">{escape(k)}</span>' for k in paper.ai_keywords[:8])
    sources = ", ".join(labels.get(s, s) for s in paper.sources) or "—"
    return (
        f'<article class="paper"><h3>{escape(clean_title(paper.title))}</h3>'
        f'<div class="src-meta">{" · ".join(escape(m) for m in meta)}'
        f"{_links(paper.links, paper.abstract)}</div>"
        + (f'<div class="authors">{escape(authors)}</div>' if authors else "")
        + f'<p class="abstract">{escape(paper.abstract.strip())}</p>'
        + (f'<div class="kws">{keywords}</div>' if keywords else "")
        + f'<div class="dim paper-from">From {escape(sources)} {copy_button(paper.id)}</div>'
        "</article>"
    )


# --- status -----------------------------------------------------------------------------------


def banner_html(problems: Sequence[tuple[str, str, str]]) -> str:
    """A banner naming what is not usable and what to do; empty when all is well.

    ``problems`` are ``(what, detail, fix)``.
    """
    if not problems:
        return ""
    items = "".join(
        f"<li><b>{escape(what)}</b>: {escape(detail)}" + _fix(fix) + "</li>"
        for what, detail, fix in problems
    )
    return f'<div class="banner"><b>Not everything works yet.</b><ul>{items}</ul></div>'


def _fix(fix: str) -> str:
    if not fix:
        return ""
    return f'<div class="fix">To fix: <code>{escape(fix)}</code> {copy_button(fix, "copy")}</div>'


def speed_text(samples: Sequence[AnswerTelemetry]) -> str:
    """The model's speed on this machine, from the answers (or measurements) so far."""
    rates = sorted(t.tokens_per_s for t in samples if t.tokens_per_s)
    if not rates:
        return "not measured yet: ask a question, or press “Measure speed”"
    firsts = sorted(t.ttft_s for t in samples if t.ttft_s is not None)
    text = f"{rates[len(rates) // 2]:.1f} tokens/s"
    if firsts:
        text += f", first token after {firsts[len(firsts) // 2]:.1f} s"
    n = len(samples)
    return text + f" (median of {n} run{'s' if n > 1 else ''} since the app started)"


def status_html(
    rows: Sequence[tuple[str, str]], checks: Sequence[tuple[str, bool, str, str]]
) -> str:
    """The Status tab: facts about the setup, then one line per health check with its fix."""
    facts = "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in rows)
    lines = "".join(
        f'<tr class="{"ok" if ok else "bad"}"><td class="mark">{"✓" if ok else "✗"}</td>'
        f"<th>{escape(name)}</th><td>{escape(detail)}" + ("" if ok else _fix(fix)) + "</td></tr>"
        for name, ok, detail, fix in checks
    )
    return (
        f'<div class="status"><table class="facts">{facts}</table>'
        f'<h4>Health checks</h4><table class="checks">{lines}</table></div>'
    )


def week_label(week: str, papers: int, themes: int, new_themes: Sequence[str]) -> str:
    """How a saved weekly summary is listed: '2024-W32 · 84 papers · 5 themes (1 new)'."""
    new = f" ({len(new_themes)} new)" if new_themes else ""
    return f"{week} · {papers} papers · {themes} themes{new}"


# --- digests ----------------------------------------------------------------------------------


def digest_support(digest: Digest) -> dict[int, bool]:
    """Per cited paper number: whether every generated sentence citing it is supported by it."""
    support: dict[int, bool] = {}
    sentences = [*digest.overview_sentences, *(s for t in digest.themes for s in t.sentences)]
    for s in sentences:
        for n in s.citations:
            support[n] = support.get(n, True) and n in s.supported_by
    return support


def digest_view_html(digest: Digest | None) -> str:
    """A digest in the app, read like an answer: the overview and theme paragraphs with the
    chat's citation chips and support flags, each theme's papers as chips; the source cards
    are ``digest_sources_html``. (The downloadable page is ``render.page``'s.)"""
    if digest is None:
        return (
            '<div class="paper-empty">Type a topic for a themed, cited digest, or open a saved '
            "weekly summary.</div>"
        )
    turn = DIGEST_TURN
    out = [
        f'<div class="digest-view"><h2 class="dg-title">{escape(digest.title)}</h2>',
        f'<div class="dim">{escape(subtitle(digest))}</div>',
    ]
    if not digest.covered:
        out.append(f'<p class="abstain">{escape(digest.overview)}</p>')
    else:
        overview = checked_html(digest.overview_sentences, turn) or _with_citations(
            digest.overview, turn
        )
        out.append(f'<p class="dg-overview">{overview}</p>')
    out += [f'<div class="notice">ℹ {escape(n)}</div>' for n in digest.notices]
    for theme in digest.themes:
        out.append(f'<h3 class="dg-theme">{theme.number}. {escape(theme.name)}')
        if theme.new:
            out.append(f' <span class="mark ok">{escape(theme_tag(theme).strip(" —"))}</span>')
        out.append("</h3>")
        if theme.sentences:
            out.append(f"<p>{checked_html(theme.sentences, turn)}</p>")
        elif theme.paragraph:
            out.append(f"<p>{_with_citations(theme.paragraph, turn)}</p>")
        papers = [
            f'<li><a class="cite" href="#{card_id(turn, p.number)}">{p.number}</a> '
            f"{escape(shorten(clean_title(p.title), 110))}</li>"
            for p in theme.papers
        ]
        out.append(f'<ul class="dg-papers">{"".join(papers[:LISTED])}</ul>')
        if len(papers) > LISTED:  # a long theme folds, as on the saved page
            out.append(
                f"<details><summary>{len(papers) - LISTED} more</summary>"
                f'<ul class="dg-papers">{"".join(papers[LISTED:])}</ul></details>'
            )
    out.append(f'<div class="answer-meta">{escape(digest_telemetry_line(digest))}</div></div>')
    return "".join(out)


def _digest_card(paper: DigestPaper, supported: bool | None) -> str:
    lines = [paper.contribution] if paper.contribution else []
    return _card(
        card_id(DIGEST_TURN, paper.number),
        paper.number,
        paper.paper,
        shown_date(paper),
        supported,
        lines,
    )


def digest_sources_html(digest: Digest | None) -> str:
    """The digest's papers as source cards beside it: the cited ones first, then the listed."""
    if digest is None or not digest.citations:
        return _panel("Papers", '<p class="dim">The papers of a digest show here.</p>')
    support = digest_support(digest)
    cited = [p for p in digest.citations if p.number in support]
    listed = [p for p in digest.citations if p.number not in support]
    body = "".join(_digest_card(p, support[p.number]) for p in cited)
    if listed and not cited:  # a page written without the model: its papers are the content
        body = "".join(_digest_card(p, None) for p in listed)
    elif listed:
        cards = "".join(_digest_card(p, None) for p in listed)
        body += (
            f'<details class="src-uncited"><summary>Listed, not cited ({len(listed)})</summary>'
            f"{cards}</details>"
        )
    return _panel(f"Papers ({len(cited)} cited of {len(digest.citations)})", body)
