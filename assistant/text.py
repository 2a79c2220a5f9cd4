"""Words of a question and of a paper: what a question asks about, and whether a paper
uses those words. Used by retrieval (good matches), the answer's evidence and follow-ups,
and digests (themes on the topic)."""

from __future__ import annotations

import re
import time

STOPWORD_TEXT = (
    "about across and are based between can does each for from has have how into its more "
    "not other over such than that the their them these they this those through using use "
    "used what when where which while who why will with within without would paper papers "
    "method methods approach approaches model models propose proposed work"
)
STOPWORDS = frozenset(STOPWORD_TEXT.split())
_WORD = re.compile(r"[a-z0-9][a-z0-9-]+")


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
