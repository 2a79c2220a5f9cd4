"""The provider registry and the caches: ``register_provider`` is the one door every provider
comes through, ``get_llm`` hands out one instance per configuration, and ``load_once`` loads
heavy weights once per process."""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from assistant.errors import InputError, ModelError
from assistant.llm.base import BaseLLM
from assistant.settings import LLMSettings, Settings

log = logging.getLogger(__name__)

ProviderFactory = Callable[[LLMSettings], BaseLLM]
_PROVIDERS: dict[str, ProviderFactory] = {}


def register_provider(name: str) -> Callable[[ProviderFactory], ProviderFactory]:
    """Register a provider factory under ``name`` (what ``settings.llm.provider`` names)."""

    def decorator(factory: ProviderFactory) -> ProviderFactory:
        _PROVIDERS[name] = factory
        return factory

    return decorator


def unregister_provider(name: str) -> None:
    """Remove the provider ``name`` and forget its cached instances (a no-op if unknown)."""
    with _INSTANCES_LOCK:
        _PROVIDERS.pop(name, None)
        for key in [k for k, llm in _INSTANCES.items() if llm.settings.provider == name]:
            del _INSTANCES[key]


def providers() -> list[str]:
    """Names of the registered providers, sorted: what ``settings.llm.provider`` may name."""
    return sorted(_PROVIDERS)


def create_llm(settings: LLMSettings) -> BaseLLM:
    """A new provider instance for these settings (prefer ``get_llm``, which caches)."""
    # settings.llm.provider is an open string, so this is where a name is checked.
    factory = _PROVIDERS.get(settings.provider)
    if factory is None:
        raise InputError(
            f"unknown LLM provider {settings.provider!r}; choose one of {', '.join(providers())} "
            "(ASSISTANT_LLM__PROVIDER or --provider)."
        )
    return factory(settings)


_INSTANCES: dict[str, BaseLLM] = {}
_INSTANCES_LOCK = threading.Lock()


def _cache_key(settings: LLMSettings) -> str:
    data = settings.model_dump(mode="json")
    key = settings.api_key.get_secret_value() if settings.api_key else ""
    data["api_key"] = hashlib.sha256(key.encode()).hexdigest() if key else None
    return repr(sorted(data.items()))


#: Configurations being checked elsewhere (get_llm waits), and those found broken (it raises).
_HELD: dict[str, threading.Event] = {}
_BROKEN: dict[str, str] = {}


def hold(settings: LLMSettings) -> None:
    """Make ``get_llm(settings)`` wait until ``release``: the model is being checked in a
    child process, and must not be loaded here before the check says it is safe."""
    _HELD.setdefault(_cache_key(settings), threading.Event())


def release(settings: LLMSettings, broken: str = "") -> None:
    """Let ``get_llm(settings)`` go on; with ``broken``, it raises ``ModelError(broken)``
    instead of loading a model that crashed its check."""
    key = _cache_key(settings)
    if broken:
        _BROKEN[key] = broken
    else:
        _BROKEN.pop(key, None)
    event = _HELD.pop(key, None)
    if event is not None:
        event.set()


def get_llm(settings: Settings | LLMSettings) -> BaseLLM:
    """The LLM for these settings, created once per process and shared by every caller."""
    llm_settings = settings.llm if isinstance(settings, Settings) else settings
    key = _cache_key(llm_settings)
    held = _HELD.get(key)
    if held is not None:
        held.wait()
    if key in _BROKEN:
        raise ModelError(_BROKEN[key])
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


def load_once(key: tuple[Any, ...], loader: Callable[[], Any]) -> _Loaded:
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
