"""Run a suite through the pipeline's public steps and score every case.

``run_suite`` reads top to bottom:

1. resolve each case's gold titles to the store's paper ids (cases whose gold is missing
   are reported and left out, never scored as misses);
2. retrieval: every answerable case searched in every mode (dense, bm25, hybrid,
   hybrid+mmr), timed; every case gathered once (``answer.gather``) for the relevance gate;
3. answers (unless ``no_llm``): ``answer.answer_from`` on the gathered evidence for ``ours``,
   the llama-index pipelines of ``assistant.evals.llamaindex`` for the other systems, all
   with one loaded model, every answer checked by ``citations.check_text``;
4. digests (``digests``): the topic cases through ``assistant.digest``;
5. interests: each interest case ranked by the "for you" ranker and its single-signal
   baselines (``assistant.evals.interests``); no question is asked for them.

``replay`` answers without the model: each case's draft from an earlier run (``Answer.draft``)
is checked again by today's pipeline, for a change to the check or the prose that should
be measured on real model text in seconds. A case whose evidence is not what that draft was
written from is left out (it needs the model), and the run's notes say which.

The result records what was measured with what: the settings, the model, the store's
collection and revision, the suite's hash and the git commit.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from assistant.answer import answer_from
from assistant.embed import get_embedder
from assistant.errors import AssistantError, InputError
from assistant.evals.comparisons import (
    PairScore,
    TableScore,
    digest_table,
    score_pair,
    score_table,
    summarize_pairs,
    summarize_tables,
)
from assistant.evals.interests import (
    InterestScore,
    interest_of,
    score_interest,
    summarize_interests,
)
from assistant.evals.metrics import (
    AnswerScore,
    DigestProse,
    DigestScore,
    RetrievalScore,
    by_key,
    citation_counts,
    fact_found,
    summarize_answers,
    summarize_digests,
    summarize_gate,
    summarize_retrieval,
)
from assistant.evals.suite import (
    NOT_ANSWERABLE,
    NOT_QUESTIONS,
    Case,
    MissingGold,
    Suite,
    resolve_gold,
    title_index,
)
from assistant.evidence import conversation, gather
from assistant.llm import LLM, Message, get_llm
from assistant.models import Answer, Paper, Source, normalize_title
from assistant.retrieve import search
from assistant.settings import MODES, Settings
from assistant.store import open_store

#: Retrieval modes the harness scores: every search mode, and hybrid re-ranked by MMR.
EVAL_MODES: tuple[str, ...] = (
    *(m for m in ("dense", "bm25", "hybrid") if m in MODES),
    "hybrid+mmr",
)
#: Answering systems: our pipeline, llama-index's stock one, and stock on our retriever.
SYSTEMS: tuple[str, ...] = ("ours", "llamaindex", "llamaindex+ours")


class StoreFingerprint(BaseModel):
    """Which data a run scored: the collection (named by its embedding fingerprint) and its
    revision, which changes with every write."""

    location: str
    collection: str
    revision: str
    papers: int


class RunMeta(BaseModel):
    """What a run measured, with what, and when."""

    suite: str
    suite_path: str
    suite_sha256: str
    cases: int = Field(description="Cases scored (after --limit, without incomplete gold).")
    started: str
    duration_s: float = 0.0
    modes: list[str]
    systems: list[str]
    no_llm: bool
    digests: bool
    limit: int | None
    model: str | None = Field(None, description="provider:name of the LLM (None: --no-llm).")
    embedding_model: str
    store: StoreFingerprint
    git_commit: str | None
    git_dirty: bool | None
    settings: dict[str, Any] = Field(description="Settings.public_dump() (secrets masked).")
    missing_gold: list[MissingGold] = Field(default_factory=list)
    skipped: list[str] = Field(
        default_factory=list, description="Case ids left out because a gold paper is missing."
    )
    notes: list[str] = Field(default_factory=list)


class CaseResult(BaseModel):
    """One case: its gold, its rankings per mode, the gate, and each system's answer."""

    id: str
    type: str
    question: str
    gold: list[str] = Field(description="Gold paper ids in the scored store.")
    also_relevant: list[str] = Field(default_factory=list)
    facts: list[str] = Field(default_factory=list)
    retrieval: list[RetrievalScore] = Field(default_factory=list)
    gate_passed: bool | None = Field(None, description="The best hit passed the relevance gate.")
    best_similarity: float | None = None
    uncovered: list[str] = Field(
        default_factory=list, description="Names in the question no retrieved paper mentions."
    )
    facts_shown: list[str] = Field(
        default_factory=list,
        description="Answer facts present in the evidence shown to the model: what an answer "
        "can state at best.",
    )
    answers: list[AnswerScore] = Field(default_factory=list)
    digest: DigestScore | None = None
    interest: list[InterestScore] = Field(
        default_factory=list, description="Interest cases: each ranker's top 10, scored."
    )
    negated: bool = Field(False, description="Interest cases: the interest has a 'not' phrase.")
    table: TableScore | None = Field(None, description="Table cases: the paper's row, scored.")
    pair: PairScore | None = Field(None, description="Disagreement cases: the detector, scored.")

    def in_mode(self, mode: str) -> RetrievalScore | None:
        return next((r for r in self.retrieval if r.mode == mode), None)

    def by_system(self, system: str) -> AnswerScore | None:
        return next((a for a in self.answers if a.system == system), None)


