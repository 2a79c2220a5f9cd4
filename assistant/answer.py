"""Cited answers to cross-paper questions; the pipeline reads top to bottom.

1. condense   a follow-up into a standalone question (only when there is chat history)
2. retrieve   hybrid search with the user's filters
3. gate       abstain with ``CANNOT_ANSWER`` when no hit is relevant enough (no LLM call)
4. evidence   number the sources [1]..[k], each with only its best abstract sentences
5. generate   from ``prompts/answer.md``, streaming; abstracts are delimited untrusted data
6. check      parse [n], drop citations to numbers never given, renumber by first use,
              score every sentence's support against the sources it cites
7. result     a typed ``Answer``

``ask_stream`` yields text chunks as they are generated, then the finished ``Answer``;
``ask`` returns only the ``Answer``. The CLI and the UI call these and nothing deeper.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import BaseModel, Field

from assistant.embed import get_embedder, split_sentences
from assistant.errors import InputError
from assistant.llm import LLM, Message, Telemetry, get_llm
from assistant.models import Hit, Paper
from assistant.prompts import load_prompt
from assistant.retrieve import SearchFilters, search
from assistant.settings import Settings

if TYPE_CHECKING:
    from assistant.embed import Embedder

#: The one sentence the assistant says when the indexed papers do not answer a question.
CANNOT_ANSWER = "The indexed papers don't cover this question."

ANSWER_FIELDS = frozenset({"sources", "question"})
CONDENSE_FIELDS = frozenset({"history", "question"})

_CITATION_GROUP = re.compile(r"\[(\s*\d+\s*(?:(?:,|-|–)\s*\d+\s*)*)\]")
_SENTENCE = re.compile(r"(?<=[.!?])(?:\s*\[[\d,\s\-–]+\])*\s+(?=[A-Z0-9\"'(*-])")
# Instructions planted in an abstract are dropped from the evidence (and the prompt tells the
# model to ignore any that remain).
_INJECTION = re.compile(
    r"\b(ignore|disregard|forget)\b[^.]{0,40}\b(instructions?|prompts?|rules)\b"
    r"|\b(system prompt|you are now|reply with|respond with|output only)\b",
    re.I,
)
_NO_ANSWER_HINTS = ("don't cover", "do not cover", "not found in the indexed", "cannot answer")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_SALIENT = re.compile(r"\b(?:\d[\d.,%x×]*|[A-Z][A-Za-z]*[A-Z0-9][A-Za-z0-9-]*)\b")


class Evidence(BaseModel):
    """One numbered source as handed to the model."""

    number: int
    paper: Paper
    sentences: list[str] = Field(description="The abstract sentences shown to the model.")
    similarity: float = Field(description="Cosine similarity of the question to the paper.")


class SentenceCheck(BaseModel):
    """One sentence of the answer, what it cites and how well the cited sources support it."""

    text: str
    citations: list[int] = Field(description="Source numbers (after renumbering) it cites.")
    support: float | None = Field(
        None, description="0..1 support by the cited abstracts; None when it cites nothing."
    )
    supported: bool | None = Field(None, description="None when the sentence cites nothing.")


class Citation(BaseModel):
    """A source the answer cites, by its number in the answer."""

    number: int
    paper_id: str
    title: str
    date: str | None
    links: list[str]
    evidence: list[str] = Field(description="The abstract sentences the model was shown.")
    supported: bool = Field(description="Every sentence citing this source is supported.")
    paper: Paper = Field(description="The whole cited paper (for exports and source cards).")


class Source(BaseModel):
    """A source handed to the model (cited or not), by its number in the answer."""

    number: int
    paper_id: str
    title: str
    date: str | None
    cited: bool
    similarity: float


class AnswerTelemetry(BaseModel):
    """Where the time went."""

    retrieval_ms: float = 0.0
    condense_ms: float = 0.0
    check_ms: float = 0.0
    ttft_s: float | None = None
    generation_s: float | None = None
    total_s: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    tokens_per_s: float | None = None
    model: str = ""
    provider: str = ""


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
    def uncited_sources(self) -> list[Source]:
        """Sources retrieved and shown to the model but not cited."""
        return [s for s in self.sources if not s.cited]


# --- 1. condense -----------------------------------------------------------------------------


def condense_question(llm: LLM, history: Sequence[Message], question: str) -> str:
    """A follow-up rewritten as a standalone question; unchanged when there is no history."""
    if not history:
        return question
    turns = "\n".join(
        f"{m.role}: {m.content[:600]}" for m in history[-6:] if m.role in ("user", "assistant")
    )
    prompt = load_prompt("condense", CONDENSE_FIELDS).render(history=turns, question=question)
    text = llm.complete(prompt, max_tokens=64, temperature=0.0).text.strip()
    line = text.splitlines()[0].strip().strip('"') if text else ""
    return line if len(line) > 5 else question


# --- 2./3. retrieve and gate -----------------------------------------------------------------


def retrieve(
    settings: Settings, question: str, k: int, filters: SearchFilters, mode: str | None
) -> list[Hit]:
    """Hybrid search (or the chosen mode) with best sentences, through the retrieval stage."""
    return search(settings, question, k=k, mode=mode, filters=filters, sentences=True).hits


def is_relevant(hits: Sequence[Hit], threshold: float) -> bool:
    """Whether the best hit is similar enough to the question to be worth an LLM call."""
    return bool(hits) and max(h.similarity for h in hits) >= threshold


# --- 4. evidence -----------------------------------------------------------------------------


def select_evidence(hits: Sequence[Hit], per_source: int) -> tuple[list[Evidence], list[str]]:
    """Numbered sources with their best sentences; planted instructions are dropped."""
    evidence, notices = [], []
    for number, hit in enumerate(hits, start=1):
        ranked = [s.text for s in hit.best_sentences] or split_sentences(hit.paper.abstract)
        clean = [s for s in ranked if not _INJECTION.search(s)]
        if len(clean) < len(ranked):
            notices.append(
                f"source [{number}] contains instruction-like text; it was left out of the prompt."
            )
        # Keep the abstract's own order: sentences read better that way.
        order = {s: i for i, s in enumerate(split_sentences(hit.paper.abstract))}
        chosen = sorted(clean[:per_source], key=lambda s: order.get(s, 0))
        evidence.append(
            Evidence(number=number, paper=hit.paper, sentences=chosen, similarity=hit.similarity)
        )
    return evidence, notices


def format_sources(evidence: Sequence[Evidence]) -> str:
    """The sources block of the prompt: numbered, titled, each excerpt fenced as data."""
    blocks = []
    for ev in evidence:
        excerpt = " ".join(ev.sentences).replace("<", "‹").replace(">", "›")
        blocks.append(f"[{ev.number}] {ev.paper.title}\n<excerpt>{excerpt}</excerpt>")
    return "\n\n".join(blocks)


# --- 6. check --------------------------------------------------------------------------------


def parse_citation_group(body: str) -> list[int]:
    """Numbers in a citation body: ``1``, ``1, 3``, ``2-4``."""
    numbers: list[int] = []
    for part in re.split(r"\s*,\s*", body.strip()):
        if re.fullmatch(r"\d+\s*[-–]\s*\d+", part):
            lo, hi = (int(x) for x in re.split(r"\s*[-–]\s*", part))
            if lo <= hi and hi - lo < 20:
                numbers.extend(range(lo, hi + 1))
        elif part.isdigit():
            numbers.append(int(part))
    return numbers


def renumber_citations(text: str, valid: set[int]) -> tuple[str, dict[int, int], int]:
    """Drop citations to unknown numbers and renumber the rest by first use.

    Returns the new text, the map old -> new number, and how many citations were removed.
    """
    mapping: dict[int, int] = {}
    removed = 0

    def replace(match: re.Match[str]) -> str:
        nonlocal removed
        kept = []
        for n in parse_citation_group(match.group(1)):
            if n not in valid:
                removed += 1
                continue
            mapping.setdefault(n, len(mapping) + 1)
            if mapping[n] not in kept:
                kept.append(mapping[n])
        return "".join(f"[{n}]" for n in kept)

    new_text = _CITATION_GROUP.sub(replace, text)
    new_text = re.sub(r"[ \t]+([.,;:])", r"\1", re.sub(r"[ \t]{2,}", " ", new_text)).strip()
    return new_text, mapping, removed


def split_answer(text: str) -> list[str]:
    """Answer sentences, each keeping the citations that close it."""
    out: list[str] = []
    for paragraph in text.split("\n"):
        out.extend(s.strip() for s in _SENTENCE.split(paragraph) if s.strip())
    return out


def _lexical_support(sentence: str, sources_text: str) -> tuple[float | None, bool]:
    """Share of the sentence's numbers and names found in the cited abstracts, and whether
    every number is among them (a wrong figure is the typical slip of a small model)."""
    plain = _CITATION_GROUP.sub("", sentence)
    salient = {t.lower().rstrip(".,") for t in _SALIENT.findall(plain)} - {""}
    if not salient:
        return None, True
    hay = sources_text.lower()
    numbers_ok = all(n in hay for n in _NUMBER.findall(plain))
    return sum(1 for t in salient if t in hay) / len(salient), numbers_ok


def verify_citations(
    sentences: Sequence[str],
    cited_papers: dict[int, Paper],
    embedder: Embedder,
    threshold: float,
) -> list[SentenceCheck]:
    """Score each sentence against the abstract sentences of the papers it cites.

    Support = the best cosine similarity to a cited abstract sentence, blended with the share
    of its numbers and names found in those abstracts. A sentence is supported when the score
    reaches ``threshold`` and every number it states appears in the sources it cites.
    """
    checks: list[SentenceCheck] = []
    pending: list[tuple[int, str, list[str], str]] = []
    for sentence in sentences:
        numbers = [n for g in _CITATION_GROUP.findall(sentence) for n in parse_citation_group(g)]
        numbers = list(dict.fromkeys(n for n in numbers if n in cited_papers))
        checks.append(SentenceCheck(text=sentence, citations=numbers))
        plain = _CITATION_GROUP.sub("", sentence).strip()
        if numbers and plain:
            evidence = [s for n in numbers for s in split_sentences(cited_papers[n].text)]
            source_text = " ".join(cited_papers[n].text for n in numbers)
            pending.append((len(checks) - 1, plain, evidence, source_text))
    if not pending:
        return checks
    texts = [p[1] for p in pending] + [s for p in pending for s in p[2]]
    vectors = embedder.embed(list(dict.fromkeys(texts)))
    index = {t: i for i, t in enumerate(dict.fromkeys(texts))}
    for i, plain, evidence, source_text in pending:
        sims = vectors[[index[s] for s in evidence]] @ vectors[index[plain]]
        semantic = float(np.max(sims)) if len(sims) else 0.0
        lexical, numbers_ok = _lexical_support(plain, source_text)
        score = semantic if lexical is None else 0.7 * semantic + 0.3 * lexical
        checks[i].support = round(score, 3)
        checks[i].supported = score >= threshold and numbers_ok
    return checks


def is_abstention(text: str) -> bool:
    """Whether the model declined, in our words or close to them."""
    flat = text.strip().lower().replace("’", "'")
    return flat.startswith(CANNOT_ANSWER.lower()[:30]) or (
        len(flat) < 160 and any(h in flat for h in _NO_ANSWER_HINTS)
    )


# --- 7. result -------------------------------------------------------------------------------


def _date(paper: Paper) -> str | None:
    return paper.published.isoformat() if paper.published else None


def _links(paper: Paper) -> list[str]:
    links = [paper.arxiv_url, paper.hf_url, paper.github_repo, *paper.urls]
    return list(dict.fromkeys(u for u in links if u))


def build_answer(
    question: str,
    standalone: str,
    raw_text: str,
    evidence: Sequence[Evidence],
    embedder: Embedder,
    threshold: float,
) -> Answer:
    """Check the model's text against its evidence and assemble the typed ``Answer``."""
    by_number = {ev.number: ev for ev in evidence}
    if is_abstention(raw_text):
        return Answer(
            question=question,
            standalone_question=standalone,
            answer=CANNOT_ANSWER,
            abstained=True,
            sources=[
                Source(
                    number=ev.number,
                    paper_id=ev.paper.id,
                    title=ev.paper.title,
                    date=_date(ev.paper),
                    cited=False,
                    similarity=ev.similarity,
                )
                for ev in evidence
            ],
        )
    text, mapping, removed = renumber_citations(raw_text, set(by_number))
    new_to_old = {new: old for old, new in mapping.items()}
    cited_papers = {new: by_number[old].paper for new, old in new_to_old.items()}
    checks = verify_citations(split_answer(text), cited_papers, embedder, threshold)
    citations = []
    for new in sorted(new_to_old):
        ev = by_number[new_to_old[new]]
        citing = [c for c in checks if new in c.citations]
        citations.append(
            Citation(
                number=new,
                paper_id=ev.paper.id,
                title=ev.paper.title,
                date=_date(ev.paper),
                links=_links(ev.paper),
                evidence=ev.sentences,
                supported=bool(citing) and all(c.supported for c in citing),
                paper=ev.paper,
            )
        )
    # Sources keep answer numbering: cited ones first by citation number, the rest after.
    uncited = [ev for ev in evidence if ev.number not in mapping]
    sources = [
        Source(
            number=c.number,
            paper_id=c.paper_id,
            title=c.title,
            date=c.date,
            cited=True,
            similarity=by_number[new_to_old[c.number]].similarity,
        )
        for c in citations
    ] + [
        Source(
            number=len(citations) + i,
            paper_id=ev.paper.id,
            title=ev.paper.title,
            date=_date(ev.paper),
            cited=False,
            similarity=ev.similarity,
        )
        for i, ev in enumerate(uncited, start=1)
    ]
    return Answer(
        question=question,
        standalone_question=standalone,
        answer=text,
        abstained=False,
        sentences=checks,
        citations=citations,
        sources=sources,
        invalid_citations=removed,
        unsupported=sum(1 for c in checks if c.supported is False),
        uncited=sum(1 for c in checks if not c.citations),
    )


