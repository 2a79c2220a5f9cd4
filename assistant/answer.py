"""Cited answers to cross-paper questions, in two public steps that read top to bottom.

``gather`` (what to say it from):
1. clean      the question (empty is an error; over-long is cut with a notice)
2. condense   a follow-up into a standalone question (only when there is chat history)
3. retrieve   hybrid search with the user's filters
4. gate       relevant when the best hit is similar enough to be worth an LLM call
5. evidence   number the sources [1]..[k], each with only its best abstract sentences;
              instruction-like sentences are dropped (abstracts are untrusted text)

``answer_from`` (say it, then check it):
6. generate   from ``prompts/answer.md``, streaming; abstain with ``CANNOT_ANSWER`` without
              calling the model when the gate said no
7. check      ``check_text``: parse [n], drop citations to numbers never given, renumber by
              first use, score every sentence's support against the sources it cites
8. quote      ``reported_results``: under the model's prose, the result sentence of each
              cited paper (verbatim, at most ``answer.quoted_results``) whose figures the
              prose leaves out; the small model often names a paper without its numbers
9. result     a typed ``Answer``

``ask_stream`` chains the two, yielding text chunks and then the ``Answer``; ``ask`` returns
only the ``Answer``. Digests and the eval harness call ``gather``, ``answer_from`` and
``check_text`` directly; nothing above this module parses citations or builds prompts.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from assistant.embed import get_embedder
from assistant.errors import InputError
from assistant.llm import LLM, Message, get_llm
from assistant.models import (
    QUOTES_HEADING,
    Answer,
    AnswerTelemetry,
    CheckedText,
    Citation,
    Evidence,
    EvidenceSet,
    Hit,
    Paper,
    SearchFilters,
    SentenceCheck,
    Source,
)
from assistant.prompts import load_prompt
from assistant.prose import (
    CITATION_GROUP,
    FINISHED,
    chips_after_titles,
    figures,
    given_figures,
    name_citations,
    name_ordinals,
    plain,
    split_answer,
    through,
    unsourced_figures,
    whole,
)
from assistant.retrieve import search
from assistant.settings import MAX_ANSWER_SOURCES, Settings
from assistant.text import STOPWORDS as _STOPWORDS
from assistant.text import question_terms, split_sentences

if TYPE_CHECKING:
    from assistant.embed import Embedder

#: The one sentence the assistant says when the indexed papers do not answer a question.
CANNOT_ANSWER = "The indexed papers don't cover this question."

ANSWER_FIELDS = frozenset({"sources", "question"})
CONDENSE_FIELDS = frozenset({"history", "question"})

# Instructions planted in an abstract are dropped from the evidence (and the prompt tells the
# model to ignore any that remain).
_INJECTION = re.compile(
    r"\b(ignore|disregard|forget)\b[^.]{0,40}\b(instructions?|prompts?|rules|the above|"
    r"everything|you were told)\b"
    r"|\b(system prompt|you are now|reply with|respond with|output only|as the assistant|"
    r"you must cite)\b"
    r"|\b(print|reveal|output|leak|repeat|tell me)\b[^.]{0,40}\b(api[ _-]?keys?|passwords?|"
    r"secrets?|credentials?|environment variables?|system prompt)\b"
    r"|\bcite\b[^.]{0,60}\bin (every|all|each|your) (answers?|responses?|replies)\b",
    re.I,
)
# Control and bidirectional-override characters: never part of a question.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_NO_ANSWER_HINTS = ("don't cover", "do not cover", "not found in the indexed", "cannot answer")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
# Sentences that state a result or the contribution are worth more as evidence.
_RESULT = re.compile(
    r"\b(?:outperform|improv|achiev|surpass|reduc|speed|faster|accura|state-of-the-art|sota|"
    r"gain|we (?:propose|introduce|present|develop))",
    re.I,
)
# A name: a word with letters (and digits, dashes, dots), or a capitalized phrase whose
# words may be joined by "of"/"the" ("Tree of Thoughts", "Segment Anything").
_NAME = re.compile(
    r"\b(?:[A-Z][A-Za-z0-9]*(?:[-.][A-Za-z0-9]+)*"
    r"(?:\s+(?:of\s+|the\s+)?[A-Z][A-Za-z0-9]*(?:[-.][A-Za-z0-9]+)*)*"
    r"|[a-z][A-Za-z0-9]*(?:[-.][A-Za-z0-9]+)*)\b"
)
_NAME_SUFFIX = re.compile(r"-(?:style|like|based|free|aware|level|scale|sized|only)$", re.I)
# Acronyms every ML abstract uses: a question naming them names no particular thing.
_COMMON_TEXT = (
    "AI ML LLM VLM MLLM LVLM NLP CV RL RLHF GAN VAE CNN RNN LSTM MLP GNN KV RAG SFT QA VQA ASR "
    "TTS OCR FID BLEU ROUGE SOTA API GPU CPU TPU MOE VIT"
)
_COMMON = frozenset(_COMMON_TEXT.split())
_TITLE_LEFT_OUT = "(title left out: instruction-like text)"
#: How much more support than ``support_threshold`` a citation the checker adds must have.
REPAIR_MARGIN = 0.1
#: A citation credits its paper with another's claim when a shown paper the sentence does not
#: cite supports the sentence by this much more, and the sentence does not name the cited paper.
#: On the core suite's answers (652 citations, attached ones included) it flags 3, each a real
#: misattribution; at 0.1 it also flagged two right citations (a theory paper, a named method).
MISATTRIBUTION_MARGIN = 0.15
#: Ask retrieval for every sentence's similarity (evidence is chosen by budget, not count).
_ALL_SENTENCES = 1000
_SALIENT = re.compile(r"\b(?:\d[\d.,%x×]*|[A-Z][A-Za-z]*[A-Z0-9][A-Za-z0-9-]*)\b")


# --- 1./2. clean and condense ----------------------------------------------------------------


def clean_question(question: str, max_chars: int) -> tuple[str, list[str]]:
    """A usable question, or an InputError; over-long ones are cut with a notice."""
    text = " ".join(_CONTROL.sub(" ", question).split())
    if not text:
        raise InputError("the question is empty.")
    if len(text) > max_chars:
        return text[:max_chars].rsplit(" ", 1)[0], [
            f"the question was {len(text):,} characters; only the first {max_chars:,} were used."
        ]
    return text, []


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


def conversation(answers: Sequence[Answer]) -> list[Message]:
    """The chat history that condenses the next follow-up, from the answers so far.

    The user turn is the standalone question: it stands on its own, so the next rewrite
    never has to resolve a chain of "and that one?" turns. Every front end records it so.
    """
    history: list[Message] = []
    for a in answers:
        history += [
            Message(role="user", content=a.standalone_question),
            Message(role="assistant", content=a.answer),
        ]
    return history


#: Words by which a follow-up points back at the previous answer's papers ("which of those").
_BACK_REFERENCE = re.compile(
    r"\b(?:those|these|them|they|ones|either|both|it|its|(?:the|this|that) "
    r"(?:first|second|third|fourth|fifth|last|latter|former|paper|method|model|one|work)s?)\b",
    re.IGNORECASE,
)
#: A follow-up of at most this many words whose rewrite shares no content word with the
#: topic adds a constraint to that topic ("and without retraining?"): the topic is kept.
SHORT_FOLLOW_UP = 8


class FollowUp(NamedTuple):
    """How a follow-up is searched and asked, decided by the pipeline, not by the rewrite."""

    query: str  # what retrieval searches for
    question: str  # what the model is asked (and the next turn's topic)
    ids: list[str] | None  # the papers it is answered from, when it points back
    note: str | None  # what the reader is told about it


def follow_up(question: str, standalone: str, previous: Answer | None) -> FollowUp:
    """Keep a follow-up on the conversation's topic, whatever the small model's rewrite says.

    - It points back ("which of those", "the second one") and the previous answer had
      sources: it is answered from those papers, re-ranked for the new question.
    - It is short and the rewrite shares no content word with the topic (the rewrite dropped
      it): the topic is searched along with it.
    - Otherwise it is a question of its own: the rewrite is searched and asked.
    """
    if previous is None:
        return FollowUp(standalone, standalone, None, None)
    topic = previous.standalone_question
    kept = f"{question} (follow-up to: {topic})"
    if _BACK_REFERENCE.search(question) and previous.sources:
        ids = [s.paper_id for s in previous.sources]
        note = f"answered from the {len(ids)} sources of the previous answer, which it refers to."
        return FollowUp(f"{question} {topic}", kept, ids, note)
    dropped_topic = not question_terms(standalone) & question_terms(topic)
    if dropped_topic and len(question.split()) <= SHORT_FOLLOW_UP:
        note = f"searched together with the previous question's topic: {topic}"
        return FollowUp(f"{question} {topic}", kept, None, note)
    return FollowUp(standalone, standalone, None, None)


# --- 4. gate -----------------------------------------------------------------------------------


def is_relevant(hits: Sequence[Hit], threshold: float) -> bool:
    """Whether the best hit is similar enough to the question to be worth an LLM call."""
    return bool(hits) and max(h.similarity for h in hits) >= threshold


# --- 5. evidence -------------------------------------------------------------------------------


def drop_instructions(sentences: Sequence[str]) -> tuple[list[str], int]:
    """The sentences without instruction-like ones (planted in an abstract), and how many went."""
    clean = [s for s in sentences if not _INJECTION.search(s)]
    return clean, len(sentences) - len(clean)


def sentence_value(text: str, similarity: float, terms: set[str]) -> float:
    """How much a sentence is worth showing the model: its similarity to the question, plus
    what carries facts (numbers, results, the contribution) and the question's own words."""
    value = similarity
    if _NUMBER.search(text):
        value += 0.15
    if _RESULT.search(text):
        value += 0.05
    if terms:
        value += 0.15 * len(terms & question_terms(text)) / len(terms)
    return value


