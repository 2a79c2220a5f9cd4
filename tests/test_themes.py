"""Themes: clustering papers by their vectors and naming the clusters (no store, no model)."""

from __future__ import annotations

import numpy as np

from assistant.llm import FakeLLM
from assistant.models import Paper
from assistant.settings import LLMSettings
from assistant.themes import ask_names, choose_clusters, keyword_name, parse_names, silhouette


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


def test_keyword_names_use_the_words_a_theme_shares_and_others_lack() -> None:
    flow = [Paper(id=f"f{i}", title=f"Optical flow estimation {i}", abstract="") for i in range(3)]
    other = [Paper(id="d", title="Diffusion image synthesis", abstract="")]
    assert keyword_name(flow, flow + other) == "estimation · flow · optical"  # ties: a-z
    assert keyword_name(other, flow + other) == "diffusion · image · synthesis"
    assert keyword_name([Paper(id="x", title="A study of the", abstract="")], []) == (
        "other papers"  # nothing but stop words
    )
