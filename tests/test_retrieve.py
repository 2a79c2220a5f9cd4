"""Retrieval with the real embedder and real Chroma: modes, fusion, filters, MMR, BM25 index
lifecycle, bad input, the CLI, a Chroma server, and the hit@5 floor on the core eval suite."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from assistant.cli import cli
from assistant.errors import InputError
from assistant.evals.suite import GoldResolution, Suite, load_suite, resolve_gold, title_index
from assistant.ingest import ingest_papers
from assistant.models import Paper
from assistant.parse import make_paper, parse_paths
from assistant.retrieve import (
    MODES,
    Retriever,
    SearchFilters,
    best_sentences,
    get_retriever,
    mmr_order,
    reciprocal_rank_fusion,
)
from assistant.settings import Settings
from assistant.store import open_store, where_filter
from assistant.text import split_sentences
from tests.conftest import ROOT, SAMPLE

CORE_SUITE = ROOT / "eval" / "suites" / "core.jsonl"
FLOW_QUERY = "estimating motion between video frames when regions are occluded"
FLOW_TITLE = "SplatFlow: Learning Multi-frame Optical Flow via Splatting"


@pytest.fixture(scope="module")
def sample(sample_settings: Settings) -> Retriever:
    """The process-wide retriever over the shared sample store."""
    return get_retriever(sample_settings)


@pytest.fixture(scope="module")
def few_papers() -> list[Paper]:
    """Fifteen sample papers (their vectors are already in the embedder's cache)."""
    return parse_paths([SAMPLE / "000_008a4770ab7d3f29.txt"], year=2024).papers[:15]


def small_store(tmp_path: Path, embedder: Any, papers: list[Paper], **kw: Any) -> Settings:
    """Settings of a fresh embedded store holding ``papers``."""
    settings = Settings(store_dir=tmp_path / "store", **kw)
    ingest_papers(open_store(settings), embedder, papers)
    return settings


def titles(hits: list[Any]) -> list[str]:
    return [h.paper.title for h in hits]


# --- modes ---------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_each_mode_finds_the_paper_and_reports_its_ranks(sample: Retriever, mode: str) -> None:
    result = sample.search(FLOW_QUERY, k=8, mode=mode, sentences=False)
    hits = result.hits
    assert result.mode == mode and len(hits) == 8
    assert FLOW_TITLE in titles(hits[:3])
    assert [h.rank for h in hits] == list(range(1, 9))
    assert len({h.paper.id for h in hits}) == 8
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)
    for hit in hits:
        assert -1.0 <= hit.similarity <= 1.0
        if mode == "dense":
            assert hit.bm25_rank is None and hit.dense_rank == hit.rank
            assert hit.score == pytest.approx(hit.similarity, abs=1e-3)
        elif mode == "bm25":
            assert hit.dense_rank is None and hit.bm25_rank == hit.rank
            assert hit.score == pytest.approx(hit.bm25_score, abs=1e-3) and hit.score > 0
        else:
            ranks = [r for r in (hit.dense_rank, hit.bm25_rank) if r is not None]
            assert ranks, "a fused hit comes from at least one retriever"
            assert hit.score == pytest.approx(
                sum(1 / (sample.config.rrf_k + r) for r in ranks), abs=1e-5
            )


def test_similarity_is_the_stored_vector_cosine_for_bm25_only_hits(
    sample: Retriever, embedder: Any
) -> None:
    hits = sample.search("kv cache eviction", k=6, mode="bm25", sentences=False).hits
    assert len(hits) == 6
    stored = sample.store.vectors([h.paper.id for h in hits])
    query = embedder.embed_one("kv cache eviction")
    for hit in hits:
        assert hit.similarity == pytest.approx(float(stored[hit.paper.id] @ query), abs=1e-3)


def test_hybrid_combines_both_lists(sample: Retriever) -> None:
    query = "kv cache quantization bits"
    hits = sample.search(query, k=10, mode="hybrid", sentences=False).hits
    dense = sample.search(query, k=50, mode="dense", sentences=False).hits
    bm25 = sample.search(query, k=50, mode="bm25", sentences=False).hits
    assert len(hits) == 10 and len(dense) == 50 and bm25
    assert any(h.dense_rank and h.bm25_rank for h in hits), "agreeing papers are fused"
    assert {h.paper.id for h in hits} <= {h.paper.id for h in dense} | {h.paper.id for h in bm25}


