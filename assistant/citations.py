"""Step 7, the one citation check, for answers, digest paragraphs and the eval harness.

``check_text`` makes a generated text readable (``prose``), drops citations to numbers never
given, renumbers by first use, attaches a citation where a shown source clearly supports an
uncited sentence, and scores every sentence against the papers it cites (``SupportScorer``)
and against the other shown papers (misattribution). ``is_abstention`` reads whether a text
declines; ``CANNOT_ANSWER`` is how the assistant declines.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from assistant.coverage import (
    AFFIRMED_SIMILARITY,
    Coverage,
    a_topic,
    affirms,
    asked_without,
    coverage,
    parts_said,
    question_parts,
    restates,
    says_not,
)
from assistant.models import CheckedText, Evidence, Paper, SentenceCheck
from assistant.prose import (
    CITATION_GROUP,
    ENUMERATOR,
    chips_after_titles,
    figures,
    given_figures,
    list_item,
    name_citations,
    name_ordinals,
    name_subject,
    names_before_chips,
    noted_background,
    plain,
    quoted_copy,
    split_answer,
    third_person,
    unsourced_figures,
    unsourced_names,
    whole,
    without_invented_authors,
)
from assistant.text import split_sentences, spoken_list, squash

if TYPE_CHECKING:
    from assistant.embed import Embedder

#: The one sentence the assistant says when the indexed papers do not answer a question.
CANNOT_ANSWER = "The indexed papers don't cover this question."

_NO_ANSWER_HINTS = ("don't cover", "do not cover", "not found in the indexed", "cannot answer")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
#: An answer's verdict on a yes/no question: "Yes, X [1] ..." (``AFFIRMED_SIMILARITY``).
_AFFIRMATION = re.compile(r"\W*yes\b", re.IGNORECASE)
#: How much more support than ``support_threshold`` a citation the checker adds must have.
REPAIR_MARGIN = 0.1
#: A citation credits its paper with another's claim when a shown paper the sentence does not
#: cite supports the sentence by this much more, and the sentence does not name the cited paper.
#: On the core suite's answers (652 citations, attached ones included) it flags 3, each a real
#: misattribution; at 0.1 it also flagged two right citations (a theory paper, a named method).
MISATTRIBUTION_MARGIN = 0.15
_SALIENT = re.compile(r"\b(?:\d[\d.,%x×]*|[A-Z][A-Za-z]*[A-Z0-9][A-Za-z0-9-]*)\b")


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
        said = spoken_list(cites)
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
    every number is among them (a wrong figure is the typical slip of a small model). A list
    item's number ("2. NegToMe ...") or an enumerator ("(1)") is no figure of the papers."""
    sentence = ENUMERATOR.sub(" ", sentence)
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
    sentence does not cite supports it clearly better (``MISATTRIBUTION_MARGIN``), whether
    or not the cited one supports it at all, or gives the figures it states that no cited
    paper gives (``_figures_elsewhere``).
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
            mine = {n: cited_papers[n] for n in numbers}
            wrong = _misattributed(plain, mine, alone, shown, scorer) or _titled_other(
                plain, mine, shown
            )
            check.misattributed = [n for n in numbers if n in wrong]
            check.supported_by = [n for n in numbers if alone[n] >= threshold and n not in wrong]
            check.supported = together and len(check.supported_by) == len(numbers)
            if not check.supported and _figures_elsewhere(plain, numbers, cited_papers, shown):
                check.misattributed = numbers
                check.supported_by = []
        checks.append(check)
    return checks


def _titled_other(sentence: str, cited: dict[int, Paper], shown: Sequence[Paper]) -> list[int]:
    """All the cited numbers when the sentence spells out the whole title of a shown paper it
    does not cite and names none it cites: a KV cache digest paragraph wrote the benchmark
    paper's full title and "This paper provides a comprehensive benchmark ..." under SubGen's
    number, and a background sentence of SubGen's "supported" it; a core answer named Finch by
    its title under Self-Extend's number."""
    said = sentence.lower()
    if any(p.title.lower() in said or p.short_name.lower() in said for p in cited.values()):
        return []
    mine = [p.title.lower() for p in cited.values()]
    titled = [  # not one that begins a cited paper's title ("White-Box Transformers via ...")
        p
        for p in shown
        if len(p.title.split()) >= 3
        and p.title.lower() in said
        and not any(p.title.lower() in title for title in mine)
    ]
    return list(cited) if titled else []


