"""Interests, saved papers and the "for you" ranking, on the sample store (real Chroma, real
embedding model): the file beside the store, the CLI, the ranker's signals and its why lines.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from assistant.cli import cli
from assistant.errors import InputError
from assistant.interests import (
    add_interest,
    changing_profile,
    load_profile,
    profile_path,
    save_papers,
)
from assistant.models import Paper
from assistant.models.interests import Interest, PaperRef
from assistant.recommend import SCOPE_PAPERS, ask_scope, for_you, rank, similar
from assistant.settings import Settings
from assistant.store import open_store
from assistant.text import split_sentences


@pytest.fixture
def profile(sample_settings: Settings) -> Iterator[Settings]:
    """The sample store with no interests file before or after the test."""
    path = profile_path(sample_settings)
    path.unlink(missing_ok=True)
    yield sample_settings
    path.unlink(missing_ok=True)


def _paper(settings: Settings, title_start: str) -> Paper:
    return next(p for p in open_store(settings).iter_papers() if p.title.startswith(title_start))


def _run(settings: Settings, *args: str) -> str:
    result = CliRunner().invoke(cli, ["--store", str(settings.store_dir), *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_interests_are_kept_whole_in_a_readable_file_and_listed_by_the_cli(
    profile: Settings,
) -> None:
    ems = _paper(profile, "EMS:")
    _run(profile, "interest", "add", "kv", "--phrase", "KV cache compression", "--not", "video")
    _run(profile, "interest", "add", "like-ems", "--seed", ems.id)
    saved = json.loads(profile_path(profile).read_text())
    assert saved["interests"][0] == {
        "name": "kv",
        "phrases": ["KV cache compression"],
        "not": ["video"],
        "seeds": [],
    }
    assert saved["interests"][1]["seeds"] == [{"id": ems.id, "title": ems.title}]
    listed = json.loads(_run(profile, "interest", "list", "--json"))
    assert [i["name"] for i in listed] == ["kv", "like-ems"]
    assert "not     video" in _run(profile, "interest", "show", "KV")  # any case

    bad = CliRunner().invoke(
        cli, ["--store", str(profile.store_dir), "interest", "add", "x", "--seed", "no-such-id"]
    )
    assert bad.exit_code == 1 and "no paper with id 'no-such-id'" in bad.output
    again = CliRunner().invoke(
        cli, ["--store", str(profile.store_dir), "interest", "add", "kv", "--phrase", "x"]
    )
    assert again.exit_code == 1 and "--replace" in again.output
    assert json.loads(profile_path(profile).read_text()) == saved  # both failures left it alone

    _run(profile, "interest", "remove", "like-ems")
    assert [i.name for i in load_profile(profile).interests] == ["kv"]


def test_a_damaged_interests_file_is_reported_and_never_overwritten(profile: Settings) -> None:
    path = profile_path(profile)
    path.write_text('{"version": 1, "interests": [{"name": "kv", "phrases": 3}]}')
    with pytest.raises(InputError, match=r"interests\.json: interests\.0\.phrases"):
        add_interest(profile, "flow", phrases=["optical flow"])
    assert path.read_text() == '{"version": 1, "interests": [{"name": "kv", "phrases": 3}]}'


def test_two_writers_at_once_lose_neither_change(profile: Settings) -> None:
    first_holds = threading.Event()
    second_started = threading.Event()
    order: list[str] = []

    def second() -> None:
        second_started.set()
        add_interest(profile, "flow", phrases=["optical flow"])
        order.append("second saved")

    with changing_profile(profile) as held:
        first_holds.set()
        thread = threading.Thread(target=second)
        thread.start()
        assert second_started.wait(10)
        thread.join(0.5)  # it must be waiting for the lock, not done
        assert thread.is_alive() and not order
        held.interests.append(Interest(name="kv", phrases=["KV cache"]))
        order.append("first saved")
    thread.join(30)
    assert order == ["first saved", "second saved"]
    assert [i.name for i in load_profile(profile).interests] == ["kv", "flow"]


def test_for_you_ranks_by_phrases_and_says_why_with_a_verbatim_sentence(
    profile: Settings,
) -> None:
    add_interest(profile, "flow", phrases=["optical flow"])
    result = for_you(profile, "flow", k=5)
    assert result.scope == "the whole store" and result.candidates == 583
    top = result.papers[0]
    assert "SplatFlow" in top.paper.title and top.because == "phrase"
    assert top.matched == "optical flow" and top.sentence in split_sentences(top.paper.abstract)
    assert top.why.startswith("matches “optical flow”: “")
    scores = [r.score for r in result.papers]
    assert scores == sorted(scores, reverse=True)
    # The sample holds few optical flow papers: the rest are ranked, but said to be weaker.
    assert "optical flow" in (top.sentence or "").lower()
    assert all(r.sentence in split_sentences(r.paper.abstract) for r in result.papers)
    assert result.weaker, "the top 5 holds papers that never say 'optical flow'"
    assert all(
        r.why.startswith("weaker match: no sentence says “optical flow”") for r in result.weaker
    )

    out = json.loads(_run(profile, "for-you", "flow", "-k", "3", "--json"))
    assert len(out) == 3
    assert {"paper", "score", "why"} <= set(out[0]) and {"id", "title"} <= set(out[0]["paper"])


def test_a_negative_phrase_leaves_out_the_papers_about_it(profile: Settings) -> None:
    def says_quantization(paper: Paper) -> bool:
        return "quantiz" in paper.text.lower()

    plain = rank(profile, Interest(name="kv", phrases=["KV cache compression"]), k=10)
    assert any(says_quantization(r.paper) for r in plain.papers)  # the fault to remove
    assert plain.left_out == 0

    negated = Interest(name="kv", phrases=["KV cache compression"], negatives=["quantization"])
    result = rank(profile, negated, k=10)
    assert len(result.papers) == 10 and result.left_out > 0
    assert not any(says_quantization(r.paper) for r in result.papers)
    assert any("left out as about 'quantization'" in n for n in result.notices)


def test_papers_like_a_seed_name_it_and_never_rank_the_seed(profile: Settings) -> None:
    ems = _paper(profile, "EMS:")
    result = similar(profile, [ems.id], k=5)
    assert ems.id not in [r.paper.id for r in result.papers]
    assert result.candidates == 582
    kv = [r for r in result.papers if "KV" in r.paper.text or "key-value" in r.paper.text.lower()]
    assert len(kv) >= 4, [r.paper.title for r in result.papers]
    assert all(r.because == "seed" and r.matched == ems.title for r in result.papers)
    assert result.papers[0].why.startswith(f"close to “{ems.title}” (similarity 0.")
    assert result.interest == f"papers like “{ems.title}”"


def test_the_learned_ranker_uses_the_seeds_beside_the_phrases(profile: Settings) -> None:
    ems, finch = _paper(profile, "EMS:"), _paper(profile, "Finch:")
    seeds = [PaperRef(id=p.id, title=p.title) for p in (ems, finch)]
    phrases_only = rank(profile, Interest(name="a", phrases=["memory of long contexts"]), k=10)
    both = rank(profile, Interest(name="b", phrases=["memory of long contexts"], seeds=seeds), k=10)

    def kv(r: object) -> bool:
        text = r.paper.text.lower()  # type: ignore[attr-defined]
        return "kv cache" in text or "key-value" in text

    assert sum(map(kv, both.papers)) > sum(map(kv, phrases_only.papers))
    assert {"phrase", "seed"} >= {r.because for r in both.papers}
    with pytest.raises(InputError, match="the seeds ranker needs"):
        rank(profile, Interest(name="c", phrases=["x"]), ranker="seeds")


def test_an_interest_of_two_phrases_puts_papers_that_say_both_first(profile: Settings) -> None:
    # Scored by the best phrase alone, the top 3 were continual learning papers with no prompt
    # or prompt papers with no continual learning; the phrases' mean asks for the interest.
    interest = Interest(name="cl", phrases=["continual learning", "prompt tuning"])
    top = rank(profile, interest, k=3).papers

    def says_both(paper: Paper) -> bool:
        text = paper.text.lower()
        return "continual" in text and "prompt" in text

    assert all(says_both(r.paper) for r in top), [r.paper.title for r in top]


def test_a_week_ranks_only_its_papers(profile: Settings) -> None:
    add_interest(profile, "flow", phrases=["optical flow"])
    week = for_you(profile, "flow", k=50, week="2024-W11")
    assert week.scope == "week 2024-W11" and 0 < week.candidates < 583
    assert all(
        r.paper.published and r.paper.published.isocalendar()[:2] == (2024, 11) for r in week.papers
    )
    with pytest.raises(InputError, match="not an ISO week"):
        for_you(profile, "flow", week="March")


def test_saved_papers_export_and_scope_a_question(
    profile: Settings, fake_settings: Settings, tmp_path: Path
) -> None:
    ems, finch, flow = (_paper(profile, t) for t in ("EMS:", "Finch:", "SplatFlow"))
    _run(profile, "saved", "add", ems.id, finch.id, "--to", "kv-reading")
    _run(profile, "saved", "add", flow.id)  # the default collection
    assert "kv-reading: 2 paper(s)" in _run(profile, "saved", "list")
    assert "starred: 1 paper(s)" in _run(profile, "saved", "list")

    md = _run(profile, "saved", "export", "kv-reading")
    assert md.startswith("# kv-reading\n") and "1. EMS: Adaptive" in md and "2. Finch" in md
    out = tmp_path / "kv.bib"
    _run(profile, "saved", "export", "kv-reading", "--format", "bibtex", "--out", str(out))
    assert out.read_text().count("@misc{") == 2

    asked = CliRunner().invoke(
        cli,
        [
            "--store",
            str(fake_settings.store_dir),
            "ask",
            "How do they keep memory small?",
            "--collection",
            "kv-reading",
            "--json",
            "--provider",
            "fake",
        ],
    )
    assert asked.exit_code == 0, asked.output
    sources = {s["paper_id"] for s in json.loads(asked.output)["sources"]}
    assert sources and sources <= {ems.id, finch.id}

    _run(profile, "saved", "remove", ems.id, "--from", "kv-reading")
    assert [p.id for p in save_papers(profile, [], "kv-reading").papers] == [finch.id]


def test_an_interests_week_lists_its_papers_first_and_has_its_own_feed(
    profile: Settings, fake_settings: Settings
) -> None:
    import shutil

    import feedparser

    from assistant.weekly import build_week, feed_path, iso_week, list_saved_weeks, weekly_dir

    added = _paper(profile, "EMS:").added  # undated: it counts in the week it was ingested
    assert added is not None
    week = iso_week(added)
    add_interest(profile, "kv", phrases=["KV cache compression"], negatives=["quantization"])
    try:
        built = build_week(fake_settings, week, interest="kv", use_llm=False)
        assert built.status == "written" and built.digest is not None
        digest = built.digest
        assert digest.interest == "kv" and digest.title == f"Week {week} for kv"
        assert 3 <= len(digest.for_you) <= fake_settings.digest.interest_papers
        assert {c.paper_id for c in digest.citations} == {r.paper.id for r in digest.for_you}
        assert not any("quantiz" in r.paper.text.lower() for r in digest.for_you)
        assert any("match the interest 'kv'" in n for n in digest.notices)

        folder = weekly_dir(fake_settings, "kv")
        assert folder.name == "for-kv" and (folder / f"{week}.html").exists()
        md = (folder / f"{week}.md").read_text()
        assert md.index("## For you: kv") < md.index("## Overview")
        assert digest.for_you[0].why in md.replace("*", "")
        parsed = feedparser.parse(feed_path(fake_settings, "kv").read_text())
        assert not parsed.bozo and parsed.version == "atom10"
        assert [e.id for e in parsed.entries] == [f"urn:papers-assistant:weekly:for-kv:{week}"]
        assert parsed.entries[0].link.endswith(f"{week}.html")
        # the weeks for everyone are another folder and feed
        assert not any("for kv" in w.title for w in list_saved_weeks(fake_settings))

        again = build_week(fake_settings, week, interest="kv", use_llm=False)
        assert again.status == "exists"
        with pytest.raises(InputError, match="no interest named 'nope'"):
            build_week(fake_settings, week, interest="nope", use_llm=False)
    finally:
        shutil.rmtree(weekly_dir(fake_settings, "kv"), ignore_errors=True)


def test_a_short_question_about_papers_the_user_picked_is_answered(profile: Settings) -> None:
    from assistant.evidence import gather

    flow = _paper(profile, "SplatFlow")
    asked = gather("How does it handle occlusion?", profile, ids=[flow.id], k=3)
    assert [h.paper.id for h in asked.hits] == [flow.id]
    # far from the whole abstract (the similarity gate alone would refuse it) ...
    assert asked.hits[0].similarity < profile.answer.min_relevance
    assert asked.relevant  # ... but the picked paper says what is asked
    assert not gather("What does it say about protein folding?", profile, ids=[flow.id]).relevant


def test_bad_interests_are_clear_errors_and_change_nothing(profile: Settings) -> None:
    add_interest(profile, "kv", phrases=["KV cache"])
    before = profile_path(profile).read_bytes()
    for kwargs, message in (
        ({"name": "empty"}, "needs a --phrase or a --seed"),
        ({"name": "long", "phrases": ["x" * 10_000]}, "longer than 200 characters"),
        ({"name": "", "phrases": ["x"]}, "must start with a letter or digit"),
        ({"name": "a/b", "phrases": ["x"]}, "must start with a letter or digit"),
        ({"name": "blank", "phrases": ["  "]}, "empty phrase"),
        ({"name": "seed", "seeds": ["t-0000"]}, "no paper with id 't-0000'"),
    ):
        with pytest.raises(InputError, match=message):
            add_interest(profile, **kwargs)  # type: ignore[arg-type]
    assert profile_path(profile).read_bytes() == before


@pytest.mark.server
def test_for_you_on_a_chroma_server(chroma_server: str, tmp_path: Path, embedder: object) -> None:
    import uuid

    from assistant.ingest import ingest_papers
    from assistant.parse import parse_paths
    from tests.conftest import SAMPLE

    settings = Settings(
        chroma_url=chroma_server, collection=f"i{uuid.uuid4().hex[:8]}", store_dir=tmp_path
    )
    papers = parse_paths([SAMPLE / "000_008a4770ab7d3f29.txt"], year=2024).papers[:40]
    ingest_papers(open_store(settings), embedder, papers)  # type: ignore[arg-type]
    add_interest(settings, "flow", phrases=["optical flow"])
    result = for_you(settings, "flow", k=5)
    assert result.candidates == len({p.id for p in papers})
    assert "SplatFlow" in result.papers[0].paper.title and result.papers[0].strong
    assert profile_path(settings).parent == tmp_path.resolve()  # beside the local folder
    like = similar(settings, [result.papers[0].paper.id], k=3)
    assert len(like.papers) == 3 and result.papers[0].paper.id not in {
        r.paper.id for r in like.papers
    }


def test_papers_saved_under_an_interests_name_are_learned_from_and_named(
    profile: Settings,
) -> None:
    """A collection named like the interest adds its papers to the seeds: a phrase-only
    interest then ranks papers close to them, and says which (it raised "nothing to say
    why" when only the seeds were looked at for the why)."""
    saved = [_paper(profile, t) for t in ("EMS:", "D2O:", "Model Tells You")]
    add_interest(profile, "kv", phrases=["memory of long contexts"])
    save_papers(profile, [p.id for p in saved], "kv")
    result = for_you(profile, "kv", k=10)
    assert result.candidates == 583 - len(saved)
    assert not {p.id for p in saved} & {r.paper.id for r in result.papers}
    by_seed = [r for r in result.papers if r.because == "seed"]
    assert by_seed and all(r.matched in {p.title for p in saved} for r in by_seed)


def test_a_chat_scoped_to_an_interest_reads_its_strong_matches(profile: Settings) -> None:
    add_interest(profile, "flow", phrases=["optical flow"])
    ranked = for_you(profile, "flow", k=SCOPE_PAPERS)
    strong = [r.paper.id for r in ranked.strong]
    assert strong and len(strong) < len(ranked.papers)  # the sample: few say optical flow
    assert ask_scope(profile, interest="flow") == strong  # not the weaker matches after them


def test_asking_the_papers_of_a_ranked_week_reads_that_week_only(profile: Settings) -> None:
    from assistant.recommend import scope_ids as week_scope
    from assistant.ui.common import scope_ids, scope_value

    add_interest(profile, "flow", phrases=["optical flow"])
    week, _ = week_scope(profile, week="2024-W11")
    asked = scope_ids(profile, scope_value("interest", "flow", "2024-W11"))
    ranked = for_you(profile, "flow", k=SCOPE_PAPERS, week="2024-W11")
    assert asked == [r.paper.id for r in ranked.strong or ranked.papers]
    assert asked and week is not None and set(asked) <= set(week)
    assert scope_ids(profile, scope_value("interest", "flow")) == ask_scope(
        profile, interest="flow"
    )
    # Ranked between dates, the chat reads those dates' papers.
    march = (dt.date(2024, 3, 1), dt.date(2024, 3, 31))
    value = scope_value("interest", "flow", since=march[0], until=march[1])
    assert value == "interest: flow · since 2024-03-01 · until 2024-03-31"
    between, _ = week_scope(profile, since=march[0], until=march[1])
    asked = scope_ids(profile, value)
    assert asked and between is not None and set(asked) <= set(between)
    assert asked == ask_scope(profile, interest="flow", since=march[0], until=march[1])