def abstract_sentences(paper: Paper) -> tuple[list[str], int]:
    """A paper's abstract sentences without planted instructions, and how many were dropped."""
    return drop_instructions(split_sentences(paper.abstract) or [paper.abstract])


def valued_sentences(
    hit: Hit, sentences: Sequence[str], terms: set[str]
) -> list[tuple[float, str]]:
    """``sentence_value`` of each of a hit's sentences, with its similarity to the question."""
    similarity = {m.text: m.score for m in hit.best_sentences}
    return [(sentence_value(t, similarity.get(t, 0.0), terms), t) for t in sentences]


def estimate_tokens(text: str) -> int:
    """Prompt tokens of English text, roughly (4 characters a token), without a tokenizer."""
    return len(text) // 4 + 1


#: What each step down the ranking costs a sentence's value in ``select_evidence``.
RANK_STEP = 0.05


def select_evidence(
    hits: Sequence[Hit], question: str, budget: int
) -> tuple[list[Evidence], list[str]]:
    """Numbered sources with the abstract sentences that best carry what the question asks,
    chosen together within a prompt-token ``budget``: every source gets its best sentence,
    then the best remaining sentences of all sources fill the budget. A sentence's value
    (``sentence_value``) is lowered by its source's rank and by how far the source's
    similarity lies below the best hit's, so the paper asked about shows its results while
    a tail source shows one line. Planted instructions are dropped."""
    terms = question_terms(question)
    top = max((hit.similarity for hit in hits), default=0.0)
    notices: list[str] = []
    pools: list[list[str]] = []
    ranked: list[tuple[float, int, str]] = []
    for rank, hit in enumerate(hits):
        clean, dropped = abstract_sentences(hit.paper)
        if dropped or _INJECTION.search(hit.paper.title):
            notices.append(
                f"source [{rank + 1}] contains instruction-like text; "
                "it was left out of the prompt."
            )
        pools.append(clean)
        penalty = RANK_STEP * rank + (top - hit.similarity)
        ranked += [(value - penalty, rank, t) for value, t in valued_sentences(hit, clean, terms)]
    ranked.sort(key=lambda item: -item[0])
    chosen: list[set[str]] = [set() for _ in hits]
    used = 0
    for _, rank, sentence in ranked:  # each source's best sentence, whatever the budget
        if not chosen[rank]:
            chosen[rank].add(sentence)
            used += estimate_tokens(sentence)
    for _, rank, sentence in ranked:
        cost = estimate_tokens(sentence)
        if sentence not in chosen[rank] and used + cost <= budget:
            chosen[rank].add(sentence)
            used += cost
    evidence = [
        # The abstract's own order: sentences read better that way.
        Evidence(
            number=rank + 1,
            paper=hit.paper,
            sentences=[t for t in pools[rank] if t in chosen[rank]],
            similarity=hit.similarity,
        )
        for rank, hit in enumerate(hits)
    ]
    return evidence, notices


