"""Parse paper dumps into ``Paper`` records: the only module that reads input files.

Formats:

* ``hf-text``: text dumps of the Hugging Face Daily Papers page. Two layouts occur: blank-line
  separated paragraphs with boilerplate and a date header (``Mar 13``), and one line per
  field with the first title glued to ``Subscribe``. Both reduce to the same thing once
  boilerplate is dropped: alternating title and abstract lines.
* ``hf-json``: the Daily Papers API's JSON (a list of ``{"paper": {...}}`` objects).
* ``jsonl``: one ``{"title", "abstract", ...}`` object per line.

Parsing is all-or-nothing per run: every problem is collected with its file and line, and
nothing reaches the store unless every file parsed (see ``parse_paths``).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from dataclasses import field as dc_field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import BaseModel, Field

from assistant.embed import split_sentences
from assistant.errors import InputError
from assistant.models import Paper, paper_id_for
from assistant.settings import Settings

if TYPE_CHECKING:
    from assistant.embed import Embedder
    from assistant.store import PaperStore

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
MAX_FILE_BYTES = 200 * 1024 * 1024


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
    """A ``Paper`` with its id, links and URLs derived the same way for every format."""
    title = " ".join(title.split())
    abstract = " ".join(abstract.split())
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


def read_text(path: Path) -> str:
    """A file's text, or an InputError saying why it cannot be read as UTF-8 text."""
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise InputError(f"{path}: file is larger than {MAX_FILE_BYTES // 2**20} MiB.")
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read file ({exc.strerror or exc}).") from None
    if not data.strip():
        raise InputError(f"{path}: file is empty.")
    if b"\x00" in data[:8192]:
        raise InputError(f"{path}: looks like a binary file, not paper text or JSON.")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError(f"{path}:{line}: not valid UTF-8 text (byte {exc.start}).") from None


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
    """(line number, text) of lines that are neither blank nor page boilerplate."""
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if line[:9].lower() == "subscribe" and line.lower() not in BOILERPLATE:
            line = line[9:].strip()  # one-line layout: the first title is glued to "Subscribe"
        if line and line.lower() not in BOILERPLATE:
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
        papers.append(make_paper(title, line, path.name, published=published))
        pending = None
    if pending is not None:
        raise InputError(
            f"{path}:{pending[0]}: title {pending[1]!r} has no abstract (file truncated?)."
        )
    if not papers:
        raise InputError(f"{path}: no title/abstract pairs found (is it a Daily Papers dump?).")
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


def _names(authors: Any) -> list[str]:
    if not isinstance(authors, list):
        return []
    names = (a.get("name") if isinstance(a, dict) else a for a in authors)
    return [str(n).strip() for n in names if n and str(n).strip()]


