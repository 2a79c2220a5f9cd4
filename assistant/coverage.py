"""Which parts of a question the papers cover: the gate, the evidence and the citation check
read meaning here, not spelling.

A question's *parts* are its runs of content words, cut at its frame ("which papers",
"what does the collection say about") and its joints ("for", "in", "and"): "diffusion models
for video generation" has the parts "diffusion" and "video generation". A paper *covers* a
part when one of its sentences uses every word of it (by word start, hyphens ignored:
"re-training" covers "retraining") or says it in other words: the part's embedding is at
least ``COVER_SIMILARITY`` from the sentence's. A made-up name in a part (GPT-4o,
SWE-bench: a capital inside, or letters with digits) is a thing of its own: the paper must
spell it too.

Calibrated on the issue's own examples, never on the eval suites that check it: on-topic
parts reach 0.47-0.84 with their papers' sentences; parts no paper covers ("video
generation" among speech and language diffusion papers, "retraining" spelt "re-training"
aside) stay at or below 0.45.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

from assistant.prose import background_sentences
from assistant.text import STOPWORDS, split_sentences, spoken_list, squash, word_classes

if TYPE_CHECKING:
    from assistant.embed import Embedder
    from assistant.models import Paper

#: A part and a sentence this similar say the same thing.
COVER_SIMILARITY = 0.5
#: "Yes, X [1]" says that [1] states what was asked, so each part it states must be in one of
#: [1]'s sentences, in its words or at this similarity, and not only its topic words: "voice
#: cloning" is 0.56 from "singing voice synthesis", and "voice synthesis" 0.66 (partial-05:
#: "Yes, ... has been shown to work for singing voice synthesis [1]", of a paper that never
#: mentions singing). The true yeses of follow-up dev state their parts at 0.64-0.75 or spell
#: them.
AFFIRMED_SIMILARITY = 0.6
#: A question names at most this many parts (the first ones).
MAX_PARTS = 8
#: The words that frame a question or join its parts; everything else is content.
_FRAME_TEXT = (
    "a an the of in on at to by as or is are was were be been being do does did done has have "
    "had any some there here say says said tell give list find found show shows shown report "
    "reports reported describe describes study studies collection indexed corpus literature "
    "how much many well also just only one ones kind kinds type types way ways like per via "
    "new recent current existing different various specific main key best better good "
    "can could should would may might must so if then whether yes no all both either "
    "work works improve improves improved handle handles handled compare compared achieve "
    "achieves help helps save saves saved observe observed observes evaluate evaluated "
    "result results performance technique techniques someone anyone look looked claim claims "
    "several multiple numerous few each every same others more most less least novel "
    "diverse typical common popular standard able across when while whose but yet however "
    "because since though although unless until upon onto out up down off under again once "
    "very too own nor not now then than ask asks asked mention mentions mentioned discuss it "
    "cover covers covered "
    "discusses discussed make makes made get gets got take takes taken give given "
    "two three four five six seven eight nine ten first second third instead rather away back "
    "after before during toward towards among against beyond behind along despite cannot"
)
_FRAME = frozenset(_FRAME_TEXT.split()) | STOPWORDS
#: What a chat adds around what it asks ("Does the same idea work for video?", "Anything
#: designed specifically for speech?", "What if I'm free to ..."): no paper says these
#: (an abstract says what a method does, not that it is "designed" or "meant" for it), nor
#: the person a question says a method serves ("sound like a particular person", "what
#: people use"): an abstract names the role (speaker, user, annotator).
#: Capitalised inside a question they are part of a name ("Segment Anything 2").
_CHAT_TEXT = (
    "anything something everything nothing idea ideas thing things stuff specifically "
    "particular particularly exactly really actually i'm designed intended meant aimed "
    "person persons people"
)
_CHAT = frozenset(_CHAT_TEXT.split())
_TOKEN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9'.\-]*[A-Za-z0-9])?|[^\sA-Za-z0-9]")
_WORDS = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_DENIAL = re.compile(r"\b(?:not|no|none|neither|nor|never|without|cannot)\b|n't\b", re.I)
#: Sentences of papers already embedded, by paper id (a question's hits repeat in its check).
_CACHE: OrderedDict[str, tuple[list[str], np.ndarray]] = OrderedDict()
_CACHE_SIZE = 2048


#: Words after which a verb says what the papers do: "papers measure", "methods that cover".
_PLURAL_SUBJECTS = frozenset(["papers", "works", "studies", "methods", "approaches", "models"])
_PLURAL_SUBJECTS |= {"they", "them", "those", "these"}
_SINGULAR_SUBJECTS = frozenset(["paper", "work", "study", "method", "approach"])


#: What opens a contrast: the words after it, to the end of their clause, are what the question
#: does not ask about ("Which of those throw tokens away rather than squeezing them?").
_CONTRAST = re.compile(r"\b(?:rather than|instead of|as opposed to)\s", re.I)
#: Words that end a contrast's clause, like punctuation.
_CONTRAST_ENDS = frozenset(["and", "but", "while", "so", "which", "that", "where"])


def question_parts(question: str) -> list[str]:
    """The parts a question asks about, in its order, at most ``MAX_PARTS``. A verb that
    says what the papers do ("How do papers measure hallucination", "papers that cover video
    generation") is frame, not part: the part is what it acts on ("hallucination"). What it
    sets against them ("rather than autoregressive decoding") is no part either."""
    return _parts(_without_contrasts(question))


def _without_contrasts(question: str) -> str:
    """``question`` with each contrast ("instead of images") cut to a comma, so that the
    words before and after it stay apart."""
    while found := _CONTRAST.search(question):
        rest = _TOKEN.findall(question[found.end() :])
        end = next(
            (n for n, t in enumerate(rest) if not t[0].isalnum() or t.lower() in _CONTRAST_ENDS),
            len(rest),
        )
        question = f"{question[: found.start()]}, {' '.join(rest[end:])}"
    return question


def _parts(question: str) -> list[str]:
    parts: list[str] = []
    run: list[str] = []
    tokens = [*_TOKEN.findall(question), "."]
    start = 0
    for n, token in enumerate(tokens):
        word = token.lower().strip("'")
        chat = word in _CHAT and (n == 0 or not token[0].isupper() or word == "i'm")
        if (
            token[0].isalnum()
            and word not in _FRAME
            and not chat
            and not word.replace(".", "").isdigit()
        ):
            start = n if not run else start
            run.append(token)
            continue
        before = [t.lower() for t in tokens[max(start - 3, 0) : start]]
        if run and before[-1:] in (["what"], ["which"]) and run[0].lower() in _ASKED_AMOUNT:
            run = run[1:]  # "what fraction works best": the answer is a number, no topic
        before = [w for w in before if w not in _BETWEEN] or before  # "those also propose"
        if run and _acts(before, run, token.lower()):
            run = run[1:]
        if run and any(len(w) > 2 or (len(w) > 1 and w.isupper()) for w in run):
            parts.append(" ".join(run))
        run = []
    return list(dict.fromkeys(parts))[:MAX_PARTS]


#: After "what" or "which", words that ask for a number rather than name a topic: "what
#: fraction works best", "by what factor", "at what size" (an abstract gives the number).
_ASKED_AMOUNT = frozenset(
    ["fraction", "proportion", "percentage", "factor", "amount", "size", "ratio"]
)
#: Words that may stand between the papers and what they do: "which of those also propose".
_BETWEEN = frozenset(["also", "only", "actually", "really", "still", "even", "just", "all"])
#: "[those] were [tested]": a form of "be" between the subject and a past participle.
_BE = frozenset(["is", "are", "was", "were", "be", "been", "being"])
#: What a participle's object follows: "tested on speech", "trained with RL".
_DONE_WITH = frozenset(["on", "in", "with", "for", "by", "to", "at", "from", "using", "via"])


def _acts(before: Sequence[str], run: Sequence[str], after: str) -> bool:
    """Whether a run opens with a verb whose subject is the papers (the words ``before`` it),
    alone or followed by a noun it acts on: "[papers] measure hallucination", "[a method
    that] compresses KV caches", "[which of those] need [no retraining]", "[which of those
    were] tested [on speech]" (a participle alone only before what it was done ``after``
    with: "[which models are] distilled?" asks about distilling). "[papers] sample faster"
    keeps its verb: "faster" is no thing to be about."""
    if made_up(run[0]) or run[0][:1].isupper():
        return False
    from lemminflect import getAllLemmas, getInflection

    readings = getAllLemmas(run[0].lower())
    verb = readings.get("VERB", ())
    if not verb or "ADJ" in readings or "ADV" in readings:  # "Is it fast?": no verb
        return False
    base = run[0].lower() in verb
    subject, last = (before[-2] if len(before) > 1 else ""), (before[-1] if before else "")
    participle = run[0].lower() in getInflection(verb[0], "VBN")
    if last in _BE and participle:
        agrees = subject in _PLURAL_SUBJECTS | _SINGULAR_SUBJECTS | {"it", "that", "who"}
        if len(run) == 1:
            return agrees and after in _DONE_WITH
    elif last in _PLURAL_SUBJECTS:
        agrees = base
    elif last == "it":  # "does it need", "it needs"
        agrees = True
    elif last in _SINGULAR_SUBJECTS:
        agrees = not base and run[0].lower().endswith("s")
    else:
        agrees = last in ("that", "who")
    if len(run) == 1:
        return agrees
    following = run[1]
    noun = (
        made_up(following) or following[:1].isupper() or "NOUN" in getAllLemmas(following.lower())
    )
    return agrees and noun


def main_parts(question: str) -> list[str]:
    """The parts a question asks about outside its asides: "(eviction, merging,
    quantization)" gives examples, not four more things every paper must cover."""
    return question_parts(re.sub(r"\([^()]*\)", " ", question))