def named_terms(question: str) -> list[str]:
    """Names a question asks about: GPT-4o, ImageNet, SWE-bench, ECG (a capital after the
    first letter, or letters with digits), and capitalized phrases inside a sentence (Jamba,
    Tree of Thoughts). Everyday ML acronyms (LLM, FID) and suffixes like "-style" are left out."""
    names = []
    for match in _NAME.finditer(question):
        words = match.group().split()
        starts_sentence = not re.search(r"\w[^.!?:]*$", question[: match.start()])
        if starts_sentence and not _mixed(words[0]):
            words = words[1:]  # "Which", "Keeping CLIP" -> "CLIP"
        name = _NAME_SUFFIX.sub("", " ".join(words))
        if not name or name.lower() in _STOPWORDS or name.rstrip("s").upper() in _COMMON:
            continue
        if _mixed(name) or " " in name or name[0].isupper():
            names.append(name)
    return list(dict.fromkeys(names))


def _mixed(word: str) -> bool:
    """A capital after the first letter, or letters mixed with digits: a made-up name."""
    return any(c.isupper() for c in word[1:]) or (
        any(c.isdigit() for c in word) and any(c.isalpha() for c in word)
    )


def _squash(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", text.lower())


def uncovered_terms(question: str, papers: Sequence[Paper]) -> list[str]:
    """The names in the question that none of ``papers`` mentions (spelling and plural
    insensitive: "Llama 2" matches LLaMA-2, "Gaussian" matches Gaussians)."""
    hay = " ".join(_squash(p.text) for p in papers)
    return [t for t in named_terms(question) if _squash(t).removesuffix("s") not in hay]


def format_sources(evidence: Sequence[Evidence]) -> str:
    """The sources block of a prompt: each paper's sentences fenced as data in a ``<paper>``
    element carrying its number and title. (A "[1] Title" line per source, the old layout, led
    the small model to answer with a bare list of numbers and titles.)"""

    def inert(text: str) -> str:
        return text.replace("<", "‹").replace(">", "›").replace('"', "'")

    blocks = []
    for ev in evidence:
        title = ev.paper.title if not _INJECTION.search(ev.paper.title) else _TITLE_LEFT_OUT
        text = inert(ev.text)
        blocks.append(f'<paper number="{ev.number}" title="{inert(title)}">\n{text}\n</paper>')
    return "\n\n".join(blocks)


def gather(
    question: str,
    settings: Settings,
    *,
    history: Sequence[Message] = (),
    previous: Answer | None = None,
    filters: SearchFilters | None = None,
    mode: str | None = None,
    k: int | None = None,
    llm: LLM | None = None,
    ids: Sequence[str] | None = None,
) -> EvidenceSet:
    """Steps 1-5: the standalone question, its hits, the numbered evidence and the gate;
    ``ids`` restricts the sources to those papers ("ask about this paper"). ``previous`` is
    the conversation's last answer: a follow-up keeps its topic or its sources (``follow_up``).
    """
    started = time.perf_counter()
    k = settings.answer.k if k is None else k
    if isinstance(k, bool) or not 1 <= k <= MAX_ANSWER_SOURCES:
        raise InputError(f"-k must be between 1 and {MAX_ANSWER_SOURCES}, not {k}.")
    question, notices = clean_question(question, settings.answer.max_question_chars)
    telemetry = AnswerTelemetry()

    t0 = time.perf_counter()
    points_back = previous is not None and bool(_BACK_REFERENCE.search(question))
    standalone = (
        condense_question(llm or get_llm(settings), history, question)
        if history and not points_back  # answered from the previous sources: no rewrite needed
        else question
    )
    turn = follow_up(question, standalone, previous)
    standalone = turn.question
    if turn.note:
        notices.append(turn.note)
    telemetry.condense_ms = _ms(t0)

    t0 = time.perf_counter()
    result = search(
        settings,
        turn.query,
        k=k,
        mode=mode,
        filters=filters or SearchFilters(),
        sentences=True,
        sentence_limit=_ALL_SENTENCES,
        ids=turn.ids if turn.ids is not None else ids,
    )
    notices += result.notices

    relevant = is_relevant(result.hits, settings.answer.min_relevance)
    uncovered = uncovered_terms(turn.query, [h.paper for h in result.hits]) if relevant else []
    if uncovered:
        relevant = False
        names = ", ".join(f"'{t}'" for t in uncovered)
        notices.append(f"none of the closest papers mentions {names}; they are listed instead.")
    evidence, dropped = select_evidence(result.hits, standalone, settings.answer.evidence_tokens)
    telemetry.retrieval_ms = _ms(t0)
    gathered = EvidenceSet(
        question=question,
        standalone_question=standalone,
        hits=result.hits,
        evidence=evidence,
        relevant=relevant,
        uncovered=uncovered,
        notices=notices + dropped,
        telemetry=telemetry,
    )
    gathered._started = started
    return gathered


# --- 6. generate -------------------------------------------------------------------------------


def answer_prompt(gathered: EvidenceSet) -> list[Message]:
    """The chat messages that ask the model to answer from the evidence."""
    # "[2]" typed in a question would read as a citation marker next to the numbered sources.
    question = CITATION_GROUP.sub(r"(ref \1)", gathered.standalone_question)
    return load_prompt("answer", ANSWER_FIELDS).render(
        sources=format_sources(gathered.evidence), question=question
    )


def answer_from(
    gathered: EvidenceSet, settings: Settings, *, llm: LLM | None = None
) -> Iterator[str | Answer]:
    """Steps 6-8: yields text chunks while the model writes, then the checked ``Answer``.

    When the gate said no, the model is not called: the answer is ``CANNOT_ANSWER`` with the
    closest papers listed as (uncited) sources.
    """
    llm = llm or get_llm(settings)
    embedder = get_embedder(settings)
    telemetry = gathered.telemetry.model_copy(update={"model": llm.name, "provider": llm.provider})
    if not gathered.relevant:
        answer = build_answer(gathered, CANNOT_ANSWER, embedder, 0.0)
    else:
        stream = llm.stream(answer_prompt(gathered))
        generation_started = gathered.elapsed_s()
        looped = False
        with stream:
            for chunk in stream:
                yield chunk
                if not chunk.strip():
                    continue
                if repeats_itself(stream.text):
                    looped = True
                    break
                if first_sentences(stream.text, settings.answer.max_sentences) is not None:
                    break
        gen = stream.telemetry
        text = drop_repetition(stream.text) if looped else stream.text
        # Never end mid-sentence: cut at the sentence cap, or drop what max_new_tokens cut.
        text = first_sentences(text, settings.answer.max_sentences) or whole(text)
        t0 = time.perf_counter()
        answer = build_answer(
            gathered,
            text,
            embedder,
            settings.answer.support_threshold,
            quoted_results=settings.answer.quoted_results,
        )
        if looped:
            answer.notices.append("the model started repeating itself; it was stopped there.")
        telemetry.check_ms = _ms(t0)
        if gen is not None:
            telemetry.ttft_s = (
                None if gen.ttft_s is None else round(generation_started + gen.ttft_s, 3)
            )
            telemetry.generation_s = gen.total_s
            telemetry.prompt_tokens = gen.prompt_tokens
            telemetry.completion_tokens = gen.completion_tokens
            telemetry.tokens_per_s = gen.tokens_per_s
    telemetry.total_s = round(gathered.elapsed_s(), 3)
    answer.notices = [*gathered.notices, *answer.notices]
    answer.telemetry = telemetry
    yield answer


def repeats_itself(text: str) -> bool:
    """Whether the last finished sentence of ``text`` was already written (a decoding loop)."""
    done = split_answer(text)
    if len(done) < 2 or not FINISHED.search(text):
        return False
    last = _squash(CITATION_GROUP.sub("", done[-1]))
    return len(last) > 10 and any(_squash(CITATION_GROUP.sub("", s)) == last for s in done[:-1])


def first_sentences(text: str, n: int) -> str | None:
    """``text`` up to the end of its n-th sentence once the one after it has begun (None
    before): where a stream is stopped at the sentence cap."""
    sentences = split_answer(text)
    return through(text, sentences, n) if len(sentences) > n else None


def drop_repetition(text: str) -> str:
    """``text`` without sentences that repeat an earlier one."""
    seen: set[str] = set()
    kept = []
    for sentence in split_answer(text):
        key = _squash(CITATION_GROUP.sub("", sentence))
        if key not in seen:
            seen.add(key)
            kept.append(sentence)
    return " ".join(kept)


# --- 7. check ----------------------------------------------------------------------------------


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


_PAPER_MENTION = re.compile(
    r"\b(?:the\s+)?(?:papers?|sources?|excerpts?)\s+"
    r"(\d{1,2}(?:\s*(?:,\s*and|,|and|&)\s*\d{1,2})*)\b(?!\s*\]|\.\d|%|[-–])"
    r"((?:\s*\[[\d,\s]+\])*)",
    re.I,
)


def cite_paper_mentions(text: str, valid: set[int]) -> str:
    """Mentions like "Paper 2" or "Papers 1 and 3" written as citations ("[2]", "[1] and
    [3]"), so they are checked and renumbered with the rest; a citation right after ("Paper 2
    [2]") is merged. Mentions of unknown numbers are left as written."""

    def replace(match: re.Match[str]) -> str:
        numbers = [int(n) for n in re.findall(r"\d+", match.group(1))]
        if not set(numbers) <= valid:
            return match.group(0)
        cites = [f"[{n}]" for n in numbers]
        said = cites[0] if len(cites) == 1 else ", ".join(cites[:-1]) + " and " + cites[-1]
        after = [n for n in cited_numbers(match.group(2)) if n not in numbers]
        return said + "".join(f"[{n}]" for n in after)

    return _PAPER_MENTION.sub(replace, text)


def renumber_citations(
    text: str, valid: set[int], *, renumber: bool = True
) -> tuple[str, dict[int, int], int]:
    """Drop citations to unknown numbers and renumber the rest by first use (or keep them).

    Returns the new text, the map old -> new number of the numbers used, and how many
    citations were removed.
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
            mapping.setdefault(n, len(mapping) + 1 if renumber else n)
            if mapping[n] not in kept:
                kept.append(mapping[n])
        return "".join(f"[{n}]" for n in kept)

    new_text = CITATION_GROUP.sub(replace, text)
    new_text = re.sub(r"[ \t]+([.,;:])", r"\1", re.sub(r"[ \t]{2,}", " ", new_text)).strip()
    return new_text, mapping, removed


def _lexical_support(sentence: str, sources_text: str) -> tuple[float | None, bool]:
    """Share of the sentence's numbers and names found in the cited abstracts, and whether
    every number is among them (a wrong figure is the typical slip of a small model)."""
    salient = {t.lower().rstrip(".,") for t in _SALIENT.findall(sentence)} - {""}
    if not salient:
        return None, True
    hay = sources_text.lower()
    numbers_ok = all(n in hay for n in _NUMBER.findall(sentence))
    return sum(1 for t in salient if t in hay) / len(salient), numbers_ok


class SupportScorer:
    """How well papers support a sentence: the best cosine similarity to one of their
    abstract sentences, blended with the share of the sentence's numbers and names found in
    them. Supported means the score reaches ``threshold`` and every number is there."""

    def __init__(self, embedder: Embedder, threshold: float) -> None:
        self.embedder = embedder
        self.threshold = threshold

    def score(self, sentence: str, papers: Sequence[Paper]) -> tuple[float, bool]:
        """(support score, supported) of a sentence (citations stripped) by ``papers``."""
        evidence = [s for p in papers for s in split_sentences(p.text)]
        if not evidence:
            return 0.0, False
        vectors = self.embedder.embed([sentence, *evidence])
        semantic = float(np.max(vectors[1:] @ vectors[0]))
        lexical, numbers_ok = _lexical_support(sentence, " ".join(p.text for p in papers))
        score = semantic if lexical is None else 0.7 * semantic + 0.3 * lexical
        return round(score, 3), score >= self.threshold and numbers_ok


def cited_numbers(sentence: str) -> list[int]:
    """The source numbers a sentence cites, in order, once each."""
    found = [n for g in CITATION_GROUP.findall(sentence) for n in parse_citation_group(g)]
    return list(dict.fromkeys(found))


def verify_citations(
    sentences: Sequence[str],
    cited_papers: dict[int, Paper],
    embedder: Embedder,
    threshold: float,
    shown: Sequence[Paper] = (),
) -> list[SentenceCheck]:
    """Score each sentence against the papers it cites (``SupportScorer``).

    A sentence is supported when all its cited papers together support it and each of them
    alone supports it enough to be cited (``supported_by``): crediting one paper's finding
    to two papers leaves the second citation unsupported. So does crediting it to the wrong
    paper: a cited paper is ``misattributed`` when one of the ``shown`` papers that the
    sentence does not cite supports it clearly better (``MISATTRIBUTION_MARGIN``).
    """
    scorer = SupportScorer(embedder, threshold)
    checks: list[SentenceCheck] = []
    for sentence in sentences:
        numbers = [n for n in cited_numbers(sentence) if n in cited_papers]
        check = SentenceCheck(text=sentence, citations=numbers)
        plain = CITATION_GROUP.sub("", sentence).strip()
        if numbers and plain:
            score, together = scorer.score(plain, [cited_papers[n] for n in numbers])
            alone = {n: scorer.score(plain, [cited_papers[n]])[0] for n in numbers}
            check.support = score
            check.supported_by = [n for n in numbers if alone[n] >= threshold]
            if check.supported_by:
                mine = {n: cited_papers[n] for n in numbers}
                wrong = _misattributed(plain, mine, alone, shown, scorer)
                check.misattributed = [n for n in check.supported_by if n in wrong]
                check.supported_by = [n for n in check.supported_by if n not in wrong]
            check.supported = together and len(check.supported_by) == len(numbers)
        checks.append(check)
    return checks


def _misattributed(
    sentence: str,
    cited: dict[int, Paper],
    alone: dict[int, float],
    shown: Sequence[Paper],
    scorer: SupportScorer,
) -> list[int]:
    """The cited papers that a shown paper the sentence does not cite supports clearly better
    (by ``MISATTRIBUTION_MARGIN``, and at least at the threshold), unless the sentence names
    them; ``alone`` holds each cited paper's own support score."""
    cited_ids = {paper.id for paper in cited.values()}
    others = [p for p in shown if p.id not in cited_ids]
    best = max((scorer.score(sentence, [p])[0] for p in others), default=0.0)
    if best < scorer.threshold:
        return []
    return [
        n
        for n, paper in cited.items()
        if best - alone[n] >= MISATTRIBUTION_MARGIN
        and paper.short_name.lower() not in sentence.lower()
    ]


def repair_citations(
    sentences: Sequence[str], evidence: Sequence[Evidence], embedder: Embedder, threshold: float
) -> dict[int, int]:
    """For each sentence that cites nothing, the evidence number of the shown source that
    supports it best, when one does clearly (sentence index -> number): adding a citation
    the model did not write asks for more than keeping one it did (``REPAIR_MARGIN``)."""
    scorer = SupportScorer(embedder, threshold + REPAIR_MARGIN)
    attach: dict[int, int] = {}
    for i, sentence in enumerate(sentences):
        plain = CITATION_GROUP.sub("", sentence).strip()
        if cited_numbers(sentence) or len(plain.split()) < 4:
            continue
        scored = [(scorer.score(plain, [ev.paper]), ev.number) for ev in evidence]
        best = max(scored, key=lambda item: item[0][0], default=None)
        if best is not None and best[0][1]:
            attach[i] = best[1]
    return attach


def _cite(sentence: str, number: int) -> str:
    """The sentence with ``[number]`` before its closing punctuation."""
    body = sentence.rstrip()
    end = len(body.rstrip(".!?:;"))
    return f"{body[:end]} [{number}]{body[end:]}"


def is_abstention(text: str) -> bool:
    """Whether the model declined, in our words or close to them."""
    flat = text.strip().lower().replace("’", "'")
    return flat.startswith(CANNOT_ANSWER.lower()[:30]) or (
        len(flat) < 160 and any(h in flat for h in _NO_ANSWER_HINTS)
    )


def check_text(
    raw_text: str,
    evidence: Sequence[Evidence],
    embedder: Embedder,
    threshold: float,
    *,
    renumber: bool = True,
    repair: bool = True,
    question: str = "",
    lists: bool = False,
) -> CheckedText:
    """The one citation check, for an answer or any other generated paragraph.

    The prose is made readable first (``prose``): markdown removed (``lists``: a list made
    sentences), an unfinished end trimmed, "the fourth paper" named and cited, a chip inside a
    quoted title moved after it. "Paper N"
    becomes the citation [N] (``cite_paper_mentions``), so the text never names a number
    that renumbering changed. Citations to numbers not in ``evidence``
    are removed and counted; with ``repair`` a sentence that cites nothing gets the shown
    source that supports it (marked ``attached``); with ``renumber`` citations are renumbered
    by first use (else they keep the evidence numbers, so a page that numbers its sources once
    can check each paragraph against all of them). Every sentence is scored against the papers
    it cites, and against the other shown papers for misattribution (``verify_citations``);
    one stating a figure that no shown paper nor the ``question`` gives is not supported
    (``unsourced``). Last, chips that stand for a paper get its name ("The paper by [1]
    shows" -> "MemoryFormer [1] shows"), after the scoring, which a name would sway.
    """
    by_number = {ev.number: ev for ev in evidence}
    text = whole(plain(raw_text, lists=lists))
    text = name_ordinals(text, [(ev.number, ev.paper) for ev in evidence])
    text = chips_after_titles(text, [ev.paper for ev in evidence])
    text = cite_paper_mentions(text, set(by_number))
    text, _, removed = renumber_citations(text, set(by_number), renumber=False)
    attached: dict[int, int] = {}
    if repair:
        parts = split_answer(text)
        attached = repair_citations(parts, evidence, embedder, threshold)
        for i, number in attached.items():
            text = text.replace(parts[i], _cite(parts[i], number), 1)
    text, numbering, _ = renumber_citations(text, set(by_number), renumber=renumber)
    cited = {new: by_number[old].paper for old, new in numbering.items()}
    shown = [ev.paper for ev in evidence]
    sentences = verify_citations(split_answer(text), cited, embedder, threshold, shown)
    for i, old in attached.items():
        if i < len(sentences) and old in numbering:
            sentences[i].attached = [numbering[old]]
    given = given_figures(question, *(paper.text for paper in shown))
    for check in sentences:
        check.unsourced = unsourced_figures(check.text, given)
        if check.unsourced:
            check.supported = False
        check.text = name_citations(check.text, cited)
    text = name_citations(text, cited)
    return CheckedText(
        text=text, sentences=sentences, numbering=numbering, invalid_citations=removed
    )


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
    if is_abstention(raw_text):
        return Answer(
            question=question,
            standalone_question=standalone,
            answer=CANNOT_ANSWER,
            abstained=True,
            sources=[_source(ev.number, ev, cited=False) for ev in evidence],
        )
    asked = question if question == standalone else f"{question}\n{standalone}"
    checked = check_text(raw_text, evidence, embedder, threshold, question=asked)
    if checked.sentences and not any(c.supported for c in checked.sentences):
        honest = build_answer(gathered, CANNOT_ANSWER, embedder, threshold)
        honest.notices.append(
            "the model's draft was withheld: none of its sentences is supported by the papers "
            "it was shown; the closest papers are listed instead."
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
        quoted = []
        for ev, quote in quotes:
            n = checked.numbering[ev.number]
            quoted.append(
                SentenceCheck(
                    text=f"“{quote}” [{n}]",
                    citations=[n],
                    support=1.0,
                    supported=True,
                    supported_by=[n],
                    quoted=True,
                )
            )
        text += "\n\n" + QUOTES_HEADING + "\n" + "\n".join(q.text for q in quoted)
        sentences += quoted
    citations = []
    for new in sorted(new_to_old):
        ev = by_number[new_to_old[new]]
        citing = [c for c in sentences if new in c.citations]
        citations.append(
            Citation(
                number=new,
                paper_id=ev.paper.id,
                title=ev.paper.title,
                date=_date(ev.paper),
                links=ev.paper.links,
                evidence=ev.sentences,
                supported=bool(citing) and all(c.supported for c in citing),
                paper=ev.paper,
            )
        )
    # Sources keep answer numbering: cited ones first by citation number, the rest after.
    uncited = [ev for ev in evidence if ev.number not in checked.numbering]
    sources = [_source(new, by_number[new_to_old[new]], cited=True) for new in sorted(new_to_old)]
    sources += [_source(len(citations) + i, ev, cited=False) for i, ev in enumerate(uncited, 1)]
    return Answer(
        question=question,
        standalone_question=standalone,
        answer=text,
        abstained=False,
        sentences=sentences,
        citations=citations,
        sources=sources,
        invalid_citations=checked.invalid_citations,
        unsupported=checked.unsupported,
        uncited=checked.uncited,
    )


# --- the two steps chained ---------------------------------------------------------------------


def ask_stream(
    question: str,
    settings: Settings,
    *,
    history: Sequence[Message] = (),
    previous: Answer | None = None,
    filters: SearchFilters | None = None,
    mode: str | None = None,
    k: int | None = None,
    llm: LLM | None = None,
) -> Iterator[str | Answer]:
    """Answer ``question``: yields text chunks while the model writes, then the ``Answer``."""
    llm = llm or get_llm(settings)
    gathered = gather(
        question,
        settings,
        history=history,
        previous=previous,
        filters=filters,
        mode=mode,
        k=k,
        llm=llm,
    )
    yield from answer_from(gathered, settings, llm=llm)


def ask(question: str, settings: Settings, **kwargs: Any) -> Answer:
    """Answer ``question`` without streaming (see ``ask_stream`` for the arguments)."""
    return final_answer(ask_stream(question, settings, **kwargs))


def final_answer(stream: Iterable[str | Answer]) -> Answer:
    """The ``Answer`` at the end of an ``ask_stream``/``answer_from`` stream (chunks skipped)."""
    for item in stream:
        if isinstance(item, Answer):
            return item
    raise AssertionError("the answer stream ended without an Answer")


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 1)
