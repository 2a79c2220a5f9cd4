"""Paper dumps into ``Paper`` records: the only module that reads input files.

Formats:

* ``hf-text``: text dumps of the Hugging Face Daily Papers page. Two layouts occur: blank-line
  separated paragraphs with boilerplate and a date header (``Mar 13``), and one line per
  field with the first title glued to ``Subscribe``. Both reduce to the same thing once
  boilerplate is dropped: alternating title and abstract lines.
* ``hf-json``: the Daily Papers API's JSON (a list of ``{"paper": {...}}`` objects).
* ``jsonl``: one ``{"title", "abstract", ...}`` object per line.

Parsing is all-or-nothing per run: every problem is collected with its file and line, and
nothing reaches the store unless every file parsed (see ``parse_paths``; ``ingest`` writes).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from dataclasses import field as dc_field
from pathlib import Path
from typing import Any, Literal

from assistant.errors import InputError
from assistant.models import Paper, paper_id_for
from assistant.settings import Settings
from assistant.text import one_line

Format = Literal["auto", "hf-text", "hf-json", "jsonl"]
FORMATS: tuple[str, ...] = ("auto", "hf-text", "hf-json", "jsonl")

BOILERPLATE = {
    "new",
    "get trending papers in your email inbox!",
    "get trending papers in your email inbox once a day!",
    "subscribe",
    "daily papers",
    "byak and the research community",
}
_MONTHS = "jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec"
_DATE_HEADER = re.compile(rf"^({_MONTHS})[a-z]*\.?\s+(\d{{1,2}})(?:,?\s+(\d{{4}}))?$", re.I)
_URL = re.compile(r"https?://[^\s<>()\[\]{}\"']+")
_ARXIV_IN_URL = re.compile(r"arxiv\.org/(?:abs|pdf)/(\d{4}\.\d{4,5})")
_ARXIV_ID = re.compile(r"^(?:arxiv:)?(\d{4}\.\d{4,5})(?:v\d+)?$", re.I)

#: A title longer than this, or an abstract shorter than this, means the layout was misread.
MAX_TITLE_CHARS = 400
MIN_ABSTRACT_CHARS = 40
#: An "abstract" longer than this is a whole paper or a misread layout, not an abstract
#: (arXiv caps abstracts at 1,920 characters): an error naming the line, never cut silently.
MAX_ABSTRACT_CHARS = 20_000
#: Default of ``settings.max_file_bytes`` (for callers without settings).
MAX_FILE_BYTES: int = Settings.model_fields["max_file_bytes"].default
#: Byte-order marks that make a file's encoding unambiguous; UTF-32 before UTF-16 (same start).
_BOMS = (
    (b"\x00\x00\xfe\xff", "utf-32"),
    (b"\xff\xfe\x00\x00", "utf-32"),
    (b"\xef\xbb\xbf", "utf-8-sig"),
    (b"\xfe\xff", "utf-16"),
    (b"\xff\xfe", "utf-16"),
)
#: Line ends we split on: not str.splitlines, which also splits on U+2028, \x0c, \x1c..\x1e and
#: \x85 that may sit inside a JSON string or an abstract (and line numbers would drift).
_LINE_END = re.compile(r"\r\n|\r|\n")


@dataclass
class ParseResult:
    """Papers read from a set of files, and every problem found on the way."""

    papers: list[Paper] = dc_field(default_factory=list)
    problems: list[str] = dc_field(default_factory=list)
    files: int = 0


def urls_in(text: str) -> list[str]:
    """URLs mentioned in an abstract (code, project pages), trailing punctuation removed."""
    found = (u.rstrip(".,;:") for u in _URL.findall(text))
    return list(dict.fromkeys(found))


def arxiv_id_from(value: str | None) -> str | None:
    """The bare arXiv id in an id or URL, version suffix dropped; None when there is none."""
    if not value:
        return None
    value = value.strip()
    match = _ARXIV_ID.match(value) or _ARXIV_IN_URL.search(value)
    return match.group(1) if match else None


def make_paper(
    title: str,
    abstract: str,
    source: str,
    *,
    arxiv_id: str | None = None,
    published: dt.date | None = None,
    **extra: Any,
) -> Paper:
    """A ``Paper`` with its id, links and URLs derived the same way for every format.

    Whitespace runs become one space and control characters (terminal escapes and bidi
    overrides included) are dropped: they carry no meaning in an abstract and must not reach
    a terminal or a page.
    """
    title, abstract = one_line(title), one_line(abstract)
    return Paper(
        id=paper_id_for(title, arxiv_id),
        arxiv_id=arxiv_id,
        title=title,
        abstract=abstract,
        published=published,
        sources=[source],
        urls=urls_in(abstract),
        **extra,
    )


def read_text(path: Path, max_bytes: int = MAX_FILE_BYTES) -> str:
    """A file's text, or an InputError saying why it cannot be read.

    UTF-8 (with or without a BOM), and UTF-16/UTF-32 when a BOM says so. Anything else that is
    not valid UTF-8 (Latin-1, say) is an error naming the line: guessing an encoding would
    store a misspelled title under a new id, and the right file later would not merge with it.
    """
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise InputError(
                f"{path}: file is {_size(size)}, over the {_size(max_bytes)} limit "
                "(ASSISTANT_MAX_FILE_BYTES); split it, or raise the limit."
            )
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read file ({exc.strerror or exc}).") from None
    encoding = next((name for bom, name in _BOMS if data.startswith(bom)), None)
    if encoding in ("utf-16", "utf-32"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError as exc:
            raise InputError(
                f"{path}: starts with a {encoding.upper()} byte-order mark but is not valid "
                f"{encoding.upper()} (byte {exc.start})."
            ) from None
        if "\x00" in text:
            raise InputError(f"{path}: looks like a binary file, not paper text or JSON.")
        return _non_empty(path, text)
    if b"\x00" in data:
        hint = " (UTF-16 without a byte-order mark? save it as UTF-8)" if data.strip() else ""
        raise InputError(f"{path}: looks like a binary file, not paper text or JSON{hint}.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError(
            f"{path}:{line}: not valid UTF-8 text (byte {exc.start}); if it is Latin-1, convert "
            f"it first: iconv -f latin1 -t utf-8 {path.name} > {path.stem}.utf8{path.suffix}"
        ) from None
    return _non_empty(path, text)


def _non_empty(path: Path, text: str) -> str:
    if not text.strip():
        raise InputError(f"{path}: file is empty.")
    return text


def _size(n: int) -> str:
    return f"{n / 2**20:.1f} MiB" if n >= 2**20 else f"{n:,} bytes"


def split_lines(text: str) -> list[str]:
    """Lines as editors number them: split on \\n, \\r\\n and \\r only."""
    return _LINE_END.split(text)


#: The start of a JSON Lines problem that is a parse error (not a wrong shape).
NOT_JSON = "not valid JSON"


@dataclass
class JsonLine:
    """One non-blank line of a JSON Lines file: its object, or the problem with it."""

    number: int
    where: str  # "path:line", as editors number lines
    obj: dict[str, Any] | None  # None: the line is not a JSON object (see problem)
    problem: str = ""


def json_lines(path: Path, text: str) -> Iterator[JsonLine]:
    """The non-blank lines of JSON Lines ``text`` (papers, eval suites), each parsed."""
    for number, line in enumerate(split_lines(text), start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            yield JsonLine(number, where, None, f"{NOT_JSON} ({exc.msg})")
        except RecursionError:
            yield JsonLine(number, where, None, "JSON nested too deeply")
        else:
            if isinstance(obj, dict):
                yield JsonLine(number, where, obj)
            else:
                yield JsonLine(number, where, None, "expected a JSON object per line")


def _first_text(where: str, objs: Sequence[dict[str, Any]], names: Sequence[str]) -> str:
    """The first non-empty string among ``obj[name]`` (objects, then names, in order)."""
    for obj in objs:
        for name in names:
            if value := (_typed(where, obj, name, str) or "").strip():
                return str(value)
    return ""


def _check_paper(where: str, title: str, abstract: str) -> None:
    if not title:
        raise InputError(f"{where}: missing 'title'.")
    if not abstract:
        raise InputError(f"{where}: paper {title!r} has an empty 'abstract'.")
    _check_abstract(where, title, abstract)


def _check_abstract(where: str, title: str, abstract: str) -> None:
    if len(abstract) > MAX_ABSTRACT_CHARS:
        raise InputError(
            f"{where}: the abstract of {title[:80]!r} is {len(abstract):,} characters, "
            f"over the {MAX_ABSTRACT_CHARS:,} an abstract can be (a whole paper, or lines run "
            "together?)."
        )


def detect_format(path: Path, text: str) -> str:
    """Guess the format from the extension, then from the first non-blank character."""
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        return "jsonl"
    if suffix == ".json":
        return "hf-json"
    head = text.lstrip()[:1]
    if head == "[":
        return "hf-json"
    if head == "{":
        return "jsonl"
    return "hf-text"


# --- hf-text ---------------------------------------------------------------------------------


def _date_from_header(line: str, year: int) -> dt.date | None:
    match = _DATE_HEADER.match(line)
    if not match:
        return None
    month = _MONTHS.split("|").index(match.group(1)[:3].lower()) + 1
    try:
        return dt.date(int(match.group(3) or year), month, int(match.group(2)))
    except ValueError:
        return None


def _content_lines(text: str) -> Iterator[tuple[int, str]]:
    """(line number, text) of lines that are neither blank nor page boilerplate.

    In the one-line layout the first title is glued to "Subscribe"; the prefix is cut only
    there (before any content, and when no "Subscribe" line stood alone), never from a later
    title or abstract that happens to start with "Subscribers..."."""
    glued_possible = True
    for number, raw in enumerate(split_lines(text), start=1):
        line = raw.strip()
        lowered = line.lower()
        if lowered == "subscribe":
            glued_possible = False
        elif glued_possible and lowered[:9] == "subscribe" and lowered not in BOILERPLATE:
            line = line[9:].strip()
            glued_possible = False
        if line and line.lower() not in BOILERPLATE:
            if not _DATE_HEADER.match(line):
                glued_possible = False
            yield number, line


def parse_hf_text(path: Path, text: str, *, year: int, default_date: dt.date | None) -> list[Paper]:
    """Title/abstract pairs of a Daily Papers page dump, dated by its header when it has one."""
    papers: list[Paper] = []
    published = default_date
    pending: tuple[int, str] | None = None
    for number, line in _content_lines(text):
        header_date = _date_from_header(line, year) if pending is None else None
        if header_date is not None:
            published = header_date
            continue
        if pending is None:
            if len(line) > MAX_TITLE_CHARS:
                raise InputError(
                    f"{path}:{number}: expected a paper title, found {len(line)} characters of "
                    "text (is this a Daily Papers page dump? try --format)."
                )
            pending = (number, line)
            continue
        title_line, title = pending
        if len(line) < MIN_ABSTRACT_CHARS:
            raise InputError(
                f"{path}:{number}: the abstract of {title!r} (line {title_line}) is missing or "
                f"too short ({len(line)} characters)."
            )
        _check_abstract(f"{path}:{number}", title, line)
        papers.append(make_paper(title, line, path.name, published=published))
        pending = None
    if pending is not None:
        raise InputError(
            f"{path}:{pending[0]}: title {pending[1]!r} has no abstract (file truncated?)."
        )
    if not papers:
        header = " only a date header," if published and published != default_date else ""
        raise InputError(
            f"{path}:{header} no title/abstract pairs found (is it a Daily Papers dump?)."
        )
    return papers


# --- hf-json ---------------------------------------------------------------------------------


def _parse_datetime(value: Any) -> dt.date | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).date()
    except ValueError:
        try:
            return dt.date.fromisoformat(value[:10])
        except ValueError:
            return None


def _typed(where: str, obj: dict[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    """``obj[name]`` when absent/None or of ``kind``; an InputError naming it otherwise.

    JSON of the wrong shape is an error, never coerced: ``{"title": 5}`` is not a paper titled
    "5", and ``{"abstract": ["x"]}`` is not an abstract reading "['x']".
    """
    value = obj.get(name)
    if value is None or (isinstance(value, kind) and not isinstance(value, bool)):
        return value
    kinds = kind if isinstance(kind, tuple) else (kind,)
    wanted = " or ".join(_JSON_KIND.get(k, k.__name__) for k in kinds)
    found = _JSON_KIND.get(type(value), type(value).__name__)
    raise InputError(f"{where}: {name!r} must be {wanted}, found {found} {_short(value)}.")


_JSON_KIND: dict[type, str] = {
    str: "a string",
    int: "a number",
    float: "a number",
    list: "a list",
    dict: "an object",
    bool: "true/false",
}


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 40 else text[:37] + "..."


def _names(where: str, obj: dict[str, Any], name: str) -> list[str]:
    """Author names from a list of strings or ``{"name": ...}`` objects, or a comma list."""
    authors = _typed(where, obj, name, (list, str))
    if authors is None:
        return []
    if isinstance(authors, str):
        authors = authors.split(",")
    names = []
    for author in authors:
        if isinstance(author, dict):
            author = _typed(f"{where} ({name})", author, "name", str) or ""
        if not isinstance(author, str):
            raise InputError(
                f"{where}: {name!r} must list names (strings), found {_short(author)}."
            )
        if author.strip():
            names.append(author.strip())
    return names


def parse_hf_json(path: Path, text: str) -> list[Paper]:
    """Papers from the Daily Papers API's JSON: a list of ``{"paper": {...}}`` objects."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{path}:{exc.lineno}: not valid JSON ({exc.msg}); truncated download?"
        ) from None
    except RecursionError:
        raise InputError(f"{path}: JSON nested too deeply to be daily papers.") from None
    if isinstance(data, dict):
        data = data.get("papers", data.get("data", [data]))
    if not isinstance(data, list):
        raise InputError(f"{path}: expected a JSON list of daily papers.")
    papers = []
    for index, item in enumerate(data):
        where = f"{path} item {index}"
        if not isinstance(item, dict):
            raise InputError(f"{where}: expected an object, found {type(item).__name__}.")
        inner = _typed(where, item, "paper", dict)
        paper: dict[str, Any] = inner if inner is not None else item
        title = _first_text(where, [paper, item], ("title",))
        abstract = _first_text(where, [paper], ("summary", "abstract"))
        _check_paper(where, title, abstract)
        keywords = _typed(where, paper, "ai_keywords", list) or []
        published = _typed(where, paper, "publishedAt", str) or _typed(
            where, item, "publishedAt", str
        )
        papers.append(
            make_paper(
                title,
                abstract,
                path.name,
                arxiv_id=arxiv_id_from(_typed(where, paper, "id", str)),
                published=_parse_datetime(published),
                authors=_names(where, paper, "authors"),
                upvotes=_typed(where, paper, "upvotes", int),
                ai_summary=_typed(where, paper, "ai_summary", str) or None,
                ai_keywords=[str(k) for k in keywords if isinstance(k, str | int | float)],
                github_repo=_typed(where, paper, "githubRepo", str) or None,
            )
        )
    if not papers:
        raise InputError(f"{path}: the JSON list holds no papers.")
    return papers


