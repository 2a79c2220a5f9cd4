"""Settings reject what they don't know: a misspelt ASSISTANT_ variable, a key in an env file or
an argument is an error naming it and where it came from; other programs' variables are not
ours. The CLI prints such errors in one line, without a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from assistant.cli import cli
from assistant.errors import SettingsError
from assistant.settings import Settings

ANSWER_KEYS = "answer has: k, min_relevance, max_question_chars"


def test_a_misspelt_group_variable_is_an_error_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSISTANT_ANSWER__KK", "3")
    with pytest.raises(SettingsError) as info:
        Settings()
    message = str(info.value)
    assert message.startswith(f"unknown setting ASSISTANT_ANSWER__KK ({ANSWER_KEYS}")
    assert message.endswith("did you mean ASSISTANT_ANSWER__K?")


def test_a_misspelt_top_level_variable_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSISTANT_STOR_DIR", "/tmp/x")
    with pytest.raises(SettingsError, match=r"unknown setting ASSISTANT_STOR_DIR \(the top level"):
        Settings()
    monkeypatch.delenv("ASSISTANT_STOR_DIR")
    monkeypatch.setenv("ASSISTANT_STORE_DIR__X", "1")  # store_dir holds no settings
    with pytest.raises(SettingsError, match="store_dir is one value, not a group"):
        Settings()


def test_variables_that_are_not_ours_are_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTHER_ANSWER__KK", "3")
    monkeypatch.setenv("ASSISTANTS", "x")  # shares the first letters, not the prefix
    monkeypatch.setenv("ASSISTANT_ANSWER__K", "7")
    monkeypatch.setenv("assistant_retrieval__mode", "bm25")  # names are not case-sensitive
    settings = Settings()
    assert (settings.answer.k, settings.retrieval.mode) == (7, "bm25")


def test_an_unknown_key_in_an_env_file_names_the_file(tmp_path: Path) -> None:
    env_file = tmp_path / "papers.env"
    env_file.write_text("ASSISTANT_LLM__PROVIDR=fake\nOPENAI_API_BASE=http://x\n")
    with pytest.raises(SettingsError) as info:
        Settings(_env_file=env_file)  # type: ignore[call-arg]
    message = str(info.value)
    assert message.startswith(f"unknown setting ASSISTANT_LLM__PROVIDR in {env_file} (llm has:")
    assert message.endswith("did you mean ASSISTANT_LLM__PROVIDER?")
    env_file.write_text("ASSISTANT_LLM__PROVIDER=fake\nOPENAI_API_BASE=http://x\n")
    assert Settings(_env_file=env_file).llm.provider == "fake"  # type: ignore[call-arg]


def test_unknown_arguments_and_overrides_are_errors() -> None:
    with pytest.raises(SettingsError, match=rf"unknown setting answer\.kk \({ANSWER_KEYS}"):
        Settings(answer={"kk": 3})  # type: ignore[arg-type]
    with pytest.raises(SettingsError, match=rf"unknown setting answer\.kk \({ANSWER_KEYS}"):
        Settings().with_overrides(**{"answer.kk": 3})
    with pytest.raises(SettingsError, match=r"unknown setting answr\.k \(the top level has"):
        Settings().with_overrides(**{"answr.k": 3})
    assert Settings().with_overrides(**{"answer.k": 3}).answer.k == 3


def test_the_cli_reports_an_unknown_setting_in_one_line() -> None:
    result = CliRunner().invoke(cli, ["config"], env={"ASSISTANT_ANSWER__KK": "3"})
    assert result.exit_code == 1
    assert result.stderr.startswith("error: unknown setting ASSISTANT_ANSWER__KK (answer has: k,")
    assert "did you mean ASSISTANT_ANSWER__K?" in result.stderr
    assert "Traceback" not in result.output
    assert result.stdout == ""


def test_the_cli_reports_an_invalid_value_in_one_line() -> None:
    result = CliRunner().invoke(cli, ["config"], env={"ASSISTANT_ANSWER__K": "many"})
    assert result.exit_code == 1
    assert result.stderr.startswith(
        "error: invalid setting ASSISTANT_ANSWER__K (answer.k): Input should be a valid integer"
    )
    assert "Traceback" not in result.output
