"""Property-based tests (hypothesis) of the parsers: arbitrary input never crashes them (an
``InputError`` is the only way to refuse), and generated well-formed page dumps in both
layouts round-trip to the papers they were made from.

Bounded: a fixed number of examples and no per-example deadline (the first call pays for
imports), so the file runs in seconds; ``HYPOTHESIS_PROFILE=fuzz`` runs many more.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from assistant.errors import InputError
from assistant.parse import _DATE_HEADER, BOILERPLATE, MIN_ABSTRACT_CHARS, make_paper, parse_file

settings.register_profile(
    "ci",
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.register_profile("fuzz", parent=settings.get_profile("ci"), max_examples=5000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

#: Lines a page dump is made of, to make arbitrary text hit the parser's branches often.
PAGE_BITS = st.sampled_from(
    [
        "new",
        "Subscribe",
        "SubscribeA Glued Title",
        "Daily Papers",
        "Get trending papers in your email inbox!",
        "Mar 13",
        "Feb 30",
        "Aug 11, 2023",
        "",
        "[",
        "{",
        '{"title": 5}',
        "\ufeff",
        "x" * 401,
        "An abstract that is long enough to count as one, about caches.",
    ]
)
ANY_TEXT = st.lists(st.one_of(st.text(max_size=80), PAGE_BITS), max_size=30).map(
    lambda parts: "\n".join(parts)
)
LINE_ENDS = st.sampled_from(["\n", "\r\n", "\r"])


def _parse_bytes(data: bytes, fmt: str, name: str = "page.txt") -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(data)
        with contextlib.suppress(InputError):
            parse_file(path, fmt, year=2024)


@given(text=ANY_TEXT, fmt=st.sampled_from(["auto", "hf-text", "jsonl", "hf-json"]))
@example(text="[" * 50_000, fmt="auto")  # deep nesting: RecursionError inside json
@example(text='{"a":' * 50_000, fmt="jsonl")
@example(text="Mar 13", fmt="hf-text")
def test_arbitrary_text_never_crashes_a_parser(text: str, fmt: str) -> None:
    _parse_bytes(text.encode("utf-8", "surrogatepass"), fmt)


@given(data=st.binary(max_size=400), name=st.sampled_from(["x.txt", "x.json", "x.jsonl"]))
@example(data=b"\xff\xfe" + b"\x00\xd8", name="x.txt")  # a BOM, then a lone surrogate
@example(data=b"\xfe\xff\x00", name="x.txt")  # odd byte count after the BOM
def test_arbitrary_bytes_never_crash_the_reader(data: bytes, name: str) -> None:
    _parse_bytes(data, "auto", name)


# --- round trip -------------------------------------------------------------------------------

WORD = st.text(
    alphabet=st.characters(
        blacklist_categories=("Cc", "Cs", "Zl", "Zp", "Zs", "Co", "Cn"),
        blacklist_characters="\ufeff",
    ),
    min_size=1,
    max_size=12,
)


def _readable(title: str) -> bool:
    """A title a page could carry that the format can tell from boilerplate and headers."""
    return (
        title.lower() not in BOILERPLATE
        and not _DATE_HEADER.match(title)
        and title[:1] not in "[{"  # the page would look like JSON when it came first
    )


TITLES = st.lists(WORD, min_size=1, max_size=12).map(" ".join).filter(_readable)
ABSTRACTS = (
    st.lists(WORD, min_size=8, max_size=60)
    .map(" ".join)
    .filter(lambda a: len(a) >= MIN_ABSTRACT_CHARS)
)
PAPERS = st.lists(st.tuples(TITLES, ABSTRACTS), min_size=1, max_size=6)
DAYS = st.dates(min_value=dt.date(2020, 1, 1), max_value=dt.date(2030, 12, 31))


def blank_line_layout(papers: list[tuple[str, str]], day: dt.date, end: str) -> str:
    """Boilerplate, a ``Mar 13`` header, then title and abstract paragraphs."""
    head = [
        "new",
        "Get trending papers in your email inbox!",
        "Subscribe",
        "Daily Papers",
        "byAK and the research community",
        f"{MONTHS[day.month - 1]} {day.day}",
    ]
    body = [part for pair in papers for part in pair]
    return (end + end).join(head + body) + end


def one_line_layout(papers: list[tuple[str, str]], end: str) -> str:
    """Boilerplate, the first title glued to ``Subscribe``, one line per field."""
    lines = [part for pair in papers for part in pair]
    lines[0] = "Subscribe" + lines[0]
    head = ["Get trending papers in your email inbox once a day!"]
    head.append("Get trending papers in your email inbox!")
    return end.join(head + lines) + end


def _expected(papers: list[tuple[str, str]], source: str, day: dt.date | None) -> list[object]:
    return [
        make_paper(t, a, source, published=day).model_dump(exclude={"added"}) for t, a in papers
    ]


def _round_trip(text: str, year: int) -> list[object]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "page.txt"
        path.write_text(text, encoding="utf-8", newline="")
        return [p.model_dump(exclude={"added"}) for p in parse_file(path, year=year)]


@given(papers=PAPERS, day=DAYS, end=LINE_ENDS)
@example(
    papers=[("Subscribers Matter", "Subscribers of a service " * 3)],
    day=dt.date(2024, 3, 13),
    end="\n",
)
def test_blank_line_layout_round_trips(
    papers: list[tuple[str, str]], day: dt.date, end: str
) -> None:
    assert _round_trip(blank_line_layout(papers, day, end), day.year) == _expected(
        papers, "page.txt", day
    )


@given(papers=PAPERS, end=LINE_ENDS)
@example(papers=[("Subscribe to Nothing", "An abstract " * 5)], end="\n")
@example(papers=[("mPLUG-Owl", "An abstract " * 5), ("Subscribers", "Another one " * 5)], end="\n")
def test_one_line_layout_round_trips(papers: list[tuple[str, str]], end: str) -> None:
    assert _round_trip(one_line_layout(papers, end), 2024) == _expected(papers, "page.txt", None)


@pytest.mark.parametrize("layout", ["blank", "line"])
def test_the_generators_match_the_sample_layouts(layout: str) -> None:
    """The generated pages are the two real layouts (checked against data/sample)."""
    sample = Path(__file__).resolve().parents[1] / "data" / "sample"
    real = sample / (
        "000_008a4770ab7d3f29.txt" if layout == "blank" else "001_9d533ba750abefce.txt"
    )
    head = real.read_text().splitlines()[:3]
    made = (
        blank_line_layout([("T", "a" * 40)], dt.date(2024, 3, 13), "\n")
        if layout == "blank"
        else one_line_layout([("T", "a" * 40)], "\n")
    ).splitlines()[:3]
    assert made[:2] == head[:2]
    assert made[2][:9] == head[2][:9]  # "Get trending..." or the title glued to "Subscribe"
