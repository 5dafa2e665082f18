"""The paper's Figure 3 in the report: class activation maps of the same test images across the natural
and masked models, one PNG grid (:func:`specreg_cli.cam.grad_cam`, drawn by
:func:`specreg_cli.cam_figure.cam_grid`, as ``specreg cam`` draws it).

The models are one run per Figure 2 arm (:func:`specreg_cli.report.figure2.arms`: original, sketch,
ourMethod), its first seed by name; the images are the first ``images`` of the test split the runs
were trained alongside (refused, as by ``specreg cam``, when the runs do not share one). Loading the
checkpoints and a backward pass per model make it slower than the other figures, so the report draws
it only when asked (``specreg report --cam-images N``).

Example::

    path = figure3(inputs.runs, Path("plots/figure3_cam.png"), images=8)
"""

from __future__ import annotations

from pathlib import Path

from specreg_cli.report.figure2 import arms
from specreg_cli.report.inputs import RunInfo


def cam_runs(runs: list[RunInfo]) -> list[tuple[str, RunInfo]]:
    """(row label, run) per Figure 2 arm whose first run has a checkpoint, in Figure 2's order."""
    chosen = []
    for (kind, label), members in arms(runs).items():
        first = min(members, key=lambda r: r.name)
        if first.checkpoint.exists():
            chosen.append((f"{kind}: {label}", first))
    return chosen


def figure3(runs: list[RunInfo], path: Path, images: int = 8, device: str = "cpu") -> Path | None:
    """Write the CAM grid of the first ``images`` test images to ``path``; None without a model to draw."""
    chosen = cam_runs(runs)
    if not chosen:
        return None
    import torch

    from specreg_cli.cam import default_cam_layer, grad_cam
    from specreg_cli.cam_figure import cam_grid
    from specreg_cli.data import load_dataset
    from specreg_cli.data.synthetic import SYNTHETIC_CLASSES
    from specreg_cli.model_set import evaluation_dataset, load_model_set

    models = load_model_set([run.path for _, run in chosen], device)
    spec = evaluation_dataset(models.checkpoints)
    data_dir = chosen[0][1].config.get("data_dir") or "data"
    test = load_dataset(spec, "test", data_dir=data_dir).subset(images)
    x = torch.from_numpy(test.images).permute(0, 3, 1, 2).float().div(255).to(models.device)  # (N, 3, H, W)
    rows = []
    for (label, _), (model, _) in zip(chosen, models, strict=True):
        maps, predicted = grad_cam(model, x, default_cam_layer(model))
        rows.append((label, maps.cpu().numpy(), predicted.cpu().numpy()))
    names = SYNTHETIC_CLASSES if spec.startswith("synthetic") else None
    return cam_grid(test.images, test.labels, rows, path, names)
