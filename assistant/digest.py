"""Topic digests: "what is there on X?" as a themed, cited, checked page.

``digest_stream(topic, settings)`` reads top to bottom:

1. retrieve   hybrid search with MMR (``-n`` papers, the user's filters), then the relevance
              gate of ``answer.is_relevant``: an uncovered topic gets ``CANNOT_ANSWER``
2. cluster    the papers' stored vectors into themes (spherical k-means, the number of themes
              chosen by silhouette, 2..``digest.max_themes``; a small set is one theme)
3. number     every paper once for the whole page, theme by theme (``answer.select_evidence``)
4. name       each theme: the LLM from its papers' titles, else keywords of its papers
5. overview   2-3 sentences citing the most central papers, checked by ``answer.check_text``
6. themes     one cited paragraph per theme from its papers' evidence, checked the same way
7. result     a typed ``Digest``: themes, the paper table and references, notices, telemetry

Steps 3-7 are ``write_page``, which ``weekly.py`` reuses for a week's papers. The stream
yields ``DigestProgress`` events, the model's text chunks (``str``) and lastly the ``Digest``;
``digest`` returns only the ``Digest``. Citation parsing, checking, the injection filter and
the gate are the answer pipeline's; nothing here re-implements them.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import time
from collections import Counter
from collections.abc import Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from assistant.citations import CANNOT_ANSWER, check_text, is_abstention
from assistant.embed import get_embedder
from assistant.errors import InputError
from assistant.evidence import abstract_sentences, format_sources, is_relevant, select_evidence
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
    ThemePaper,
    WeekInfo,
)
from assistant.prompts import load_prompt
from assistant.retrieve import best_sentences, search
from assistant.settings import Settings
from assistant.store import open_store
from assistant.text import mentions_terms, question_terms

if TYPE_CHECKING:
    from assistant.embed import Embedder

NAMES_FIELDS = frozenset({"topic", "groups"})
THEME_FIELDS = frozenset({"topic", "theme", "sources"})
OVERVIEW_FIELDS = frozenset({"topic", "themes", "sources"})

#: What a digest or weekly stream yields: progress, the model's text chunks, the result.
DigestEvent = DigestProgress | str | Digest


# --- 2. clustering -----------------------------------------------------------------------------


def spherical_kmeans(vectors: np.ndarray, k: int, *, seed: int = 0, n_init: int = 4) -> np.ndarray:
    """Cluster labels (0..k-1) of unit vectors by cosine k-means with k-means++ starts.

    The best of ``n_init`` runs (highest total similarity to the centres); deterministic.
    """
    n = len(vectors)
    if k <= 1 or n <= k:
        return np.arange(n) if n <= k and k > 1 else np.zeros(n, dtype=int)
    rng = np.random.default_rng(seed)
    best_labels, best_fit = np.zeros(n, dtype=int), -np.inf
    for _ in range(n_init):
        centres = [vectors[int(rng.integers(n))]]
        dist = np.clip(1.0 - vectors @ centres[0], 0.0, None)
        for _ in range(1, k):
            weights = dist**2
            total = weights.sum()
            pick = int(rng.choice(n, p=weights / total)) if total > 0 else int(rng.integers(n))
            centres.append(vectors[pick])
            dist = np.minimum(dist, np.clip(1.0 - vectors @ vectors[pick], 0.0, None))
        c = np.stack(centres)
        labels = np.full(n, -1)
        for _ in range(100):
            sims = vectors @ c.T
            new = np.argmax(sims, axis=1)
            if np.array_equal(new, labels):
                break
            labels = new
            for j in range(k):
                members = vectors[labels == j]
                if len(members) == 0:  # an empty cluster restarts at the worst-fitting point
                    worst = int(np.argmin(sims[np.arange(n), labels]))
                    c[j] = vectors[worst]
                    labels[worst] = j
                else:
                    mean = members.mean(axis=0)
                    c[j] = mean / (np.linalg.norm(mean) or 1.0)
        fit = float((vectors @ c.T)[np.arange(n), labels].sum())
        if fit > best_fit:
            best_labels, best_fit = labels.copy(), fit
    return best_labels


def silhouette(vectors: np.ndarray, labels: np.ndarray) -> float:
    """Mean silhouette with cosine distance (a point alone in its cluster scores 0)."""
    clusters = np.unique(labels)
    if len(clusters) < 2:
        return 0.0
    dist = np.clip(1.0 - vectors @ vectors.T, 0.0, None)
    member = labels[:, None] == clusters[None, :]  # n x c
    sums = dist @ member.astype(np.float64)
    sizes = member.sum(axis=0).astype(np.float64)
    own = member.argmax(axis=1)
    n = len(labels)
    own_size = sizes[own]
    a = np.where(own_size > 1, sums[np.arange(n), own] / np.maximum(own_size - 1, 1), 0.0)
    other = sums / sizes[None, :]
    other[np.arange(n), own] = np.inf
    b = other.min(axis=1)
    s = np.where(own_size > 1, (b - a) / np.maximum(np.maximum(a, b), 1e-12), 0.0)
    return float(s.mean())


def choose_clusters(
    vectors: np.ndarray, *, min_k: int = 2, max_k: int = 6, single_below: int = 6
) -> np.ndarray:
    """Labels of the clustering with the best silhouette for k in min_k..max_k.

    Fewer than ``single_below`` vectors are one cluster; k never exceeds half the points, and
    a clustering without one-paper clusters is preferred (a theme of one paper reads oddly).
    Labels are renumbered by cluster size, largest first.
    """
    n = len(vectors)
    top = min(max_k, n // 2)
    if n < single_below or top < 2:
        return np.zeros(n, dtype=int)
    low = max(2, min(min_k, top))
    scored = []
    for k in range(low, top + 1):
        labels = spherical_kmeans(vectors, k)
        no_singletons = min(Counter(labels.tolist()).values()) > 1
        scored.append((no_singletons, silhouette(vectors, labels), -k, labels))
    labels = max(scored, key=lambda item: item[:3])[3]
    by_size = [lab for lab, _ in Counter(labels.tolist()).most_common()]
    remap = {old: new for new, old in enumerate(by_size)}
    return np.array([remap[x] for x in labels.tolist()], dtype=int)


@dataclass
class ThemeSpec:
    """One theme before writing: its members (indices into the page's papers), most central
    first, and what the week adds (novelty, whether it gets a paragraph)."""

    members: list[int]
    centrality: list[float]
    centre: np.ndarray
    cohesion: float
    novelty: float | None = None
    new: bool = False
    write: bool = True
    on_topic: bool = True
    vectors: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))


def group_themes(vectors: np.ndarray, labels: np.ndarray) -> list[ThemeSpec]:
    """Themes from cluster labels: members ordered by similarity to the theme's centre."""
    themes = []
    for label in sorted(set(labels.tolist())):
        idx = np.flatnonzero(labels == label)
        mean = vectors[idx].mean(axis=0)
        centre = mean / (np.linalg.norm(mean) or 1.0)
        sims = vectors[idx] @ centre
        order = np.argsort(-sims, kind="stable")
        themes.append(
            ThemeSpec(
                members=[int(idx[i]) for i in order],
                centrality=[round(float(sims[i]), 4) for i in order],
                centre=centre,
                cohesion=round(float(sims.mean()), 4),
                vectors=vectors[idx[order]],
            )
        )
    themes.sort(key=lambda t: (-len(t.members), -t.cohesion))
    return themes


def mark_off_topic(themes: list[ThemeSpec], papers: Sequence[Paper], topic: str) -> None:
    """A theme none of whose papers uses the topic's words is near the topic, not on it: it
    is listed, not written up as if it were about the topic."""
    terms = question_terms(topic)
    for theme in themes:
        if not any(mentions_terms(papers[i].text, terms) for i in theme.members):
            theme.on_topic = theme.write = False


# --- 4. names ----------------------------------------------------------------------------------

_STOPWORDS = frozenset(
    """a an and are as at be by can for from has have how in into is it its large learning
    model models new of on or our paper propose proposed show that the their this to towards
    toward using via we what when which while with without based approach method methods task
    tasks results data deep neural network networks framework study work performance""".split()  # noqa: SIM905
)
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9-]{2,}")


