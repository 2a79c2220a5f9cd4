"""Files shared between processes: advisory locks (``fcntl.flock``) on lock files.

A lock is held by an open file, so a process that dies lets go of it at once: no stale lock
file to clean up. The weekly runs, the store's writers and its readers all lock here.
"""

from __future__ import annotations

import contextlib
import fcntl
import time
from collections.abc import Iterator
from pathlib import Path

from assistant.errors import StoreError

#: How often a waiting process tries the lock again.
POLL_S = 0.05


@contextlib.contextmanager
def file_lock(
    path: Path, *, shared: bool = False, timeout: float | None = None, busy: str = ""
) -> Iterator[None]:
    """Hold ``path``'s lock: exclusive, or ``shared`` with other shared holders.

    Waits up to ``timeout`` seconds (None: as long as it takes), then raises ``StoreError``
    with ``busy`` (what holds it and what to do) and the lock file's name.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
    deadline = None if timeout is None else time.monotonic() + timeout
    with path.open("a") as handle:
        while True:
            try:
                fcntl.flock(handle, mode | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if deadline is not None and time.monotonic() >= deadline:
                    raise StoreError(
                        f"{busy or 'another process holds the lock'} ({path}; waited "
                        f"{timeout:.0f} s)."
                    ) from None
                time.sleep(POLL_S)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