def _figures_elsewhere(
    sentence: str, numbers: Sequence[int], cited: dict[int, Paper], shown: Sequence[Paper]
) -> bool:
    """Whether the figures ``sentence`` states that none of its cited papers gives are all
    given by one shown paper it does not cite: NIRVANA's "37.70 (in terms of PSNR)" credited
    to the INR compression paper next to it, in the demo."""
    mine = [cited[n] for n in numbers]
    stated = {float(f) for f in figures(sentence)} - given_figures(*(p.text for p in mine))
    if not stated:
        return False
    ids = {p.id for p in mine}
    return any(stated <= given_figures(p.text) for p in shown if p.id not in ids)


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
    sentences: Sequence[str],
    evidence: Sequence[Evidence],
    embedder: Embedder,
    threshold: float,
    text: str = "",
) -> dict[int, int]:
    """For each sentence that cites nothing, the evidence number of the shown source that
    supports it when one does clearly (sentence index -> number): adding a citation the
    model did not write asks for more than keeping one it did (``REPAIR_MARGIN``). The paper
    its paragraph is about comes first, the one paper the sentence before it cites (on the
    same line of ``text``), unless another supports it so much better that citing the
    subject would be a misattribution (``MISATTRIBUTION_MARGIN``): "[2] proposes Backward
    Feature Projection. This method reduces forgetting by projecting features backward ..."
    is [2]'s, though the federated paper [1] scored 0.679 on it and [2] 0.674. Else the
    source that supports it best."""
    scorer = SupportScorer(embedder, threshold + REPAIR_MARGIN)
    attach: dict[int, int] = {}
    subject: int | None = None  # the one paper the paragraph's last citing sentence cites
    at = 0
    for i, sentence in enumerate(sentences):
        start = text.find(sentence, at)
        if start < 0 or "\n" in text[at:start]:
            subject = None  # a new paragraph or list item, or no text to tell
        at = max(at, start + len(sentence))
        numbers = cited_numbers(sentence)
        if numbers:
            subject = numbers[0] if len(numbers) == 1 else None
            continue
        plain = CITATION_GROUP.sub("", sentence).strip()
        if len(plain.split()) < 4:
            continue
        scored = {ev.number: scorer.score(plain, [ev.paper]) for ev in evidence}
        best = max(scored, key=lambda n: scored[n][0], default=None)
        if best is None or not scored[best][1]:
            continue
        if subject is not None and subject in scored:
            score, supported = scored[subject]
            if supported and scored[best][0] - score < MISATTRIBUTION_MARGIN:
                best = subject  # the paragraph's paper, supported nearly as well as the best
        attach[i] = best
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
    quoted title moved after it, and a list item's chip after the name that follows it
    ("1. [1] HR-INR" -> "1. HR-INR [1]"). "Paper N"
    becomes the citation [N] (``cite_paper_mentions``), so the text never names a number
    that renumbering changed. Citations to numbers not in ``evidence``
    are removed and counted; with ``repair`` a sentence that cites nothing gets the shown
    source that supports it (marked ``attached``); with ``renumber`` citations are renumbered
    by first use (else they keep the evidence numbers, so a page that numbers its sources once
    can check each paragraph against all of them). Every sentence is scored against the papers
    it cites, and against the other shown papers for misattribution (``verify_citations``);
    one stating a figure or a made-up name that no shown paper nor the ``question`` gives is
    not supported (``unsourced``: "by Yann LeCun et al.", a prompt's own "ToyNet"), nor one
    stating a part of the question its papers do not cover, and a supported one whose papers
    cover no part of the question is marked (``on_question``).
    A sentence whose subject stands for its one cited paper gets the paper's name ("This
    paper proposes" -> "EMS proposes"), an abstract's first person is told of its authors
    ("we propose" -> "The authors of EMS propose"), an abstract sentence glued after a
    paper's name reads as its quote (``quoted_copy``), and the background an abstract starts
    from is what the paper notes, not what it found (``noted_background``). Last, chips
    that stand for a paper get its name ("The paper by [1] shows" -> "MemoryFormer [1]
    shows"), after the scoring, which a name would sway.
    """
    by_number = {ev.number: ev for ev in evidence}
    listed = [(ev.number, ev.paper) for ev in evidence]
    shown = [ev.paper for ev in evidence]
    titles = [paper.title for paper in shown]
    spelt = squash(" ".join([question, *(paper.text for paper in shown)]))
    text = without_invented_authors(whole(plain(raw_text, lists=lists)), spelt)
    text = name_ordinals(text, listed)
    text = chips_after_titles(text, shown)
    text = names_before_chips(text, listed)
    text = cite_paper_mentions(text, set(by_number))
    text, _, removed = renumber_citations(text, set(by_number), renumber=False)
    attached: dict[int, int] = {}
    if repair:
        parts = split_answer(text, titles)
        attached = repair_citations(parts, evidence, embedder, threshold, text)
        for i, number in attached.items():
            text = text.replace(parts[i], _cite(parts[i], number), 1)
    text, numbering, _ = renumber_citations(text, set(by_number), renumber=renumber)
    cited = {new: by_number[old].paper for old, new in numbering.items()}
    sentences = verify_citations(split_answer(text, titles), cited, embedder, threshold, shown)
    for i, old in attached.items():
        if i < len(sentences) and old in numbering:
            sentences[i].attached = [numbering[old]]
    given = given_figures(question, *(paper.text for paper in shown))
    without = asked_without(question)  # "Which of those need no fine-tuning?"
    covered = coverage(question_parts(question), list(cited.values()), embedder, without=without)
    affirmed = (  # read only when a sentence says "Yes"
        coverage(covered.parts, list(cited.values()), embedder, AFFIRMED_SIMILARITY)
        if any(_AFFIRMATION.match(check.text) for check in sentences)
        else None
    )
    intro = ""  # "The papers tested on X include:", said of each item of the list after it
    for check in sentences:
        check.unsourced = unsourced_figures(check.text, given) + unsourced_names(check.text, spelt)
        if check.unsourced:
            check.supported = False
        item = list_item(check.text)
        intro = intro if item else check.text if check.text.rstrip().endswith(":") else ""
        mine = {n: cited[n] for n in check.citations if n in cited}
        on_question(check, covered, mine, question, intro if item else "", affirmed)
        one = cited.get(check.citations[0]) if len(check.citations) == 1 else None
        # "This paper proposes" -> "EMS proposes"; "we propose" -> "The authors of EMS propose";
        # "EMS [1] as LLMs grow, ..." (an abstract's sentence glued on) -> 'EMS [1]: “As ...”'
        told = quoted_copy(check.text, one)
        told = (
            told if told != check.text else third_person(name_subject(check.text, one), one, titles)
        )
        told = noted_background(told, one)  # "D2O found that <its background>": "notes that"
        if told != check.text:
            text, check.text = text.replace(check.text, told, 1), told
        check.text = name_citations(check.text, cited)
    text = name_citations(text, cited)
    return CheckedText(
        text=text, sentences=sentences, numbering=numbering, invalid_citations=removed
    )


def on_question(
    check: SentenceCheck,
    covered: Coverage,
    cited: dict[int, Paper],
    question: str,
    intro: str = "",
    affirmed: Coverage | None = None,
) -> None:
    """Read a checked sentence against the question's parts (``coverage``): one that states a
    part none of its cited papers covers restates the question as their finding (``unstated``:
    not supported); a supported one whose papers cover no part is ``off_question``. One that
    answers "which papers ..." in the question's own words ("X [1] was tested on requests
    phrased in the past tense", ``restates``) is supported when every paper it cites covers
    every part it states: that is its whole claim, read by meaning (its similarity to one
    abstract sentence, diluted by the question's words, was 0.39 for the paper that does it,
    and the answer was withheld). ``cited`` maps the sentence's citation numbers to papers; a
    list item is read with the ``intro`` that says what its items are ("... tested on requests
    phrased in the past tense include:" then "2. [2] Alignment faking" claims it of [2]).
    A "Yes, ..." says its papers state what was asked, so it is held to ``affirmed`` too
    (coverage at ``AFFIRMED_SIMILARITY``): each part it states in so many words, not only
    near them, nor only its topic words. Under a question that asks what papers do without
    (``asked_without``), a sentence that says the thing of a paper that says it does without
    it ("[1] needs fine-tuning" of "without any fine-tuning") is not supported (``denied``)."""
    if not cited or not covered.parts:
        return
    plain = CITATION_GROUP.sub("", f"{intro} {check.text}")
    # a part the sentence denies ("but it does not detect fake fingerprints") is not claimed
    # (under a question that asks for papers without a thing, denying it is the claim)
    said = [
        p
        for p in parts_said(plain, covered.parts)
        if a_topic(p) and (covered.without or not says_not(plain, p))
    ]
    ids = [paper.id for paper in cited.values()]
    check.unstated = [p for p in said if not any(covered.states(i, p) for i in ids)]
    if (
        covered.without
        and any(i in covered.denied for i in ids)
        and affirms(plain, covered.without)
    ):
        check.denied = [covered.without]  # "[1] needs fine-tuning" of "without any fine-tuning"
        # a paper that says it does without the thing supports no sentence saying it needs it
        check.supported_by = [
            n for n in check.supported_by if n not in cited or cited[n].id not in covered.denied
        ]
    if not check.unstated and affirmed is not None and _AFFIRMATION.match(check.text):
        check.unstated = [p for p in said if not any(affirmed.covers(i, p) for i in ids)]
    if check.unstated or check.denied:  # flagged; its papers still support the rest
        check.supported = False
    elif check.supported:
        check.off_question = not any(covered.on_question(i) for i in ids)
    elif said and not check.unsourced and not check.misattributed:
        stated = all(covered.states(i, p) for i in ids for p in said)
        if covered.without:  # "[1] needs no fine-tuning" restates only what [1] says so
            stated = stated and all(i in covered.denied for i in ids)
        titles = [paper.title for paper in cited.values()]
        if stated and restates(plain, question, titles, covered.without):
            check.supported, check.supported_by = True, list(cited)