def _terms(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text) if w.lower() not in _STOPWORDS]


def keyword_name(papers: Sequence[Paper], background: Sequence[Paper], n: int = 3) -> str:
    """A theme named by the words its titles (and keywords, abstracts) share most and the
    other papers on the page use least: tf-idf over the page."""
    df: Counter[str] = Counter()
    for p in background:
        df.update(set(_terms(p.title + " " + p.abstract)))
    tf: Counter[str] = Counter()
    for p in papers:
        tf.update({t: 3 for t in set(_terms(p.title))})
        tf.update({t: 2 for t in set(_terms(" ".join(p.ai_keywords)))})
        tf.update(set(_terms(p.abstract)))
    total = max(len(background), 1)
    scored = sorted(
        tf, key=lambda t: (-tf[t] * math.log(1 + total / (1 + df[t])), t)
    )  # ties: alphabetical, so names are repeatable
    words: list[str] = []
    for term in scored:
        if not any(term in w or w in term for w in words):
            words.append(term)
        if len(words) == n:
            break
    return " · ".join(words) or "other papers"


_NAME_LINE = re.compile(r"^\s*(?:[-*]\s*)?(?:group|theme)?\s*(\d+)\s*[.:)\-–]\s*(.+?)\s*$", re.I)


def parse_names(text: str, count: int) -> dict[int, str]:
    """Theme names from the model's ``"1. name"`` lines (1-based); odd lines are skipped."""
    names: dict[int, str] = {}
    for line in text.splitlines():
        match = _NAME_LINE.match(line)
        if not match:
            continue
        number = int(match.group(1))
        name = match.group(2).strip().strip("\"'*`").rstrip(".").strip()
        if 1 <= number <= count and name and len(name.split()) <= 8 and number not in names:
            names[number] = name[:80]
    return names


