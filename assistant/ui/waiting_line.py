"""The one waiting line for the model: answers, digests, weekly summaries and speed
measurements are written ``settings.ui.concurrency`` at a time, the others wait in it.

The line is ours rather than a Gradio queue lane, so a waiting job can say how many are
ahead of it ("waiting, 1 ahead") and Stop works while it waits.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from assistant.errors import InputError

#: Seconds between looks at the waiting line.
POLL_S = 0.2


class WaitingLine:
    """Answers are written ``slots`` at a time; other questions wait in arrival order.

    ``poll`` is cheap and never blocks: a waiting handler polls, shows how many are ahead,
    and sleeps without holding a worker thread. A ticket nobody polled for ``stale_s`` (its
    browser tab went away) is dropped so it cannot hold up the line.
    """

    def __init__(
        self,
        slots: int,
        size: int,
        stale_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.slots, self.size, self.stale_s = slots, size, stale_s
        #: Where staleness reads the time; tests give a clock they advance.
        self.clock = clock
        self._lock = threading.Lock()
        self._waiting: list[object] = []
        self._running: set[object] = set()
        self._seen: dict[object, float] = {}

    def join(self) -> object:
        """A ticket at the end of the line; an InputError when the line is full."""
        with self._lock:
            if len(self._waiting) >= self.size:
                raise InputError(
                    f"{len(self._waiting)} questions are already waiting for the model; "
                    "please ask again in a minute."
                )
            ticket = object()
            self._waiting.append(ticket)
            self._seen[ticket] = self.clock()
            return ticket

    def poll(self, ticket: object) -> int:
        """0 once ``ticket`` holds a slot (keep it until ``leave``), else how many are ahead."""
        with self._lock:
            if ticket in self._running:
                return 0
            now = self.clock()
            self._seen[ticket] = now
            for other in list(self._waiting):
                if now - self._seen.get(other, now) > self.stale_s:
                    self._waiting.remove(other)
                    self._seen.pop(other, None)
            position = self._waiting.index(ticket)
            if position == 0 and len(self._running) < self.slots:
                self._waiting.pop(0)
                self._running.add(ticket)
                return 0
            return max(1, position + len(self._running) - self.slots + 1)

    def leave(self, ticket: object) -> None:
        """Give back the slot, or the place in line."""
        with self._lock:
            self._running.discard(ticket)
            if ticket in self._waiting:
                self._waiting.remove(ticket)
            self._seen.pop(ticket, None)

    def wait(self, ticket: object) -> None:
        """Block until ``ticket`` holds a slot (for short jobs such as a speed measurement)."""
        while self.poll(ticket):
            time.sleep(POLL_S)


@dataclass
class Waiting:
    """A model job's place in the ``WaitingLine``: how many are ahead of it."""

    ahead: int


def in_line(line: WaitingLine, job: Callable[[], Iterator[Any]]) -> Iterator[Any]:
    """The events of ``job`` once it holds a slot of ``line``; before that a ``Waiting`` each
    time its place changes. Digests and weekly summaries wait in the chat's line, so a
    question asked meanwhile says "waiting, 1 ahead" instead of a silent cursor. The slot is
    given back however the job ends (done, failed, or closed when the page went away)."""
    ticket = line.join()
    try:
        last = 0
        while ahead := line.poll(ticket):
            if ahead != last:
                last = ahead
                yield Waiting(ahead)
            time.sleep(POLL_S)
        yield from job()
    finally:
        line.leave(ticket)
