"""The ``local`` provider: a model on this machine, run by llama.cpp (default) or transformers."""

from __future__ import annotations

from assistant.llm.base import BaseLLM
from assistant.llm.llamacpp import LlamaCppLLM
from assistant.llm.registry import register_provider
from assistant.llm.transformers_runtime import TransformersLLM
from assistant.settings import LLMSettings


@register_provider("local")
def local_llm(settings: LLMSettings) -> BaseLLM:
    """The ``local`` provider's factory (also declared as an entry point)."""
    if settings.runtime == "transformers":
        return TransformersLLM(settings)
    from assistant.weights import resolve_gguf

    return LlamaCppLLM(settings, resolve_gguf(settings))
