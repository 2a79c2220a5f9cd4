"""Cited answers to cross-paper questions, in two public steps that read top to bottom.

``evidence.gather`` (steps 1-5: clean, condense, retrieve, gate, evidence), then
``answer_from`` (say it, then check it):
6. generate   from ``prompts/answer.md``, streaming (``generate``); abstain with
              ``CANNOT_ANSWER`` without calling the model when the gate said no
7. check      ``citations.check_text``: parse [n], drop citations to numbers never given,
              renumber by first use, score every sentence's support against its sources
8. quote      ``reported_results``: under the model's prose, the result sentence of each
              cited paper (verbatim, at most ``answer.quoted_results``) whose figures the
              prose leaves out; the small model often names a paper without its numbers
9. result     a typed ``Answer``; a question that asks to compare ("compare these", "in a
              table") also gets its sources side by side (``compare.compare``)

``answer_from`` and ``ask_stream`` (the two chained) return an ``AnswerStream``: iterate it for
the text as the model writes, then read ``.result``; ``ask`` returns only the ``Answer``.
Digests and the eval harness call ``gather``, ``answer_from`` and ``check_text`` directly;
nothing above the stages parses citations or builds prompts.
"""

from __future__ import annotations

import time
from collections.abc import Generator, Sequence
from typing import TYPE_CHECKING, Any

from assistant.citations import CANNOT_ANSWER, check_text, is_abstention
from assistant.compare import asks_for_table, compare
from assistant.coverage import beyond_previous_sentence, condition_verb, not_covered_sentence
from assistant.embed import get_embedder
from assistant.evidence import abstract_sentences, format_sources, gather, valued_sentences
from assistant.generate import Generation
from assistant.llm import LLM, Message, get_llm
from assistant.models import (
    QUOTES_HEADING,
    Answer,
    Citation,
    Evidence,
    EvidenceSet,
    Hit,
    Paper,
    SentenceCheck,
    Source,
)
from assistant.models.compare import Comparison
from assistant.prompts import load_prompt
from assistant.prose import CITATION_GROUP, figures
from assistant.settings import Settings
from assistant.streams import ResultStream
from assistant.text import elapsed_ms, question_terms, spoken_list

if TYPE_CHECKING:
    from assistant.embed import Embedder

ANSWER_FIELDS = frozenset({"sources", "question"})


# --- 6. generate -------------------------------------------------------------------------------


def answer_prompt(gathered: EvidenceSet) -> list[Message]:
    """The chat messages that ask the model to answer from the evidence."""
    # "[2]" typed in a question would read as a citation marker next to the numbered sources.
    question = CITATION_GROUP.sub(r"(ref \1)", gathered.standalone_question)
    return load_prompt("answer", ANSWER_FIELDS).render(
        sources=format_sources(gathered.evidence), question=question
    )


class AnswerStream(ResultStream[str, Answer]):
    """An answer as it is written: iterate for the model's text chunks, then read ``result``
    for the checked ``Answer`` (reading it first lets the rest be written unseen)."""


def answer_from(
    gathered: EvidenceSet, settings: Settings, *, llm: LLM | None = None
) -> AnswerStream:
    """Steps 6-8: the model's text chunks as it writes, then the checked ``Answer``.

    When the gate said no, the model is not called: the answer is ``CANNOT_ANSWER`` with the
    closest papers listed as (uncited) sources.
    """
    return AnswerStream(_answer_steps(gathered, settings, llm or get_llm(settings)))


def _answer_steps(
    gathered: EvidenceSet, settings: Settings, llm: LLM
) -> Generator[str, None, Answer]:
    embedder = get_embedder(settings)
    telemetry = gathered.telemetry.model_copy(update={"model": llm.name, "provider": llm.provider})
    if not gathered.relevant:
        answer = build_answer(gathered, CANNOT_ANSWER, embedder, 0.0)
    else:
        generation_started = gathered.elapsed_s()
        written = Generation(
            llm, answer_prompt(gathered), max_sentences=settings.answer.max_sentences
        )
        yield from written
        gen = written.telemetry
        t0 = time.perf_counter()
        answer = build_answer(
            gathered,
            written.text,
            embedder,
            settings.answer.support_threshold,
            quoted_results=settings.answer.quoted_results,
        )
        if written.looped:
            answer.notices.append("the model started repeating itself; it was stopped there.")
        telemetry.check_ms = elapsed_ms(t0)
        if gen is not None:
            telemetry.ttft_s = (
                None if gen.ttft_s is None else round(generation_started + gen.ttft_s, 3)
            )
            telemetry.generation_s = gen.total_s
            telemetry.prompt_tokens = gen.prompt_tokens
            telemetry.completion_tokens = gen.completion_tokens
            telemetry.tokens_per_s = gen.tokens_per_s
    if gathered.relevant and asks_for_table(gathered.question) and answer.sources:
        answer.comparison = compared(answer, gathered)
    telemetry.total_s = round(gathered.elapsed_s(), 3)
    answer.notices = [*gathered.notices, *answer.notices]
    answer.telemetry = telemetry
    return answer


