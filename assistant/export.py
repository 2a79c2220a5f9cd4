"""Answers as Markdown with references, cited papers as BibTeX, chats as Markdown (written
whole by ``files.write_atomic``).

Titles, questions and answers carry text written by strangers (abstracts, and models that
copy them): in Markdown it is escaped, so an ``<img onerror=...>`` or a ``[link](...)`` in it
shows as text wherever the file is rendered; the only links are the references' own, and
only http(s) ones.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Sequence

from assistant.models import QUOTES_HEADING, Answer, Paper
from assistant.render.compare import comparison_markdown
from assistant.text import one_line, split_sentences


def support_marker(supported: bool | None) -> str:
    """✓ supported, ⚠ not supported by its cited sources, · cites nothing."""
    return {True: "✓", False: "⚠"}.get(supported, "·")  # type: ignore[arg-type]


def md_text(text: str) -> str:
    """Untrusted text as Markdown that renders as exactly that text: no HTML, no links,
    no emphasis; ``&`` kept from spelling an entity; one line (a newline could start a
    heading or a list). Parentheses need no escape: with every "]" escaped, no link forms."""
    flat = one_line(text)
    escaped = re.sub(r"([\\`*_{}\[\]<>#|!~])", r"\\\1", flat)
    return escaped.replace("&", "&amp;")


def md_answer(text: str) -> str:
    """An answer sentence as Markdown text: like ``md_text``, but "[1]" citations stay
    readable; a "(" right after one is escaped, so "[1](url)" is no link."""
    escaped = md_text(text)
    return re.sub(r"\\\[(\d+)\\\](\()?", lambda m: f"[{m[1]}]" + ("\\(" if m[2] else ""), escaped)


def safe_link(url: str) -> str | None:
    """``url`` when it is a plain http(s) URL that Markdown cannot be broken out of."""
    if not re.fullmatch(r"https?://[^\s<>()\[\]{}\"'`\\]+", url or ""):
        return None
    return url


def answer_markdown(answer: Answer, *, heading: bool = True) -> str:
    """The answer with flagged sentences and a numbered reference list."""
    lines = [f"## {md_text(answer.question)}", ""] if heading else []
    if answer.abstained or not answer.sentences:
        lines.append(md_answer(answer.answer))
    else:
        parts = []
        for s in answer.prose:
            flag = f" ⚠ *({s.problem})*" if s.problem else ""
            flag = " ◌ *(supported, but off the question)*" if s.off_question else flag
            parts.append(md_answer(s.text) + flag)
        lines.append(" ".join(parts))
        if answer.quotes:
            lines += ["", QUOTES_HEADING, ""]
            lines += [f"> {md_answer(q.text)}" for q in answer.quotes]
    if answer.comparison is not None:
        lines += ["", comparison_markdown(answer.comparison).rstrip()]
    if answer.citations:
        lines += ["", "**References**", ""]
        for c in answer.citations:
            lines.append(f"{c.number}. {reference_markdown(c.title, c.date, c.paper, c.links)}")
    return "\n".join(lines).strip() + "\n"


def reference_markdown(
    title: str, date: str | None, paper: Paper | None, links: Sequence[str]
) -> str:
    """One reference: the title links to the paper's arXiv or HF page, links we build from
    its id; a link taken from other text (an abstract, a JSON field) is shown as itself,
    never hidden behind the title."""
    when = f" ({md_text(date)})" if date else ""
    own = [paper.arxiv_url, paper.hf_url] if paper else []
    trusted = next((u for u in own if u and safe_link(u)), None)
    if trusted:
        return f"[{md_text(title)}]({trusted}){when}"
    other = next((u for u in map(safe_link, links) if u), None)
    return md_text(title) + when + (f" <{other}>" if other else "")


def collection_markdown(name: str, papers: Sequence[Paper]) -> str:
    """A collection of saved papers: a heading, then each paper linked, dated, with the first
    sentence of its abstract."""
    lines = [f"# {md_text(name)}", "", f"{len(papers)} saved paper(s).", ""]
    for n, paper in enumerate(papers, start=1):
        lines.append(
            f"{n}. {reference_markdown(paper.title, paper.date_label, paper, paper.links)}"
        )
        first = split_sentences(paper.abstract)[:1]
        if first:
            lines.append(f"   {md_text(first[0])}")
    return "\n".join(lines).strip() + "\n"


def chat_markdown(answers: Sequence[Answer]) -> str:
    """A whole conversation: each question with its answer and references."""
    return "\n".join(answer_markdown(a) for a in answers)


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


def paper_year(paper: Paper) -> int | None:
    """The year a paper appeared, when the record says it: from its arXiv id ("2402.13616"
    is 2024). A page dump's date is when Daily Papers listed it, which for an older paper is
    years later: that goes in a note, not in ``year``."""
    match = re.match(r"(\d{2})(\d{2})\.\d{4,5}", paper.arxiv_id or "")
    return 2000 + int(match.group(1)) if match else None


def bibtex_key(paper: Paper) -> str:
    """``firstauthorYEARfirstword``; without authors ``firstwordYEAR`` (the listing's year
    when the paper's own is unknown: a key only has to be a handle)."""
    author = _ascii(paper.authors[0].split()[-1]).lower() if paper.authors else ""
    year = paper_year(paper) or (paper.published.year if paper.published else None)
    words = re.findall(r"[A-Za-z][A-Za-z0-9]*", _ascii(paper.title))
    word = next((w for w in words if len(w) > 3), "paper").lower()
    key = f"{author}{year or ''}{word}" if author else f"{word}{year or ''}"
    return re.sub(r"[^A-Za-z0-9:_-]", "", key)


def _escape(text: str) -> str:
    """Text as BibTeX/LaTeX reads it literally: specials escaped, control commands defused."""
    text = one_line(text)
    text = text.replace("\\", "\x00")  # a backslash would start a LaTeX command (\\input...)
    text = re.sub(r"([&%$#_{}])", r"\\\1", text)
    text = text.replace("~", r"\textasciitilde{}").replace("^", r"\textasciicircum{}")
    return text.replace("\x00", r"\textbackslash{}")


def bibtex(papers: Sequence[Paper]) -> str:
    """BibTeX ``@misc`` entries (arXiv eprints where the id is known)."""
    entries = []
    keys: Counter[str] = Counter()
    for paper in papers:
        fields = [("title", "{" + _escape(paper.title) + "}")]
        if paper.authors:
            fields.append(("author", " and ".join(_escape(a) for a in paper.authors)))
        year = paper_year(paper)
        if year:
            fields.append(("year", str(year)))
        elif paper.published:
            fields.append(("note", f"Listed on Hugging Face Daily Papers, {paper.published}"))
        if paper.arxiv_id:
            fields += [("eprint", paper.arxiv_id), ("archivePrefix", "arXiv")]
        candidates = [paper.arxiv_url, paper.github_repo, *paper.urls]
        link = next((u for u in candidates if u and safe_link(u)), None)
        if link:
            fields.append(("url", link))
        body = ",\n".join(f"  {name} = {{{value}}}" for name, value in fields)
        key = bibtex_key(paper)
        keys[key] += 1
        key += "" if keys[key] == 1 else chr(ord("a") + keys[key] - 2)  # cachet2024, cachet2024a
        entries.append(f"@misc{{{key},\n{body}\n}}")
    return "\n\n".join(entries) + ("\n" if entries else "")
