"""``python -m llama_cpp.server`` with llama.cpp's extra buffers decided as the app decides.

Run as ``python -m tests.llama_server ARGS`` (the server's own arguments). On a CPU with AMX
the stock server segfaults at its first decode (ggml-org/llama.cpp#20824; ``assistant/llm/
cpu.py``): it answered ``/v1/models`` and then the test's first completion found the port
closed. The tests' hosted endpoint is our ``Llama`` subclass behind the same server.
"""

from __future__ import annotations

import runpy
import sys

import llama_cpp

from assistant.llm.cpu import cpu_flags, extra_buffers, llama_system_info
from assistant.llm.llamacpp import _llama_class

if __name__ == "__main__":
    choice = extra_buffers("auto", cpu_flags(), llama_system_info())
    llama_cpp.Llama = _llama_class(choice.use_extra_bufts)  # the server builds llama_cpp.Llama
    sys.argv = ["llama_cpp.server", *sys.argv[1:]]
    runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)
