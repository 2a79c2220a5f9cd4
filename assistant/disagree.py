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


def _asserts(sentence: str, stems: tuple[str, ...]) -> bool:
    """The sentence uses one of ``stems`` and denies nothing (a sentence that negates
    anything is not read as a plain assertion)."""
    if reversed_claims(sentence):
        return False
    words = re.findall(r"[a-z][a-z-]+", sentence.lower())
    return any(w.startswith(stem) for stem in stems for w in words)


def _shared(a: str, b: str) -> list[str]:
    """Content words both sentences use (generic ones left out), in ``a``'s order."""
    common = (question_terms(a) & question_terms(b)) - _FIELD_WORDS
    return [w for w in dict.fromkeys(re.findall(r"[a-z0-9][a-z0-9-]+", a.lower())) if w in common]


def _best_claim(paper: Paper, sentence: str) -> list[str]:
    """The benchmarks a sentence claims the best result on ("SoTA on ... Long Range Arena")."""
    return [n for n, _ in benchmarks(paper, [sentence])] if _BEST.search(sentence) else []


def _beats(sentence: str, other: Paper) -> bool:
    """The sentence reports beating ``other`` by its name ("SGConv surpasses S4")."""
    names = "|".join(re.escape(n) for n in method_names(other))
    if not names:
        return False
    beaten = rf"\b(?i:{_BEATS})\w*\s+(?:\w+\s+)?(?:{names})(?![\w-])"  # names: as spelt
    return bool(re.search(beaten, sentence))


def _name(paper: Paper) -> str:
    """What the tension line calls a paper: its method's name ("S4"), else ``paper_name``."""
    names = method_names(paper)
    return names[0] if names else paper_name(paper)


def tension(a: Paper, sa: str, b: Paper, sb: str, similarity: float) -> tuple[str, str, str] | None:
    """(kind, shared, one line) when the two sentences cannot both hold, else None."""
    for first, s1, second, s2 in ((a, sa, b, sb), (b, sb, a, sa)):
        best = _best_claim(first, s1)
        said = [n for n, _ in benchmarks(second, [s2])]
        same = [n for n in best if n in said]
        if same and _beats(s2, first):
            line = (
                f"{_name(first)} claims the best result on {same[0]}; "
                f"{_name(second)} reports beating it there."
            )
            return "results", same[0], line
    shared = _shared(sa, sb)
    if similarity < SAME_CLAIM or len(shared) < SHARED_TERMS:
        return None
    for no, s_no, yes, s_yes in ((a, sa, b, sb), (b, sb, a, sa)):
        for stems in reversed_claims(s_no):
            if _asserts(s_yes, stems):
                about = " ".join(shared[:4])
                line = (
                    f"Opposite claims on “{about}”: {_name(yes)} finds it holds, "
                    f"{_name(no)} finds it does not."
                )
                return "opposite claims", about, line
    return None


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
    table = sentence_table(get_embedder(settings), papers, stored)
    claims: dict[str, tuple[list[str], np.ndarray]] = {}
    for paper in papers:
        sentences, vectors = table[paper.id]
        kept, _ = drop_instructions(sentences)
        rows = [i for i, s in enumerate(sentences) if s in kept and is_claim(s)]
        if rows:
            claims[paper.id] = ([sentences[i] for i in rows], vectors[rows])
    by_id = {p.id: p for p in papers}
    owner = [pid for pid, (sentences, _) in claims.items() for _ in sentences]
    said = [s for sentences, _ in claims.values() for s in sentences]
    if not said:
        return []
    vectors = np.concatenate([v for _, v in claims.values()])
    sims = vectors @ vectors.T  # every claim against every claim: one matrix product
    best: dict[tuple[str, str], Disagreement] = {}
    for i, j in zip(*np.nonzero(np.triu(sims, 1) >= SAME_SUBJECT), strict=True):
        a, b = sorted((owner[i], owner[j]))
        if a != owner[i]:
            i, j = j, i
        if a == b or ((a, b) in best and best[a, b].score >= sims[i, j]):
            continue
        found = tension(by_id[a], said[i], by_id[b], said[j], float(sims[i, j]))
        if found is None:
            continue
        kind, shared, line = found
        best[a, b] = Disagreement(
            kind=kind,  # type: ignore[arg-type]
            a=_side(by_id[a], said[i], numbers),
            b=_side(by_id[b], said[j], numbers),
            shared=shared,
            tension=line,
            score=round(float(sims[i, j]), 3),
        )
    return sorted(best.values(), key=lambda d: -d.score)[:limit]


def _side(paper: Paper, sentence: str, numbers: Mapping[str, int] | None) -> Side:
    return Side(
        paper=PaperRef(id=paper.id, title=paper.title),
        number=(numbers or {}).get(paper.id),
        sentence=sentence,
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
