"""The Status tab and the banner: checks, fixes, speed."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from assistant.models import (
    AnswerTelemetry,
)
from assistant.ui.render.common import copy_button


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
