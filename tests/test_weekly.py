"""Weekly summaries, their files and the Atom feed, on an hf-json fixture of three ISO weeks
(2026-W09..W11; weather forecasting papers appear only in the last one)."""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import feedparser
import pytest
from click.testing import CliRunner

from assistant import weekly
from assistant.cli import cli
from assistant.errors import InputError, StoreError
from assistant.files import write_atomic
from assistant.ingest import ingest_papers
from assistant.llm import FakeLLM, get_llm
from assistant.models import Digest
from assistant.parse import make_paper, parse_paths
from assistant.render.atom import ATOM, entry_id
from assistant.settings import Settings
from assistant.store import open_store
from assistant.weekly import (
    build_week,
    feed_path,
    iso_week,
    list_saved_weeks,
    load_week,
    normalize_week,
    store_weeks,
    summarize_week,
    week_bounds,
    week_paths,
    weekly_dir,
    weekly_lock,
)
from tests.conftest import FIXTURES

THREE_WEEKS = FIXTURES / "daily_papers_three_weeks.json"
WEATHER = {"2603.10005", "2603.10006", "2603.10007", "2603.10008"}


@pytest.fixture(scope="module")
def store_settings(tmp_path_factory: pytest.TempPathFactory, embedder) -> Settings:  # type: ignore[no-untyped-def]
    settings = Settings(store_dir=tmp_path_factory.mktemp("weeks") / "store").with_overrides(
        **{"llm.provider": "fake"}
    )
    parsed = parse_paths([THREE_WEEKS])
    ingest_papers(open_store(settings), embedder, parsed.papers, files=parsed.files)
    return settings


@pytest.fixture
def weeks(store_settings: Settings) -> Iterator[Settings]:
    """The three-week store with no saved weeks (each test starts clean)."""
    shutil.rmtree(weekly_dir(store_settings), ignore_errors=True)
    llm = get_llm(store_settings)
    assert isinstance(llm, FakeLLM)
    llm.history.clear()
    llm._queue.clear()
    yield store_settings
    shutil.rmtree(weekly_dir(store_settings), ignore_errors=True)


def test_iso_weeks() -> None:
    assert iso_week(dt.date(2026, 3, 9)) == "2026-W11" == iso_week(dt.date(2026, 3, 15))
    assert week_bounds("2026-W11") == (dt.date(2026, 3, 9), dt.date(2026, 3, 15))
    assert normalize_week("2026-w3") == "2026-W03"
    for bad in ("2026-11", "W11", "2026-W54"):
        with pytest.raises(InputError):
            week_bounds(bad)


def test_each_paper_lands_in_its_week(weeks: Settings) -> None:
    found = store_weeks(weeks)
    assert found.weeks == {"2026-W09": 6, "2026-W10": 6, "2026-W11": 8}
    assert found.undated == 0


def test_a_theme_only_the_last_week_has_is_new(weeks: Settings) -> None:
    summary = summarize_week(weeks, "2026-W11", use_llm=False)
    assert summary.week is not None and summary.week.papers == 8
    assert summary.week.earlier_weeks == ["2026-W09", "2026-W10"]
    new = [t for t in summary.themes if t.new]
    assert len(new) == 1 and new[0].novelty is not None and new[0].novelty >= 0.55
    assert {p.paper_id for p in new[0].papers} == WEATHER
    assert all(not t.new and (t.novelty or 0) < 0.55 for t in summary.themes if t not in new)
    assert summary.week.with_code == 3 and len(summary.week.central) == 5

    first = summarize_week(weeks, "2026-W09", use_llm=False)
    assert first.week is not None and first.week.earlier_papers == 0
    assert all(t.novelty is None and not t.new for t in first.themes)
    assert any("no earlier weeks" in n for n in first.notices)
    assert "no earlier weeks to compare with" in (week_page(weeks, first))


def week_page(settings: Settings, summary: object) -> str:
    from assistant.render.page import digest_markdown

    return digest_markdown(summary)  # type: ignore[arg-type]


