"""Text, decided once: the characters untrusted text may not carry, how an abstract splits
into sentences, and the words of a question (stop words; whether a paper uses those words).

Control characters are dropped by the parser, the CLI and exports alike; sentences are what
the store embeds per abstract and what evidence quotes; question words serve retrieval (good
matches), the answer's evidence and follow-ups, and digests (themes on the topic)."""

from __future__ import annotations

import re
import time
from collections.abc import Sequence

#: Characters that must not reach a terminal, a page or a prompt: C0 and C1 controls other
#: than tab and newline (terminal escapes, bells, NULs, carriage returns), and the bidi
#: overrides and isolates (U+202A..U+202E, U+2066..U+2069) that reorder what a reader sees.
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")

#: Lookbehinds that keep an abbreviation ("vs.", "e.g.", "i.e.", "et al.", "cf.", "Fig.", "Eq.")
#: from ending a sentence: "as high as 90% (vs. 75% for images)" is one sentence.
NOT_AFTER_ABBREVIATION = "".join(
    rf"(?<!\b{re.escape(a)})"
    for a in ("vs.", "e.g.", "i.e.", "et al.", "cf.", "Fig.", "Eq.", "approx.", "resp.")
)
#: Lookbehinds that keep an inline list number ("two limitations: 1. We use ...; and 2. We
#: replace ...") from ending a sentence: a number after a colon, a semicolon or "and" opens
#: an item ("approximately equal to 1." and "than GPT-4." still end theirs).
NOT_AFTER_ITEM_NUMBER = "".join(rf"(?<!{lead} [1-9]\.)" for lead in (":", ";", r"\band"))
_SENTENCE_END = re.compile(
    rf"(?<=[.!?]){NOT_AFTER_ABBREVIATION}{NOT_AFTER_ITEM_NUMBER}\s+(?=[A-Z0-9\"'(\[])"
)


def spoken_list(items: Sequence[str]) -> str:
    """Items as a sentence lists them: "a", "a and b", "a, b and c"."""
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def one_line(text: str) -> str:
    """``text`` on one line: control characters dropped, whitespace runs made one space."""
    return " ".join(CONTROL.sub(" ", text).split())


def split_sentences(text: str) -> list[str]:
    """Split an abstract into sentences (good enough for evidence; no NLP dependency)."""
    parts = (s.strip() for s in _SENTENCE_END.split(text))
    return [s for s in parts if s]


STOPWORD_TEXT = (
    "about across and are based between can does each for from has have how into its more "
    "not other over such than that the their them these they this those through using use "
    "used what when where which while who why will with within without would paper papers "
    "method methods approach approaches model models propose proposed work"
)
STOPWORDS = frozenset(STOPWORD_TEXT.split())
_WORD = re.compile(r"[a-z0-9][a-z0-9-]+")


def word_classes(word: str) -> frozenset[str]:
    """The parts of speech English uses ``word`` as ("NOUN", "VERB", "ADJ", ...), by
    lemminflect's lexicon; empty for a word it lacks ("scalable", "quadcopter")."""
    from lemminflect import getAllLemmas

    return frozenset(getAllLemmas(word.lower()))


def squash(text: str) -> str:
    """Lower-case letters and digits only: "LLaMA-2" and "llama 2" squash alike."""
    return re.sub(r"[^a-z0-9]+", "", text.lower())


def elapsed_ms(since: float) -> float:
    """Milliseconds since a ``time.perf_counter()`` reading, rounded for telemetry."""
    return round((time.perf_counter() - since) * 1000, 1)


def question_terms(text: str) -> set[str]:
    """Content words of a text (lower-case, no stop words): what a question asks about."""
    words = _WORD.findall(text.lower())
    return {w for w in words if len(w) > 2 and w not in STOPWORDS}


def mentions_terms(text: str, terms: set[str]) -> bool:
    """Whether ``text`` uses a question's content words (all of up to three, two thirds of
    more), by word start ("model" finds "models")."""
    if not terms:
        return True
    words = set(_WORD.findall(text.lower()))
    found = sum(1 for t in terms if any(w.startswith(t) for w in words))
    return found >= (len(terms) if len(terms) <= 3 else -(-2 * len(terms) // 3))
