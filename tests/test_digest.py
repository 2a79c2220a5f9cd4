"""Topic digests with the deterministic fake LLM, the real embedder and the sample store."""

from __future__ import annotations

import json
import re
from collections.abc import Generator
from html import escape

import pytest
from click.testing import CliRunner

from assistant.citations import CANNOT_ANSWER
from assistant.cli import cli
from assistant.digest import digest, digest_stream
from assistant.errors import InputError
from assistant.evidence import is_relevant, topic_hits
from assistant.llm import FakeLLM
from assistant.models import Digest, DigestProgress, Paper, SearchFilters
from assistant.render.page import digest_html, digest_markdown, render
from assistant.retrieve import search
from assistant.settings import Settings
from assistant.text import split_sentences, spoken_list

TOPIC = "diffusion models for image generation"
OFF_TOPIC = "sourdough bread recipes with a rye starter"


@pytest.fixture
def covered(fake_settings: Settings, fake: FakeLLM) -> Digest:
    """A 16-paper digest whose model replies are scripted: names, overview, paragraphs (each
    with a sentence of paper 1's abstract, which the check accepts)."""
    said = first_sentence(digest(TOPIC, fake_settings, n=16, use_llm=False).paper(1).paper)
    fake.enqueue(
        "1. Text-to-image diffusion\n2. Other image generators\n3. Third group\n4. Fourth",
        f"{said} [1]. A made-up claim [99].",
        f"{said} [1]. This cites nothing given [40].",
    )  # later themes get the fake's echo of their prompt, which cites the numbers shown
    return digest(TOPIC, fake_settings, n=16)


def first_sentence(paper: Paper) -> str:
    return split_sentences(paper.abstract)[0].rstrip(".")


# --- the digest --------------------------------------------------------------------------------


def test_digest_themes_share_one_numbering(covered: Digest) -> None:
    assert covered.covered and covered.kind == "topic"
    assert 2 <= len(covered.themes) <= 6
    numbers = [c.number for c in covered.citations]
    assert numbers == list(range(1, len(numbers) + 1))
    # papers are numbered theme by theme, down the page
    listed = [p.number for t in covered.themes for p in t.papers]
    assert listed == numbers
    for theme in covered.themes:
        assert all(covered.paper(p.number).theme == theme.number for p in theme.papers)
    assert covered.themes[0].name == "Text-to-image diffusion"
    assert covered.themes[0].named_by == "llm"
    assert len({c.paper_id for c in covered.citations}) == len(covered.citations)


def test_invalid_citations_are_removed_and_counted(covered: Digest, fake: FakeLLM) -> None:
    assert "[99]" not in covered.overview and "[1]" in covered.overview
    assert covered.invalid_citations >= 1
    assert covered.overview_sentences[0].citations == [1]
    assert covered.overview_sentences[0].support is not None
    assert covered.paper(1).cited
    assert "[40]" not in (covered.themes[0].paragraph or "") and covered.themes[0].sentences
    assert covered.themes[0].invalid_citations == 1
    # each theme's paragraph only cites the papers it was shown
    for theme in covered.themes:
        shown = {p.number for p in theme.papers}
        for sentence in theme.sentences:
            assert set(sentence.citations) <= shown
    stages = [c.stage for c in covered.telemetry.llm_calls]
    assert stages[:2] == ["names", "overview"]
    assert stages[2:] == [f"theme {t.number}" for t in covered.themes if t.planned]
    assert len(fake.history) == len(stages)


def test_digest_streams_progress_text_then_the_digest(
    fake_settings: Settings, fake: FakeLLM
) -> None:
    stream = digest_stream(TOPIC, fake_settings, n=16)
    assert not fake.history, "nothing runs until the stream is read"
    events = list(stream)
    stages = [e.stage for e in events if isinstance(e, DigestProgress)]
    assert stages[:2] == ["retrieval", "clustering"] and "theme" in stages
    assert any(isinstance(e, str) and e.strip() for e in events)
    assert not any(isinstance(e, Digest) for e in events)
    assert isinstance(stream.result, Digest) and stream.result.themes


def test_uncovered_topic_is_not_covered_and_calls_no_model(
    fake_settings: Settings, fake: FakeLLM
) -> None:
    result = digest(OFF_TOPIC, fake_settings)
    assert not result.covered and result.overview == CANNOT_ANSWER
    assert result.themes == [] and result.citations == []
    assert fake.history == []
    assert CANNOT_ANSWER in digest_markdown(result)


