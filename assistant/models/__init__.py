"""Typed records passed between pipeline stages; the CLI's ``--json`` is their model dump.

One file per part of the pipeline, read in its order: ``papers`` (ingest, store, retrieve:
papers, filters, hits), ``answers`` (evidence and the checked answer), ``compare``
(comparison tables and disagreements), ``digests`` (topic digests and weekly summaries),
``interests`` (interests, collections, rankings), ``health`` (checks). Import from here:
``from assistant.models import Paper``.
"""

from assistant.models.answers import (
    QUOTES_HEADING,
    Answer,
    AnswerTelemetry,
    CheckedText,
    Citation,
    Evidence,
    EvidenceSet,
    SentenceCheck,
    Source,
)
from assistant.models.digests import (
    Digest,
    DigestPaper,
    DigestProgress,
    DigestTelemetry,
    DigestTheme,
    LLMCall,
    SavedWeek,
    ThemePaper,
    WeekInfo,
)
from assistant.models.health import Check
from assistant.models.papers import (
    Hit,
    Paper,
    SearchFilters,
    SearchResult,
    SentenceMatch,
    date_to_int,
    int_to_date,
    normalize_title,
    paper_id_for,
    parse_date,
)

__all__ = [
    "QUOTES_HEADING",
    "Answer",
    "AnswerTelemetry",
    "Check",
    "CheckedText",
    "Citation",
    "Digest",
    "DigestPaper",
    "DigestProgress",
    "DigestTelemetry",
    "DigestTheme",
    "Evidence",
    "EvidenceSet",
    "Hit",
    "LLMCall",
    "Paper",
    "SavedWeek",
    "SearchFilters",
    "SearchResult",
    "SentenceCheck",
    "SentenceMatch",
    "Source",
    "ThemePaper",
    "WeekInfo",
    "date_to_int",
    "int_to_date",
    "normalize_title",
    "paper_id_for",
    "parse_date",
]
