"""Eval suites: the schema's checks, and that core and quick fit the sample corpus.

No store and no model: parsing the sample pages is all these tests need.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from assistant.errors import InputError
from assistant.evals.suite import (
    CASE_TYPES,
    Case,
    Suite,
    load_suite,
    resolve_gold,
    title_index,
    title_only_first,
)
from assistant.ingest import merge_duplicates
from assistant.models import Paper, normalize_title
from assistant.parse import parse_paths
from tests.conftest import ROOT, SAMPLE

SUITES = ROOT / "eval" / "suites"
CORE = SUITES / "core.jsonl"
QUICK = SUITES / "quick.jsonl"
FOLLOW_UP = SUITES / "follow_up.jsonl"
PARTIAL = SUITES / "partial.jsonl"  # written from the abstracts for checking, not tuned on
MEANING = SUITES / "meaning.jsonl"  # no distinctive names; synonyms and descriptions
# Conversations live in their own suite, kept for checking (nothing was tuned on it);
# core and quick hold the single-question types (partial cases have their own suite).
SINGLE_TURN = set(CASE_TYPES) - {"follow_up", "partial", "interest", "table", "disagreement"}
INTERESTS = SUITES / "interests.jsonl"  # written from the abstracts for checking, not tuned on
INTERESTS_DEV = SUITES / "interests-dev.jsonl"  # the ranker's weights were set on these
TABLES = SUITES / "tables.jsonl"  # labelled by a helper who read no code; never tuned on
PAIRS = SUITES / "disagreements.jsonl"  # labelled the same way, for checking
PAIRS_DEV = SUITES / "disagreements-dev.jsonl"  # the detector's rules were set on these

# What each unanswerable case of core.jsonl names that the sample corpus must not mention
# (checked case-insensitively against the raw page dumps, at the start of a word). A new
# unanswerable case needs an entry here: that is how we know its answer really is absent.
ABSENT = {
    "smoke-51": ["sourdough"],
    "smoke-52": ["CASP"],
    "smoke-53": ["quadcopter", "drone"],
    "smoke-54": ["quantum error", "surface code"],
    "smoke-55": ["credit card", "fraud"],
    "smoke-56": ["SWE-bench"],
    "smoke-57": ["stock price", "tweets"],
    "smoke-58": ["caffeine"],
    "smoke-59": ["cement", "carbon capture"],
    "smoke-60": ["garbage collect"],
    "smoke-61": ["wind turbine"],
    "smoke-62": ["ibuprofen"],
    "un-jamba-hybrid": ["Jamba"],
    "un-flashattention-3": ["FlashAttention-3", "Hopper"],
    "un-whisper-librispeech": ["Whisper", "LibriSpeech"],
    "un-kto-alignment": ["KTO", "Kahneman"],
    "un-segment-anything-video": ["Segment Anything", "SAM 2"],
    "un-gaussian-splatting": ["Gaussian Splatting"],
    "un-nerf-sparse-views": ["NeRF", "radiance field"],
    "un-grpo-advantages": ["GRPO"],
    "un-dora-decomposition": ["DoRA"],
    "un-tree-of-thoughts": ["Tree of Thoughts"],
    "un-qm9-molecules": ["QM9"],
    "un-dinov2-recipe": ["DINOv2"],
    "un-valle-tts": ["VALL-E"],
    "un-decision-transformer-d4rl": ["Decision Transformer", "D4RL"],
    "un-quadruped-sim2real": ["quadruped", "sim-to-real"],
    "un-dp-sgd-llm": ["DP-SGD", "differential privacy"],
    "un-rt2-robot-control": ["RT-2"],
    "un-llm-watermark": ["watermark"],
    "un-distilbert-size": ["DistilBERT"],
    "un-nuscenes-lidar": ["nuScenes", "LiDAR"],
    "un-ecg-arrhythmia": ["ECG", "arrhythmia"],
    "un-gpqa-scores": ["GPQA"],
}


@pytest.fixture(scope="module")
def papers() -> list[Paper]:
    """The sample corpus as the store holds it: one record per paper."""
    return merge_duplicates(parse_paths([SAMPLE], year=2024).papers)


@pytest.fixture(scope="module")
def core() -> Suite:
    return load_suite(CORE)


# --- the shipped suites ----------------------------------------------------------------------


def test_core_covers_every_type_and_is_big_enough(core: Suite) -> None:
    counts = Counter(c.type for c in core.cases)
    assert set(counts) == SINGLE_TURN, counts
    assert len(core.cases) >= 80 and counts["unanswerable"] >= 20, counts
    assert counts["numeric"] >= 15 and counts["multi_paper"] >= 15 and counts["topic"] >= 8
    assert core.name == "core" and len(core.sha256) == 64


def test_quick_is_a_small_mix_and_agrees_with_core(core: Suite) -> None:
    quick = load_suite(QUICK)
    assert len(quick.cases) == 15
    assert {c.type for c in quick.cases} == SINGLE_TURN
    by_id = {c.id: c for c in core.cases}
    for case in quick.cases:
        assert case.id not in by_id or case == by_id[case.id], f"{case.id} drifted from core"


def test_partial_and_meaning_suites_are_big_enough() -> None:
    partial = load_suite(PARTIAL)
    assert len(partial.cases) >= 15 and {c.type for c in partial.cases} == {"partial"}
    meaning = Counter(c.type for c in load_suite(MEANING).cases)
    assert meaning["unanswerable"] >= 20
    assert sum(n for t, n in meaning.items() if t != "unanswerable") >= 20


def test_follow_up_suite_is_conversations_only() -> None:
    suite = load_suite(FOLLOW_UP)
    assert len(suite.cases) >= 20
    assert {c.type for c in suite.cases} == {"follow_up"}
    assert all(c.history for c in suite.cases)


def test_interest_suites_are_big_enough_and_apart() -> None:
    check, dev = load_suite(INTERESTS), load_suite(INTERESTS_DEV)
    for suite in (check, dev):
        assert {c.type for c in suite.cases} == {"interest"}
        negated = [c for c in suite.cases if c.interest and c.interest.negatives]
        assert negated and all(len(c.excluded_titles) >= 2 for c in negated)
    assert len(check.cases) >= 12 and len(dev.cases) >= 6
    assert not {c.id for c in check.cases} & {c.id for c in dev.cases}


def test_labelled_tables_and_pairs_are_big_enough_verbatim_and_apart(
    papers: list[Paper],
) -> None:
    abstracts = {normalize_title(p.title): p.abstract for p in papers}
    tables = load_suite(TABLES)
    assert {c.type for c in tables.cases} == {"table"} and len(tables.cases) >= 40
    for case in tables.cases:
        assert case.result is not None
        if case.result.sentence:
            assert case.result.sentence in abstracts[normalize_title(case.gold_titles[0])]
    check, dev = load_suite(PAIRS), load_suite(PAIRS_DEV)
    labels = [c.pair for suite in (check, dev) for c in suite.cases if c.pair]
    assert sum(p.conflict for p in labels) >= 5 and sum(not p.conflict for p in labels) >= 5
    for case in [*check.cases, *dev.cases]:  # each sentence is its own paper's, verbatim
        assert case.pair is not None
        for title, sentence in zip(case.gold_titles, case.pair.sentences, strict=True):
            assert sentence in abstracts[normalize_title(title)], case.id
    assert not {c.id for c in check.cases} & {c.id for c in dev.cases}


@pytest.mark.parametrize(
    "path",
    [CORE, QUICK, FOLLOW_UP, PARTIAL, MEANING, INTERESTS, INTERESTS_DEV, TABLES, PAIRS, PAIRS_DEV],
    ids=lambda p: p.name,
)
def test_every_title_is_in_the_sample_corpus(path: Path, papers: list[Paper]) -> None:
    suite = load_suite(path)
    ids = title_index(papers)
    resolution = resolve_gold(suite, ids)
    assert resolution.missing == []
    for case in suite.cases:  # an interest's seeds and excluded papers too
        named = [*case.excluded_titles, *(case.interest.seeds if case.interest else [])]
        assert all(normalize_title(t) in ids for t in named), case.id


@pytest.mark.parametrize("path", [CORE, QUICK, MEANING], ids=lambda p: p.name)
def test_answer_facts_are_verbatim_in_a_gold_abstract(path: Path, papers: list[Paper]) -> None:
    abstracts = {normalize_title(p.title): p.abstract for p in papers}
    for case in load_suite(path).cases:
        gold = [abstracts[normalize_title(t)] for t in case.gold_titles]
        for fact in case.answer_facts:
            assert any(fact in abstract for abstract in gold), (case.id, fact)


def test_unanswerable_cases_name_things_the_corpus_lacks(core: Suite) -> None:
    raw = "\n".join(p.read_text() for p in sorted(SAMPLE.glob("*.txt"))).lower()
    unanswerable = {c.id for c in core.of_type("unanswerable")}
    assert unanswerable == set(ABSENT), "every unanswerable case lists what must be absent"
    for case_id, terms in ABSENT.items():
        found = [t for t in terms if re.search(rf"(?<![a-z0-9]){re.escape(t.lower())}", raw)]
        assert not found, (case_id, found)


def test_questions_do_not_repeat_their_titles(core: Suite, papers: list[Paper]) -> None:
    """Title-only BM25 finds a gold paper first for few questions: they paraphrase."""
    first = title_only_first(core, papers)
    assert len(first) == len(core.answerable)
    share = sum(first.values()) / len(first)
    assert share < 0.4, sorted(cid for cid, hit in first.items() if hit)
    singles = [c.id for c in core.of_type("known_item", "numeric")]
    assert sum(first[cid] for cid in singles) <= 0.1 * len(singles)


# --- the schema -------------------------------------------------------------------------------


def write(tmp_path: Path, *lines: str | dict[str, object]) -> Path:
    path = tmp_path / "suite.jsonl"
    text = [line if isinstance(line, str) else json.dumps(line) for line in lines]
    path.write_text("\n".join(text) + "\n")
    return path


GOOD = {"id": "a", "type": "known_item", "question": "q?", "gold_titles": ["T"]}


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ('{"id": "c", "type": "known_item",', "not valid JSON"),
        ({**GOOD, "id": "c", "type": "guess"}, "unknown type 'guess'"),
        (
            {"id": "c", "type": "unanswerable", "question": "q?", "gold_titles": ["T"]},
            "gold_titles must be empty for an unanswerable case",
        ),
        ({**GOOD, "id": "a"}, "duplicate id 'a' (first on line 1)"),
        ({**GOOD, "id": "c", "gold_titles": []}, "needs gold_titles"),
        ({**GOOD, "id": "c", "answer_facts": ["x"] * 2}, "same entry twice"),
        ({**GOOD, "id": "c", "extra": 1}, "unknown field 'extra'"),
        ({**GOOD, "id": "c", "question": "  "}, "question is empty"),
        ("[1, 2]", "expected a JSON object"),
    ],
)
def test_a_bad_line_is_named_by_file_and_line(
    tmp_path: Path, bad: str | dict[str, object], message: str
) -> None:
    path = write(tmp_path, GOOD, {**GOOD, "id": "b"}, bad)
    with pytest.raises(InputError) as info:
        load_suite(path)
    assert f"{path}:3: " in str(info.value) and message in str(info.value)


def test_every_bad_line_is_reported_at_once(tmp_path: Path) -> None:
    path = write(tmp_path, "{oops", GOOD, {**GOOD, "type": "quiz"}, "", {**GOOD, "id": "z"}, GOOD)
    with pytest.raises(InputError) as info:
        load_suite(path)
    lines = str(info.value).splitlines()
    assert [line.split(": ")[0] for line in lines] == [f"{path}:1", f"{path}:3", f"{path}:6"]


def test_missing_and_empty_files(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"nope\.jsonl: no such suite file"):
        load_suite(tmp_path / "nope.jsonl")
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n\n")
    with pytest.raises(InputError, match="holds no cases"):
        load_suite(empty)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"type": "multi_paper"}, "at least two gold papers"),
        ({"gold_titles": ["T", "U"]}, "exactly one gold paper"),
        ({"type": "numeric", "answer_facts": ["no digits"]}, "numeric case needs answer_facts"),
        ({"also_relevant": ["U"]}, "for topic and follow_up cases only"),
        ({"type": "topic", "gold_titles": ["T", "U"], "also_relevant": ["t"]}, "both in"),
        ({"answer_facts": ["a", "b", "c", "d"]}, "at most 3"),
        ({"answer_facts": ["x" * 81]}, "at most 80 characters"),
        ({"type": "interest"}, "an interest case needs interest"),
        ({"interest": {"phrases": ["x"]}}, "only an interest case has it"),
        ({"type": "interest", "interest": {}}, "an interest needs phrases or seeds"),
        (
            {"type": "interest", "interest": {"phrases": ["x"]}, "excluded_titles": ["U"]},
            "needs a 'not' phrase",
        ),
        ({"excluded_titles": ["U"]}, "for interest cases only"),
    ],
)
def test_case_rules(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Case.model_validate({**GOOD, **fields})


def test_gold_ids_may_stand_in_for_titles() -> None:
    case = Case.model_validate({**GOOD, "gold_titles": [], "gold_ids": ["2401.00001"]})
    assert case.answerable and case.gold_ids == ["2401.00001"]


def test_resolve_gold_reports_what_the_store_lacks(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        {**GOOD, "gold_titles": ["Known: A Paper!"]},
        {
            "id": "b",
            "type": "multi_paper",
            "question": "q?",
            "gold_titles": ["known a paper"],
            "gold_ids": ["p-gone"],
        },
        {
            "id": "c",
            "type": "topic",
            "question": "q?",
            "gold_titles": ["Lost"],
            "also_relevant": ["Known: a paper"],
        },
        {"id": "d", "type": "unanswerable", "question": "q?"},
    )
    resolution = resolve_gold(load_suite(path), {"known a paper": "p1"})
    assert resolution.gold == {"a": ["p1"], "b": ["p1"], "c": [], "d": []}
    assert resolution.also_relevant["c"] == ["p1"]
    assert [(m.case_id, m.reference, m.role) for m in resolution.missing] == [
        ("b", "p-gone", "gold"),
        ("c", "Lost", "gold"),
    ]
    assert resolution.incomplete == {"b", "c"}
