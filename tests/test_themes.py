"""Themes: clustering papers by their vectors and naming the clusters (no store, no model)."""

from __future__ import annotations

import numpy as np

from assistant.embed import Embedder
from assistant.llm import FakeLLM
from assistant.models import Paper
from assistant.parse import make_paper
from assistant.settings import LLMSettings
from assistant.themes import (
    ThemeSpec,
    ask_names,
    choose_clusters,
    keyword_name,
    mark_off_topic,
    not_on_topic,
    parse_names,
    silhouette,
)


def _blobs(sizes: list[int], dim: int = 32, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(len(sizes), dim))
    points = [c + 0.15 * rng.normal(size=(n, dim)) for c, n in zip(centres, sizes, strict=True)]
    x = np.concatenate(points)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_number_of_themes_comes_from_the_data() -> None:
    labels = choose_clusters(_blobs([8, 6, 5]), max_k=6)
    assert len(set(labels.tolist())) == 3
    assert [np.sum(labels == k) for k in range(3)] == [8, 6, 5]  # largest theme first
    assert silhouette(_blobs([8, 6, 5]), labels) > 0.5
    # a handful of papers is one theme; k never exceeds the cap
    assert set(choose_clusters(_blobs([3, 2]), single_below=6).tolist()) == {0}
    assert len(set(choose_clusters(_blobs([5] * 8), max_k=4).tolist())) <= 4


def test_theme_names_are_parsed_or_left_to_keywords() -> None:
    assert parse_names('1. Optical flow\n2: "Diffusion"\nnoise\n3) a b c d e f g h i j', 3) == {
        1: "Optical flow",
        2: "Diffusion",
    }
    assert parse_names("Group 2 - KV cache.\n- 1. Flow", 2) == {2: "KV cache", 1: "Flow"}


def test_the_model_names_themes_from_their_titles() -> None:
    llm = FakeLLM(LLMSettings(provider="fake"))
    llm.enqueue("1. Optical flow\n2. Nine words are far too many for the name of a theme")
    titles = [[f"Flow paper {i}" for i in range(10)], ["Diffusion paper"]]
    names, telemetry = ask_names(llm, "vision", titles, max_tokens=40)
    assert names == {1: "Optical flow"} and telemetry is not None
    (call,) = llm.history
    prompt = "\n".join(m.content for m in call.messages)
    assert "Group 1:\n- Flow paper 0" in prompt and "- Flow paper 7" in prompt
    assert "Flow paper 8" not in prompt  # eight titles per theme at most
    assert "Group 2:\n- Diffusion paper" in prompt and call.max_tokens == 40


def test_a_name_its_group_does_not_say_is_left_to_keywords() -> None:
    # the local model's names for an in-context learning digest: the prompt's example, a
    # word cut short when its tokens ran out; a name half of whose words its titles use stays
    llm = FakeLLM(LLMSettings(provider="fake"))
    llm.enqueue("1. Multi-frame optical flow\n2. Lat\n3. Speculative image decoding")
    titles = [
        ["Why Can GPT Learn In-Context?", "In-context Learning and Gradient Descent Revisited"],
        ["Latent Diffusion for Language Generation"],
        ["Continuous Speculative Decoding for Autoregressive Image Generation"],
    ]
    names, _ = ask_names(llm, "in-context learning", titles, max_tokens=40)
    assert names == {3: "Speculative image decoding"}


def test_keyword_names_use_the_words_a_theme_shares_and_others_lack() -> None:
    flow = [Paper(id=f"f{i}", title=f"Optical flow estimation {i}", abstract="") for i in range(3)]
    other = [Paper(id="d", title="Diffusion image synthesis", abstract="")]
    assert keyword_name(flow, flow + other) == "estimation · flow · optical"  # ties: a-z
    assert keyword_name(other, flow + other) == "diffusion · image · synthesis"
    assert keyword_name([Paper(id="x", title="A study of the", abstract="")], []) == (
        "other papers"  # nothing but stop words
    )


def _spec(members: list[int]) -> ThemeSpec:
    return ThemeSpec(members=members, centrality=[], centre=np.zeros(2), cohesion=0.0)


def test_a_theme_is_on_the_topic_when_a_quarter_of_its_papers_say_it(embedder: Embedder) -> None:
    said = "We propose a selective state space model for long sequences."
    apart = "The state of each token is mapped into a latent space learned by the model."
    papers = [
        make_paper(f"On {i}", said if i < 2 else "Unrelated words.", str(i)) for i in range(6)
    ]
    papers += [
        make_paper(f"Far {i}", apart if i == 0 else "Other work.", f"f{i}") for i in range(5)
    ]
    near, on = _spec(list(range(6, 11))), _spec(list(range(6)))
    vectors = _blobs([6, 5])
    themes = mark_off_topic([near, on], papers, vectors, "state space models", embedder)
    # the theme on the topic first (2 of 6 say it: at least a quarter), holding only them: its
    # 4 papers that do not cover the topic are listed apart, not written up as about it
    on, near, left = themes  # near themes by size
    assert sorted(on.members) == [0, 1] and (on.on_topic, on.write, on.saying) == (True, True, 2)
    assert sorted(left.members) == [2, 3, 4, 5] and not (left.on_topic or left.write)
    assert left.near == "none of its 4 papers say “state space”"
    # its words used far apart ("state ... latent space") do not say it; one paper using them
    # anywhere was enough for the rule before
    assert sorted(near.members) == list(range(6, 11))
    assert (near.on_topic, near.write, near.saying) == (False, False, 0)
    assert near.near == "none of its 5 papers say “state space”"
    # a theme whose papers all cover the topic is left whole
    papers[2:6] = [make_paper(f"On {i}", said, str(i)) for i in range(2, 6)]
    on, near = mark_off_topic(
        [_spec(list(range(6))), _spec(list(range(6, 11)))],
        papers,
        vectors,
        "state space models",
        embedder,
    )
    assert sorted(on.members) == list(range(6)) and on.on_topic and not near.on_topic
    papers[5] = make_paper("On 5", "Unrelated words.", "5")  # one leaves: a theme of one
    on, near, left = mark_off_topic(
        [_spec(list(range(6))), _spec(list(range(6, 11)))],
        papers,
        vectors,
        "state space models",
        embedder,
    )
    assert left.members == [5] and left.near == "its one paper does not say “state space”"