class RunResult(BaseModel):
    """A whole run: its metadata and its cases; ``summary()`` aggregates the metrics."""

    meta: RunMeta
    cases: list[CaseResult]
    titles: dict[str, str] = Field(default_factory=dict, description="Paper id -> title.")

    def summary(self) -> dict[str, Any]:
        """Every metric of the run (``summary.json``), overall and by case type."""
        return summarize(self.cases, self.meta.modes, self.meta.systems)


def summarize(
    cases: Sequence[CaseResult], modes: Sequence[str], systems: Sequence[str]
) -> dict[str, Any]:
    """Retrieval per mode (answerable cases), the gate, answers per system, digests."""
    answerable = [c for c in cases if c.type not in NOT_ANSWERABLE | NOT_QUESTIONS]
    types = by_key(answerable, lambda c: c.type)
    out: dict[str, Any] = {"retrieval": {}, "retrieval_by_type": {}, "answers": {}}
    for mode in modes:
        scores = [s for c in answerable if (s := c.in_mode(mode))]
        out["retrieval"][mode] = summarize_retrieval(scores)
        out["retrieval_by_type"][mode] = {
            t: summarize_retrieval([s for c in group if (s := c.in_mode(mode))])
            for t, group in types.items()
        }
    gated = [(c.type, c.gate_passed) for c in cases if c.gate_passed is not None]
    shown = [(c.facts_shown, c.facts) for c in cases if c.gate_passed is not None]
    out["gate"] = summarize_gate(gated, shown)
    for system in systems:
        pairs = [(c.type, a) for c in cases if (a := c.by_system(system))]
        if pairs:
            out["answers"][system] = summarize_answers(pairs)
    digests = [c.digest for c in cases if c.digest is not None]
    if digests:
        out["digests"] = summarize_digests(digests)
    interests = [(c.negated, c.interest) for c in cases if c.interest]
    if interests:
        out["interests"] = summarize_interests(interests)
    tables = [c.table for c in cases if c.table is not None]
    if tables:
        out["tables"] = summarize_tables(tables)
    labelled = [c.pair for c in cases if c.pair is not None]
    if labelled:
        out["disagreements"] = summarize_pairs(labelled)
    return out


# --- choosing cases ------------------------------------------------------------------------


def pick_cases(cases: Sequence[Case], limit: int | None) -> list[Case]:
    """The first ``limit`` cases taken in turn from each type (so a short run still covers
    every type), in file order; all cases when ``limit`` is None."""
    if limit is None or limit >= len(cases):
        return list(cases)
    if limit < 1:
        raise InputError(f"--limit must be at least 1, not {limit}.")
    queues = [list(group) for group in by_key(cases, lambda c: c.type).values()]
    chosen: set[str] = set()
    while len(chosen) < limit:
        for queue in queues:
            if queue and len(chosen) < limit:
                chosen.add(queue.pop(0).id)
    return [c for c in cases if c.id in chosen]


