"""Eval suites: JSONL files of typed questions with the papers that answer them.

``load_suite`` reads and checks a file, reporting every bad line at once; ``resolve_gold``
maps each case's gold titles to the paper ids of whatever store is being scored, and lists
the titles it cannot find so a runner reports them instead of scoring them as misses.
The format is described in ``eval/README.md``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from assistant.errors import InputError
from assistant.models import Paper, normalize_title
from assistant.parse import json_lines

CaseType = Literal[
    "known_item",
    "numeric",
    "multi_paper",
    "topic",
    "unanswerable",
    "follow_up",
    "partial",
    "interest",
    "table",
    "disagreement",
]
CASE_TYPES: tuple[str, ...] = get_args(CaseType)
#: Types no paper of the corpus answers (a partial case's gold is only the closest papers):
#: left out of retrieval scores and of false abstention.
NOT_ANSWERABLE = frozenset({"unanswerable", "partial"})
#: Types that are not a question to answer: scored by their own ranking, not by retrieval.
NOT_QUESTIONS = frozenset({"interest", "table", "disagreement"})
MAX_FACT_CHARS = 80


class InterestSpec(BaseModel):
    """An interest case's interest, as a user would save it (seeds by exact title)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    phrases: list[str] = Field(default_factory=list)
    negatives: list[str] = Field(default_factory=list, alias="not")
    seeds: list[str] = Field(default_factory=list, description="Exact corpus titles.")


class ResultSpec(BaseModel):
    """A table case's label: what a comparison's "Result" cell of the paper should hold."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    states_result: bool = Field(description="The abstract states an outcome of its experiments.")
    figures: list[str] = Field(
        default_factory=list, description="The headline result's figures, as the abstract writes."
    )
    measured_on: str | None = Field(None, description="Benchmark, data or measure, verbatim.")
    sentence: str | None = Field(None, description="The abstract sentence stating it, verbatim.")


class PairSpec(BaseModel):
    """A disagreement case's label: two papers (the case's gold titles, in order) and whether
    they truly conflict."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    conflict: bool = Field(description="True: they cannot both hold; False: a near miss.")
    kind: Literal["opposite_claims", "results"]
    sentences: list[str] = Field(
        min_length=2, max_length=2, description="The two sentences in tension, verbatim."
    )
    tension: str = Field(min_length=1, description="Why they conflict (or why they do not).")


