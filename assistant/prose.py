"""The model's prose made readable, for answers and digest paragraphs alike.

A small model writes markdown the page does not render, stops mid-sentence at its token
limit, calls papers "the fourth paper" or "[1]" as if the reader had the prompt, and now and
then states a figure no paper gave. The pipeline, not the model, fixes what it can and flags
the rest:

- ``plain``           markdown removed (bold, italics, code, headings), a list made prose
- ``whole``           ends on a full sentence: trimmed to the last one, never cut
- ``name_ordinals``   "the fourth paper", "Paper 4" -> "EMS [4]": the paper listed fourth (or
                      numbered 4), named, cited
- ``chips_after_titles`` a chip the model put inside a quoted title moves after it
- ``names_before_chips`` "1. [1] HR-INR" -> "1. HR-INR [1]": the name first, as elsewhere
- ``name_citations``  a chip standing for a paper ("The paper by [1] shows", "[2] proposes",
                      "... is [1].", "Wang et al. [1]" when no Wang wrote it) gets the
                      paper's name: "MemoryFormer [1] shows"
- ``quoted_copy``     an abstract sentence glued after a name ("SirLLM [4] as LLMs grow,
                      ...") reads as its quote: 'SirLLM [4]: “As LLMs grow, ...”'; one
                      glued on after ", which" is cut
- ``noted_background`` "D2O found that <what its abstract starts from>" -> "D2O notes that
                      ...": a paper does not find the background it sets out from
- ``unsourced_figures`` the figures of a sentence that no shown paper and not the question gives
- ``unnamed``         a sentence without its cited papers' names and chips: what it claims
                      ("EMS [3]." claims nothing: a list of titles made prose)

The citation check (``citations.check_text``) calls these, and a digest page drops what
``unnamed`` leaves nothing of; nothing else rewrites model prose.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

from assistant.models import Paper
from assistant.text import NOT_AFTER_ABBREVIATION, question_terms, split_sentences, squash

#: A citation group: "[1]", "[1, 3]", "[2-4]".
CITATION_GROUP = re.compile(r"\[(\s*\d+\s*(?:(?:,|-|–)\s*\d+\s*)*)\]")
#: Text that ends a sentence: its mark, then the citations that close it.
FINISHED = re.compile(r"[.!?…](?:\s*\[[\d,\s\-–]+\])*[\"”’)]*\s*$")

# --- markdown ------------------------------------------------------------------------------------

_BOLD = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_ITALIC = re.compile(r"(?<![\w*])([*_])(?=[^\s*_])([^*_\n]+?)(?<=[^\s*_])\1(?![\w*])")
_CODE = re.compile(r"`([^`\n]+)`")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$")
_LIST_ITEM = re.compile(r"^\s*(?:[-*•+]|\d{1,2}[.)])\s+")
_RULE = re.compile(r"^\s*(?:[-*_]\s*){3,}$")
_LONE_QUOTE = re.compile(r"[ \t]*\n[ \t]*([\"”’]+)[ \t]*(?=\n|$)")
#: The model announcing what it writes next, a line's last sentence: "Here's a summary of
#: their approaches and differences:" (a digest overview showed it, uncited, over a gap).
_ANNOUNCED = re.compile(
    r"(?:^|(?<=[.!?\]]\s))[ \t]*(?:Here(?:'s|’s| is| are)|Below (?:is|are))\b"
    r"[^.!?:\[\]\n]*:[ \t]*$",
    re.M,
)
_QUOTED = re.compile(r'"[ \t]*([^"\n]*?)[ \t]*"')  # '"Past Tense? "' -> '"Past Tense?"'


def plain(text: str, *, lists: bool = True) -> str:
    """``text`` without markdown: emphasis and code marks dropped, headings and rules gone;
    with ``lists`` each list item becomes a sentence of one paragraph ("1. **EMS** saves
    memory [1]" -> "EMS saves memory [1].") and an item that only heads its sub-items
    ("1. **EMS**:") goes. Without it list markers stay (an answer may list, and its numbers
    stay with their items)."""
    text = _CODE.sub(r"\1", _ITALIC.sub(r"\2", _BOLD.sub(r"\2", text)))
    text = _LONE_QUOTE.sub(r"\1", text)  # a title's closing quote on a line of its own
    text = _ANNOUNCED.sub("", text)
    text = "\n".join(_trimmed_quotes(line) for line in text.split("\n"))
    paragraphs: list[list[str]] = [[]]
    in_list = False
    lines = text.splitlines()
    last = max((i for i, line in enumerate(lines) if line.strip()), default=-1)
    for n, line in enumerate(lines):
        if _RULE.match(line) or _HEADING.match(line):
            in_list = False
            paragraphs.append([])  # a heading is dropped: it is no sentence of the prose
            continue
        if not line.strip():
            in_list = False
            paragraphs.append([])
            continue
        item = _LIST_ITEM.match(line)
        if lists and item and line.rstrip().endswith(":"):
            continue  # "1. **Title**:" heads the sub-items that say it: no sentence of its own
        if lists and item:
            line = _unlabelled(line[item.end() :].strip())
            # the text's last item, open and without its chip, may be cut by the token limit
            # ("... proposes an Innately Forgetting-Free"): ``whole`` decides, not a full stop
            cut = n == last and not FINISHED.search(line) and not CITATION_GROUP.search(line[-8:])
            line = line if cut else _closed(line)
            if not in_list and paragraphs[-1] and not FINISHED.search(paragraphs[-1][-1]):
                paragraphs[-1][-1] = paragraphs[-1][-1].rstrip(":").rstrip() + ":"
            in_list = True
        elif lists and in_list:
            paragraphs.append([])  # the prose after a list is a paragraph of its own
            in_list = False
        paragraphs[-1].append(line.strip())
    joined = ("\n" if not lists else " ").join
    return "\n\n".join(joined(p) for p in paragraphs if p)


#: A list item's heading before the sentence that says it: "Learning to Customize: This paper".
_LABEL = re.compile(r"^(?P<label>[^.:\[\]]{2,120}?)\s*[:–—]\s+(?P<rest>.+)$")
#: A sentence that opens with its own paper: '"Title" [1] ...', "[1] ...", "Name [1] proposes".
_NAMED_SUBJECT = re.compile(
    r"(?:[\"“][^\"“”]{3,200}[\"”]\s*)?\[\d+\]|[A-Z][^\s\[\]]*(?:\s+[^\s\[\]]+){0,5}\s*\[\d+\]"
    r"\s+[a-z]{3,}s\b"  # a verb: "proposes", not "is"
)


#: A sentence that says what it is about itself: "Another approach is to drop tokens".
_ANOTHER = re.compile(
    r"(?:Another|A (?:second|third|further|related)|One more)\s+(?:approach|method|direction|"
    r"line of work|technique|way|strategy)\b"
)
#: A sentence whose subject is its heading: "Prompt Compression: This involves ...", "Linear
#: Models: These models are ...".
_LABEL_PRONOUN = re.compile(
    r"(?P<word>This|It|These|They)(?:\s+(?:approach|method|technique|strategy|direction|"
    r"approaches|methods|techniques|strategies|models|works))?(?=\s+[a-z])"
)


def _unlabelled(item: str) -> str:
    """A list item without the heading before a sentence that names its own paper
    ("Taipan: This paper introduces Taipan [2]", "EMS: EMS evicts [1]", 'Rehearsal Buffer:
    "Learning to Prompt" [1] discusses' -> the sentence, whose "This paper" the check names):
    an overview reads as prose, not as a list of headings. So does one before a sentence
    that says what it is about ("Token Dropping: Another approach is ..."); one whose
    sentence's subject stands for it becomes that subject ("Prompt Compression: This involves"
    -> "Prompt compression involves"). A heading the sentence needs ("EMS: it merges",
    "Mamba: The results show") stays."""
    match = _LABEL.match(item)
    if match is None:
        return item
    label, rest = match.group("label"), match.group("rest")
    words = label.lower().strip("\"“”'").split()
    named_again = rest.lower().lstrip("\"“”'").startswith(" ".join(words[:2]))
    stands_for = _standing_subject(rest) is not None
    titled = _NAMED_SUBJECT.match(rest) is not None
    if len(words) > 15:
        return item
    if titled or ((named_again or stands_for) and rest[:1].isupper()) or _ANOTHER.match(rest):
        return rest
    pronoun = _LABEL_PRONOUN.match(rest)
    if pronoun and (pronoun.group("word") in ("These", "They")) == label.endswith("s"):
        return _sentence_case(label) + rest[pronoun.end() :]  # "Prompt compression involves"
    return item


def _sentence_case(label: str) -> str:
    """ "Prompt Compression" -> "Prompt compression", "Linear-Time" -> "Linear-time"; names
    keep their capitals ("KV Cache Quantization" -> "KV cache quantization")."""
    pieces = re.split(r"(\s+|-)", label.strip("\"“”'*"))

    def lower(piece: str) -> str:
        return piece.lower() if piece[:1].isupper() and piece[1:].islower() else piece

    return pieces[0] + "".join(lower(p) for p in pieces[1:])


def _trimmed_quotes(line: str) -> str:
    """A line's straight-quoted spans without spaces inside their quotes: a closing quote
    after a space ('"Past Tense? "') starts a sentence of its own, and ends the list it is in.
    Only a line whose quotes pair up: an odd one cannot tell its opening from its closing."""
    if line.count('"') % 2:
        return line
    return _QUOTED.sub(r'"\1"', line)


def list_item(sentence: str) -> bool:
    """Whether a sentence of ``split_answer`` is a list item ("1. [1] EMS", "- EMS")."""
    return bool(_LIST_ITEM.match(sentence))


def _closed(item: str) -> str:
    """A list item as a sentence: with a full stop unless it has one."""
    item = item.rstrip(";,")
    if not item or FINISHED.search(item):
        return item
    return item[0].upper() + item[1:] + "."


# --- sentences -----------------------------------------------------------------------------------

# The end of a sentence: its mark and the citations that close it ("... [2]." / "... . [2]"),
# before the space that starts the next one.
_SENTENCE_END = re.compile(
    rf"(?<=[.!?]){NOT_AFTER_ABBREVIATION}(?:\s*\[[\d,\s\-–]+\])*(?=\s+[A-Z0-9\"'(*\[-])"
)
#: Chips in a row, none or more ("[1]", " [2, 3] [4]").
_CHIPS = r"(?:\s*\[[\d,\s]+\])*"
#: A list item's number ("2." or "2)", and a chip right after it) ending a piece the splitter
#: cut: after nothing, a colon, a semicolon or a citation ("are [1]: 1." / "[2] 2."), not after
#: a word ("improves by 2."). It belongs to the next sentence, its item.
_LIST_NUMBER = re.compile(rf"(?:^\s*|(?<=[:;\]])\s+)(\d{{1,2}}[.)]{_CHIPS})$")


#: A sentence mark inside a title, and the word after it: "Give in Return? A Comprehensive".
_TITLE_BREAK = re.compile(r"([.!?])\s+(?=\S)")


def title_breaks(titles: Sequence[str]) -> list[re.Pattern[str]]:
    """For each sentence mark inside a title ("KV Cache Compression, But What Must We Give in
    Return? A Comprehensive Benchmark ..."), a pattern for it in prose with up to two words
    on each side, a chip allowed before or after the mark: ``split_answer`` does not end a
    sentence there."""
    patterns = []
    for title in titles:
        for mark in _TITLE_BREAK.finditer(title):
            before = title[: mark.start()].split()[-2:]
            after = title[mark.end() :].split()[:2]
            if not before or not after:
                continue
            words = r"\s+".join(map(re.escape, before))
            pattern = rf"{words}{_CHIPS}{re.escape(mark.group(1))}{_CHIPS}\s+"
            pattern += r"\s+".join(map(re.escape, after))
            patterns.append(re.compile(pattern, re.IGNORECASE))
    return patterns


def split_answer(text: str, titles: Sequence[str] = ()) -> list[str]:
    """Sentences of model prose, each keeping the citations that close it, each a slice of
    ``text`` (so a check can find it there); a list item's number stays with its item
    ("1. [1] EMS ..."), never a sentence of its own; none ends at a "?" inside one of
    ``titles`` (the shown papers': "What Must We Give in Return? A Comprehensive ...")."""
    inside = title_breaks(titles)
    out: list[str] = []
    for paragraph in text.split("\n"):
        spans = [m.span() for pattern in inside for m in pattern.finditer(paragraph)]
        ends = [
            m.end()
            for m in _SENTENCE_END.finditer(paragraph)
            if not any(a < m.end() < b for a, b in spans)
        ] + [len(paragraph)]
        start = 0
        for end in ends:
            piece = paragraph[start:end]
            number = _LIST_NUMBER.search(piece) if end < len(paragraph) else None
            if number:  # the item's number starts the next sentence
                piece = piece[: number.start(1)]
            if piece.strip():
                out.append(piece.strip())
            start = start + number.start(1) if number else end
    return out


def through(text: str, sentences: Sequence[str], n: int) -> str:
    """``text`` up to the end of the n-th of its ``sentences`` (paragraph breaks kept)."""
    end = 0
    for sentence in sentences[:n]:
        end = text.index(sentence, end) + len(sentence)
    return text[:end]


def whole(text: str) -> str:
    """``text`` ending on a full sentence (or a list item). A text the token limit cut
    mid-sentence is trimmed to its last finished sentence; one with no finished sentence
    keeps what it has up to its last citation, closed by a full stop (a claim and its
    source), else ends in "…"."""
    text = text.rstrip()
    if not text or FINISHED.search(text) or list_item(text.rsplit("\n", 1)[-1]):
        return text  # a list's last item needs no full stop ("3. [3] LLMs Know More")
    sentences = split_answer(text)
    if len(sentences) >= 2:
        return through(text, sentences, len(sentences) - 1)
    chips = list(CITATION_GROUP.finditer(text))
    if chips:
        return text[: chips[-1].end()].rstrip() + "."
    return text.rstrip(" ,;:-–") + "…"


# --- papers by name ------------------------------------------------------------------------------

_ORDINALS = [
    "first",
    "second",
    "third",
    "fourth",
    "fifth",
    "sixth",
    "seventh",
    "eighth",
    "ninth",
    "tenth",
    "eleventh",
    "twelfth",
]
#: What may follow "the first paper" or "Paper 1" in apposition: ', "Its Title,"', ', EMS,'
#: (dropped when it names that paper: "EMS [1], EMS, proposes" read twice).
_APPOSITION = (
    r"(?P<apposition>,\s*(?:[\"“][^\"“”\n]{3,200}[\"”](?:\s*\[[\d,\s]+\])?,?|[^,\"“\n]{2,120},))?"
)
#: What "the second" does when it stands for a paper ("while the second introduces Taipan");
#: none a noun too ("the first uses of", "the first studies"), which would read as a paper.
_PAPER_VERBS = (
    "introduces|proposes|presents|shows|finds|describes|demonstrates|explores|compares|seeks|"
    "focuses|develops|provides|offers|investigates|examines|achieves|combines|extends|applies|"
    "evaluates|argues|suggests|addresses|improves|reduces"
)
_ORDINAL = re.compile(
    r"\b(?:(?:the\s+)?(" + "|".join(_ORDINALS) + r"|last|final)\s+"
    r"(?:paper|study|work|article|source|excerpt|approach|method|abstract)s?\b"
    r"|the\s+(" + "|".join(_ORDINALS) + rf"|last|final)(?=\s+(?:{_PAPER_VERBS})\b))"
    r"(\s*\[[\d,\s]+\])?" + _APPOSITION,
    re.IGNORECASE,
)


def paper_name(paper: Paper, limit: int = 60) -> str:
    """What prose calls a paper: its short name ("DeciMamba"), else its title in quotes,
    shortened at a word when long."""
    if paper.short_name != paper.title:
        return paper.short_name
    title = " ".join(paper.title.split()).rstrip(".")
    question, mark, _ = title.partition("? ")  # "When Do Prompting ... Work? A Theory of ..."
    title = f"{question}?" if mark and len(question) < limit else title
    if len(title) > limit:
        title = title[:limit].rsplit(" ", 1)[0].rstrip(",;:") + "…"
    return f"“{title}”"


def _spelt(words: Sequence[str], between: str = r"\s+") -> str:
    """A pattern for ``words`` in order, each as written (escaped), ``between`` each two
    (any white space; a chip too, where a name's words may hold one)."""
    return between.join(re.escape(w) for w in words)


def unnamed(sentence: str, cited: Mapping[int, Paper]) -> str:
    """``sentence`` without the names of the papers it cites (``cited``: number -> paper)
    and without chips: what it says of them. Taken out: a paper's title, its quoted name
    (``paper_name``), and its short name where it is one word ("EMS") or stands before the
    paper's own chip ("Harnessing Negative Signals [2]"); a short name that is also a phrase
    of the sentence ("... for continual learning") stays."""
    for number, paper in cited.items():
        title = " ".join(paper.title.split()).rstrip(".")
        forms = {title: "", paper_name(paper): ""}
        short = paper.short_name
        if short != paper.title:
            forms[short] = "" if " " not in short else rf"(?=\s*\[[\d,\s]*\b{number}\b)"
        for form, after in sorted(forms.items(), key=lambda f: -len(f[0])):
            words = _spelt(form.split())
            sentence = re.sub(rf"(?<![\w-]){words}(?![\w-]){after}", " ", sentence, flags=re.I)
    return " ".join(CITATION_GROUP.sub(" ", sentence).split())


#: "Paper 1", "source #2", "the paper number 3": the prompt's ``<paper number="1">``, named as
#: the model saw it (a chip right after it is the model's repeat, or a slip).
_NUMBERED = re.compile(
    r"\b(?:[Tt]he\s+)?(?:[Pp]aper|[Ss]ource|[Ee]xcerpt|[Aa]bstract)\s+(?:number\s+|#\s*)?"
    r"(\d{1,2})\b(?![.,]\d)(\s*\[[\d,\s]+\])?" + _APPOSITION
)


def name_ordinals(text: str, listed: Sequence[tuple[int, Paper]]) -> str:
    """ "The fourth paper" (the prompt's order of ``listed``, its number and paper) and
    "Paper 4" (its number) become that paper's name and chip; a chip the model put right
    after it is replaced by ours."""
    if not listed:
        return text
    by_number = dict(listed)

    def numbered(match: re.Match[str]) -> str:
        paper = by_number.get(int(match.group(1)))
        kept = _kept_apposition(match, paper, listed)
        if paper is None:
            return match.group(0).removesuffix(match.group("apposition") or "") + (kept or "")
        if kept is None:  # "Paper 1, "EMS: Evict then Merge," proposes": "EMS [1] proposes"
            return f"{paper_name(paper)} [{match.group(1)}]"
        if _named_after(match, paper):  # "Paper 1 proposes EMS": not "EMS ... EMS"
            return f"{_the_paper(match, int(match.group(1)))}{kept}"
        return f"{paper_name(paper)} [{match.group(1)}]{kept}"

    text = _NUMBERED.sub(numbered, text)

    def replace(match: re.Match[str]) -> str:
        word = (match.group(1) or match.group(2)).lower()  # "the second paper" / "the second"
        index = len(listed) - 1 if word in ("last", "final") else _ORDINALS.index(word)
        if index >= len(listed):
            return match.group(0)
        number, paper = listed[index]
        kept = _kept_apposition(match, paper, listed) or ""
        if not kept and _named_after(match, paper):  # "the second introduces Taipan"
            return _the_paper(match, number)
        return f"{paper_name(paper)} [{number}]{kept}"

    return _ORDINAL.sub(replace, text)


# A run of chips read as a noun ("are [1], [2] and [3]"), after a word that asks for one.
_CHIP_RUN = re.compile(r"\[\d+\](?:(?:\s*,\s*and\s+|\s*,\s*|\s+and\s+|\s+or\s+|[ \t]*)\[\d+\])*")
_NOUN_SLOT = re.compile(
    rf"(?:[.!?]{NOT_AFTER_ABBREVIATION}\s+|[:;,]\s+|"
    r"\b(?:[Ii]n|by|from|of|is|are|was|were|and|or|while|whereas|but|than|"
    r"with|like|as|unlike|include|includes|including|namely|see|both|called|named|titled|"
    r"(?:[Aa]ccording|[Cc]ompared|[Ss]imilar|[Tt]hanks) to)\s+)$"
)
# Words that stand in for the name: "the paper by [1]", "Papers [1] and [2]".
_WORKS = re.compile(
    r"\b(?:(?:[Tt]he|[Aa]|[Tt]his|[Oo]ne)\s+)?(?:[Pp]apers?|[Ww]orks?|[Ss]tud(?:y|ies)|"
    r"[Aa]rticles?)\s+(?:(?:by|from|of|in)\s+)?$"
)
_SENTENCE_BREAK = re.compile(r"[.!?]\s+")
_VERB_NEXT = re.compile(r"\s+[a-z]+s\b")  # "[2] introduces ...": a verb follows the chip
_WORD_NEXT = re.compile(r"\s+[a-z]")  # "[5] and [6] explore ...": any lowercase word follows


def _named_after(match: re.Match[str], paper: Paper) -> bool:
    """Whether the rest of the match's sentence names ``paper`` ("Paper 1 proposes EMS")."""
    rest = _SENTENCE_BREAK.split(match.string[match.end() :], maxsplit=1)[0].lower()
    return any(c in rest for c in _called(paper))


def _the_paper(match: re.Match[str], number: int) -> str:
    """ "the paper [n]" in place of the match, capitalised as it was."""
    return f"{'The' if match.group(0)[0].isupper() else 'the'} paper [{number}]"


def _kept_apposition(
    match: re.Match[str], paper: Paper | None, listed: Sequence[tuple[int, Paper]]
) -> str | None:
    """The apposition after "the first paper" to keep ("" when there is none), its own
    ordinals named (", and the second paper,"), or None when it names ``paper``: its title,
    or what prose calls it (``_called``), quoted or not."""
    apposition = match.group("apposition") or ""
    said = CITATION_GROUP.sub("", apposition).strip(' ,"“”').rstrip(",.?").lower()
    if (
        paper is not None
        and said
        and (paper.title.lower().startswith(said) or said.split(":")[0] in _called(paper))
    ):
        return None
    return name_ordinals(apposition, listed) if apposition else ""


def _called(paper: Paper) -> list[str]:
    """What a sentence that already names the paper contains (lower case): its short name,
    the name prose gives it, or its title's first five words."""
    words = paper.title.lower().split()
    named = paper_name(paper).strip("“”…").lower()
    return [paper.short_name.lower(), named, " ".join(words[:5]) if len(words) > 5 else named]


def _after(before: str, words: str) -> str:
    """``words`` as written after ``before``: capitalised when they start a sentence."""
    starts = not before.strip() or re.search(r"[.!?]\s*$", before)
    return words[0].upper() + words[1:] if starts else words


# "The paper titled", "a study called", "the work by": words a title may follow.
_TITLED = (
    r"(?P<intro>(?:(?:[Tt]he|[Aa]|[Oo]ne)\s+(?:paper|work|study|article)|"
    r"[Pp]aper\s*(?P<chip>\[\d+\])(?=\s*,?\s*(?:(?:en)?titled|called|named)))\s*,?\s*"
    r"(?:(?:en)?titled|called|named|by|from)?\s*[,:]?\s*)?"
)
#: A list item's label for its paper: "<title> - This paper proposes".
_THIS_PAPER = r"(?:[Tt]his|[Tt]he)\s+(?:paper|work|study)\b"


def name_titles(text: str, papers: Iterable[Paper]) -> str:
    """A paper's whole title written out, with the words that introduce it ("The paper
    titled “EMS: Adaptive Evict-then-Merge ...” [1] shows", also "The paper by EMS [1]") or
    label it (a list item made prose: "<title> - This paper proposes"), becomes the name prose
    gives it ("EMS [1] shows", "EMS proposes"): the title reads as a paper by someone, and the
    card already shows it."""
    # Longest first: one title may begin another ("White-Box Transformers via Sparse Rate
    # Reduction" and "...: Compression Is All There Is?"), and must not be found inside it.
    for paper in sorted(papers, key=lambda p: -len(p.title)):
        words = paper.title.rstrip(".").split()
        if len(words) < 3:
            continue
        # its closing "?" or "!" may be left off ("... Compression Is All There Is [2]")
        asks = words[-1][-1] in "?!"
        words[-1] = words[-1].rstrip("?!") if asks else words[-1]
        title = _spelt(words) + ("[?!]?" if asks else "") + rf"(?![\w-]|:\s*(?!{_THIS_PAPER})\w)"
        if paper.short_name != paper.title:  # after "the paper by", its short name too
            short = _spelt(paper.short_name.split()) + r"(?![\w:-])"
            title = rf"(?(intro)(?:{title}|{short})|{title})"
        pattern = re.compile(
            rf"{_TITLED}[“\"'*]*{title}(?:(?P<punct>[,.;:])(?=[”\"'*]))?[”\"'*]*"
            rf"(?:(?P<comma>,(?=\s))|(?P<label>\s*[-–—:]\s+{_THIS_PAPER})|"
            r"(?P<by>\s+(?:by|from)(?=\s*\[\d+\])))?",
            re.IGNORECASE,
        )
        name = paper_name(paper)

        def replace(
            match: re.Match[str], name: str = name, named: bool = paper.short_name != paper.title
        ) -> str:
            introduced = match.group("intro") or match.group("label") or match.group("by")
            if not introduced and not named:
                return match.group(0)  # a bare title with no shorter name: it is its name
            named_as = _after(match.string[: match.start()], name)
            if match.group("by"):  # 'The paper "Title" by [1] reports' -> 'Name [1] reports'
                return named_as + (match.group("punct") or "")
            if match.group("chip"):  # 'Paper [1], titled "Title," shows' -> 'Name [1] shows'
                return f"{named_as} {match.group('chip')}"
            # '"Title," it says' keeps its comma
            return named_as + (match.group("punct") or "") + (match.group("comma") or "")

        text = pattern.sub(replace, text)
    return text


# "The paper by SCM [2]": a name of one to three capitalised words (a method's, not an
# author's) between "the paper by" and its chip.
_BY_NAME = re.compile(
    r"\b[Tt]he\s+(?:paper|work|study|article)\s+(?:by|from|on)\s+"
    r"(?P<name>[A-Z][\w^+-]*(?:\s+[A-Z][\w^+-]*){0,2})(?P<chip>\s*\[(?P<n>\d+)\])"
)


def _drop_paper_by(match: re.Match[str], papers: Mapping[int, Paper]) -> str:
    """Reads "The paper by SCM [2] proposes" as "SCM [2] proposes" when the cited paper's own title
    or abstract uses the name (the model read it there); else as written."""
    paper = papers.get(int(match.group("n")))
    name = match.group("name")
    if paper is None or not re.search(rf"\b{re.escape(name)}\b", f"{paper.title} {paper.abstract}"):
        return match.group(0)
    return name + match.group("chip")


# "Wang et al. [3]", "the paper by Wang and Li et al. [3]": authors the model may have made up
# (the prompt shows none).
_ET_AL = re.compile(
    r"\b(?P<intro>[Tt]he\s+(?:paper|work|study|article)\s+(?:by|from|of)\s+)?"
    r"(?P<names>[A-Z][\w'’-]+(?:\s+(?:and|&)\s+[A-Z][\w'’-]+)?)\s+et\s+al\.?,?"
    r"(?P<chip>\s*\[(?P<n>\d+)\])"
)


def _authors_or_name(match: re.Match[str], papers: Mapping[int, Paper]) -> str:
    """ "The paper by Wang et al. [3]" stays when a Wang wrote paper 3; else it becomes its
    name ("M+ [3]"): a made-up author is no way to tell the reader which paper."""
    paper = papers.get(int(match.group("n")))
    if paper is None:
        return match.group(0)
    surnames = {a.split()[-1].lower() for a in paper.authors if a.split()}
    if any(n.lower() in surnames for n in re.findall(r"[\w'’-]+", match.group("names"))):
        return match.group(0)
    return _after(match.string[: match.start()], paper_name(paper)) + match.group("chip")


def name_citations(text: str, papers: Mapping[int, Paper]) -> str:
    """Chips that stand for a paper get its name before them: at the start of a sentence,
    after a word that asks for a noun ("by", "in", "is", "and" ...), or in place of "the
    paper by" ("The paper by [1] shows" -> "MemoryFormer [1] shows") or an author the paper
    does not have ("Wang et al. [1]"). A chip closing a claim
    ("... by 40% [1].") is left alone, as is one whose paper its sentence names. A title
    written out whole is its name first (``name_titles``)."""
    text = name_titles(text, papers.values())
    text = _ET_AL.sub(lambda m: _authors_or_name(m, papers), text)
    text = _BY_NAME.sub(lambda m: _drop_paper_by(m, papers), text)
    out: list[str] = []
    at = 0
    for run in _CHIP_RUN.finditer(text):
        before, head = text[at : run.start()], text[: run.start()]
        numbers = [int(n) for n in re.findall(r"\d+", run.group(0))]
        works = _WORKS.search(head[-40:])
        cut = len(head) - len(head[-40:]) + works.start() if works else run.start()
        unworded = text[at:cut] if cut >= at else ""  # before, without "the paper by"
        slot = works or not head.strip() or _NOUN_SLOT.search(head[-60:])
        start = _SENTENCE_BREAK.split(head)[-1]
        after = text[run.end() :]
        end = _SENTENCE_BREAK.split(after, maxsplit=1)[0]
        sentence = f"{start} {end}".lower()
        named = any(any(c in sentence for c in _called(papers[n])) for n in numbers if n in papers)
        # "are [1]: 1. ..." introduces a list; "- Paper [1]: The authors ..." labels an item
        introduces = after.lstrip().startswith(":") and not works
        # "[5] and [6] explore ...": opening the sentence, before a word, the chips are its subject
        opens = not start.strip() and _WORD_NEXT.match(after) is not None
        if named and slot and (opens or _VERB_NEXT.match(after)):
            # A chip as the subject of a sentence that names its paper ("[2] introduces
            # Taipan", "Paper [1] proposes EMS", "The paper by [1] shows that KV cache is 1 bit
            # per channel"): "the paper [2]", never a bare number nor "by" one.
            word = "papers" if len(numbers) > 1 else "paper"
            out.append(unworded + _after(text[:cut], f"the {word} ") + run.group(0))
            at = run.end()
            continue
        if not slot or named or introduces or not all(n in papers for n in numbers):
            out.append(before + run.group(0))
            at = run.end()
            continue
        pieces = []
        split = re.split(r"(\[\d+\])", run.group(0))
        gaps = [i for i, piece in enumerate(split) if i % 2 == 0 and 0 < i < len(split) - 1]
        for i, piece in enumerate(split):
            number = re.fullmatch(r"\[(\d+)\]", piece)
            if number:
                piece = f"{paper_name(papers[int(number.group(1))])} {piece}"
            elif i in gaps and not piece.strip():  # "1. [1] [2]": "HR-INR [1] and MoTIF [2]"
                piece = " and " if i == gaps[-1] else ", "
            pieces.append(piece)
        out.append(unworded + "".join(pieces))  # the words that stood in for the name go
        at = run.end()
    out.append(text[at:])
    return "".join(out)


_CHIP_INSIDE = r"(?:\s*\[\d+(?:\s*,\s*\d+)*\])?"


def chips_after_titles(text: str, papers: Sequence[Paper]) -> str:
    """A paper's title quoted with a chip inside it ("What Must We Give in Return [3]? A
    Comprehensive ...") gets the chip after the title: the page showed it mid-title."""
    for paper in papers:
        words = paper.title.split()
        if len(words) < 3:
            continue
        parts = []
        for word in words:
            body, punct = re.match(r"(.*?)([?!.,:;]*)$", word).groups()  # type: ignore[union-attr]
            parts.append(re.escape(body) + _CHIP_INSIDE + re.escape(punct))
        pattern = re.compile(r"\s*".join(p + _CHIP_INSIDE for p in parts[:-1]) + r"\s*" + parts[-1])
        for match in reversed(list(pattern.finditer(text))):
            chips = re.findall(r"\[[\d,\s]+\]", match.group(0))
            if not chips or (match.group(0).endswith(chips[-1]) and len(chips) == 1):
                continue  # no chip, or only the one closing the title
            title = re.sub(r"\s*\[[\d,\s]+\]", "", match.group(0))
            end = match.end() + (1 if text[match.end() : match.end() + 1] in '”"’»*' else 0)
            title += text[match.end() : end]  # after the closing quote, if any
            text = f"{text[: match.start()]}{title} {''.join(chips)}{text[end:]}"
    return text


def names_before_chips(text: str, listed: Sequence[tuple[int, Paper]]) -> str:
    """A list item or clause that opens with a chip and then the paper's name ("1. [1]
    HR-INR", "include: [2] MoTIF, which ...", "The fastest is [1] EfficientVMamba") reads
    name first, like the rest of the page: "1. HR-INR [1]". ``listed``: each shown paper with
    its number."""
    for number, paper in listed:
        names = [paper.title, paper.short_name]  # the whole title first: "Name: the rest"
        for name in dict.fromkeys(names):
            pattern = re.compile(
                rf"(?P<lead>^[ \t]*(?:\d{{1,2}}[.)][ \t]+)?|[:;][ \t]+|\b(?:is|are|was|were)[ \t]+)"
                rf"\[{number}\][ \t]+"
                rf"[\"“]?{re.escape(name)}[\"”]?(?![\w:-])",
                re.MULTILINE,
            )
            named = f"{paper_name(paper) if name == paper.title else name} [{number}]"
            text = pattern.sub(r"\g<lead>" + named.replace("\\", "\\\\"), text)
    return text


# --- figures -------------------------------------------------------------------------------------

# A figure: a number (with decimals or thousands commas) that is not part of a name (GPT-4,
# 3D, Llama-3.1), an exponent (O(N^2)) nor a year; the number itself, units and % left off.
_FIGURE = re.compile(
    r"(?<![\w.'’^-])(?!(?:19|20)\d\d\b)\d+(?:[.,]\d+)*(?=(?:[xX×kKMBTG]|bit)?(?!\w))"
)
ENUMERATOR = re.compile(r"\(\d{1,2}\)|^\s*\d{1,2}[.)](?=\s)", re.MULTILINE)  # (1), "1. item"
_COUNTED = re.compile(r"\b(\d{1,2})\s+(?:of\s+the\s+)?(?:papers?|studies|works?|methods?|sources?)")


def figures(text: str) -> set[str]:
    """The figures a text reports (citation numbers, "(1)" enumerators and list numbers left
    out)."""
    flat = ENUMERATOR.sub(" ", CITATION_GROUP.sub(" ", text))
    return {f.replace(",", "") for f in _FIGURE.findall(flat)}


def given_figures(*texts: str) -> set[float]:
    """The values of every figure the texts give (what a sentence may state)."""
    return {float(f) for text in texts for f in figures(text)}


def unsourced_figures(sentence: str, given: set[float]) -> list[str]:
    """The figures of ``sentence`` whose value is not among ``given`` (``given_figures`` of
    the shown papers and the question: "84" is "84.0"); a small count of papers ("3 papers")
    is allowed."""
    stated = figures(sentence)
    if not stated:
        return []
    known = given | {float(n) for n in _COUNTED.findall(sentence)}
    return sorted((f for f in stated if float(f) not in known), key=float)


#: A made-up name: a capital after a small letter ("ToyNet", "SplatFlow", "MoE") or letters
#: joined to digits ("GPT-4o", "Qwen2"); not an acronym alone ("KV", "LLMs").
_NAME = re.compile(
    r"\b(?=[\w-]*[a-z][A-Z]|[\w-]*[A-Za-z]-?\d|[\w-]*\d-?[A-Za-z])[A-Za-z][\w-]*[\w]"
)


#: An attribution to authors: "by Yann LeCun et al.," (a shown abstract names no authors).
_AUTHORS = re.compile(r",?\s+by\s+((?:[A-Z][\w'’-]+\s+){1,3})et\s+al\.(?:\s+\(\d{4}\))?,?")


def without_invented_authors(text: str, spelt: str) -> str:
    """``text`` without the attributions to authors that ``spelt`` (the shown papers and the
    question, ``squash``ed) never names: the local model wrote "“When Do Prompting and
    Prefix-Tuning Work?” by Yann LeCun et al., shows ..." of three papers, none his."""

    def drop(match: re.Match[str]) -> str:
        surname = match.group(1).split()[-1]
        return match.group(0) if squash(surname) in spelt else ""

    return _AUTHORS.sub(drop, text)


def unsourced_names(sentence: str, spelt: str) -> list[str]:
    """The made-up names of ``sentence`` that ``spelt`` (the shown papers and the question,
    ``squash``ed) never spells: a method the model brought from elsewhere, or the example
    of its own prompt ("ToyNet prunes half of its weights [3]", in a digest overview)."""
    return [n for n in dict.fromkeys(_NAME.findall(sentence)) if squash(n) not in spelt]


#: First-person abstract voice at a sentence's start: "In this paper, we", "We".
_WE_LEAD = re.compile(r"^(?:In this (?:paper|work|study|article),?\s+)?we\b", re.IGNORECASE)
_WE = {"we": "the authors", "our": "the authors'", "us": "them", "ourselves": "themselves"}
_WE_WORD = re.compile(r"\b(?:we|our|us|ourselves)\b", re.IGNORECASE)


def third_person(sentence: str, paper: Paper | None, titles: Sequence[str] = ()) -> str:
    """A sentence in an abstract's first person ("In this paper, we propose ...") told of its
    authors: "The authors of EMS propose ..." (``paper``: the one paper it cites, else just
    "The authors"), "our method" -> "the authors' method". A "We" inside the paper's title or
    one of ``titles`` (the other papers shown) stays."""
    if not _WE_WORD.search(sentence):
        return sentence
    lead = f"The authors of {paper_name(paper)}" if paper is not None else "The authors"
    text = _WE_LEAD.sub(lead, sentence, count=1)
    # a "We" of the paper's own title stays ("KV Cache Compression, But What Must We Give in
    # Return?" read "... Must the authors Give ...")
    names = [*titles, *([paper.title, paper_name(paper).strip("“”…")] if paper else [])]
    chip_or_space = r"(?:\s*\[[\d,\s]+\])?\s+"  # "... Give in Return [1]? A ..."
    titled = [
        m.span()
        for name in names
        for m in re.finditer(_spelt(name.rstrip("?.:!").split(), chip_or_space), text, re.I)
    ]

    def swap(match: re.Match[str]) -> str:
        if any(start <= match.start() < end for start, end in titled):
            return match.group(0)
        said = _WE[match.group(0).lower()]
        if said == "the authors'" and "authors" in text[: match.start()].lower():
            said = "their"  # "The authors show that their models", not "... the authors' models"
        return said[0].upper() + said[1:] if match.start() == 0 else said

    return _WE_WORD.sub(swap, text)


#: A sentence whose subject stands for the one paper it cites: "This paper proposes ... [1]".
_PAPER_SUBJECT = re.compile(
    r"^(?:This|The|That|It(?=\s+(?:proposes|introduces|presents|shows|finds|describes|mentions|"
    r"discusses|notes|reports|argues|explains|demonstrates|highlights|suggests|states)\b))"
    r"(?:\s+(?:paper|study|work|article|method|approach|model))?\b(?!\s+(?:by|of|in|from)\b)"
)


def _standing_subject(sentence: str) -> re.Match[str] | None:
    """The sentence's opening words that stand for a paper ("This paper", "It proposes"), or
    None ("The results ...", a bare "This": not a paper)."""
    match = _PAPER_SUBJECT.match(sentence)
    return None if match is None or match.group(0) in ("This", "The", "That") else match


def name_subject(sentence: str, paper: Paper | None) -> str:
    """ "This paper proposes X [1]" -> "MemoryFormer proposes X [1]" (``paper``: the one
    paper the sentence cites): a reader sees which paper without opening the source."""
    if paper is None or any(c in sentence.lower() for c in _called(paper)):
        return sentence
    match = _standing_subject(sentence)
    if match is None:
        return sentence
    return paper_name(paper) + sentence[match.end() :]


#: A sentence's subject and chip, then the rest: 'The paper "SirLLM: ..." [4] as Large ...'.
_HEAD_CHIP = re.compile(r"^(?P<head>[^\[]{1,200}?\[\d+\])\s+(?P<rest>[^\[\]]+?)\s*$")
#: ", which <words>" closing a sentence, with the chips after them.
_WHICH_COPY = re.compile(r",\s+which\s+(?P<copy>[a-z][^\[\]]+?)(?P<chips>(?:\s*\[\d+\])*)\s*\.?$")


def quoted_copy(sentence: str, paper: Paper | None) -> str:
    """A paper's name and chip glued to one of its abstract's sentences copied whole
    ('The paper "SirLLM ..." [4] as Large Language Models (LLMs) become ..., their ability
    ... becomes essential.': no verb joins them) reads as that sentence quoted: '... [4]:
    “As Large Language Models ... becomes essential.”'. A copy that goes on from the name
    ("EMS [1] merges the evicted tokens ...") is a sentence of its own and is left alone.
    A copy glued on after ", which" ("SirLLM [3] proposes the Streaming Infinite Retentive
    LLM, which as Large Language Models (LLMs) become ... essential.", the demo's memory
    follow-up) says nothing of the paper and no verb joins it: it is cut there."""
    if paper is None:
        return sentence
    which = _WHICH_COPY.search(sentence)
    if which and _copied(which.group("copy"), paper):  # nothing of the paper's own: cut
        return f"{sentence[: which.start()]}{which.group('chips')}."
    match = _HEAD_CHIP.match(sentence)
    if match is None:
        return sentence
    rest = match.group("rest")
    if not rest[:1].islower():  # "[1] The occlusion ...": a label
        return sentence
    line = _copied(rest, paper)
    return f"{match.group('head')}: “{line}”" if line else sentence


def _copied(words: str, paper: Paper) -> str | None:
    """The sentence of ``paper``'s abstract that ``words`` copy whole, case aside; none for
    fewer than six words (the abstract is split only when there are six)."""
    said = " ".join(words.split()).rstrip(".").lower()
    if len(said.split()) < 6:
        return None
    return next(
        (
            line
            for line in split_sentences(paper.abstract)
            if line[:1].isupper() and " ".join(line.split()).rstrip(".").lower() == said
        ),
        None,
    )


#: A claim that the paper found something: "D2O found that ...", "It shows that ...".
_FOUND_THAT = re.compile(
    r"^(?P<head>[^\[\]]{1,160}?(?:\s*\[\d+\])?\s)"
    r"(?P<verb>found|finds|showed|shows|demonstrated|demonstrates|revealed|reveals|observed|"
    r"observes|discovered|discovers|reported|reports)\s+that\s+(?P<clause>.+)$"
)
#: Where an abstract turns from what it starts from to what the paper does.
_CONTRIBUTION = re.compile(
    rf"{_WE_WORD.pattern}|\b(?:this (?:paper|work|study|article)|here)\b|"
    r"\b(?:propose[sd]?|introduce[sd]?|present(?:s|ed)?)\b",
    re.IGNORECASE,
)
#: Share of a clause's content words one background sentence must hold to be its copy.
BACKGROUND_COPY = 0.8


def background_sentences(paper: Paper) -> list[str]:
    """The abstract's opening sentences before the first that says what the paper does: the
    field it starts from ("Machine unlearning is ... without retraining it from scratch"),
    not what it found or did."""
    lines = split_sentences(paper.abstract)
    turn = next((i for i, line in enumerate(lines) if _CONTRIBUTION.search(line)), len(lines))
    return lines[:turn]


def noted_background(sentence: str, paper: Paper | None) -> str:
    """ "D2O [4] found that efficient inference ... is impeded by the KV cache" where that is
    the background D2O's abstract opens with (the model copied it as a finding) ->
    "D2O [4] notes that ...". ``paper``: the one paper the sentence cites."""
    match = _FOUND_THAT.match(sentence)
    if paper is None or match is None:
        return sentence
    said = question_terms(CITATION_GROUP.sub(" ", match.group("clause")))
    if len(said) < 4:
        return sentence
    for line in background_sentences(paper):
        if len(said & question_terms(line)) >= BACKGROUND_COPY * len(said):
            verb = "notes" if match.group("verb").endswith("s") else "noted"
            return f"{match.group('head')}{verb} that {match.group('clause')}"
    return sentence