def test_build_saves_its_files_once(weeks: Settings) -> None:
    built = build_week(weeks, "2026-W11")
    assert built.status == "written" and built.exit_code == 0
    paths = week_paths(weeks, "2026-W11")
    assert all(p.exists() for p in paths.values())
    assert not list(weekly_dir(weeks).glob(".*.tmp"))
    saved = load_week(weeks, "2026-W11")
    assert saved.week is not None and saved.week.week == "2026-W11" and saved.used_llm
    assert [w.week for w in list_saved_weeks(weeks)] == ["2026-W11"]
    assert paths["html"].read_text().startswith("<!DOCTYPE html>")
    header = paths["csv"].read_text().splitlines()[0]  # the week's comparison table
    assert header.startswith("#,Title,Id,Date,")

    before = {f: p.read_bytes() for f, p in paths.items()}
    again = build_week(weeks, "2026-W11")
    assert again.status == "exists" and again.exit_code == 3
    assert {f: p.read_bytes() for f, p in paths.items()} == before

    forced = build_week(weeks, "2026-W11", force=True, use_llm=False)
    assert forced.status == "written" and not load_week(weeks, "2026-W11").used_llm


def test_latest_week_is_the_default(weeks: Settings) -> None:
    assert build_week(weeks, use_llm=False).week == "2026-W11"


def test_only_the_most_novel_or_largest_themes_get_paragraphs(weeks: Settings) -> None:
    two = weeks.with_overrides(**{"digest.week_paragraphs": 2})
    summary = summarize_week(two, "2026-W11")
    written = [t for t in summary.themes if t.paragraph]
    assert len(written) == 2 and written[0].new and [t.number for t in written] == [1, 2]
    assert [t.planned for t in summary.themes] == [True] * 2 + [False] * (len(summary.themes) - 2)
    stages = [c.stage for c in summary.telemetry.llm_calls]
    assert stages == ["names", "overview", "theme 1", "theme 2"]
    # One theme written: the overview is drawn from its papers, and is its paragraph.
    one = summarize_week(weeks.with_overrides(**{"digest.week_paragraphs": 1}), "2026-W11")
    assert [c.stage for c in one.telemetry.llm_calls] == ["names", "overview"]
    assert one.overview_sentences and not any(t.planned or t.paragraph for t in one.themes)


def test_dry_run_calls_no_model_and_saves_nothing(weeks: Settings) -> None:
    llm = get_llm(weeks)
    assert isinstance(llm, FakeLLM)
    built = build_week(weeks, "2026-W11", dry_run=True)
    assert built.status == "dry-run" and built.digest is not None
    assert built.digest.week is not None and built.digest.week.papers == 8
    assert llm.history == []
    assert not weekly_dir(weeks).exists() or not list(weekly_dir(weeks).iterdir())


def test_empty_week_says_so_and_writes_nothing(weeks: Settings) -> None:
    built = build_week(weeks, "2026-W20")
    assert built.status == "empty" and built.exit_code == 4
    assert "No papers fall in 2026-W20" in built.message
    assert not week_paths(weeks, "2026-W20")["json"].exists()


