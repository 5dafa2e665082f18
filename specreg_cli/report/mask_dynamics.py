"""Mask dynamics as a PNG: every masked layer's share of masked frequencies per epoch (the paper's Table 3
over time), one panel per masked arm, one line per layer coloured by its depth.

An arm is a run's training-config group, else its method; with several seeds a line is the mean over
them. Only runs whose ``mask_fractions.csv`` has two or more epochs are drawn: one epoch is no dynamics.
The figure answers the question the paper's Table 3 raises: whether the masks move from their init at all
at a given mask learning rate, and whether the masked share falls with depth (69% to 2% in Table 3).

Example::

    path = mask_dynamics(inputs.runs, Path("plots/mask_dynamics.png"))  # None: no masked run with 2+ epochs
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from specreg_cli.report.inputs import RunInfo


def arm_fractions(runs: list[RunInfo]) -> dict[str, pd.DataFrame]:
    """Arm label -> (epoch x layer) masked fraction in [0, 1], the mean over the arm's seeds, layers in
    model order; only runs with two or more epochs of mask fractions."""
    frames: dict[str, list[pd.DataFrame]] = {}
    for run in runs:
        fractions = run.mask_fractions
        if fractions is None or fractions.empty or fractions["epoch"].nunique() < 2:
            continue
        label = str(run.config.get("group") or run.config.get("method"))
        frames.setdefault(label, []).append(fractions)
    arms = {}
    for label, parts in sorted(frames.items()):
        rows = pd.concat(parts)
        order = list(dict.fromkeys(rows["layer"]))  # first appearance: the model's order
        table = rows.pivot_table(index="epoch", columns="layer", values="masked_fraction", aggfunc="mean")
        arms[label] = table[order]
    return arms


def mask_dynamics(runs: list[RunInfo], path: Path) -> Path | None:
    """Write the figure to ``path``; None when no masked run has two or more epochs of fractions."""
    from matplotlib import colormaps  # matplotlib only when drawing: the report's tables don't need it
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    from specreg_cli.plots import save_png

    arms = arm_fractions(runs)
    if not arms:
        return None
    cols = min(3, len(arms))
    rows = math.ceil(len(arms) / cols)
    figure = Figure(figsize=(4.6 * cols + 1.4, 3.4 * rows + 0.6), layout="constrained")
    grid = figure.subplots(rows, cols, squeeze=False, sharey=True)
    colours = colormaps["viridis"]
    for axes, (label, table) in zip(grid.flat, arms.items(), strict=False):
        depth = max(1, len(table.columns) - 1)
        for k, layer in enumerate(table.columns):
            axes.plot(table.index, 100 * table[layer], color=colours(k / depth), lw=1.1, label=layer)
        last = table.iloc[-1]
        axes.set_title(
            f"{label}: epoch {table.index[-1]}, {100 * last.mean():.1f}% masked (layer mean)", fontsize=8
        )
        axes.set_xlabel("epoch", fontsize=8)
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.tick_params(labelsize=7)
        axes.grid(alpha=0.3)
    for axes in grid[:, 0]:
        axes.set_ylabel("frequencies masked (%)", fontsize=8)
    for axes in list(grid.flat)[len(arms) :]:
        axes.axis("off")
    first = next(iter(arms.values()))
    handles, labels = grid.flat[0].get_legend_handles_labels()
    figure.legend(
        handles,
        labels,
        loc="outside right center",
        fontsize=6,
        title="layer (shallow to deep)",
        title_fontsize=7,
        ncols=1 if len(first.columns) <= 20 else 2,
    )
    figure.suptitle("Masked frequencies per layer and epoch (Table 3 over time)", fontsize=9)
    return save_png(figure, path)
