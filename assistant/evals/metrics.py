"""Eval metrics: per-case scores of retrieval, answers and digests, and their summaries.

Every formula is written out in ``eval/README.md``. Per-case records (``RetrievalScore``,
``AnswerScore``, ``DigestScore``) are computed once by the runner and stored in
``results.jsonl``; the summaries here only aggregate them, so a report or a comparison can
be recomputed from the files alone. What counts as a citation, a supported sentence or an
abstention is decided by ``assistant.citations`` (``check_text``, ``is_abstention``), never here.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any, NamedTuple

import numpy as np
from pydantic import BaseModel, Field

from assistant.evals.suite import NOT_ANSWERABLE
from assistant.models import Answer, SentenceCheck

#: The cutoffs of hit@k; recall and nDCG are taken at the largest.
HIT_KS: tuple[int, ...] = (1, 5, 10)
DEPTH = max(HIT_KS)
#: Case types that one paper answers: hit@k is 1 when that paper is in the top k.
SINGLE_GOLD = frozenset({"known_item", "numeric"})


# --- retrieval -----------------------------------------------------------------------------


def hit_at(case_type: str, ranked: Sequence[str], gold: Iterable[str], k: int) -> float:
    """known_item/numeric: 1 if any gold id is in the top k; multi_paper/topic: gold ids in
    the top k divided by min(k, number of gold ids)."""
    gold = set(gold)
    if not gold:
        return 0.0
    found = len(gold & set(ranked[:k]))
    if case_type in SINGLE_GOLD:
        return 1.0 if found else 0.0
    return found / min(k, len(gold))


def recall_at(ranked: Sequence[str], gold: Iterable[str], k: int) -> float:
    """Share of the gold ids found in the top k."""
    gold = set(gold)
    return len(gold & set(ranked[:k])) / len(gold) if gold else 0.0


def reciprocal_rank(ranked: Sequence[str], gold: Iterable[str]) -> float:
    """1 / rank of the first gold id (0 when none is ranked)."""
    gold = set(gold)
    return next((1.0 / r for r, pid in enumerate(ranked, start=1) if pid in gold), 0.0)


def ndcg_at(ranked: Sequence[str], gold: Iterable[str], k: int) -> float:
    """Binary-relevance nDCG: sum over gold ids at rank r <= k of 1/log2(r+1), divided by the
    same sum for a ranking with all gold ids first."""
    gold = set(gold)
    if not gold:
        return 0.0
    dcg = sum(1.0 / math.log2(r + 1) for r, pid in enumerate(ranked[:k], start=1) if pid in gold)
    ideal = sum(1.0 / math.log2(r + 1) for r in range(1, min(k, len(gold)) + 1))
    return dcg / ideal


class RetrievalScore(BaseModel):
    """One case searched in one mode: the ranking and its scores."""

    mode: str = Field(description="dense, bm25, hybrid or hybrid+mmr.")
    ranked: list[str] = Field(description=f"Paper ids of the top {DEPTH} hits, best first.")
    latency_ms: float
    hit_at_1: float
    hit_at_5: float
    hit_at_10: float
    recall_at_10: float
    mrr: float
    ndcg_at_10: float

    @classmethod
    def of(
        cls, mode: str, case_type: str, ranked: Sequence[str], gold: Sequence[str], ms: float
    ) -> RetrievalScore:
        """Score a ranking against the case's gold ids."""
        ranked = list(ranked[:DEPTH])
        return cls(
            mode=mode,
            ranked=ranked,
            latency_ms=round(ms, 2),
            hit_at_1=hit_at(case_type, ranked, gold, 1),
            hit_at_5=hit_at(case_type, ranked, gold, 5),
            hit_at_10=hit_at(case_type, ranked, gold, 10),
            recall_at_10=recall_at(ranked, gold, DEPTH),
            mrr=reciprocal_rank(ranked, gold),
            ndcg_at_10=ndcg_at(ranked, gold, DEPTH),
        )


RETRIEVAL_METRICS: tuple[str, ...] = (
    "hit_at_1",
    "hit_at_5",
    "hit_at_10",
    "recall_at_10",
    "mrr",
    "ndcg_at_10",
)


# --- answers -------------------------------------------------------------------------------

_CITATION = re.compile(r"\[(\d+)\]")


