"""Where papers disagree: pairs of abstract sentences, from two papers, that cannot both
hold.

``disagreements(settings, papers)`` reads top to bottom:

1. claims     each paper's abstract sentences that report a finding ("we find", "results
              show") or claim a result ("state-of-the-art", "outperforms"), planted
              instructions dropped, with their sentence vectors (``retrieve.sentence_table``)
2. pairs      every claim against every claim of the other papers (one matrix product);
              pairs less alike than ``SAME_SUBJECT`` are not looked at
3. tension    "results": one paper claims the best result on a benchmark and the other
              reports beating it there, by its method's name; "opposite claims": two alike
              sentences (>= ``SAME_CLAIM``, ``SHARED_TERMS`` content words in common) where
              one denies ("does not improve", "hurts") what the other plainly asserts
4. keep       the most alike pair per two papers, most alike first

Precision matters more than recall: a pair is kept only when every rule holds, and a set of
papers with none says nothing. No model is called; the sentences are shown verbatim.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import NamedTuple

import numpy as np

from assistant.compare import benchmarks, method_names, papers_to_compare
from assistant.embed import get_embedder
from assistant.evidence import drop_instructions
from assistant.models import Paper
from assistant.models.compare import Disagreement, Side
from assistant.models.papers import PaperRef
from assistant.prose import paper_name
from assistant.retrieve import sentence_table
from assistant.settings import Settings
from assistant.store import open_store
from assistant.text import question_terms

#: Two sentences this alike (cosine of their vectors) may be about the same claim ...
SAME_CLAIM = 0.6
#: ... when they also share this many content words.
SHARED_TERMS = 2
#: Sentences less alike than this are not compared at all (results name their benchmark).
SAME_SUBJECT = 0.3

#: A sentence that reports the paper's finding (not background, not the method's description).
_FINDING = re.compile(
    r"\b(?:we (?:\w+ly )?(?:find|found|show|observe|demonstrate|reveal|argue|conclude|confirm|"
    r"establish|prove)|(?:results?|experiments?|analys[ie]s|evaluations?|findings?|evidence) "
    r"(?:\w+ )?(?:show|shows|reveal|reveals|indicate|indicates|suggest|suggests|demonstrate|"
    r"demonstrates|confirm|confirms))\b",
    re.I,
)
_FUNCTION_TEXT = (
    "the a an only all any yet so too very that this those these such as to in on of for with "
    "from by at it they them its their our we you he she one be been always necessarily "
    "significantly"
)
_FUNCTION_WORDS = frozenset(_FUNCTION_TEXT.split())
#: A negated claim and its predicate: "does not improve", "fail to generalize", "is not a
#: necessary condition" (the predicate is the first word after the negation that is not a
#: function word or an adverb).
_NEGATED = re.compile(
    r"\b(?:not|never|cannot|can't|doesn't|don't|didn't|isn't|aren't|fails? to|failed to|"
    rf"unable to|no longer)\s+(?:(?:\w+ly|{'|'.join(_FUNCTION_WORDS)})\s+)*"
    r"([a-z][a-z-]{2,})",
    re.I,
)
#: A claim said with a negative word and the positive words it reverses.
_REVERSES = {
    "hurt": ("help", "improv", "benefit", "enhanc", "boost"),
    "harm": ("help", "improv", "benefit", "enhanc", "boost"),
    "degrad": ("improv", "enhanc", "boost", "help"),
    "worsen": ("improv", "enhanc", "help"),
    "underperform": ("outperform", "surpass", "beat"),
    "unnecessar": ("necessar", "need", "requir", "essential", "crucial"),
    "insufficient": ("sufficient",),
    "ineffective": ("effective",),
    "struggl": ("can", "succeed", "excel", "solv"),
}
_REVERSED = re.compile(rf"\b({'|'.join(_REVERSES)})\w*", re.I)
#: Negations that do not turn the claim: "not only", "without retraining".
_NOT_A_NEGATION = re.compile(
    r"\bnot only\b|\bnot (?:just|merely)\b|\bno (?:need|extra|additional|further)\b"
    r"|\bnot (?:all|every|always)\b",  # a quantifier: "not all such X can": some can
    re.I,
)
#: Words every ML finding uses; two sentences sharing only these share no subject.
_FIELD_WORDS_TEXT = """
    performance model models learning results result task tasks data training method methods
    approach approaches show shows find finds experiments large language neural network networks
    existing prior previous state-of-the-art baseline baselines significantly also further
    however furthermore additionally empirically study work paper propose proposed our
