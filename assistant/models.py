"""Typed records passed between pipeline stages; the CLI's ``--json`` is their model dump.

Read in pipeline order: papers (ingest, store) → filters and hits (retrieve) → evidence and
answers (answer) → health checks (health).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import time
import unicodedata

from pydantic import BaseModel, Field, PrivateAttr, computed_field, model_validator

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
    timings: dict[str, float] = Field(
        default_factory=dict, description="Milliseconds per stage (embed, dense, bm25, ...)."
    )


# --- answers ---------------------------------------------------------------------------------


class Evidence(BaseModel):
    """One numbered source as handed to the model."""

    number: int
    paper: Paper
    sentences: list[str] = Field(description="The abstract sentences shown to the model.")
    similarity: float = Field(description="Cosine similarity of the question to the paper.")

    @property
    def text(self) -> str:
        """The sentences shown to the model, as one text."""
        return " ".join(self.sentences)


class AnswerTelemetry(BaseModel):
    """Where the time went, measured from the moment the question was asked."""

    condense_ms: float = 0.0
    retrieval_ms: float = 0.0
    check_ms: float = 0.0
    ttft_s: float | None = Field(
        None, description="Seconds from the question to the first generated token."
    )
    generation_s: float | None = None
    total_s: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    tokens_per_s: float | None = None
    model: str = ""
    provider: str = ""


class EvidenceSet(BaseModel):
    """What ``answer.gather`` found for a question: the input of ``answer.answer_from``.

    Digests and the eval harness reuse it, so it carries everything generation needs.
    """

    question: str = Field(description="The question as asked (whitespace-normalized, capped).")
    standalone_question: str = Field(description="The follow-up rewritten to stand alone.")
    hits: list[Hit] = Field(default_factory=list)
    evidence: list[Evidence] = Field(default_factory=list)
    relevant: bool = Field(
        description="Worth an LLM call: the gate passed, some part of the question is "
        "covered and no thing it names is missing from the sources."
    )
    uncovered: list[str] = Field(
        default_factory=list,
        description="Parts of the question no retrieved paper covers (``coverage``); an "
        "answer says so first.",
    )
    notices: list[str] = Field(default_factory=list)
    telemetry: AnswerTelemetry = Field(default_factory=AnswerTelemetry)
    _started: float = PrivateAttr(default_factory=time.perf_counter)

    def elapsed_s(self) -> float:
        """Seconds since the question was asked (gather started)."""
        return time.perf_counter() - self._started


class SentenceCheck(BaseModel):
    """One sentence of the answer, what it cites and how well the cited sources support it."""

    text: str
    citations: list[int] = Field(description="Source numbers (after renumbering) it cites.")
    support: float | None = Field(
        None, description="0..1 support by the cited abstracts; None when it cites nothing."
    )
    supported: bool | None = Field(None, description="None when the sentence cites nothing.")
    supported_by: list[int] = Field(
        default_factory=list, description="The cited sources that support it on their own."
    )
    attached: list[int] = Field(
        default_factory=list,
        description="Citations the checker added (the model cited nothing; this source "
        "supports the sentence).",
    )
    misattributed: list[int] = Field(
        default_factory=list,
        description="Cited sources credited with a claim that another shown paper, one the "
        "sentence does not cite, supports clearly better.",
    )
    quoted: bool = Field(
        False,
        description="Quoted verbatim from the cited abstract by the assistant (a result the "
        "model's prose left out), not written by the model.",
    )
    unsourced: list[str] = Field(
        default_factory=list,
        description="Figures it states that no paper shown to the model, nor the question, "
        "gives (the sentence is then not supported, cited or not).",
    )
    unstated: list[str] = Field(
        default_factory=list,
        description="Parts of the question it states that none of its cited papers covers "
        "(the question restated as their finding: then not supported).",
    )
    off_question: bool = Field(
        False,
        description="Supported, but its cited papers cover no part of the question.",
    )
    note: bool = Field(
        False,
        description="Said by the assistant about the sources (what they do not cover), "
        "not written by the model.",
    )

    @property
    def problem(self) -> str | None:
        """Why the sentence is flagged, in words; None when it is not."""
        if self.supported is not False:
            return None
        if self.unsourced:
            said = ", ".join(self.unsourced)
            return f"states {said}, which no paper shown gives"
        if self.unstated:
            said = ", ".join(f"'{p}'" for p in self.unstated)
            return f"says {said}, which the cited paper does not"
        if self.misattributed:
            cited = "".join(f"[{n}]" for n in self.misattributed)
            return f"another paper shown supports this better than {cited}"
        return "not supported by the cited source"


class Citation(BaseModel):
    """A source the answer cites, by its number in the answer."""

    number: int
    paper_id: str
    title: str
    date: str | None
    links: list[str]
    evidence: list[str] = Field(description="The abstract sentences the model was shown.")
    supported: bool = Field(description="Every sentence citing this source is supported.")
    on_question: bool = Field(
        True, description="The paper covers a part of the question (``coverage``)."
    )
    paper: Paper = Field(description="The whole cited paper (for exports and source cards).")


class Source(BaseModel):
    """A source handed to the model (cited or not), by its number in the answer."""

    number: int
    paper_id: str
    title: str
    date: str | None
    cited: bool
    similarity: float


class CheckedText(BaseModel):
    """Generated text after the citation check: what any cited paragraph is turned into."""

    text: str = Field(description="The text, invalid citations removed (renumbered if asked).")
    sentences: list[SentenceCheck] = Field(default_factory=list)
    numbering: dict[int, int] = Field(
        default_factory=dict, description="Evidence number -> number in the text, for cited ones."
    )
    invalid_citations: int = Field(0, description="Citations to numbers never given: removed.")

    @property
    def unsupported(self) -> int:
        """Sentences whose cited sources do not support them."""
        return sum(1 for c in self.sentences if c.supported is False)

    @property
    def uncited(self) -> int:
        """Sentences that cite no source at all."""
        return sum(1 for c in self.sentences if not c.citations and not c.note)


#: The line above the result sentences quoted under an answer (``SentenceCheck.quoted``).
QUOTES_HEADING = "Reported in the papers:"


class Answer(BaseModel):
    """A checked, cited answer (or an honest abstention)."""

    question: str
    standalone_question: str
    answer: str = Field(description="The answer text, citations renumbered.")
    abstained: bool
    sentences: list[SentenceCheck] = Field(default_factory=list)
    citations: list[Citation] = Field(default_factory=list)
    sources: list[Source] = Field(default_factory=list)
    invalid_citations: int = Field(0, description="Citations to numbers never given: removed.")
    unsupported: int = Field(0, description="Sentences whose cited sources do not support them.")
    uncited: int = Field(0, description="Sentences that cite no source at all.")
    notices: list[str] = Field(default_factory=list, description="Truncations, dropped text.")
    telemetry: AnswerTelemetry = Field(default_factory=AnswerTelemetry)

    @property
    def prose(self) -> list[SentenceCheck]:
        """The sentences the model wrote (quoted results left out)."""
        return [s for s in self.sentences if not s.quoted]

    @property
    def quotes(self) -> list[SentenceCheck]:
        """Result sentences quoted from the cited abstracts under the prose."""
        return [s for s in self.sentences if s.quoted]

    @property
    def uncited_sources(self) -> list[Source]:
        """Sources retrieved and shown to the model but not cited."""
        return [s for s in self.sources if not s.cited]


# --- digests -----------------------------------------------------------------------------------


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
    notices: list[str] = Field(default_factory=list)
    filters: SearchFilters = Field(default_factory=SearchFilters)
    week: WeekInfo | None = None
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
    paths: dict[str, str] = Field(description="Format -> file path (markdown, html, json).")


class DigestProgress(BaseModel):
    """A progress event of a digest or weekly run (the CLI prints it, the app shows it)."""

    stage: str = Field(description="retrieval, clustering, names, overview, theme, check, save.")
    message: str
    done: int = 0
    total: int = 0


# --- health ----------------------------------------------------------------------------------


class Check(BaseModel):
    """One health check (``assistant doctor``, the app's Status tab)."""

    name: str
    ok: bool
    detail: str
    fix: str = ""