def fact_found(fact: str, text: str) -> bool:
    """Whether ``text`` states ``fact``: case-insensitive, whitespace-insensitive, and a number
    must match exactly (``1.12`` is not found in ``11.12`` or ``1.123``; ``×`` reads as ``x``;
    ``17 %`` and ``17%`` are the same number)."""

    def norm(s: str) -> str:
        s = " ".join(s.replace("×", "x").replace("\u2009", " ").lower().split())
        return re.sub(r"(\d) %", r"\1%", s)

    needle, hay = norm(fact), norm(text)
    if not needle:
        return False
    left = r"(?<![\d.])" if needle[0].isdigit() else ""
    right = r"(?!\d|\.\d)" if needle[-1].isdigit() else ""
    return re.search(left + re.escape(needle) + right, hay) is not None


class CitationCounts(NamedTuple):
    """Citations of checked sentences, as the metrics count them."""

    valid: int  #: the model's own citations to given sources (checker-attached ones left out)
    supported: int  #: of those, the ones whose source supports the sentence on its own
    attached: int  #: citations the checker added to sentences that cited nothing
    sentences: int
    sentences_supported: int  #: sentences with at least one supporting citation (as shown)
    misattributed: int  #: citations whose claim another shown paper supports clearly better


def citation_counts(sentences: Iterable[SentenceCheck]) -> CitationCounts:
    """Count citations per ``answer.verify_citations``: a citation is supported when its
    source alone supports the sentence (``supported_by``)."""
    valid = supported = attached = total = with_support = misattributed = 0
    for s in sentences:
        if s.note:  # the assistant's own "not covered" sentence, not the model's
            continue
        own = [n for n in s.citations if n not in s.attached]
        valid += len(own)
        supported += len(set(own) & set(s.supported_by))
        attached += len(s.attached)
        total += 1
        with_support += bool(s.supported_by) and s.supported is not False  # shown ⚠: not
        misattributed += len(s.misattributed)
    return CitationCounts(valid, supported, attached, total, with_support, misattributed)


class AnswerScore(BaseModel):
    """One case answered by one system: the text, what it cited, and the counts scored."""

    system: str = Field(description="ours, llamaindex or llamaindex+ours.")
    text: str = Field(description="The answer as checked (invalid citations removed).")
    draft: str = Field("", description="The model's text before the check (``Answer.draft``).")
    abstained: bool
    sources: list[str] = Field(
        default_factory=list, description="Paper ids shown to the model, in source order."
    )
    cited: list[str] = Field(default_factory=list, description="Paper ids the answer cites.")
    citations_valid: int = Field(0, description="Citations (per sentence) to a given source.")
    citations_invalid: int = Field(0, description="Citations to a number never given.")
    citations_supported: int = Field(
        0, description="Valid citations whose source alone supports the sentence."
    )
    citations_attached: int = Field(0, description="Citations the checker added.")
    citations_misattributed: int = Field(
        0,
        description="Citations whose claim a shown paper the sentence does not cite supports "
        "clearly better (SentenceCheck.misattributed).",
    )
    sentences: int = Field(0, description="Sentences of the answer.")
    sentences_supported: int = Field(
        0, description="Sentences shown supported: a supporting citation, and not flagged."
    )
    facts: list[str] = Field(default_factory=list, description="The case's answer_facts.")
    facts_found: list[str] = Field(
        default_factory=list, description="Those the answer states (quoted results included)."
    )
    facts_in_prose: list[str] | None = Field(
        None,
        description="Those the model's own sentences state (quoted results left out; None in "
        "runs from before quoting, where it equals facts_found).",
    )
    missing_stated: bool | None = Field(
        None,
        description="Partial cases: the answer abstained, or says in a sentence or a notice "
        "that what the case lists as missing is not covered (None for other cases).",
    )
    gold_coverage: float | None = Field(None, description="Share of gold papers cited.")
    on_question: float | None = Field(
        None,
        description="Share of cited papers the case accepts (gold or also relevant); None "
        "when it cites nothing or the case has no gold.",
    )
    source_recall: float | None = Field(None, description="Share of gold papers shown.")
    ttft_s: float | None = None
    total_s: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    error: str | None = Field(None, description="Why the case produced no answer, if it failed.")

    @classmethod
    def of(
        cls,
        system: str,
        answer: Answer,
        *,
        sources: Sequence[str],
        gold: Sequence[str],
        facts: Sequence[str],
        missing: Sequence[str] = (),
        relevant: Sequence[str] = (),
    ) -> AnswerScore:
        """Score a checked ``Answer`` (from ``answer_from`` or ``build_answer``)."""
        cited = list(dict.fromkeys(c.paper_id for c in answer.citations))
        counts = citation_counts(answer.prose)  # the model's citations, not the quotes
        t = answer.telemetry
        gold_set = set(gold)

        def stated(text: str) -> list[str]:  # an abstention states no fact
            return [] if answer.abstained else [f for f in facts if fact_found(f, text)]

        return cls(
            system=system,
            text=answer.answer,
            draft=answer.draft,
            abstained=answer.abstained,
            sources=list(sources),
            cited=cited,
            citations_valid=counts.valid,
            citations_invalid=answer.invalid_citations,
            citations_supported=counts.supported,
            citations_attached=counts.attached,
            citations_misattributed=counts.misattributed,
            sentences=counts.sentences,
            sentences_supported=counts.sentences_supported,
            facts=list(facts),
            facts_found=stated(answer.answer),
            facts_in_prose=stated(" ".join(s.text for s in answer.prose)),
            missing_stated=states_missing(answer, missing) if missing else None,
            gold_coverage=len(gold_set & set(cited)) / len(gold_set) if gold_set else None,
            on_question=(
                len(set(cited) & (gold_set | set(relevant))) / len(cited)
                if cited and gold_set
                else None
            ),
            source_recall=len(gold_set & set(sources)) / len(gold_set) if gold_set else None,
            ttft_s=t.ttft_s,
            total_s=t.total_s,
            prompt_tokens=t.prompt_tokens,
            completion_tokens=t.completion_tokens,
        )

    @classmethod
    def failed(cls, system: str, error: str, facts: Sequence[str]) -> AnswerScore:
        """A case whose answer could not be produced: scored as a wrong, empty answer."""
        return cls(system=system, text="", abstained=False, facts=list(facts), error=error)


