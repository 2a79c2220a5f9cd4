"""The ``assistant`` command end to end (click's CliRunner, real store and embedder)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
from click.testing import CliRunner, Result

from assistant.cli import cli
from tests.conftest import FIXTURES, SAMPLE
from tests.parts import send


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def test_ingest_stats_list_show(tmp_path: Path) -> None:
    store = str(tmp_path / "store")
    result = run("--store", store, "ingest", str(SAMPLE), "--year", "2024", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["entries"], report["papers"], report["added"]) == (617, 583, 583)

    stats = json.loads(run("--store", store, "stats", "--json").stdout)
    assert stats["papers"] == 583 and stats["embedding_model"] == "all-MiniLM-L6-v2"
    assert "583" in run("--store", store, "stats").stdout

    listed = json.loads(
        run("--store", store, "list", "--since", "2024-08-01", "--limit", "0", "--json").stdout
    )
    assert len(listed) == 84 and all(p["published"] == "2024-08-11" for p in listed)
    # --added-days means the same in list as in search: 0 is "added today", not "no filter"
    today = run("--store", store, "list", "--added-days", "0", "--limit", "0", "--json")
    assert today.exit_code == 0, today.output
    assert len(json.loads(today.stdout)) == 583

    shown = json.loads(run("--store", store, "show", listed[0]["id"], "--json").stdout)
    assert shown == listed[0]
    text = run("--store", store, "show", listed[0]["id"]).stdout
    assert listed[0]["title"] in text

    again = json.loads(run("--store", store, "ingest", str(SAMPLE), "--json").stdout)
    assert again["unchanged"] == 583 and again["added"] == 0


def test_store_from_environment(tmp_path: Path) -> None:
    env = {"ASSISTANT_STORE_DIR": str(tmp_path / "envstore")}
    cfg = json.loads(run("config", env=env).stdout)
    assert cfg["store_dir"] == str(tmp_path / "envstore")
    assert cfg["collection_name"].startswith("papers-")
    cfg = json.loads(run("--store", str(tmp_path / "flag"), "config", env=env).stdout)
    assert cfg["store_dir"] == str(tmp_path / "flag"), "the flag wins over the environment"


def test_config_masks_secrets() -> None:
    env = {"ASSISTANT_LLM__API_KEY": "sk-very-secret-value", "ASSISTANT_UI__AUTH": "me:pw"}
    out = run("config", env=env).stdout
    assert "sk-very-secret" not in out and "me:pw" not in out
    assert json.loads(out)["llm"]["api_key"] == "***"


def test_bad_file_fails_cleanly_and_writes_nothing(tmp_path: Path) -> None:
    store = str(tmp_path / "store")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"title": "ok", "abstract": "fine"}\n{broken\n')
    result = run("--store", store, "ingest", str(SAMPLE), str(bad))
    assert result.exit_code == 1
    assert "bad.jsonl:2: not valid JSON" in result.stderr
    assert "nothing was written" in result.stderr
    assert "Traceback" not in result.output
    assert json.loads(run("--store", store, "stats", "--json").stdout)["papers"] == 0

    skipped = run(
        "--store",
        store,
        "ingest",
        str(SAMPLE / "000_008a4770ab7d3f29.txt"),
        str(bad),
        "--skip-invalid",
        "--json",
    )
    assert skipped.exit_code == 0
    report = json.loads(skipped.stdout)
    assert report["added"] == 71
    assert len(report["skipped"]) == 1 and "bad.jsonl:2" in report["skipped"][0]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ingest", "missing-dir"], "missing-dir: no such file or folder"),
        (["list", "--since", "March"], "--since 'March' is not a date"),
        (["show", "nope"], "no paper with id 'nope'"),
        (["ingest", str(SAMPLE), "--year", "99999"], "not a plausible year"),
        (["ingest", str(SAMPLE), "--date", "2024-13-01"], "--date '2024-13-01' is not a date"),
    ],
)
def test_user_errors_are_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    result = run("--store", str(tmp_path / "s"), *args)
    assert result.exit_code == 1
    assert message in result.stderr
    assert "Traceback" not in result.output


class _DailyPapers(BaseHTTPRequestHandler):
    """Serves the hf-json fixture like the Daily Papers API (``?date=`` required)."""

    requested: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        type(self).requested.append(self.path)
        if "date=2026-03-07" not in self.path:
            self.send_response(404)
            self.end_headers()
            return
        body = (FIXTURES / "daily_papers_2026-03-07.json").read_bytes()
        send(self, 200, body, "application/json")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def daily_papers_api() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _DailyPapers)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/api/daily_papers"
    finally:
        server.shutdown()


def test_fetch_downloads_and_ingests_a_day(tmp_path: Path, daily_papers_api: str) -> None:
    env = {"ASSISTANT_DAILY_PAPERS_URL": daily_papers_api}
    store = str(tmp_path / "store")
    result = run("--store", store, "fetch", "--date", "2026-03-07", "--json", env=env)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["added"] == 3
    assert _DailyPapers.requested[-1] == "/api/daily_papers?date=2026-03-07"
    paper = json.loads(run("--store", store, "show", "2603.04117", "--json").stdout)
    assert paper["sources"] == ["daily-papers-2026-03-07.json"]
    assert paper["hf_url"] == "https://huggingface.co/papers/2603.04117"

    missing = run("--store", store, "fetch", "--date", "2026-03-08", env=env)
    assert missing.exit_code == 1 and "answered 404" in missing.stderr


def test_every_command_module_and_command_is_in_the_lazy_table() -> None:
    """``assistant.cli`` imports a command's module only when it runs: the table must name
    every command of every ``*_commands`` module, with the module that defines it."""
    import importlib
    from pathlib import Path

    import assistant.cli as package

    modules = {p.stem for p in Path(package.__file__).parent.glob("*_commands.py")}
    assert set(cli.modules.values()) == modules
    for module in modules:
        importlib.import_module(f"assistant.cli.{module}")
    defined = {
        name: command.callback.__module__.rsplit(".", 1)[-1]
        for name, command in cli.commands.items()
        if command.callback and command.callback.__module__ != "assistant.cli.base"
    }
    assert defined == cli.modules
