"""Step 6 of every generated text: the model streams, and the pipeline stops it.

A stream is cut at the sentence cap and when the model starts repeating a sentence (the
decoding loop small models fall into); the text kept always ends on a whole sentence.
Answers (``answer.answer_from``) and digest paragraphs write through ``generate``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from assistant.prose import CITATION_GROUP, FINISHED, split_answer, through, whole
from assistant.text import squash

if TYPE_CHECKING:
    from assistant.llm import LLM, Prompt, Telemetry


class Generation:
    """One model call as it is written: iterate for its text chunks. The stream is stopped
    at ``max_sentences`` sentences (None: no cap) and when a sentence repeats (``looped``);
    after it, ``text`` holds whole sentences only and ``telemetry`` the call's figures."""

    def __init__(
        self,
        llm: LLM,
        messages: Prompt,
        *,
        max_sentences: int | None = None,
        max_tokens: int | None = None,
    ) -> None:
        self.llm, self.messages = llm, messages
        self.max_sentences, self.max_tokens = max_sentences, max_tokens
        self.looped = False
        self.text = ""
        self.telemetry: Telemetry | None = None

    def __iter__(self) -> Iterator[str]:
        stream = self.llm.stream(self.messages, max_tokens=self.max_tokens)
        cap = self.max_sentences
        with stream:
            for chunk in stream:
                yield chunk
                if not chunk.strip():
                    continue
                if repeats_itself(stream.text):
                    self.looped = True
                    break
                if cap is not None and first_sentences(stream.text, cap) is not None:
                    break
        self.telemetry = stream.telemetry
        text = drop_repetition(stream.text) if self.looped else stream.text
        # Never end mid-sentence: cut at the sentence cap, or drop what max_tokens cut.
        self.text = (first_sentences(text, cap) if cap is not None else None) or whole(text)


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