# --- jsonl -----------------------------------------------------------------------------------


def parse_jsonl(path: Path, text: str) -> list[Paper]:
    """Papers from JSON Lines: ``title`` and ``abstract``, optional id/date/url/authors."""
    papers = []
    for line in json_lines(path, text):
        where, obj = line.where, line.obj
        if obj is None:
            hint = ""
            if line.number == 1 and line.problem.startswith(NOT_JSON):
                hint = " (is this a Daily Papers text dump? try --format auto)"
            raise InputError(f"{where}: {line.problem}{hint}.")
        title = _first_text(where, [obj], ("title",))
        abstract = _first_text(where, [obj], ("abstract", "summary"))
        _check_paper(where, title, abstract)
        published = None
        date = _typed(where, obj, "date", str)
        if date:
            published = _parse_datetime(date)
            if published is None:
                raise InputError(f"{where}: 'date' {date!r} is not YYYY-MM-DD.")
        url = _typed(where, obj, "url", str)
        paper = make_paper(
            title,
            abstract,
            path.name,
            arxiv_id=arxiv_id_from(_typed(where, obj, "id", str)) or arxiv_id_from(url),
            published=published,
            authors=_names(where, obj, "authors"),
        )
        if url and url not in paper.urls:
            paper.urls.insert(0, url)
        papers.append(paper)
    if not papers:
        raise InputError(f"{path}: no JSON lines found.")
    return papers