def made_up(word: str) -> bool:
    """A capital after the first letter, or letters mixed with digits: a made-up name."""
    return any(c.isupper() for c in word[1:]) or (
        any(c.isdigit() for c in word) and any(c.isalpha() for c in word)
    )


def names_in(part: str) -> list[str]:
    """The made-up names in a part (``made_up``)."""
    return [w for w in part.split() if made_up(w)]


def _stem(word: str) -> str:
    key = word.lower().replace("-", "").replace("'", "")
    return key if len(key) <= 4 else key[: max(4, len(key) - 3)]


def _forms(word: str) -> tuple[str, ...]:
    """A word as ``uses_words`` reads it: whole, without hyphens ("re-training" is
    "retraining"), and each piece ("State-Space" says "state" and "space")."""
    return (word, word.replace("-", ""), *word.split("-"))


def uses_words(text: str, part: str) -> bool:
    """Whether ``text`` uses every word of ``part`` (by word start, hyphens ignored or split
    at), close together: each within twice the part's length of the first ("video ...
    generation" twenty words apart is not "video generation")."""
    stems = [_stem(p) for p in part.split()]
    found = _WORDS.findall(text.lower())
    if not stems or not found:
        return False
    width = 2 * len(stems)
    forms = [_forms(w) for w in found]
    where = [{i for i, f in enumerate(forms) if any(x.startswith(s) for x in f)} for s in stems]
    if any(not places for places in where):
        return False
    return any(all(any(abs(j - i) < width for j in places) for places in where) for i in where[0])


