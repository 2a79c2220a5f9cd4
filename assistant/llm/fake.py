"""The ``fake`` provider: deterministic, scriptable (``enqueue``, ``history``), for fast tests."""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from assistant.llm.base import BaseLLM, Generation, GenParams, Message, Usage, cut_at_stop
from assistant.llm.registry import register_provider
from assistant.settings import LLMSettings


@dataclass
class FakeCall:
    """One call the fake provider received."""

    messages: list[Message]
    max_tokens: int
    temperature: float
    stop: tuple[str, ...]


class FakeLLM(BaseLLM):
    """Deterministic, scriptable LLM: replies are queued with ``enqueue``, calls kept in
    ``history``; with nothing queued it answers ``fake reply: <last user message>``.

    Tokens are whitespace-separated words; a reply streams word by word, is cut at
    ``max_tokens`` words and at stop sequences, like a real model. Enqueue an exception to
    make the next call raise it.
    """

    provider = "fake"

    def __init__(self, settings: LLMSettings) -> None:
        super().__init__(settings)
        self.name = settings.model or "fake"
        self.history: list[FakeCall] = []
        self._queue: deque[str | BaseException] = deque()

    def enqueue(self, *replies: str | BaseException) -> None:
        """Queue replies (or exceptions) for the next calls, in order."""
        self._queue.extend(replies)

    def count_tokens(self, text: str) -> int:
        """Whitespace-separated words."""
        return len(text.split())

    def _generate(self, messages: list[Message], params: GenParams) -> Generation:
        self.history.append(FakeCall(messages, params.max_tokens, params.temperature, params.stop))
        reply = self._queue.popleft() if self._queue else self.default_reply(messages)
        if isinstance(reply, BaseException):
            raise reply
        text, _ = cut_at_stop(reply, params.stop)
        words = re.findall(r"\s*\S+", text)
        finish = "stop"
        if len(words) > params.max_tokens:
            words, finish = words[: params.max_tokens], "length"
        yield from words
        return Usage(completion_tokens=len(words), finish_reason=finish)

    @staticmethod
    def default_reply(messages: Sequence[Message]) -> str:
        """The reply when nothing is queued: echoes the last user message."""
        last = next((m.content for m in reversed(messages) if m.role == "user"), "")
        return f"fake reply: {last}"


@register_provider("fake")
def fake_llm(settings: LLMSettings) -> BaseLLM:
    """The ``fake`` provider's factory (also declared as an entry point)."""
    return FakeLLM(settings)
