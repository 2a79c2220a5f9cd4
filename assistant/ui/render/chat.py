"""The chat: questions, checked answers with their marks, and the sources panel."""

from __future__ import annotations

import re
from collections.abc import Sequence
from html import escape

from assistant.catalog import shown_title
from assistant.models import (
    QUOTES_HEADING,
    Answer,
    AnswerTelemetry,
    Citation,
    Evidence,
    SentenceCheck,
    Source,
)
from assistant.render.compare import comparison_html
from assistant.ui.render.common import (
    BUBBLE_CHARS,
    HEADING_CHARS,
    card_html,
    card_id,
    card_ref,
    date_text,
    links_html,
    panel_html,
    paragraphs,
    shorten,
    with_citations,
)


def user_html(question: str, searched: str | None = None) -> str:
    """The user's turn: their words escaped, and the rewritten question when it differs."""
    shown = question if len(question) <= BUBBLE_CHARS else question[:BUBBLE_CHARS] + "…"
    more = (
        f'<div class="dim">({len(question):,} characters; the first {BUBBLE_CHARS:,} shown)</div>'
        if len(question) > BUBBLE_CHARS
        else ""
    )
    out = f'<div class="user-q">{paragraphs(escape(shown, quote=False))}</div>{more}'
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
    listed = False
    for s in sentences:
        item = bool(_LIST_ITEM.match(s.text))
        if parts and (item or listed):
            # A list the model wrote stays a list, and the prose after it leaves its last item.
            parts.append("<br>")
        listed = item
        text = with_citations(s.text, turn)
        if s.note:
            parts.append(f'<span class="note">{text}</span>')
        elif s.problem:
            flag = escape(s.problem.capitalize())
            parts.append(f'<span class="unsupported" title="{flag}">{text} ⚠</span>')
        elif s.off_question:
            parts.append(f'<span class="offq" title="{_OFF_QUESTION}">{text} ◌</span>')
        elif s.supported is None and s.claims:
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
    lines = "".join(f"<blockquote>{with_citations(q.text, turn)}</blockquote>" for q in quotes)
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
    if answer.comparison is not None:
        extra.append(
            '<div class="compare-wrap">'
            f"{comparison_html(answer.comparison, ref=card_ref(turn))}</div>"
        )
    meta = f'<div class="answer-meta">{telemetry_line(answer.telemetry)}</div>'
    return body + "".join(extra) + meta


def streaming_html(text: str, turn: int = 0) -> str:
    """The chat message while the model writes: escaped, citations already chips, a cursor."""
    body = paragraphs(with_citations(text, turn))
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
    body = paragraphs(with_citations(text, 0, links=False)) if text.strip() else ""
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


def _citation_card(c: Citation, turn: int) -> str:
    return card_html(
        card_id(turn, c.number),
        c.number,
        c.paper,
        c.date,
        c.supported,
        c.evidence,
        on_question=c.on_question,
    )


def _uncited(sources: Sequence[Source], shown: bool = False) -> str:
    """What was retrieved but not cited, folded; ``shown`` open (an answer that cites nothing:
    its notice says "the closest papers are listed instead", and they were folded away)."""
    if not sources:
        return ""
    items = "".join(
        f"<li><span>{escape(shown_title(s.title))}</span>"
        f'<span class="dim">{escape(s.date or "")} · sim {s.similarity:.2f}</span></li>'
        for s in sources
    )
    label = "The closest papers" if shown else "Also retrieved, not cited"
    return (
        f'<details class="src-uncited"{" open" if shown else ""}><summary>{label} '
        f"({len(sources)})</summary><ul>{items}</ul></details>"
    )


def turn_sources_html(answer: Answer, turn: int) -> str:
    """The source cards of one answer, cited first, then what was retrieved but not cited."""
    cards = "".join(_citation_card(c, turn) for c in answer.citations)
    if not cards:
        cards = '<p class="dim">No source was cited.</p>'
    return cards + _uncited(answer.uncited_sources, shown=not answer.citations)


def sources_panel_html(answers: Sequence[Answer]) -> str:
    """The panel beside the chat: the latest answer's cards open, earlier ones folded."""
    if not answers:
        return panel_html(
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
    return panel_html(f"Sources · {len(answers[latest].citations)} cited", "".join(blocks))


def evidence_panel_html(
    evidence: Sequence[Evidence], turn: int, question: str, *, stopped: bool = False
) -> str:
    """The panel while the model writes: the numbered sources it was given, as cards; once
    the user stopped it, the same cards said to be what it was reading."""
    cards = "".join(
        f'<article class="src-card reading" id="{card_id(turn, ev.number)}">'
        f'<div class="src-head"><span class="src-num">{ev.number}</span>'
        f'<div class="src-title">{escape(shown_title(ev.paper.title))}</div></div>'
        f'<div class="src-meta">{escape(date_text(ev.paper.published))}'
        f"{links_html(ev.paper.links, ev.paper.abstract)}</div>"
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
    return panel_html(f"Sources · {word} {len(evidence)}", body)