def _sentences(paper: Paper, embedder: Embedder) -> tuple[list[str], np.ndarray]:
    key = f"{paper.id}:{len(paper.text)}"
    if key in _CACHE:
        _CACHE.move_to_end(key)
        return _CACHE[key]
    sentences = split_sentences(paper.text) or [paper.text]
    entry = (sentences, embedder.embed(sentences))
    _CACHE[key] = entry
    if len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return entry


#: How a question asks for papers that do without a thing: "need no fine-tuning", "without
#: retraining", "don't require labels", "training-free".
_ASKED_WITHOUT = re.compile(
    r"\b(?:without|(?:need|needs|require|requires|use|uses|involve|involves|with)\s+no|"
    r"(?:do|does)(?:\s+not|n['’]t)\s+(?:need|require|use|involve|rely\s+on))\s+(?:any\s+)?"
    r"(?P<thing>[\w-]+(?:\s+[\w-]+){0,3})|\b(?P<free>[a-z]+)-free\b",
    re.I,
)
#: The words that open what a sentence says is absent, and those between it and the thing:
#: "does not require any training", "requiring no parameter updates", "free of labels".
_DENIES = frozenset(["no", "not", "without", "never", "nor", "free"])
_DENIED_LEAD = frozenset(
    [
        *("any", "additional", "extra", "further", "the", "a", "an", "of", "on", "for"),
        *("need", "needs", "require", "requires", "requiring", "involve", "involves"),
        *("use", "uses", "using", "rely", "relies"),
    ]
)
#: What a sentence says is absent (up to this many words) says the asked thing at this
#: similarity: "parameter updates or learning" is 0.42 from "fine-tuning", "labels" 0.76
#: from "labeled data"; things apart ("architectural changes", "memory costs") stay at or
#: below 0.18 from "fine-tuning".
DENIED_WORDS = 4
DENIED_SIMILARITY = 0.4


