"""A comparison table and a list of disagreements as Markdown, HTML and CSV.

One grid (``grid``) holds what every format shows: the row number, title, optional date and
the comparison's columns. Every text from an abstract is escaped in HTML; a code link is a
link only when it is http(s). Pure functions: nothing is written here.
"""

from __future__ import annotations

import csv
import html
import io
import re
from collections.abc import Mapping, Sequence

from assistant.models.compare import (
    NO_CODE,
    NOT_STATED,
    Comparison,
    ComparisonRow,
    Disagreement,
)

CODE = "Code"
TABLE_FORMATS = ("markdown", "html", "csv", "json")


def grid(
    comparison: Comparison,
    rows: Sequence[ComparisonRow] | None = None,
    dates: Mapping[str, str] | None = None,
) -> tuple[list[str], list[list[str]]]:
    """Header and cells of the table (``rows``: a subset, default all; ``dates``: a Date
    column by paper id). The Code column holds the URL, or what the row's cell says."""
    rows = comparison.rows if rows is None else rows
    header = ["#", "Title", *(["Date"] if dates is not None else []), *comparison.columns]
    body = []
    for i, row in enumerate(rows, start=1):
        lead = [str(row.number if row.number is not None else i), plain_tex(row.paper.title)]
        if dates is not None:
            lead.append(dates.get(row.paper.id, ""))
        body.append(lead + [plain_tex(row.cells[c]) for c in comparison.columns])
    return header, body


#: TeX escapes abstracts carry ("91\\%"): shown as the character they stand for.
_TEX_ESCAPE = re.compile(r"\\([%&_#$])")


def plain_tex(text: str) -> str:
    """``text`` with TeX's escaped characters unescaped: "91\\%" reads "91%"."""
    return " ".join(_TEX_ESCAPE.sub(r"\1", text).split())


def _md(text: str) -> str:
    return text.replace("|", "\\|")


def comparison_markdown(
    comparison: Comparison,
    rows: Sequence[ComparisonRow] | None = None,
    dates: Mapping[str, str] | None = None,
) -> str:
    """The table as a Markdown pipe table (a code URL as a "code" link)."""
    header, body = grid(comparison, rows, dates)
    code = header.index(CODE) if CODE in header else -1
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for cells in body:
        shown = [
            (f"[code]({c})" if c.startswith("http") else "—") if i == code else _md(c)
            for i, c in enumerate(cells)
        ]
        lines.append("| " + " | ".join(shown) + " |")
    return "\n".join(lines) + "\n"


def comparison_html(
    comparison: Comparison,
    rows: Sequence[ComparisonRow] | None = None,
    dates: Mapping[str, str] | None = None,
    *,
    ref: str = "#ref-{n}",
) -> str:
    """The table as an HTML ``<table class="compare">`` (numbers link to ``ref``; a cell the
    abstract did not fill is dimmed). Sortable where a script reads ``data-sort``."""
    header, body = grid(comparison, rows, dates)
    code = header.index(CODE) if CODE in header else -1
    head = "".join(f'<th data-sort="{i}">{html.escape(h)}</th>' for i, h in enumerate(header))
    out = []
    for cells in body:
        tds = []
        for i, c in enumerate(cells):
            if i == 0:
                tds.append(
                    f'<td><a href="{html.escape(ref.format(n=c))}">{html.escape(c)}</a></td>'
                )
            elif i == code and re.match(r"^https?://", c, re.I):
                tds.append(f'<td><a href="{html.escape(c, quote=True)}">code</a></td>')
            elif c == NO_CODE:
                tds.append(f'<td class="dim" title="{NO_CODE}">—</td>')
            elif c == NOT_STATED:
                tds.append(f'<td class="dim">{html.escape(c)}</td>')
            else:
                tds.append(f"<td>{html.escape(c)}</td>")
        out.append(f"<tr>{''.join(tds)}</tr>")
    return (
        f'<table class="compare"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(out)}</tbody></table>"
    )


def comparison_csv(comparison: Comparison, dates: Mapping[str, str] | None = None) -> str:
    """The table as CSV (RFC 4180, a header row, then one row per paper; the paper's id
    after its title; a cell that starts like a formula is made inert)."""
    header, body = grid(comparison, None, dates)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([header[0], header[1], "Id", *header[2:]])
    for row, cells in zip(comparison.rows, body, strict=True):
        writer.writerow([_inert(c) for c in [cells[0], cells[1], row.paper.id, *cells[2:]]])
    return buffer.getvalue()


def _inert(cell: str) -> str:
    """A cell a spreadsheet will not run: text from an abstract that starts like a formula
    ("=HYPERLINK(...)") gets a leading apostrophe (OWASP's CSV injection advice)."""
    return "'" + cell if cell[:1] in ("=", "+", "-", "@", "\t", "\r") else cell


def left_out_note(comparison: Comparison) -> str:
    """What the table leaves out and why ("" when every column is shown)."""
    if not comparison.left_out:
        return ""
    return f"Not shown, no paper's abstract states it: {', '.join(comparison.left_out)}."


def render_comparison(comparison: Comparison, fmt: str) -> str:
    """The table in ``fmt``: markdown, html (a fragment), csv or json."""
    if fmt == "json":
        return comparison.model_dump_json(indent=2) + "\n"
    if fmt == "csv":
        return comparison_csv(comparison)
    if fmt == "html":
        return comparison_html(comparison) + "\n"
    if fmt == "markdown":
        left = left_out_note(comparison)
        return comparison_markdown(comparison) + (f"\n*{left}*\n" if left else "")
    raise ValueError(f"unknown table format {fmt!r}; use one of {', '.join(TABLE_FORMATS)}")


# --- disagreements -------------------------------------------------------------------------------


def _chip(n: int | None) -> str:
    return f" [{n}]" if n is not None else ""


def disagreements_markdown(found: Sequence[Disagreement]) -> str:
    """Each disagreement: the tension in a line, then the two sentences quoted with their
    citations."""
    lines: list[str] = []
    for d in found:
        lines += [
            f"- **{_md(d.tension)}**",
            f"  - “{plain_tex(d.a.sentence)}”{_chip(d.a.number)} — {d.a.paper.title}",
            f"  - “{plain_tex(d.b.sentence)}”{_chip(d.b.number)} — {d.b.paper.title}",
        ]
    return "\n".join(lines) + ("\n" if lines else "")


def disagreements_html(found: Sequence[Disagreement], *, ref: str = "#ref-{n}") -> str:
    """Each disagreement as the two sentences side by side under its one-line tension."""
    items = []
    for d in found:
        sides = []
        for side in (d.a, d.b):
            chip = (
                f' <a class="cite" href="{html.escape(ref.format(n=side.number))}">'
                f"[{side.number}]</a>"
                if side.number is not None
                else ""
            )
            sides.append(
                f'<blockquote class="side">“{html.escape(plain_tex(side.sentence))}”{chip}'
                f'<div class="meta">{html.escape(side.paper.title)}</div></blockquote>'
            )
        items.append(
            f'<div class="disagreement"><p><strong>{html.escape(d.tension)}</strong></p>'
            f'<div class="sides">{"".join(sides)}</div></div>'
        )
    return "".join(items)
