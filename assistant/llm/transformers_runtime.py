"""The transformers runtime of the ``local`` provider: a Hub id, a directory or a GGUF file.

Named so as not to shadow the ``transformers`` package, which (with ``torch``) is imported
only when a model is loaded.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from assistant.errors import ModelError
from assistant.llm.base import BaseLLM, Generation, GenParams, Message, Usage, cut_at_stop
from assistant.llm.registry import load_once
from assistant.settings import LLMSettings


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
        loaded = load_once(key, lambda: self._load(settings, source, gguf_file, device))
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
        sampling["repetition_penalty"] = self.settings.repeat_penalty
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
                piece, stopped = cut_at_stop(text + chunk, params.stop)
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
