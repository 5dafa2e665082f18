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
# An external model (specreg_cli.external_model): any nn.Module factory with a saved state_dict.
ModelOption = Annotated[
    str | None,
    typer.Option(
        "--model",
        help="Also evaluate a model specreg did not train: MODULE:FACTORY, e.g. torchvision.models:resnet18 "
        "or path/to/net.py:Net, built as FACTORY(**--model-kwargs) and given --weights. Importing MODULE "
        "runs its code (your own model code, as `import MODULE` would); the weights file is only read as "
        "tensors. Needs --dataset when no run is given (an external model records no test split). "
        "robustbench:NAME loads a RobustBench model by name (the robustbench extra; it downloads the weights "
        "itself and reads them with its own code; --model-kwargs threat_model=Linf,model_dir=models; no "
        "--weights; the download is not tested offline).",
        show_default=False,
    ),
]
WeightsOption = Annotated[
    list[Path] | None,
    typer.Option(
        "--weights",
        help="State_dict file(s) for --model (torch.save(model.state_dict(), FILE)); repeat for several "
        "models of one factory. Read with torch.load(weights_only=True) and loaded strictly: missing or "
        "unexpected keys, other shapes and NaN/inf weights are refused. The run name is the file's stem.",
        show_default=False,
    ),
]
ModelKwargsOption = Annotated[
    str | None,
    typer.Option(
        "--model-kwargs",
        help="Keyword arguments for FACTORY: key=value,... (values read as JSON: num_classes=10,"
        "weights=null) "
        "or a JSON object ('{\"num_classes\": 10}').",
        show_default=False,
    ),
]
MeanOption = Annotated[
    str | None,
    typer.Option(
        "--mean",
        help="Per-channel mean for --model, e.g. 0.4914,0.4822,0.4465: specreg puts Normalize((x - mean) / "
        "std) before the model. Default: none added (the model gets [0, 1] pixels and must normalise "
        "inside, as RobustBench models do).",
        show_default=False,
    ),
]
StdOption = Annotated[
    str | None,
    typer.Option(
        "--std",
        help="Per-channel std for --model (with --mean), e.g. 0.2470,0.2435,0.2616.",
        show_default=False,
    ),
]

__all__ = [
    "DEFAULT_DATA_DIR",
    "BatchSizeOption",
    "DataDirOption",
    "DatasetOption",
    "DeviceOption",
    "DownloadOption",
    "MeanOption",
    "ModelKwargsOption",
    "ModelOption",
    "NExamplesOption",
    "SeedOption",
    "StdOption",
    "WeightsOption",
]
FrostDirOption = Annotated[
    Path | None,
    typer.Option(
        "--frost-dir",
        help="Folder with the CIFAR-10-C frost photographs frost1.png .. frost5.jpg (frost only; they are "
        "not shipped). Default: $SPECREG_FROST_DIR. Without them, all leaves frost out with a note.",
        show_default=False,
    ),
]