def test_a_topic_a_best_paper_says_is_covered_below_the_similarity_gate(
    fake_settings: Settings,
) -> None:
    # "jailbreak attacks": the best paper is 0.349 from it (the gate is 0.35); the past-tense
    # jailbreak paper says it. A topic the digest refused while naming two papers on it.
    found = search(fake_settings, "jailbreak attacks", k=30, mode="hybrid", mmr=True)
    assert not is_relevant(found.hits, fake_settings.answer.min_relevance)
    hits = topic_hits(fake_settings, "jailbreak attacks", 30, SearchFilters(), 0.2)
    assert hits.covered and any("Past Tense" in h.paper.title for h in hits.hits)
    assert not topic_hits(fake_settings, OFF_TOPIC, 30, SearchFilters(), 0.2).covered


def test_a_topic_no_theme_is_about_says_so_first_and_writes_no_paragraph(
    fake_settings: Settings, fake: FakeLLM
) -> None:
    # The sample has diffusion papers (language, speech, images) and video papers, none on
    # video generation with diffusion: close enough to pass the gate, but not the topic.
    fake.enqueue("1. Diffusion\n2. Video")
    result = digest("diffusion models for video generation", fake_settings)
    assert result.covered and result.themes
    assert result.overview.startswith(
        "The indexed papers don't cover “video generation”; the closest"
    )
    assert not any(t.planned or t.paragraph for t in result.themes)
    assert len(fake.history) == 1  # the themes' names; no overview, no paragraph
    assert "Near the topic, not on it (none of its" in digest_markdown(result)


def test_without_llm_themes_are_named_by_keywords(fake_settings: Settings, fake: FakeLLM) -> None:
    result = digest(TOPIC, fake_settings, n=12, use_llm=False)
    assert fake.history == [] and not result.used_llm
    assert all(t.named_by == "keywords" and t.paragraph is None for t in result.themes)
    assert all(t.name and "·" in t.name for t in result.themes)


def test_small_topics_are_one_theme_and_bad_n_is_refused(
    fake_settings: Settings, fake: FakeLLM
) -> None:
    # one theme (a paper of it that does not cover the topic is listed apart, near it)
    themes = digest(TOPIC, fake_settings, n=3, use_llm=False).themes
    assert sum(1 for t in themes if not t.near) == 1
    with pytest.raises(InputError):
        digest(TOPIC, fake_settings, n=0)


# --- rendering ---------------------------------------------------------------------------------


def test_html_escapes_planted_markup_and_links_citations(covered: Digest) -> None:
    planted = covered.model_copy(deep=True)
    planted.citations[0].title = "<script>alert('title')</script>"
    planted.citations[0].contribution = "We <img src=x onerror=alert(1)> propose."
    planted.citations[0].links = ["javascript:alert(1)", "https://arxiv.org/abs/1"]
    planted.themes[0].name = "<script>alert('name')</script>"
    planted.overview_sentences[0].text = "Model text <script>x</script> [1]."
    page = digest_html(planted)
    assert "<script" not in page.lower() and "<img" not in page
    assert "&lt;script&gt;" in page and "javascript:" not in page
    assert '<a class="cite" href="#ref-1">[1]</a>' in page and 'id="ref-1"' in page
    # standalone: inline CSS, nothing fetched
    assert "<style>" in page and not re.search(r"<link|<[^>]*\ssrc=|@import", page)


def test_json_dump_has_the_documented_shape(covered: Digest) -> None:
    data = json.loads(render(covered, "json"))
    assert {"overview", "themes", "citations", "notices", "telemetry"} <= set(data)
    theme = data["themes"][0]
    assert {"name", "paragraph", "sentences", "papers"} <= set(theme)
    assert {"number", "paper_id", "title"} <= set(theme["papers"][0])
    citation = data["citations"][0]
    assert {"number", "paper_id", "title", "date", "links"} <= set(citation)
    t = data["telemetry"]
    assert {"retrieval_s", "clustering_s", "llm_calls", "llm_s", "total_s"} <= set(t)
    assert {"stage", "prompt_tokens", "completion_tokens", "seconds"} <= set(t["llm_calls"][0])
    assert Digest.model_validate(data) == covered


