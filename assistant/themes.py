"""Themes: a page's papers clustered by their stored vectors, and each theme named.

Read in pipeline order: cluster (``choose_clusters``: spherical k-means, the number of themes
chosen by silhouette) → group (``group_themes``: members most central first) → mark the themes
near a topic but not on it → name (``ask_names``: the model names them from their titles;
``keyword_name``: tf-idf words of their papers, the fallback and the no-model name). Used by
the topic digest (``digest.py``) and the weekly summary (``weekly.py``) alike.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from assistant.coverage import coverage, main_parts, not_covered_sentence, uses_words
from assistant.llm import LLM, Telemetry
from assistant.models import Paper
from assistant.prompts import load_prompt
from assistant.text import STOPWORDS

if TYPE_CHECKING:
    from assistant.embed import Embedder

NAMES_FIELDS = frozenset({"topic", "groups"})
#: How many of a theme's titles (most central first) the model names it from.
NAMED_FROM = 8

# --- clustering ----------------------------------------------------------------------------------


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
    saying: int = 0  # of its papers, how many say the topic (a question: rank high)
    near: str = ""  # why it is not on the topic, for the page's notice
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


#: Share of a theme's papers that must say the topic for the theme to be written up as about
#: it (``eval/theme_labels.jsonl``: chosen on its dev topics, checked on the others).
ON_TOPIC_SHARE = 0.25
#: A topic of this many parts or more is a question ("How do papers remove ... from a trained
#: language model?" has six): no abstract says every part, so its themes are judged by the
#: search's order instead: a theme is on the question when ``ON_TOPIC_SHARE`` of its papers
#: are among the best ``BEST_RANKED`` of the page (or it holds the best paper), and one of its
#: papers covers ``QUESTION_COVERED`` of the question's parts (``coverage``: in words or in
#: meaning), so a question the store barely covers gets fewer themes written up as its answer.
#: Measured with ``eval/question_theme_rule.py``: on the check questions, 5 of 6 themes about
#: the question written, 7 of 19 near ones (rank alone: 6/6 and 8/19; the word rule: none).
QUESTION_PARTS = 3
BEST_RANKED = 0.25
QUESTION_COVERED = 0.5


def says_topic(paper: Paper, parts: Sequence[str]) -> bool:
    """Whether a paper says every part of a topic, each part's words close together
    (``coverage.uses_words``: "state ... space" far apart is not "state space")."""
    return all(uses_words(paper.text, part) for part in parts)


def mark_off_topic(
    themes: list[ThemeSpec],
    papers: Sequence[Paper],
    vectors: np.ndarray,
    topic: str,
    embedder: Embedder,
) -> list[ThemeSpec]:
    """The themes with those near the topic, not on it, marked: listed, not written up as if
    about it; themes on the topic first.

    ``papers`` (and ``vectors``, the themes' member indices) are in the search's order, best
    first. A topic's theme is on it when a quarter of its papers say the topic (one paper
    using the topic's words anywhere was the rule before: it wrote 9 of 11 near themes of the
    held-out topics; this one writes 1, and still every theme about the topic). When no theme
    is, the papers that say it (even one) and rank in the better half of the page are taken
    out into a theme of their own: a covered topic's few papers are not lost in themes about
    other things. When one is, its papers that do not cover the topic (``coverage``, in words
    or in meaning, the answers' rule) leave it, all such papers of the page for one near theme
    (one theme more at most): the paragraph about the topic is not written from them
    (``eval/theme_rule.py``: of the papers labelled near in themes labelled on, 18 of 27
    leave, and 5 of 82 labelled on). A question's themes are judged by rank and coverage
    (``QUESTION_PARTS``)."""
    parts = main_parts(topic)
    if len(parts) >= QUESTION_PARTS:
        best = math.ceil(BEST_RANKED * len(papers))
        covered = coverage(parts, papers, embedder)
        answering = {
            i
            for i, paper in enumerate(papers)
            if covered.count(paper.id) >= QUESTION_COVERED * len(parts)
        }
        for theme in themes:
            theme.saying = sum(i < best for i in theme.members)
            n = len(theme.members)
            if theme.saying < ON_TOPIC_SHARE * n and 0 not in theme.members:
                are = "is" if theme.saying == 1 else "are"
                theme.near = (
                    f"its one paper is not among the {best}"
                    if n == 1
                    else f"{theme.saying or 'none'} of its {n} papers {are} among the {best}"
                ) + " closest to the question"
            elif not answering & set(theme.members):
                theme.near = (
                    "its one paper does not cover" if n == 1 else f"none of its {n} papers covers"
                )
                theme.near += " half of what the question asks"
            else:
                continue
            theme.on_topic = theme.write = False
        return sorted(themes, key=lambda t: not t.on_topic)
    saying = {i for i, paper in enumerate(papers) if says_topic(paper, parts)}
    labels = np.zeros(len(papers), dtype=int)
    for n, theme in enumerate(themes, start=1):
        labels[theme.members] = n
    regroup = False
    # taken out: those in the better half of the search's order (one far down mostly names
    # the topic in passing: "applied to speech synthesis, translation, ...")
    taken = sorted(i for i in saying if i < len(papers) / 2)
    if taken and not any(
        len(saying & set(t.members)) >= ON_TOPIC_SHARE * len(t.members) for t in themes
    ):
        labels[taken] = 0
        regroup = True
    else:  # a theme on the topic keeps only its papers about it; the rest, one near theme
        on = [t for t in themes if len(saying & set(t.members)) >= ON_TOPIC_SHARE * len(t.members)]
        covered = coverage(parts, [papers[i] for t in on for i in t.members], embedder)
        for theme in on:
            leaving = [i for i in theme.members if not covered.covers_all(papers[i].id)]
            if leaving and len(leaving) < len(theme.members):
                labels[leaving] = len(themes) + 1  # one theme more at most
                regroup = True
    if regroup:
        themes = group_themes(vectors, labels)
    said = " and ".join(f"“{part}”" for part in parts)
    for theme in themes:
        theme.saying = len(saying & set(theme.members))
        if theme.saying < ON_TOPIC_SHARE * len(theme.members):
            theme.on_topic = theme.write = False
            n = len(theme.members)
            says = "says" if theme.saying == 1 else "say"
            theme.near = (
                f"its one paper does not say {said}"
                if n == 1
                else f"{theme.saying or 'none'} of its {n} papers {says} {said}"
            )
    return sorted(themes, key=lambda t: not t.on_topic)


def not_on_topic(papers: Sequence[Paper], topic: str) -> str:
    """What a page whose themes are all near its topic says first: the parts of the topic no
    paper says, or that no group of them is about it; and the closest papers."""
    parts = main_parts(topic)
    missing = [p for p in parts if not any(uses_words(paper.text, p) for paper in papers)]
    closest = [paper.short_name for paper in papers[:2]]
    near = "The themes below are near the topic, not on it."
    if missing and len(parts) < QUESTION_PARTS:
        return f"{not_covered_sentence(missing, closest)} {near}"
    if len(parts) >= QUESTION_PARTS:
        lead = "No theme of these papers is mostly about the question"
    else:
        lead = f"No group of the indexed papers is about “{topic}”"
    return f"{lead}; the closest are {' and '.join(closest)}. {near}"


# --- names ---------------------------------------------------------------------------------------

#: Words too common in ML abstracts to name a theme: the shared stop words and more.
_STOPWORDS = STOPWORDS | frozenset(
    """large learning new our show toward towards via task tasks results data deep neural
    network networks framework study performance""".split()  # noqa: SIM905
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


def ask_names(
    llm: LLM, topic: str, groups: Sequence[Sequence[str]], max_tokens: int
) -> tuple[dict[int, str], Telemetry | None]:
    """The model's names for the themes, from their papers' titles (``groups``: the titles of
    each theme, most central first): theme number (1-based) -> name, and the call's telemetry.
    Themes it left unnamed, or named oddly, are missing from the dict."""
    text = "\n\n".join(
        f"Group {n}:\n" + "\n".join(f"- {title}" for title in titles[:NAMED_FROM])
        for n, titles in enumerate(groups, start=1)
    )
    prompt = load_prompt("digest_names", NAMES_FIELDS).render(topic=topic, groups=text)
    # Not streamed: names are not prose for the reader; they appear in the next events.
    named = llm.complete(prompt, max_tokens=max_tokens)
    names = parse_names(named.text, len(groups))
    return {
        n: name for n, name in names.items() if _named_from(name, groups[n - 1][:NAMED_FROM])
    }, named.telemetry


def _named_from(name: str, titles: Sequence[str]) -> bool:
    """Whether a name says what its group's titles say: half its words are theirs. The local
    model named an in-context learning theme "Multi-frame optical flow" (the prompt's example
    then), a group of compression papers after a title of another group's ("Long Context
    Capable Approaches"), a ninth theme "Lat" (its tokens ran out)."""

    def stem(word: str) -> str:
        return word[:-1] if word.endswith("s") and len(word) > 3 else word

    words = {stem(w) for w in _terms(name)}
    theirs = {stem(w) for title in titles for w in _terms(title)}
    return 2 * len(words & theirs) >= len(words) > 0