class Case(BaseModel):
    """One question of a suite and what a correct retrieval and answer must contain."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    id: str = Field(min_length=1, description="Unique within its suite, e.g. 'smoke-07'.")
    type: CaseType = Field(
        description="known_item and numeric: one paper answers it (numeric: with a number); "
        "multi_paper: needs every gold paper; topic: a survey question whose gold is a "
        "high-precision core; unanswerable: no paper of the corpus answers it; follow_up: "
        "asked after the questions in history, in one conversation; partial: a covered topic "
        "with an aspect no paper covers (missing), gold the closest papers (may be none); "
        "interest: a saved interest (interest), gold the papers its top 10 should hold; "
        "table: one paper (gold) and what its comparison row's result cell should hold "
        "(result); disagreement: two papers (gold, in order) labelled conflict or near miss "
        "(pair)."
    )
    question: str = Field(min_length=1, description="What a user would type, paraphrased.")
    history: list[str] = Field(
        default_factory=list,
        description="follow_up only: the questions asked before it in the conversation, in "
        "order (each answered by the system under test before the follow-up is asked).",
    )
    missing: list[str] = Field(
        default_factory=list,
        description="partial only: what no paper covers; a right answer says it is missing.",
    )
    interest: InterestSpec | None = Field(
        None, description="interest only: the phrases, 'not' phrases and seed titles ranked by."
    )
    result: ResultSpec | None = Field(None, description="table only: the labelled result.")
    pair: PairSpec | None = Field(None, description="disagreement only: the labelled pair.")
    excluded_titles: list[str] = Field(
        default_factory=list,
        description="interest only: papers its 'not' phrases name; none may rank in the top 10.",
    )
    gold_titles: list[str] = Field(
        default_factory=list, description="Exact corpus titles of the papers that answer it."
    )
    gold_ids: list[str] = Field(
        default_factory=list,
        description="Paper ids, for a gold paper its title cannot single out.",
    )
    also_relevant: list[str] = Field(
        default_factory=list,
        description="Topic and follow-up cases only: titles that are fine to retrieve and "
        "cite but not required.",
    )
    answer_facts: list[str] = Field(
        default_factory=list,
        max_length=3,
        description="Short strings a correct answer states; numbers exactly as in the abstract.",
    )

    @field_validator(
        "gold_titles",
        "gold_ids",
        "also_relevant",
        "answer_facts",
        "history",
        "missing",
        "excluded_titles",
    )
    @classmethod
    def _no_blank_or_repeated_items(cls, values: list[str]) -> list[str]:
        items = [v.strip() for v in values]
        if any(not v for v in items):
            raise ValueError("holds an empty string")
        if len(set(items)) != len(items):
            raise ValueError("holds the same entry twice")
        return items

    @field_validator("answer_facts")
    @classmethod
    def _facts_are_short(cls, facts: list[str]) -> list[str]:
        long = [f for f in facts if len(f) > MAX_FACT_CHARS]
        if long:
            raise ValueError(f"facts must be at most {MAX_FACT_CHARS} characters: {long[0]!r}")
        return facts

    @model_validator(mode="after")
    def _gold_fits_the_type(self) -> Case:
        gold = len(self.gold_titles) + len(self.gold_ids)
        if (self.type == "partial") != bool(self.missing):
            raise ValueError("a partial case needs missing, and only a partial case has it")
        if self.type == "unanswerable":
            for name in ("gold_titles", "gold_ids", "also_relevant", "answer_facts"):
                if getattr(self, name):
                    raise ValueError(f"{name} must be empty for an unanswerable case")
            return self
        if gold == 0 and self.type != "partial":
            raise ValueError(f"a {self.type} case needs gold_titles (or gold_ids)")
        if self.type in ("known_item", "numeric") and gold != 1:
            raise ValueError(f"a {self.type} case has exactly one gold paper, not {gold}")
        if self.type == "multi_paper" and gold < 2:
            raise ValueError("a multi_paper case needs at least two gold papers")
        if self.type == "numeric" and not any(c.isdigit() for f in self.answer_facts for c in f):
            raise ValueError("a numeric case needs answer_facts holding the number(s)")
        if self.also_relevant and self.type not in ("topic", "follow_up"):
            raise ValueError("also_relevant is for topic and follow_up cases only")
        if (self.type == "interest") != (self.interest is not None):
            raise ValueError("an interest case needs interest, and only an interest case has it")
        if self.excluded_titles and self.type != "interest":
            raise ValueError("excluded_titles is for interest cases only")
        if self.interest is not None:
            if not self.interest.phrases and not self.interest.seeds:
                raise ValueError("an interest needs phrases or seeds")
            if self.excluded_titles and not self.interest.negatives:
                raise ValueError("excluded_titles needs a 'not' phrase that excludes them")
        if (self.type == "table") != (self.result is not None):
            raise ValueError("a table case needs result, and only a table case has it")
        if (self.type == "disagreement") != (self.pair is not None):
            raise ValueError("a disagreement case needs pair, and only a disagreement case has it")
        if self.type == "table" and gold != 1:
            raise ValueError(f"a table case has exactly one gold paper, not {gold}")
        if self.type == "disagreement" and len(self.gold_titles) != 2:
            raise ValueError("a disagreement case names its two papers in gold_titles")
        if (self.type == "follow_up") != bool(self.history):
            raise ValueError("a follow_up case needs history, and only a follow_up case has it")
        core = {normalize_title(t) for t in self.gold_titles}
        if core & {normalize_title(t) for t in self.also_relevant}:
            raise ValueError("a title is both in gold_titles and in also_relevant")
        return self

    @property
    def answerable(self) -> bool:
        """Whether some paper of the corpus answers it (a partial case's is only close)."""
        return self.type not in NOT_ANSWERABLE | NOT_QUESTIONS


class Suite(BaseModel):
    """The checked cases of one suite file, with the file's hash so runs say what they scored."""

    name: str = Field(description="The file name without its suffix, e.g. 'core'.")
    path: Path
    sha256: str = Field(description="Hex SHA-256 of the file's bytes.")
    cases: list[Case]

    def of_type(self, *types: str) -> list[Case]:
        """The cases of the given types, in file order."""
        return [c for c in self.cases if c.type in types]

    @property
    def answerable(self) -> list[Case]:
        return [c for c in self.cases if c.answerable]


def load_suite(path: Path) -> Suite:
    """Read and check a suite file; every bad line is reported in one ``InputError``."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: no such suite file (suites live in eval/suites/).") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read the suite file ({exc.strerror}).") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text (byte {exc.start}).") from None

    problems: list[str] = []
    cases: list[Case] = []
    first_line: dict[str, int] = {}
    for line in json_lines(path, text):
        where, number = line.where, line.number
        if line.obj is None:
            problems.append(f"{where}: {line.problem}.")
            continue
        try:
            case = Case.model_validate(line.obj)
        except ValidationError as exc:
            problems.extend(f"{where}: {_describe(error)}." for error in exc.errors())
            continue
        if case.id in first_line:
            first = first_line[case.id]
            problems.append(f"{where}: duplicate id {case.id!r} (first on line {first}).")
            continue
        first_line[case.id] = number
        cases.append(case)
    if not problems and not cases:
        problems.append(f"{path}: holds no cases.")
    if problems:
        raise InputError("\n".join(problems))
    return Suite(name=path.stem, path=path, sha256=hashlib.sha256(data).hexdigest(), cases=cases)


def _describe(error: Any) -> str:
    """One pydantic error as a line a person can act on."""
    field = ".".join(str(part) for part in error["loc"])
    kind, message = error["type"], str(error["msg"])
    if kind == "literal_error" and field == "type":
        return f"unknown type {error['input']!r}; use one of {', '.join(CASE_TYPES)}"
    if kind == "string_too_short":
        return f"{field} is empty"
    if kind == "missing":
        return f"missing field {field!r}"
    if kind == "extra_forbidden":
        return f"unknown field {field!r}"
    message = message.removeprefix("Value error, ")
    return f"{field}: {message}" if field else message


# --- gold papers in a store -----------------------------------------------------------------


class MissingGold(BaseModel):
    """A gold or also-relevant reference of a case that the scored papers do not hold."""

    case_id: str
    reference: str = Field(description="The title (or id) as the suite gives it.")
    role: Literal["gold", "also_relevant"]


class GoldResolution(BaseModel):
    """Each case's gold as paper ids of the scored store, and what could not be found."""

    gold: dict[str, list[str]] = Field(description="Case id -> ids of its gold papers found.")
    also_relevant: dict[str, list[str]] = Field(
        description="Case id -> ids of its also-relevant papers found."
    )
    missing: list[MissingGold] = Field(default_factory=list)

    @property
    def incomplete(self) -> set[str]:
        """Ids of cases missing a gold paper: report them, do not score them as misses."""
        return {m.case_id for m in self.missing if m.role == "gold"}


def title_index(papers: Iterable[Paper]) -> dict[str, str]:
    """Normalized title -> paper id, the mapping ``resolve_gold`` takes."""
    return {normalize_title(p.title): p.id for p in papers}


def resolve_gold(suite: Suite, ids_by_title: Mapping[str, str]) -> GoldResolution:
    """Map every case's gold titles to paper ids through ``normalize_title``.

    ``ids_by_title`` maps normalized titles to paper ids (``title_index`` builds it from any
    papers), so this works with any store. Given ``gold_ids`` are kept if the mapping holds
    them. Whatever is not found is listed in ``missing``.
    """
    known_ids = set(ids_by_title.values())
    gold: dict[str, list[str]] = {}
    extra: dict[str, list[str]] = {}
    missing: list[MissingGold] = []

    def find(case: Case, titles: list[str], role: Literal["gold", "also_relevant"]) -> list[str]:
        found = []
        for title in titles:
            pid = ids_by_title.get(normalize_title(title))
            if pid is None:
                missing.append(MissingGold(case_id=case.id, reference=title, role=role))
            else:
                found.append(pid)
        return found

    for case in suite.cases:
        ids = find(case, case.gold_titles, "gold")
        for pid in case.gold_ids:
            if pid in known_ids:
                ids.append(pid)
            else:
                missing.append(MissingGold(case_id=case.id, reference=pid, role="gold"))
        gold[case.id] = list(dict.fromkeys(ids))
        extra[case.id] = find(case, case.also_relevant, "also_relevant")
    return GoldResolution(gold=gold, also_relevant=extra, missing=missing)


# --- paraphrase check -----------------------------------------------------------------------


def title_only_first(suite: Suite, papers: Sequence[Paper]) -> dict[str, bool]:
    """For each answerable case: does BM25 over the titles alone rank a gold paper first?

    A case for which it does probably repeats its paper's title words; questions are meant to
    describe a contribution in other words, so few cases should (``eval/title_overlap.py``
    prints the share). Uses the retriever's tokenizer, so "same words" means what BM25 sees.
    """
    import bm25s

    from assistant.retrieve import tokenize

    model = bm25s.BM25()
    model.index(tokenize([p.title for p in papers]), show_progress=False)
    ids = [p.id for p in papers]
    gold = resolve_gold(suite, title_index(papers)).gold
    first: dict[str, bool] = {}
    for case in suite.answerable:
        token_ids = model.get_tokens_ids(tokenize([case.question])[0])
        scores = model.get_scores_from_ids(token_ids) if token_ids else None
        if scores is None or float(scores.max()) <= 0:
            first[case.id] = False
            continue
        best = min(range(len(ids)), key=lambda i: (-float(scores[i]), i))
        first[case.id] = ids[best] in gold[case.id]
    return first
