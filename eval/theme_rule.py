"""Which digest themes get written up as about their topic: the rule against labelled themes.

Run: ``.venv/bin/python eval/theme_rule.py``. ``eval/theme_labels.jsonl`` holds 37 themes
that digests of 16 topics made over the sample (the papers of each, by title), each labelled
"on" (most of its papers are about the topic, so a paragraph about the topic is truthful) or
"near" (mostly about something else) by a helper who saw only the titles and abstracts.
Topics are split in two: ``dev`` (the rule's threshold was chosen there) and ``check``
(only measured). For each split it prints how many "on" themes the rule writes and how many
"near" ones, for ``themes.mark_off_topic`` today and for the rule before it (written when
any one paper uses the topic's content words).

``eval/theme_paper_labels.jsonl`` labels each paper of the 8 "on" themes "on" or "near" (the
same kind of helper, titles and abstracts only). For each split it prints how many of each
stay in their theme under ``mark_off_topic``'s paper rule (a paper of a theme on the topic
that does not cover it, by ``coverage``, leaves for a near theme), against the word rule
alone (``says_topic``). Loads the embedding model (a few seconds).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from assistant.coverage import coverage, main_parts, question_parts  # noqa: E402
from assistant.embed import get_embedder  # noqa: E402
from assistant.ingest import merge_duplicates  # noqa: E402
from assistant.models import Paper  # noqa: E402
from assistant.parse import parse_paths  # noqa: E402
from assistant.settings import Settings  # noqa: E402
from assistant.text import mentions_terms, question_terms  # noqa: E402
from assistant.themes import ON_TOPIC_SHARE, says_topic  # noqa: E402


def main() -> None:
    papers = merge_duplicates(parse_paths([ROOT / "data" / "sample"], year=2024).papers)
    by_title = {" ".join(p.title.split()): p for p in papers}
    rows = [json.loads(line) for line in (ROOT / "eval" / "theme_labels.jsonl").open()]

    def today(topic: str, members: list[Paper]) -> bool:
        saying = sum(says_topic(p, question_parts(topic)) for p in members)
        return saying >= ON_TOPIC_SHARE * len(members)

    def before(topic: str, members: list[Paper]) -> bool:
        return any(mentions_terms(p.text, question_terms(topic)) for p in members)

    for split in ("dev", "check"):
        chosen = [r for r in rows if r["split"] == split]
        on = sum(r["label"] == "on" for r in chosen)
        print(f"{split}: {len(chosen)} themes of {len({r['topic'] for r in chosen})} topics")
        for name, rule in (("today", today), ("before", before)):
            written = [r for r in chosen if rule(r["topic"], [by_title[t] for t in r["titles"]])]
            right = sum(r["label"] == "on" for r in written)
            print(
                f"  {name:6}  'on' themes written {right}/{on}, "
                f"'near' themes written {len(written) - right}/{len(chosen) - on}"
            )

    labelled = [json.loads(line) for line in (ROOT / "eval" / "theme_paper_labels.jsonl").open()]
    embedder = get_embedder(Settings())

    def covers(topic: str, paper: Paper) -> bool:
        parts = main_parts(topic)
        found = coverage(parts, [paper], embedder)
        return found.covers_all(paper.id)

    def says(topic: str, paper: Paper) -> bool:
        return says_topic(paper, main_parts(topic))

    print("papers of the 'on' themes that stay in them:")
    for split in ("dev", "check"):
        chosen = [r for r in labelled if r["split"] == split]
        for name, rule in (("today", covers), ("words", says)):
            stay = [r for r in chosen if rule(r["topic"], by_title[" ".join(r["title"].split())])]
            on = sum(r["label"] == "on" for r in chosen)
            on_stay = sum(r["label"] == "on" for r in stay)
            print(
                f"  {split:5}  {name:5}  'on' papers stay {on_stay}/{on}, "
                f"'near' papers stay {len(stay) - on_stay}/{len(chosen) - on}"
            )


if __name__ == "__main__":
    main()
