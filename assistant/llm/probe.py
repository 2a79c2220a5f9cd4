"""The model check, run in a child process: a native crash becomes a failed check, not a dead
parent.

llama.cpp can die of a signal where Python cannot catch it (the AMX repack segfault,
ggml-org/llama.cpp#20824). ``probe_llm`` loads the model and generates a few tokens in
``python -m assistant.llm.probe``; a child killed by a signal is reported by the signal's
name, the stage it reached and the setting that fixes it. ``assistant doctor`` and the app
(once, before it serves answers) both use it.

The child reads the ``LLMSettings`` as JSON on stdin, prints ``stage <name>`` as it goes and
one JSON object last: ``{"detail": ...}`` or ``{"error": ...}``.
"""

from __future__ import annotations

import faulthandler
import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence

from assistant.errors import AssistantError
from assistant.models import Check
from assistant.settings import LLMSettings

#: The prompt of the check: short, so the probe costs a load and a few decode steps.
PROBE_PROMPT = "Reply with the single word: ready"


def crash_fix(llm: LLMSettings) -> str:
    """What to do when the model process dies of a signal."""
    if llm.runtime == "llama.cpp" and llm.extra_buffers != "off":
        return (
            "set ASSISTANT_LLM__EXTRA_BUFFERS=off (llama.cpp's AMX weight repack crashes on "
            "some CPUs, ggml-org/llama.cpp#20824), then run assistant doctor again"
        )
    return (
        "use a hosted model (ASSISTANT_LLM__PROVIDER=openai, see the README) and report the "
        "crash with the output of: assistant doctor --json"
    )


def probe_llm(
    llm: LLMSettings,
    *,
    generate: bool = True,
    fix: str = "",
    command: Sequence[str] | None = None,
    timeout: float = 600.0,
) -> Check:
    """Load (and with ``generate``, run) the model in a child process; a ``Check`` of it.

    ``fix`` is what a failure that is not a crash should say; ``command`` replaces the child
    (tests use one that kills itself).
    """
    argv = list(command or [sys.executable, "-m", "assistant.llm.probe"])
    if not generate and command is None:
        argv.append("--no-generate")
    try:
        done = subprocess.run(
            argv,
            input=llm.model_dump_json(exclude={"api_key"}),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return Check(
            name="llm",
            ok=False,
            detail=f"the model check did not finish within {timeout:.0f} s",
            fix=fix,
        )
    lines = done.stdout.splitlines()
    stages = [line.removeprefix("stage ") for line in lines if line.startswith("stage ")]
    reached = stages[-1] if stages else "starting"
    if done.returncode < 0:
        number = -done.returncode
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = f"signal {number}"
        return Check(
            name="llm",
            ok=False,
            detail=f"the model crashed: its process was killed by {name} (signal {number}) "
            f"while {reached}. The app and 'assistant ask' would die the same way.",
            fix=crash_fix(llm),
        )
    result: dict[str, str] = {}
    if lines and lines[-1].startswith("{"):
        try:
            result = json.loads(lines[-1])
        except json.JSONDecodeError:
            result = {}
    if done.returncode == 0 and "detail" in result:
        return Check(name="llm", ok=True, detail=result["detail"])
    said = result.get("error") or (done.stderr.strip().splitlines() or ["no output"])[-1]
    return Check(
        name="llm",
        ok=False,
        detail=f"the model check failed (exit {done.returncode}) while {reached}: {said}",
        fix=fix,
    )


def check_in_process(
    llm_settings: LLMSettings,
    *,
    generate: bool = True,
    stage: Callable[[str], None] = lambda name: None,
) -> str:
    """Load and (with ``generate``) run the model here; a line saying how it went.

    ``stage`` is told each step as it starts. Raises ``AssistantError`` when the model loads
    but generates nothing.
    """
    from assistant.llm.registry import get_llm

    start = time.perf_counter()
    llm = get_llm(llm_settings)
    loaded = time.perf_counter() - start
    buffers = getattr(llm, "buffers", None)
    extra = f"; llama.cpp extra buffers {buffers.reason}" if buffers is not None else ""
    if not generate:
        return f"{llm.provider}:{llm.name} loads ({loaded:.1f} s){extra}"
    stage("generating")
    completion = llm.complete(PROBE_PROMPT, max_tokens=4)
    t = completion.telemetry
    if not completion.text.strip():
        raise AssistantError(f"{llm.provider}:{llm.name} loaded but generated nothing")
    return (
        f"{llm.provider}:{llm.name} loads ({loaded:.1f} s) and generates "
        f"({t.completion_tokens} tokens: {completion.text.strip()!r}, first token "
        f"{t.ttft_s:.2f} s){extra}"
    )


def main(argv: Sequence[str]) -> int:
    """The child: the settings from stdin, stages and a JSON result on stdout."""
    faulthandler.enable()  # a crash also leaves its Python stack on stderr

    def stage(name: str) -> None:
        print(f"stage {name}", flush=True)

    stage("loading")
    try:
        import assistant.llm  # noqa: F401 - registers the built-in providers

        settings = LLMSettings.model_validate_json(sys.stdin.read())
        detail = check_in_process(settings, generate="--no-generate" not in argv, stage=stage)
    except Exception as exc:
        said = str(exc) if isinstance(exc, AssistantError) else f"{type(exc).__name__}: {exc}"
        print(json.dumps({"error": said}), flush=True)
        return 1
    print(json.dumps({"detail": detail}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
