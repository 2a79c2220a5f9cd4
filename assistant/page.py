"""The page a digest and a weekly summary share: papers numbered theme by theme, themes named,
an overview and one cited paragraph per theme, written by the model and checked.

``write_page(PageInput, ...)`` reads top to bottom (the topic digest's steps 3-7, see
``digest.py``; the weekly summary's step 4, see ``weekly.py``):

3. number     every paper once for the whole page, theme by theme (``evidence.select_evidence``)
4. name       each theme: the model from its papers' titles, else keywords (``themes.py``)
5. overview   2-3 sentences citing the most central papers, checked by ``citations.check_text``
6. themes     one cited paragraph per theme from its papers' evidence, checked the same way
7. result     a typed ``Digest``: themes, the comparison table (``compare.py``), where the
              papers disagree (``disagree.py``), references, notices, telemetry

Before it, ``page_order`` numbers the hits down the page and ``with_evidence_sentences`` picks
the sentences the model is shown. A ``DigestStream`` yields ``DigestProgress`` events and the
model's text chunks (``str``); its ``result`` is the ``Digest``. Citation
parsing, checking, the injection filter and the gate are the answer stages'; every model call
goes through ``generate.Generation`` like an answer's (``_generate``, ``_checked``).
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from assistant.citations import check_text, is_abstention
from assistant.compare import code_url, compare, proposes
from assistant.disagree import disagreements
from assistant.embed import get_embedder
from assistant.evidence import abstract_sentences, format_sources, select_evidence
from assistant.generate import Generation
from assistant.llm import LLM, Message, Telemetry, get_llm
from assistant.models import (
    CheckedText,
    Digest,
    DigestPaper,
    DigestProgress,
    DigestTelemetry,
    DigestTheme,
    Evidence,
    Hit,
    LLMCall,
    Paper,
    SearchFilters,
    SentenceCheck,
    ThemePaper,
    WeekInfo,
)
from assistant.prompts import load_prompt
from assistant.prose import unnamed
from assistant.retrieve import best_sentences
from assistant.settings import Settings
from assistant.store import open_store
from assistant.streams import ResultStream
from assistant.text import spoken_list
from assistant.themes import ThemeSpec, ask_names, keyword_name

if TYPE_CHECKING:
    from assistant.embed import Embedder

THEME_FIELDS = frozenset({"topic", "theme", "sources", "ask"})
#: What a theme paragraph answers, for one paper (named: "this paper" was echoed as "The main
#: contribution of this paper is ..." under an overview that names no paper) and for several.
THEME_ASK = (
    "What does {name} contribute?",
    "What do these papers contribute, and how do they differ?",
)
OVERVIEW_FIELDS = frozenset({"topic", "themes", "sources", "ask"})
#: What the overview answers, from one paper and from several.
OVERVIEW_ASK = (
    "What is the main contribution of {name}?",
    # "What are the main directions of these papers?" drew "The main directions of these
    # papers are:" and, for 3 of 9 topics, a list of titles from the local model; this, prose
    "What do these papers do, and how do their approaches differ?",
)

#: What a digest or weekly stream yields while it runs: progress and the model's text chunks.
DigestEvent = DigestProgress | str


class DigestStream(ResultStream[DigestEvent, Digest]):
    """A topic digest or a weekly summary as it is written: iterate for progress and the
    model's text, then read ``result`` for the ``Digest``."""


# --- before writing: page order and the sentences shown ------------------------------------------


@dataclass
class PageInput:
    """What ``write_page`` turns into a ``Digest``: papers in page order and their themes."""

    kind: str
    title: str
    topic: str
    hits: list[Hit]
    themes: list[ThemeSpec]
    overview_sources: list[int]
    overview: str | None = None  # the pipeline's own, when the model writes none
    filters: SearchFilters = field(default_factory=SearchFilters)
    notices: list[str] = field(default_factory=list)
    week: WeekInfo | None = None


def overview_sources(themes: Sequence[ThemeSpec], limit: int) -> list[int]:
    """The papers the overview is written from: each theme's most central, then each one's
    next, up to ``limit``. A digest whose one theme holds 28 papers is shown six of them, not
    its first: the 'state space models' overview described S4 alone."""
    chosen: list[int] = []
    for depth in range(limit):
        chosen += [t.members[depth] for t in themes if depth < len(t.members)]
    return chosen[:limit]


def page_order(hits: Sequence[Hit], themes: list[ThemeSpec]) -> tuple[list[Hit], list[ThemeSpec]]:
    """Hits reordered theme by theme (most central first), so numbers read down the page;
    the themes' member indices are rewritten to the new order."""
    ordered: list[Hit] = []
    for theme in themes:
        new_members = []
        for i in theme.members:
            new_members.append(len(ordered))
            ordered.append(hits[i].model_copy(update={"rank": len(ordered) + 1}))
        theme.members = new_members
    return ordered, themes


