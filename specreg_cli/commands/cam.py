"""``specreg cam``: class activation maps of the same images across models (the paper's Figure 3)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from specreg_cli.options import (
    DEFAULT_DATA_DIR,
    DataDirOption,
    DeviceOption,
    DownloadOption,
    SeedOption,
    ThreadsOption,
)

COMMAND_NAME = "cam"


def command(
    checkpoints: Annotated[
        list[Path], typer.Argument(help="Run directories (or model.pt files) to compare.", show_default=False)
    ],
    out: Annotated[
        Path, typer.Option("--out", help="The PNG to write (a grid: images, then a row per model).")
    ],
    images: Annotated[
        int, typer.Option("--images", min=1, max=32, help="Test images shown (the first N).")
    ] = 8,
    corruption: Annotated[
        str | None,
        typer.Option(
            help="Show the maps on corrupted images (impulse_noise | fog | contrast).", show_default=False
        ),
    ] = None,
    severity: Annotated[int, typer.Option(min=1, max=5, help="Severity of --corruption.")] = 3,
    dataset: Annotated[
        str | None,
        typer.Option(
            help="Test set (default: the one the checkpoints were trained alongside).", show_default=False
        ),
    ] = None,
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    download: DownloadOption = False,
    seed: SeedOption = 0,
    device: DeviceOption = "auto",
    threads: ThreadsOption = None,
) -> None:
    """Grad-CAM maps (= CAM on the global-pooling ResNets) of the predicted class, for the same test images
    across models, as one PNG grid; predictions in red are wrong.

    Example: specreg cam runs/natural runs/masked --images 8 --corruption fog --out figure3.png
    """
    import torch

    from specreg_cli.cam import default_cam_layer, grad_cam
    from specreg_cli.cam_figure import cam_grid
    from specreg_cli.console import console
    from specreg_cli.data import load_dataset
    from specreg_cli.data.synthetic import SYNTHETIC_CLASSES
    from specreg_cli.device import set_threads
    from specreg_cli.errors import SpecregError
    from specreg_cli.model_set import evaluation_dataset, load_model_set

    set_threads(threads)
    if out.suffix.lower() != ".png":
        raise SpecregError(f"--out {out} must end in .png", hint="e.g. --out figure3.png")
    models = load_model_set(checkpoints, device)
    spec = evaluation_dataset(models.checkpoints, dataset)
    test = load_dataset(spec, "test", data_dir=data_dir, download=download).subset(images)
    pixels = test.images
    if corruption is not None:
        import corruptions

        if corruption not in corruptions.CORRUPTIONS:
            raise SpecregError(
                f"unknown corruption {corruption!r}", hint=f"valid: {', '.join(corruptions.CORRUPTIONS)}"
            )
        pixels = corruptions.corrupt(pixels, corruption, severity=severity, seed=seed)
    x = torch.from_numpy(pixels).permute(0, 3, 1, 2).float().div(255).to(models.device)
    rows = []
    for model, checkpoint in models:
        maps, predicted = grad_cam(model, x, default_cam_layer(model))
        rows.append((checkpoint.run_name, maps.cpu().numpy(), predicted.cpu().numpy()))
    names = SYNTHETIC_CLASSES if spec.startswith("synthetic") else None
    path = cam_grid(pixels, test.labels, rows, out.expanduser().resolve(), names)
    console.print(f"wrote {path}", highlight=False)