#: A sentence that says something is absent.
_NEGATION = re.compile(
    r"\b(?:no|not|none|nothing|neither|nor|without|lacks?|absent|cannot)\b|n't\b", re.I
)


def states_missing(answer: Answer, missing: Sequence[str]) -> bool:
    """Whether the answer tells the reader that ``missing`` is not covered: it abstained, or
    one of its sentences or notices names a missing part and says it is absent."""
    if answer.abstained:
        return True
    said = [*answer.notices, *(s.text for s in answer.sentences)] or [answer.answer]
    return any(
        _NEGATION.search(text) and any(m.lower() in text.lower() for m in missing) for text in said
    )


ANSWER_METRICS: tuple[str, ...] = (
    "citation_validity",
    "citation_precision",
    "citation_recall",
    "gold_coverage",
    "on_question",
    "source_recall",
    "fact_accuracy",
    "fact_accuracy_prose",
    "abstention_accuracy",
    "false_abstention",
    "missing_stated",
)
#: Metrics where a lower value is better (everything else: higher is better).
LOWER_IS_BETTER = frozenset(
    {"false_abstention", "citations_misattributed", "markdown_left", "papers_by_position"}
)


# --- digests -------------------------------------------------------------------------------


#: Prose a reader should not see in a digest: markdown marks, list items, headings.
_MARKDOWN = re.compile(r"\*\*|__|`|^\s*#|^\s*(?:[-*•]|\d{1,2}[.)])\s", re.M)
#: A paragraph that ends on a full sentence (its mark, then any citations).
_ENDS_WHOLE = re.compile(r"[.!?…][\"”’)]*(?:\s*\[[\d,\s\-–]+\])*\s*$")
#: A paper called by its position in the prompt, which the reader never saw.
_BY_POSITION = re.compile(
    r"\b(?:first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|last)\s+"
    r"(?:paper|study|work|article|source)s?\b|\b(?:paper|source)\s+\d",
    re.I,
)


class DigestProse(BaseModel):
    """How a digest's overview and paragraphs read: whole sentences, no markdown, papers
    called by name, not by their place in the prompt."""

    paragraphs: int = 0
    finished: int = Field(0, description="Paragraphs that end on a full sentence.")
    markdown: int = Field(0, description="Markdown marks left in the prose.")
    by_position: int = Field(0, description='"the fourth paper", "paper 2" left in the prose.')

    @classmethod
    def of(cls, paragraphs: Iterable[str]) -> DigestProse:
        texts = [p for p in paragraphs if p.strip()]
        return cls(
            paragraphs=len(texts),
            finished=sum(1 for p in texts if _ENDS_WHOLE.search(p)),
            markdown=sum(len(_MARKDOWN.findall(p)) for p in texts),
            by_position=sum(len(_BY_POSITION.findall(p)) for p in texts),
        )


class DigestTable(BaseModel):
    """A digest's comparison table: figures checked against the abstracts, result cells."""

    cells_with_figures: int = 0
    figures_in_abstract: int = Field(0, description="Cells whose every figure is in the abstract.")
    papers_with_figures: int = Field(
        0,
        description="Papers whose abstract gives a figure after its first sentence: a "
        "result is likely stated (a rule apart from the table's own choice of sentence).",
    )
    result_cells: int = Field(0, description="Of those, papers with a result cell.")
    seconds: float = Field(0.0, description="Time to build the table and find disagreements.")
    disagreements: int = 0


