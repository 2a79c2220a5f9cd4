"""The narrow LLM seam: one small interface for the pipeline, providers registered behind it.

The pipeline only ever calls ``complete``, ``stream``, ``count_tokens`` and reads ``name``.
Which model answers is a setting (``settings.llm.provider``), the name of a registered
provider. Importing this package registers the built-in ones, each a module of its own:

- ``local`` (``local.py``): a model on this machine. Runtime ``llama.cpp`` (``llamacpp.py``,
  the default; a GGUF through llama-index's ``LlamaCPP``, prompt built with the chat template
  stored in the GGUF) or ``transformers`` (``transformers_runtime.py``; a Hub id, a directory,
  or a GGUF via ``gguf_file=``; the tokenizer's chat template; streaming through
  ``TextIteratorStreamer``).
- ``openai`` (``openai_like.py``): any OpenAI-compatible chat endpoint through llama-index's
  ``OpenAILike``.
- ``fake`` (``fake.py``): deterministic and scriptable (``enqueue``, ``history``), for fast tests.

Every provider comes through ``register_provider`` (``registry.py``), the same door; a new one
is a module that decorates its factory, or an installed package that declares it in the
entry-point group ``papers_assistant.llm_providers`` (``ENTRY_POINT_GROUP``; imported when first
asked for). ``providers()`` lists the names and ``unregister_provider`` takes one away.
``get_llm(settings)`` hands out one instance per configuration, and heavy weights are loaded
once per process whatever the generation settings.
Each loaded model has one lock: a generation (a whole stream included) holds it, so two chat
users never interleave tokens in one llama.cpp context. Every call returns its ``Telemetry``
(tokens, time to first token, total time, tokens/s). ``base.py`` holds the types, ``Stream``
and ``BaseLLM``. Heavy libraries (llama_cpp, llama-index, transformers, torch, openai) are
imported only when a provider needs them.

Usage::

    llm = get_llm(settings)
    print(llm.complete("Say hi").text)
    stream = llm.stream([Message(role="user", content="Say hi")])
    for chunk in stream:
        print(chunk, end="")
    print(stream.telemetry)
"""

# Importing a provider's module registers it: these are the built-in providers.
from assistant.endpoint import scrub
from assistant.llm import fake, local, openai_like  # noqa: F401
from assistant.llm.base import (
    LLM,
    BaseLLM,
    Completion,
    Generation,
    GenParams,
    Message,
    Prompt,
    Role,
    Stream,
    Telemetry,
    Usage,
    as_messages,
)
from assistant.llm.fake import FakeCall, FakeLLM
from assistant.llm.llamacpp import LlamaCppLLM
from assistant.llm.openai_like import OpenAILikeLLM, safe_url
from assistant.llm.registry import (
    ENTRY_POINT_GROUP,
    ProviderFactory,
    clear_llm_cache,
    create_llm,
    get_llm,
    loaded_models,
    providers,
    register_provider,
    unregister_provider,
)
from assistant.llm.transformers_runtime import TransformersLLM

__all__ = [
    "ENTRY_POINT_GROUP",
    "LLM",
    "BaseLLM",
    "Completion",
    "FakeCall",
    "FakeLLM",
    "GenParams",
    "Generation",
    "LlamaCppLLM",
    "Message",
    "OpenAILikeLLM",
    "Prompt",
    "ProviderFactory",
    "Role",
    "Stream",
    "Telemetry",
    "TransformersLLM",
    "Usage",
    "as_messages",
    "clear_llm_cache",
    "create_llm",
    "get_llm",
    "loaded_models",
    "providers",
    "register_provider",
    "safe_url",
    "scrub",
    "unregister_provider",
]
