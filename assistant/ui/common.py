"""What the tabs share: the filter widgets read as search filters, the source filter's
choices, the browser session an event came from, the message a failure shows, the chat's
"Answer from" choices, and the ☆ that saves a paper."""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import threading
from typing import Any

import gradio as gr

from assistant.errors import AssistantError, InputError
from assistant.interests import load_profile, save_papers
from assistant.models import SearchFilters
from assistant.models.interests import STARRED
from assistant.recommend import ask_scope
from assistant.retrieve import catalog
from assistant.settings import Settings
from assistant.ui import render

log = logging.getLogger(__name__)

#: The source filter's choice that lets every source through.
ALL_SOURCES = "All sources"


def session_of(request: gr.Request | None) -> str:
    """The browser session (one chat) an event came from."""
    return (request.session_hash if request is not None else None) or "anonymous"


class Listings:
    """Which of a browser session's overlapping Library listings to show.

    A search, a page turn or a new order ("asked" listings): the newest started wins. The
    listing made when the tab opens carries the inputs as they were then, runs beside a search
    typed at once (no shared queue) and may even start after it: it is shown only when no
    request started after it and no asked listing wanted other inputs. (Seen: the opening
    listing, slower, overwrote a search with "583 papers · newest first".)"""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._numbers = itertools.count(1)
        self._newest: dict[str, int] = {}
        self._asked: dict[str, tuple[int, tuple[Any, ...]]] = {}  # the newest asked: number, inputs

    def start(self, session: str, inputs: tuple[Any, ...], *, opening: bool = False) -> int:
        """A listing of this session begins: its number."""
        with self._lock:
            number = next(self._numbers)
            self._newest[session] = number
            if not opening:
                self._asked[session] = (number, inputs)
            return number

    def shown(
        self, session: str, number: int, inputs: tuple[Any, ...], *, opening: bool = False
    ) -> bool:
        """Whether this listing's result may replace what the page shows."""
        with self._lock:
            asked_number, asked_inputs = self._asked.get(session, (None, inputs))
            if not opening:
                return asked_number == number
            return self._newest.get(session) == number and asked_inputs == inputs


def filters_of(since: str | None, until: str | None, source: str | None) -> SearchFilters:
    """Search filters from the filter widgets; a bad date is an InputError naming the field."""
    source = None if source == ALL_SOURCES else source
    return SearchFilters.parse(since, until, source, labels=("'From'", "'Until'"))


def sources_count(k: Any) -> int:
    """The slider's value as a whole number (Gradio already holds it within its bounds)."""
    try:
        return round(float(k))
    except (TypeError, ValueError):
        raise InputError(f"the number of sources must be a whole number, not {k!r}.") from None


def failure(exc: Exception) -> str:
    """A readable message for any failure: ours say what to do, others point at the log."""
    if isinstance(exc, AssistantError):
        return str(exc)
    log.exception("unexpected error in the app")
    return f"Something went wrong ({type(exc).__name__}: {exc}). The server log has the details."


_LABELS: dict[str, dict[str, str]] = {}


def source_labels(settings: Settings) -> dict[str, str]:
    """Readable names of the store's source files, computed once per store revision."""
    papers = catalog(settings)
    if papers.revision not in _LABELS:
        _LABELS.clear()
        _LABELS[papers.revision] = render.source_labels(papers.source_dates())
    return _LABELS[papers.revision]


def source_choices(settings: Settings) -> list[tuple[str, str]]:
    """The source filter's choices: (readable label, file name), "All sources" first."""
    try:
        labels = source_labels(settings)
    except Exception:  # a broken store: the Status tab and the banner say why
        labels = {}
    return [
        (ALL_SOURCES, ALL_SOURCES),
        *sorted(((v, k) for k, v in labels.items()), key=lambda c: c[1]),
    ]


#: The chat's "Answer from" choice that lets every paper through.
ALL_PAPERS = "All papers"


#: What separates the parts of an "Answer from" value: "interest: flow · week 2024-W11",
#: "interest: flow · since 2024-03-01 · until 2024-03-31" (For you's "Ask these papers").
_PART = " · "
_PERIOD = ("week", "since", "until")


def scope_value(
    kind: str,
    name: str,
    week: str | None = None,
    since: dt.date | None = None,
    until: dt.date | None = None,
) -> str:
    """The "Answer from" value of a collection or an interest (for an interest ranked in a
    week or between dates: that period)."""
    period = zip(_PERIOD, (week, since, until), strict=True)
    return _PART.join([f"{kind}: {name}", *(f"{key} {value}" for key, value in period if value)])


def scope_choices(settings: Settings) -> list[str]:
    """ "Answer from" choices: every paper, each saved collection, each interest."""
    try:
        profile = load_profile(settings)
    except AssistantError as exc:
        log.warning("interests unreadable: %s", exc)
        return [ALL_PAPERS]
    return [
        ALL_PAPERS,
        *(scope_value("collection", c.name) for c in profile.collections),
        *(scope_value("interest", i.name) for i in profile.interests),
    ]


def scope_ids(settings: Settings, value: str | None) -> list[str] | None:
    """The papers an "Answer from" value restricts a question to (None: every paper)."""
    kind, _, rest = (value or ALL_PAPERS).partition(": ")
    name, *parts = rest.split(_PART)
    if kind == "collection":
        return ask_scope(settings, collection=name)
    if kind == "interest":
        period = dict(part.split(" ", 1) for part in parts if part.startswith(_PERIOD))
        dates = filters_of(period.get("since"), period.get("until"), None)
        return ask_scope(
            settings,
            interest=name,
            week=period.get("week"),
            since=dates.since,
            until=dates.until,
        )
    return None


def star_paper(settings: Settings, paper_id: str) -> None:
    """Keep a paper in the "starred" collection (the CLI's 'saved'); say so in a toast. The
    Library's ☆ Save and a source card's ☆ both come here."""
    try:
        kept = save_papers(settings, [paper_id], STARRED)
        count = f"{len(kept.papers)} paper" + ("s" if len(kept.papers) != 1 else "")
        gr.Info(f"Saved to “{kept.name}” ({count}).")
    except Exception as exc:
        gr.Warning(failure(exc))
