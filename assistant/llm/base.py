"""The seam's types and shared machinery: ``Message``, ``Telemetry``, ``Completion``, ``Stream``,
the ``LLM`` protocol the pipeline depends on, and ``BaseLLM``, which providers subclass."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Literal, Protocol, runtime_checkable

from pydantic import BaseModel, Field

from assistant.errors import InputError
from assistant.settings import LLMSettings

log = logging.getLogger(__name__)

Role = Literal["system", "user", "assistant"]


class Message(BaseModel):
    """One chat turn."""

    role: Role
    content: str


class Telemetry(BaseModel):
    """What one generation cost: tokens, latency and speed."""

    provider: str = Field(description="Provider that answered, by its registered name.")
    model: str = Field(description="Model name.")
    prompt_tokens: int = Field(description="Tokens in the prompt, chat template included.")
    completion_tokens: int = Field(description="Tokens generated.")
    ttft_s: float = Field(description="Seconds from the call to the first generated text.")
    total_s: float = Field(description="Seconds from the call to the last generated text.")
    tokens_per_s: float = Field(
        description="Decode speed: tokens after the first one per second after the first one "
        "(completion tokens / total time when there is no separate first token)."
    )
    tokens_estimated: bool = Field(
        False, description="True when token counts are estimates (hosted reply without usage)."
    )
    finish_reason: str | None = Field(
        None, description="'stop', 'length', 'closed' (stopped early by us), or None if unknown."
    )


class Completion(BaseModel):
    """A finished generation and its telemetry."""

    text: str
    telemetry: Telemetry


#: What callers may pass as a prompt: a plain user message or a list of turns.
Prompt = str | Sequence[Message] | Sequence[dict[str, str]]


def as_messages(prompt: Prompt) -> list[Message]:
    """Normalize a prompt to a non-empty list of ``Message``."""
    if isinstance(prompt, str):
        messages = [Message(role="user", content=prompt)]
    else:
        messages = [m if isinstance(m, Message) else Message.model_validate(m) for m in prompt]
    if not messages:
        raise InputError("the prompt has no messages.")
    return messages


@dataclass(frozen=True)
class GenParams:
    """Resolved generation parameters of one call."""

    max_tokens: int
    temperature: float
    stop: tuple[str, ...]
    seed: int


@dataclass
class Usage:
    """Token counts a provider knows after generating (None: count them ourselves)."""

    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    finish_reason: str | None = None
    estimated: bool = False


#: A provider's generation: yields text deltas, returns the usage it knows.
Generation = Generator[str, None, Usage]


class Stream(Iterator[str]):
    """Text chunks of one generation; ``text`` and ``telemetry`` are complete once exhausted.

    Close it (or use it as a context manager) when stopping early: the model stays locked
    for the whole stream, so an abandoned open stream blocks other users until collected.
    """

    def __init__(self, chunks: Callable[[Stream], Iterator[str]]) -> None:
        self.text = ""
        self.telemetry: Telemetry | None = None
        self._chunks = chunks(self)

    def __iter__(self) -> Stream:
        return self

    def __next__(self) -> str:
        chunk = next(self._chunks)
        self.text += chunk
        return chunk

    def close(self) -> None:
        """Stop generating and release the model."""
        close = getattr(self._chunks, "close", None)
        if close:
            close()

    def __enter__(self) -> Stream:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __del__(self) -> None:
        self.close()

    def completion(self) -> Completion:
        """Drain the stream and return the whole text with its telemetry."""
        for _ in self:
            pass
        assert self.telemetry is not None
        return Completion(text=self.text, telemetry=self.telemetry)


@runtime_checkable
class LLM(Protocol):
    """What the pipeline needs from a language model."""

    name: str
    provider: str

    def complete(
        self,
        messages: Prompt,
        *,
        max_tokens: int | None = None,
        temperature: float | None = None,
        stop: Sequence[str] | None = None,
    ) -> Completion:
        """Generate a whole reply."""
        ...

    def stream(
        self,
        messages: Prompt,
        *,
        max_tokens: int | None = None,
        temperature: float | None = None,
        stop: Sequence[str] | None = None,
    ) -> Stream:
        """Generate a reply chunk by chunk."""
        ...

    def count_tokens(self, text: str) -> int:
        """Tokens ``text`` takes in this model (an estimate for hosted models)."""
        ...


class BaseLLM:
    """Shared machinery: parameter defaults, the lock, timing and telemetry.

    Providers implement ``_generate`` (a generator of text deltas returning ``Usage``),
    ``count_tokens`` and optionally ``_complete`` when a non-streamed call differs.
    """

    provider = "base"
    name = "base"

    def __init__(self, settings: LLMSettings, lock: threading.Lock | None = None) -> None:
        self.settings = settings
        self._lock = lock or threading.Lock()
        self.last_telemetry: Telemetry | None = None
        #: Where telemetry reads the time (monotonic seconds); tests give a clock they advance.
        self.clock: Callable[[], float] = time.perf_counter

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.provider}:{self.name}>"

    def params(
        self,
        max_tokens: int | None = None,
        temperature: float | None = None,
        stop: Sequence[str] | None = None,
    ) -> GenParams:
        """Per-call parameters, falling back to the settings."""
        if max_tokens is not None and max_tokens < 1:
            raise InputError(f"max_tokens must be at least 1, not {max_tokens}.")
        return GenParams(
            max_tokens=max_tokens or self.settings.max_new_tokens,
            temperature=self.settings.temperature if temperature is None else temperature,
            stop=tuple(stop or ()),
            seed=self.settings.seed,
        )

    # Providers override these two.
    def _generate(self, messages: list[Message], params: GenParams) -> Generation:
        raise NotImplementedError

    def _complete(self, messages: list[Message], params: GenParams) -> tuple[str, Usage]:
        """A non-streamed generation; by default, the stream drained."""
        gen = self._generate(messages, params)
        parts: list[str] = []
        while True:
            try:
                parts.append(next(gen))
            except StopIteration as done:
                return "".join(parts), done.value

    def count_tokens(self, text: str) -> int:
        """Tokens ``text`` takes in this model."""
        raise NotImplementedError

    def prompt_text(self, messages: list[Message]) -> str:
        """The prompt as the model sees it (used to count prompt tokens when unknown)."""
        return "\n".join(f"{m.role}: {m.content}" for m in messages)

    def complete(
        self,
        messages: Prompt,
        *,
        max_tokens: int | None = None,
        temperature: float | None = None,
        stop: Sequence[str] | None = None,
    ) -> Completion:
        """Generate a whole reply, holding the model for the duration."""
        msgs = as_messages(messages)
        params = self.params(max_tokens, temperature, stop)
        with self._lock:
            start = self.clock()
            text, usage = self._complete(msgs, params)
            end = self.clock()
        telemetry = self._telemetry(msgs, text, usage, start, None, end)
        return Completion(text=text, telemetry=telemetry)

    def stream(
        self,
        messages: Prompt,
        *,
        max_tokens: int | None = None,
        temperature: float | None = None,
        stop: Sequence[str] | None = None,
    ) -> Stream:
        """Generate chunk by chunk; the model is locked from the first chunk to the last."""
        msgs = as_messages(messages)
        params = self.params(max_tokens, temperature, stop)

        def chunks(stream: Stream) -> Iterator[str]:
            with self._lock:
                start = self.clock()
                first: float | None = None
                gen = self._generate(msgs, params)
                try:
                    while True:
                        try:
                            chunk = next(gen)
                        except StopIteration as done:
                            usage: Usage = done.value
                            break
                        if not chunk:
                            continue
                        if first is None:
                            first = self.clock()
                        yield chunk
                except GeneratorExit:  # closed early (Stop, a loop, enough sentences)
                    end = self.clock()
                    stream.telemetry = self._telemetry(
                        msgs, stream.text, Usage(finish_reason="closed"), start, first, end
                    )
                    raise
                finally:
                    gen.close()
                end = self.clock()
            stream.telemetry = self._telemetry(msgs, stream.text, usage, start, first, end)

        return Stream(chunks)

    def _telemetry(
        self,
        messages: list[Message],
        text: str,
        usage: Usage,
        start: float,
        first: float | None,
        end: float,
    ) -> Telemetry:
        """Telemetry of one call, counting tokens ourselves where the provider did not."""
        prompt_tokens = usage.prompt_tokens
        if prompt_tokens is None:
            prompt_tokens = self.count_tokens(self.prompt_text(messages))
        completion_tokens = usage.completion_tokens
        if completion_tokens is None:
            completion_tokens = self.count_tokens(text) if text else 0
        total = end - start
        ttft = (first - start) if first is not None else total
        decode_time = end - first if first is not None else 0.0
        if completion_tokens > 1 and decode_time > 0:
            rate = (completion_tokens - 1) / decode_time
        else:
            rate = completion_tokens / total if total > 0 else 0.0
        telemetry = Telemetry(
            provider=self.provider,
            model=self.name,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            ttft_s=round(ttft, 4),
            total_s=round(total, 4),
            tokens_per_s=round(rate, 2),
            tokens_estimated=usage.estimated,
            finish_reason=usage.finish_reason,
        )
        self.last_telemetry = telemetry
        log.info("llm call: %s", telemetry.model_dump_json())
        return telemetry


def cut_at_stop(text: str, stop: Sequence[str]) -> tuple[str, bool]:
    """``text`` up to the first stop sequence, and whether one was found."""
    cuts = [text.index(s) for s in stop if s and s in text]
    return (text[: min(cuts)], True) if cuts else (text, False)