def test_one_paper_week_and_undated_papers(tmp_path: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(store_dir=tmp_path / "store").with_overrides(**{"llm.provider": "fake"})
    papers = [
        make_paper(
            "Lonely paper on sea ice",
            "We propose a model of sea ice drift from satellite radar.",
            "x.jsonl",
            published=dt.date(2026, 1, 7),
        ),
        make_paper("An undated paper", "We study undated things carefully.", "x.jsonl"),
    ]
    ingest_papers(open_store(settings), embedder, papers)
    single = summarize_week(settings, "2026-W02", use_llm=False)
    assert single.covered and len(single.themes) == 1 and len(single.citations) == 1
    assert any("single paper" in n for n in single.notices)
    this_week = iso_week(dt.date.today())
    undated = summarize_week(settings, this_week, use_llm=False)
    assert undated.week is not None and undated.week.placed_by_added == 1
    assert any("no publication date" in n for n in undated.notices)


def test_atomic_write_keeps_the_old_file_when_replacing_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "week.md"
    write_atomic(target, "old")

    def fail(*_: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError):
        write_atomic(target, "new")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["week.md"]


def test_a_held_lock_makes_a_second_run_wait_then_give_up(weeks: Settings) -> None:
    impatient = weeks.with_overrides(**{"digest.lock_timeout": 0.3})
    with weekly_lock(weeks), pytest.raises(StoreError, match="another weekly run"):
        build_week(impatient, "2026-W10", use_llm=False)


def test_two_runs_at_once_write_the_week_once(
    weeks: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first run to save is held inside its critical section, before its files exist,
    until the second has been refused the weekly lock: the runs provably overlap, and the
    second must wait, then find the week saved."""
    lock_file = weekly_dir(weeks) / ".lock"
    refused = threading.Event()  # the second run asked for the lock while the first held it
    real_flock, real_save = fcntl.flock, weekly.save_week

    def flock(handle: Any, operation: int) -> None:
        try:
            real_flock(handle, operation)
        except BlockingIOError:
            if Path(handle.name) == lock_file:
                refused.set()
            raise

    saves: list[str] = []

    def save_week(settings: Settings, summary: Digest) -> list[Path]:
        saves.append(threading.current_thread().name)
        if len(saves) == 1:
            refused.wait(timeout=20)
        return real_save(settings, summary)

    monkeypatch.setattr(fcntl, "flock", flock)
    monkeypatch.setattr(weekly, "save_week", save_week)
    results: list[str] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(build_week(weeks, "2026-W10", use_llm=False).status)
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=run, name=f"run {n}") for n in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert len(saves) == 1 and sorted(results) == ["exists", "written"]
    assert refused.is_set(), "the second run never waited for the lock: the runs did not overlap"


def test_feed_lists_every_saved_week_with_stable_ids(weeks: Settings) -> None:
    for week in ("2026-W09", "2026-W10", "2026-W11"):
        assert build_week(weeks, week, use_llm=False).status == "written"
    parsed = feedparser.parse(feed_path(weeks).read_text())
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    assert [e.id for e in parsed.entries] == [
        entry_id(w) for w in ("2026-W11", "2026-W10", "2026-W09")
    ]
    assert parsed.entries[0].link.endswith("2026-W11.html")
    assert "weather" in parsed.entries[0].summary.lower()

    # RFC 4287's required elements, checked on the XML itself
    root = ET.parse(feed_path(weeks)).getroot()
    ns = {"a": ATOM}
    assert root.tag == f"{{{ATOM}}}feed"
    for tag in ("id", "title", "updated", "author/a:name"):
        assert root.find(f"a:{tag}", ns) is not None, tag
    entries = root.findall("a:entry", ns)
    assert len(entries) == 3
    for entry in entries:
        for tag in ("id", "title", "updated"):
            assert (entry.find(f"a:{tag}", ns).text or "").strip(), tag  # type: ignore[union-attr]
        assert entry.find("a:link[@rel='alternate']", ns) is not None
        dt.datetime.strptime(entry.find("a:updated", ns).text or "", "%Y-%m-%dT%H:%M:%SZ")  # type: ignore[union-attr]

    ids = [e.id for e in parsed.entries]
    build_week(weeks, "2026-W10", force=True, use_llm=False)
    assert [e.id for e in feedparser.parse(feed_path(weeks).read_text()).entries] == ids


def test_cli_weekly_exit_codes(weeks: Settings) -> None:
    store = ["--store", str(weeks.store_dir)]

    def run(*args: str) -> tuple[int, str, str]:
        result = CliRunner().invoke(cli, [*store, "weekly", *args, "--provider", "fake"])
        return result.exit_code, result.stdout, result.stderr

    code, out, _ = run("--week", "2026-W11", "--dry-run")
    assert code == 0 and "8 papers" in out and "NEW" in out
    assert not week_paths(weeks, "2026-W11")["json"].exists()
    code, _, err = run("--all", "--no-llm")
    assert code == 0 and err.count("written") == 3
    assert run("--all", "--no-llm")[0] == 3
    assert run("--latest", "--no-llm")[0] == 3
    assert run("--week", "2026-W20")[0] == 4
    assert run("--week", "2026-53")[0] == 1
    assert run("--week", "2026-W11", "--all")[0] == 2
    code, out, _ = run("--week", "2026-W11", "--force", "--no-llm", "--format", "json")
    assert code == 0 and json.loads(out)["week"]["week"] == "2026-W11"
