"""Evidence handed to the model and the checked answer it becomes."""

from __future__ import annotations

import time
from typing import ClassVar

from pydantic import BaseModel, Field, PrivateAttr

from assistant.models.compare import Comparison
from assistant.models.papers import Hit, Paper


class Evidence(BaseModel):
    """One numbered source as handed to the model."""

    number: int
    paper: Paper
    sentences: list[str] = Field(description="The abstract sentences shown to the model.")
    similarity: float = Field(description="Cosine similarity of the question to the paper.")

    @property
    def text(self) -> str:
        """The sentences shown to the model, as one text."""
        return " ".join(self.sentences)


class AnswerTelemetry(BaseModel):
    """Where the time went, measured from the moment the question was asked."""

    condense_ms: float = 0.0
    retrieval_ms: float = 0.0
    check_ms: float = 0.0
    ttft_s: float | None = Field(
        None, description="Seconds from the question to the first generated token."
    )
    generation_s: float | None = None
    total_s: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    tokens_per_s: float | None = None
    model: str = ""
    provider: str = ""


class EvidenceSet(BaseModel):
    """What ``answer.gather`` found for a question: the input of ``answer.answer_from``.

    Digests and the eval harness reuse it, so it carries everything generation needs.
    """

    question: str = Field(description="The question as asked (whitespace-normalized, capped).")
    standalone_question: str = Field(description="The follow-up rewritten to stand alone.")
    hits: list[Hit] = Field(default_factory=list)
    evidence: list[Evidence] = Field(default_factory=list)
    relevant: bool = Field(
        description="Worth an LLM call: the gate passed, some part of the question is "
        "covered and no thing it names is missing from the sources."
    )
    uncovered: list[str] = Field(
        default_factory=list,
        description="Parts of the question no retrieved paper covers (``coverage``); an "
        "answer says so first.",
    )
    beyond_previous: str = Field(
        default="",
        description="What a follow-up that points back asks of the previous answer's papers "
        "when none of them states it and it is answered from other papers found for it; an "
        "answer says so first.",
    )
    condition: str = Field(
        default="",
        description="What a follow-up that points back picked its sources by ('without "
        "fine-tuning', 'retraining'); empty when it picked none.",
    )
    stated: dict[int, str] = Field(
        default_factory=dict,
        description="Per source number, the abstract sentence that states ``condition``.",
    )
    notices: list[str] = Field(default_factory=list)
    telemetry: AnswerTelemetry = Field(default_factory=AnswerTelemetry)
    _started: float = PrivateAttr(default_factory=time.perf_counter)

    def elapsed_s(self) -> float:
        """Seconds since the question was asked (gather started)."""
        return time.perf_counter() - self._started


class SentenceCheck(BaseModel):
    """One sentence of the answer, what it cites and how well the cited sources support it."""

    text: str
    citations: list[int] = Field(description="Source numbers (after renumbering) it cites.")
    support: float | None = Field(
        None, description="0..1 support by the cited abstracts; None when it cites nothing."
    )
    supported: bool | None = Field(None, description="None when the sentence cites nothing.")
    supported_by: list[int] = Field(
        default_factory=list, description="The cited sources that support it on their own."
    )
    attached: list[int] = Field(
        default_factory=list,
        description="Citations the checker added (the model cited nothing; this source "
        "supports the sentence).",
    )
    misattributed: list[int] = Field(
        default_factory=list,
        description="Cited sources credited with a claim that another shown paper, one the "
        "sentence does not cite, supports clearly better.",
    )
    quoted: bool = Field(
        False,
        description="Quoted verbatim from the cited abstract by the assistant (a result the "
        "model's prose left out), not written by the model.",
    )
    unsourced: list[str] = Field(
        default_factory=list,
        description="Figures and made-up names it states that no paper shown to the model, "
        "nor the question, gives (the sentence is then not supported, cited or not).",
    )
    unstated: list[str] = Field(
        default_factory=list,
        description="Parts of the question it states that none of its cited papers covers "
        "(the question restated as their finding: then not supported).",
    )
    denied: list[str] = Field(
        default_factory=list,
        description="What it says of its cited papers that one of them says it does without "
        "('[1] needs fine-tuning' of a paper 'without any fine-tuning'): then not supported.",
    )
    off_question: bool = Field(
        False,
        description="Supported, but its cited papers cover no part of the question.",
    )
    note: bool = Field(
        False,
        description="Said by the assistant about the sources (what they do not cover), "
        "not written by the model.",
    )

    @property
    def claims(self) -> bool:
        """Whether it says something a source should back: not the assistant's own note, nor
        the line that opens a list ("The main directions of these papers are:")."""
        return not self.note and not self.text.rstrip().endswith(":")

    @property
    def problem(self) -> str | None:
        """Why the sentence is flagged, in words; None when it is not."""
        if self.supported is not False:
            return None
        if self.unsourced:
            said = ", ".join(self.unsourced)
            return f"states {said}, which no paper shown gives"
        if self.unstated:
            said = ", ".join(f"'{p}'" for p in self.unstated)
            return f"says {said}, which the cited paper does not"
        if self.denied:
            said = ", ".join(f"'{p}'" for p in self.denied)
            return f"says {said} of a paper that says it does without it"
        if self.misattributed:
            cited = "".join(f"[{n}]" for n in self.misattributed)
            return f"another paper shown supports this better than {cited}"
        return "not supported by the cited source"


