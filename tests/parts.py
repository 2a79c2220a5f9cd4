"""Small parts several tests share: tiny model part files for the bundled-weights tests
(test_llm.py, test_faults.py) and one HTTP reply for the test servers."""

from __future__ import annotations

import hashlib
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from assistant.weights import BundledModel


def tiny_parts(
    folder: Path, sizes: tuple[int, ...] = (1000, 2000, 1500)
) -> tuple[list[Path], BundledModel]:
    """Tiny part files and the ``BundledModel`` describing their concatenation."""
    paths, data = [], b""
    for k, size in enumerate(sizes, start=1):
        chunk = bytes((k * 7 + i) % 251 for i in range(size))
        path = folder / "parts" / f"part{k:02d}.bin"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(chunk)
        paths.append(path)
        data += chunk
    model = BundledModel(
        name="tiny",
        file_name="tiny.gguf",
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
        parts=len(sizes),
        package="no_such_tiny_part_pkg_{k}",
        member="data/part{k:02d}.bin",
    )
    return paths, model


def send(handler: BaseHTTPRequestHandler, status: int, body: bytes, kind: str) -> None:
    """A whole reply from a test HTTP server: status, content type and length, body."""
    handler.send_response(status)
    handler.send_header("Content-Type", kind)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)
