"""Which retrieved papers an answer shows the model: ``evidence.on_question`` against labels.

Run: ``.venv/bin/python eval/source_rule.py`` on a store holding the sample (``--store DIR``,
default ``store``). For every answerable case of a suite it retrieves the answer's sources
as ``gather`` does (the question's k best, hybrid), then counts which of them
``on_question`` keeps. A source is accepted when the case lists it (gold or also relevant)
or ``eval/source_labels.jsonl`` labels it "on": 514 papers that core's questions retrieve
(the six best of each, the listed ones left out), each labelled "on" or "near" by a helper
who saw only the question, the title and the abstract, not the code or any answer. Only 13
were "on": what the suite does not list is, nearly always, not what was asked.

It prints, for core (where ``NEAR_BEST`` was chosen) and for holdout and meaning together
(only measured; their unlisted papers count as not accepted, unlabelled), the accepted and
the other sources shown, today and with every source kept.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from assistant.coverage import coverage, question_parts  # noqa: E402
from assistant.embed import get_embedder  # noqa: E402
from assistant.evals.suite import load_suite, resolve_gold, title_index  # noqa: E402
from assistant.evidence import on_question  # noqa: E402
from assistant.models import SearchFilters  # noqa: E402
from assistant.retrieve import search  # noqa: E402
from assistant.settings import Settings  # noqa: E402
from assistant.store import open_store  # noqa: E402

ANSWERABLE = ("known_item", "numeric", "multi_paper", "topic")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--store", default="store", help="store directory holding the sample")
    settings = Settings(store_dir=Path(parser.parse_args().store))
    embedder = get_embedder(settings)
    ids_by_title = title_index(open_store(settings).iter_papers())
    labels = [json.loads(line) for line in (ROOT / "eval" / "source_labels.jsonl").open()]
    on = {(r["case"], r["title"]) for r in labels if r["label"] == "on"}

    for name, suites in (("core", ["core"]), ("holdout + meaning", ["holdout", "meaning"])):
        counts = {"today": [0, 0, 0, 0], "all kept": [0, 0, 0, 0]}  # accepted kept/all, other
        for suite_name in suites:
            suite = load_suite(ROOT / "eval" / "suites" / f"{suite_name}.jsonl")
            listed = resolve_gold(suite, ids_by_title)
            for case in (c for c in suite.cases if c.type in ANSWERABLE):
                accepted = set(listed.gold[case.id]) | set(listed.also_relevant[case.id])
                hits = search(
                    settings,
                    case.question,
                    k=settings.answer.k,
                    filters=SearchFilters(),
                    sentences=True,
                ).hits
                covered = coverage(question_parts(case.question), [h.paper for h in hits], embedder)
                kept = {h.paper.id for h in on_question(hits, covered)}
                for h in hits:
                    good = h.paper.id in accepted or (case.id, h.paper.title) in on
                    for rule, shown in (("today", h.paper.id in kept), ("all kept", True)):
                        counts[rule][0 if good else 2] += shown
                        counts[rule][1 if good else 3] += 1
        print(f"{name}:")
        for rule, (good, goods, other, others) in counts.items():
            print(
                f"  {rule:8}  accepted shown {good}/{goods}, others shown {other}/{others}, "
                f"share accepted {good / max(good + other, 1):.3f}"
            )


if __name__ == "__main__":
    main()
