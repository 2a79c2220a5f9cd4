"""One health check (``assistant doctor``, the Status tab)."""

from __future__ import annotations

from pydantic import BaseModel


class Check(BaseModel):
    """One health check (``assistant doctor``, the app's Status tab)."""

    name: str
    ok: bool
    detail: str
    fix: str = ""
