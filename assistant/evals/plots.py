"""The eval report's plots (matplotlib, Agg backend): metrics per retrieval mode and per
answering system as bars, and the latency distributions as box plots."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from assistant.evals.metrics import ANSWER_METRICS, RETRIEVAL_METRICS
from assistant.evals.runner import RunResult
from assistant.evals.tables import LABELS


def plot(run: RunResult, summary: dict[str, Any], out: Path) -> list[Path]:
    """Bar charts of the metrics per mode and per system, and the latency distributions."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    paths: list[Path] = []

    def bars(
        groups: dict[str, dict[str, Any]], metrics: Sequence[str], title: str, name: str
    ) -> None:
        fig, ax = plt.subplots(figsize=(max(7, 1.3 * len(metrics) + 2), 4))
        width = 0.8 / max(len(groups), 1)
        x = np.arange(len(metrics))
        for i, (label, values) in enumerate(groups.items()):
            heights = [values.get(m) or 0.0 for m in metrics]
            ax.bar(x + (i - (len(groups) - 1) / 2) * width, heights, width, label=label)
        ax.set_xticks(x, [LABELS.get(m, m) for m in metrics], rotation=20, ha="right")
        ax.set_ylim(0, 1.18)
        ax.set_yticks([0, 0.2, 0.4, 0.6, 0.8, 1.0])
        ax.set_title(title)
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize="small", ncols=len(groups), loc="upper center", frameon=False)
        fig.tight_layout()
        path = out / name
        fig.savefig(path, dpi=110)
        plt.close(fig)
        paths.append(path)

    bars(
        summary["retrieval"],
        RETRIEVAL_METRICS,
        f"Retrieval per mode ({run.meta.suite}, answerable cases)",
        "retrieval.png",
    )
    if summary["answers"]:
        bars(
            summary["answers"],
            ANSWER_METRICS,
            f"Answers per system ({run.meta.suite})",
            "answers.png",
        )

    panels = [
        (
            "retrieval latency per mode (ms)",
            {
                mode: [s.latency_ms for c in run.cases if (s := c.in_mode(mode))]
                for mode in run.meta.modes
            },
        )
    ]
    if run.meta.systems:
        panels.append(
            (
                "answer total time per system (s)",
                {
                    system: [
                        a.total_s for c in run.cases if (a := c.by_system(system)) and not a.error
                    ]
                    for system in run.meta.systems
                },
            )
        )
    fig, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels), 4), squeeze=False)
    for ax, (title, data) in zip(axes[0], panels, strict=True):
        labels = [k for k, v in data.items() if v]
        if labels:
            ax.boxplot([data[k] for k in labels], tick_labels=labels, showfliers=True)
        ax.set_title(title)
        ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    path = out / "latency.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    paths.append(path)
    return paths
