"""Pipeline work that streams, as an object: iterate for what comes while it runs (the model's
text chunks, progress events), then read ``result`` for the typed record it ends with.

``AnswerStream`` (answers), ``DigestStream`` (topic digests, weekly summaries) and
``WeekStream`` (a weekly run) are this one class; the LLM seam's ``llm.Stream`` is the same
idea one floor down (chunks, then ``text`` and ``telemetry``).
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Generic, TypeVar

ChunkT = TypeVar("ChunkT")
ResultT = TypeVar("ResultT")


class ResultStream(Generic[ChunkT, ResultT]):
    """Iterate for the chunks as they come; ``result`` is the record at the end (reading it
    first runs the rest unseen). Nothing runs until the stream is read. Inside another
    pipeline generator, ``result = yield from stream`` passes the chunks on and keeps the
    record."""

    def __init__(self, steps: Generator[ChunkT, None, ResultT]) -> None:
        self._steps = steps
        self._result: ResultT | None = None
        self._done = False

    def __iter__(self) -> Generator[ChunkT, None, ResultT]:
        if not self._done:
            self._result = yield from self._steps
            self._done = True
        return self.result

    @property
    def result(self) -> ResultT:
        if not self._done:
            for _ in self:
                pass
        assert self._done, "the stream ended without its result"
        return self._result  # type: ignore[return-value]

    def close(self) -> None:
        """Stop the work (the model is released; there is no result)."""
        self._steps.close()