def split_mode(mode: str) -> tuple[str, bool]:
    """``hybrid+mmr`` -> (``hybrid``, MMR on); a plain mode -> (mode, MMR off)."""
    base, _, extra = mode.lower().partition("+")
    if base not in MODES or extra not in ("", "mmr"):
        raise InputError(f"unknown eval mode {mode!r}: use {', '.join(EVAL_MODES)}.")
    return base, extra == "mmr"


# --- provenance ----------------------------------------------------------------------------


def git_state(root: Path | None = None) -> tuple[str | None, bool | None]:
    """The checkout's commit and whether tracked files differ from it (None, None outside git)."""
    root = root or Path(__file__).resolve().parents[2]
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10
        )
        if commit.returncode != 0:
            return None, None
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=10,
        )
        return commit.stdout.strip(), bool(status.stdout.strip())
    except (OSError, subprocess.SubprocessError):
        return None, None


# --- the run -------------------------------------------------------------------------------


def running_scores(cases: Sequence[CaseResult], systems: Sequence[str]) -> str:
    """A one-line digest of the scores so far, for the progress bar."""
    parts = []
    hybrid = [s.hit_at_5 for c in cases if (s := c.in_mode("hybrid"))]
    if hybrid:
        parts.append(f"hybrid hit@5 {sum(hybrid) / len(hybrid):.2f}")
    for system in systems:
        pairs = [(c.type, a) for c in cases if (a := c.by_system(system))]
        if not pairs:
            continue
        scores = summarize_answers(pairs)
        shown = [
            f"{label} {scores[key]:.2f}"
            for key, label in (
                ("citation_precision", "prec"),
                ("fact_accuracy", "facts"),
                ("abstention_accuracy", "abst"),
            )
            if scores.get(key) is not None
        ]
        parts.append(f"{system}: " + " ".join(shown))
    return " | ".join(parts)


