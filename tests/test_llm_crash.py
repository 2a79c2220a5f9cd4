"""The local model on every x86 CPU: the AMX decision, and native crashes made visible.

The decision is a pure function of the CPU flags and llama.cpp's own report, so it is tested
here for machines we do not have. A crash is simulated by a child that kills itself with
SIGSEGV, the way llama.cpp's AMX repack dies (ggml-org/llama.cpp#20824).
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner

from assistant.cli import cli
from assistant.errors import ModelError
from assistant.health import ModelProbe, check_llm, doctor_checks
from assistant.llm import get_llm, loaded_models
from assistant.llm.cpu import cpu_flags, extra_buffers
from assistant.llm.probe import probe_llm
from assistant.llm.registry import hold, release
from assistant.settings import LLMSettings, Settings

#: A model check that dies of a signal, after saying it began generating.
CRASH = [
    sys.executable,
    "-c",
    "import os, signal; print('stage generating', flush=True); "
    "os.kill(os.getpid(), signal.SIGSEGV)",
]

SAPPHIRE_RAPIDS = "fpu avx2 avx512f avx512_bf16 amx_bf16 avx512_fp16 amx_tile amx_int8"
EPYC = "fpu avx2 avx512f avx512_bf16 avx512_vnni"
AMX_BUILD = "CPU : SSE3 = 1 | AVX512 = 1 | AMX_INT8 = 1 | REPACK = 1 |"
PLAIN_BUILD = "CPU : SSE3 = 1 | AVX512 = 1 | AVX512_BF16 = 1 | REPACK = 1 |"


def test_cpu_flags_are_read_from_cpuinfo(tmp_path: Path) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(f"processor\t: 0\nmodel name\t: Xeon\nflags\t\t: {SAPPHIRE_RAPIDS}\n")
    assert {"amx_int8", "amx_tile", "avx2"} <= cpu_flags(cpuinfo)
    assert cpu_flags(tmp_path / "missing") == frozenset()


@pytest.mark.parametrize(
    ("setting", "flags", "report", "use"),
    [
        ("auto", SAPPHIRE_RAPIDS, AMX_BUILD, False),  # the crashing machine
        ("auto", SAPPHIRE_RAPIDS, PLAIN_BUILD, False),  # AMX CPU, build made elsewhere
        ("auto", EPYC, AMX_BUILD, False),  # a report alone is enough
        ("auto", SAPPHIRE_RAPIDS, "", False),  # no report (llama_cpp not importable)
        ("auto", EPYC, PLAIN_BUILD, True),  # no AMX: keep the faster repack
        ("auto", "", "", True),  # nothing known: llama.cpp's default
        ("on", SAPPHIRE_RAPIDS, AMX_BUILD, True),  # the user decides
        ("off", EPYC, PLAIN_BUILD, False),
    ],
)
def test_extra_buffers_are_off_where_amx_is(
    setting: str, flags: str, report: str, use: bool
) -> None:
    choice = extra_buffers(setting, frozenset(flags.split()), report)  # type: ignore[arg-type]
    assert choice.use_extra_bufts is use
    if setting == "auto" and not use:
        assert "llama.cpp#20824" in choice.reason


def test_the_loader_passes_the_decision_to_llama_cpp() -> None:
    import llama_cpp

    from assistant.llm.llamacpp import _llama_class

    for use in (True, False):
        # What Llama.__init__ does before it loads: assign llama.cpp's default parameters.
        prop = _llama_class(use).model_params
        holder = SimpleNamespace()
        prop.fset(holder, llama_cpp.llama_model_default_params())
        assert prop.fget(holder).use_extra_bufts is use


def test_a_crashed_model_check_is_a_red_check_with_the_fix(sample_settings: Settings) -> None:
    checks = doctor_checks(
        sample_settings, llm_check=check_llm(sample_settings, probe_command=CRASH)
    )
    llm = checks[-1]
    assert [c.name for c in checks] == ["store", "embedding", "llm"]
    assert checks[0].ok and checks[1].ok  # the parent lived on to check the rest
    assert not llm.ok
    assert f"SIGSEGV (signal {int(signal.SIGSEGV)})" in llm.detail  # the crash did happen
    assert "while generating" in llm.detail
    assert "ASSISTANT_LLM__EXTRA_BUFFERS=off" in llm.fix


def test_with_the_repack_off_already_the_fix_points_elsewhere() -> None:
    check = probe_llm(LLMSettings(extra_buffers="off"), command=CRASH)
    assert not check.ok and "SIGSEGV" in check.detail
    assert "EXTRA_BUFFERS" not in check.fix and "ASSISTANT_LLM__PROVIDER=openai" in check.fix


def test_a_model_that_fails_to_load_says_why(tmp_path: Path) -> None:
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF" + b"\0" * 64)
    settings = LLMSettings(model=str(broken))
    check = probe_llm(settings, fix="check ASSISTANT_LLM__MODEL")
    assert not check.ok
    assert "while loading" in check.detail and "broken.gguf" in check.detail
    assert check.fix == "check ASSISTANT_LLM__MODEL"


def test_doctor_reports_a_model_that_fails_in_its_child(tmp_path: Path) -> None:
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF" + b"\0" * 64)
    result = CliRunner().invoke(
        cli,
        ["--store", str(tmp_path / "store"), "doctor", "--json"],
        env={"ASSISTANT_LLM__MODEL": str(broken)},
    )
    assert result.exit_code == 1, result.output
    assert '"name":"llm","ok":false' in result.stdout
    assert "broken.gguf" in result.stdout


def test_a_model_held_for_its_check_is_refused_once_it_failed(fake_settings: Settings) -> None:
    llm = fake_settings.llm
    hold(llm)
    release(llm, "the model crashed. Fix: set X")
    try:
        with pytest.raises(ModelError, match="Fix: set X"):
            get_llm(fake_settings)
    finally:
        release(llm)
    assert get_llm(fake_settings).provider == "fake"


def test_the_apps_probe_keeps_a_crashing_model_out_of_the_app(sample_settings: Settings) -> None:
    before = loaded_models()
    probe = ModelProbe(sample_settings, probe_command=CRASH)
    try:
        check = probe.run()
        assert check is not None and not check.ok and "SIGSEGV" in check.detail
        assert probe.check == check
        with pytest.raises(ModelError, match="EXTRA_BUFFERS=off"):
            get_llm(sample_settings)  # the local model: refused, not loaded
        assert loaded_models() == before
    finally:
        release(sample_settings.llm)


@pytest.mark.llm
def test_the_probe_runs_the_bundled_model_in_a_child() -> None:
    check = probe_llm(LLMSettings(temperature=0.0))
    assert check.ok, check.detail
    assert "generates" in check.detail and "extra buffers" in check.detail
