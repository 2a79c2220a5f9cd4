"""A user's interests and saved papers, and the papers ranked "for you" with why."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from assistant.models.papers import Paper, PaperRef

#: An interest's or a collection's name: a word or a few, safe in a file name and a URL.
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.-]{0,59}$")
#: The collection a star in the app or ``assistant saved add`` puts a paper in by default.
STARRED = "starred"


def check_name(name: str, what: str) -> str:
    """``name`` stripped, or a ValueError saying what a name may hold."""
    name = " ".join(name.split())
    if not NAME.match(name):
        raise ValueError(
            f"{what} name {name!r} must start with a letter or digit and hold at most 60 "
            "letters, digits, spaces, '-', '_' or '.'"
        )
    return name


def _phrases(values: list[str]) -> list[str]:
    out = [" ".join(v.split()) for v in values]
    if any(not v for v in out):
        raise ValueError("holds an empty phrase")
    if any(len(v) > 200 for v in out):
        raise ValueError("a phrase is longer than 200 characters")
    return list(dict.fromkeys(out))


class Interest(BaseModel):
    """What a user follows: phrases they want, phrases they do not, papers they liked."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: str
    phrases: list[str] = Field(default_factory=list, description="What to look for.")
    negatives: list[str] = Field(
        default_factory=list,
        alias="not",
        description="What to leave out: a paper about any of these is not ranked.",
    )
    seeds: list[PaperRef] = Field(
        default_factory=list, description="Papers the user liked: the ranker learns from them."
    )

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return check_name(value, "an interest")

    @field_validator("phrases", "negatives")
    @classmethod
    def _clean(cls, values: list[str]) -> list[str]:
        return _phrases(values)


class Collection(BaseModel):
    """Papers a user saved under a name."""

    model_config = ConfigDict(extra="forbid")

    name: str
    papers: list[PaperRef] = Field(default_factory=list)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return check_name(value, "a collection")

    @property
    def ids(self) -> list[str]:
        return [p.id for p in self.papers]


class Profile(BaseModel):
    """Everything kept in ``<store>/interests.json``: the interests and the collections."""

    model_config = ConfigDict(extra="forbid")

    version: Literal[1] = 1
    interests: list[Interest] = Field(default_factory=list)
    collections: list[Collection] = Field(default_factory=list)

    def interest(self, name: str) -> Interest | None:
        key = name.strip().lower()
        return next((i for i in self.interests if i.name.lower() == key), None)

    def collection(self, name: str) -> Collection | None:
        key = name.strip().lower()
        return next((c for c in self.collections if c.name.lower() == key), None)


class Recommendation(BaseModel):
    """One paper ranked for an interest, with the reason in one line."""

    rank: int
    paper: Paper
    score: float = Field(
        description="The ranker's score (higher is closer); compare within a list."
    )
    why: str = Field(
        description="One line: the phrase and the abstract sentence that matched "
        "best (verbatim), or the seed paper it is closest to."
    )
    because: Literal["phrase", "seed"] = Field(description="Which signal the why line names.")
    matched: str = Field(description="The phrase, or the seed paper's title, it names.")
    sentence: str | None = Field(None, description="The abstract sentence quoted, verbatim.")
    strong: bool = Field(
        True,
        description="A sentence says the phrase (its words, or as close in meaning as "
        "coverage asks), or it is that close to a seed; else a weaker match, shown apart.",
    )


class ForYou(BaseModel):
    """Papers ranked for an interest (or for a few papers: "papers like these")."""

    interest: str = Field(
        description="The interest's name, or 'papers like “<title>”' for papers like others."
    )
    ranker: Literal["combined", "phrases", "seeds"]
    scope: str = Field(description="Which papers were ranked: 'the whole store', a week, ...")
    candidates: int = Field(description="Papers in the scope (seeds and saved left out).")
    left_out: int = Field(0, description="Papers a negative phrase left out of the ranking.")
    papers: list[Recommendation] = Field(default_factory=list)
    notices: list[str] = Field(default_factory=list)

    @property
    def strong(self) -> list[Recommendation]:
        """The papers that say what the interest asks for."""
        return [r for r in self.papers if r.strong]

    @property
    def weaker(self) -> list[Recommendation]:
        """The papers ranked only because nothing closer was left."""
        return [r for r in self.papers if not r.strong]