def parse_hf_json(path: Path, text: str) -> list[Paper]:
    """Papers from the Daily Papers API's JSON: a list of ``{"paper": {...}}`` objects."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{path}:{exc.lineno}: not valid JSON ({exc.msg}); truncated download?"
        ) from None
    if isinstance(data, dict):
        data = data.get("papers", data.get("data", [data]))
    if not isinstance(data, list):
        raise InputError(f"{path}: expected a JSON list of daily papers.")
    papers = []
    for index, item in enumerate(data):
        where = f"{path} item {index}"
        if not isinstance(item, dict):
            raise InputError(f"{where}: expected an object, found {type(item).__name__}.")
        inner = item.get("paper")
        paper: dict[str, Any] = inner if isinstance(inner, dict) else item
        title = str(paper.get("title") or item.get("title") or "").strip()
        abstract = str(paper.get("summary") or paper.get("abstract") or "").strip()
        if not title:
            raise InputError(f"{where}: paper has no title.")
        if not abstract:
            raise InputError(f"{where}: paper {title!r} has an empty abstract.")
        keywords = paper.get("ai_keywords")
        papers.append(
            make_paper(
                title,
                abstract,
                path.name,
                arxiv_id=arxiv_id_from(str(paper.get("id") or "")),
                published=_parse_datetime(paper.get("publishedAt") or item.get("publishedAt")),
                authors=_names(paper.get("authors")),
                upvotes=paper.get("upvotes") if isinstance(paper.get("upvotes"), int) else None,
                ai_summary=paper.get("ai_summary") or None,
                ai_keywords=[str(k) for k in keywords] if isinstance(keywords, list) else [],
                github_repo=paper.get("githubRepo") or None,
            )
        )
    if not papers:
        raise InputError(f"{path}: the JSON list holds no papers.")
    return papers


# --- jsonl -----------------------------------------------------------------------------------


def parse_jsonl(path: Path, text: str) -> list[Paper]:
    """Papers from JSON Lines: ``title`` and ``abstract``, optional id/date/url/authors."""
    papers = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            hint = " (is this a Daily Papers text dump? try --format auto)" if number == 1 else ""
            raise InputError(f"{path}:{number}: not valid JSON ({exc.msg}){hint}.") from None
        if not isinstance(obj, dict):
            raise InputError(f"{path}:{number}: expected a JSON object per line.")
        title = str(obj.get("title") or "").strip()
        abstract = str(obj.get("abstract") or obj.get("summary") or "").strip()
        if not title:
            raise InputError(f"{path}:{number}: missing 'title'.")
        if not abstract:
            raise InputError(f"{path}:{number}: paper {title!r} has an empty 'abstract'.")
        published = None
        if obj.get("date"):
            published = _parse_datetime(str(obj["date"]))
            if published is None:
                raise InputError(f"{path}:{number}: 'date' {obj['date']!r} is not YYYY-MM-DD.")
        authors = obj.get("authors")
        if isinstance(authors, str):
            authors = [a.strip() for a in authors.split(",")]
        paper = make_paper(
            title,
            abstract,
            path.name,
            arxiv_id=arxiv_id_from(obj.get("id")) or arxiv_id_from(obj.get("url")),
            published=published,
            authors=_names(authors),
        )
        if obj.get("url") and obj["url"] not in paper.urls:
            paper.urls.insert(0, str(obj["url"]))
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
    path: Path, fmt: str = "auto", *, year: int | None = None, date: dt.date | None = None
) -> list[Paper]:
    """Papers of one file in the given (or detected) format."""
    if fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}.")
    text = read_text(path)
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
) -> ParseResult:
    """Parse every file, collecting problems instead of stopping at the first one."""
    result = ParseResult()
    for path in expand_paths(paths):
        result.files += 1
        try:
            result.papers.extend(parse_file(path, fmt, year=year, date=date))
        except InputError as exc:
            result.problems.append(str(exc))
    return result


def merge_duplicates(papers: Iterable[Paper]) -> list[Paper]:
    """One record per paper (same normalized title): sources and links united."""
    merged: dict[str, Paper] = {}
    for paper in papers:
        key = paper.title_key
        old = merged.get(key)
        if old is not None and old.arxiv_id and paper.arxiv_id and old.arxiv_id != paper.arxiv_id:
            key = paper.id  # same title, different arXiv papers: keep both
            old = merged.get(key)
        merged[key] = paper.model_copy(deep=True) if old is None else merge_paper(old, paper)
    return list(merged.values())


def merge_paper(old: Paper, new: Paper) -> Paper:
    """``new`` seen again after ``old``: union of sources/links, first-known dates kept."""

    def union(a: list[str], b: list[str]) -> list[str]:
        return list(dict.fromkeys([*a, *b]))

    return old.model_copy(
        update={
            "id": old.id,
            "title": new.title,
            "abstract": new.abstract,
            "published": old.published or new.published,
            "added": old.added or new.added,
            "sources": union(old.sources, new.sources),
            "urls": union(old.urls, new.urls),
            "authors": new.authors or old.authors,
            "upvotes": new.upvotes if new.upvotes is not None else old.upvotes,
            "ai_summary": new.ai_summary or old.ai_summary,
            "ai_keywords": new.ai_keywords or old.ai_keywords,
            "github_repo": new.github_repo or old.github_repo,
            "arxiv_id": old.arxiv_id or new.arxiv_id,
        }
    )


# --- into the store --------------------------------------------------------------------------


class IngestReport(BaseModel):
    """What an ingest run did; ``assistant ingest --json`` prints it."""

    files: int
    entries: int = Field(description="Title/abstract pairs read, duplicates included.")
    papers: int = Field(description="Distinct papers among the entries.")
    added: int = Field(description="Papers new to the store (embedded).")
    updated: int = Field(description="Stored papers whose text changed (re-embedded).")
    merged: int = Field(description="Stored papers that only gained a source or link.")
    unchanged: int
    store_total: int
    seconds: float
    skipped: list[str] = Field(
        default_factory=list, description="Files left out with --skip-invalid, and why."
    )


def plan_writes(
    incoming: list[Paper], stored: dict[str, tuple[Paper, str]], today: dt.date
) -> tuple[list[Paper], list[Paper], list[Paper], int]:
    """Split incoming papers into (to embed: new, to embed: changed text, metadata-only, same)."""
    new, changed, merged = [], [], []
    unchanged = 0
    for paper in incoming:
        hit = stored.get(paper.title_key)
        if hit is None:
            new.append(paper.model_copy(update={"added": today}))
            continue
        old, old_hash = hit
        combined = merge_paper(old, paper)
        if combined.content_hash != old_hash:
            changed.append(combined)
        elif combined != old:
            merged.append(combined)
        else:
            unchanged += 1
    return new, changed, merged, unchanged


def ingest_papers(
    store: PaperStore,
    embedder: Embedder,
    papers: list[Paper],
    *,
    files: int = 0,
    batch_size: int = 64,
    progress: Callable[[int, int], None] | None = None,
    today: dt.date | None = None,
) -> IngestReport:
    """Merge, embed what is new or changed, and write whole batches; safe to re-run.

    ``progress(done, total)`` is called as batches land. Each batch is one Chroma upsert, so
    an interrupted run leaves only whole batches behind and a re-run finishes the rest.
    """
    started = time.perf_counter()
    distinct = merge_duplicates(papers)
    stored = store.by_title_keys([p.title_key for p in distinct])
    new, changed, merged, unchanged = plan_writes(distinct, stored, today or dt.date.today())
    to_embed = new + changed
    reuse = store.vectors([p.id for p in merged]) if merged else {}
    todo: list[tuple[Paper, bool]] = [(p, True) for p in to_embed] + [(p, False) for p in merged]
    size = max(1, min(batch_size, store.max_batch))
    done = 0
    if progress:
        progress(0, len(todo))
    for start in range(0, len(todo), size):
        batch = todo[start : start + size]
        fresh = [p for p, needs in batch if needs]
        split = [split_sentences(p.abstract) or [p.abstract] for p in fresh]
        # One embed call per batch: the papers' texts, then every sentence of their abstracts.
        embedded = embedder.embed([p.text for p in fresh] + [s for part in split for s in part])
        fresh_vectors, offset, sentences = iter(embedded[: len(fresh)]), len(fresh), {}
        for paper, part in zip(fresh, split, strict=True):
            sentences[paper.id] = (part, embedded[offset : offset + len(part)])
            offset += len(part)
        vectors = np.stack([next(fresh_vectors) if needs else reuse[p.id] for p, needs in batch])
        store.write_batch([p for p, _ in batch], vectors, sentences)
        done += len(batch)
        if progress:
            progress(done, len(todo))
    return IngestReport(
        files=files,
        entries=len(papers),
        papers=len(distinct),
        added=len(new),
        updated=len(changed),
        merged=len(merged),
        unchanged=unchanged,
        store_total=store.count(),
        seconds=round(time.perf_counter() - started, 3),
    )


def ingest_paths(
    settings: Settings,
    paths: list[Path],
    fmt: str = "auto",
    *,
    year: int | None = None,
    date: dt.date | None = None,
    skip_invalid: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> IngestReport:
    """Parse every file first; write only when all parsed (or the bad ones are skipped).

    A file that cannot be read stops the run before anything is written, with every problem
    named by file and line; with ``skip_invalid`` the readable files go in and the report
    lists the others under ``skipped``.
    """
    from assistant.embed import get_embedder
    from assistant.store import open_store

    parsed = parse_paths(paths, fmt, year=year, date=date)
    if parsed.problems and (not skip_invalid or not parsed.papers):
        listed = "\n".join(f"  ✗ {problem}" for problem in parsed.problems)
        raise InputError(
            f"{len(parsed.problems)} of {parsed.files} file(s) could not be read; nothing "
            f"was written. Fix them, or pass --skip-invalid to ingest the others.\n{listed}"
        )
    report = ingest_papers(
        open_store(settings),
        get_embedder(settings),
        parsed.papers,
        files=parsed.files,
        batch_size=settings.ingest_batch,
        progress=progress,
    )
    report.skipped = list(parsed.problems)
    return report


def download_day(base_url: str, day: dt.date, folder: Path, timeout: float) -> Path:
    """Save one day of the Daily Papers API as ``daily-papers-YYYY-MM-DD.json`` in ``folder``."""
    import httpx

    url = f"{base_url}?date={day.isoformat()}"
    try:
        response = httpx.get(url, timeout=timeout, follow_redirects=True)
        response.raise_for_status()
    except httpx.HTTPStatusError as exc:
        raise InputError(f"{url}: the server answered {exc.response.status_code}.") from None
    except httpx.HTTPError as exc:
        raise InputError(f"cannot download {url}: {exc} (no network?).") from None
    path = folder / f"daily-papers-{day.isoformat()}.json"
    path.write_bytes(response.content)
    return path
