"""``assistant eval``: run a question suite and write its report; compare two runs."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click
from rich.progress import MofNCompleteColumn, TextColumn
from rich.table import Table

from assistant.cli.base import (
    cli,
    console,
    notes,
    plain,
    print_json,
    progress_bar,
    settings_of,
)
from assistant.cli.options import json_option

#: Cases already scored, one JSON line each, while a run goes on (removed when it finishes).
PARTIAL = "results.partial.jsonl"


@cli.group(name="eval")
def eval_group() -> None:
    """Measure retrieval, citations, abstention, facts and speed on a question suite."""


def _modes() -> tuple[str, ...]:
    from assistant.evals.runner import EVAL_MODES

    return EVAL_MODES


def _systems() -> tuple[str, ...]:
    from assistant.evals.runner import SYSTEMS

    return SYSTEMS


@eval_group.command(name="run")
@click.argument("suite", type=click.Path(path_type=Path))
@click.option(
    "--modes",
    "modes",
    multiple=True,
    type=click.Choice(_modes(), case_sensitive=False),
    help="Retrieval modes to score (repeat the option; default: all).",
)
@click.option("--no-llm", is_flag=True, help="Retrieval and the relevance gate only (seconds).")
@click.option("--digests", is_flag=True, help="Also score digests of the topic cases.")
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    help="Score N cases, taken in turn from each case type (default: all).",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    help="Report folder (default: eval/runs/<suite>-<UTC time>).",
)
@click.option(
    "--system",
    "systems",
    multiple=True,
    type=click.Choice(_systems(), case_sensitive=False),
    help="Answering system: ours, llamaindex (stock pipeline) or llamaindex+ours (stock "
    "CitationQueryEngine on our retriever); repeat for a side-by-side run (default: ours).",
)
@click.option(
    "--replay",
    type=click.Path(path_type=Path, file_okay=False),
    help="Answer with the model's drafts kept in this earlier run's folder instead of the "
    "model: today's check and prose on yesterday's model text, in seconds (ours only; a case "
    "whose evidence changed since is left out).",
)
@json_option("Print summary.json instead of the tables.")
@click.pass_context
def run(
    ctx: click.Context,
    suite: Path,
    modes: tuple[str, ...],
    no_llm: bool,
    digests: bool,
    limit: int | None,
    out: Path | None,
    systems: tuple[str, ...],
    replay: Path | None,
    as_json: bool,
) -> None:
    """Score the suite SUITE (a JSONL file) and write report.md, results.jsonl,
    summary.json and plots into the --out folder.

    \b
    Examples:
      assistant eval run eval/suites/quick.jsonl --no-llm
      assistant eval run eval/suites/core.jsonl --limit 15 --out eval/runs/today
      assistant eval run eval/suites/core.jsonl --limit 15 --system ours --system llamaindex
      assistant eval run eval/suites/core.jsonl --limit 15 --replay eval/runs/today
    """
    from assistant.evals.report import load_run, write_report
    from assistant.evals.runner import EVAL_MODES, CaseResult, run_suite
    from assistant.evals.suite import load_suite
    from assistant.evals.tables import (
        answers_table,
        disagreements_table,
        interests_table,
        retrieval_table,
        tables_table,
    )

    settings = settings_of(ctx)
    loaded = load_suite(suite)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    folder = out or Path("eval") / "runs" / f"{loaded.name}-{stamp}"
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / PARTIAL
    partial.unlink(missing_ok=True)

    def save(case: CaseResult) -> None:
        with partial.open("a", encoding="utf-8") as f:
            f.write(case.model_dump_json() + "\n")

    with progress_bar(
        MofNCompleteColumn(), TextColumn("{task.fields[scores]}"), quiet=as_json
    ) as bar:
        task = bar.add_task(f"eval {loaded.name}", total=None, scores="")

        def progress(done: int, total: int, scores: str) -> None:
            bar.update(task, completed=done, total=total, scores=scores)

        result = run_suite(
            loaded,
            settings,
            modes=[m.lower() for m in modes] or EVAL_MODES,
            no_llm=no_llm,
            digests=digests,
            limit=limit,
            system=[s.lower() for s in systems] or ["ours"],
            progress=progress,
            on_case=save,
            replay=load_run(replay) if replay else None,
        )
    paths = write_report(result, folder)
    partial.unlink(missing_ok=True)
    summary = result.summary()
    if as_json:
        print_json({"meta": result.meta.model_dump(mode="json"), "summary": summary})
        return
    notes(
        f"{m.case_id}: {m.role} {m.reference!r} is not in the store; the case is left out of "
        "the scores."
        for m in result.meta.missing_gold
    )
    notes(result.meta.notes)
    own = {"interests": interests_table, "tables": tables_table}
    own["disagreements"] = disagreements_table
    for key, table in own.items():
        if key in summary:
            console.print(table(summary), markup=False, highlight=False, soft_wrap=True)
    if summary["gate"]["n"] or summary["answers"] or not own.keys() & summary.keys():
        console.print(retrieval_table(summary), markup=False, highlight=False, soft_wrap=True)
    if summary["answers"]:
        console.print()
        console.print(answers_table(summary), markup=False, highlight=False, soft_wrap=True)
    elif summary["gate"]["n"]:
        gate = summary["gate"]
        console.print(
            f"\nrelevance gate: abstention accuracy {gate['abstention_accuracy']}, "
            f"false abstention {gate['false_abstention']}",
            highlight=False,
        )
    names = ", ".join(p.name for p in paths)
    console.print(f"\nwrote {plain(names)} to {plain(folder)}", highlight=False)


@eval_group.command(name="compare")
@click.argument("run_a", type=click.Path(path_type=Path, file_okay=False))
@click.argument("run_b", type=click.Path(path_type=Path, file_okay=False))
@click.option("--all", "show_all", is_flag=True, help="Show unchanged metrics too.")
@json_option("Print the comparison as JSON.")
def compare_command(run_a: Path, run_b: Path, show_all: bool, as_json: bool) -> None:
    """Compare two runs (folders written by 'eval run'): metric deltas B - A, and the cases
    that got better (wins) or worse (losses).

    \b
    Example:
      assistant eval compare eval/runs/before eval/runs/after
    """
    from assistant.evals.compare import compare
    from assistant.evals.report import load_run

    result = compare(load_run(run_a), load_run(run_b), a=str(run_a), b=str(run_b))
    if as_json:
        print_json(result)
        return
    notes(result.notes)
    table = Table("metric", "A", "B", "B - A", "", header_style="bold")
    table.columns[0].overflow = "fold"
    for d in result.deltas:
        if not show_all and not d.delta:
            continue
        mark = {True: "[green]better[/]", False: "[red]worse[/]", None: ""}[d.improved]
        table.add_row(
            plain(d.metric),
            "–" if d.a is None else f"{d.a:.4g}",
            "–" if d.b is None else f"{d.b:.4g}",
            "–" if d.delta is None else f"{d.delta:+.4g}",
            mark,
        )
    console.print(table if table.rows else "[dim]no metric changed.[/]")
    cases = Table("per-case score", "cases", "wins", "losses", header_style="bold")
    for c in result.cases:
        cases.add_row(
            plain(c.score),
            str(c.compared),
            plain(f"{len(c.wins)} {' '.join(c.wins[:6])}{' …' if len(c.wins) > 6 else ''}"),
            plain(f"{len(c.losses)} {' '.join(c.losses[:6])}{' …' if len(c.losses) > 6 else ''}"),
        )
    console.print(cases)