def run_suite(
    suite: Suite,
    settings: Settings,
    *,
    modes: Sequence[str] = EVAL_MODES,
    no_llm: bool = False,
    digests: bool = False,
    limit: int | None = None,
    system: Sequence[str] | str = ("ours",),
    llm: LLM | None = None,
    progress: Callable[[int, int, str], None] | None = None,
    on_case: Callable[[CaseResult], None] | None = None,
    replay: RunResult | None = None,
) -> RunResult:
    """Score ``suite`` against the store ``settings`` point at (see the module docstring).

    ``system`` is one of ``SYSTEMS`` or several; ``llm`` overrides the configured model
    (tests pass a fake); ``progress(done, total, scores)`` is called after every case with
    a line of running scores, and ``on_case`` with the finished case (the CLI saves it, so
    an interrupted hour-long run keeps what it measured). Failures of one answer are
    recorded on its case, not raised. ``replay``: an earlier run whose drafts answer the
    cases instead of the model (see the module docstring).
    """
    started = time.perf_counter()
    started_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    commit, dirty = git_state()  # now: the checkout may move while a long run goes on
    systems = [system] if isinstance(system, str) else list(dict.fromkeys(system))
    unknown = [s for s in systems if s not in SYSTEMS]
    if unknown or not systems:
        raise InputError(f"unknown system {unknown or systems}: use {', '.join(SYSTEMS)}.")
    modes = list(dict.fromkeys(modes))
    for mode in modes:
        split_mode(mode)
    digest_fn = _digest_function() if digests else None
    if no_llm:
        systems = []
    drafts: dict[str, AnswerScore] = {}
    if replay is not None:
        if no_llm or digests or systems != ["ours"]:
            raise InputError(
                "a replay re-checks our answers only: no --no-llm, --digests or "
                "other systems with it."
            )
        asked = {c.id: c.question for c in replay.cases}
        drafts = {c.id: a for c in replay.cases for a in c.answers if a.system == "ours"}

    store = open_store(settings)
    if store.count() == 0:
        raise InputError(
            f"the store at {store.where} is empty: ingest the corpus the suite was written "
            "for first (assistant ingest data/sample --year 2024)."
        )
    fingerprint = StoreFingerprint(
        location=store.where,
        collection=store.collection_name,
        revision=store.revision(),
        papers=store.count(),
    )
    papers = list(store.iter_papers())
    ids_by_title = title_index(papers)
    by_id = {p.id: p for p in papers}
    resolution = resolve_gold(suite, ids_by_title)
    incomplete = resolution.incomplete
    cases = pick_cases([c for c in suite.cases if c.id not in incomplete], limit)
    if replay is not None:  # the cases it answered, asked in the same words
        cases = [c for c in cases if c.id in drafts and asked[c.id] == c.question]

    model = None
    pipelines: dict[str, Any] = {}
    if all(c.type in NOT_QUESTIONS for c in cases):  # nothing to ask a model
        systems = []
    if replay is not None:
        model = f"replay of {replay.meta.model}"
    elif systems or (digest_fn and not no_llm):
        llm = llm or get_llm(settings)
        model = f"{llm.provider}:{llm.name}"
        for name in systems:
            if name != "ours":
                from assistant.evals.llamaindex import StockPipeline

                pipelines[name] = StockPipeline(settings, llm, retriever=name.split("+")[-1])

    _warm_up(settings, modes, cases)
    embedder = get_embedder(settings)
    results: list[CaseResult] = []
    changed: list[str] = []  # replayed cases whose evidence is not the draft's
    if progress:
        progress(0, len(cases), "")
    for case in cases:
        result = CaseResult(
            id=case.id,
            type=case.type,
            question=case.question,
            gold=resolution.gold.get(case.id, []),
            also_relevant=resolution.also_relevant.get(case.id, []),
            facts=list(case.answer_facts),
        )
        if case.type in NOT_QUESTIONS:
            if case.type == "interest":
                _interest(settings, case, ids_by_title, result)
            else:
                _table_or_pair(settings, case, by_id, result)
            results.append(result)
            if on_case:
                on_case(result)
            if progress:
                progress(len(results), len(cases), running_scores(results, systems))
            continue
        previous: Answer | None = None
        history: list[Message] = []
        if case.type == "follow_up":  # the earlier turns first, answered as a user would see
            asking = llm if systems and replay is None else None  # a replay asks no model
            previous, history = _conversation(case, settings, asking)
        if case.answerable and modes and case.type != "follow_up":
            embedder.embed_one(" ".join(case.question.split()))  # cached for every mode
            # Each case starts at the next mode, so no mode always pays for going first.
            turn = len(results) % len(modes)
            timed = {
                m: _search(settings, case, m, result.gold) for m in modes[turn:] + modes[:turn]
            }
            result.retrieval = [timed[m] for m in modes]
        # the gate is gather's decision
        gathered = gather(case.question, settings, history=history, previous=previous)
        if case.type == "follow_up":  # alone, "which of those" is no query: score the turn
            ranked = [h.paper.id for h in gathered.hits]
            result.retrieval = [RetrievalScore.of("hybrid", case.type, ranked, result.gold, 0.0)]
        result.gate_passed = gathered.relevant
        result.uncovered = gathered.uncovered
        shown = " ".join(ev.text for ev in gathered.evidence)
        result.facts_shown = [f for f in case.answer_facts if fact_found(f, shown)]
        result.best_similarity = max((h.similarity for h in gathered.hits), default=None)
        for name in systems:
            if name == "ours" and replay is not None:
                stored = drafts[case.id]
                draft = _replayed(gathered, stored, settings)
                if draft is None:
                    changed.append(case.id)
                else:  # the model's figures are those of the run that wrote the draft
                    timings = ("ttft_s", "total_s", "prompt_tokens", "completion_tokens")
                    scored = _ours(gathered, settings, draft, case, result)
                    scored = scored.model_copy(update={k: getattr(stored, k) for k in timings})
                    result.answers.append(scored)
            elif name == "ours":
                result.answers.append(_ours(gathered, settings, llm, case, result))
            elif case.type != "follow_up":  # the stock pipelines hold no conversation
                result.answers.append(_stock(pipelines[name], name, case, result))
        if digest_fn is not None and case.type == "topic":
            result.digest = _digest(digest_fn, case, settings, llm, result, use_llm=not no_llm)
        results.append(result)
        if on_case:
            on_case(result)
        if progress:
            progress(len(results), len(cases), running_scores(results, systems))

    meta = RunMeta(
        suite=suite.name,
        suite_path=str(suite.path),
        suite_sha256=suite.sha256,
        cases=len(cases),
        started=started_at,
        duration_s=round(time.perf_counter() - started, 2),
        modes=modes,
        systems=systems,
        no_llm=no_llm,
        digests=digests,
        limit=limit,
        model=model,
        embedding_model=settings.embedding.model,
        store=fingerprint,
        git_commit=commit,
        git_dirty=dirty,
        settings=settings.public_dump(),
        missing_gold=resolution.missing,
        skipped=sorted(incomplete),
    )
    if replay is not None:
        meta.notes.append(
            f"the model's drafts of the run of {replay.meta.started} (commit "
            f"{replay.meta.git_commit}) checked again without the model: "
            f"{len(cases) - len(changed)} of {len(cases)} cases"
            + (f"; left out, their evidence changed since: {', '.join(changed)}" if changed else "")
            + "."
        )
    titles = {p.id: p.title for p in papers}
    return RunResult(meta=meta, cases=results, titles=_referenced(results, titles))