class Citation(BaseModel):
    """A source the answer cites, by its number in the answer."""

    number: int
    paper_id: str
    title: str
    date: str | None
    links: list[str]
    evidence: list[str] = Field(description="The abstract sentences the model was shown.")
    supported: bool = Field(description="Every sentence citing this source is supported.")
    on_question: bool = Field(
        True, description="The paper covers a part of the question (``coverage``)."
    )
    paper: Paper = Field(description="The whole cited paper (for exports and source cards).")


class Source(BaseModel):
    """A source handed to the model (cited or not), by its number in the answer."""

    number: int
    paper_id: str
    title: str
    date: str | None
    cited: bool
    similarity: float


class CheckedText(BaseModel):
    """Generated text after the citation check: what any cited paragraph is turned into."""

    text: str = Field(description="The text, invalid citations removed (renumbered if asked).")
    sentences: list[SentenceCheck] = Field(default_factory=list)
    numbering: dict[int, int] = Field(
        default_factory=dict, description="Evidence number -> number in the text, for cited ones."
    )
    invalid_citations: int = Field(0, description="Citations to numbers never given: removed.")

    @property
    def unsupported(self) -> int:
        """Sentences whose cited sources do not support them."""
        return sum(1 for c in self.sentences if c.supported is False)

    @property
    def uncited(self) -> int:
        """Sentences that cite no source at all."""
        return sum(1 for c in self.sentences if not c.citations and c.claims)

    #: Why a withheld text is not shown, for its notice.
    WITHHELD: ClassVar[str] = "none of its sentences is supported by the papers it was shown"

    @property
    def withheld(self) -> bool:
        """Whether the text is not shown: it has sentences and none is supported, not even by
        one of the papers it cites. A sentence that one cited paper supports counts, shown
        flagged: it credits another paper too ("[1] found 90%, while [2] found 75%" where
        [1] gives both), or restates a part of the question its papers do not state (that
        check is by meaning, weaker). One stating a figure or name no paper gives never counts."""
        return bool(self.sentences) and not any(
            c.supported or (c.supported_by and not c.unsourced) for c in self.sentences
        )


#: The line above the result sentences quoted under an answer (``SentenceCheck.quoted``).
QUOTES_HEADING = "Reported in the papers:"


class Answer(BaseModel):
    """A checked, cited answer (or an honest abstention)."""

    question: str
    standalone_question: str
    answer: str = Field(description="The answer text, citations renumbered.")
    abstained: bool
    draft: str = Field(
        "",
        description="What the model wrote, before the check made it readable and cited "
        "(empty when the model was not asked): replay it through ``citations.check_text``.",
    )
    sentences: list[SentenceCheck] = Field(default_factory=list)
    citations: list[Citation] = Field(default_factory=list)
    sources: list[Source] = Field(default_factory=list)
    invalid_citations: int = Field(0, description="Citations to numbers never given: removed.")
    unsupported: int = Field(0, description="Sentences whose cited sources do not support them.")
    uncited: int = Field(0, description="Sentences that cite no source at all.")
    notices: list[str] = Field(default_factory=list, description="Truncations, dropped text.")
    comparison: Comparison | None = Field(
        None,
        description="When the question asks to compare: its sources side by side, rows "
        "numbered as the sources are.",
    )
    telemetry: AnswerTelemetry = Field(default_factory=AnswerTelemetry)

    @property
    def prose(self) -> list[SentenceCheck]:
        """The sentences the model wrote (quoted results left out)."""
        return [s for s in self.sentences if not s.quoted]

    @property
    def quotes(self) -> list[SentenceCheck]:
        """Result sentences quoted from the cited abstracts under the prose."""
        return [s for s in self.sentences if s.quoted]

    @property
    def uncited_sources(self) -> list[Source]:
        """Sources retrieved and shown to the model but not cited."""
        return [s for s in self.sources if not s.cited]
