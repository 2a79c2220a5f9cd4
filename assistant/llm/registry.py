"""The provider registry and the caches: ``register_provider`` is the one door every provider
comes through, ``get_llm`` hands out one instance per configuration, and ``load_once`` loads
heavy weights once per process.

Installed packages add providers through the entry-point group ``papers_assistant.llm_providers``
(``name = "module:factory"``, the factory taking ``LLMSettings`` and returning a ``BaseLLM``).
Their names are listed without importing them; a plugin is imported when its provider is
first asked for, and registered then. A provider registered directly (the built-ins, whose
modules ``assistant.llm`` imports) wins over an entry point of the same name.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from assistant.errors import AssistantError, InputError, ModelError
from assistant.llm.base import BaseLLM
from assistant.settings import LLMSettings, Settings

log = logging.getLogger(__name__)

ProviderFactory = Callable[[LLMSettings], BaseLLM]
#: The entry-point group installed packages declare their providers in.
ENTRY_POINT_GROUP = "papers_assistant.llm_providers"
_PROVIDERS: dict[str, ProviderFactory] = {}
#: Where a provider loaded from an entry point comes from, for its error messages.
_PLUGIN_ORIGINS: dict[str, str] = {}
#: Entry points unregistered in this process: no longer listed or loaded.
_UNREGISTERED: set[str] = set()


def register_provider(name: str) -> Callable[[ProviderFactory], ProviderFactory]:
    """Register a provider factory under ``name`` (what ``settings.llm.provider`` names)."""

    def decorator(factory: ProviderFactory) -> ProviderFactory:
        _PROVIDERS[name] = factory
        _UNREGISTERED.discard(name)
        return factory

    return decorator


def unregister_provider(name: str) -> None:
    """Remove the provider ``name`` and forget its cached instances (a no-op if unknown)."""
    with _INSTANCES_LOCK:
        _PROVIDERS.pop(name, None)
        _UNREGISTERED.add(name)
        for key in [k for k, llm in _INSTANCES.items() if llm.settings.provider == name]:
            del _INSTANCES[key]


def plugin_entry_points() -> dict[str, EntryPoint]:
    """The providers installed packages declare, by name (none of them is imported)."""
    found = entry_points(group=ENTRY_POINT_GROUP)
    return {ep.name: ep for ep in found if ep.name not in _UNREGISTERED}


def providers() -> list[str]:
    """Names of the registered and installed providers, sorted: what ``settings.llm.provider``
    may name."""
    return sorted(set(_PROVIDERS) | set(plugin_entry_points()))


def _origin(ep: EntryPoint) -> str:
    """``tiny-provider 0.1: tiny_provider:make``: the package and object an entry point names."""
    dist = getattr(ep, "dist", None)
    package = f"{dist.name} {dist.version}: " if dist is not None else ""
    return f"{package}{ep.value}"


def _load_plugin(name: str) -> ProviderFactory | None:
    """Import the provider ``name`` from its entry point and register it (None: there is none)."""
    ep = plugin_entry_points().get(name)
    if ep is None:
        return None
    origin = _origin(ep)
    try:
        factory = ep.load()
    except Exception as exc:
        raise ModelError(
            f"the LLM provider plugin {name!r} ({origin}) cannot be loaded: "
            f"{type(exc).__name__}: {exc}. Reinstall or uninstall the package that declares it, "
            "or choose another provider (ASSISTANT_LLM__PROVIDER or --provider)."
        ) from exc
    if not callable(factory):
        raise ModelError(
            f"the LLM provider plugin {name!r} ({origin}) names a {type(factory).__name__}, "
            "not a factory taking LLMSettings."
        )
    register_provider(name)(factory)
    _PLUGIN_ORIGINS[name] = origin
    return factory  # type: ignore[no-any-return]


def create_llm(settings: LLMSettings) -> BaseLLM:
    """A new provider instance for these settings (prefer ``get_llm``, which caches)."""
    # settings.llm.provider is an open string, so this is where a name is checked.
    name = settings.provider
    factory = _PROVIDERS.get(name) or _load_plugin(name)
    if factory is None:
        raise InputError(
            f"unknown LLM provider {name!r}; choose one of {', '.join(providers())} "
            "(ASSISTANT_LLM__PROVIDER or --provider)."
        )
    origin = _PLUGIN_ORIGINS.get(name)
    if origin is None:
        llm = factory(settings)
    else:
        try:
            llm = factory(settings)
        except AssistantError:
            raise
        except Exception as exc:
            raise ModelError(
                f"the LLM provider plugin {name!r} ({origin}) failed: {type(exc).__name__}: {exc}"
            ) from exc
    if not isinstance(llm, BaseLLM):
        where = f"plugin {name!r} ({origin})" if origin else f"provider {name!r}"
        raise ModelError(
            f"the LLM {where} made a {type(llm).__name__}, not an assistant.llm.BaseLLM."
        )
    return llm


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
