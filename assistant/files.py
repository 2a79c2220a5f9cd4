"""Files written whole, and files shared between processes: the one atomic writer and the
advisory locks (``fcntl.flock``).

A file is written to a temporary file in the same folder, flushed to disk and renamed onto
its name (``write_atomic``, or ``atomic_path`` for writers that stream): a reader, or a
crash, sees the old file or the new one, never half of one, and a failed write leaves no
temporary file behind. Exports, weekly pages, feeds, eval reports, model files and their
stamps are all written here.

A lock is held by an open file, so a process that dies lets go of it at once: no stale lock
file to clean up. The weekly runs, the store's writers and its readers all lock here.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
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


#: Mode of a file written here: ``mkstemp`` makes it private, but exports are the user's to
#: share and caches may be shared.
FILE_MODE = 0o644


@contextlib.contextmanager
def atomic_path(
    path: Path, *, prefix: str | None = None, suffix: str = ".tmp", parents: bool = True
) -> Iterator[Path]:
    """A temporary file beside ``path`` for the caller to write; renamed onto ``path`` when
    the block ends without an exception (after an fsync), removed when it raises.

    ``prefix`` and ``suffix`` name the temporary file (default ``.NAME.XXXXXXXX.tmp``: hidden,
    so folder listings skip it); ``parents`` creates the folder first.
    """
    if parents:
        path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}." if prefix is None else prefix, suffix=suffix
    )
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        with tmp.open("rb") as written:
            os.fsync(written.fileno())
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_atomic(path: Path, data: str | bytes, *, parents: bool = True) -> None:
    """Write ``data`` (text as UTF-8) to ``path`` whole; see ``atomic_path``."""
    with atomic_path(path, parents=parents) as tmp:
        tmp.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