class DigestScore(BaseModel):
    """One topic case turned into a digest: which papers it included and how it cited them."""

    included: list[str] = Field(description="Paper ids the digest included.")
    core_included: float = Field(description="Share of the core (gold) papers included.")
    included_relevant: float | None = Field(
        description="Share of included papers that are core or also-relevant (None: none)."
    )
    citations_valid: int = 0
    citations_invalid: int = 0
    citations_supported: int = 0
    prose: DigestProse = Field(default_factory=DigestProse)
    table: DigestTable = Field(default_factory=DigestTable)
    total_s: float = 0.0
    error: str | None = None

    @classmethod
    def of(
        cls,
        included: Sequence[str],
        gold: Sequence[str],
        also_relevant: Sequence[str],
        *,
        valid: int,
        invalid: int,
        supported: int,
        total_s: float,
        prose: DigestProse | None = None,
        table: DigestTable | None = None,
    ) -> DigestScore:
        """Score the papers a digest included against the case's core and also-relevant ids."""
        inc, core = set(included), set(gold)
        ok = core | set(also_relevant)
        return cls(
            included=list(included),
            core_included=len(core & inc) / len(core) if core else 0.0,
            included_relevant=len(inc & ok) / len(inc) if inc else None,
            citations_valid=valid,
            citations_invalid=invalid,
            citations_supported=supported,
            prose=prose or DigestProse(),
            table=table or DigestTable(),
            total_s=round(total_s, 3),
        )


# --- aggregation ---------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0-100, linear interpolation as numpy does); None when empty."""
    return float(np.percentile(values, q)) if len(values) else None


def mean(values: Iterable[float | None]) -> float | None:
    """Mean of the values that are not None; None when there are none."""
    got = [v for v in values if v is not None]
    return sum(got) / len(got) if got else None


def ratio(num: float, den: float) -> float | None:
    """num / den, None when den is 0 (a metric with nothing to measure)."""
    return num / den if den else None


def _r(value: float | None, ndigits: int = 4) -> float | None:
    return None if value is None else round(value, ndigits)


def summarize_retrieval(scores: Sequence[RetrievalScore]) -> dict[str, Any]:
    """Means of the per-case retrieval metrics, and latency p50/p95 (ms)."""
    out: dict[str, Any] = {"n": len(scores)}
    for name in RETRIEVAL_METRICS:
        out[name] = _r(mean(getattr(s, name) for s in scores))
    latencies = [s.latency_ms for s in scores]
    out["latency_p50_ms"] = _r(percentile(latencies, 50), 2)
    out["latency_p95_ms"] = _r(percentile(latencies, 95), 2)
    return out


def summarize_answers(
    scores: Sequence[tuple[str, AnswerScore]],
) -> dict[str, Any]:
    """Answer metrics over (case type, score) pairs; see ``eval/README.md`` for each formula.

    Citation validity, precision and recall are pooled over all answers (micro averages);
    gold coverage, source recall and fact accuracy are means over the cases they apply to.
    """
    answerable = [s for t, s in scores if t not in NOT_ANSWERABLE]
    unanswerable = [s for t, s in scores if t == "unanswerable"]
    partial = [s for t, s in scores if t == "partial"]
    answered = [s for _, s in scores if not s.abstained and s.error is None]
    valid = sum(s.citations_valid for s in answered)
    invalid = sum(s.citations_invalid for s in answered)
    with_facts = [s for s in answerable if s.facts]
    generated = [s for _, s in scores if s.error is None and s.completion_tokens > 0]
    finished = [s for _, s in scores if s.error is None]

    def spread(name: str, values: list[float]) -> dict[str, float | None]:
        return {
            f"{name}_p50": _r(percentile(values, 50), 3),
            f"{name}_p95": _r(percentile(values, 95), 3),
        }

    out: dict[str, Any] = {
        "n": len(scores),
        "errors": sum(1 for _, s in scores if s.error is not None),
        "citation_validity": _r(ratio(valid, valid + invalid)),
        "citation_precision": _r(ratio(sum(s.citations_supported for s in answered), valid)),
        "citation_recall": _r(
            ratio(sum(s.sentences_supported for s in answered), sum(s.sentences for s in answered))
        ),
        "gold_coverage": _r(mean(s.gold_coverage or 0.0 for s in answerable)),
        "on_question": _r(mean(s.on_question for s in answered if s.on_question is not None)),
        "source_recall": _r(mean(s.source_recall or 0.0 for s in answerable)),
        "fact_accuracy": fact_share([(s.facts_found, s.facts) for s in with_facts]),
        "fact_accuracy_prose": fact_share(
            [
                (s.facts_found if s.facts_in_prose is None else s.facts_in_prose, s.facts)
                for s in with_facts
            ]
        ),
        "abstention_accuracy": _r(ratio(sum(s.abstained for s in unanswerable), len(unanswerable))),
        "false_abstention": _r(ratio(sum(s.abstained for s in answerable), len(answerable))),
        "citations_misattributed": sum(s.citations_misattributed for s in answered),
        "missing_stated": _r(ratio(sum(bool(s.missing_stated) for s in partial), len(partial))),
    }
    out |= spread("ttft_s", [s.ttft_s for s in generated if s.ttft_s is not None])
    out |= spread("total_s", [s.total_s for s in finished])
    out |= spread("tokens_in", [float(s.prompt_tokens) for s in generated])
    out |= spread("tokens_out", [float(s.completion_tokens) for s in generated])
    return out


