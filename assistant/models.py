"""Typed records passed between pipeline stages; the CLI's ``--json`` is their model dump."""

from __future__ import annotations

import datetime as dt
import hashlib
import re

from pydantic import BaseModel, Field, computed_field


def normalize_title(title: str) -> str:
    """Lower-case alphanumerics only: two spellings of one title compare equal."""
    return re.sub(r"[^a-z0-9]+", " ", title.lower()).strip()


def paper_id_for(title: str, arxiv_id: str | None = None) -> str:
    """Stable id: the arXiv id when known, else a hash of the normalized title."""
    if arxiv_id:
        return arxiv_id
    return "t-" + hashlib.sha256(normalize_title(title).encode()).hexdigest()[:16]


def date_to_int(value: dt.date | None) -> int | None:
    """20260313 for 2026-03-13, so Chroma range filters work on dates."""
    return None if value is None else value.year * 10000 + value.month * 100 + value.day


def int_to_date(value: int | None) -> dt.date | None:
    """Inverse of :func:`date_to_int`."""
    if not value:
        return None
    return dt.date(value // 10000, value // 100 % 100, value % 100)


class Paper(BaseModel):
    """One paper: what we know of it and where it came from."""

    id: str = Field(
        description="Stable id: the arXiv id when known at first sight, else 't-' + a hash of "
        "the normalized title. It never changes once the paper is stored."
    )
    title: str
    abstract: str
    arxiv_id: str | None = Field(None, description="arXiv id, when any source gave one.")
    published: dt.date | None = Field(None, description="Publication date, when known.")
    added: dt.date | None = Field(None, description="Date the paper first entered the store.")
    sources: list[str] = Field(default_factory=list, description="Files/feeds it was read from.")
    urls: list[str] = Field(default_factory=list, description="URLs found in the abstract.")
    authors: list[str] = Field(default_factory=list)
    upvotes: int | None = None
    ai_summary: str | None = None
    ai_keywords: list[str] = Field(default_factory=list)
    github_repo: str | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def date(self) -> dt.date | None:
        """The publication date under the name scripts reading ``--json`` expect."""
        return self.published

    @computed_field  # type: ignore[prop-decorator]
    @property
    def arxiv_url(self) -> str | None:
        """Link to the arXiv abstract page when the arXiv id is known."""
        return f"https://arxiv.org/abs/{self.arxiv_id}" if self.arxiv_id else None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def hf_url(self) -> str | None:
        """Link to the Hugging Face paper page when the arXiv id is known."""
        return f"https://huggingface.co/papers/{self.arxiv_id}" if self.arxiv_id else None

    @property
    def title_key(self) -> str:
        """Key under which two records of one paper (any format, any id) are merged."""
        return hashlib.sha256(normalize_title(self.title).encode()).hexdigest()[:16]

    @property
    def text(self) -> str:
        """What gets embedded and indexed: title and abstract."""
        return f"{self.title}\n\n{self.abstract}"

    @property
    def content_hash(self) -> str:
        """Changes exactly when the embedded text changes."""
        return hashlib.sha256(self.text.encode()).hexdigest()[:16]


class SentenceMatch(BaseModel):
    """One abstract sentence and its cosine similarity to the query: compact evidence."""

    text: str
    score: float


class Hit(BaseModel):
    """One retrieved paper with the numbers that explain why it was retrieved."""

    rank: int = Field(description="1-based position in the result list.")
    score: float = Field(
        description="Fused score: reciprocal rank fusion in hybrid mode, else the one "
        "retriever's score (cosine similarity for dense, BM25 for bm25)."
    )
    paper: Paper
    similarity: float = Field(
        description="Cosine similarity of the query to the paper's stored vector, for every "
        "hit whichever retriever found it (the answer stage abstains on it)."
    )
    dense_rank: int | None = Field(None, description="1-based rank in the dense list, if any.")
    bm25_rank: int | None = Field(None, description="1-based rank in the BM25 list, if any.")
    bm25_score: float | None = Field(None, description="Raw BM25 score, if BM25 found it.")
    best_sentences: list[SentenceMatch] = Field(
        default_factory=list, description="Abstract sentences most similar to the query."
    )


class SearchResult(BaseModel):
    """Hits for one query, and what was done to the query on the way."""

    query: str = Field(description="The query as searched (after trimming/truncation).")
    mode: str
    k: int = Field(description="Hits asked for (after capping).")
    hits: list[Hit]
    notices: list[str] = Field(
        default_factory=list, description="Things the user should know (truncation, caps)."
    )
    truncated: bool = Field(False, description="The query was cut to max_query_chars.")
    timings: dict[str, float] = Field(
        default_factory=dict, description="Milliseconds per stage (embed, dense, bm25, ...)."
    )
