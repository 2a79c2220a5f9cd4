"""files.py: files written whole (a failed write keeps the old file and leaves no temporary
file behind), and the locks processes share."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import pytest

from assistant.files import FILE_MODE, atomic_path, write_atomic


def test_write_atomic_writes_text_as_utf8_and_bytes_as_they_are(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "folder" / "page.md"  # missing folders are made
    write_atomic(target, "naïve ✓\n")
    assert target.read_bytes() == "naïve ✓\n".encode()
    write_atomic(target, b"\x00\xff raw")
    assert target.read_bytes() == b"\x00\xff raw"
    assert stat.S_IMODE(target.stat().st_mode) == FILE_MODE  # shareable, not mkstemp's 0600
    assert [p.name for p in target.parent.iterdir()] == ["page.md"]


def test_a_write_that_fails_halfway_keeps_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "week.md"
    write_atomic(target, "old")
    seen: list[Path] = []
    with pytest.raises(OSError, match="No space left"), atomic_path(target) as tmp:
        tmp.write_text("half of the new")
        seen.append(tmp)
        assert target.read_text() == "old"  # mid-write: the reader still sees the old file
        raise OSError(errno.ENOSPC, "No space left on device")
    assert seen and seen[0].name.startswith(".week.md.")  # the fault came mid-write
    assert not seen[0].exists()
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["week.md"]


def test_an_interrupt_mid_write_also_removes_the_temporary(tmp_path: Path) -> None:
    target = tmp_path / "report.json"
    with pytest.raises(KeyboardInterrupt), atomic_path(target) as tmp:
        tmp.write_text("{")
        raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_a_failed_rename_keeps_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "week.md"
    write_atomic(target, "old")
    calls: list[tuple[str, str]] = []

    def fail(src: str, dst: str) -> None:
        calls.append((str(src), str(dst)))
        raise OSError(errno.ENOSPC, "disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        write_atomic(target, "new")
    assert len(calls) == 1 and calls[0][1] == str(target)  # the rename was tried, and failed
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["week.md"]


def test_streaming_writers_name_their_temporary(tmp_path: Path) -> None:
    target = tmp_path / "model.gguf"
    with atomic_path(target, prefix="model.gguf.", suffix=".partial") as tmp:
        assert tmp.name.startswith("model.gguf.") and tmp.name.endswith(".partial")
        with tmp.open("wb") as out:
            out.write(b"weights")
    assert target.read_bytes() == b"weights"
    assert [p.name for p in tmp_path.iterdir()] == ["model.gguf"]


def test_without_parents_a_missing_folder_is_an_error_not_a_new_folder(tmp_path: Path) -> None:
    target = tmp_path / "typo" / "chat.md"
    with pytest.raises(FileNotFoundError):
        write_atomic(target, "text", parents=False)
    assert list(tmp_path.iterdir()) == []