def asked_without(question: str) -> str:
    """What a question asks the papers to do without ("Which of those need no fine-tuning?":
    "fine-tuning"), or "" when it asks nothing so."""
    found = _ASKED_WITHOUT.search(question)
    if not found:
        return ""
    parts = _parts(found.group("thing") or found.group("free"))
    return parts[0] if parts else ""


def denied_things(sentence: str) -> list[str]:
    """What a sentence says is absent: the words after each denial ("without any
    fine-tuning": "fine-tuning"; "requiring no parameter updates or learning": "parameter
    updates or learning"), up to ``DENIED_WORDS``, and each "X-free" ("training")."""
    tokens = _TOKEN.findall(sentence)
    things = [t.lower()[: -len("-free")] for t in tokens if t.lower().endswith("-free")]
    for n, token in enumerate(tokens):
        word = token.lower()
        if word not in _DENIES and not word.endswith(("n't", "n’t")):
            continue
        rest = tokens[n + 1 :]
        start = next((i for i, t in enumerate(rest) if t.lower() not in _DENIED_LEAD), len(rest))
        run = []
        for t in rest[start : start + DENIED_WORDS]:
            if not t[0].isalnum() or (t.lower() in _FRAME and t.lower() not in ("and", "or")):
                break  # "no additional memory costs than training": "memory costs"
            run.append(t)
        while run and run[-1].lower() in ("and", "or"):
            run.pop()
        if run:
            things.append(" ".join(run))
    return things


