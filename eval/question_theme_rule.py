"""Which themes of a *question's* digest get written up as answering it: the rule against
labelled themes.

Run: ``.venv/bin/python eval/question_theme_rule.py [--store store]`` on the sample store
(``make demo`` or ``assistant ingest data/sample --year 2024``). A question (three parts or
more, ``themes.QUESTION_PARTS``) is judged by the search's order and by coverage, so unlike
``theme_rule.py`` the rule needs the whole page: this script makes each question's digest
without a model and finds every labelled theme among its themes by its titles (a theme the
clustering no longer makes is reported as unmatched, not scored).

``eval/question_theme_labels.jsonl`` holds 43 themes of 18 questions, each labelled "on"
(most of its papers are about what is asked) or "near" by helpers who saw only the titles
and abstracts, never the rule. ``dev`` (8 questions): seen while the coverage condition was
added; ``check`` (10 questions): labelled afterwards and only measured.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from assistant.digest import digest  # noqa: E402
from assistant.settings import Settings  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, default=ROOT / "store")
    settings = Settings(store_dir=parser.parse_args().store)
    rows = [json.loads(line) for line in (ROOT / "eval" / "question_theme_labels.jsonl").open()]
    written: dict[str, bool] = {}
    for topic in dict.fromkeys(r["topic"] for r in rows):
        page = digest(topic, settings, use_llm=False)
        for theme in page.themes:
            # On the question: a paragraph of its own, or the overview when it is shown
            # exactly the overview's papers (``planned`` is then False).
            written[topic + "|" + "|".join(p.title for p in theme.papers)] = theme.near is None
    for split in ("dev", "check"):
        chosen = [r for r in rows if r["split"] == split]
        tally = {"on": [0, 0], "near": [0, 0]}
        unmatched = 0
        for r in chosen:
            key = r["topic"] + "|" + "|".join(r["titles"])
            if key not in written:
                unmatched += 1
                continue
            tally[r["label"]][0] += written[key]
            tally[r["label"]][1] += 1
        print(
            f"{split}: {len(chosen)} themes of {len({r['topic'] for r in chosen})} questions: "
            f"'on' themes written {tally['on'][0]}/{tally['on'][1]}, "
            f"'near' themes written {tally['near'][0]}/{tally['near'][1]}"
            + (f", {unmatched} not made by today's clustering" if unmatched else "")
        )


if __name__ == "__main__":
    main()