"""
_FIELD_WORDS = frozenset(_FIELD_WORDS_TEXT.split())
_BEATS = "surpass|outperform|beat|exceed"
_BEATEN = re.compile(rf"\b(?:{_BEATS})", re.I)
_BEST = re.compile(r"\b(?:state-of-the-art|sota|new record)\b", re.I)


def is_claim(sentence: str) -> bool:
    """The sentence reports a finding of the paper ("we find", "results show") or claims a
    result ("state-of-the-art", "outperforms")."""
    return bool(_FINDING.search(sentence) or _BEST.search(sentence) or _BEATEN.search(sentence))


def reversed_claims(sentence: str) -> list[tuple[str, ...]]:
    """What the sentence denies, as the word stems a positive claim of it would use:
    "does not improve" -> ("improv",), "hurts accuracy" -> ("help", "improv", ...)."""
    cleaned = _NOT_A_NEGATION.sub(" ", sentence)
    denied: list[tuple[str, ...]] = [(m.group(1).lower()[:5],) for m in _NEGATED.finditer(cleaned)]
    denied += [_REVERSES[m.group(1).lower()] for m in _REVERSED.finditer(cleaned)]
    return denied


class Claim(NamedTuple):
    """A claim sentence and what the rules read of it, worked out once (a claim meets many
    others)."""

    paper: Paper
    sentence: str
    names: list[str]  # its paper's method names (``compare.method_names``)
    benchmarks: list[str]  # the benchmarks the sentence names
    best: list[str]  # those it claims the best result on
    denied: list[tuple[str, ...]]  # ``reversed_claims``
    terms: set[str]  # its content words (``text.question_terms``)

    @classmethod
    def of(cls, paper: Paper, sentence: str, names: list[str]) -> Claim:
        named = [n for n, _ in benchmarks(paper, [sentence])]
        return cls(
            paper=paper,
            sentence=sentence,
            names=names,
            benchmarks=named,
            best=named if _BEST.search(sentence) else [],
            denied=reversed_claims(sentence),
            terms=question_terms(sentence),
        )

    @property
    def called(self) -> str:
        """What the tension line calls its paper: its method's name ("S4"), else
        ``paper_name``."""
        return self.names[0] if self.names else paper_name(self.paper)

    def asserts(self, stems: tuple[str, ...]) -> bool:
        """It uses one of ``stems`` and denies nothing (a sentence that negates anything is
        not read as a plain assertion)."""
        if self.denied:
            return False
        words = re.findall(r"[a-z][a-z-]+", self.sentence.lower())
        return any(w.startswith(stem) for stem in stems for w in words)

    def beats(self, other: Claim) -> bool:
        """It reports beating ``other``'s paper by its method's name ("SGConv surpasses S4")."""
        if not other.names:
            return False
        names = "|".join(re.escape(n) for n in other.names)
        beaten = rf"\b(?i:{_BEATS})\w*\s+(?:\w+\s+)?(?:{names})(?![\w-])"  # names: as spelt
        return bool(re.search(beaten, self.sentence))


def _shared(a: Claim, b: Claim) -> list[str]:
    """Content words both sentences use (generic ones left out), in ``a``'s order."""
    common = (a.terms & b.terms) - _FIELD_WORDS
    words = re.findall(r"[a-z0-9][a-z0-9-]+", a.sentence.lower())
    return [w for w in dict.fromkeys(words) if w in common]