def with_evidence_sentences(
    settings: Settings,
    hits: list[Hit],
    themes: list[ThemeSpec],
    target: np.ndarray | None = None,
) -> list[Hit]:
    """The hits, where the papers shown to the model (each written theme's most central
    ``digest.sources_per_theme``) carry the abstract sentences closest to ``target`` (the
    topic's vector), else to their theme's centre. Only those are embedded: it is the cost."""
    embedder = get_embedder(settings)
    hits = list(hits)
    written = [t for t in themes if t.write]
    per_theme = settings.digest.sources_per_theme
    ids = [hits[i].paper.id for t in written for i in t.members[:per_theme]]
    stored = open_store(settings).sentence_vectors(ids)  # if ingested with them
    for theme in written:
        shown = theme.members[: settings.digest.sources_per_theme]
        found = best_sentences(
            embedder,
            theme.centre if target is None else target,
            [hits[i].paper for i in shown],
            settings.retrieval.best_sentences,
            stored,
        )
        for i, matches in zip(shown, found, strict=True):
            hits[i] = hits[i].model_copy(update={"best_sentences": matches})
    return hits


# --- 3.-7. writing the page ----------------------------------------------------------------------


def write_page(
    page: PageInput,
    settings: Settings,
    telemetry: DigestTelemetry,
    started: float,
    *,
    llm: LLM | None = None,
    use_llm: bool = True,
) -> Generator[DigestEvent, None, Digest]:
    """Number the papers, name the themes, write and check the overview and the paragraphs;
    yields progress and text chunks, returns the ``Digest``."""
    t0 = time.perf_counter()
    config = settings.digest
    embedder = get_embedder(settings)
    budget = settings.answer.evidence_tokens
    evidence, dropped = select_evidence(page.hits, page.topic, budget)
    # "left out of the prompt" only means something when there is a prompt.
    notices = list(page.notices) + (dropped if use_llm else [])
    # A theme shown the overview's own papers has the overview as its paragraph, which gets
    # a paragraph's length (at 80 tokens a one-theme overview covered one paper of five).
    overview_tokens = config.overview_tokens
    standing = [  # a theme the overview stands for gets its own paragraph if the overview fails
        spec
        for spec in page.themes
        if spec.write
        and set(spec.members[: config.sources_per_theme]) == set(page.overview_sources)
    ]
    for spec in standing:
        spec.write = False
        overview_tokens = max(overview_tokens, config.paragraph_tokens)
    theme_of = {i: n for n, theme in enumerate(page.themes, start=1) for i in theme.members}
    theme_centrality = {
        i: c for theme in page.themes for i, c in zip(theme.members, theme.centrality, strict=True)
    }
    citations = [
        DigestPaper(
            number=ev.number,
            paper_id=ev.paper.id,
            title=ev.paper.title,
            date=(d.isoformat() if (d := paper_date(ev.paper)) else None),
            theme=theme_of[i],
            contribution=contribution(ev.paper),
            code_url=code_url(ev.paper),
            links=ev.paper.links,
            centrality=theme_centrality[i],
            paper=ev.paper,
        )
        for i, ev in enumerate(evidence)
    ]
    telemetry.evidence_s = round(telemetry.evidence_s + time.perf_counter() - t0, 3)
    t0 = time.perf_counter()
    numbers = {ev.paper.id: ev.number for ev in evidence}
    comparison = compare([ev.paper for ev in evidence], page.topic, numbers)
    tensions = disagreements(settings, [ev.paper for ev in evidence], numbers)
    telemetry.compare_s = round(time.perf_counter() - t0, 3)
    calls = telemetry.llm_calls
    if use_llm:
        llm = llm or get_llm(settings)
        telemetry.model, telemetry.provider = llm.name, llm.provider

    # 4. names
    papers = [h.paper for h in page.hits]
    names = [
        (keyword_name([papers[i] for i in t.members], papers), "keywords") for t in page.themes
    ]
    if use_llm and config.name_with_llm and llm is not None and len(page.themes) > 0:
        yield DigestProgress(stage="names", message=f"naming {len(page.themes)} theme(s)")
        titles = [[papers[i].title for i in t.members] for t in page.themes]
        tokens = config.name_tokens * len(page.themes) + 8
        named, telemetry_of_names = ask_names(llm, page.topic, titles, tokens)
        calls.append(_call("names", telemetry_of_names))
        for number, name in named.items():
            names[number - 1] = (name, "llm")

    themes = [
        DigestTheme(
            number=n,
            name=names[n - 1][0],
            named_by=names[n - 1][1],
            papers=[
                ThemePaper(number=i + 1, paper_id=papers[i].id, title=papers[i].title)
                for i in t.members
            ],
            planned=t.write,
            cohesion=t.cohesion,
            novelty=t.novelty,
            new=t.new,
            near=None if t.on_topic else t.near,
        )
        for n, t in enumerate(page.themes, start=1)
    ]
    near = [t.number for t in themes if t.near]
    if near:  # each says why under its heading; one line here, not one per theme
        listed = spoken_list([str(n) for n in near])
        which = f"theme {listed} is" if len(near) == 1 else f"themes {listed} are"
        notices.append(f"{which} near the topic, not on it: listed without a paragraph.")
    check_s = 0.0
    invalid = 0

    # 5. overview
    overview, overview_sentences = page.overview or _plain_overview(page, themes), []
    if use_llm and llm is not None and page.overview_sources:
        yield DigestProgress(stage="overview", message="writing the overview")
        shown = shown_evidence(page, page.overview_sources, page.topic, budget)
        # the themes on the topic only: a near theme's name read as a main direction
        on_topic = [t for t in themes if page.themes[t.number - 1].on_topic]
        prompt = load_prompt("digest_overview", OVERVIEW_FIELDS).render(
            topic=page.topic,
            themes="; ".join(t.name for t in on_topic),
            sources=format_sources(shown),
            # one paper on the topic is no "these papers", however many papers are shown
            ask=_ask(OVERVIEW_ASK, [papers[p.number - 1] for t in on_topic for p in t.papers]),
        )
        text = yield from _generate(llm, prompt, overview_tokens, "overview", calls)
        yield "\n\n"
        t0 = time.perf_counter()
        checked = _checked(text, shown, embedder, settings, page.topic)
        check_s += time.perf_counter() - t0
        if checked is None:
            notices.append("the model wrote no overview; the themes are listed instead.")
        elif checked.withheld:
            notices.append(
                f"the model's overview was withheld: {checked.WITHHELD}; the themes are listed "
                "instead."
            )
        else:
            overview, overview_sentences = checked.text, checked.sentences
            invalid += checked.invalid_citations
            standing = []
        for spec in standing:  # asked again, as its theme: the page keeps a paragraph
            spec.write = True

    # 6. one paragraph per theme
    to_write = [n for n, t in enumerate(page.themes, start=1) if t.write]
    for done, n in enumerate(to_write, start=1):
        if not use_llm or llm is None:
            break
        spec, theme = page.themes[n - 1], themes[n - 1]
        yield DigestProgress(
            stage="theme",
            message=f"theme {n}: {theme.name} ({len(spec.members)} papers)",
            done=done,
            total=len(to_write),
        )
        shown = shown_evidence(
            page, spec.members[: config.sources_per_theme], f"{theme.name} ({page.topic})", budget
        )
        prompt = load_prompt("digest_theme", THEME_FIELDS).render(
            topic=page.topic,
            theme=theme.name,
            sources=format_sources(shown),
            ask=_ask(THEME_ASK, [ev.paper for ev in shown]),  # one paper is not "these papers"
        )
        text = yield from _generate(llm, prompt, config.paragraph_tokens, f"theme {n}", calls)
        yield "\n\n"
        t0 = time.perf_counter()
        checked = _checked(text, shown, embedder, settings, page.topic)
        check_s += time.perf_counter() - t0
        if checked is None:
            notices.append(f"the model wrote nothing for theme {n} ({theme.name}); listed only.")
            continue
        if checked.withheld:
            notices.append(
                f"the paragraph of theme {n} ({theme.name}) was withheld: {checked.WITHHELD}."
            )
            continue
        theme.paragraph = checked.text
        theme.sentences = checked.sentences
        theme.invalid_citations = checked.invalid_citations
        theme.unsupported = checked.unsupported
        invalid += checked.invalid_citations
    if not use_llm:
        notices.append(
            "no language model used: themes are named by keywords and listed without paragraphs."
        )

    # 7. result
    cited = {n for s in overview_sentences for n in s.citations} | {
        n for t in themes for s in t.sentences for n in s.citations
    }
    for c in citations:
        c.cited = c.number in cited
    telemetry.check_s = round(check_s, 3)
    telemetry.total_s = round(time.perf_counter() - started, 3)
    return Digest(
        kind=page.kind,
        title=page.title,
        topic=page.topic,
        covered=True,
        overview=overview,
        overview_sentences=overview_sentences,
        themes=themes,
        citations=citations,
        invalid_citations=invalid,
        comparison=comparison,
        disagreements=tensions,
        notices=notices,
        filters=page.filters,
        week=page.week,
        used_llm=use_llm,
        telemetry=telemetry,
    )


