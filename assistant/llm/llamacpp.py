"""The llama.cpp runtime of the ``local`` provider: a GGUF through llama-index's ``LlamaCPP``.

``llama_index`` and ``llama_cpp`` are imported only when a model is loaded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from unittest.mock import patch

from assistant.errors import AssistantError, InputError, ModelError
from assistant.llm.base import BaseLLM, Generation, GenParams, Message, Usage
from assistant.llm.cpu import cpu_flags, extra_buffers, llama_system_info
from assistant.llm.registry import load_once
from assistant.settings import LLMSettings


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
        #: Whether llama.cpp repacks the weights into its extra buffer types (AMX, CPU repack).
        self.buffers = extra_buffers(settings.extra_buffers, cpu_flags(), llama_system_info())
        key = (
            "llama.cpp",
            str(path),
            settings.n_ctx,
            settings.n_threads,
            settings.n_gpu_layers,
            self.buffers.use_extra_bufts,
        )
        loaded = load_once(key, lambda: self._load(settings, path, self.buffers.use_extra_bufts))
        super().__init__(settings, loaded.lock)
        self._li = loaded.obj
        self._llama = self._li._model
        self.name = path.name.removesuffix(".gguf")
        self._formatter, self._stop = self._chat_formatter()

    @staticmethod
    def _load(settings: LLMSettings, path: Path, use_extra_bufts: bool) -> Any:
        try:
            from llama_index.llms.llama_cpp import LlamaCPP, base
        except ImportError as exc:
            raise ModelError(
                "the local runtime is not installed: pip install 'papers-assistant[local]' "
                f"({exc})."
            ) from exc
        try:
            # LlamaCPP builds its llama_cpp.Llama itself, and Llama takes no use_extra_bufts
            # argument (llama-cpp-python 0.3.36): for the length of the load, LlamaCPP builds
            # our subclass, which sets the field (ggml-org/llama.cpp#20824, see cpu.py).
            with patch.object(base, "Llama", _llama_class(use_extra_bufts)):
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

    def _pin_system(self, messages: list[Message], prompt: str) -> None:
        """Let the model's cache hold the system turn of this prompt, and only that.

        llama.cpp reuses the longest prefix the last prompt shares with this one and decodes
        the rest, in batches that start where the reuse ends; the answer to the same prompt
        then depended on the prompt before it (at the default temperature a sample flips on
        the last bits of the logits: the same KV cache question gave two answers after two
        different questions). The system turn is decoded alone, from position 0, whenever it
        is not what the cache holds, and the cache is cut back to it before each prompt: the
        same prompt, the same answer, whatever came before, and the system turn is still
        decoded once, not per prompt.
        """
        if not messages or messages[0].role != "system":
            return
        llama = self._llama
        end = prompt.find(messages[0].content)
        if end < 0:
            return
        head = prompt[: end + len(messages[0].content)]
        system = llama.tokenize(head.encode("utf-8"), special=True)
        whole = llama.tokenize(prompt.encode("utf-8"), special=True)
        if not system or whole[: len(system)] != system or len(system) >= len(whole):
            return
        if llama.input_ids[: min(llama.n_tokens, len(system))].tolist() != system:
            llama.reset()
            llama.eval(system)
        llama.n_tokens = len(system)

    def _prepare(self, messages: list[Message], params: GenParams) -> tuple[str, int]:
        prompt = self.prompt_text(messages)
        prompt_tokens = self.count_tokens(prompt)
        if prompt_tokens >= self.settings.n_ctx:
            raise InputError(
                f"the prompt is {prompt_tokens} tokens but the model's context is "
                f"{self.settings.n_ctx}: shorten it or raise ASSISTANT_LLM__N_CTX."
            )
        self._pin_system(messages, prompt)
        # LlamaCPP reads its shared generate_kwargs, not per-call kwargs: we hold the lock.
        self._li.generate_kwargs.clear()
        self._li.generate_kwargs.update(
            max_tokens=params.max_tokens,
            temperature=params.temperature,
            stop=[*self._stop, *params.stop],
            seed=params.seed,
            repeat_penalty=self.settings.repeat_penalty,
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


def _llama_class(use_extra_bufts: bool) -> type:
    """``llama_cpp.Llama`` whose model parameters carry ``use_extra_bufts``.

    ``Llama.__init__`` assigns ``self.model_params`` from llama.cpp's defaults and loads the
    weights later in the same call; the property sets the field on that assignment.
    """
    from llama_cpp import Llama

    class _Llama(Llama):  # type: ignore[misc]
        @property
        def model_params(self) -> Any:
            return self._model_params

        @model_params.setter
        def model_params(self, params: Any) -> None:
            params.use_extra_bufts = use_extra_bufts
            self._model_params = params

    return _Llama