def tension(a: Claim, b: Claim, similarity: float) -> tuple[str, str, str] | None:
    """(kind, shared, one line) when the two claims cannot both hold, else None."""
    for first, second in ((a, b), (b, a)):
        same = [n for n in first.best if n in second.benchmarks]
        if same and second.beats(first):
            line = (
                f"{first.called} claims the best result on {same[0]}; "
                f"{second.called} reports beating it there."
            )
            return "results", same[0], line
    if similarity < SAME_CLAIM:
        return None
    shared = _shared(a, b)
    if len(shared) < SHARED_TERMS:
        return None
    for no, yes in ((a, b), (b, a)):
        if any(yes.asserts(stems) for stems in no.denied):
            about = " ".join(shared[:4])
            line = (
                f"Opposite claims on “{about}”: {yes.called} finds it holds, "
                f"{no.called} finds it does not."
            )
            return "opposite claims", about, line
    return None


def _claim(sentence: str) -> bool:
    """A claim sentence, not an instruction planted in an abstract."""
    return is_claim(sentence) and not drop_instructions([sentence])[1]


def disagreements(
    settings: Settings,
    papers: Sequence[Paper],
    numbers: Mapping[str, int] | None = None,
    *,
    limit: int = 5,
) -> list[Disagreement]:
    """Pairs of ``papers`` in tension, at most one per two papers and ``limit`` in all, most
    alike first (``numbers``: the papers' numbers on a page)."""
    if len(papers) < 2:
        return []
    stored = open_store(settings).sentence_vectors([p.id for p in papers])
    # Only claims are compared: only they are embedded (a week of 1,000 papers holds about
    # 7,000 sentences, and embedding them all took 40 s).
    table = sentence_table(get_embedder(settings), papers, stored, keep=_claim)
    claims: list[Claim] = []
    rows: list[np.ndarray] = []
    for paper in papers:
        sentences, vectors = table[paper.id]
        names = method_names(paper)
        claims += [Claim.of(paper, sentence, names) for sentence in sentences]
        rows += list(vectors)
    if not claims:
        return []
    matrix = np.stack(rows)
    sims = matrix @ matrix.T  # every claim against every claim: one matrix product
    best: dict[tuple[str, str], Disagreement] = {}
    for i, j in zip(*np.nonzero(np.triu(sims, 1) >= SAME_SUBJECT), strict=True):
        a, b = sorted((claims[i], claims[j]), key=lambda c: c.paper.id)
        key = (a.paper.id, b.paper.id)
        if a.paper.id == b.paper.id or (key in best and best[key].score >= sims[i, j]):
            continue
        found = tension(a, b, float(sims[i, j]))
        if found is None:
            continue
        kind, shared, line = found
        best[key] = Disagreement(
            kind=kind,  # type: ignore[arg-type]
            a=_side(a, numbers),
            b=_side(b, numbers),
            shared=shared,
            tension=line,
            score=round(float(sims[i, j]), 3),
        )
    return sorted(best.values(), key=lambda d: -d.score)[:limit]


def _side(claim: Claim, numbers: Mapping[str, int] | None) -> Side:
    return Side(
        paper=PaperRef(id=claim.paper.id, title=claim.paper.title),
        number=(numbers or {}).get(claim.paper.id),
        sentence=claim.sentence,
    )


def store_disagreements(
    settings: Settings, topic: str | None = None, n: int = 30, limit: int = 20
) -> tuple[list[Disagreement], int, list[str]]:
    """Disagreements among the papers on ``topic`` (``n`` of them, as a digest finds them),
    or among every paper of the store; with how many papers were read, and notices."""
    if topic:
        papers, notices = papers_to_compare(settings, topic=topic, n=n)
    else:
        papers, notices = list(open_store(settings).iter_papers()), []
    return disagreements(settings, papers, limit=limit), len(papers), notices
