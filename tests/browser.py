"""Debian's headless Chromium for the browser tests and ``bench/ui.py`` (one set of flags)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

CHROMIUM = Path("/usr/bin/chromium")
#: Flags for a quiet, offline, sandbox-less headless Chromium (CI runs as root in a container).
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


def launch_chromium(playwright: Any) -> Any:
    """Debian's Chromium through Playwright (never a browser Playwright downloads)."""
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