def fact_share(cases: Sequence[tuple[Sequence[str], Sequence[str]]]) -> float | None:
    """Mean share of a case's facts found, over (found, all facts) pairs of cases with facts."""
    return _r(mean(len(found) / len(facts) for found, facts in cases if facts))


def summarize_gate(
    cases: Sequence[tuple[str, bool]], facts: Sequence[tuple[Sequence[str], Sequence[str]]] = ()
) -> dict[str, Any]:
    """The relevance gate and the evidence alone (``--no-llm``): (case type, passed the gate)
    pairs scored as abstention accuracy (unanswerable cases stopped) and false abstention
    (answerable stopped); (facts in the evidence, all facts) pairs as the share of answer facts
    the model is shown, the ceiling of fact accuracy."""
    answerable = [ok for t, ok in cases if t not in NOT_ANSWERABLE]
    unanswerable = [ok for t, ok in cases if t == "unanswerable"]
    return {
        "n": len(cases),
        "abstention_accuracy": _r(ratio(sum(not ok for ok in unanswerable), len(unanswerable))),
        "false_abstention": _r(ratio(sum(not ok for ok in answerable), len(answerable))),
        "facts_shown": fact_share(facts),
    }


def summarize_digests(scores: Sequence[DigestScore]) -> dict[str, Any]:
    """Digest metrics over topic cases: core papers included, included papers relevant,
    citation validity and precision (pooled)."""
    ok = [s for s in scores if s.error is None]
    valid = sum(s.citations_valid for s in ok)
    invalid = sum(s.citations_invalid for s in ok)
    paragraphs = sum(s.prose.paragraphs for s in ok)
    return {
        "n": len(scores),
        "errors": len(scores) - len(ok),
        "core_included": _r(mean(s.core_included for s in ok)),
        "included_relevant": _r(mean(s.included_relevant for s in ok)),
        "citation_validity": _r(ratio(valid, valid + invalid)),
        "citation_precision": _r(ratio(sum(s.citations_supported for s in ok), valid)),
        "paragraphs": paragraphs,
        "paragraphs_finished": _r(ratio(sum(s.prose.finished for s in ok), paragraphs)),
        "markdown_left": sum(s.prose.markdown for s in ok),
        "papers_by_position": sum(s.prose.by_position for s in ok),
        "table_figures_in_abstract": _r(
            ratio(
                sum(s.table.figures_in_abstract for s in ok),
                sum(s.table.cells_with_figures for s in ok),
            )
        ),
        "table_result_cells": _r(
            ratio(
                sum(s.table.result_cells for s in ok), sum(s.table.papers_with_figures for s in ok)
            )
        ),
        "table_s_p50": _r(percentile([s.table.seconds for s in ok], 50), 3),
        "disagreements": sum(s.table.disagreements for s in ok),
        "total_s_p50": _r(percentile([s.total_s for s in ok], 50), 3),
    }


def lower_is_better(metric: str) -> bool:
    """Whether a smaller value of ``metric`` (a summary key) is the better one."""
    name = metric.rsplit(".", 1)[-1]
    return (
        name in LOWER_IS_BETTER
        or name == "errors"
        or name.startswith(("latency", "ttft", "total_s"))
    )


def by_key(items: Iterable[Any], key: Callable[[Any], str]) -> dict[str, list[Any]]:
    """Items grouped by ``key``, groups in first-seen order."""
    groups: dict[str, list[Any]] = {}
    for item in items:
        groups.setdefault(key(item), []).append(item)
    return groups