# --- fusion and MMR units ------------------------------------------------------------------


def test_reciprocal_rank_fusion_on_hand_made_rankings() -> None:
    fused = reciprocal_rank_fusion([["a", "b", "c"], ["c", "a", "d"]], k=60)
    assert [pid for pid, _ in fused] == ["a", "c", "b", "d"]
    scores = dict(fused)
    assert scores["a"] == pytest.approx(1 / 61 + 1 / 62)
    assert scores["c"] == pytest.approx(1 / 63 + 1 / 61)
    assert scores["d"] == pytest.approx(1 / 63)
    # Ties: equal scores go to the better single rank; repeats inside one list count once.
    tied = reciprocal_rank_fusion([["x", "y", "x"], ["y", "x"]], k=1)
    assert [pid for pid, _ in tied] == ["x", "y"]
    assert dict(tied)["x"] == pytest.approx(1 / 2 + 1 / 3)
    assert reciprocal_rank_fusion([[], []], k=10) == []
    # A weight per list scales its share (eval/retrieval_ceiling.py sweeps the BM25 weight).
    weighted = dict(reciprocal_rank_fusion([["a", "b"], ["b", "a"]], k=10, weights=[1.0, 0.5]))
    assert weighted["a"] == pytest.approx(1 / 11 + 0.5 / 12)
    assert weighted["b"] == pytest.approx(1 / 12 + 0.5 / 11)


def test_mmr_skips_a_near_duplicate_for_a_different_item() -> None:
    vectors = np.array([[1.0, 0.0], [0.999, 0.045], [0.0, 1.0]])
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    relevance = np.array([1.0, 0.95, 0.6])
    assert mmr_order(relevance, vectors, 3, lam=1.0) == [0, 1, 2]
    assert mmr_order(relevance, vectors, 2, lam=0.5) == [0, 2]


# --- filters -------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_date_range_is_respected_and_still_fills_k(sample: Retriever, mode: str) -> None:
    since, until = dt.date(2024, 8, 1), dt.date(2024, 8, 31)
    inside = sample.store.list_papers(SearchFilters(since=since, until=until))
    assert len(inside) >= 10
    unfiltered = sample.search("language models", k=10, mode=mode, sentences=False).hits
    assert len(unfiltered) == 10
    assert any(h.paper.published != dt.date(2024, 8, 11) for h in unfiltered), "filter must work"
    filters = SearchFilters(since=since, until=until)
    hits = sample.search("language models", k=10, mode=mode, filters=filters, sentences=False).hits
    assert len(hits) == 10
    assert all(h.paper.published and since <= h.paper.published <= until for h in hits)


@pytest.mark.parametrize("mode", MODES)
def test_source_filter(sample: Retriever, mode: str) -> None:
    source = "001_9d533ba750abefce.txt"
    filters = SearchFilters(source=source)
    hits = sample.search(
        "in-context learning", k=10, mode=mode, filters=filters, sentences=False
    ).hits
    assert len(hits) == 10
    assert all(source in h.paper.sources for h in hits)


@pytest.mark.parametrize(
    ("filters", "matches"),
    [
        (SearchFilters(since=dt.date(2024, 8, 1)), True),
        (SearchFilters(until=dt.date(2024, 3, 31)), True),
        (SearchFilters(since=dt.date(2024, 3, 13), until=dt.date(2024, 3, 13)), True),
        (SearchFilters(source="002_845fed19e190d690.txt"), True),
        (SearchFilters(source="002_845fed19e190d690.txt", since=dt.date(2024, 1, 1)), True),
        (SearchFilters(added_since=dt.date.today()), True),
        (SearchFilters(source="no-such-file.txt"), False),
    ],
)
def test_bm25_filter_mask_selects_what_the_store_where_selects(
    sample: Retriever, filters: SearchFilters, matches: bool
) -> None:
    mask = sample.catalog().allowed(filters)
    assert mask is not None
    from_index = {pid for pid, ok in zip(sample.bm25_index().ids, mask, strict=True) if ok}
    assert bool(from_index) == matches
    assert from_index == {p.id for p in sample.store.iter_papers(where_filter(filters))}