def _interest(
    settings: Settings, case: Case, ids_by_title: dict[str, str], result: CaseResult
) -> None:
    """Score an interest case's rankings into ``result`` (seeds and excluded by title)."""
    interest, missing = interest_of(case, ids_by_title)
    if missing:
        raise InputError(f"{case.id}: seed titles not in the store: {'; '.join(missing)}.")
    excluded = [
        ids_by_title[k] for t in case.excluded_titles if (k := normalize_title(t)) in ids_by_title
    ]
    result.negated = bool(interest.negatives)
    result.interest = score_interest(settings, interest, result.gold, excluded)


def _table_or_pair(
    settings: Settings, case: Case, by_id: dict[str, Paper], result: CaseResult
) -> None:
    """Score a table case's row or a disagreement case's pair into ``result`` (papers by
    their resolved gold ids, in the case's order)."""
    papers = [by_id[pid] for pid in result.gold if pid in by_id]
    if len(papers) != len(case.gold_titles):
        raise InputError(f"{case.id}: its papers are not all in the store.")
    if case.result is not None:
        result.table = score_table(papers[0], case.result)
    elif case.pair is not None:
        result.pair = score_pair(settings, papers[0], papers[1], case.pair)


def _referenced(cases: Sequence[CaseResult], titles: dict[str, str]) -> dict[str, str]:
    """Titles of every paper a case names (gold, ranked, shown, cited), for the report."""
    ids: set[str] = set()
    for c in cases:
        ids.update(c.gold, c.also_relevant)
        for r in c.retrieval:
            ids.update(r.ranked)
        for a in c.answers:
            ids.update(a.sources, a.cited)
        if c.digest:
            ids.update(c.digest.included)
        for scored in c.interest:
            ids.update(scored.ranked)
    return {pid: titles[pid] for pid in sorted(ids) if pid in titles}


def _warm_up(settings: Settings, modes: Sequence[str], cases: Sequence[Case]) -> None:
    """One untimed search per mode: the embedder and the BM25 index load before timing."""
    query = cases[0].question if cases else "warm up"
    for mode in modes:
        base, mmr = split_mode(mode)
        search(settings, query, k=1, mode=base, mmr=mmr, sentences=False)


def _search(settings: Settings, case: Case, mode: str, gold: list[str]) -> RetrievalScore:
    """One timed search. The query vector is already in the embedder's cache (embedded once
    per case before the modes run), so every mode is timed on the same footing."""
    base, mmr = split_mode(mode)
    t0 = time.perf_counter()
    result = search(settings, case.question, k=10, mode=base, mmr=mmr, sentences=False)
    ms = (time.perf_counter() - t0) * 1000
    return RetrievalScore.of(mode, case.type, [h.paper.id for h in result.hits], gold, ms)


