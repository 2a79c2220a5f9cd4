"""Step 6 of every generated text: the model streams, and the pipeline stops it.

A stream is cut at the sentence cap and when the model starts repeating a sentence (the
decoding loop small models fall into); the text kept always ends on a whole sentence.
Answers (``answer.answer_from``) and digest paragraphs write through ``generate``.
"""

from __future__ import annotations

from assistant.prose import CITATION_GROUP, FINISHED, split_answer, through
from assistant.text import squash


def repeats_itself(text: str) -> bool:
    """Whether the last finished sentence of ``text`` was already written (a decoding loop)."""
    done = split_answer(text)
    if len(done) < 2 or not FINISHED.search(text):
        return False
    last = squash(CITATION_GROUP.sub("", done[-1]))
    return len(last) > 10 and any(squash(CITATION_GROUP.sub("", s)) == last for s in done[:-1])


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
        key = squash(CITATION_GROUP.sub("", sentence))
        if key not in seen:
            seen.add(key)
            kept.append(sentence)
    return " ".join(kept)
