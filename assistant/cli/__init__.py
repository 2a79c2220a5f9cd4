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
in one module per pipeline stage; importing them registers them on the root group.
"""

from __future__ import annotations

import faulthandler

# Command modules register themselves on the root group when imported.
from assistant.cli import (  # noqa: F401
    answer_commands,
    compare_commands,
    digest_commands,
    eval_commands,
    interest_commands,
    llm_commands,
    search_commands,
    store_commands,
    ui_commands,
)
from assistant.cli.base import cli


def main() -> None:
    """Entry point of the ``assistant`` script."""
    # A native crash (llama.cpp's, say) then prints what crashed where instead of exiting
    # silently; 'assistant doctor' runs the model in a child to say which setting fixes it.
    faulthandler.enable()
    cli(prog_name="assistant")


__all__ = ["cli", "main"]