def _ask(asks: tuple[str, str], papers: Sequence[Paper]) -> str:
    """The question a paragraph answers: of the one paper, by its name, or of several."""
    return asks[0].format(name=papers[0].short_name) if len(papers) == 1 else asks[1]


def shown_evidence(
    page: PageInput, indices: Sequence[int], question: str, budget: int
) -> list[Evidence]:
    """The evidence one prompt shows: ``evidence.select_evidence`` over those papers alone (so
    the token budget is theirs), under their numbers on the page."""
    chosen, _ = select_evidence([page.hits[i] for i in indices], question, budget)
    return [ev.model_copy(update={"number": i + 1}) for ev, i in zip(chosen, indices, strict=True)]


def _plain_overview(page: PageInput, themes: list[DigestTheme]) -> str:
    """The overview without a model: how many papers, in which themes."""
    n = len(page.hits)
    parts = ", ".join(f"{t.name} ({len(t.papers)})" for t in themes[:8])
    more = f" and {len(themes) - 8} more" if len(themes) > 8 else ""
    word = "theme" if len(themes) == 1 else "themes"
    return f"{n} paper{'s' if n != 1 else ''} in {len(themes)} {word}: {parts}{more}."


# --- model calls and their checks (the answer pipeline's parts, reassembled) -----------------