def test_added_since_filter(tmp_path: Path, embedder: Any, few_papers: list[Paper]) -> None:
    settings = Settings(store_dir=tmp_path / "store")
    store = open_store(settings)
    old, new = few_papers[:8], few_papers[8:]
    ingest_papers(store, embedder, old, today=dt.date(2020, 1, 1))
    ingest_papers(store, embedder, new, today=dt.date.today())
    retriever = Retriever(settings, store=store, embedder=embedder)
    recent = SearchFilters(added_since=dt.date.today() - dt.timedelta(days=7))
    new_ids = {p.id for p in new}
    for mode in MODES:
        hits = retriever.search("learning", k=20, mode=mode, filters=recent, sentences=False).hits
        assert hits and {h.paper.id for h in hits} <= new_ids
        assert len(hits) == len(new) or mode == "bm25"  # BM25 returns only word matches
    future = SearchFilters(added_since=dt.date.today() + dt.timedelta(days=1))
    assert retriever.search("learning", mode="hybrid", filters=future).hits == []


def test_since_after_until_is_an_input_error(sample: Retriever) -> None:
    with pytest.raises(InputError, match="after"):
        sample.search(
            "x y", filters=SearchFilters(since=dt.date(2024, 9, 1), until=dt.date(2024, 1, 1))
        )


# --- diversity, duplicates, evidence -------------------------------------------------------


def test_mmr_returns_fewer_near_duplicates(
    tmp_path: Path, embedder: Any, few_papers: list[Paper]
) -> None:
    base = few_papers[0]  # SplatFlow
    variants = [
        make_paper(f"{base.title} ({tag})", base.abstract.replace("This study", f"Our {tag}"), "x")
        for tag in ("extended version", "journal version", "workshop version")
    ]
    settings = small_store(tmp_path, embedder, few_papers + variants)
    retriever = Retriever(settings, embedder=embedder)
    group = {base.id} | {v.id for v in variants}
    plain = retriever.search(FLOW_QUERY, k=4, mmr=False, sentences=False).hits
    diverse = retriever.search(FLOW_QUERY, k=4, mmr=True, sentences=False).hits
    assert len(plain) == len(diverse) == 4
    assert sum(h.paper.id in group for h in plain) == 4
    assert sum(h.paper.id in group for h in diverse) < 4
    assert diverse[0].paper.id in group, "MMR keeps the most relevant paper first"


TOPICS = (
    "in-context learning theory",
    "KV cache compression",
    "diffusion models for video generation",
    "speech recognition",
    "optical flow",
)


def test_mmr_lowers_redundancy_on_topic_queries(sample: Retriever) -> None:
    """On average over topic queries: on one query the fused top may already be diverse."""

    def redundancy(query: str, mmr: bool) -> float:
        hits = sample.search(query, k=6, mmr=mmr, sentences=False).hits
        assert len(hits) == 6
        vectors = np.stack(list(sample.store.vectors([h.paper.id for h in hits]).values()))
        sims = vectors @ vectors.T
        return float(sims[np.triu_indices(len(hits), 1)].mean())

    plain = [redundancy(q, False) for q in TOPICS]
    diverse = [redundancy(q, True) for q in TOPICS]
    assert np.mean(diverse) < np.mean(plain)


@pytest.mark.parametrize("mode", MODES)
def test_no_paper_appears_twice(sample: Retriever, mode: str) -> None:
    hits = sample.search("transformers attention", k=60, mode=mode, mmr=True, sentences=False).hits
    assert len(hits) == 60
    assert len({h.paper.id for h in hits}) == len({h.paper.title_key for h in hits}) == 60


