"""Options that several commands share, defined once (Typer ``Annotated`` aliases).

Use them as parameter annotations::

    def attack(device: DeviceOption = "auto", seed: SeedOption = 0): ...
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from specreg_cli.data.datasets import DEFAULT_DATA_DIR

DeviceOption = Annotated[
    str, typer.Option("--device", help="Where models run: auto (cuda when visible, else cpu) | cpu | cuda.")
]
SeedOption = Annotated[
    int, typer.Option("--seed", help="Seed for every random choice of the command (same seed, same bytes).")
]
DatasetOption = Annotated[
    str,
    typer.Option(
        "--dataset",
        help="synthetic (built-in, offline; options like synthetic:train=5000,test=2000,seed=0) | cifar10.",
    ),
]
DataDirOption = Annotated[
    Path, typer.Option("--data-dir", help="Folder holding cifar-10-batches-py (cifar10 only).")
]
DownloadOption = Annotated[
    bool,
    typer.Option("--download/--no-download", help="Download CIFAR-10 into --data-dir when it is missing."),
]
BatchSizeOption = Annotated[int, typer.Option("--batch-size", min=1, help="Images per batch.")]
ThreadsOption = Annotated[
    int | None,
    typer.Option(
        "--threads",
        min=1,
        help="CPU threads for torch (default: torch's choice, all cores). On a busy machine "
        "--threads 1 is often faster: two processes fighting for two cores both slow down.",
    ),
]
NExamplesOption = Annotated[
    int | None,
    typer.Option("--n-examples", min=1, help="Evaluate only the first N test images (default: all)."),
]

__all__ = [
    "DEFAULT_DATA_DIR",
    "BatchSizeOption",
    "DataDirOption",
    "DatasetOption",
    "DeviceOption",
    "DownloadOption",
    "NExamplesOption",
    "SeedOption",
]