def test_markdown_has_overview_themes_table_and_references(covered: Digest) -> None:
    text = digest_markdown(covered)
    for heading in ("## Overview", "## Themes", "## Papers", "## References"):
        assert heading in text
    assert f"{len(covered.citations)}. " in text.split("## References")[1]


def test_cli_digest_formats_and_out(fake_settings: Settings, fake: FakeLLM, tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = ["--store", str(fake_settings.store_dir)]
    args = [*store, "digest", TOPIC, "-n", "8", "--provider", "fake"]
    result = CliRunner().invoke(cli, [*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["covered"] is True
    assert "retrieval" in result.stderr
    out = tmp_path / "page.html"
    result = CliRunner().invoke(cli, [*args, "--format", "html", "--out", str(out)])
    assert result.exit_code == 0 and out.read_text().startswith("<!DOCTYPE html>")
    off = CliRunner().invoke(cli, [*store, "digest", OFF_TOPIC, "--provider", "fake"])
    assert off.exit_code == 0 and CANNOT_ANSWER in off.stdout


def test_a_theme_near_the_topic_is_not_written_up_as_on_it(
    fake_settings: Settings, fake: FakeLLM
) -> None:
    # Diffusion for language and speech sits near "diffusion models for text-to-image
    # generation" in the embedding space; none of those papers is about text-to-image.
    covered = digest("diffusion models for text-to-image generation", fake_settings, n=16)
    off = [t for t in covered.themes if t.near]
    assert off and all(t.paragraph is None and not t.planned for t in off)
    titles = [p.title for t in off for p in t.papers]
    assert any("Language Generation" in title for title in titles), titles
    assert not any("Text-to-Image" in title for title in titles), titles
    assert all("text-to-image" in t.near for t in off)  # why, under each one's heading
    numbers = spoken_list([str(t.number) for t in off])  # one notice says which, not one each
    which = f"theme {numbers} is" if len(off) == 1 else f"themes {numbers} are"
    (said,) = [n for n in covered.notices if "near the topic, not on it" in n]
    assert said == f"{which} near the topic, not on it: listed without a paragraph."
    assert not any(n.startswith("theme ") and "(" in n for n in covered.notices)
    html = digest_html(covered)
    for theme in off:
        assert f'<p class="note">Near the topic, not on it ({escape(theme.near)})' in html
    assert covered.overview_sentences  # the overview draws on the themes on the topic
    overview_prompt = str(fake.history[1].messages)  # after the names
    assert "text-to-image" in overview_prompt.lower()
    assert not any(t.name in overview_prompt for t in off)  # nor names a near one


def test_digest_prose_is_finished_plain_and_names_papers(
    fake_settings: Settings, fake: FakeLLM
) -> None:
    said = first_sentence(digest(TOPIC, fake_settings, n=16, use_llm=False).paper(1).paper)
    fake.enqueue(
        "1. Text-to-image diffusion\n2. Other\n3. Third",
        f"The main directions are:\n1. **Consistent** characters [1]\n2. *{said}* [1]\n"
        "Both steer the sampler by using structured",
        f"The second paper generates images [1]. {said} [1]. The first paper steers [1]. It",
    )
    page = digest(TOPIC, fake_settings, n=16)
    first = page.themes[0]
    assert "*" not in page.overview
    assert page.overview.startswith("The main directions are: Consistent characters [1].")
    assert page.overview.endswith(f"{said} [1].")  # the cut sentence trimmed
    paragraph = first.paragraph or ""
    assert paragraph.endswith("steers [1].") and "second paper" not in paragraph
    second = page.paper(2)
    assert paragraph.startswith(f"{second.paper.short_name} [2] generates images [1].")
    assert second.cited


def test_a_paragraph_the_check_accepts_no_sentence_of_is_withheld(
    fake_settings: Settings, fake: FakeLLM
) -> None:
    # the local model's 'KV cache compression' overview was a list of labels, each a chip
    # ("**Prompt Compression**: [2]"): shown as six bare paper names, each flagged
    fake.enqueue(
        "1. Text-to-image diffusion\n2. Other\n3. Third\n4. Fourth",
        "The main directions are:\n1. **Prompt compression**: [1]\n2. **Hybrids**: [2]",
        "Sourdough bread needs a rye starter [1].",
    )
    page = digest(TOPIC, fake_settings, n=16)
    assert page.overview.startswith("16 papers in ") and not page.overview_sentences
    first = page.themes[0]
    assert first.planned and first.paragraph is None and not first.sentences
    withheld = f"the paragraph of theme 1 ({first.name}) was withheld: none of its sentences "
    assert withheld + "is supported by the papers it was shown." in page.notices
    assert any(n.startswith("the model's overview was withheld: none of") for n in page.notices)
    assert "Prompt compression" not in digest_markdown(page)


def test_a_paragraph_keeps_only_sentences_that_say_something_of_their_papers(
    fake_settings: Settings, fake: FakeLLM
) -> None:
    # the local model's 'in-context learning' overview: a list of titles, one said twice
    shown = digest(TOPIC, fake_settings, n=16, use_llm=False)
    one, two = shown.paper(1).paper, shown.paper(2).paper
    said = first_sentence(one)
    fake.enqueue(
        "1. Text-to-image diffusion\n2. Other\n3. Third\n4. Fourth",
        f"The main directions are:\n1. {one.title} [1]\n2. {two.title} [2]\n3. {one.title} [1]",
        f"{one.title} [1]. {said} [1]. {said} [1].",
    )
    page = digest(TOPIC, fake_settings, n=16)
    assert page.overview.startswith("16 papers in ") and not page.overview_sentences
    assert any(n.startswith("the model's overview was withheld") for n in page.notices)
    first = page.themes[0]
    assert [s.text for s in first.sentences] == [f"{said} [1]."]
    assert first.paragraph == f"{said} [1]."


def test_progress_and_notices_with_markup_characters_print_as_text(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from assistant.cli.digest_commands import follow

    odd = "theme 1: “Loss [/] and [bold]gain[/bold]” (3 papers)"
    from assistant.page import DigestStream

    page = Digest(kind="topic", title="t", topic="t", covered=False, overview="x")

    def steps() -> Generator[DigestProgress, None, Digest]:
        yield DigestProgress(stage="theme", message=odd)
        return page

    assert follow(DigestStream(steps())) is page  # no MarkupError
    assert "Loss [/] and [bold]gain[/bold]" in capsys.readouterr().err


def test_undated_papers_are_listed_apart_folded_and_dated_as_added(covered: Digest) -> None:
    from assistant.render.page import LISTED, shown_date, split_near, split_undated

    dated, undated = split_undated(covered)
    assert dated and undated, "the sample holds papers with and without a publication date"
    assert all(shown_date(c).startswith("added ") or shown_date(c) == "n.d." for c in undated)
    assert all(shown_date(c) == c.paper.published.isoformat() for c in dated if c.paper.published)
    on_topic = {c.number for c in split_near(covered)[0]}
    undated_on = [c for c in undated if c.number in on_topic]
    assert undated_on, "the fixture's topic has undated papers on it"
    html = render(covered, "html")
    tables = html.split("<h2>References</h2>", 1)[0]
    folded = tables.split("<details><summary><h2>Added without a publication date", 1)
    assert len(folded) == 2 and f"({len(undated_on)})" in folded[1][:20]
    fold = folded[1].split("</details>", 1)[0]
    assert all(f">{c.number}</a></td>" in fold for c in undated_on)
    assert all(f">{c.number}</a></td>" in folded[0] for c in dated if c.number in on_topic)
    refs = html.split("<h2>References</h2>", 1)[1].split("<details><summary>Added without", 1)
    assert all(f'id="ref-{c.number}"' in refs[1] for c in undated), "undated references fold"
    md = render(covered, "markdown")
    assert f"## Added without a publication date ({len(undated_on)})" in md
    long = max(covered.themes, key=lambda t: len(t.papers))
    assert ("more paper" in html) == (len(long.papers) > LISTED)


def test_papers_near_the_topic_get_a_table_apart_folded(covered: Digest) -> None:
    """A theme near the topic, not on it, lists its papers under its heading; their rows of
    the comparison table are apart from the topic's papers, under their own heading (folded
    in HTML and in the app), so the topic's table holds the papers on it."""
    from assistant.render.page import split_near
    from assistant.ui.render.digests import digest_view_html

    on_topic, near = split_near(covered)
    near_themes = [t for t in covered.themes if t.near]
    assert near_themes and on_topic, "the fixture has themes on and near its topic"
    assert {c.number for c in near} == {p.number for t in near_themes for p in t.papers}
    heading = f"Near the topic, not on it ({len(near)})"

    def rows(table: str) -> set[int]:
        return {int(n) for n in re.findall(r">(\d+)</a></td>", table)}

    html = render(covered, "html").split("<h2>References</h2>", 1)[0]
    before, fold = html.split(f"<details><summary><h2>{heading}</h2></summary>", 1)
    assert rows(fold.split("</details>", 1)[0]) == {c.number for c in near}
    assert rows(before) == {c.number for c in on_topic}
    md = render(covered, "markdown")
    md_before, md_near = md.split(f"## {heading}", 1)
    md_near = md_near.split("## References", 1)[0]
    assert {int(n) for n in re.findall(r"^\| (\d+) \|", md_near, re.M)} == {c.number for c in near}
    assert not set(re.findall(r"^\| (\d+) \|", md_before, re.M)) & {str(c.number) for c in near}
    app = digest_view_html(covered).split("The papers side by side", 1)[1]
    app_on, app_near = app.split(f"<details><summary>{heading}</summary>", 1)
    assert f">{near[0].number}</a>" in app_near and f">{near[0].number}</a>" not in app_on
    assert f">{on_topic[0].number}</a>" in app_on
    assert len(render(covered, "csv").splitlines()) == len(covered.citations) + 1, "CSV: all"


def test_a_theme_or_overview_of_one_paper_is_asked_about_that_paper(
    fake_settings: Settings, fake: FakeLLM
) -> None:
    # "optical flow estimation": SplatFlow is the store's one paper on it, a theme of its own;
    # its paragraph read "These papers contribute ..." when every theme asked about "these".
    page = digest("optical flow estimation", fake_settings, n=6)
    asked = [str(call.messages[-1].content) for call in fake.history]
    for prompt in [a for a in asked if "(Theme:" in a]:
        one = prompt.count("<paper ") == 1
        assert ("Question: What does " in prompt and " contribute?" in prompt) == one
        assert ("What do these papers contribute" in prompt) == (not one)
    # The overview too: from SplatFlow alone it asked "the main directions of these papers"
    # and read "The main directions of these papers are multi-frame optical flow [1]".
    (overview,) = [a for a in asked if "(Digest topic:" in a]
    assert overview.count("<paper ") == 1
    # ... by its name: "this paper" came back as "The main contribution of this paper is ..."
    assert "What is the main contribution of SplatFlow?" in overview
    # ... and that overview is SplatFlow's paragraph: its theme does not say it again
    splat = next(t for t in page.themes if any("SplatFlow" in p.title for p in t.papers))
    assert len(splat.papers) == 1 and splat.paragraph is None and page.overview
    # One theme of many papers is shown by several of them, asked about "these papers": the
    # 28-paper "state space models" overview was written from its first paper and described
    # S4 alone; its one theme's paragraph, from the same papers, is the overview.
    fake.history.clear()
    page = digest("state space models", fake_settings, n=30)
    asked = [str(call.messages[-1].content) for call in fake.history]
    (overview,) = [a for a in asked if "(Digest topic:" in a]
    assert overview.count("<paper ") == 6 and max(len(t.papers) for t in page.themes) > 6
    assert "What do these papers do, and how do their approaches differ?" in overview


def test_a_theme_the_withheld_overview_stood_for_is_written_itself(
    fake_settings: Settings, fake: FakeLLM
) -> None:
    # The "KV cache compression" overview, a list of titles, was withheld, and its one theme on
    # the topic had no paragraph (the overview was to be it): the page had no prose at all.
    fake.enqueue("1. Text-to-image diffusion\n2. Other\n3. Third\n4. Fourth", "1. A [1]\n2. B [2]")
    page = digest("state space models", fake_settings, n=30)
    assert any(n.startswith("the model's overview was withheld") for n in page.notices)
    asked = [str(call.messages[-1].content) for call in fake.history]
    themes = [a for a in asked if "(Theme:" in a]
    biggest = max(page.themes, key=lambda t: len(t.papers))
    assert any(f"(Theme: {biggest.name}" in a for a in themes), themes