def test_sentences_stored_with_an_older_split_are_embedded_again(sample: Retriever) -> None:
    """A store written before the splitter learned "vs." and "e.g." still gives whole
    sentences: a stored split that differs from today's is treated as missing."""
    abstract = (
        "The optimal masking ratio is as high as 90% (vs. 75% for images). "
        "Methods (e.g. LoRA) adapt few weights. Occlusions are handled by splatting."
    )
    paper = make_paper("Masking study", abstract, "x")
    old_split = [  # as the splitter cut it before
        "The optimal masking ratio is as high as 90% (vs.",
        "75% for images).",
        "Methods (e.g.",
        "LoRA) adapt few weights.",
        "Occlusions are handled by splatting.",
    ]
    assert split_sentences(abstract) == [
        "The optimal masking ratio is as high as 90% (vs. 75% for images).",
        "Methods (e.g. LoRA) adapt few weights.",
        "Occlusions are handled by splatting.",
    ]
    stale = {paper.id: (old_split, sample.embedder.embed(old_split))}
    query = sample.embedder.embed_one("What masking ratio works best?")
    [matches] = best_sentences(sample.embedder, query, [paper], 3, stale)
    assert {m.text for m in matches} == set(split_sentences(abstract))
    assert matches[0].text.startswith("The optimal masking ratio")


def test_best_sentences_come_from_the_abstract_best_first(sample: Retriever) -> None:
    hits = sample.search(FLOW_QUERY, k=3).hits
    assert len(hits) == 3
    top = next(h for h in hits if h.paper.title == FLOW_TITLE)
    assert "occlu" in top.best_sentences[0].text.lower()
    for hit in hits:
        assert 1 <= len(hit.best_sentences) <= sample.config.best_sentences
        assert all(s.text in hit.paper.abstract for s in hit.best_sentences)
        scores = [s.score for s in hit.best_sentences]
        assert scores == sorted(scores, reverse=True)
    without = sample.search(FLOW_QUERY, sentences=False).hits
    assert without and all(not h.best_sentences for h in without)


# --- the BM25 index on disk ----------------------------------------------------------------


def test_bm25_index_is_persisted_reused_and_rebuilt_on_change(
    tmp_path: Path, embedder: Any, few_papers: list[Paper]
) -> None:
    settings = small_store(tmp_path, embedder, few_papers[:10])
    first = Retriever(settings, embedder=embedder)
    assert first.search("splatting", k=3, mode="bm25", sentences=False).hits
    assert first.index_event and first.index_event[0] == "built"
    saved = [p for p in first.index_root.iterdir() if not p.name.startswith(".")]
    assert len(saved) == 1 and (saved[0] / "meta.json").exists()
    assert first.index_root.is_relative_to(settings.store_dir.resolve() / "bm25")

    index = first.bm25_index()
    first.search("occlusion", mode="hybrid", sentences=False)
    assert first.bm25_index() is index, "never rebuilt per query"

    second = Retriever(settings, embedder=embedder)  # what a new process does
    second.bm25_index()
    assert second.index_event and second.index_event[0] == "loaded"

    novel = make_paper("Quokka", "We study the zyxwvut phenomenon in marsupial vision models.", "n")
    ingest_papers(open_store(settings), embedder, [novel])
    hits = first.search("zyxwvut", k=3, mode="bm25", sentences=False).hits
    assert [h.paper.id for h in hits] == [novel.id]
    assert first.index_event and first.index_event[0] == "built"
    remaining = [p for p in first.index_root.iterdir() if not p.name.startswith(".")]
    assert len(remaining) == 1 and remaining[0] != saved[0], "the stale revision is removed"


# --- bad input -----------------------------------------------------------------------------


@pytest.mark.parametrize("query", ["", "   \n\t "])
def test_empty_query(sample: Retriever, query: str) -> None:
    with pytest.raises(InputError, match="empty"):
        sample.search(query)


def test_huge_query_is_truncated_and_said_so(sample: Retriever) -> None:
    query = ("optical flow occlusion " * 3000)[:50_000]
    result = sample.search(query, k=3, sentences=False)
    assert result.truncated and len(result.query) <= sample.config.max_query_chars
    assert "50,000" in result.notices[0] and len(result.hits) == 3


@pytest.mark.parametrize("k", [0, -3])
def test_k_below_one(sample: Retriever, k: int) -> None:
    with pytest.raises(InputError, match="at least 1"):
        sample.search("flow", k=k)


def test_huge_k_is_capped(sample: Retriever) -> None:
    result = sample.search("flow", k=10**6, mode="dense", sentences=False)
    assert result.k == sample.config.max_k == len(result.hits)
    assert "max_k" in result.notices[0]


def test_unknown_mode(sample: Retriever) -> None:
    with pytest.raises(InputError, match="hybrid, dense, bm25"):
        sample.search("flow", mode="sparse")


