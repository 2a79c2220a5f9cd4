"""The narrow LLM seam: one small interface for the pipeline, three providers behind it.

The pipeline only ever calls ``complete``, ``stream``, ``count_tokens`` and reads ``name``.
Which model answers is a setting (``settings.llm.provider``):

- ``local``: a model on this machine. Runtime ``llama.cpp`` (the default; a GGUF through
  llama-index's ``LlamaCPP``, prompt built with the chat template stored in the GGUF) or
  ``transformers`` (a Hub id, a directory, or a GGUF via ``gguf_file=``; the tokenizer's chat
  template; streaming through ``TextIteratorStreamer``).
- ``openai``: any OpenAI-compatible chat endpoint through llama-index's ``OpenAILike``.
- ``fake``: deterministic and scriptable (``enqueue``, ``history``), for fast tests.

All three register through ``register_provider``, the same door. ``get_llm(settings)`` hands
out one instance per configuration, and heavy weights are loaded once per process whatever
the generation settings. Each loaded model has one lock: a generation (a whole stream
included) holds it, so two chat users never interleave tokens in one llama.cpp context.
Every call returns its ``Telemetry`` (tokens, time to first token, total time, tokens/s).

Usage::

    llm = get_llm(settings)
    print(llm.complete("Say hi").text)
    stream = llm.stream([Message(role="user", content="Say hi")])
    for chunk in stream:
        print(chunk, end="")
    print(stream.telemetry)
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Protocol, runtime_checkable
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, Field

from assistant.errors import AssistantError, InputError, ModelError
from assistant.settings import LLMSettings, Settings

log = logging.getLogger(__name__)

Role = Literal["system", "user", "assistant"]


class Message(BaseModel):
    """One chat turn."""

    role: Role
    content: str


class Telemetry(BaseModel):
    """What one generation cost: tokens, latency and speed."""

    provider: str = Field(description="Provider that answered: local, openai or fake.")
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
    finish_reason: str | None = Field(None, description="'stop', 'length', or None if unknown.")


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


# --------------------------------------------------------------------------- base class


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
            start = time.perf_counter()
            text, usage = self._complete(msgs, params)
            end = time.perf_counter()
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
                start = time.perf_counter()
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
                            first = time.perf_counter()
                        yield chunk
                finally:
                    gen.close()
                end = time.perf_counter()
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


def _cut_at_stop(text: str, stop: Sequence[str]) -> tuple[str, bool]:
    """``text`` up to the first stop sequence, and whether one was found."""
    cuts = [text.index(s) for s in stop if s and s in text]
    return (text[: min(cuts)], True) if cuts else (text, False)


# --------------------------------------------------------------------------- registry

ProviderFactory = Callable[[LLMSettings], BaseLLM]
_PROVIDERS: dict[str, ProviderFactory] = {}


def register_provider(name: str) -> Callable[[ProviderFactory], ProviderFactory]:
    """Register a provider factory under ``name`` (what ``settings.llm.provider`` names)."""

    def decorator(factory: ProviderFactory) -> ProviderFactory:
        _PROVIDERS[name] = factory
        return factory

    return decorator


def providers() -> list[str]:
    """Names of the registered providers."""
    return sorted(_PROVIDERS)


def create_llm(settings: LLMSettings) -> BaseLLM:
    """A new provider instance for these settings (prefer ``get_llm``, which caches)."""
    factory = _PROVIDERS.get(settings.provider)
    if factory is None:
        raise InputError(
            f"unknown LLM provider {settings.provider!r}; choose one of {', '.join(providers())}."
        )
    return factory(settings)


_INSTANCES: dict[str, BaseLLM] = {}
_INSTANCES_LOCK = threading.Lock()


def _cache_key(settings: LLMSettings) -> str:
    data = settings.model_dump(mode="json")
    key = settings.api_key.get_secret_value() if settings.api_key else ""
    data["api_key"] = hashlib.sha256(key.encode()).hexdigest() if key else None
    return repr(sorted(data.items()))


def get_llm(settings: Settings | LLMSettings) -> BaseLLM:
    """The LLM for these settings, created once per process and shared by every caller."""
    llm_settings = settings.llm if isinstance(settings, Settings) else settings
    key = _cache_key(llm_settings)
    with _INSTANCES_LOCK:
        llm = _INSTANCES.get(key)
        if llm is None:
            llm = _INSTANCES[key] = create_llm(llm_settings)
        return llm


@dataclass
class _Loaded:
    """A heavy model object shared by every instance that uses it, with its one lock."""

    obj: Any
    lock: threading.Lock = field(default_factory=threading.Lock)


_LOADED: dict[tuple[Any, ...], _Loaded] = {}
_LOADED_LOCK = threading.Lock()


def _load_once(key: tuple[Any, ...], loader: Callable[[], Any]) -> _Loaded:
    """Load weights once per process per key (generation settings are not part of it)."""
    with _LOADED_LOCK:
        loaded = _LOADED.get(key)
        if loaded is None:
            log.info("loading %s", key)
            loaded = _LOADED[key] = _Loaded(loader())
        return loaded


def loaded_models() -> list[tuple[Any, ...]]:
    """Keys of the weights loaded in this process (one entry per load)."""
    with _LOADED_LOCK:
        return list(_LOADED)


def clear_llm_cache() -> None:
    """Forget every instance and loaded model (tests; frees memory once unreferenced)."""
    with _INSTANCES_LOCK, _LOADED_LOCK:
        _INSTANCES.clear()
        _LOADED.clear()


# --------------------------------------------------------------------------- fake


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
        text, _ = _cut_at_stop(reply, params.stop)
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
def _fake(settings: LLMSettings) -> BaseLLM:
    return FakeLLM(settings)


# --------------------------------------------------------------------------- local: llama.cpp


class LlamaCppLLM(BaseLLM):
    """A GGUF model run by llama.cpp through llama-index's ``LlamaCPP``.

    Two quirks of ``LlamaCPP`` (llama-index-llms-llama-cpp 0.7) are worked around here rather
    than by dropping the integration: its ``complete``/``stream_complete`` ignore per-call
    keyword arguments and read the shared ``generate_kwargs`` dict instead, so we set that
    dict per call while holding the model lock; and its default prompt format is llama-2's,
    so we render messages with the chat template stored in the GGUF itself (llama-cpp-python's
    ``Jinja2ChatFormatter``, the same renderer its own chat API uses).
    """

    provider = "local"

    def __init__(self, settings: LLMSettings, path: Path) -> None:
        self.path = path
        key = ("llama.cpp", str(path), settings.n_ctx, settings.n_threads, settings.n_gpu_layers)
        loaded = _load_once(key, lambda: self._load(settings, path))
        super().__init__(settings, loaded.lock)
        self._li = loaded.obj
        self._llama = self._li._model
        self.name = path.name.removesuffix(".gguf")
        self._formatter, self._stop = self._chat_formatter()

    @staticmethod
    def _load(settings: LLMSettings, path: Path) -> Any:
        try:
            from llama_index.llms.llama_cpp import LlamaCPP
        except ImportError as exc:
            raise ModelError(
                "the local runtime is not installed: pip install 'papers-assistant[local]' "
                f"({exc})."
            ) from exc
        try:
            return LlamaCPP(
                model_path=str(path),
                temperature=settings.temperature,
                max_new_tokens=settings.max_new_tokens,
                context_window=settings.n_ctx,
                model_kwargs={
                    "n_threads": settings.n_threads,
                    "n_gpu_layers": settings.n_gpu_layers,
                    "seed": settings.seed,
                },
                verbose=False,
            )
        except Exception as exc:
            raise ModelError(
                f"llama.cpp cannot load {path}: {exc}. Check that it is a complete GGUF file "
                "(for the bundled model: assistant model prepare --force) and that n_ctx "
                f"({settings.n_ctx}) fits in memory."
            ) from exc

    def _chat_formatter(self) -> tuple[Any, tuple[str, ...]]:
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        template = self._llama.metadata.get("tokenizer.chat_template")
        if not template:
            raise ModelError(
                f"{self.path.name} carries no chat template; use an instruction-tuned GGUF."
            )

        def token_text(token_id: int) -> str:
            return str(self._llama._model.token_get_text(token_id)) if token_id >= 0 else ""

        eos = token_text(self._llama.token_eos())
        formatter = Jinja2ChatFormatter(
            template=template, eos_token=eos, bos_token=token_text(self._llama.token_bos())
        )
        return formatter, (eos,) if eos else ()

    def prompt_text(self, messages: list[Message]) -> str:
        """The prompt rendered with the GGUF's chat template."""
        rendered = self._formatter(messages=[m.model_dump() for m in messages])
        return str(rendered.prompt)

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` in this model's vocabulary (special tokens parsed)."""
        return len(self._llama.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def _prepare(self, messages: list[Message], params: GenParams) -> tuple[str, int]:
        prompt = self.prompt_text(messages)
        prompt_tokens = self.count_tokens(prompt)
        if prompt_tokens >= self.settings.n_ctx:
            raise InputError(
                f"the prompt is {prompt_tokens} tokens but the model's context is "
                f"{self.settings.n_ctx}: shorten it or raise ASSISTANT_LLM__N_CTX."
            )
        # LlamaCPP reads its shared generate_kwargs, not per-call kwargs: we hold the lock.
        self._li.generate_kwargs.clear()
        self._li.generate_kwargs.update(
            max_tokens=params.max_tokens,
            temperature=params.temperature,
            stop=[*self._stop, *params.stop],
            seed=params.seed,
        )
        return prompt, prompt_tokens

    def _generate(self, messages: list[Message], params: GenParams) -> Generation:
        prompt, prompt_tokens = self._prepare(messages, params)
        finish = None
        try:
            for response in self._li.stream_complete(prompt, formatted=True):
                finish = response.raw["choices"][0].get("finish_reason") or finish
                if response.delta:
                    yield response.delta
        except AssistantError:
            raise
        except Exception as exc:
            raise ModelError(f"llama.cpp failed while generating: {exc}") from exc
        return Usage(prompt_tokens=prompt_tokens, completion_tokens=None, finish_reason=finish)

    def _complete(self, messages: list[Message], params: GenParams) -> tuple[str, Usage]:
        prompt, prompt_tokens = self._prepare(messages, params)
        try:
            response = self._li.complete(prompt, formatted=True)
        except Exception as exc:
            raise ModelError(f"llama.cpp failed while generating: {exc}") from exc
        usage = response.raw.get("usage") or {}
        return response.text, Usage(
            prompt_tokens=usage.get("prompt_tokens", prompt_tokens),
            completion_tokens=usage.get("completion_tokens"),
            finish_reason=response.raw["choices"][0].get("finish_reason"),
        )


# --------------------------------------------------------------------------- local: transformers


class TransformersLLM(BaseLLM):
    """A causal LM run by transformers: a Hub id, a local directory, or a GGUF file.

    A GGUF is de-quantized to float32 by transformers (``gguf_file=``): fine on a GPU, slow
    on a CPU. The prompt comes from the tokenizer's chat template; streaming runs
    ``generate`` in a thread feeding a ``TextIteratorStreamer``.
    """

    provider = "local"

    def __init__(self, settings: LLMSettings) -> None:
        source, gguf_file = self._source(settings)
        device = self._device(settings.device)
        key = ("transformers", source, gguf_file, device)
        loaded = _load_once(key, lambda: self._load(settings, source, gguf_file, device))
        super().__init__(settings, loaded.lock)
        self._tokenizer, self._model = loaded.obj
        self._device_name = device
        self._tok_lock = threading.Lock()
        self.name = Path(gguf_file).stem if gguf_file else source.rstrip("/").split("/")[-1]

    @staticmethod
    def _source(settings: LLMSettings) -> tuple[str, str | None]:
        """(directory or Hub id, GGUF file name or None)."""
        from assistant.weights import require_bundled

        if not settings.model:
            path = require_bundled(settings)
            return str(path.parent), path.name
        path = Path(settings.model).expanduser()
        if path.suffix == ".gguf":
            if not path.is_file():
                raise ModelError(f"no GGUF file at {path}; check ASSISTANT_LLM__MODEL.")
            return str(path.parent), path.name
        return settings.model, None

    @staticmethod
    def _device(requested: str) -> str:
        if requested != "auto":
            return requested
        try:
            import torch

            return "cuda" if torch.cuda.is_available() else "cpu"
        except ImportError:
            return "cpu"

    @staticmethod
    def _load(settings: LLMSettings, source: str, gguf_file: str | None, device: str) -> Any:
        try:
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer
        except ImportError as exc:
            raise ModelError(
                "the transformers runtime is not installed: pip install "
                f"'papers-assistant[transformers]' ({exc})."
            ) from exc
        kwargs: dict[str, Any] = {"local_files_only": not settings.allow_download}
        if gguf_file:
            kwargs["gguf_file"] = gguf_file
        try:
            tokenizer = AutoTokenizer.from_pretrained(source, **kwargs)
            dtype = torch.float32 if device == "cpu" else "auto"
            model = AutoModelForCausalLM.from_pretrained(source, dtype=dtype, **kwargs)
            model.to(device)  # type: ignore[arg-type]  # transformers types .to oddly
            model.eval()
        except Exception as exc:
            hint = (
                ""
                if settings.allow_download
                else " Downloads are off: use a local directory "
                "or GGUF file, or set ASSISTANT_LLM__ALLOW_DOWNLOAD=true for a Hub id."
            )
            raise ModelError(f"transformers cannot load {source}: {exc}.{hint}") from exc
        if not getattr(tokenizer, "chat_template", None):
            raise ModelError(f"{source} has no chat template; use an instruction-tuned model.")
        return tokenizer, model

    def prompt_text(self, messages: list[Message]) -> str:
        """The prompt rendered with the tokenizer's chat template."""
        with self._tok_lock:
            return str(
                self._tokenizer.apply_chat_template(
                    [m.model_dump() for m in messages], tokenize=False, add_generation_prompt=True
                )
            )

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` in this model's vocabulary."""
        with self._tok_lock:
            return len(self._tokenizer(text, add_special_tokens=False)["input_ids"])

    def _generate(self, messages: list[Message], params: GenParams) -> Generation:
        import torch
        from transformers import StoppingCriteriaList, TextIteratorStreamer

        prompt = self.prompt_text(messages)
        with self._tok_lock:
            inputs = self._tokenizer(prompt, return_tensors="pt", add_special_tokens=False)
        inputs = inputs.to(self._device_name)
        prompt_tokens = int(inputs["input_ids"].shape[-1])
        streamer = TextIteratorStreamer(
            self._tokenizer, skip_prompt=True, skip_special_tokens=True, timeout=600
        )
        sampling: dict[str, Any] = (
            {"do_sample": True, "temperature": params.temperature}
            if params.temperature > 0
            else {"do_sample": False, "temperature": None, "top_p": None, "top_k": None}
        )
        failure: list[BaseException] = []
        halt = threading.Event()  # set when the reader stops early: generation ends too

        def halted(input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            return torch.full((input_ids.shape[0],), halt.is_set(), device=input_ids.device)

        def run() -> None:
            try:
                torch.manual_seed(params.seed)
                with torch.inference_mode():
                    self._model.generate(
                        **inputs,
                        streamer=streamer,
                        max_new_tokens=params.max_tokens,
                        pad_token_id=self._tokenizer.pad_token_id or self._tokenizer.eos_token_id,
                        stopping_criteria=StoppingCriteriaList([halted]),
                        **sampling,
                    )
            except BaseException as exc:
                failure.append(exc)
                streamer.end()

        worker = threading.Thread(target=run, name="transformers-generate", daemon=True)
        worker.start()
        text = ""
        try:
            for chunk in streamer:
                piece, stopped = _cut_at_stop(text + chunk, params.stop)
                delta = piece[len(text) :]
                text = piece
                if delta:
                    yield delta
                if stopped:
                    break
        finally:
            halt.set()
            worker.join()
        if failure:
            raise ModelError(f"transformers failed while generating: {failure[0]}")
        completion_tokens = self.count_tokens(text)
        finish = "length" if completion_tokens >= params.max_tokens else "stop"
        return Usage(prompt_tokens=prompt_tokens, completion_tokens=None, finish_reason=finish)


@register_provider("local")
def _local(settings: LLMSettings) -> BaseLLM:
    if settings.runtime == "transformers":
        return TransformersLLM(settings)
    from assistant.weights import resolve_gguf

    return LlamaCppLLM(settings, resolve_gguf(settings))


# --------------------------------------------------------------------------- hosted: OpenAI-like


def safe_url(url: str) -> str:
    """``url`` without user:password, for messages."""
    parts = urlsplit(url)
    if parts.username or parts.password:
        netloc = parts.hostname or ""
        if parts.port:
            netloc += f":{parts.port}"
        parts = parts._replace(netloc=netloc)
    return urlunsplit(parts)


_KEY_LIKE = re.compile(r"\b(sk|pk|key)-[A-Za-z0-9_\-*.]{3,}")


def scrub(text: str, secret: str | None) -> str:
    """``text`` with the secret, and anything shaped like an API key, masked."""
    if secret:
        text = text.replace(secret, "***")
    return _KEY_LIKE.sub(r"\1-***", text)


class OpenAILikeLLM(BaseLLM):
    """Any OpenAI-compatible chat endpoint (OpenAI, vLLM, Ollama, LM Studio, llama.cpp server)
    through llama-index's ``OpenAILike``.

    Retries happen once, in the openai client (exponential backoff with jitter, honouring
    Retry-After): llama-index's own tenacity wrapper, which would multiply the client's
    attempts, is switched off. Every failure becomes a ``ModelError`` naming the endpoint,
    with the key masked; the exception is not chained so the key cannot ride along.
    """

    provider = "openai"

    def __init__(self, settings: LLMSettings) -> None:
        super().__init__(settings)
        if not settings.model:
            raise ModelError(
                "the openai provider needs a model name: set ASSISTANT_LLM__MODEL (e.g. "
                "gpt-4o-mini, or the name your server lists under /v1/models)."
            )
        self.name = settings.model
        self.endpoint = safe_url(settings.api_base)
        self._secret = settings.api_key.get_secret_value() if settings.api_key else None
        try:
            self._li = _openai_like(settings, self._secret)
        except Exception as exc:
            raise ModelError(
                f"cannot set up the client for {self.endpoint}: {scrub(str(exc), self._secret)}"
            ) from None

    def count_tokens(self, text: str) -> int:
        """An estimate (4 characters a token): hosted models do not share their tokenizer."""
        return max(1, (len(text) + 3) // 4) if text else 0

    def _error(self, exc: BaseException) -> ModelError:
        """A person-readable error for a failed call, key masked."""
        import openai

        where = f"the model endpoint {self.endpoint}"
        retries = self.settings.max_retries
        tried = f" (after {retries} retr{'y' if retries == 1 else 'ies'})" if retries else ""
        cause = exc.__cause__ if isinstance(exc, openai.APIConnectionError) else None
        detail = scrub(str(cause or exc), self._secret).rstrip(".") or type(exc).__name__
        if isinstance(exc, openai.APITimeoutError):
            msg = (
                f"{where} did not answer within {self.settings.timeout:g}s{tried}. Check the "
                "server, or raise ASSISTANT_LLM__TIMEOUT."
            )
        elif isinstance(exc, openai.APIConnectionError):
            msg = (
                f"cannot connect to {where}{tried}: {detail}. Is the server running? "
                "Check ASSISTANT_LLM__API_BASE."
            )
        elif isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
            msg = (
                f"{where} refused the API key (HTTP {exc.status_code}). Set "
                "ASSISTANT_LLM__API_KEY (or OPENAI_API_KEY) to a valid key."
            )
        elif isinstance(exc, openai.NotFoundError):
            msg = (
                f"{where} has no model {self.name!r} or no chat API at that URL (HTTP 404). "
                "Check ASSISTANT_LLM__MODEL and that ASSISTANT_LLM__API_BASE ends in /v1."
            )
        elif isinstance(exc, openai.RateLimitError):
            msg = f"{where} is rate limiting us (HTTP 429){tried}. Wait and try again."
        elif isinstance(exc, openai.APIStatusError):
            msg = f"{where} failed with HTTP {exc.status_code}{tried}: {detail}"
        else:
            msg = (
                f"unexpected reply from {where}: {type(exc).__name__}: {detail}. Is it an "
                "OpenAI-compatible chat endpoint?"
            )
        return ModelError(msg)

    def _kwargs(self, params: GenParams) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "max_tokens": params.max_tokens,
            "temperature": params.temperature,
        }
        if params.stop:
            kwargs["stop"] = list(params.stop)
        return kwargs

    @staticmethod
    def _chat_messages(messages: list[Message]) -> list[Any]:
        from llama_index.core.llms import ChatMessage

        return [ChatMessage(role=m.role, content=m.content) for m in messages]

    def _complete(self, messages: list[Message], params: GenParams) -> tuple[str, Usage]:
        try:
            response = self._li.chat(self._chat_messages(messages), **self._kwargs(params))
            text = response.message.content
            if not isinstance(text, str):
                raise TypeError(f"the reply has no text content ({text!r})")
            usage = getattr(response.raw, "usage", None)
            choices = getattr(response.raw, "choices", None) or [None]
            finish = getattr(choices[0], "finish_reason", None)
        except AssistantError:
            raise
        except Exception as exc:
            raise self._error(exc) from None
        if usage is not None and getattr(usage, "completion_tokens", None) is not None:
            return text, Usage(usage.prompt_tokens, usage.completion_tokens, finish)
        return text, Usage(finish_reason=finish, estimated=True)

    def _generate(self, messages: list[Message], params: GenParams) -> Generation:
        usage = None
        finish = None
        try:
            for response in self._li.stream_chat(
                self._chat_messages(messages), **self._kwargs(params)
            ):
                raw = response.raw
                usage = getattr(raw, "usage", None) or usage
                choices = getattr(raw, "choices", None) or []
                if choices and getattr(choices[0], "finish_reason", None):
                    finish = choices[0].finish_reason
                if response.delta:
                    yield response.delta
        except AssistantError:
            raise
        except Exception as exc:
            raise self._error(exc) from None
        if usage is not None and getattr(usage, "completion_tokens", None) is not None:
            return Usage(usage.prompt_tokens, usage.completion_tokens, finish)
        return Usage(finish_reason=finish, estimated=True)


def _openai_like(settings: LLMSettings, secret: str | None) -> Any:
    """An ``OpenAILike`` whose retries are done by the openai client alone."""
    from llama_index.llms.openai_like import OpenAILike

    class _ClientRetries(OpenAILike):
        client_retries: int = 0

        def _get_credential_kwargs(self, is_async: bool = False) -> dict[str, Any]:
            kwargs: dict[str, Any] = super()._get_credential_kwargs(is_async)
            kwargs["max_retries"] = self.client_retries
            return kwargs

    return _ClientRetries(
        model=settings.model,
        api_base=settings.api_base,
        # Local servers need no key, but the openai client insists on one.
        api_key=secret or "no-key",
        is_chat_model=True,
        context_window=settings.n_ctx,
        max_tokens=None,  # passed per call; a value here would override the call's
        temperature=settings.temperature,
        timeout=settings.timeout,
        max_retries=0,  # llama-index's tenacity layer off...
        client_retries=settings.max_retries,  # ...the openai client retries instead
    )


@register_provider("openai")
def _openai(settings: LLMSettings) -> BaseLLM:
    return OpenAILikeLLM(settings)
