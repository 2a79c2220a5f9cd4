"""The For you tab: papers ranked for an interest (or like a paper), each with why."""

from __future__ import annotations

from html import escape

from assistant.catalog import shown_title
from assistant.models.interests import ForYou, Recommendation
from assistant.ui.render.common import copy_button, links_html


def _why_html(r: Recommendation) -> str:
    """The why line: the phrase and its verbatim sentence (quoted), or the seed."""
    if r.because == "phrase" and r.sentence:
        lead = (
            f"matches “{escape(r.matched)}”:"
            if r.strong
            else f"no sentence says “{escape(r.matched)}”; the closest:"
        )
        return f'{lead} <q class="why-quote">{escape(" ".join(r.sentence.split()))}</q>'
    return escape(r.why)


def _row(r: Recommendation) -> str:
    paper = r.paper
    title = escape(shown_title(paper.title))
    if paper.links:
        title = f'<a href="{escape(paper.links[0])}" target="_blank" rel="noopener">{title}</a>'
    return (
        f'<li class="fy-item" value="{r.rank}"><div class="fy-title">{title}</div>'
        f'<div class="src-meta">{escape(paper.date_label)} · score {r.score:.2f}'
        f"{links_html(paper.links, paper.abstract)} {copy_button(paper.id)}</div>"
        f'<div class="fy-why">{_why_html(r)}</div></li>'
    )


def ranking_html(result: ForYou | None, empty: str = "") -> str:
    """A ranking as a numbered list of papers, each with its why line."""
    if result is None:
        return f'<div class="paper-empty">{escape(empty or "Pick an interest and rank.")}</div>'
    head = (
        f'<div class="fy-head"><strong>{escape(result.interest)}</strong> · '
        f"{escape(result.scope)} · {result.candidates:,} papers ranked</div>"
    )
    notes = "".join(f'<div class="notice">ℹ {escape(n)}</div>' for n in result.notices)
    if not result.papers:
        return head + notes + '<div class="paper-empty">No papers in that scope.</div>'
    strong, weaker = result.strong, result.weaker
    out = [f'<div class="for-you">{head}{notes}']
    if strong:
        out.append(f'<ol class="fy-list">{"".join(_row(r) for r in strong)}</ol>')
    else:
        out.append('<div class="notice">No paper says what this interest asks for.</div>')
    if weaker:  # ranked only because nothing closer was left: folded, never mixed in
        label = f"{len(weaker)} weaker match{'es' if len(weaker) > 1 else ''}"
        out.append(
            f'<details class="fy-weaker" {"" if strong else "open"}><summary>{label}</summary>'
            f'<ol class="fy-list">{"".join(_row(r) for r in weaker)}</ol></details>'
        )
    out.append("</div>")
    return "".join(out)