# --- the pipeline ----------------------------------------------------------------------------


def clean_question(question: str, max_chars: int) -> tuple[str, list[str]]:
    """A usable question, or an InputError; over-long ones are cut with a notice."""
    text = " ".join(question.split())
    if not text:
        raise InputError("the question is empty.")
    if len(text) > max_chars:
        return text[:max_chars].rsplit(" ", 1)[0], [
            f"the question was {len(text):,} characters; only the first {max_chars:,} were used."
        ]
    return text, []


def ask_stream(
    question: str,
    settings: Settings,
    *,
    history: Sequence[Message] = (),
    filters: SearchFilters | None = None,
    mode: str | None = None,
    k: int | None = None,
    llm: LLM | None = None,
) -> Iterator[str | Answer]:
    """Answer ``question``: yields text chunks while the model writes, then the ``Answer``."""
    started = time.perf_counter()
    filters = filters or SearchFilters()
    k = settings.answer.k if k is None else k
    if not 1 <= k <= 20:
        raise InputError(f"-k must be between 1 and 20, not {k}.")
    question, notices = clean_question(question, settings.answer.max_question_chars)
    llm = llm or get_llm(settings)
    embedder = get_embedder(settings)
    telemetry = AnswerTelemetry(model=llm.name, provider=llm.provider)

    t0 = time.perf_counter()
    standalone = condense_question(llm, history, question)
    telemetry.condense_ms = round((time.perf_counter() - t0) * 1000, 1)

    t0 = time.perf_counter()
    hits = retrieve(settings, standalone, k, filters, mode)
    telemetry.retrieval_ms = round((time.perf_counter() - t0) * 1000, 1)

    evidence, dropped = select_evidence(hits, settings.answer.evidence_sentences)
    notices += dropped
    if not is_relevant(hits, settings.answer.min_relevance):
        answer = build_answer(question, standalone, CANNOT_ANSWER, evidence, embedder, 0.0)
    else:
        prompt = load_prompt("answer", ANSWER_FIELDS).render(
            sources=format_sources(evidence), question=standalone
        )
        stream = llm.stream(prompt)
        with stream:
            yield from stream
        gen: Telemetry | None = stream.telemetry
        t0 = time.perf_counter()
        answer = build_answer(
            question,
            standalone,
            stream.text,
            evidence,
            embedder,
            settings.answer.support_threshold,
        )
        telemetry.check_ms = round((time.perf_counter() - t0) * 1000, 1)
        if gen is not None:
            telemetry.ttft_s = gen.ttft_s
            telemetry.generation_s = gen.total_s
            telemetry.prompt_tokens = gen.prompt_tokens
            telemetry.completion_tokens = gen.completion_tokens
            telemetry.tokens_per_s = gen.tokens_per_s
    telemetry.total_s = round(time.perf_counter() - started, 3)
    answer.notices = notices
    answer.telemetry = telemetry
    yield answer


def ask(question: str, settings: Settings, **kwargs: Any) -> Answer:
    """Answer ``question`` without streaming (see ``ask_stream`` for the arguments)."""
    for item in ask_stream(question, settings, **kwargs):
        if isinstance(item, Answer):
            return item
    raise AssertionError("ask_stream ended without an Answer")
