"""Every user path, on an embedded store and on a ``chroma run`` server alike.

The same small store (three weeks of papers: KV cache, image diffusion, weather) is
ingested through the CLI into each kind, and every command a user or cron runs is checked
on it with the same expectations: what works embedded must work on a server.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from assistant.cli import cli
from assistant.health import status_report
from assistant.library import library_page
from assistant.settings import Settings
from tests.conftest import FIXTURES

THREE_WEEKS = FIXTURES / "daily_papers_three_weeks.json"
KV_TITLE = "Offloading the KV Cache to CPU Memory for Million-Token Contexts"


class Kind:
    """One store kind: the CLI's arguments for it and the same settings in process."""

    def __init__(self, name: str, store_dir: Path, chroma_url: str | None) -> None:
        self.name = name
        self.args = ["--store", str(store_dir)]
        self.env = {"ASSISTANT_LLM__PROVIDER": "fake", "ASSISTANT_COLLECTION": "paths"}
        overrides: dict[str, object] = {"store_dir": store_dir, "collection": "paths"}
        if chroma_url:
            # its own collection on the shared test server; the local folder keeps the index
            self.env["ASSISTANT_COLLECTION"] = f"p{uuid.uuid4().hex[:8]}"
            overrides |= {"chroma_url": chroma_url, "collection": self.env["ASSISTANT_COLLECTION"]}
            self.args += ["--chroma-url", chroma_url]
        self.settings = Settings(**overrides).with_overrides(**{"llm.provider": "fake"})

    def run(self, *args: str) -> Result:
        result = CliRunner().invoke(cli, [*self.args, *args], env=self.env, catch_exceptions=False)
        assert result.exit_code == 0, f"{self.name}: {args}: {result.output}"
        return result

    def json(self, *args: str) -> object:
        return json.loads(self.run(*args, "--json").stdout)


@pytest.fixture(
    scope="module", params=["embedded", pytest.param("server", marks=pytest.mark.server)]
)
def kind(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Kind:
    url = request.getfixturevalue("chroma_server") if request.param == "server" else None
    made = Kind(request.param, tmp_path_factory.mktemp(request.param) / "store", url)
    report = made.json("ingest", str(THREE_WEEKS))
    assert isinstance(report, dict) and report["added"] == report["store_total"] == 20
    embedded_files = list(made.settings.store_dir.glob("chroma/chroma.sqlite3"))
    assert bool(embedded_files) == (url is None), "the server kind must not write a local Chroma"
    return made


def test_stats_list_show_and_the_status_page(kind: Kind) -> None:
    stats = kind.json("stats")
    assert isinstance(stats, dict) and stats["papers"] == 20
    listed = kind.json("list", "--since", "2026-03-09", "--limit", "0")
    assert isinstance(listed, list) and len(listed) == 8
    shown = kind.json("show", listed[0]["id"])
    assert shown == listed[0]
    report = status_report(kind.settings, llm_check=None)
    assert report.papers == 20 and report.sources == [THREE_WEEKS.name]


def test_search_and_the_library(kind: Kind) -> None:
    hits = kind.json("search", "offloading the KV cache to CPU memory", "-k", "3")
    assert isinstance(hits, list) and hits[0]["paper"]["title"] == KV_TITLE
    assert hits[0]["best_sentences"], "sentences embedded on first showing, on either kind"
    browse = library_page(kind.settings, "", order="newest")
    assert browse.total == 20 and browse.papers[0].published is not None
    found = library_page(kind.settings, "weather forecasting")
    assert found.good and "Weather" in found.hits[0].paper.title


def test_ask_digest_weekly_compare_and_disagreements(kind: Kind) -> None:
    answer = kind.json("ask", "Which papers evict entries from the KV cache?")
    assert isinstance(answer, dict) and answer["sources"]
    digest = kind.json("digest", "KV cache", "-n", "6")
    assert isinstance(digest, dict) and digest["themes"] and digest["comparison"]["rows"]
    week = kind.run("weekly", "--week", "2026-W11", "--no-llm", "--force")
    assert "2026-W11" in week.output + week.stderr
    table = kind.json("compare", "--topic", "image generation with diffusion", "-n", "4")
    assert isinstance(table, dict) and len(table["rows"]) == 4
    kind.json("disagreements", "--topic", "KV cache")  # runs; none need be found


def test_interests_for_you_and_similar(kind: Kind) -> None:
    kind.run("interest", "add", "weather", "--phrase", "weather forecasting")
    ranked = kind.json("for-you", "weather", "-k", "4")
    assert isinstance(ranked, list) and ranked[0]["why"]
    assert sum("eather" in r["paper"]["title"] for r in ranked[:2]) == 2
    like = kind.json("similar", ranked[0]["paper"]["id"], "-k", "3")
    assert isinstance(like, list) and like
