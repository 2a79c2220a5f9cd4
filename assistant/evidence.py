"""Step 1-5 of a question's path, ``gather``: what an answer is said from.

1. clean      the question (empty is an error; over-long is cut with a notice)
2. condense   a follow-up into a standalone question (only when there is chat history);
              ``follow_up`` keeps the conversation's topic or sources, whatever the rewrite
3. retrieve   hybrid search with the user's filters
4. gate       relevant when the best hit is similar enough to be worth an LLM call, and the
              names the question asks about occur in the hits
5. evidence   number the sources [1]..[k], each with only its best abstract sentences;
              instruction-like sentences are dropped (abstracts are untrusted text)

The answer path (``answer.answer_from``) and digests read what ``gather`` returns.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from typing import NamedTuple

from assistant.coverage import (
    COVER_SIMILARITY,
    Coverage,
    asked_without,
    condition_verb,
    coverage,
    denying_sentence,
    made_up,
    main_parts,
    missing_names,
    question_parts,
    stating_sentence,
    uses_words,
)
from assistant.embed import Embedder, get_embedder
from assistant.errors import InputError
from assistant.llm import LLM, Message, get_llm
from assistant.models import (
    Answer,
    AnswerTelemetry,
    Evidence,
    EvidenceSet,
    Hit,
    Paper,
    SearchFilters,
)
from assistant.prompts import load_prompt
from assistant.retrieve import reciprocal_rank_fusion, search
from assistant.settings import MAX_ANSWER_SOURCES, Settings
from assistant.text import CONTROL, elapsed_ms, question_terms, split_sentences
from assistant.text import STOPWORDS as _STOPWORDS

CONDENSE_FIELDS = frozenset({"history", "question"})

# Instructions planted in an abstract are dropped from the evidence (and the prompt tells the
# model to ignore any that remain). A paper that studies system prompts ("we give Claude 3 Opus
# a system prompt stating ...") is no instruction: only a new one is.
_INJECTION = re.compile(
    r"\b(ignore|disregard|forget)\b[^.]{0,40}\b(instructions?|prompts?|rules|the above|"
    r"everything|you were told)\b"
    r"|\b((?:new|updated|real) system prompt|you are now|reply with|respond with|output only|"
    r"as the assistant|you must cite)\b|\bsystem prompt\s*:"
    r"|\b(print|reveal|output|leak|repeat|tell me)\b[^.]{0,40}\b(api[ _-]?keys?|passwords?|"
    r"secrets?|credentials?|environment variables?|system prompt)\b"
    r"|\bcite\b[^.]{0,60}\bin (every|all|each|your) (answers?|responses?|replies)\b",
    re.I,
)
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
#: Ask retrieval for every sentence's similarity (evidence is chosen by budget, not count).
_ALL_SENTENCES = 1000


# --- 1./2. clean and condense ----------------------------------------------------------------


def clean_question(question: str, max_chars: int) -> tuple[str, list[str]]:
    """A usable question, or an InputError: control and bidi-override characters go,
    over-long ones are cut with a notice."""
    text = " ".join(CONTROL.sub(" ", question).split())
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
    r"(?:first|second|third|fourth|fifth|last|latter|former|paper|method|model|one|work)s?)\b"
    # "Is there one that ...", "Any that ...", "Does any of that ...": one of them
    r"|\b(?:is|are) there (?:one|any) (?:that|which|of)\b"
    r"|^\W*any (?:that|which|of)\b|\bany of (?:that|this)\b",
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


def only_without(question: str) -> str:
    """What a follow-up asks its papers to do without, when that is all it asks ("Which of
    those need no fine-tuning?": "fine-tuning"); "" for one that asks more ("picking up new
    tools over time without forgetting the old ones")."""
    without = asked_without(question)
    parts = question_parts(question)
    return without if parts and all(uses_words(p, without) for p in parts) else ""


def follow_up(question: str, standalone: str, previous: Answer | None) -> FollowUp:
    """Keep a follow-up on the conversation's topic, whatever the small model's rewrite says.

    - It points back ("which of those", "the second one") and the previous answer had
      sources: it is answered from those papers, re-ranked for the new question (``gather``
      fuses them with the store's best for it: ``with_wider``).
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
        # "Which of those need no fine-tuning?" is searched in an abstract's words, "without
        # fine-tuning": the question's own pulls up the papers about fine-tuning.
        without = only_without(question)
        asked = f"without {without}" if without else question
        return FollowUp(f"{asked} {topic}", kept, ids, None)  # gather says what it reused
    dropped_topic = not question_terms(standalone) & question_terms(topic)
    if dropped_topic and len(question.split()) <= SHORT_FOLLOW_UP:
        note = f"searched together with the previous question's topic: {topic}"
        return FollowUp(f"{question} {topic}", kept, None, note)
    return FollowUp(standalone, standalone, None, None)


# --- 4. gate -----------------------------------------------------------------------------------


def is_relevant(hits: Sequence[Hit], threshold: float) -> bool:
    """Whether the best hit is similar enough to the question to be worth an LLM call."""
    return bool(hits) and max(h.similarity for h in hits) >= threshold


class TopicHits(NamedTuple):
    """What the store holds on a topic (a digest's or a table's papers): the hits above the
    page's similarity cut, or ``covered=False`` with the closest papers named."""

    query: str
    hits: list[Hit]
    notices: list[str]
    covered: bool


#: How many of a topic's best hits may say it for the store to cover it: "jailbreak attacks"
#: is 0.349 from "Visual Adversarial Examples Jailbreak Large Language Models" (the gate is
#: 0.35), and the past-tense jailbreak paper says it.
TOPIC_SAID_BY = 3


def _said(topic: str, papers: Sequence[Paper], embedder: Embedder) -> bool:
    """Whether one of ``papers`` says every main part of ``topic``."""
    parts = main_parts(topic)
    found = coverage(parts, papers, embedder)
    return bool(parts) and any(found.covers_all(p.id) for p in papers)


def topic_hits(
    settings: Settings, topic: str, n: int, filters: SearchFilters, min_similarity: float
) -> TopicHits:
    """Hybrid search with MMR for ``n`` papers on ``topic``, gated like a question
    (``answer.min_relevance``) unless one of the best ``TOPIC_SAID_BY`` hits says the whole
    topic (``coverage``: in words or in meaning); hits less similar than ``min_similarity``
    are left out, said in a notice."""
    result = search(settings, topic, k=n, mode="hybrid", filters=filters, mmr=True, sentences=False)
    notices = list(result.notices)
    if not is_relevant(result.hits, settings.answer.min_relevance) and not _said(
        topic, [h.paper for h in result.hits[:TOPIC_SAID_BY]], get_embedder(settings)
    ):
        closest = ", ".join(f"“{h.paper.title}”" for h in result.hits[:3])
        if closest:
            notices.append(f"closest papers, not similar enough to the topic: {closest}.")
        return TopicHits(result.query, [], notices, covered=False)
    hits = [h for h in result.hits if h.similarity >= min_similarity]
    if len(hits) < len(result.hits):
        left = len(result.hits) - len(hits)
        notices.append(
            f"{left} retrieved paper(s) less similar to the topic than {min_similarity} "
            "were left out."
        )
    return TopicHits(result.query, hits, notices, covered=True)


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
        if dropped or _INJECTION.search(hit.paper.title):  # the paper stays, not its instructions
            what = "its title" if not dropped else f"{dropped} sentence{'s' * (dropped > 1)}"
            were = "were" if dropped > 1 else "was"
            notices.append(
                f"source [{rank + 1}] contains instruction-like text: {what} {were} left out "
                "of the prompt, the rest of the paper was shown."
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
        if starts_sentence and not made_up(words[0]):
            words = words[1:]  # "Which", "Keeping CLIP" -> "CLIP"
        name = _NAME_SUFFIX.sub("", " ".join(words))
        if not name or name.lower() in _STOPWORDS or name.rstrip("s").upper() in _COMMON:
            continue
        if made_up(name) or " " in name or name[0].isupper():
            names.append(name)
    return list(dict.fromkeys(names))


#: A sentence this similar to the whole question says what it asks, whatever its parts.
WHOLE_QUESTION = COVER_SIMILARITY + 0.05


def says_it_whole(hits: Sequence[Hit]) -> bool:
    """Whether one retrieved sentence says what the question asks as a whole (a description
    in other words than the paper's: "the illusion of unlimited context" for MemGPT), so
    parts that no sentence covers on their own do not stop it."""
    return any(m.score >= WHOLE_QUESTION for h in hits for m in h.best_sentences)


#: Reciprocal rank fusion's constant for the earlier and the wider hits of a follow-up.
FOLLOW_UP_RRF_K = 60
#: A follow-up that compares ("which of those is the fastest?") needs every earlier source.
_COMPARES = re.compile(r"\b(?:most|least|best|worst|more|less|fewer|\w{3,}est|\w+er than)\b", re.I)


class Condition(NamedTuple):
    """What a follow-up that points back asks of the earlier papers (``stating_condition``)."""

    hits: list[Hit]  # those that state it (all, when none or every one does)
    said: str  # the condition in the question's words; "" when it picks none
    sentences: dict[str, str]  # paper id -> the abstract sentence that states it


def stating_condition(question: str, hits: Sequence[Hit], embedder: Embedder) -> Condition:
    """For a follow-up that points back and adds one condition ("Which of those works without
    retraining?"): the earlier sources that state it, when some do and some do not, the
    condition, and the sentence of each that states it (a paper that says it does without
    the thing states the opposite). All of them (and no condition) when none do, when it
    compares, or when it has several parts (most of which are then verbs, "argue",
    "report", that say nothing about which paper is meant)."""
    everything = Condition(list(hits), "", {})
    if _COMPARES.search(question):
        return everything
    if without := only_without(question):  # "Which of those need no fine-tuning?"
        said = {h.paper.id: denying_sentence(h.paper, without, embedder) for h in hits}
        stating = [h for h in hits if said[h.paper.id]]
        condition = f"without {without}"
    else:
        parts = question_parts(question)
        if len(parts) != 1:
            return everything
        own = coverage(parts, [h.paper for h in hits], embedder)
        stating = [  # "Which of those use fine-tuning?": not one "without any fine-tuning"
            h
            for h in hits
            if own.covers(h.paper.id, parts[0])
            and not denying_sentence(h.paper, parts[0], embedder)
        ]
        said = {h.paper.id: stating_sentence(h.paper, parts[0], embedder) for h in stating}
        condition = parts[0]
    if not stating:
        return everything
    return Condition(stating, condition, {i: t for i, t in said.items() if t})


def with_wider(earlier: Sequence[Hit], wider: Sequence[Hit], k: int) -> list[Hit]:
    """A follow-up that points back: the previous answer's sources re-ranked for it
    (``earlier``) fused with the whole store's hits for the same query (``wider``), by
    reciprocal rank, at most ``k``. The earlier answer may have missed the paper that says
    what the follow-up asks ("Which of those propose an alternative to the cosine schedule?")."""
    by_id = {h.paper.id: h for h in [*wider, *earlier]}
    rankings = [[h.paper.id for h in earlier], [h.paper.id for h in wider]]
    fused = reciprocal_rank_fusion(rankings, FOLLOW_UP_RRF_K)[:k]
    return [by_id[i].model_copy(update={"rank": n}) for n, (i, _) in enumerate(fused, start=1)]


#: How far below the best hit's similarity to the question a source may lie and still be
#: shown when another source covers more of the question's parts. On core's answerable
#: questions this leaves out 138 of the 397 retrieved papers that neither the suite nor a
#: reviewer accepts (eval/source_labels.jsonl), and 1 of the 163 they do.
NEAR_BEST = 0.15
#: ... and how far one may lie that covers far fewer parts: none while another source covers
#: some, or ``PARTS_SHORT`` fewer than the source covering the most. Chosen on core's
#: answerable questions (eval/source_rule.py): it leaves out 60 more of the papers the suite
#: and the labels do not accept, and none that they do.
FEW_PARTS_NEAR_BEST = 0.08
PARTS_SHORT = 3


def on_question(hits: Sequence[Hit], covered: Coverage) -> list[Hit]:
    """The hits about the question: the first, those that cover as many of its parts as any
    hit does, those that say it as a whole (``says_it_whole``), and those within
    ``NEAR_BEST`` of the best hit's similarity (``FEW_PARTS_NEAR_BEST`` for one that covers
    far fewer parts than another). A source that covers fewer parts and matches less well
    is near the question, not on it: shown, the model describes it anyway ("In comparison,
    [3] presents ..." under a question about one optical flow method)."""
    counts = [covered.count(h.paper.id) for h in hits]
    most = max(counts, default=0)
    best = max((h.similarity for h in hits), default=0.0)

    def near(h: Hit, n: int) -> bool:
        short = (most > 0 and n == 0) or n <= most - PARTS_SHORT
        return h.similarity >= best - (FEW_PARTS_NEAR_BEST if short else NEAR_BEST)

    return [
        h
        for i, (h, n) in enumerate(zip(hits, counts, strict=True))
        if i == 0 or n == most or near(h, n) or says_it_whole([h])
    ]


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
    telemetry.condense_ms = elapsed_ms(t0)

    t0 = time.perf_counter()

    def searched(within: Sequence[str] | None) -> list[Hit]:
        found = search(
            settings,
            turn.query,
            k=k,
            mode=mode,
            filters=filters or SearchFilters(),
            sentences=True,
            sentence_limit=_ALL_SENTENCES,
            ids=within,
        )
        notices.extend(n for n in found.notices if n not in notices)
        return found.hits

    hits = searched(turn.ids if turn.ids is not None else ids)
    if turn.ids is not None:  # "which of those": and the store's best for the same words
        # (a conversation scoped to the user's papers stays in them: ``ids``)
        hits = with_wider(hits, searched(ids), k)
        reused = sum(h.paper.id in turn.ids for h in hits)
        of = "the source" if len(turn.ids) == 1 else f"{reused} of the {len(turn.ids)} sources"
        others = len(hits) - reused
        also = f", and {others} other paper{'s' * (others > 1)} found for it" if others else ""
        notices.append(f"answered from {of} of the previous answer, which it refers to{also}.")

    relevant = is_relevant(hits, settings.answer.min_relevance)
    embedder = get_embedder(settings)
    covered = coverage(question_parts(turn.query), [h.paper for h in hits], embedder)
    chosen = ids is not None and turn.ids is None  # the user picked the papers to ask
    if chosen and not relevant and any(covered.by_part.values()):
        # A short question about papers the user picked ("How does it handle occlusion?")
        # is far from any whole abstract; that one of them says what is asked is enough.
        relevant = True
    # "Which of those ...": the earlier answer found the topic, and what the follow-up asks of
    # its papers picks among them (``stating_condition``); it describes, it is no topic the
    # store may lack: only a name no paper spells refuses it, and no part is said missing.
    back = turn.ids is not None and previous is not None and not previous.abstained
    if back:
        relevant = bool(hits)
    uncovered = covered.uncovered() if relevant else []
    if uncovered:
        missing = missing_names(named_terms(turn.query), [h.paper for h in hits], embedder)
        whole = len(uncovered) == len(covered.parts) and not says_it_whole(hits) and not back
        if whole or missing:  # nothing asked is covered, or a thing the question names is missing
            relevant = False
            terms = (covered.missing() if whole else []) or missing
            said = ", ".join(f"'{t}'" for t in terms) or "what it asks"
            notices.append(f"none of the closest papers covers {said}; they are listed instead.")
    # Two parts or more unmatched: the question describes its subject in other words than the
    # papers ("per-pixel motion ... when parts of the scene become hidden" for occlusion): read
    # as a whole, its parts say nothing reliable about what is missing. Which sources are on
    # it is relative (``on_question``): the best still covers the most. The caller's own
    # papers all stay, and so do those a follow-up points back to: what it asks picks among
    # them (``stating_condition``), far as they may be from the topic and the question together.
    described = len(uncovered) >= 2
    if relevant and ids is None and turn.ids is None:
        before = len(hits)
        hits = on_question(hits, covered)
        if len(hits) < before:
            left = before - len(hits)
            notices.append(
                f"{left} of the closest papers {'is' if left == 1 else 'are'} only near the "
                "question (fewer of its parts, further from it); "
                f"{'it was' if left == 1 else 'they were'} left out."
            )
    beyond_previous = ""
    condition = Condition(hits, "", {})
    if relevant and turn.ids is not None:  # "which of those ...": those that say it
        condition = stating_condition(question, hits, embedder)
        said = condition.said
        if len(condition.hits) < len(hits):
            left = len(hits) - len(condition.hits)
            earlier = {h.paper.id for h in hits} & set(turn.ids)
            if earlier and not any(h.paper.id in earlier for h in condition.hits):  # wider only
                beyond_previous = said  # the answer's first sentence says it (no notice too)
            else:
                verb = condition_verb(said, one=False)
                notices.append(
                    f"{left} of those papers {'does' if left == 1 else 'do'} not {verb} "
                    f"'{said}'; {'it was' if left == 1 else 'they were'} left out."
                )
            hits = condition.hits
    evidence, dropped = select_evidence(hits, standalone, settings.answer.evidence_tokens)
    stated = {ev.number: t for ev in evidence if (t := condition.sentences.get(ev.paper.id))}
    telemetry.retrieval_ms = elapsed_ms(t0)
    gathered = EvidenceSet(
        question=question,
        standalone_question=standalone,
        hits=hits,
        evidence=evidence,
        relevant=relevant,
        uncovered=covered.missing() if uncovered and not (relevant and (described or back)) else [],
        beyond_previous=beyond_previous,
        condition=condition.said,
        stated=stated,
        notices=notices + dropped,
        telemetry=telemetry,
    )
    gathered._started = started
    return gathered