def compared(answer: Answer, gathered: EvidenceSet) -> Comparison:
    """The answer's sources side by side (cited first), numbered as the answer numbers
    them: what "compare these" asks for, cut from the abstracts like a digest's table."""
    papers = {ev.paper.id: ev.paper for ev in gathered.evidence}
    shown = [papers[s.paper_id] for s in answer.sources if s.paper_id in papers]
    numbers = {s.paper_id: s.number for s in answer.sources}
    return compare(shown, gathered.standalone_question, numbers)


# --- 8. quote ----------------------------------------------------------------------------------


def reported_results(
    prose: str, cited: Sequence[Evidence], hits: Sequence[Hit], question: str, limit: int
) -> list[tuple[Evidence, str]]:
    """For the papers the prose cites (``cited``, first cited first), the abstract sentence
    that reports figures the prose does not state, the one best for the question
    (``sentence_value``), at most one a paper and ``limit`` in all."""
    terms = question_terms(question)
    stated = figures(prose)
    by_id = {hit.paper.id: hit for hit in hits}
    quotes: list[tuple[Evidence, str]] = []
    for ev in cited:
        if len(quotes) >= limit:
            break
        hit = by_id.get(ev.paper.id)
        sentences = [
            t for t in abstract_sentences(ev.paper)[0] if figures(t) - stated and len(t) <= 400
        ]
        if hit is None or not sentences:
            continue
        _, best = max(valued_sentences(hit, sentences, terms), key=lambda item: item[0])
        quotes.append((ev, best))
        stated |= figures(best)
    return quotes


# --- 9. result ---------------------------------------------------------------------------------


def _date(paper: Paper) -> str | None:
    return paper.published.isoformat() if paper.published else None


def _source(number: int, ev: Evidence, cited: bool) -> Source:
    return Source(
        number=number,
        paper_id=ev.paper.id,
        title=ev.paper.title,
        date=_date(ev.paper),
        cited=cited,
        similarity=ev.similarity,
    )


def _sources(cited: Sequence[Evidence], uncited: Sequence[Evidence]) -> list[Source]:
    """The answer's sources in its numbering: the cited ones first (1, 2, ... in citation
    order), the rest after them."""
    return [_source(n, ev, cited=True) for n, ev in enumerate(cited, 1)] + [
        _source(len(cited) + n, ev, cited=False) for n, ev in enumerate(uncited, 1)
    ]


def _quote(sentence: str, number: int) -> SentenceCheck:
    """An abstract's sentence quoted under the answer, citing its paper's ``number``."""
    return SentenceCheck(
        text=f"“{sentence}” [{number}]",
        citations=[number],
        support=1.0,
        supported=True,
        supported_by=[number],
        quoted=True,
    )


def _quotes_text(quotes: Sequence[SentenceCheck]) -> str:
    """The quotes as the answer's text ends with them, under ``QUOTES_HEADING``."""
    return f"\n\n{QUOTES_HEADING}\n" + "\n".join(q.text for q in quotes)


def _citation(number: int, ev: Evidence, sentences: Sequence[SentenceCheck]) -> Citation:
    """Source ``ev`` as cited by ``number`` in the answer's checked ``sentences``."""
    citing = [c for c in sentences if number in c.citations and not c.note]
    return Citation(
        number=number,
        paper_id=ev.paper.id,
        title=ev.paper.title,
        date=_date(ev.paper),
        links=ev.paper.links,
        evidence=ev.sentences,
        supported=bool(citing) and all(c.supported for c in citing),
        on_question=not any(c.off_question for c in citing),
        paper=ev.paper,
    )


def stated_answer(gathered: EvidenceSet) -> Answer | None:
    """The answer to a follow-up that picked its papers by what it asks of them ("Which of
    those need no fine-tuning?") when the model's draft was withheld: the sentence of each
    paper that states it, quoted, after a line naming them. Each paper was picked for that
    sentence, so its own words answer; none is the model's. None when no paper was picked so.
    (The demo's "[1] does not need fine-tuning, while [2] needs fine-tuning" of two papers
    that both say they need none: withheld, and the reader got "don't cover".)"""
    picked = [ev for ev in gathered.evidence if ev.number in gathered.stated]
    if not picked:
        return None
    condition, one = gathered.condition, len(picked) == 1
    said = condition if condition.startswith("without ") else f"“{condition}”"
    verb = f"{condition_verb(condition, one)} {said}"
    names = spoken_list([f"{ev.paper.short_name} [{n}]" for n, ev in enumerate(picked, 1)])
    lead = SentenceCheck(
        text=f"{names} {verb}.", citations=list(range(1, len(picked) + 1)), note=True
    )
    quotes = [_quote(gathered.stated[ev.number], n) for n, ev in enumerate(picked, 1)]
    sentences = [lead, *quotes]
    rest = [ev for ev in gathered.evidence if ev.number not in gathered.stated]
    return Answer(
        question=gathered.question,
        standalone_question=gathered.standalone_question,
        answer=lead.text + _quotes_text(quotes),
        abstained=False,
        sentences=sentences,
        citations=[_citation(n, ev, sentences) for n, ev in enumerate(picked, 1)],
        sources=_sources(picked, rest),
    )


