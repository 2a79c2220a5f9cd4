"""Odd questions through the real CLI (``ask`` with the fake provider, ``search``) over the
sample store: a clear one-line message or a sane answer, never a traceback; citation-looking
text in a question never becomes a citation in the answer."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from assistant.cli import cli
from assistant.errors import ModelError
from assistant.llm import FakeLLM, get_llm
from assistant.settings import Settings
from assistant.text import CONTROL

LONG = "How do optical flow methods handle occlusion? " * 1100  # ~50,000 characters

QUESTIONS = {
    "control": "optical\x00flow\x1b[31m occlusion\x07\x08 \x1b]0;title\x07?",
    "punctuation": "?!.,;:--()[]{}...//\\\\",
    "chinese": "哪些论文压缩了KV缓存？",
    "arabic": "ما هي الأوراق التي تضغط ذاكرة التخزين المؤقت؟",
    "emoji": "🤖🧠📄",
    "right-to-left override": "\u202eKV cache compression",
    "markup": "[bold]KV cache[/] [link=https://evil.example]compression[/link] [/]",
    "citations": "Which papers [99] compress the KV cache [100, 101]?",
}


def invoke(store: str, *args: str) -> Result:
    result = CliRunner().invoke(cli, ["--store", store, *args])
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result


@pytest.fixture(scope="module")
def store(sample_settings: Settings) -> str:
    return str(sample_settings.store_dir)


@pytest.mark.parametrize("question", ["", "   \t\n  "])
@pytest.mark.parametrize("command", ["ask", "search"])
def test_empty_question_is_one_line_error(store: str, command: str, question: str) -> None:
    args = [command, question] + (["--provider", "fake"] if command == "ask" else [])
    result = invoke(store, *args)
    assert result.exit_code == 1
    assert re.fullmatch(r"error: the (question|query) is empty[^\n]*\n", result.stderr)


def test_50000_character_question_is_cut_with_a_notice(store: str) -> None:
    result = invoke(store, "ask", LONG, "--provider", "fake", "--json")
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert "only the first 2,000 were used" in " ".join(answer["notices"])
    assert len(answer["standalone_question"]) <= 2000
    searched = invoke(store, "search", LONG, "--json")
    assert searched.exit_code == 0 and json.loads(searched.stdout)


@pytest.mark.parametrize("name", list(QUESTIONS))
def test_odd_questions_get_a_sane_answer(store: str, name: str) -> None:
    result = invoke(store, "ask", QUESTIONS[name], "--provider", "fake", "--json")
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    numbers = [c["number"] for c in answer["citations"]]
    assert numbers == list(range(1, len(numbers) + 1))  # only sources it was given, in order
    assert answer["abstained"] or answer["citations"]
    searched = invoke(store, "search", QUESTIONS[name], "--json")
    assert searched.exit_code == 0, searched.output


@pytest.mark.parametrize("name", list(QUESTIONS))
@pytest.mark.parametrize("fmt", ["text", "markdown", "bibtex"])
def test_what_reaches_the_terminal_has_no_control_characters(
    store: str, name: str, fmt: str
) -> None:
    result = invoke(store, "ask", QUESTIONS[name], "--provider", "fake", "--format", fmt)
    assert result.exit_code == 0, result.output
    assert not CONTROL.search(result.output.replace("\n", "").replace("\t", ""))
    table = invoke(store, "search", QUESTIONS[name])
    assert not CONTROL.search(table.output.replace("\n", ""))


def test_citations_in_the_question_never_become_citations(store: str) -> None:
    # The fake model echoes its prompt, question included: the worst case of a model that
    # copies the question's "[99]" into its answer. The prompt shows it as "(ref 99)".
    result = invoke(store, "ask", QUESTIONS["citations"], "--provider", "fake", "--json")
    answer = json.loads(result.stdout)
    assert not re.search(r"\[(99|100|101)\b", answer["answer"])
    assert all(c["number"] <= 5 for c in answer["citations"])
    text = invoke(store, "ask", QUESTIONS["citations"], "--provider", "fake")
    assert "[99]" not in text.stdout.split("References")[-1]


def test_a_valid_looking_citation_in_the_question_does_not_reach_the_prompt(store: str) -> None:
    invoke(store, "ask", "What does [2] say about the KV cache?", "--provider", "fake")
    fake = get_llm(Settings().with_overrides(**{"llm.provider": "fake"}))
    assert isinstance(fake, FakeLLM)
    prompt = fake.history[-1].messages[-1].content
    question = prompt[prompt.rindex("What does") :]
    assert "[2]" not in question


def test_control_characters_never_reach_the_answer_record(store: str) -> None:
    result = invoke(store, "ask", QUESTIONS["control"], "--provider", "fake", "--json")
    answer = json.loads(result.stdout)
    assert not CONTROL.search(answer["question"] + answer["standalone_question"])


def test_a_question_of_control_characters_only_is_empty(store: str) -> None:
    result = invoke(store, "ask", "\x00\x1b\x07", "--provider", "fake")
    assert result.exit_code == 1 and "the question is empty" in result.stderr


def test_chat_survives_a_bad_export_path_and_model_errors(
    store: str, tmp_path: Path, fake: FakeLLM
) -> None:
    fake.enqueue(ModelError("the endpoint went away"))  # the first question's answer fails
    good = tmp_path / "chat.md"
    script = "\n".join(
        [
            "Which papers compress the KV cache?",
            "How do optical flow methods handle occlusion?",
            "/export /no/such/folder/chat.md",
            f"/export {good}",
            "",
            "\x00\x1b",
            "/quit",
        ]
    )
    result = CliRunner().invoke(
        cli, ["--store", store, "chat", "--provider", "fake"], input=script + "\n"
    )
    assert result.exit_code == 0, result.output
    assert "error: the endpoint went away" in result.stderr
    assert not fake._queue, "the model error was never raised"
    assert len(fake.history) == 2  # the failed call, then the next question's answer
    assert "cannot save /no/such/folder/chat.md" in result.output
    saved = good.read_text(encoding="utf-8")
    assert saved.startswith("## How do optical flow")  # the failed question left no answer
    assert "KV cache" not in saved
    assert not list(tmp_path.glob(".chat.md.*"))  # no temporary file left