def test_empty_store(tmp_path: Path) -> None:
    store = tmp_path / "empty"
    with pytest.raises(InputError, match=f"empty: run 'assistant --store {store} ingest"):
        Retriever(Settings(store_dir=store)).search("flow")


# --- CLI -----------------------------------------------------------------------------------


def test_cli_table_and_json(sample_settings: Settings) -> None:
    runner = CliRunner()
    store = str(sample_settings.store_dir)
    table = runner.invoke(cli, ["--store", store, "search", FLOW_QUERY, "-k", "3"])
    assert table.exit_code == 0, table.output
    assert "SplatFlow" in table.output and "score" in table.output

    out = runner.invoke(
        cli, ["--store", store, "search", FLOW_QUERY, "-k", "4", "--mode", "dense", "--json"]
    )
    assert out.exit_code == 0, out.output
    items = json.loads(out.stdout)
    assert [i["rank"] for i in items] == [1, 2, 3, 4]
    assert {"rank", "score", "paper", "similarity", "best_sentences"} <= set(items[0])
    assert {"id", "title", "date"} <= set(items[0]["paper"])

    dated = runner.invoke(
        cli, ["--store", store, "search", "models", "--since", "2024-08-01", "--json"]
    )
    assert dated.exit_code == 0, dated.output
    dated_items = json.loads(dated.stdout)
    assert dated_items and all(i["paper"]["date"] >= "2024-08-01" for i in dated_items)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["search", "flow", "-k", "0"], "at least 1"),
        (["search", "  "], "empty"),
        (["search", "flow", "--since", "2024-02-30"], "not a date"),
        (["search", "flow", "--added-days", "-1"], "0 or more"),
    ],
)
def test_cli_bad_input_is_one_line(
    sample_settings: Settings, args: list[str], message: str
) -> None:
    result = CliRunner().invoke(cli, ["--store", str(sample_settings.store_dir), *args])
    assert result.exit_code == 1
    assert message in result.output and "Traceback" not in result.output


def test_cli_unknown_mode_and_empty_store(tmp_path: Path) -> None:
    runner = CliRunner()
    bad = runner.invoke(cli, ["--store", str(tmp_path), "search", "flow", "--mode", "sparse"])
    assert bad.exit_code == 2 and "'sparse' is not one of" in bad.output
    empty = runner.invoke(cli, ["--store", str(tmp_path / "s"), "search", "flow"])
    assert empty.exit_code == 1 and "is empty" in empty.output