# --- paper lines ---------------------------------------------------------------------------------

_CONTRIBUTION = re.compile(
    r"\b(we|this (?:paper|work|study|article)|our (?:method|approach|model|framework))\b"
    r"[^.]{0,40}\b(propose|present|introduce|develop|design|show|build|release|study|"
    r"demonstrate|investigate|explore|describe)",
    re.I,
)
_CODE = re.compile(r"github\.com|gitlab\.|bitbucket\.org|huggingface\.co/(?!papers)", re.I)


def contribution(paper: Paper, limit: int = 220) -> str:
    """One line from the abstract saying what the paper does (planted instructions skipped)."""
    sentences, _ = abstract_sentences(paper)
    line = next(
        (s for s in sentences if _CONTRIBUTION.search(s)), sentences[0] if sentences else ""
    )
    line = " ".join(line.split())
    if len(line) > limit:
        line = line[:limit].rsplit(" ", 1)[0].rstrip(",;:") + "…"
    return line


def code_url(paper: Paper) -> str | None:
    """The paper's code link: its GitHub repo, else a code-hosting URL in its abstract."""
    if paper.github_repo:
        return paper.github_repo
    return next((u.rstrip(".,;)") for u in paper.urls if _CODE.search(u)), None)


def paper_date(paper: Paper) -> dt.date | None:
    """The date a paper counts under: publication, else when it was added."""
    return paper.published or paper.added


# --- generation ----------------------------------------------------------------------------------


def _generate(
    llm: LLM, messages: list[Message], max_tokens: int, stage: str, calls: list[LLMCall]
) -> Generator[str, None, str]:
    """Stream one model call, record its telemetry; returns the whole text."""
    started = time.perf_counter()
    stream = llm.stream(messages, max_tokens=max_tokens)
    with stream:
        yield from stream
    calls.append(_call(stage, stream.telemetry, time.perf_counter() - started))
    return stream.text


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
    return check_text(
        text, evidence, embedder, threshold, renumber=False, question=topic, lists=True
    )


# --- 3.-7. the page ------------------------------------------------------------------------------


@dataclass
class PageInput:
    """What ``write_page`` turns into a ``Digest``: papers in page order and their themes."""

    kind: str
    title: str
    topic: str
    hits: list[Hit]
    themes: list[ThemeSpec]
    overview_sources: list[int]
    filters: SearchFilters = field(default_factory=SearchFilters)
    notices: list[str] = field(default_factory=list)
    week: WeekInfo | None = None


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
    stored = open_store(settings).sentence_vectors(ids)  # embedded at ingest
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


