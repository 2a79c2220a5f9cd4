"""Topic digests and weekly summaries: themes, papers, telemetry, progress events."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field, computed_field

from assistant.models.answers import SentenceCheck
from assistant.models.compare import Comparison, Disagreement
from assistant.models.interests import Recommendation
from assistant.models.papers import Paper, SearchFilters


class DigestPaper(BaseModel):
    """One paper of a digest page, under its one number on that page."""

    number: int = Field(description="Its number on the page (one sequence for the page).")
    paper_id: str
    title: str
    date: str | None = Field(description="Publication date, else the date it was added.")
    theme: int = Field(description="Number of the theme it belongs to (1-based).")
    contribution: str = Field(description="One line from the abstract saying what it does.")
    code_url: str | None = Field(None, description="Code link, when the paper has one.")
    links: list[str] = Field(default_factory=list)
    centrality: float = Field(description="Cosine similarity to its theme's centre.")
    cited: bool = Field(False, description="Some generated sentence on the page cites it.")
    paper: Paper = Field(description="The whole paper (for exports and source cards).")


class ThemePaper(BaseModel):
    """A paper as listed under its theme."""

    number: int
    paper_id: str
    title: str


class DigestTheme(BaseModel):
    """A group of papers on one theme, named, with a checked paragraph (or only listed)."""

    number: int = Field(description="1-based, in page order.")
    name: str
    named_by: str = Field(description="'llm' or 'keywords'.")
    paragraph: str | None = Field(
        None, description="The checked paragraph (invalid citations removed); None: listed only."
    )
    sentences: list[SentenceCheck] = Field(default_factory=list)
    invalid_citations: int = 0
    unsupported: int = 0
    planned: bool = Field(
        True, description="A paragraph is written for it (weekly: only the most novel/largest)."
    )
    papers: list[ThemePaper] = Field(description="Its papers, most central first.")
    cohesion: float = Field(description="Mean cosine similarity of its papers to its centre.")
    novelty: float | None = Field(
        None,
        description="Weekly only: median cosine distance of its papers to their nearest paper "
        "in the earlier weeks (None when there are no earlier weeks).",
    )
    new: bool = Field(False, description="Weekly only: far from everything in earlier weeks.")
    near: str | None = Field(
        None,
        description="Topic digests: why the theme is near the topic, not on it, and so listed "
        "without a paragraph ('none of its 9 papers say “speculative decoding”'); None: on it.",
    )


class LLMCall(BaseModel):
    """One model call of a digest: what it was for, tokens and seconds."""

    stage: str = Field(description="'names', 'overview' or 'theme N'.")
    prompt_tokens: int = 0
    completion_tokens: int = 0
    ttft_s: float | None = None
    seconds: float = 0.0


class DigestTelemetry(BaseModel):
    """Where a digest's time went, per stage."""

    retrieval_s: float = 0.0
    clustering_s: float = 0.0
    evidence_s: float = Field(0.0, description="Evidence sentences, contributions, numbering.")
    check_s: float = Field(0.0, description="Citation checks of all generated text.")
    compare_s: float = Field(0.0, description="The comparison table and the disagreements.")
    llm_calls: list[LLMCall] = Field(default_factory=list)
    total_s: float = 0.0
    model: str = ""
    provider: str = ""

    @computed_field  # type: ignore[prop-decorator]
    @property
    def llm_s(self) -> float:
        """Seconds spent inside model calls."""
        return round(sum(c.seconds for c in self.llm_calls), 3)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def prompt_tokens(self) -> int:
        """Prompt tokens over all model calls."""
        return sum(c.prompt_tokens for c in self.llm_calls)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def completion_tokens(self) -> int:
        """Generated tokens over all model calls."""
        return sum(c.completion_tokens for c in self.llm_calls)


class WeekInfo(BaseModel):
    """What a weekly summary adds to a digest: the week and its numbers."""

    week: str = Field(description="ISO week, e.g. 2026-W11.")
    start: dt.date = Field(description="Its Monday.")
    end: dt.date = Field(description="Its Sunday.")
    papers: int
    themes: int
    with_code: int = Field(description="Papers with a code link.")
    placed_by_added: int = Field(
        0, description="Papers without a publication date, placed by the date they were added."
    )
    central: list[int] = Field(
        default_factory=list, description="Numbers of the papers most central to the week."
    )
    earlier_weeks: list[str] = Field(
        default_factory=list, description="Earlier weeks (of novelty_weeks) that hold papers."
    )
    earlier_papers: int = Field(0, description="Papers in those earlier weeks.")


class Digest(BaseModel):
    """A themed, cited page on a topic or a week; ``--format json`` is its dump."""

    kind: str = Field(description="'topic' or 'week'.")
    title: str
    topic: str = Field(description="The topic asked for, or the week.")
    covered: bool = Field(description="False when the store does not cover the topic.")
    overview: str = Field(description="2-3 cited sentences (or the not-covered reply).")
    overview_sentences: list[SentenceCheck] = Field(default_factory=list)
    themes: list[DigestTheme] = Field(default_factory=list)
    citations: list[DigestPaper] = Field(
        default_factory=list, description="Every paper on the page, by number: the references."
    )
    invalid_citations: int = Field(0, description="Citations to unknown numbers, removed.")
    comparison: Comparison | None = Field(
        None, description="The page's papers side by side (None: a page saved before tables)."
    )
    disagreements: list[Disagreement] = Field(
        default_factory=list, description="Pairs of the page's papers in tension, if any."
    )
    notices: list[str] = Field(default_factory=list)
    filters: SearchFilters = Field(default_factory=SearchFilters)
    week: WeekInfo | None = None
    interest: str | None = Field(
        None, description="Weekly only: the interest the week was written for (None: everyone)."
    )
    for_you: list[Recommendation] = Field(
        default_factory=list,
        description="Weekly for an interest: the week's papers ranked for it, each with why.",
    )
    used_llm: bool = Field(True, description="False: named by keywords, no paragraphs.")
    generated_at: dt.datetime = Field(
        default_factory=lambda: dt.datetime.now(dt.UTC).replace(microsecond=0),
        description="When the page was made (UTC, whole seconds).",
    )
    telemetry: DigestTelemetry = Field(default_factory=DigestTelemetry)

    def paper(self, number: int) -> DigestPaper | None:
        """The page's paper under ``number``."""
        return next((c for c in self.citations if c.number == number), None)


class SavedWeek(BaseModel):
    """A saved weekly summary, as the app and the feed list it."""

    week: str
    title: str
    papers: int
    themes: int
    new_themes: list[str]
    overview: str
    generated_at: dt.datetime
    used_llm: bool
    paths: dict[str, str] = Field(description="Format -> file path (markdown, html, json, csv).")


class DigestProgress(BaseModel):
    """A progress event of a digest or weekly run (the CLI prints it, the app shows it)."""

    stage: str = Field(description="retrieval, clustering, names, overview, theme, check, save.")
    message: str
    done: int = 0
    total: int = 0
