"""Papers as stored, and what a search returns: filters, hits, results."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import unicodedata

from pydantic import BaseModel, ConfigDict, Field, computed_field, model_validator

from assistant.errors import InputError


def normalize_title(title: str) -> str:
    """Lower-case alphanumerics only: two spellings of one title compare equal.

    ASCII letters and digits for titles in Latin script (accents dropped, as always); a title
    with letters of another script (Chinese, Arabic, Greek...) keeps them, else every such
    title would share one empty key and be merged into one paper.
    """
    if any(_non_latin(ch) for ch in title):
        return " ".join(re.sub(r"[\W_]+", " ", title.casefold()).split())
    return re.sub(r"[^a-z0-9]+", " ", title.lower()).strip()


def _non_latin(ch: str) -> bool:
    """A letter or digit with no ASCII base (``é`` has one: ``e``; ``中`` and ``π`` do not)."""
    return (
        ord(ch) > 127
        and ch.isalnum()
        and not unicodedata.normalize("NFKD", ch).encode("ascii", "ignore")
    )


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
    def date_label(self) -> str:
        """Its date as a reader should read it: the publication date, else "added" and the
        day it entered the store (not a publication date), else "n.d."."""
        if self.published is not None:
            return self.published.isoformat()
        return f"added {self.added}" if self.added else "n.d."

    @property
    def links(self) -> list[str]:
        """The paper's links, most useful first: arXiv, Hugging Face, code, abstract URLs."""
        found = [self.arxiv_url, self.hf_url, self.github_repo, *self.urls]
        return list(dict.fromkeys(u for u in found if u))

    @property
    def title_key(self) -> str:
        """Key under which two records of one paper (any format, any id) are merged."""
        return hashlib.sha256(normalize_title(self.title).encode()).hexdigest()[:16]

    @property
    def short_name(self) -> str:
        """The name a text would call the paper by: the title's lead before a colon
        ("DeciMamba" of "DeciMamba: Exploring ..."), else the whole title."""
        lead, colon, _ = self.title.partition(":")
        return lead.strip() if colon and 0 < len(lead.strip()) <= 40 else self.title

    @property
    def text(self) -> str:
        """What gets embedded and indexed: title and abstract."""
        return f"{self.title}\n\n{self.abstract}"

    @property
    def content_hash(self) -> str:
        """Changes exactly when the embedded text changes."""
        return hashlib.sha256(self.text.encode()).hexdigest()[:16]


class PaperRef(BaseModel):
    """A paper kept by id, with its title so the file reads without the store."""

    model_config = ConfigDict(extra="forbid")

    id: str
    title: str


class SearchFilters(BaseModel):
    """Which papers a search may return; the store applies them inside its query."""

    since: dt.date | None = Field(None, description="Published on or after.")
    until: dt.date | None = Field(None, description="Published on or before.")
    source: str | None = Field(None, description="Read from this source file name.")
    added_since: dt.date | None = Field(None, description="Added to the store on or after.")

    @model_validator(mode="after")
    def _ordered(self) -> SearchFilters:
        if self.since and self.until and self.since > self.until:
            raise InputError(f"--since {self.since} is after --until {self.until}.")
        return self

    @classmethod
    def parse(
        cls,
        since: str | dt.date | None = None,
        until: str | dt.date | None = None,
        source: str | None = None,
        added_days: int | None = None,
        *,
        labels: tuple[str, str] = ("--since", "--until"),
        today: dt.date | None = None,
    ) -> SearchFilters:
        """Filters from user input (CLI flags, app fields), with one meaning everywhere.

        Dates are ``YYYY-MM-DD`` (blank means unset); ``source`` blank means any source;
        ``added_days=N`` keeps papers added in the last N days counting today, so 0 means
        "added today" and None means no filter. ``labels`` name the date fields in errors.
        """
        if added_days is not None and (isinstance(added_days, bool) or added_days < 0):
            raise InputError(f"--added-days must be 0 or more, not {added_days!r}.")
        day = today or dt.date.today()
        return cls(
            since=parse_date(since, labels[0]),
            until=parse_date(until, labels[1]),
            source=(source or "").strip() or None,
            added_since=None if added_days is None else day - dt.timedelta(days=added_days),
        )


def parse_date(value: str | dt.date | None, field: str) -> dt.date | None:
    """A ``YYYY-MM-DD`` value (blank: None), or an InputError naming the field."""
    if value is None or isinstance(value, dt.date):
        return value
    text = value.strip()
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise InputError(f"{field} {value!r} is not a date; use YYYY-MM-DD.") from None


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
    revision: str = Field("", description="The store revision searched (keys its BM25 index).")
    timings: dict[str, float] = Field(
        default_factory=dict, description="Milliseconds per stage (embed, dense, bm25, ...)."
    )
