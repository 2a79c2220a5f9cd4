"""The Atom feed of saved weekly summaries, as a document (``weekly.py`` writes it to
``<store>/digests/weekly/feed.xml``).

One entry per saved week, newest first. Entry ids are derived from the week alone
(``urn:papers-assistant:weekly:2026-W11``), so rebuilding a week or the feed never makes a
reader show it twice; ``updated`` is when the week was generated. Links are relative to the
feed's folder (``2026-W11.html``), so the folder can be served or copied anywhere.
"""

from __future__ import annotations

import datetime as dt
from xml.etree import ElementTree as ET

from assistant.models import SavedWeek

ATOM = "http://www.w3.org/2005/Atom"
FEED_ID = "urn:papers-assistant:weekly"


def entry_id(week: str, feed_id: str = FEED_ID) -> str:
    """The stable Atom id of a week's entry."""
    return f"{feed_id}:{week}"


def _stamp(value: dt.datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def feed_xml(
    weeks: list[SavedWeek],
    *,
    title: str = "Papers assistant: weekly summaries",
    feed_id: str = FEED_ID,
    name: str = "feed.xml",
) -> str:
    """The Atom document for these saved weeks (newest first); ``feed_id`` and the feed's
    file ``name`` differ for an interest's own feed."""
    ET.register_namespace("", ATOM)

    def sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
        element = ET.SubElement(parent, f"{{{ATOM}}}{tag}", attrs)
        if text is not None:
            element.text = text
        return element

    feed = ET.Element(f"{{{ATOM}}}feed")
    sub(feed, "id", feed_id)
    sub(feed, "title", title)
    newest = max((w.generated_at for w in weeks), default=dt.datetime(1970, 1, 1, tzinfo=dt.UTC))
    sub(feed, "updated", _stamp(newest))
    author = sub(feed, "author")
    sub(author, "name", "papers-assistant")
    sub(feed, "link", rel="self", href=name)
    sub(feed, "generator", "papers-assistant")
    for week in sorted(weeks, key=lambda w: w.week, reverse=True):
        entry = sub(feed, "entry")
        sub(entry, "id", entry_id(week.week, feed_id))
        sub(entry, "title", f"{week.title}: {week.papers} papers, {week.themes} themes")
        sub(entry, "updated", _stamp(week.generated_at))
        sub(entry, "link", rel="alternate", type="text/html", href=f"{week.week}.html")
        sub(entry, "link", rel="alternate", type="text/markdown", href=f"{week.week}.md")
        new = f" New this week: {'; '.join(week.new_themes)}." if week.new_themes else ""
        sub(entry, "summary", week.overview + new, type="text")
    ET.indent(feed)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(feed, encoding="unicode") + "\n"
