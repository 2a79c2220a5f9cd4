"""The ``assistant`` command: a thin layer over the pipeline modules.

Examples::

    assistant ingest data/sample
    assistant stats
    assistant list --since 2026-03-01 --limit 5
    assistant show 2402.13616 --json
    assistant digest "KV cache compression" --format html --out digest.html
    assistant compare --topic "KV cache compression" --format csv
    assistant weekly --latest
    assistant interest add kv --phrase "KV cache compression" && assistant for-you kv
    assistant eval run eval/suites/quick.jsonl --no-llm

Every command takes ``--store DIR`` / ``--chroma-url URL`` and prints errors without a
traceback. ``--json`` output is the pydantic model dump of the typed results. Commands live
in one module per pipeline stage, imported when their command runs (``cli.modules``).
"""

from __future__ import annotations

import faulthandler

from assistant.cli.base import cli

# Each command's module, imported when the command is looked up: a process runs one command,
# and importing every module cost 0.2 s of each run (a tenth of ``assistant search``). The
# modules register their commands on the root group as they are imported.
cli.modules = {
    "ask": "answer_commands",
    "chat": "answer_commands",
    "compare": "compare_commands",
    "disagreements": "compare_commands",
    "digest": "digest_commands",
    "weekly": "digest_commands",
    "eval": "eval_commands",
    "interest": "interest_commands",
    "for-you": "interest_commands",
    "similar": "interest_commands",
    "saved": "interest_commands",
    "doctor": "llm_commands",
    "llm": "llm_commands",
    "model": "llm_commands",
    "search": "search_commands",
    "fetch": "store_commands",
    "ingest": "store_commands",
    "list": "store_commands",
    "show": "store_commands",
    "stats": "store_commands",
    "ui": "ui_commands",
}


def main() -> None:
    """Entry point of the ``assistant`` script."""
    # A native crash (llama.cpp's, say) then prints what crashed where instead of exiting
    # silently; 'assistant doctor' runs the model in a child to say which setting fixes it.
    faulthandler.enable()
    cli(prog_name="assistant")


__all__ = ["cli", "main"]