@dataclass
class Coverage:
    """Which papers cover which parts of a question."""

    parts: list[str]
    by_part: dict[str, set[str]] = field(default_factory=dict)  # part -> ids of its papers
    # part -> ids of the papers that cover its topic words, for parts with a verb in them
    by_topic: dict[str, set[str]] = field(default_factory=dict)
    without: str = ""  # what the question asks the papers to do without (``asked_without``)
    denied: set[str] = field(default_factory=set)  # ids of the papers that say they do

    def uncovered(self) -> list[str]:
        """The parts no paper covers."""
        return [p for p in self.parts if not self.by_part.get(p)]

    def missing(self) -> list[str]:
        """What can be said to be missing: the topic words (``topic_words``) of each uncovered
        part, where no paper covers them either ("requests phrased" is there when "requests"
        is; of "taught sonar imaging" only "sonar imaging" is missing; "tested" never is, nor
        "low", ``a_topic``)."""
        said = [topic_words(p) for p in self.uncovered() if not self.by_topic.get(p)]
        return list(dict.fromkeys(t for t in said if t and a_topic(t)))

    def covers(self, paper_id: str, part: str) -> bool:
        return paper_id in self.by_part.get(part, set())

    def count(self, paper_id: str) -> int:
        """How many parts the paper covers."""
        return sum(self.covers(paper_id, part) for part in self.parts)

    def covers_all(self, paper_id: str) -> bool:
        """Whether the paper covers every part (any paper, for a question without parts)."""
        return all(self.covers(paper_id, part) for part in self.parts)

    def states(self, paper_id: str, part: str) -> bool:
        """Whether the paper covers the part or, leaving its verbs aside, its topic words."""
        return self.covers(paper_id, part) or paper_id in self.by_topic.get(part, set())

    def on_question(self, paper_id: str) -> bool:
        """Whether the paper covers a part of the question (any paper, for a question
        without parts)."""
        return not self.parts or any(paper_id in ids for ids in self.by_part.values())


def _says(part: str, sentences: Sequence[str], similarity: float, spelt: str, least: float) -> bool:
    """Whether a paper (its ``sentences``, its text ``squash``ed) says a part, whose best
    similarity to its sentences is ``similarity`` (``least`` or more says it)."""
    if not all(squash(n).removesuffix("s") in spelt for n in names_in(part)):
        return False
    return similarity >= least or any(uses_words(t, part) for t in sentences)


def coverage(
    parts: Sequence[str],
    papers: Sequence[Paper],
    embedder: Embedder,
    least: float = COVER_SIMILARITY,
    without: str = "",
) -> Coverage:
    """Which of ``papers`` cover each of ``parts`` (see the module's docstring); ``least``:
    the similarity that says a part in other words. With ``without`` (``asked_without``):
    also which papers say they do without it (``denies``)."""
    result = Coverage(parts=list(parts), by_part={p: set() for p in parts}, without=without)
    if without:
        result.denied = {p.id for p in papers if denies(p, without, embedder)}
    if not parts or not papers:
        return result
    topics = {p: t for p in parts if (t := topic_words(p)) and t != p}
    result.by_topic = {p: set() for p in topics}
    asked = [*parts, *topics.values()]
    vectors = embedder.embed(asked)
    for paper in papers:
        sentences, sentence_vectors = _sentences(paper, embedder)
        similar = dict(zip(asked, (vectors @ sentence_vectors.T).max(axis=1), strict=True))
        spelt = squash(paper.text)
        for part in parts:
            if _says(part, sentences, similar[part], spelt, least):
                result.by_part[part].add(paper.id)
            elif part in topics and _says(
                topics[part], sentences, similar[topics[part]], spelt, least
            ):
                result.by_topic[part].add(paper.id)
    return result


def denies(paper: Paper, thing: str, embedder: Embedder) -> bool:
    """Whether a paper says it does without ``thing`` (``denying_sentence``)."""
    return bool(denying_sentence(paper, thing, embedder))


def denying_sentence(paper: Paper, thing: str, embedder: Embedder) -> str:
    """The paper's first sentence that says it does without ``thing``: one that says absent
    (``denied_things``) what uses the thing's words or says it at ``DENIED_SIMILARITY``,
    and is not the background the abstract opens with; "" when none does. Read by what is
    denied, not by the sentence: a sentence's embedding barely moves with a "no" ("without
    fine-tuning" is as close to a sentence about supervised fine-tuning as to "... handle
    long contexts without fine-tuning")."""
    opening = background_sentences(paper)  # the field's, not the paper's, when it turns
    background = set(opening) if len(opening) < len(split_sentences(paper.abstract)) else set()
    sentences = [_unheaded(t, paper) for t in _sentences(paper, embedder)[0]]
    denied = [(t, d) for t in sentences if t not in background for d in denied_things(t)]
    if not denied:
        return ""
    said = [t for t, d in denied if uses_words(d, thing)]
    if said:
        return said[0]
    vectors = embedder.embed([thing, *(d for _, d in denied)])
    near = vectors[1:] @ vectors[0]
    return next((t for (t, _), s in zip(denied, near, strict=True) if s >= DENIED_SIMILARITY), "")