def write_page(
    page: PageInput,
    settings: Settings,
    telemetry: DigestTelemetry,
    started: float,
    *,
    llm: LLM | None = None,
    use_llm: bool = True,
) -> Iterator[DigestEvent]:
    """Number the papers, name the themes, write and check the overview and the paragraphs;
    yields progress and text chunks, then the ``Digest``."""
    t0 = time.perf_counter()
    config = settings.digest
    embedder = get_embedder(settings)
    budget = settings.answer.evidence_tokens
    evidence, dropped = select_evidence(page.hits, page.topic, budget)
    # "left out of the prompt" only means something when there is a prompt.
    notices = list(page.notices) + (dropped if use_llm else [])
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
        groups = "\n\n".join(
            f"Group {n}:\n" + "\n".join(f"- {papers[i].title}" for i in t.members[:8])
            for n, t in enumerate(page.themes, start=1)
        )
        prompt = load_prompt("digest_names", NAMES_FIELDS).render(topic=page.topic, groups=groups)
        tokens = config.name_tokens * len(page.themes) + 8
        # Not streamed: names are not prose for the reader; they appear in the next events.
        named = llm.complete(prompt, max_tokens=tokens)
        calls.append(_call("names", named.telemetry))
        for number, name in parse_names(named.text, len(page.themes)).items():
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
        )
        for n, t in enumerate(page.themes, start=1)
    ]
    words = ", ".join(sorted(question_terms(page.topic)))
    for n, spec in enumerate(page.themes, start=1):
        if not spec.on_topic:
            notices.append(
                f"theme {n} ({themes[n - 1].name}): none of its {len(spec.members)} papers "
                f"uses the topic's words ({words}); near the topic, not on it: listed "
                "without a paragraph."
            )
    check_s = 0.0
    invalid = 0

    # 5. overview
    overview, overview_sentences = _plain_overview(page, themes), []
    if use_llm and llm is not None and page.overview_sources:
        yield DigestProgress(stage="overview", message="writing the overview")
        shown = shown_evidence(page, page.overview_sources, page.topic, budget)
        prompt = load_prompt("digest_overview", OVERVIEW_FIELDS).render(
            topic=page.topic,
            themes="; ".join(t.name for t in themes),
            sources=format_sources(shown),
        )
        text = yield from _generate(llm, prompt, config.overview_tokens, "overview", calls)
        yield "\n\n"
        t0 = time.perf_counter()
        checked = _checked(text, shown, embedder, settings, page.topic)
        check_s += time.perf_counter() - t0
        if checked is None:
            notices.append("the model wrote no overview; the themes are listed instead.")
        else:
            overview, overview_sentences = checked.text, checked.sentences
            invalid += checked.invalid_citations

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
            topic=page.topic, theme=theme.name, sources=format_sources(shown)
        )
        text = yield from _generate(llm, prompt, config.paragraph_tokens, f"theme {n}", calls)
        yield "\n\n"
        t0 = time.perf_counter()
        checked = _checked(text, shown, embedder, settings, page.topic)
        check_s += time.perf_counter() - t0
        if checked is None:
            notices.append(f"the model wrote nothing for theme {n} ({theme.name}); listed only.")
            continue
        if checked.sentences and checked.uncited == len(checked.sentences):
            notices.append(f"the paragraph of theme {n} ({theme.name}) cites no paper.")
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
    yield Digest(
        kind=page.kind,
        title=page.title,
        topic=page.topic,
        covered=True,
        overview=overview,
        overview_sentences=overview_sentences,
        themes=themes,
        citations=citations,
        invalid_citations=invalid,
        notices=notices,
        filters=page.filters,
        week=page.week,
        used_llm=use_llm,
        telemetry=telemetry,
    )


