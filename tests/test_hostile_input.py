"""Hostile input files, made here and tried for real: each is a clear error naming file and
line, or a documented lenient reading (README, "Input formats"); and a failed ingest writes
nothing, so the store still opens and counts right afterwards."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.errors import InputError
from assistant.ingest import ingest_paths, merge_duplicates
from assistant.parse import MAX_ABSTRACT_CHARS, parse_file, parse_paths
from assistant.settings import Settings
from assistant.store import open_store

ABSTRACT = (
    "We study how key-value caches grow with context length and propose a compression scheme "
    "that keeps accuracy while using a quarter of the memory."
)
#: A two-paper page dump in the blank-line layout, with a date header.
PAGE = (
    "new\n\nGet trending papers in your email inbox!\n\nSubscribe\n\nDaily Papers\n\n"
    "Mar 13\n\n"
    "Caches for Résumé Parsing\n\n" + ABSTRACT + "\n\n"
    "Second Paper on Optical Flow\n\n"
    "Optical flow under occlusion stays hard; we splat features across frames to fill the gaps.\n"
)


def jsonl(*rows: object) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def paper(title: str = "A Paper", abstract: str = ABSTRACT, **extra: object) -> dict[str, object]:
    return {"title": title, "abstract": abstract, **extra}


def write(folder: Path, name: str, data: str | bytes) -> Path:
    path = folder / name
    if isinstance(data, str):
        data = data.encode("utf-8")
    path.write_bytes(data)
    return path


# --- read: lenient where the text is unambiguous ----------------------------------------------


def titles(path: Path) -> list[str]:
    return [p.title for p in parse_file(path, year=2024)]


def test_utf16_with_bom_is_read_like_utf8(tmp_path: Path) -> None:
    plain = write(tmp_path, "plain.txt", PAGE)
    for name, codec in [("le.txt", "utf-16"), ("be.txt", "utf-16-be"), ("u32.txt", "utf-32")]:
        data = PAGE.encode(codec)
        if codec == "utf-16-be":
            data = b"\xfe\xff" + data
        path = write(tmp_path, name, data)
        assert parse_file(path, year=2024) == [
            p.model_copy(update={"sources": [name]}) for p in parse_file(plain, year=2024)
        ]
    rows = jsonl(paper("Ünïcode Title"))
    assert titles(write(tmp_path, "u16.jsonl", b"\xff\xfe" + rows.encode("utf-16-le"))) == [
        "Ünïcode Title"
    ]


def test_utf8_bom_and_crlf_change_nothing(tmp_path: Path) -> None:
    expected = titles(write(tmp_path, "plain.txt", PAGE))
    assert expected == ["Caches for Résumé Parsing", "Second Paper on Optical Flow"]
    assert titles(write(tmp_path, "bom.txt", "\ufeff" + PAGE)) == expected
    assert titles(write(tmp_path, "crlf.txt", PAGE.replace("\n", "\r\n"))) == expected
    assert titles(write(tmp_path, "cr.txt", PAGE.replace("\n", "\r"))) == expected
    rows = jsonl(paper("One"), paper("Two"))
    assert titles(write(tmp_path, "bom.jsonl", "\ufeff" + rows.replace("\n", "\r\n"))) == [
        "One",
        "Two",
    ]


def test_unicode_line_separators_inside_a_json_string_do_not_split_the_line(
    tmp_path: Path,
) -> None:
    # str.splitlines() splits on U+2028, \x85 and \x0c too: a JSONL line would break in two.
    odd = "Line\u2028separated\x85abstract\x0cthat is still one JSON string, long enough."
    path = write(tmp_path, "sep.jsonl", jsonl(paper("T", odd), paper("Next", ABSTRACT)))
    one, two = parse_file(path)
    assert one.abstract == "Line separated abstract that is still one JSON string, long enough."
    assert two.title == "Next"


def test_control_characters_and_terminal_escapes_are_dropped(tmp_path: Path) -> None:
    path = write(
        tmp_path, "esc.jsonl", jsonl(paper("Red\x1b[31m Title\x07", ABSTRACT + "\x1b]0;pwn\x07"))
    )
    (found,) = parse_file(path)
    assert "\x1b" not in found.title + found.abstract and "\x07" not in found.title
    assert found.title == "Red [31m Title"


def test_bidi_overrides_are_dropped_so_a_title_reads_as_stored(tmp_path: Path) -> None:
    # U+202E reverses what follows on screen ("Trojan Source"); U+2066..U+2069 isolate.
    path = write(tmp_path, "bidi.jsonl", jsonl(paper("Safe\u202e txet\u2066 Title\u2069")))
    (found,) = parse_file(path)
    assert found.title == "Safe txet Title"


def test_a_title_or_abstract_starting_with_subscribe_keeps_it(tmp_path: Path) -> None:
    page = PAGE.replace("Caches for Résumé Parsing", "Subscribers Matter").replace(
        "Optical flow under", "Subscribe-and-publish optical flow under"
    )
    papers = parse_file(write(tmp_path, "sub.txt", page), year=2024)
    assert papers[0].title == "Subscribers Matter"
    assert papers[1].abstract.startswith("Subscribe-and-publish optical flow")


def test_titles_in_other_scripts_stay_distinct_papers(tmp_path: Path) -> None:
    # The ASCII-only title key was empty for all of them: they merged into one paper.
    rows = [paper(t) for t in ("大型语言模型的缓存压缩", "扩散模型的快速采样", "ضغط ذاكرة التخزين")]
    rows.append(paper("À-la-carte Prompt Tuning"))
    rows.append(paper("À-la-Carte prompt tuning!"))  # Latin titles keep their old key
    merged = merge_duplicates(parse_file(write(tmp_path, "scripts.jsonl", jsonl(*rows))))
    assert [p.title for p in merged] == [r["title"] for r in rows[:3]] + [
        "À-la-Carte prompt tuning!"
    ]


def test_duplicate_ids_with_different_text_become_one_paper_later_text_wins(
    tmp_path: Path,
) -> None:
    path = write(
        tmp_path,
        "dups.jsonl",
        jsonl(
            paper("Original Title", id="2401.00001"),
            paper("Revised Title", ABSTRACT + " Revised.", id="2401.00001"),
            paper("Original Title", "Same title, another arXiv paper. " * 3, id="2401.00002"),
        ),
    )
    merged = merge_duplicates(parse_file(path))
    assert sorted(p.id for p in merged) == ["2401.00001", "2401.00002"]
    first = next(p for p in merged if p.id == "2401.00001")
    assert first.title == "Revised Title" and first.abstract.endswith("Revised.")


# --- refuse, naming file and line -------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("empty.txt", "", r"empty\.txt: file is empty"),
        ("blank.jsonl", " \r\n\t\n", r"blank\.jsonl: file is empty"),
        ("blob.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", r"blob\.txt: looks like a binary"),
        (
            "late_nul.txt",
            PAGE.encode() * 400 + b"\x00",  # past the first 8 KiB
            r"late_nul\.txt: looks like a binary",
        ),
        (
            "nobom16.txt",
            PAGE.encode("utf-16-le"),
            r"nobom16\.txt: looks like a binary .*UTF-16 without a byte-order mark",
        ),
        (
            "latin1.txt",
            PAGE.encode("latin-1"),
            r"latin1\.txt:11: not valid UTF-8 .*iconv -f latin1 -t utf-8",
        ),
        (
            "title_only.txt",
            PAGE + "\nA Title Whose Abstract Never Came\n",
            r"title_only\.txt:19: title 'A Title Whose Abstract Never Came' has no abstract",
        ),
        (
            "title_only.jsonl",
            jsonl({"title": "Just a title"}),
            r"title_only\.jsonl:1: paper 'Just a title' has an empty 'abstract'",
        ),
        (
            "date_only.txt",
            "Mar 13\n",
            r"date_only\.txt: only a date header, no title/abstract pairs",
        ),
        (
            "boiler_only.txt",
            "new\n\nSubscribe\n\nDaily Papers\n",
            r"boiler_only\.txt: no title/abstract pairs",
        ),
        (
            "huge.jsonl",
            jsonl(paper("Fine"), paper("Whole Paper", "word " * 20_000)),
            r"huge\.jsonl:2: the abstract of 'Whole Paper' is 99,999 characters, over the 20,000",
        ),
        (
            "huge.txt",
            "Whole Paper\n" + "word " * 20_000 + "\n",
            r"huge\.txt:2: the abstract of 'Whole Paper' is 99,999 characters",
        ),
        (
            "bad_middle.jsonl",
            jsonl(paper("One")) + '{"title": "Two", "abstract": \n' + jsonl(paper("Three")),
            r"bad_middle\.jsonl:2: not valid JSON",
        ),
        ("deep.json", "[" * 100_000, r"deep\.json: JSON nested too deeply"),
        ("deep.jsonl", '{"a":' * 100_000, r"deep\.jsonl:1: JSON nested too deeply"),
        (
            "array_line.jsonl",
            jsonl(paper("One"), ["not", "an", "object"]),
            r"array_line\.jsonl:2: expected a JSON object per line",
        ),
    ],
)
def test_bad_file_is_an_error_naming_file_and_line(
    tmp_path: Path, name: str, data: str | bytes, message: str
) -> None:
    with pytest.raises(InputError, match=message):
        parse_file(write(tmp_path, name, data), year=2024)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"title": 5, "abstract": ["x"]}, r"'title' must be a string, found a number 5\."),
        (paper(abstract=["x"]), r"'abstract' must be a string, found a list \[\"x\"\]"),
        (paper(abstract={"text": ABSTRACT}), r"'abstract' must be a string, found an object"),
        (paper(title=True), r"'title' must be a string, found true/false true"),
        (paper(id=2401.00001), r"'id' must be a string, found a number 2401\.00001"),
        (paper(date=20240313), r"'date' must be a string, found a number"),
        (paper(url=["https://x.org"]), r"'url' must be a string, found a list"),
        (paper(authors=7), r"'authors' must be a list or a string, found a number 7"),
        (paper(authors=["Ann", 7]), r"'authors' must list names \(strings\), found 7"),
        (paper(summary=3, abstract=None), r"'summary' must be a string"),
    ],
)
def test_wrong_json_types_are_errors_never_coerced(
    tmp_path: Path, row: dict[str, object], message: str
) -> None:
    path = write(tmp_path, "typed.jsonl", jsonl(paper("Fine first line"), row))
    with pytest.raises(InputError, match=r"typed\.jsonl:2: " + message):
        parse_file(path)


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ({"paper": {"title": 5, "summary": ABSTRACT}}, r"item 1: 'title' must be a string"),
        ({"paper": {"title": "T", "summary": ["x"]}}, r"item 1: 'summary' must be a string"),
        ({"paper": "a string"}, r"item 1: 'paper' must be an object"),
        ({"paper": {"title": "T", "summary": ABSTRACT, "id": 1}}, r"item 1: 'id' must be a string"),
        (
            {"paper": {"title": "T", "summary": ABSTRACT, "authors": [{"name": 3}]}},
            r"item 1 \(authors\): 'name' must be a string",
        ),
        (
            {"paper": {"title": "T", "summary": ABSTRACT, "upvotes": "9"}},
            r"item 1: 'upvotes' must be a number",
        ),
    ],
)
def test_wrong_types_in_api_json_name_the_item(
    tmp_path: Path, item: dict[str, object], message: str
) -> None:
    good = {"paper": {"title": "Good", "summary": ABSTRACT}}
    path = write(tmp_path, "day.json", json.dumps([good, item]))
    with pytest.raises(InputError, match=r"day\.json " + message):
        parse_file(path)


def test_file_over_the_size_limit_names_the_setting(tmp_path: Path) -> None:
    path = write(tmp_path, "big.txt", PAGE)
    assert parse_file(path, year=2024, max_bytes=len(PAGE.encode()))
    with pytest.raises(InputError, match=r"big\.txt: file is .* bytes, over the 100 bytes limit"):
        parse_file(path, max_bytes=100)
    result = parse_paths([path], max_bytes=100)
    assert result.papers == [] and "ASSISTANT_MAX_FILE_BYTES" in result.problems[0]


def test_size_limit_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSISTANT_MAX_FILE_BYTES", "1234")
    assert Settings().max_file_bytes == 1234
    assert "description" in str(Settings.model_fields["max_file_bytes"])
    assert MAX_ABSTRACT_CHARS == 20_000


# --- into a real store: all or nothing, counts exact -------------------------------------------


def hostile_corpus(folder: Path) -> dict[str, str]:
    """Every hostile file in one folder; name -> what its problem message must say
    (empty for the files that are read)."""
    folder.mkdir()
    files: dict[str, tuple[str | bytes, str]] = {
        "a_empty.txt": ("", "file is empty"),
        "b_binary.txt": (b"\x7fELF\x02\x01\x01\x00\x00\x00", "looks like a binary"),
        "c_latin1.txt": (PAGE.encode("latin-1"), "c_latin1.txt:11: not valid UTF-8"),
        "d_utf16.txt": (b"\xff\xfe" + PAGE.replace("Second", "Utf16").encode("utf-16-le"), ""),
        "e_bom.jsonl": ("\ufeff" + jsonl(paper("Bom Paper")), ""),
        "f_crlf.txt": (PAGE.replace("Second", "Crlf").replace("\n", "\r\n"), ""),
        "g_title_only.jsonl": (jsonl({"title": "Lonely"}), "g_title_only.jsonl:1:"),
        "h_huge.jsonl": (jsonl(paper("Huge", "x" * 100_000)), "h_huge.jsonl:1: the abstract"),
        "i_dups.jsonl": (
            jsonl(paper("Dup A", id="2402.00001"), paper("Dup B", id="2402.00001")),
            "",
        ),
        "j_types.jsonl": (jsonl({"title": 5, "abstract": ["x"]}), "j_types.jsonl:1: 'title'"),
        "k_middle.jsonl": (
            jsonl(paper("Mid One")) + "{broken\n" + jsonl(paper("Mid Three")),
            "k_middle.jsonl:2: not valid JSON",
        ),
        "l_date_only.txt": ("Aug 11\n", "only a date header"),
    }
    for name, (data, _) in files.items():
        write(folder, name, data)
    return {name: message for name, (_, message) in files.items()}


def test_hostile_corpus_writes_nothing_then_skip_invalid_counts_exactly(
    tmp_path: Path, embedder: object
) -> None:
    settings = Settings(store_dir=tmp_path / "store")
    good = write(tmp_path, "good.jsonl", jsonl(paper("Good One"), paper("Good Two")))
    assert ingest_paths(settings, [good]).store_total == 2
    expected = hostile_corpus(tmp_path / "hostile")
    bad = {name: msg for name, msg in expected.items() if msg}

    with pytest.raises(InputError) as info:
        ingest_paths(settings, [tmp_path / "hostile"], year=2024)
    message = str(info.value)
    assert message.startswith(f"{len(bad)} of {len(expected)} file(s) could not be read;")
    for needle in bad.values():
        assert needle in message
    assert open_store(settings).count() == 2  # nothing half-written, reopens fine

    report = ingest_paths(settings, [tmp_path / "hostile"], year=2024, skip_invalid=True)
    assert len(report.skipped) == len(bad)
    # d_utf16 2 + e_bom 1 + f_crlf 2 (one shared with d_utf16: "Caches for Résumé") + i_dups 1
    assert report.added == 5 and report.store_total == 7
    store = open_store(settings)
    assert store.count() == 7
    stored = {p.title for p in store.iter_papers()}
    assert {"Utf16 Paper on Optical Flow", "Crlf Paper on Optical Flow", "Dup B"} <= stored
    assert not {"Mid One", "Mid Three", "Lonely", "Dup A"} & stored

    again = ingest_paths(settings, [tmp_path / "hostile"], year=2024, skip_invalid=True)
    assert again.added == again.updated == 0 and again.store_total == 7


def test_revised_title_keeps_its_record(tmp_path: Path, embedder: object) -> None:
    """The same arXiv id with a new title updates the stored paper instead of adding one."""
    settings = Settings(store_dir=tmp_path / "store")
    first = write(tmp_path, "v1.jsonl", jsonl(paper("Old Title", id="2403.00001")))
    ingest_paths(settings, [first])
    second = write(tmp_path, "v2.jsonl", jsonl(paper("New Title", id="2403.00001")))
    report = ingest_paths(settings, [second])
    assert (report.added, report.updated, report.store_total) == (0, 1, 1)
    (stored,) = open_store(settings).iter_papers()
    assert stored.title == "New Title" and stored.sources == ["v1.jsonl", "v2.jsonl"]
