"""The files the app offers for download: a chat as Markdown with its cited papers as
BibTeX, a digest as Markdown, HTML and BibTeX. Each download gets its own folder inside one
temporary root, removed when the app exits."""

from __future__ import annotations

import atexit
import shutil
import tempfile
import uuid
from pathlib import Path

from assistant.export import bibtex, chat_markdown
from assistant.models import Answer, Digest
from assistant.render.page import render as render_digest

_EXPORT_ROOT: Path | None = None


def export_folder() -> Path:
    """A new folder for one download, inside a temp root removed when the app exits."""
    global _EXPORT_ROOT
    if _EXPORT_ROOT is None:
        _EXPORT_ROOT = Path(tempfile.mkdtemp(prefix="papers-assistant-ui-"))
        atexit.register(shutil.rmtree, _EXPORT_ROOT, True)
    folder = _EXPORT_ROOT / uuid.uuid4().hex
    folder.mkdir()
    return folder


def export_files(answers: list[Answer]) -> tuple[str, str]:
    """The conversation as Markdown and its cited papers as BibTeX, written to a temp folder."""
    folder = export_folder()
    markdown = folder / "conversation.md"
    markdown.write_text(chat_markdown(answers), encoding="utf-8")
    papers = {c.paper.id: c.paper for a in answers for c in a.citations}
    bib = folder / "cited-papers.bib"
    bib.write_text(bibtex(list(papers.values())), encoding="utf-8")
    return str(markdown), str(bib)


def digest_files(digest: Digest) -> tuple[str, str, str, str]:
    """The shown digest as Markdown, HTML, its table as CSV and the BibTeX of its papers, in
    a temp folder."""
    folder = export_folder()
    out = []
    for name, text in (
        ("digest.md", render_digest(digest, "markdown")),
        ("digest.html", render_digest(digest, "html")),
        ("digest-table.csv", render_digest(digest, "csv")),
        ("digest-papers.bib", bibtex([c.paper for c in digest.citations])),
    ):
        (folder / name).write_text(text, encoding="utf-8")
        out.append(str(folder / name))
    return out[0], out[1], out[2], out[3]