def stating_sentence(paper: Paper, part: str, embedder: Embedder) -> str:
    """The paper's sentence that says ``part``: the first that uses its words, else the one
    most similar to it at ``COVER_SIMILARITY`` or more; "" when none does."""
    sentences, vectors = _sentences(paper, embedder)
    sentences = [_unheaded(t, paper) for t in sentences]
    used = [t for t in sentences if uses_words(t, part)]
    if used:
        return used[0]
    similar = vectors @ embedder.embed([part])[0]
    best = int(np.argmax(similar))
    return sentences[best] if similar[best] >= COVER_SIMILARITY else ""


def _unheaded(sentence: str, paper: Paper) -> str:
    """A sentence of ``paper.text`` without the title that heads the first one: what the
    abstract says, to quote."""
    return sentence.removeprefix(paper.title).strip() or sentence


def not_covered_sentence(missing: Sequence[str], closest: Sequence[str]) -> str:
    """What a page says first when ``missing`` is covered by no paper: each missing part
    quoted (a part in the question's words, "sample faster", reads as a quote, not as prose),
    and the ``closest`` papers by name."""
    said = " or ".join(f"“{m}”" for m in missing)
    named = f"; the closest are {spoken_list(closest)}" if closest else ""
    end = "" if named.endswith(("?", "!", ".")) else "."  # "... All There Is?", not "Is?."
    return f"The indexed papers don't cover {said}{named}{end}"


def condition_verb(condition: str, one: bool = True) -> str:
    """How a paper is said to state a follow-up's condition: it "says it works" without a
    thing (``asked_without``), else it "mentions" it; ``one``: of one paper, else of several."""
    if condition.startswith("without "):
        return "says it works" if one else "say they work"
    return "mentions" if one else "mention"


def beyond_previous_sentence(condition: str, papers: int) -> str:
    """What a follow-up's answer says first when none of the previous answer's papers states
    what it asks (``EvidenceSet.beyond_previous``) and ``papers`` others found for it do.
    "In those words": the check reads words and sentences, so an earlier paper may say it
    otherwise (the demo's "tested on code generation?" over a paper with HumanEval results)."""
    others = "another indexed paper that does" if papers == 1 else "other indexed papers that do"
    says = condition_verb(condition)
    said = f"None of the previous answer's papers {says} “{condition}” in those words"
    return f"{said}; this answer is from {others}."


def missing_names(names: Sequence[str], papers: Sequence[Paper], embedder: Embedder) -> list[str]:
    """The things a question names (``evidence.named_terms``) that no paper spells (letters
    and digits, any case, plural or not: "Llama 2" finds LLaMA-2) nor, for a plain word, says
    in other words (a sentence at ``COVER_SIMILARITY``: "Cambodian" finds Khmer). A name of
    several words, or with a digit or a capital inside (Segment Anything, DP-SGD, GPT-4o), is
    a title of its own: only ever spelt."""
    spelt = " ".join(squash(p.text) for p in papers)
    unspelt = [n for n in names if squash(n).removesuffix("s") not in spelt]
    exact = [n for n in unspelt if " " in n or any(c.isdigit() for c in n) or names_in(n)]
    unspelt = [n for n in unspelt if n not in exact]
    if not unspelt or not papers:
        return exact + unspelt
    vectors = embedder.embed(list(unspelt))
    best = np.max([(vectors @ _sentences(p, embedder)[1].T).max(axis=1) for p in papers], axis=0)
    return exact + [n for n, b in zip(unspelt, best, strict=True) if b < COVER_SIMILARITY]