def test_paper_vectors_are_read_once_per_revision_and_kept_beside_the_index(
    tmp_path: Path, embedder: Any, few_papers: list[Paper], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The "for you" ranker's matrix: the catalog's order, the stored vectors, and a new
    process maps the kept file instead of reading every vector from the store."""
    settings = Settings(store_dir=tmp_path / "store")
    ingest_papers(open_store(settings), embedder, few_papers)
    first = Retriever(settings, embedder=embedder)
    ids, matrix = first.paper_vectors()
    assert ids == first.catalog().ids and matrix.shape == (15, 384)
    stored = first.store.vectors(ids)
    assert all(np.allclose(matrix[i], stored[pid]) for i, pid in enumerate(ids))

    later = Retriever(settings, store=open_store(settings), embedder=embedder)

    def no_store_read() -> None:
        raise AssertionError("read every vector from the store again")

    monkeypatch.setattr(later.store, "all_vectors", no_store_read)
    again_ids, again = later.paper_vectors()
    assert again_ids == ids and isinstance(again, np.memmap) and np.array_equal(again, matrix)

    # an index in another order than the kept file's (built here: another process saved the
    # folder first) reads the store again rather than take rows for the wrong papers
    shuffled = Retriever(settings, store=open_store(settings), embedder=embedder)
    shuffled.bm25_index().catalog.ids = list(reversed(ids))
    other_ids, other = shuffled.paper_vectors()
    assert other_ids == ids[::-1] and not isinstance(other, np.memmap)
    assert np.allclose(other, matrix[::-1])

    novel = make_paper("Wombat", "The qwertzu effect in burrowing agents.", "n")
    ingest_papers(open_store(settings), embedder, [novel])  # a new revision: read anew
    monkeypatch.undo()
    newer_ids, newer = later.paper_vectors()
    assert len(newer_ids) == 16 and newer.shape == (16, 384)
    assert np.allclose(newer[newer_ids.index(novel.id)], embedder.embed_one(novel.text))


# --- a Chroma server -----------------------------------------------------------------------


@pytest.mark.server
def test_hybrid_search_on_a_chroma_server(
    chroma_server: str, tmp_path: Path, embedder: Any, few_papers: list[Paper]
) -> None:
    settings = Settings(
        chroma_url=chroma_server, collection=f"r{uuid.uuid4().hex[:8]}", store_dir=tmp_path
    )
    ingest_papers(open_store(settings), embedder, few_papers)
    retriever = Retriever(settings, embedder=embedder)
    hits = retriever.search(FLOW_QUERY, k=3, mode="hybrid").hits
    assert hits[0].paper.title == FLOW_TITLE and hits[0].dense_rank and hits[0].bm25_rank
    assert hits[0].best_sentences
    # The index is keyed by server URL + collection, and follows the server's revision.
    assert retriever.index_root.parent == tmp_path.resolve() / "bm25"
    assert retriever.index_root.name.startswith(retriever.store.collection_name + "-")
    novel = make_paper("Wombat", "The qwertzu effect in burrowing agents.", "n")
    ingest_papers(open_store(settings), embedder, [novel])
    assert retriever.search("qwertzu", k=1, mode="bm25").hits[0].paper.id == novel.id


# --- the core eval suite: hit@5 floor ----------------------------------------------------


@pytest.fixture(scope="module")
def core(sample: Retriever) -> tuple[Suite, GoldResolution]:
    """The core suite and its gold papers as ids of the sample store."""
    suite = load_suite(CORE_SUITE)
    return suite, resolve_gold(suite, title_index(sample.store.iter_papers()))


def hit_rate(
    retriever: Retriever, mode: str, suite: Suite, gold: GoldResolution, k: int = 5
) -> float:
    """Share of answerable cases whose every gold paper is in the top k (for a topic core
    larger than k: k of its papers)."""
    cases = suite.answerable
    found = 0
    for case in cases:
        hits = retriever.search(case.question, k=k, mode=mode, sentences=False).hits
        wanted = set(gold.gold[case.id])
        found += len(wanted & {h.paper.id for h in hits}) >= min(len(wanted), k)
    return found / len(cases)


@pytest.fixture(scope="module")
def hit_at_5(sample: Retriever, core: tuple[Suite, GoldResolution]) -> dict[str, float]:
    return {mode: hit_rate(sample, mode, *core) for mode in MODES}


def test_core_suite_gold_is_in_the_store(core: tuple[Suite, GoldResolution]) -> None:
    suite, gold = core
    assert len(suite.answerable) >= 100
    assert gold.missing == []


def test_core_hybrid_hit_at_5(hit_at_5: dict[str, float]) -> None:
    """Hybrid keeps a floor and beats dense alone.

    The floor is the hybrid value measured on core.jsonl over the sample store, rounded down
    to 0.05: 0.812 with rrf_k 10, 0.795 with 60 (dense 0.723, BM25 0.777, 112 answerable
    cases). The old 50 answerable
    smoke questions held 0.9; core adds harder multi_paper and topic cases and rewords the
    smoke questions that repeated their titles' words, so 0.9 no longer holds.
    """
    assert hit_at_5["hybrid"] >= 0.75, hit_at_5
    assert hit_at_5["hybrid"] >= hit_at_5["dense"], hit_at_5


def test_core_hybrid_at_least_as_good_as_bm25(hit_at_5: dict[str, float]) -> None:
    assert hit_at_5["hybrid"] >= hit_at_5["bm25"], hit_at_5


@pytest.mark.parametrize("mode", MODES)
def test_ids_restrict_every_mode_to_those_papers(sample: Retriever, mode: str) -> None:
    everything = sample.search(FLOW_QUERY, k=10, mode=mode, sentences=False).hits
    assert len(everything) == 10
    chosen = [everything[7].paper.id, everything[3].paper.id, everything[9].paper.id]
    hits = sample.search(FLOW_QUERY, k=5, mode=mode, sentences=False, ids=chosen).hits
    assert {h.paper.id for h in hits} == set(chosen)
    assert hits[0].paper.id == everything[3].paper.id  # still ranked by the query
