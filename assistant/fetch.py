"""Daily Papers over HTTP: one day of the API's JSON saved as a file for ``parse``."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from assistant.errors import InputError
from assistant.files import write_atomic


def download_day(base_url: str, day: dt.date, folder: Path, timeout: float) -> Path:
    """Save one day of the Daily Papers API as ``daily-papers-YYYY-MM-DD.json`` in ``folder``."""
    import httpx

    url = f"{base_url}?date={day.isoformat()}"
    try:
        response = httpx.get(url, timeout=timeout, follow_redirects=True)
        response.raise_for_status()
    except httpx.HTTPStatusError as exc:
        raise InputError(f"{url}: the server answered {exc.response.status_code}.") from None
    except httpx.HTTPError as exc:
        raise InputError(f"cannot download {url}: {exc} (no network?).") from None
    path = folder / f"daily-papers-{day.isoformat()}.json"
    write_atomic(path, response.content)
    return path