def shown_evidence(
    page: PageInput, indices: Sequence[int], question: str, budget: int
) -> list[Evidence]:
    """The evidence one prompt shows: ``answer.select_evidence`` over those papers alone (so
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


# --- 1. the topic digest ------------------------------------------------------------------------


def digest_stream(
    topic: str,
    settings: Settings,
    *,
    n: int | None = None,
    filters: SearchFilters | None = None,
    llm: LLM | None = None,
    use_llm: bool = True,
) -> Iterator[DigestEvent]:
    """A digest of ``topic``: yields ``DigestProgress`` events and the model's text chunks
    (``str``) as it goes, and lastly the ``Digest``.

    ``n`` papers are retrieved (default ``digest.papers``) with hybrid search and MMR under
    ``filters``. A topic the store does not cover ends at once with ``covered=False`` and
    ``CANNOT_ANSWER`` as the overview, without calling the model. ``use_llm=False`` names
    themes by keywords and writes no paragraphs (no model is loaded).
    """
    started = time.perf_counter()
    config = settings.digest
    n = config.papers if n is None else n
    if isinstance(n, bool) or not 1 <= n <= 100:
        raise InputError(f"-n must be between 1 and 100 papers, not {n}.")
    filters = filters or SearchFilters()
    telemetry = DigestTelemetry()

    yield DigestProgress(stage="retrieval", message=f"retrieving up to {n} papers")
    t0 = time.perf_counter()
    # Evidence sentences are picked after clustering, for the papers shown to the model only:
    # embedding every abstract's sentences is most of retrieval's time.
    result = search(settings, topic, k=n, mode="hybrid", filters=filters, mmr=True, sentences=False)
    telemetry.retrieval_s = round(time.perf_counter() - t0, 3)
    notices = list(result.notices)
    title = f"Digest: {result.query}"
    if not is_relevant(result.hits, settings.answer.min_relevance):
        closest = ", ".join(f"“{h.paper.title}”" for h in result.hits[:3])
        if closest:
            notices.append(f"closest papers, not similar enough to the topic: {closest}.")
        telemetry.total_s = round(time.perf_counter() - started, 3)
        yield Digest(
            kind="topic",
            title=title,
            topic=result.query,
            covered=False,
            overview=CANNOT_ANSWER,
            notices=notices,
            filters=filters,
            used_llm=False,
            telemetry=telemetry,
        )
        return
    hits = [h for h in result.hits if h.similarity >= config.min_similarity]
    if len(hits) < len(result.hits):
        left = len(result.hits) - len(hits)
        notices.append(
            f"{left} retrieved paper(s) less similar to the topic than "
            f"{config.min_similarity} were left out."
        )

    yield DigestProgress(stage="clustering", message=f"grouping {len(hits)} papers into themes")
    t0 = time.perf_counter()
    stored = open_store(settings).vectors([h.paper.id for h in hits])
    vectors = np.stack([stored[h.paper.id] for h in hits])
    labels = choose_clusters(
        vectors, min_k=2, max_k=config.max_themes, single_below=config.single_theme_below
    )
    themes = group_themes(vectors, labels)
    ordered, themes = page_order(hits, themes)
    mark_off_topic(themes, [h.paper for h in ordered], result.query)
    on_topic = [t for t in themes if t.on_topic] or themes  # the overview draws on these
    telemetry.clustering_s = round(time.perf_counter() - t0, 3)
    yield DigestProgress(
        stage="clustering",
        message=f"{len(themes)} theme(s) of "
        f"{', '.join(str(len(t.members)) for t in themes)} papers",
    )
    if use_llm:
        t0 = time.perf_counter()
        query_vector = get_embedder(settings).embed_one(result.query)  # cached by the search
        ordered = with_evidence_sentences(settings, ordered, themes, query_vector)
        telemetry.evidence_s = round(time.perf_counter() - t0, 3)
    page = PageInput(
        kind="topic",
        title=title,
        topic=result.query,
        hits=ordered,
        themes=themes,
        overview_sources=[t.members[0] for t in on_topic][: config.sources_per_theme],
        filters=filters,
        notices=notices,
    )
    yield from write_page(page, settings, telemetry, started, llm=llm, use_llm=use_llm)


def final_digest(events: Iterable[DigestEvent]) -> Digest:
    """The ``Digest`` at the end of a digest or weekly stream (progress and text skipped)."""
    for event in events:
        if isinstance(event, Digest):
            return event
    raise AssertionError("the digest stream ended without a Digest")


def digest(topic: str, settings: Settings, **options: object) -> Digest:
    """A digest of ``topic`` without streaming (see ``digest_stream`` for the options)."""
    return final_digest(digest_stream(topic, settings, **options))  # type: ignore[arg-type]
