"""Comparison tables: papers side by side, every cell copied from the paper's own abstract.

``compare(papers)`` reads top to bottom:

1. cells     per paper, each column's text cut from one abstract sentence (``proposes``,
             ``task_data``, ``result``) and the code link; a column the abstract cannot fill
             says ``NOT_STATED``, never a guessed value
2. check     every figure in a cell must occur in that paper's abstract (``prose.figures``);
             a cell that fails is emptied and counted (``Comparison.removed``)
3. columns   a column no paper fills is left out of the table (named in ``left_out``)

No model is called: the cells are verbatim spans, so the checker, not a generator, decides
what is shown. The digest and weekly pages (``page.py``), a chat answer asked to compare
(``answer.py``) and ``assistant compare`` all build on this one ``compare``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping, Sequence

from assistant.errors import InputError
from assistant.evidence import abstract_sentences, topic_hits
from assistant.models import Paper, SearchFilters
from assistant.models.compare import NO_CODE, NOT_STATED, Cell, Comparison, ComparisonRow
from assistant.models.papers import PaperRef
from assistant.prose import figures
from assistant.settings import Settings
from assistant.store import open_store
from assistant.text import STOPWORDS, split_sentences, word_classes

PROPOSES, TASK, RESULT, CODE = "Proposes", "Task / data", "Result", "Code"
COLUMNS = (PROPOSES, TASK, RESULT, CODE)
#: Longest cell, in words (a longer span is cut at a word and ends with "…").
MAX_WORDS = {PROPOSES: 14, TASK: 12, RESULT: 24}

# --- 1. cells ------------------------------------------------------------------------------------

#: A sentence saying what the paper does: "we propose", "this paper introduces".
CONTRIBUTION = re.compile(
    r"\b(we|this (?:paper|work|study|article)|our (?:method|approach|model|framework))\b"
    r"[^.]{0,40}?(?<!the )(?<!our )(?<!this )\b(propose|present|introduce|develop|design|"
    r"build|release|describe|construct|curate|offer)[sd]?\b",  # "the proposed X" is no verb
    re.I,
)
_OBJECT_END = re.compile(
    r"\s(?:that|which|where|whereby|who|to address|to tackle|to solve|to overcome|in order to|"
    r"by|through|via|using|based on|inspired by|capable of|designed to|aimed at)\s|[;:(]"
    r"|,\s(?:which|that|where|enabling|allowing|achieving|leading|making|and)\b|\s[-–—]\s",
    re.I,
)
_LEADING = re.compile(r"^(?:,?\s*(?:here|also|thus|therefore|further|then|first)\b,?\s*)+", re.I)

#: Words that start a sentence, not a name: "Our dataset", "These benchmarks".
_LEAD_TEXT = "our we to in on a an its all both new existing large public standard"
_LEAD_WORDS = STOPWORDS | frozenset(_LEAD_TEXT.split())

_CODE = re.compile(r"github\.com|gitlab\.|bitbucket\.org|huggingface\.co/(?!papers)", re.I)

#: A benchmark or dataset name: a word with a capital after its first letter or a digit
#: (ImageNet, GSM8K, COCO, MATH-500), or any capitalized word right before "benchmark"/"dataset".
_BENCH_WORD = (
    r"(?:[A-Z][A-Za-z]*[A-Z0-9][A-Za-z0-9]*|[A-Z]{2,}|[A-Z][a-z]+(?:[- ][A-Z][a-z]+){1,3})"
    r"(?:[-.][A-Za-z0-9]+)*"
)
_BENCH_AFTER = re.compile(
    r"\b(?:on|across|over|benchmarks?|datasets?|(?:benchmarks?|datasets?|tasks?),?\s+"
    r"(?:such as|like|including|e\.g\.,?))\s+(?:(?:the|both|all)\s+)?"
    rf"({_BENCH_WORD}(?:\s*(?:,|and|,\s*and|&|/)\s*(?:the\s+)?{_BENCH_WORD})*)"
)
_BENCH_BEFORE = re.compile(
    rf"\b((?:{_BENCH_WORD}|[A-Z][a-z]+)(?:[- ](?:{_BENCH_WORD}|[A-Z][a-z]+)){{0,2}})\s+"
    r"(?:benchmarks?|datasets?|suites?|corpus|leaderboards?)\b"
)
#: What a task reads like when no benchmark is named: "on several long-context tasks".
_TASKS = re.compile(
    r"\b(?:on|across|over|in)\s+((?:[\w-]+\s+){1,4}?(?:tasks?|benchmarks?|datasets?|domains?))\b"
)
#: Names that are models, methods or acronyms of the field, not data or benchmarks.
_NOT_DATA_TEXT = """
    AI ML LLM LLMs VLM VLMs MLLM MLLMs LVLM LVLMs NLP CV RL RLHF GAN VAE CNN RNN LSTM MLP GNN
    KV RAG SFT QA VQA ASR TTS OCR FID BLEU ROUGE SOTA API GPU GPUs CPU TPU MoE ViT ViTs LoRA DPO
    PPO GRPO CoT GPT GPT-4 GPT-4o GPT-3.5 ChatGPT LLaMA Llama LLaMA-2 Llama-2 Llama-3 Mistral
    Qwen Qwen2 Qwen2.5 Gemma Claude BERT RoBERTa T5 CLIP SAM DeepSeek DeepSeek-R1 Phi OPT Pythia
    Vicuna Mamba Transformer Transformers SSM SSMs DiT DiTs UNet U-Net NeRF NeRFs HTML PDF URL
    ODE SDE PDE LM LMs MT IR SQL JSON OOD IID FLOPs TFLOPs PSNR SSIM LPIPS FVD CLIPScore AUC
    F1 mAP IoU WER CER EM RMSE MSE MAE TTA TTC TTS MCTS PRM ORM RM SVD PCA FFN FFT ReLU SGD
    AdamW Adam GNNs CNNs RNNs MLPs ReLU ReLUs GeLU PEFT OpenAI English SoTA SOTA"""
_NOT_DATA = frozenset(_NOT_DATA_TEXT.split())
_MODEL_FAMILY = re.compile(r"^(?:GPT|LLaMA|Llama|Qwen|Mistral|Gemma|Claude|DeepSeek|Phi)")

#: A sentence that states an outcome of the paper's experiments.
_RESULT_CUE = re.compile(
    r"\b(?:outperform|improv|achiev|surpass|exceed|beat|reduc|speed|faster|slower|accura|"
    r"state-of-the-art|sota|gain|boost|lower|higher|increas|decreas|sav(?:e|es|ing)|cut|match|"
    r"attain|reach|yield|deliver|obtain|score|win rate|rival|comparable|competitive|"
    r"up to|relative|absolute|times|fewer|less|more than|only)",
    re.I,
)
_EXPERIMENT_CUE = re.compile(
    r"\b(?:experiment|result|evaluat|empirical|benchmark|demonstrat|show)", re.I
)
_CLAUSE_SPLIT = re.compile(r"(?<=[,;:])\s+|\s+(?=(?:while|whereas)\s)")
_RESULT_LEAD = re.compile(
    r"^(?:(?:and|but|while|whereas|moreover|furthermore|additionally|notably|specifically|especially|"
    r"in particular|overall|finally|empirically|experimentally|in addition)\b,?\s*)+",
    re.I,
)


#: Words that open a phrase modifying what came before: a cell cut before one ends on the noun
#: it modifies ("a simple latent variable model to abstract ... the concept dynamics…"), not
#: on an article or an adjective ("... the concept dynamics of the…").
_PHRASE_OPENS_TEXT = (
    "to for of in on with from by while and or as at into when where which that using via "
    "than between across under over without within through after before"
)
_PHRASE_OPENS = frozenset(_PHRASE_OPENS_TEXT.split())
#: "1. ", "(2) ", "(iii) " opening an abstract's list item.
_LIST_NUMBER = re.compile(r"^(?:\(?\d{1,2}[.)]|\([ivx]{1,4}\))\s+")
#: A cut keeps at least this many words, however late the last phrase opens.
_CUT_LEAST = 5


def _cut(text: str, words: int) -> str:
    """``text`` whole, or its first ``words`` words and "…", cut at a word, never inside, and
    before the last phrase that opens among them (``_PHRASE_OPENS``). A list number the
    abstract puts before it goes ("1. We utilized ..." was a Result cell)."""
    text = _LIST_NUMBER.sub("", " ".join(text.split()).strip(" ,;:"))
    parts = text.split(" ")
    if len(parts) <= words:
        return text.rstrip(".")
    opens = [i for i in range(_CUT_LEAST, words + 1) if parts[i].lower() in _PHRASE_OPENS]
    return " ".join(parts[: opens[-1] if opens else words]).rstrip(",;:.") + "…"


def _adjective(word: str) -> bool:
    """Whether English only uses ``word`` as an adjective (lemminflect's lexicon), or, a word
    it lacks ("scalable"), whether it ends as adjectives do."""
    readings = word_classes(word)
    if not readings:
        return word.lower().endswith(("able", "ible", "ive", "ous", "ful", "less"))
    return readings <= {"ADJ"}


#: A name in brackets: "Coupled Quantization (CQ)", "scalable (GPS)".
_NAME_BRACKET = re.compile(r"\([A-Z][\w.-]*\)")


def _object(rest: str) -> str:
    """What a "we propose" sentence proposes, from the words after its verb: up to the
    clause that says how or why (``_OBJECT_END``). A name in brackets belongs to it and ends
    it ("Coupled Quantization (CQ)"), unless it names a phrase still open, after an adjective
    ("a general, powerful, scalable (GPS) graph Transformer")."""
    at = 12 if re.match(r"^\S+,", rest) else 0
    while end := _OBJECT_END.search(rest, at):
        name = _NAME_BRACKET.match(rest, end.start())
        if name is None:
            return rest[: end.start()]
        before = rest[: end.start()].split()
        if not (before and _adjective(before[-1].rstrip(","))):
            return rest[: name.end()]
        at = name.end()
    return rest


def proposes(paper: Paper, sentences: Sequence[str]) -> Cell:
    """What the paper proposes, in a few words: the object of its "we propose ..." sentence
    ("SplatFlow, an efficient MOFE framework"), else the title's part after its name."""
    for sentence in sentences:
        match = CONTRIBUTION.search(sentence)
        if match is None:
            continue
        rest = _LEADING.sub("", sentence[match.end() :].lstrip(" ,"))
        rest = re.sub(r"^(?:(?:here|also|thus|then|and|and then)\b\s*)+", "", rest, flags=re.I)
        span = _object(rest)
        if len(span.split()) >= 2:
            return Cell(text=_cut(span, MAX_WORDS[PROPOSES]), sentence=sentence)
    _, colon, tail = paper.title.partition(":")
    if colon and tail.strip():
        return Cell(text=_cut(tail, MAX_WORDS[PROPOSES]), sentence=paper.title)
    return Cell(text=NOT_STATED)


_INTRODUCED = re.compile(
    r"\((?!e\.g|i\.e)([A-Z][A-Za-z0-9]*(?:[-.][A-Za-z0-9]+)*)\)"
    r"|\b(?:called|named|dubbed|termed|coined)\s+([A-Z][\w.-]*(?:\s+[A-Z][\w.-]*)*)"
)


def method_names(paper: Paper) -> list[str]:
    """What the paper calls its own method: its short name ("DeciMamba") and the names its
    "we propose ..." sentences introduce ("... sequence model (S4)", "a framework called X").
    The field's acronyms (LLM, RL) are not names."""
    names = [paper.short_name] if paper.short_name != paper.title else []
    for sentence in split_sentences(paper.abstract):
        said = CONTRIBUTION.search(sentence)  # "we propose ... (S4)": after the verb only
        found = list(_INTRODUCED.finditer(sentence[said.end() :] if said else ""))
        # an acronym in parentheses first: "called Structured Global Convolution (SGConv)"
        for name in [m.group(1) for m in found] + [m.group(2) for m in found]:
            if name and name not in _NOT_DATA and len(name) > 1:
                names.append(name)
    return list(dict.fromkeys(names))


def benchmarks(paper: Paper, sentences: Sequence[str]) -> list[tuple[str, str]]:
    """The benchmark and dataset names the abstract evaluates on, in order, each with its
    sentence (models, methods and the paper's own name are not data)."""
    own = (
        {w.lower() for w in re.findall(r"[\w.-]+", paper.short_name)}
        if paper.short_name != paper.title
        else set()
    )
    found: dict[str, str] = {}
    for sentence in sentences:
        spans = [m.group(1) for m in _BENCH_AFTER.finditer(sentence)]
        spans += [m.group(1) for m in _BENCH_BEFORE.finditer(sentence)]
        for span in spans:
            for name in re.split(r"\s*(?:,\s*and|,|\band\b|&|/)\s*", span):
                name = re.sub(r"^the\s+", "", name.strip())
                if (
                    not name
                    or name.split()[0].lower() in _LEAD_WORDS
                    or name in _NOT_DATA
                    or name.lower() in own
                    or _MODEL_FAMILY.match(name)
                    or re.search(r"\d+(?:\.\d+)?[BMK]$", name)  # a model size: 7B
                ):
                    continue
                found.setdefault(name, sentence)
    # "MS" of "MS COCO" is part of a longer name found in the same abstract
    return [
        (n, s)
        for n, s in found.items()
        if not any(n != m and re.search(rf"(?<![\w-]){re.escape(n)}(?![\w-])", m) for m in found)
    ]


def task_data(paper: Paper, sentences: Sequence[str]) -> Cell:
    """The benchmarks or datasets it is evaluated on, as the abstract names them, else
    ``NOT_STATED``."""
    names = benchmarks(paper, sentences)
    if not names:
        for sentence in sentences:
            match = _TASKS.search(sentence)
            if match and not CONTRIBUTION.search(sentence) and _says_which(match.group(1)):
                return Cell(text=_cut(match.group(1), MAX_WORDS[TASK]), sentence=sentence)
        return Cell(text=NOT_STATED)
    shown = [n for n, _ in names[:4]]
    more = f" (+{len(names) - 4} more)" if len(names) > 4 else ""
    return Cell(text=", ".join(shown) + more, sentence=names[0][1])


#: Words that say nothing about which task or data: "on several standard benchmarks".
_GENERIC_TEXT = """
    a an the of several multiple many various diverse different distinct new standard common
    popular public wide range array variety set number extensive existing challenging
    downstream two three four five six seven eight nine ten benchmark benchmarks dataset
    datasets task tasks domain domains suite"""
_GENERIC = frozenset(_GENERIC_TEXT.split())


def _says_which(span: str) -> bool:
    """A task span names something ("long-range NLP tasks"), not only "several benchmarks"."""
    return any(w.lower() not in _GENERIC and not w.isdigit() for w in span.split())


def _result_value(index: int, sentence: str, total: int) -> float:
    """How likely ``sentence`` is the abstract's headline result."""
    value = 0.0
    if figures(sentence):
        value += 2.0
    if _RESULT_CUE.search(sentence):
        value += 1.5
    if _EXPERIMENT_CUE.search(sentence):
        value += 0.5
    if CONTRIBUTION.search(sentence):
        value -= 1.0  # "we propose ... that achieves" is the method first
    return value + 0.5 * index / max(total - 1, 1)  # results come late in an abstract


def result(paper: Paper, sentences: Sequence[str]) -> Cell:
    """The headline result: the clause of the abstract's result sentence that holds its
    figure (with what it is measured on when the sentence names it), else ``NOT_STATED``."""
    scored = [
        (_result_value(i, s, len(sentences)), i, s)
        for i, s in enumerate(sentences)
        if i > 0 or len(sentences) == 1
    ]
    scored = [t for t in scored if t[0] >= 1.5 and _RESULT_CUE.search(t[2])]
    if not scored:
        return Cell(text=NOT_STATED)
    _, _, sentence = max(scored)
    clause = _result_clause(sentence, paper)
    return Cell(text=_cut(clause, MAX_WORDS[RESULT]), sentence=sentence)


def _result_clause(sentence: str, paper: Paper) -> str:
    """The span of ``sentence`` from the clause with its first figure (or result word) to the
    clause that names a benchmark, verbatim."""
    clauses = [c for c in _CLAUSE_SPLIT.split(sentence) if c.strip()]
    start = next(
        (i for i, c in enumerate(clauses) if figures(c) and _RESULT_CUE.search(c)),
        next((i for i, c in enumerate(clauses) if _RESULT_CUE.search(c)), 0),
    )
    end = start
    names = [n for n, _ in benchmarks(paper, [sentence])]
    if names and not any(n in clauses[start] for n in names):  # what it is measured on
        later = range(start + 1, len(clauses))
        earlier = range(start - 1, -1, -1)
        end = next((j for j in later if any(n in clauses[j] for n in names)), start)
        if end == start:
            start = next((j for j in earlier if any(n in clauses[j] for n in names)), start)
    while len(" ".join(clauses[start : end + 1]).split()) < 6 and start > 0:
        start -= 1  # too short to read alone: "by 12.3%" needs its verb
    span = " ".join(clauses[start : end + 1])
    return _RESULT_LEAD.sub("", span.strip())


def code_url(paper: Paper) -> str | None:
    """The paper's code link: its GitHub repo, else a code-hosting URL in its abstract."""
    if paper.github_repo:
        return paper.github_repo
    return next((u.rstrip(".,;)") for u in paper.urls if _CODE.search(u)), None)


# --- 2. check ------------------------------------------------------------------------------------


def figures_stated(cell: Cell, paper: Paper) -> bool:
    """Every figure of the cell occurs in the paper's abstract (by value: "84" is "84.0")."""
    stated = {float(f) for f in figures(paper.abstract)}
    return all(float(f) in stated for f in figures(cell.text))


# --- the table -----------------------------------------------------------------------------------


def compare(
    papers: Sequence[Paper],
    topic: str | None = None,
    numbers: Mapping[str, int] | None = None,
) -> Comparison:
    """Papers side by side, one row each (in the order given); ``numbers`` are the papers'
    numbers on a page (by id), when the table belongs to one."""
    started = time.perf_counter()
    rows: list[ComparisonRow] = []
    with_figures = checked = removed = 0
    for paper in papers:
        sentences, _ = abstract_sentences(paper)
        cells = {
            PROPOSES: proposes(paper, sentences),
            TASK: task_data(paper, sentences),
            RESULT: result(paper, sentences),
        }
        for name, cell in cells.items():
            if not figures(cell.text):
                continue
            if figures_stated(cell, paper):
                with_figures += 1
                checked += 1
            else:  # cannot happen for a verbatim span; kept as the rule the table obeys
                cells[name] = Cell(text=NOT_STATED)
                removed += 1
        link = code_url(paper)
        rows.append(
            ComparisonRow(
                paper=PaperRef(id=paper.id, title=paper.title),
                number=(numbers or {}).get(paper.id),
                cells={**{k: c.text for k, c in cells.items()}, CODE: link or NO_CODE},
                sources={k: c.sentence for k, c in cells.items() if c.sentence is not None},
                code_url=link,
            )
        )
    filled = {c for r in rows for c in r.sources} | (
        {CODE} if any(r.code_url for r in rows) else set()
    )
    columns = [c for c in COLUMNS if c in filled]
    for row in rows:
        row.cells = {c: row.cells[c] for c in columns}
    return Comparison(
        topic=topic,
        columns=columns,
        rows=rows,
        left_out=[c for c in COLUMNS if c not in filled],
        with_figures=with_figures,
        figures_checked=checked,
        removed=removed,
        seconds=round(time.perf_counter() - started, 4),
    )


#: A question that asks for papers side by side: "compare these", "in a table".
_ASKS_FOR_TABLE = re.compile(
    r"\b(?:compare|comparing|comparison|contrast|side[- ]by[- ]side|(?:in|as) a table|"
    r"tabulate|table of)\b",
    re.I,
)


def asks_for_table(question: str) -> bool:
    """The question asks to compare papers or for a table of them."""
    return bool(_ASKS_FOR_TABLE.search(question))


# --- the papers to compare -----------------------------------------------------------------------


def papers_to_compare(
    settings: Settings,
    keys: Sequence[str] = (),
    topic: str | None = None,
    n: int = 12,
    filters: SearchFilters | None = None,
) -> tuple[list[Paper], list[str]]:
    """The papers ``keys`` name (ids or arXiv ids, in order), or the ``n`` papers the store
    holds on ``topic`` (hybrid search, gated like a digest); and notices. An uncovered topic
    is an InputError naming the closest papers."""
    if bool(keys) == bool(topic):
        raise InputError("give paper ids or --topic, not both and not neither.")
    if not 1 <= n <= 100:
        raise InputError(f"-n must be between 1 and 100 papers, not {n}.")
    if keys:
        return open_store(settings).find(keys), []
    found = topic_hits(
        settings, str(topic), n, filters or SearchFilters(), settings.digest.min_similarity
    )
    if not found.covered:
        raise InputError(
            f"the indexed papers do not cover {found.query!r}. " + " ".join(found.notices)
        )
    return [h.paper for h in found.hits], found.notices
