"""Table and disagreement cases: the comparison table's cells and the disagreement detector,
scored against labels written from the abstracts.

- ``table`` cases: the paper's row of ``compare.compare``. Scored: whether an abstract that
  states a result got a result cell (and one that states none did not), whether the cell
  holds a figure of the labelled headline result, and whether every figure of every cell
  occurs in the abstract.
- ``disagreement`` cases: ``disagree.disagreements`` of the two papers alone. Scored as a
  classifier: a flagged near miss is a false positive, an unflagged conflict a miss.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, Field

from assistant.compare import RESULT, compare, figures_stated
from assistant.disagree import disagreements
from assistant.evals.metrics import DigestTable, percentile, ratio
from assistant.evals.suite import PairSpec, ResultSpec
from assistant.models import Digest, Paper
from assistant.models.compare import Cell, ComparisonRow
from assistant.prose import figures
from assistant.settings import Settings
from assistant.text import split_sentences


class TableScore(BaseModel):
    """One paper's comparison row against its label."""

    states_result: bool = Field(description="The label: the abstract states a result.")
    filled: bool = Field(description="The row got a result cell.")
    result: str = Field(description="What the result cell says.")
    figure_wanted: bool = Field(description="The labelled headline result has a figure.")
    figure_found: bool = Field(description="The cell holds one of the labelled figures.")
    cells_with_figures: int = 0
    figures_in_abstract: int = Field(0, description="Of those, cells whose figures all occur.")
    seconds: float = 0.0


class PairScore(BaseModel):
    """The detector on one labelled pair."""

    conflict: bool = Field(description="The label: the two truly conflict.")
    flagged: bool
    kind: str | None = None
    tension: str | None = None


def figure_cells(row: ComparisonRow, paper: Paper) -> tuple[int, int]:
    """How many of a row's filled cells hold a figure, and how many of those have every
    figure in the paper's abstract (``compare.figures_stated``)."""
    cells = [
        Cell(text=text, sentence=row.sources[column])
        for column, text in row.cells.items()
        if column in row.sources and figures(text)
    ]
    return len(cells), sum(1 for c in cells if figures_stated(c, paper))


def score_table(paper: Paper, label: ResultSpec) -> TableScore:
    """The paper's row scored against ``label``."""
    started = time.perf_counter()
    table = compare([paper])
    seconds = time.perf_counter() - started
    row = table.rows[0]
    result = row.cells.get(RESULT, "")
    wanted = {float(f) for text in label.figures for f in figures(text.replace("\\", " "))}
    with_figures, in_abstract = figure_cells(row, paper)
    return TableScore(
        states_result=label.states_result,
        filled=RESULT in row.sources,
        result=result,
        figure_wanted=bool(wanted),
        figure_found=bool(wanted & {float(f) for f in figures(result)}),
        cells_with_figures=with_figures,
        figures_in_abstract=in_abstract,
        seconds=round(seconds, 4),
    )


def digest_table(page: Digest) -> DigestTable:
    """A digest's comparison table: every figure of a cell checked against its paper's
    abstract, and the papers whose abstract gives a figure after its first sentence that got
    a result cell."""
    table = page.comparison
    if table is None:
        return DigestTable()
    papers = {c.paper_id: c.paper for c in page.citations}
    checked = found = giving = with_result = 0
    for row in table.rows:
        paper = papers[row.paper.id]
        cells, stated = figure_cells(row, paper)
        checked, found = checked + cells, found + stated
        if any(figures(s) for s in split_sentences(paper.abstract)[1:]):
            giving += 1
            with_result += RESULT in row.sources
    return DigestTable(
        cells_with_figures=checked,
        figures_in_abstract=found,
        papers_with_figures=giving,
        result_cells=with_result,
        seconds=page.telemetry.compare_s,
        disagreements=len(page.disagreements),
    )


def score_pair(settings: Settings, a: Paper, b: Paper, label: PairSpec) -> PairScore:
    """Whether the detector flags the two papers, against ``label``."""
    found = disagreements(settings, [a, b])
    first = found[0] if found else None
    return PairScore(
        conflict=label.conflict,
        flagged=first is not None,
        kind=first.kind if first else None,
        tension=first.tension if first else None,
    )


def summarize_tables(scores: Sequence[TableScore]) -> dict[str, Any]:
    """Share of result-stating abstracts with a result cell (goal >= 0.8), cells filled for
    abstracts that state none, headline figures found, figures found in the abstract (1.0)."""
    stating = [s for s in scores if s.states_result]
    silent = [s for s in scores if not s.states_result]
    with_figure = [s for s in scores if s.figure_wanted]
    cells = sum(s.cells_with_figures for s in scores)
    return {
        "n": len(scores),
        "result_filled": _round(ratio(sum(s.filled for s in stating), len(stating))),
        "filled_without_result": _round(ratio(sum(s.filled for s in silent), len(silent))),
        "headline_figure": _round(
            ratio(sum(s.figure_found for s in with_figure), len(with_figure))
        ),
        "figures_in_abstract": _round(ratio(sum(s.figures_in_abstract for s in scores), cells)),
        "row_ms_p50": _round(percentile([s.seconds * 1000 for s in scores], 50), 2),
    }


def summarize_pairs(scores: Sequence[PairScore]) -> dict[str, Any]:
    """The detector as a classifier over labelled pairs: precision (goal >= 0.8), recall."""
    flagged = [s for s in scores if s.flagged]
    hits = sum(s.conflict for s in flagged)
    return {
        "n": len(scores),
        "conflicts": sum(s.conflict for s in scores),
        "flagged": len(flagged),
        "precision": _round(ratio(hits, len(flagged))),
        "recall": _round(ratio(hits, sum(s.conflict for s in scores))),
    }


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)
