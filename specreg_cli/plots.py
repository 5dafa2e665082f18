"""The report's figures as PNG files (matplotlib, Agg canvas, no pyplot state).

- ``training_curves.png``: train / test accuracy and the train-test gap per epoch, one line per run.
- ``figure2.png``: the paper's Figure 2, its three arms (:mod:`specreg_cli.report.figure2`).
- ``figure3_cam.png`` (only when asked: ``cam_images``): the paper's Figure 3, class activation maps
  (:mod:`specreg_cli.report.figure3`).
- ``accuracy_vs_severity.png``: accuracy (%) against severity (0 = clean) for each corruption, one line
  per method (mean over its seeds, error bars = sample std).
- ``masks_<run>.png`` (a run named by its path tail, ``A/runs/masked``, gives ``masks_A-runs-masked.png``):
  for each masked run, every masked layer's binary mask averaged over its output
  channels, as a heat map over frequencies (rows: vertical frequency, zero in the middle; columns:
  horizontal frequency 0 .. Nyquist of the real FFT's half spectrum).
- ``mask_dynamics.png``: every masked layer's share of masked frequencies per epoch, a panel per masked
  arm (:mod:`specreg_cli.report.mask_dynamics`).

Colours and the order of the curves come from the method registry (:mod:`specreg_cli.methods`).
Same inputs give the same bytes: fixed size and dpi, no "Software" / date metadata, atomic writes.

Example::

    figures = write_plots(report, inputs, Path("reports/demo/plots"))   # [(caption, path), ...]
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from specreg_cli.atomic import atomic_path
from specreg_cli.methods import method_color, method_rank
from specreg_cli.report import Report, ReportInputs, RunInfo

DPI = 100  # pixels per inch of every PNG
MARKERS = "o^sDvP*X"  # runs of one method (its seeds), in name order; cycles after 8
PNG_METADATA = {"Software": None}  # matplotlib writes its version here by default: left out for stable bytes


def save_png(figure: Figure, path: Path) -> Path:
    """Render ``figure`` to ``path`` (atomically) with fixed dpi and no varying metadata."""
    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, metadata=PNG_METADATA)
    with atomic_path(path) as tmp:
        tmp.write_bytes(buffer.getvalue())
    return path


def training_curves(runs: list[RunInfo], path: Path) -> Path | None:
    """Figure 2: accuracy (train solid, test dashed) and the train-test gap per epoch; None without runs.
    Runs of one method share its colour and differ in marker."""
    runs = [r for r in runs if len(r.metrics)]
    if not runs:
        return None
    figure = Figure(figsize=(11, 4.2))
    acc_axes, gap_axes = figure.subplots(1, 2)
    markers = {}
    for run in sorted(runs, key=lambda r: (method_rank(str(r.config.get("method"))), r.name)):
        method = str(run.config.get("method"))
        markers[method] = markers.get(method, -1) + 1
        color, marker = method_color(method), MARKERS[markers[method] % len(MARKERS)]
        m = run.metrics
        acc_axes.plot(m["epoch"], 100 * m["train_acc"], color=color, marker=marker, label=f"{run.name} train")
        acc_axes.plot(
            m["epoch"],
            100 * m["test_acc"],
            color=color,
            marker=marker,
            linestyle="--",
            label=f"{run.name} test",
        )
        gap_axes.plot(m["epoch"], 100 * m["gap"], color=color, marker=marker, label=run.name)
    acc_axes.set(xlabel="epoch", ylabel="accuracy (%)", title="train (solid) and test (dashed) accuracy")
    gap_axes.set(xlabel="epoch", ylabel="train - test accuracy (points)", title="generalisation gap")
    gap_axes.axhline(0, color="0.6", linewidth=0.8)
    for axes in (acc_axes, gap_axes):
        axes.grid(alpha=0.3)
        axes.xaxis.get_major_locator().set_params(integer=True)
    acc_axes.legend(fontsize=7, ncol=2)
    gap_axes.legend(fontsize=7)
    figure.tight_layout()
    return save_png(figure, path)


def severity_curves(report: Report, path: Path) -> Path | None:
    """Accuracy vs severity (0 = clean) per corruption, one line per method; None without corruptions."""
    data = report.per_severity[report.per_severity["severity"] != "mean"]
    if data.empty:
        return None
    corruptions = list(dict.fromkeys(data["column"]))
    clean = report.table2[report.table2["condition"] == "clean"].set_index("label")
    figure = Figure(figsize=(4 * len(corruptions), 3.8))
    axes_list = figure.subplots(1, len(corruptions), squeeze=False)[0]
    for axes, corruption in zip(axes_list, corruptions, strict=True):
        part = data[data["column"] == corruption]
        for label, rows in part.groupby("label", sort=False):
            x = [int(s) for s in rows["severity"]]
            y, err = list(100 * rows["value"]), list(100 * rows["std"].fillna(0))
            if label in clean.index and not pd.isna(clean.loc[label, "value"]):
                x, y = [0, *x], [100 * clean.loc[label, "value"], *y]
                err = [100 * (0 if pd.isna(clean.loc[label, "std"]) else clean.loc[label, "std"]), *err]
            color = method_color(str(rows["method"].iloc[0]))
            axes.errorbar(x, y, yerr=err, color=color, marker="o", capsize=3, label=label)
        axes.set(
            title=corruption,
            xlabel="severity (0 = clean)",
            ylabel="accuracy (%)",
            xticks=range(0, 6),
            ylim=(-2, 102),
        )
        axes.grid(alpha=0.3)
    axes_list[0].legend(fontsize=7)
    figure.tight_layout()
    return save_png(figure, path)


def layer_masks(run: RunInfo) -> dict[str, np.ndarray]:
    """Per masked layer of the run's checkpoint: the binary mask (at the run's threshold) averaged over
    output channels, (H, W//2+1) float, rows shifted so that vertical frequency 0 is in the middle. Model
    order."""
    import torch

    from specreg_cli.checkpoint import load_checkpoint

    checkpoint = load_checkpoint(run.checkpoint)
    spectral = checkpoint.meta["model"].get("spectral") or {}
    threshold = float(spectral.get("threshold", 0.5))  # the run's binarisation (--mask-threshold)
    masks = {}
    for key, value in checkpoint.state_dict.items():
        if key.endswith("spectral_mask"):
            kept = (value.detach().float() >= threshold).float().mean(0)  # (H, W//2+1): channels kept
            masks[key[: -len(".spectral_mask")]] = torch.fft.fftshift(kept, dim=0).numpy()
    return masks


def mask_heatmaps(run: RunInfo, path: Path) -> Path | None:
    """Every masked layer's channel-mean binary mask as a heat map; None when the run has no masks."""
    if not run.checkpoint.exists():
        return None
    masks = layer_masks(run)
    if not masks:
        return None
    cols = math.ceil(math.sqrt(len(masks)))
    rows = math.ceil(len(masks) / cols)
    figure = Figure(figsize=(2.3 * cols + 1.2, 2.3 * rows + 0.8), layout="constrained")
    grid = figure.subplots(rows, cols, squeeze=False)
    image = None
    for axes, (name, mask) in zip(grid.flat, masks.items(), strict=False):  # the grid may have spare cells
        height, width = mask.shape
        bottom = -(height // 2) - 0.5  # fftshift puts frequency -(H//2) in row 0
        image = axes.imshow(
            mask,
            vmin=0,
            vmax=1,
            cmap="viridis",
            aspect="auto",
            interpolation="nearest",
            origin="lower",
            extent=(-0.5, width - 0.5, bottom, bottom + height),
        )
        axes.set_title(f"{name}\n{100 * (1 - mask.mean()):.1f}% masked", fontsize=7)
        axes.tick_params(labelsize=6)
    for axes in list(grid.flat)[len(masks) :]:
        axes.axis("off")
    figure.suptitle(
        f"{run.name}: fraction of output channels keeping each frequency\n"
        "x: horizontal frequency 0..Nyquist; y: vertical frequency, 0 in the middle",
        fontsize=9,
    )
    figure.colorbar(image, ax=grid, shrink=0.6, label="kept fraction")
    return save_png(figure, path)


def write_plots(
    report: Report, inputs: ReportInputs, out_dir: str | Path, cam_images: int = 0
) -> list[tuple[str, Path]]:
    """Write every figure the inputs allow into ``out_dir``; (caption, path) pairs in a fixed order.
    ``cam_images`` > 0 adds Figure 3, class activation maps of that many test images (it loads models)."""
    from specreg_cli.report.figure2 import figure2

    out_dir = Path(out_dir).expanduser().resolve()
    figures = [
        ("Training curves of every run", training_curves(inputs.runs, out_dir / "training_curves.png")),
        ("Figure 2: original, sketch, ourMethod", figure2(inputs.runs, out_dir / "figure2.png")),
        ("Accuracy vs severity", severity_curves(report, out_dir / "accuracy_vs_severity.png")),
    ]
    if cam_images:
        from specreg_cli.report.figure3 import figure3

        path = figure3(inputs.runs, out_dir / "figure3_cam.png", images=cam_images)
        figures.append(("Figure 3: class activation maps, natural and masked models", path))
    from specreg_cli.report.mask_dynamics import mask_dynamics

    figures.append(
        ("Masked frequencies per layer and epoch", mask_dynamics(inputs.runs, out_dir / "mask_dynamics.png"))
    )
    for run in inputs.runs:
        if run.mask_fractions is not None and not run.mask_fractions.empty:
            path = mask_heatmaps(run, out_dir / f"masks_{run.name.replace('/', '-')}.png")
            figures.append((f"Spectral masks of {run.name}", path))
    return [(caption, path) for caption, path in figures if path is not None]
