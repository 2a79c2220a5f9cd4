"""The Digests tab: a digest (or saved week) and its cited papers as cards."""

from __future__ import annotations

from html import escape

from assistant.catalog import shown_title
from assistant.models import (
    Digest,
    DigestPaper,
)
from assistant.models.interests import ForYou
from assistant.render.compare import comparison_html, disagreements_html, left_out_note
from assistant.render.page import (
    LISTED,
    near_note,
    page_comparison,
    page_dates,
    shown_date,
    split_near,
    subtitle,
    theme_tag,
)
from assistant.render.page import telemetry_line as digest_telemetry_line
from assistant.ui.render.chat import checked_html
from assistant.ui.render.common import (
    DIGEST_TURN,
    card_html,
    card_id,
    card_ref,
    panel_html,
    shorten,
    with_citations,
)
from assistant.ui.render.for_you import ranking_html


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
        overview = checked_html(digest.overview_sentences, turn) or with_citations(
            digest.overview, turn
        )
        out.append(f'<p class="dg-overview">{overview}</p>')
    out += [f'<div class="notice">ℹ {escape(n)}</div>' for n in digest.notices]
    if digest.for_you:
        out.append(f'<h3 class="dg-theme">For you: {escape(digest.interest or "")}</h3>')
        out.append(
            ranking_html(
                ForYou(
                    interest=digest.interest or "",
                    ranker="combined",
                    scope=digest.title,
                    candidates=digest.week.papers if digest.week else len(digest.for_you),
                    papers=digest.for_you,
                )
            )
        )
    for theme in digest.themes:
        out.append(f'<h3 class="dg-theme">{theme.number}. {escape(theme.name)}')
        if theme.new:
            out.append(f' <span class="mark ok">{escape(theme_tag(theme).strip(" —"))}</span>')
        out.append("</h3>")
        if theme.near:
            out.append(f'<p class="dg-near">{escape(near_note(theme.near))}</p>')
        if theme.sentences:
            out.append(f"<p>{checked_html(theme.sentences, turn)}</p>")
        elif theme.paragraph:
            out.append(f"<p>{with_citations(theme.paragraph, turn)}</p>")
        papers = [
            f'<li><a class="cite" href="#{card_id(turn, p.number)}">{p.number}</a> '
            f"{escape(shorten(shown_title(p.title), 110))}</li>"
            for p in theme.papers
        ]
        out.append(f'<ul class="dg-papers">{"".join(papers[:LISTED])}</ul>')
        if len(papers) > LISTED:  # a long theme folds, as on the saved page
            out.append(
                f"<details><summary>{len(papers) - LISTED} more</summary>"
                f'<ul class="dg-papers">{"".join(papers[LISTED:])}</ul></details>'
            )
    if digest.disagreements:
        out.append('<h3 class="dg-theme">Where the papers disagree</h3>')
        out.append(disagreements_html(digest.disagreements, ref=card_ref(turn)))
    if digest.covered and digest.citations:
        table, dates = page_comparison(digest), page_dates(digest)
        near = {c.paper_id for c in split_near(digest)[1]}
        on_topic = [r for r in table.rows if r.paper.id not in near]
        around = [r for r in table.rows if r.paper.id in near]
        out.append(
            '<h3 class="dg-theme">The papers side by side</h3><p class="dim">Every cell is '
            "copied from the paper's abstract; click a column to sort.</p>"
        )
        for n, rows in enumerate((on_topic, around)):
            if not rows:
                continue
            grid = comparison_html(table, rows, dates, ref=card_ref(turn))
            grid = f'<div class="compare-wrap">{grid}</div>'
            if n == 1 or not on_topic:  # the topic's own papers first; the near ones fold
                summary = f"Near the topic, not on it ({len(rows)})"
                grid = f"<details><summary>{summary}</summary>{grid}</details>"
            out.append(grid)
        if left := left_out_note(table):
            out.append(f'<p class="dim">{escape(left)}</p>')
    out.append(f'<div class="answer-meta">{escape(digest_telemetry_line(digest))}</div></div>')
    return "".join(out)


def _digest_card(paper: DigestPaper, supported: bool | None) -> str:
    lines = [paper.contribution] if paper.contribution else []
    return card_html(
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
        return panel_html("Papers", '<p class="dim">The papers of a digest show here.</p>')
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
    return panel_html(f"Papers ({len(cited)} cited of {len(digest.citations)})", body)
