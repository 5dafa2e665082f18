"""The paper's Figure 2: train accuracy, test accuracy and their gap per epoch for its three arms, as a PNG.

The arms are told apart by what the method registry says about a run, not by names:

- ``original``: a method that neither masks nor perturbs its batches (natural training);
- ``sketch``: a masked method trained from scratch (masks at N(0.8, 0.2));
- ``ourMethod``: a masked method fine-tuned into a trained model (``init_from``, masks at N(0.6, 0.1)).

One line per arm (the runs' training-config group, else the method; with the architecture when the runs
have several), the mean over its seeds per epoch, shaded between the lowest and highest seed when it has
more than one. Train accuracy is measured on clean training images in eval mode at each epoch end
(:mod:`specreg_cli.train`), so the gap is the paper's quantity for every arm. Colours follow the arm's
role; arms of one role differ in line style.

Example::

    path = figure2(inputs.runs, Path("plots/figure2.png"))   # None: no run of the three arms has metrics
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from specreg_cli.methods import METHODS
from specreg_cli.report.inputs import RunInfo

ROLES = {"original": "C0", "sketch": "C3", "ourMethod": "C2"}  # the paper's legend -> colour, in its order
LINESTYLES = ("-", "--", ":", "-.")  # arms of one role, in name order; cycles after four
PANELS = (
    ("train_acc", "train accuracy (%)"),
    ("test_acc", "test accuracy (%)"),
    ("gap", "train - test (points)"),
)


def role(config: dict) -> str | None:
    """The Figure 2 arm a run's config belongs to, or None (e.g. gauss, adversarial, unknown methods)."""
    method = METHODS.get(str(config.get("method")))
    if method is None or (method.perturbs_batches and not method.masked):
        return None
    if not method.masked:
        return "original"
    return "ourMethod" if config.get("init_from") else "sketch"


def arms(runs: list[RunInfo]) -> dict[tuple[str, str], list[RunInfo]]:
    """(role, arm label) -> its runs with metrics, in the paper's role order, then by label."""
    several_archs = len({r.config.get("arch") for r in runs}) > 1
    found: dict[tuple[str, str], list[RunInfo]] = {}
    for run in runs:
        kind = role(run.config)
        if kind is None or not len(run.metrics):
            continue
        label = str(run.config.get("group") or run.config.get("method"))
        label += f" ({run.config.get('arch')})" if several_archs else ""
        found.setdefault((kind, label), []).append(run)
    order = list(ROLES)
    return dict(sorted(found.items(), key=lambda item: (order.index(item[0][0]), item[0][1])))


def per_epoch(runs: list[RunInfo]) -> pd.DataFrame:
    """Per epoch: mean, min and max over the runs of each Figure 2 quantity (fractions)."""
    frame = pd.concat([r.metrics[["epoch", *(k for k, _ in PANELS)]] for r in runs], ignore_index=True)
    frame = frame.astype({k: "float64" for k, _ in PANELS})
    return frame.groupby("epoch", sort=True).agg(["mean", "min", "max"])


def figure2(runs: list[RunInfo], path: Path) -> Path | None:
    """Write Figure 2 to ``path``; None when no run belongs to one of its arms."""
    from matplotlib.figure import Figure

    from specreg_cli.plots import save_png

    found = arms(runs)
    if not found:
        return None
    figure = Figure(figsize=(13, 4.2))
    axes_row = figure.subplots(1, len(PANELS))
    styles: dict[str, int] = {}
    for (kind, label), members in found.items():
        styles[kind] = styles.get(kind, -1) + 1
        stats = per_epoch(members)
        style = {"color": ROLES[kind], "linestyle": LINESTYLES[styles[kind] % len(LINESTYLES)]}
        seeds = f", {len(members)} seeds" if len(members) > 1 else ""
        for axes, (key, _) in zip(axes_row, PANELS, strict=True):
            axes.plot(stats.index, 100 * stats[key]["mean"], label=f"{kind}: {label}{seeds}", **style)
            if len(members) > 1:
                axes.fill_between(
                    stats.index,
                    100 * stats[key]["min"],
                    100 * stats[key]["max"],
                    color=style["color"],
                    alpha=0.12,
                )
    for axes, (_, title) in zip(axes_row, PANELS, strict=True):
        axes.set(xlabel="epoch", title=title)
        axes.grid(alpha=0.3)
        axes.xaxis.get_major_locator().set_params(integer=True)
    axes_row[-1].axhline(0, color="0.6", linewidth=0.8)
    axes_row[0].legend(fontsize=7)
    figure.suptitle(
        "Figure 2: original (natural), sketch (masks from scratch), ourMethod (masks fine-tuned); "
        "train accuracy on clean training images in eval mode; band = lowest..highest seed",
        fontsize=9,
    )
    figure.tight_layout()
    return save_png(figure, path)