@lru_cache(maxsize=4096)
def topic_words(part: str) -> str:
    """A part without the words English only uses as verbs ("tested", "let", "taught",
    "phrased"; by lemminflect's lexicon): what a question that describes a paper in its own
    words can be said to ask about. "requests phrased" is about "requests"; "tested" about
    nothing. Names and capitalized words always stay ("Let's Verify", "GPT-4o")."""

    def verb(word: str) -> bool:
        if made_up(word) or word[:1].isupper():
            return False
        readings = word_classes(word)
        return bool(readings) and readings <= {"VERB", "AUX"}

    return " ".join(w for w in part.split() if not verb(w))


def a_topic(part: str) -> bool:
    """Whether a part can be said to be missing from the papers: not verbs alone
    (``topic_words``), which a question that describes a paper in its own words leaves
    uncovered ("How do papers let a model learn ...?" opened "The indexed papers don't cover
    let"). A name, a noun, a noun with a verb can be ("microcontrollers", "EEG", "video
    generation"). Nor words English uses only as adverbs or adjectives ("entirely",
    "deliberately wrong", "big"): a thing to be about has a word that can name one."""

    def spelt_as_name(word: str) -> bool:
        return made_up(word) or word[:1].isupper() or "-" in word

    words = topic_words(part).split()
    if len(words) == 1 and not spelt_as_name(words[0]) and "ADV" in word_classes(words[0]):
        return False  # "low", "still", "past": an adverb first, whatever nouns it can be
    return any(
        spelt_as_name(w) or not (readings := word_classes(w)) or "NOUN" in readings for w in words
    )


def parts_said(sentence: str, parts: Sequence[str]) -> list[str]:
    """The parts of the question a sentence states, in the question's words."""
    return [p for p in parts if uses_words(sentence, p)]


def affirms(sentence: str, thing: str) -> bool:
    """Whether a sentence mentions ``thing`` other than to deny it: "[2] needs fine-tuning",
    not "[1] does not need fine-tuning" (each denial, ``denied_things``, takes one mention)."""
    rest = sentence
    for denied in denied_things(sentence):
        rest = rest.replace(denied, "", 1)
    return uses_words(rest, thing)


def says_not(sentence: str, part: str) -> bool:
    """Whether a sentence denies a part: a denial, then the part's first word within three
    words of the same clause ("does not detect fake fingerprints", "but not for occlusion";
    not "It is not clear, but occlusion ...")."""
    first = re.escape(_stem(part.split()[0]))
    return bool(re.search(rf"(?:{_DENIAL.pattern})(?: +[\w-]+){{0,3}}? +{first}", sentence, re.I))


def restates(sentence: str, question: str, names: Sequence[str] = (), without: str = "") -> bool:
    """Whether a sentence says nothing but the question's own words of the papers it
    ``names``: "X [1] was tested on requests phrased in the past tense" answers "Which of
    those were tested on requests phrased in the past tense?" and claims no more than that X
    covers what was asked. A denial ("was not tested") says more, unless the question asks
    for papers that do ``without`` a thing ("Which of those need no fine-tuning?"): then the
    sentence must deny it too ("[1] and [2] do not need fine-tuning")."""
    if bool(_DENIAL.search(sentence) or re.search(r"\w-free\b", sentence)) != bool(without):
        return False
    if without and affirms(sentence, without):  # not "[1] does not need it, [2] needs it"
        return False

    def content(text: str) -> list[str]:
        return [w for w in _WORDS.findall(text.lower()) if w not in _FRAME and w not in _CHAT]

    asked = [_stem(w) for w in content(" ".join([question, *names]))]
    words = content(sentence)
    return bool(words) and all(
        any(w.startswith(a) or a.startswith(_stem(w)) for a in asked) for w in words
    )