def test_the_papers_leaving_themes_on_the_topic_make_one_near_theme(embedder: Embedder) -> None:
    said = "We propose a selective state space model for long sequences."
    papers = [
        make_paper(f"P{i}", said if i in (0, 1, 4, 5) else "Other.", str(i)) for i in range(8)
    ]
    themes = [_spec([0, 1, 2, 3]), _spec([4, 5, 6, 7])]
    marked = mark_off_topic(themes, papers, _blobs([4, 4]), "state space models", embedder)
    assert [sorted(t.members) for t in marked] == [[0, 1], [4, 5], [2, 3, 6, 7]]
    assert [t.on_topic for t in marked] == [True, True, False]


def test_papers_that_say_a_topic_no_theme_is_about_become_its_theme(embedder: Embedder) -> None:
    # 3 of 20 papers (in the search's order) say the topic, spread over two themes of 10:
    # neither is a quarter on it; those in the better half of the page become its theme
    papers = [
        make_paper(f"P{i}", "Optical flow estimation." if i in (1, 8, 15) else "Other.", str(i))
        for i in range(20)
    ]
    vectors = _blobs([10, 10])

    def marked() -> list[ThemeSpec]:
        halves = [_spec(list(range(10))), _spec(list(range(10, 20)))]
        return mark_off_topic(halves, papers, vectors, "optical flow", embedder)

    first, *rest = marked()
    assert sorted(first.members) == [1, 8] and first.on_topic and first.write
    assert sorted(i for t in rest for i in t.members) == [i for i in range(20) if i not in (1, 8)]
    assert not any(t.on_topic or t.write for t in rest)  # 15, far down, names it in passing
    # one paper that says it is a theme too (the store's only paper on it is on it) ...
    papers[8] = make_paper("P", "Other.", "x")
    first, *rest = marked()
    assert first.members == [1] and first.on_topic and not any(t.on_topic for t in rest)
    # ... and with none in the better half, every theme stays near
    papers[1] = papers[8]
    assert not any(t.on_topic for t in marked())
    papers[15] = papers[8]  # none at all: the page says so first
    assert not_on_topic(papers, "optical flow").startswith(
        "The indexed papers don't cover “optical flow”; the closest are P0 and P."
    )
    # each part said by some paper, both by none
    papers[0] = make_paper("Diffusion", "Latent diffusion for text.", "d")
    papers[2] = make_paper("Video", "Video generation with GANs.", "v")
    assert not_on_topic(papers, "diffusion models for video generation").startswith(
        "No group of the indexed papers is about “diffusion models for video generation”; "
        "the closest are Diffusion and P."
    )


def test_a_questions_themes_are_judged_by_the_search_order_and_coverage(
    embedder: Embedder,
) -> None:
    # five parts (the aside gives examples): no abstract says them all; a theme is on the
    # question when it holds the best paper or a quarter of its papers are among the best
    # quarter of the page, and one of them covers half of what is asked
    question = (
        "How do papers remove or check the removal of specific knowledge (facts, people) "
        "from a trained language model?"
    )
    answers = "We remove specific knowledge from a trained language model and check its removal."
    papers = [
        make_paper(f"P{i}", answers if i in (1, 5) else "Unrelated words.", str(i))
        for i in range(12)
    ]
    best, mixed = _spec([0, 5, 6, 7]), _spec([1, 10, 11])
    far, other = _spec([2, 3, 4]), _spec([8, 9])
    themes = mark_off_topic([far, other, mixed, best], papers, _blobs([12]), question, embedder)
    assert themes[:2] == [mixed, best]
    assert (mixed.on_topic, mixed.write, mixed.saying) == (True, True, 1)  # 1 of 3 in the best 3
    assert (best.on_topic, best.saying) == (True, 1)  # 1 of 4, but the best paper's theme
    assert (far.on_topic, far.write, far.saying) == (False, False, 1)
    assert far.near == "none of its 3 papers covers half of what the question asks"
    assert (other.on_topic, other.saying) == (False, 0)
    assert other.near == "none of its 2 papers are among the 3 closest to the question"
    assert not_on_topic(papers, question).startswith(
        "No theme of these papers is mostly about the question; the closest are P0 and P1."
    )