def _generate(
    llm: LLM, messages: list[Message], max_tokens: int, stage: str, calls: list[LLMCall]
) -> Generator[str, None, str]:
    """Stream one model call through the answers' loop (``generate.Generation``: a repeated
    sentence stops it, the text ends on a whole sentence), record its telemetry; returns the
    text."""
    started = time.perf_counter()
    written = Generation(llm, messages, max_tokens=max_tokens)
    yield from written
    calls.append(_call(stage, written.telemetry, time.perf_counter() - started))
    return written.text


def _call(stage: str, t: Telemetry | None, elapsed: float = 0.0) -> LLMCall:
    """The telemetry of one model call, as a digest records it."""
    return LLMCall(
        stage=stage,
        prompt_tokens=t.prompt_tokens if t else 0,
        completion_tokens=t.completion_tokens if t else 0,
        ttft_s=t.ttft_s if t else None,
        seconds=round(t.total_s if t else elapsed, 3),
    )


def _checked(
    text: str, evidence: Sequence[Evidence], embedder: Embedder, settings: Settings, topic: str
) -> CheckedText | None:
    """The answer pipeline's check, numbers kept (one numbering per page), a list the model
    wrote made prose; None: abstained."""
    if not text.strip() or is_abstention(text):
        return None
    threshold = settings.answer.support_threshold
    checked = check_text(
        text, evidence, embedder, threshold, renumber=False, question=topic, lists=True
    )
    return _saying(checked, {ev.number: ev.paper for ev in evidence})


def _saying(checked: CheckedText, papers: dict[int, Paper]) -> CheckedText:
    """A paragraph without the sentences that say nothing of their papers: a bare name (the
    local model's overview of 'in-context learning' was a list of titles, made prose:
    "Resona [20]. Learning to Retrieve ... [21]. ... Resona [20]."), a sentence said before,
    and an opening line ("The main directions are:") nothing is left after. A paragraph that
    keeps no claim is withheld (``CheckedText.withheld``: it has sentences, none supported)."""
    kept: list[SentenceCheck] = []
    for sentence in checked.sentences:
        cited = {n: papers[n] for n in sentence.citations if n in papers}
        rest = unnamed(sentence.text, cited).rpartition(":")[2]  # after "The ... are:"
        bare = cited and not re.search(r"[^\W\d_]{2}", rest)
        said = any(k.text.casefold() == sentence.text.casefold() for k in kept)
        if not (bare or said):
            kept.append(sentence)
    if len(kept) == len(checked.sentences):
        return checked
    while kept and not kept[-1].claims:  # an opening line with nothing after it
        kept.pop()
    if not kept:  # nothing but names: none of it supports anything
        said_nothing = {"supported": False, "supported_by": []}
        kept = [s.model_copy(update=said_nothing) for s in checked.sentences]
    text = " ".join(s.text for s in kept)
    return checked.model_copy(update={"text": text, "sentences": kept})


# --- paper lines ---------------------------------------------------------------------------------


def contribution(paper: Paper, limit: int = 220) -> str:
    """One line from the abstract saying what the paper does (the sentence a comparison's
    "Proposes" cell is cut from, else the first; planted instructions skipped)."""
    sentences, _ = abstract_sentences(paper)
    said = proposes(paper, sentences).sentence
    line = said if said and said != paper.title else (sentences[0] if sentences else "")
    line = " ".join(line.split())
    if len(line) > limit:
        line = line[:limit].rsplit(" ", 1)[0].rstrip(",;:") + "…"
    return line


def paper_date(paper: Paper) -> dt.date | None:
    """The date a paper counts under: publication, else when it was added."""
    return paper.published or paper.added
