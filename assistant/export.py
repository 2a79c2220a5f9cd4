"""Answers as Markdown with references, cited papers as BibTeX, chats as Markdown; and the
one way files people keep are written (whole: a temporary file, then a rename)."""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import unicodedata
from collections.abc import Sequence
from pathlib import Path

from assistant.models import Answer, Paper


def support_marker(supported: bool | None) -> str:
    """✓ supported, ⚠ not supported by its cited sources, · cites nothing."""
    return {True: "✓", False: "⚠"}.get(supported, "·")  # type: ignore[arg-type]


def answer_markdown(answer: Answer, *, heading: bool = True) -> str:
    """The answer with flagged sentences and a numbered reference list."""
    lines = [f"## {answer.question}", ""] if heading else []
    if answer.abstained or not answer.sentences:
        lines.append(answer.answer)
    else:
        parts = []
        for s in answer.sentences:
            parts.append(
                s.text
                + (" ⚠ *(not supported by the cited source)*" if s.supported is False else "")
            )
        lines.append(" ".join(parts))
    if answer.citations:
        lines += ["", "**References**", ""]
        for c in answer.citations:
            link = c.links[0] if c.links else ""
            date = f" ({c.date})" if c.date else ""
            title = f"[{c.title}]({link})" if link else c.title
            lines.append(f"{c.number}. {title}{date}")
    return "\n".join(lines).strip() + "\n"


def chat_markdown(answers: Sequence[Answer]) -> str:
    """A whole conversation: each question with its answer and references."""
    return "\n".join(answer_markdown(a) for a in answers)


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


def bibtex_key(paper: Paper) -> str:
    """``firstauthorYEARfirstword``, or the id when authors are unknown."""
    author = _ascii(paper.authors[0].split()[-1]).lower() if paper.authors else ""
    year = str(paper.published.year) if paper.published else ""
    words = re.findall(r"[A-Za-z][A-Za-z0-9]*", _ascii(paper.title))
    word = next((w for w in words if len(w) > 3), "paper")
    key = f"{author}{year}{word.lower()}" if author or year else f"{word.lower()}{paper.id}"
    return re.sub(r"[^A-Za-z0-9:_-]", "", key)


def _escape(text: str) -> str:
    return re.sub(r"([&%$#_{}])", r"\\\1", text)


def bibtex(papers: Sequence[Paper]) -> str:
    """BibTeX ``@misc`` entries (arXiv eprints where the id is known)."""
    entries = []
    for paper in papers:
        fields = [("title", "{" + _escape(paper.title) + "}")]
        if paper.authors:
            fields.append(("author", " and ".join(_escape(a) for a in paper.authors)))
        if paper.published:
            fields.append(("year", str(paper.published.year)))
        if paper.arxiv_id:
            fields += [("eprint", paper.arxiv_id), ("archivePrefix", "arXiv")]
        link = paper.arxiv_url or paper.github_repo or (paper.urls[0] if paper.urls else None)
        if link:
            fields.append(("url", link))
        body = ",\n".join(f"  {name} = {{{value}}}" for name, value in fields)
        entries.append(f"@misc{{{bibtex_key(paper)},\n{body}\n}}")
    return "\n\n".join(entries) + ("\n" if entries else "")


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` whole: a temporary file beside it, then ``os.replace``, so a
    reader (or a crash) never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