def _conversation(case: Case, settings: Settings, llm: LLM | None) -> tuple[Answer, list[Message]]:
    """The answers to a follow-up case's earlier questions: the last one, and the history.

    With a model, each is answered as the chat does. Without one (``--no-llm``), an earlier
    turn's sources are the papers its evidence showed, and no rewrite is made.
    """
    answers: list[Answer] = []
    for question in case.history:
        previous = answers[-1] if answers else None
        if llm is not None:
            gathered = gather(
                question, settings, history=conversation(answers), previous=previous, llm=llm
            )
            answers.append(answer_from(gathered, settings, llm=llm).result)
            continue
        gathered = gather(question, settings, previous=previous)
        sources = [
            Source(
                number=ev.number,
                paper_id=ev.paper.id,
                title=ev.paper.title,
                date=None,
                cited=False,
                similarity=ev.similarity,
            )
            for ev in gathered.evidence
        ]
        answers.append(
            Answer(
                question=gathered.question,
                standalone_question=gathered.standalone_question,
                answer="",
                abstained=not gathered.relevant,
                sources=sources,
            )
        )
    return answers[-1], conversation(answers) if llm is not None else []


def _ours(
    gathered: Any, settings: Settings, llm: Any, case: Case, result: CaseResult
) -> AnswerScore:
    try:
        answer = answer_from(gathered, settings, llm=llm).result
    except AssistantError as exc:
        return AnswerScore.failed("ours", str(exc), case.answer_facts)
    return _scored("ours", answer, [ev.paper.id for ev in gathered.evidence], case, result)


def _replayed(gathered: Any, stored: AnswerScore, settings: Settings) -> LLM | None:
    """A model that writes ``stored``'s draft again, or None where the draft was written from
    other evidence (other papers, or the gate said otherwise) and says nothing of today's."""
    from assistant.llm import FakeLLM

    same = [ev.paper.id for ev in gathered.evidence] == stored.sources
    if not same or gathered.relevant != bool(stored.draft):
        return None
    model = FakeLLM(settings.llm)
    model.enqueue(stored.draft)
    return model


def _stock(pipeline: Any, name: str, case: Case, result: CaseResult) -> AnswerScore:
    try:
        answer, sources = pipeline.answer(case.question)
    except Exception as exc:  # a llama-index failure on one case is scored, not fatal
        return AnswerScore.failed(name, f"{type(exc).__name__}: {exc}", case.answer_facts)
    return _scored(name, answer, sources, case, result)


def _scored(
    system: str, answer: Answer, sources: list[str], case: Case, result: CaseResult
) -> AnswerScore:
    """One system's answer to a case, scored against the case's gold and facts."""
    return AnswerScore.of(
        system,
        answer,
        sources=sources,
        gold=result.gold,
        relevant=result.also_relevant,
        facts=case.answer_facts,
        missing=case.missing,
    )


# --- digests (optional: assistant.digest is its own feature) -------------------------------


def _digest_function() -> Any:
    """``assistant.digest.digest``, or an InputError saying what is missing."""
    try:
        from assistant import digest as module  # type: ignore[attr-defined,unused-ignore]
    except ImportError:
        raise InputError(
            "--digests needs the digest feature (assistant/digest.py), which this install "
            "does not have; run without --digests."
        ) from None
    fn = getattr(module, "digest", None)
    if fn is None:
        raise InputError(
            "--digests needs assistant.digest.digest(topic, settings, *, llm), which this "
            "version of assistant/digest.py does not define."
        )
    return fn


def _digest(
    fn: Any, case: Case, settings: Settings, llm: Any, result: CaseResult, *, use_llm: bool
) -> DigestScore:
    """A topic case's question as a digest topic, scored on the papers the page includes
    and the checked sentences of its overview and theme paragraphs (none with --no-llm:
    the digest then names its themes by keywords and writes no paragraphs)."""
    t0 = time.perf_counter()
    try:
        page = fn(case.question, settings, llm=llm, use_llm=use_llm)
    except AssistantError as exc:
        return DigestScore(included=[], core_included=0.0, included_relevant=None, error=str(exc))
    counts = citation_counts(
        [*page.overview_sentences, *(s for t in page.themes for s in t.sentences)]
    )
    return DigestScore.of(
        [p.paper_id for p in page.citations],
        result.gold,
        result.also_relevant,
        valid=counts.valid,
        invalid=page.invalid_citations,
        supported=counts.supported,
        total_s=time.perf_counter() - t0,
        prose=DigestProse.of(
            [page.overview, *(t.paragraph for t in page.themes if t.paragraph)]
            if page.used_llm
            else []
        ),
        table=digest_table(page),
    )
