"""``specreg train``: train a natural, gauss, adversarial or masked model into a run directory."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from specreg_cli.options import (
    DEFAULT_DATA_DIR,
    DataDirOption,
    DatasetOption,
    DeviceOption,
    DownloadOption,
    SeedOption,
)

COMMAND_NAME = "train"
GAUSS, ADV, MASK, SPEED = "gauss method", "adversarial method", "masked method", "speed"


class Method(str, Enum):
    natural = "natural"
    gauss = "gauss"
    adversarial = "adversarial"
    masked = "masked"


class Schedule(str, Enum):
    step = "step"
    cosine = "cosine"


class SpreadKind(str, Enum):
    std = "std"
    variance = "variance"


class MaskBackend(str, Enum):  # specreg_cli.spectral_dft.BACKENDS; a test keeps the two in step
    auto = "auto"
    fft = "fft"
    circulant = "circulant"
    dft = "dft"


def command(
    out: Annotated[
        Path, typer.Option("--out", help="Run directory to create (model.pt, config.json, metrics.csv).")
    ],
    method: Annotated[Method, typer.Option(help="Training method.")] = Method.natural,
    arch: Annotated[str, typer.Option(help="Architecture from the registry: resnet20 | lenet.")] = "resnet20",
    dataset: DatasetOption = "synthetic",
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    download: DownloadOption = False,
    epochs: Annotated[int, typer.Option(help="Epochs (recipe: 200).")] = 200,
    batch_size: Annotated[int, typer.Option(help="Images per SGD step (recipe: 128).")] = 128,
    lr: Annotated[float, typer.Option(help="SGD learning rate (paper: 0.01).")] = 0.01,
    momentum: Annotated[float, typer.Option(help="SGD momentum (paper: 0.9).")] = 0.9,
    weight_decay: Annotated[float, typer.Option(help="L2 weight decay on weights (paper: 1e-4).")] = 1e-4,
    schedule: Annotated[
        Schedule,
        typer.Option(
            help="lr schedule: step = x0.1 at 50% and 75% of the epochs (recipe) | cosine (per step)."
        ),
    ] = Schedule.step,
    seed: SeedOption = 0,
    device: DeviceOption = "auto",
    init_from: Annotated[
        Path | None,
        typer.Option(help="Fine-tune from this checkpoint or run dir (masks start at N(0.6, 0.1))."),
    ] = None,
    resume: Annotated[
        bool,
        typer.Option(
            help="Continue the unfinished run in --out from its last epoch (its saved options are used)."
        ),
    ] = False,
    force: Annotated[bool, typer.Option(help="Overwrite a run already in --out.")] = False,
    noise_std: Annotated[
        str,
        typer.Option(
            help="Gaussian noise std, pixel scale [0,1]; fractions like 25/255 work.", rich_help_panel=GAUSS
        ),
    ] = "0.1",
    noise_fraction: Annotated[
        float, typer.Option(help="Fraction of each batch that is noised.", rich_help_panel=GAUSS)
    ] = 0.5,
    adv_eps: Annotated[
        str, typer.Option(help="PGD L-inf radius, pixel scale.", rich_help_panel=ADV)
    ] = "8/255",
    adv_alpha: Annotated[
        str, typer.Option(help="PGD step size, pixel scale.", rich_help_panel=ADV)
    ] = "2/255",
    adv_steps: Annotated[int, typer.Option(help="PGD steps per batch.", rich_help_panel=ADV)] = 7,
    mask_per_layer: Annotated[
        bool,
        typer.Option(
            "--mask-per-layer/--mask-per-channel",
            help="One mask per layer instead of one per output channel.",
            rich_help_panel=MASK,
        ),
    ] = False,
    mask_stochastic: Annotated[
        bool,
        typer.Option(
            help="Bernoulli(M) binarisation in training (eval stays deterministic).", rich_help_panel=MASK
        ),
    ] = False,
    mask_stem: Annotated[bool, typer.Option(help="Also mask the stem conv.", rich_help_panel=MASK)] = False,
    mask_init_mean: Annotated[
        float | None,
        typer.Option(help="Mask init mean (paper: 0.8 from scratch, 0.6 fine-tuning).", rich_help_panel=MASK),
    ] = None,
    mask_init_spread: Annotated[
        float | None,
        typer.Option(
            help="Mask init spread (paper: 0.2 from scratch, 0.1 fine-tuning).", rich_help_panel=MASK
        ),
    ] = None,
    mask_init_spread_kind: Annotated[
        SpreadKind,
        typer.Option(
            help="Read the spread as a std (default; see README) or a variance.", rich_help_panel=MASK
        ),
    ] = SpreadKind.std,
    mask_random_drop: Annotated[
        float,
        typer.Option(
            help="Drop this fraction of the kept frequencies per training step (paper's Table 1 variant).",
            rich_help_panel=MASK,
        ),
    ] = 0.0,
    mask_lr_mult: Annotated[float, typer.Option(help="Mask lr = --lr x this.", rich_help_panel=MASK)] = 1.0,
    mask_weight_decay: Annotated[
        float, typer.Option(help="L2 weight decay on the masks.", rich_help_panel=MASK)
    ] = 0.0,
    amp: Annotated[
        bool, typer.Option(help="Mixed precision (the spectral filter stays float32).", rich_help_panel=SPEED)
    ] = False,
    channels_last: Annotated[
        bool, typer.Option(help="channels_last memory format.", rich_help_panel=SPEED)
    ] = False,
    compile: Annotated[bool, typer.Option(help="torch.compile the model.", rich_help_panel=SPEED)] = False,
    mask_backend: Annotated[
        MaskBackend,
        typer.Option(
            help="How masked layers compute their filter; every backend gives the same numbers up to "
            "rounding. "
            "auto: circulant matmul for maps of at most 8x8, torch.fft above (fastest measured on a CPU); "
            "circulant: that matmul everywhere (small maps only: (H W)^2 per channel); dft: real matmul "
            "DFT, for "
            "matmul-rich accelerators.",
            rich_help_panel=SPEED,
        ),
    ] = MaskBackend.auto,
) -> None:
    """Train ResNet-20 (or another registered model) with one of the four methods.

    Defaults follow the paper where it speaks (paper) and the standard ResNet-20 recipe where it doesn't
    (recipe). Example: specreg train --method masked --epochs 3 --lr 0.05 --schedule cosine --out runs/masked
    """
    from specreg_cli.commands.train_view import RichTrainProgress, print_summary
    from specreg_cli.parsing import parse_pixel_value
    from specreg_cli.train import Trainer
    from specreg_cli.train_config import TrainConfig

    mask = {
        "per_channel": not mask_per_layer,
        "stochastic": mask_stochastic,
        "include_stem": mask_stem,
        "spread_kind": mask_init_spread_kind.value,
        "random_drop": mask_random_drop,
        "backend": mask_backend.value,
    }
    if mask_init_mean is not None:
        mask["init_mean"] = mask_init_mean
    if mask_init_spread is not None:
        mask["init_spread"] = mask_init_spread
    config = TrainConfig(
        method=method.value,
        arch=arch,
        dataset=dataset,
        data_dir=str(data_dir),
        download=download,
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        momentum=momentum,
        weight_decay=weight_decay,
        schedule=schedule.value,
        seed=seed,
        device=device,
        amp=amp,
        channels_last=channels_last,
        compile=compile,
        noise_std=parse_pixel_value(noise_std, "--noise-std"),
        noise_fraction=noise_fraction,
        adv_eps=parse_pixel_value(adv_eps, "--adv-eps"),
        adv_alpha=parse_pixel_value(adv_alpha, "--adv-alpha"),
        adv_steps=adv_steps,
        mask=mask if method == Method.masked else {},
        mask_lr_mult=mask_lr_mult,
        mask_weight_decay=mask_weight_decay,
        init_from=str(init_from.resolve()) if init_from else None,
    )
    trainer = Trainer(config, out, resume=resume, force=force, device=device if resume else None)
    with RichTrainProgress() as progress:
        result = trainer.run(progress)
    print_summary(trainer.config, result)
