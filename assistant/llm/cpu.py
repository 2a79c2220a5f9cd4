"""What llama.cpp may use on this CPU: the AMX repack decision.

llama.cpp's AMX "extra buffer type" repacks Q4_K weights at load and segfaults at the first
decode on some Sapphire Rapids class CPUs (ggml-org/llama.cpp#20824; stanfordnlp/dspy#10079
removed the AMX build for the same reason). Loading with ``use_extra_bufts = False`` answers
correctly on those machines. Elsewhere the extra buffers (CPU repacking) are kept: they are
the faster path. ``extra_buffers`` decides from the CPU's flags and the build's own report,
both passed in, so the decision is a pure function tests can feed any machine.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, NamedTuple

#: CPU flags (``/proc/cpuinfo``, ``lscpu``) of Intel's Advanced Matrix Extensions.
AMX_FLAGS = frozenset({"amx_int8", "amx_tile", "amx_bf16"})
#: What ``llama_print_system_info()`` prints when the build runs its AMX kernels.
AMX_BUILD_MARK = "AMX_INT8 = 1"
#: The issue behind the decision, for messages.
AMX_ISSUE = "ggml-org/llama.cpp#20824"


class BufferChoice(NamedTuple):
    """Whether llama.cpp gets its extra weight buffer types, and why, in words."""

    use_extra_bufts: bool
    reason: str


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> frozenset[str]:
    """The CPU's feature flags (empty where ``/proc/cpuinfo`` is not there to read)."""
    try:
        text = cpuinfo.read_text(errors="replace")
    except OSError:
        return frozenset()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "flags":
            return frozenset(value.split())
    return frozenset()


def llama_system_info() -> str:
    """llama.cpp's own report of the CPU features its build uses ('' without llama_cpp)."""
    try:
        import llama_cpp
    except ImportError:
        return ""
    return bytes(llama_cpp.llama_print_system_info()).decode(errors="replace")


def extra_buffers(
    setting: Literal["auto", "on", "off"], flags: frozenset[str], system_info: str
) -> BufferChoice:
    """Decide ``use_extra_bufts`` from the setting, the CPU flags and the build's report.

    'auto' turns them off when either the CPU or the build shows AMX: a build compiled
    elsewhere may lack AMX on an AMX CPU, and a report may be missing, so either sign is enough.
    """
    if setting == "on":
        return BufferChoice(True, "on (ASSISTANT_LLM__EXTRA_BUFFERS=on)")
    if setting == "off":
        return BufferChoice(False, "off (ASSISTANT_LLM__EXTRA_BUFFERS=off)")
    amx_cpu = sorted(flags & AMX_FLAGS)
    if amx_cpu or AMX_BUILD_MARK in system_info:
        seen = f"CPU flags {', '.join(amx_cpu)}" if amx_cpu else f"the build: {AMX_BUILD_MARK}"
        return BufferChoice(False, f"off: AMX here ({seen}) crashes llama.cpp, {AMX_ISSUE}")
    return BufferChoice(True, "on (no AMX on this CPU)")