# --- files and folders ----------------------------------------------------------------------


def expand_paths(paths: Iterable[Path]) -> list[Path]:
    """Files named directly, plus the .txt/.json/.jsonl files inside named folders."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(
                p
                for p in path.rglob("*")
                if p.is_file() and p.suffix.lower() in {".txt", ".json", ".jsonl"}
            )
            if not found:
                raise InputError(f"{path}: folder holds no .txt, .json or .jsonl files.")
            files.extend(found)
        elif path.exists():
            files.append(path)
        else:
            raise InputError(f"{path}: no such file or folder.")
    return files


def parse_file(
    path: Path,
    fmt: str = "auto",
    *,
    year: int | None = None,
    date: dt.date | None = None,
    max_bytes: int = MAX_FILE_BYTES,
) -> list[Paper]:
    """Papers of one file in the given (or detected) format."""
    if fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}.")
    text = read_text(path, max_bytes)
    if fmt == "auto":
        fmt = detect_format(path, text)
    if fmt == "hf-json":
        papers = parse_hf_json(path, text)
    elif fmt == "jsonl":
        papers = parse_jsonl(path, text)
    else:
        if text.lstrip()[:1] in "[{":
            raise InputError(f"{path}: looks like JSON, not a page dump; try --format auto.")
        papers = parse_hf_text(path, text, year=year or dt.date.today().year, default_date=date)
    if date is not None:
        for paper in papers:
            paper.published = paper.published or date
    return papers


def parse_paths(
    paths: Iterable[Path],
    fmt: str = "auto",
    *,
    year: int | None = None,
    date: dt.date | None = None,
    max_bytes: int = MAX_FILE_BYTES,
) -> ParseResult:
    """Parse every file, collecting problems instead of stopping at the first one."""
    result = ParseResult()
    for path in expand_paths(paths):
        result.files += 1
        try:
            result.papers.extend(parse_file(path, fmt, year=year, date=date, max_bytes=max_bytes))
        except InputError as exc:
            result.problems.append(str(exc))
    return result
