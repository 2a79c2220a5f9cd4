"""Comparison tables (papers side by side) and disagreements (two papers in tension)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from assistant.models.papers import PaperRef

#: What a cell says when the paper's abstract does not fill it (never an invented value).
NOT_STATED = "not stated in the abstract"
#: What the Code column says for a paper without a code link (shown as a dash on pages).
NO_CODE = "no code link"


class Cell(BaseModel):
    """One cell: text copied from the paper's abstract (or ``NOT_STATED``), and where from."""

    text: str
    sentence: str | None = Field(
        None, description="The abstract sentence the text was copied from (None: not stated)."
    )

    @property
    def filled(self) -> bool:
        """The abstract filled it."""
        return self.sentence is not None


class ComparisonRow(BaseModel):
    """One paper's row: its cells by column name."""

    paper: PaperRef
    number: int | None = Field(None, description="Its number on a digest page, if any.")
    cells: dict[str, str] = Field(description="Column name -> the text shown.")
    sources: dict[str, str] = Field(
        default_factory=dict,
        description="Column name -> the abstract sentence the cell was copied from (filled "
        "cells only).",
    )
    code_url: str | None = None


class Comparison(BaseModel):
    """Papers side by side. ``columns`` are the ones shown: a column no paper fills is left
    out (named in ``left_out``)."""

    topic: str | None = None
    columns: list[str]
    rows: list[ComparisonRow] = Field(default_factory=list)
    left_out: list[str] = Field(
        default_factory=list, description="Columns no paper's abstract fills, not shown."
    )
    with_figures: int = Field(0, description="Cells shown that hold a figure.")
    figures_checked: int = Field(
        0, description="Of those, cells whose every figure occurs in the paper's abstract."
    )
    removed: int = Field(
        0, description="Cells emptied because a figure was not in the abstract (kept 0)."
    )
    seconds: float = 0.0


class Side(BaseModel):
    """One paper's side of a disagreement: its verbatim sentence."""

    paper: PaperRef
    number: int | None = Field(None, description="Its number on a digest page, if any.")
    sentence: str = Field(description="Copied from its abstract.")


class Disagreement(BaseModel):
    """Two papers whose sentences cannot both hold (or that make opposite claims)."""

    kind: Literal["opposite claims", "results"]
    a: Side
    b: Side
    shared: str = Field(description="What both sentences are about (benchmark, measure, claim).")
    tension: str = Field(description="One line: why they cannot both hold.")
    score: float = Field(description="How alike the two sentences are (cosine), 0..1.")