def opening(gathered: EvidenceSet) -> str | None:
    """The answer's first sentence, the pipeline's own, where the sources lack what is asked:
    parts of the question covered by no paper (what is missing, and the closest papers: those
    shown, first two), or a follow-up's condition that none of the previous answer's papers
    states."""
    if gathered.uncovered:
        closest = [ev.paper.short_name for ev in gathered.evidence[:2]]
        return not_covered_sentence(gathered.uncovered, closest)
    if gathered.beyond_previous:
        return beyond_previous_sentence(gathered.beyond_previous, len(gathered.evidence))
    return None


def build_answer(
    gathered: EvidenceSet,
    raw_text: str,
    embedder: Embedder,
    threshold: float,
    *,
    quoted_results: int = 0,
) -> Answer:
    """Check the model's text against its evidence and assemble the typed ``Answer``, with up
    to ``quoted_results`` result sentences of supported sources quoted under it."""
    evidence = gathered.evidence
    question, standalone = gathered.question, gathered.standalone_question
    draft = raw_text if gathered.relevant else ""
    if is_abstention(raw_text):
        return Answer(
            question=question,
            standalone_question=standalone,
            answer=CANNOT_ANSWER,
            abstained=True,
            draft=draft,
            sources=[_source(ev.number, ev, cited=False) for ev in evidence],
        )
    asked = question if question == standalone else f"{question}\n{standalone}"
    checked = check_text(raw_text, evidence, embedder, threshold, question=asked)
    if checked.withheld:
        stated = stated_answer(gathered)
        honest = stated or build_answer(gathered, CANNOT_ANSWER, embedder, threshold)
        honest.draft = draft
        instead = (
            "what its papers say of what was asked is quoted"
            if stated
            else "the closest papers are listed"
        )
        honest.notices.append(
            f"the model's draft was withheld: {checked.WITHHELD}; {instead} instead."
        )
        return honest
    by_number = {ev.number: ev for ev in evidence}
    new_to_old = {new: old for old, new in checked.numbering.items()}
    text, sentences = checked.text, list(checked.sentences)
    supported = {n for c in checked.sentences for n in c.supported_by}
    quotes = reported_results(
        text,
        [by_number[new_to_old[n]] for n in sorted(supported)],
        gathered.hits,
        standalone,
        quoted_results,
    )
    if quotes:
        quoted = [_quote(quote, checked.numbering[ev.number]) for ev, quote in quotes]
        text += _quotes_text(quoted)
        sentences += quoted
    first = opening(gathered)
    if first:  # the model was shown what there is: say first what there is not
        note = SentenceCheck(text=first, citations=[], note=True)
        text = f"{note.text} {text}"
        sentences.insert(0, note)
    citations = [
        _citation(new, by_number[new_to_old[new]], sentences) for new in sorted(new_to_old)
    ]
    # Sources keep answer numbering: cited ones first by citation number, the rest after.
    uncited = [ev for ev in evidence if ev.number not in checked.numbering]
    sources = _sources([by_number[new_to_old[new]] for new in sorted(new_to_old)], uncited)
    return Answer(
        question=question,
        standalone_question=standalone,
        answer=text,
        abstained=False,
        draft=draft,
        sentences=sentences,
        citations=citations,
        sources=sources,
        invalid_citations=checked.invalid_citations,
        unsupported=checked.unsupported,
        uncited=checked.uncited,
    )


# --- the two steps chained ---------------------------------------------------------------------


def ask_stream(
    question: str, settings: Settings, *, llm: LLM | None = None, **options: Any
) -> AnswerStream:
    """Answer ``question``: the text chunks while the model writes, then ``.result``. Nothing
    runs until the stream is read. ``options`` are ``gather``'s (history, previous, filters,
    mode, k, ids); one model serves both steps."""

    def steps() -> Generator[str, None, Answer]:
        model = llm or get_llm(settings)
        gathered = gather(question, settings, llm=model, **options)
        return (yield from _answer_steps(gathered, settings, model))

    return AnswerStream(steps())


def ask(question: str, settings: Settings, **kwargs: Any) -> Answer:
    """Answer ``question`` without streaming (see ``ask_stream`` for the arguments)."""
    return ask_stream(question, settings, **kwargs).result
