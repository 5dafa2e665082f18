"""``specreg train``: train a model with one of the registered methods into a run directory.

Defaults are :class:`~specreg_cli.train_config.TrainConfig`'s (written once, there); method choices and
their descriptions come from :mod:`specreg_cli.methods`.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from specreg_cli.methods import METHODS
from specreg_cli.options import (
    DEFAULT_DATA_DIR,
    DataDirOption,
    DatasetOption,
    DeviceOption,
    DownloadOption,
    SeedOption,
    ThreadsOption,
)
from specreg_cli.parsing import format_pixel_value
from specreg_cli.train_config import SCHEDULES, TrainConfig

COMMAND_NAME = "train"
GAUSS, ADV, MASK, SPEED = "gauss method", "adversarial method", "masked method", "speed"
TABLE1 = "input and regularisation switches (the paper's Table 1)"
DEFAULTS = TrainConfig()
# command parameters that are not TrainConfig fields of the same name
MASK_PARAMS = ("mask_per_layer", "mask_stochastic", "mask_stem", "mask_init_mean", "mask_init_spread")
MASK_PARAMS += (
    "mask_init_spread_kind",
    "mask_random_drop",
    "mask_backend",
    "mask_threshold",
    "mask_conv_grad",
)
NOT_CONFIG = ("out", "resume", "force", "threads")

Method = Enum("Method", {name: name for name in METHODS}, type=str)
Schedule = Enum("Schedule", {name: name for name in SCHEDULES}, type=str)


class SpreadKind(str, Enum):  # specreg_cli.spectral.SPREAD_KINDS; a test keeps the two in step
    std = "std"
    variance = "variance"


class ConvGrad(str, Enum):  # specreg_cli.spectral.CONV_GRADS; a test keeps the two in step
    binary = "binary"
    real = "real"


class MaskBackend(str, Enum):  # specreg_cli.spectral_dft.BACKENDS; a test keeps the two in step
    auto = "auto"
    fft = "fft"
    circulant = "circulant"
    dft = "dft"


METHOD_HELP = "Training method: " + "; ".join(f"{m.name} = {m.summary}" for m in METHODS.values()) + "."


def command(
    ctx: typer.Context,
    out: Annotated[
        Path, typer.Option("--out", help="Run directory to create (model.pt, config.json, metrics.csv).")
    ],
    method: Annotated[Method, typer.Option(help=METHOD_HELP)] = DEFAULTS.method,
    arch: Annotated[
        str,
        typer.Option(
            help="Architecture from the model registry: resnet20 | resnet18 (the paper's Table 3 network) "
            "| lenet."
        ),
    ] = DEFAULTS.arch,
    dataset: DatasetOption = DEFAULTS.dataset,
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    download: DownloadOption = DEFAULTS.download,
    epochs: Annotated[
        int, typer.Option(help="Epochs (recipe: 200). With --resume, more epochs extend the run.")
    ] = DEFAULTS.epochs,
    batch_size: Annotated[int, typer.Option(help="Images per SGD step (recipe: 128).")] = DEFAULTS.batch_size,
    lr: Annotated[float, typer.Option(help="SGD learning rate (paper: 0.01).")] = DEFAULTS.lr,
    momentum: Annotated[float, typer.Option(help="SGD momentum (paper: 0.9).")] = DEFAULTS.momentum,
    weight_decay: Annotated[
        float, typer.Option(help="L2 weight decay on weights (paper: 1e-4).")
    ] = DEFAULTS.weight_decay,
    normalize: Annotated[
        bool,
        typer.Option(
            help="The model's first layer standardises the input with CIFAR-10's mean and std; "
            "--no-normalize builds the model without that layer (the paper's Table 1 switch).",
            rich_help_panel=TABLE1,
        ),
    ] = DEFAULTS.normalize,
    crop: Annotated[
        bool,
        typer.Option(
            help="Random 32x32 crop after 4 pixels of zero padding (recipe).", rich_help_panel=TABLE1
        ),
    ] = DEFAULTS.crop,
    flip: Annotated[
        bool,
        typer.Option(help="Random horizontal flip, probability 1/2 (recipe).", rich_help_panel=TABLE1),
    ] = DEFAULTS.flip,
    dropout: Annotated[
        float,
        typer.Option(
            help="Drop probability on the hidden fully connected layers in training (lenet: after fc1 "
            "and fc2); the paper's keep-prob 0.9 is --dropout 0.1. Architectures without hidden FC layers "
            "refuse > 0.",
            rich_help_panel=TABLE1,
        ),
    ] = DEFAULTS.dropout,
    schedule: Annotated[
        Schedule,
        typer.Option(
            help="lr schedule: step = x0.1 at 50% and 75% of the epochs (recipe) | cosine (per step)."
        ),
    ] = DEFAULTS.schedule,
    seed: SeedOption = DEFAULTS.seed,
    group: Annotated[
        str | None,
        typer.Option(
            help="The arm this run belongs to: the report makes one row per group, the runs in it being its "
            "seeds (default: the method's name).",
            show_default=False,
        ),
    ] = DEFAULTS.group,
    device: DeviceOption = DEFAULTS.device,
    threads: ThreadsOption = None,
    init_from: Annotated[
        Path | None,
        typer.Option(
            help="Fine-tune from this checkpoint or run dir (masks start at N(0.6, 0.1)); trains on that "
            "run's dataset unless --dataset is given."
        ),
    ] = DEFAULTS.init_from,
    resume: Annotated[
        bool,
        typer.Option(
            help="Continue the run in --out from its last epoch, with its saved options (only --epochs, to "
            "extend it, and --device may change)."
        ),
    ] = False,
    force: Annotated[bool, typer.Option(help="Overwrite a run already in --out.")] = False,
    noise_std: Annotated[
        str,
        typer.Option(
            help="Gaussian noise std, pixel scale [0,1]; fractions like 25/255 work.", rich_help_panel=GAUSS
        ),
    ] = format_pixel_value(DEFAULTS.noise_std),
    noise_fraction: Annotated[
        float, typer.Option(help="Fraction of each batch that is noised.", rich_help_panel=GAUSS)
    ] = DEFAULTS.noise_fraction,
    adv_eps: Annotated[
        str, typer.Option(help="PGD L-inf radius, pixel scale.", rich_help_panel=ADV)
    ] = format_pixel_value(DEFAULTS.adv_eps),
    adv_alpha: Annotated[
        str, typer.Option(help="PGD step size, pixel scale.", rich_help_panel=ADV)
    ] = format_pixel_value(DEFAULTS.adv_alpha),
    adv_steps: Annotated[
        int, typer.Option(help="PGD steps per batch.", rich_help_panel=ADV)
    ] = DEFAULTS.adv_steps,
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
            help="Training only: zero this fraction of the frequencies the mask keeps, drawn afresh at "
            "every forward, no rescaling (specreg's reading of Table 1's \"random drop 0.2 after using "
            'our method").',
            rich_help_panel=MASK,
        ),
    ] = 0.0,
    mask_threshold: Annotated[
        float,
        typer.Option(
            help="Keep a frequency when M >= this (the paper does not say how it binarises; at 0.5 the "
            "N(0.8, 0.2) init drops 6.7% of the frequencies at step 0).",
            rich_help_panel=MASK,
        ),
    ] = 0.5,
    mask_conv_grad: Annotated[
        ConvGrad,
        typer.Option(
            help="Gradient to the conv output: binary = the exact gradient of the binarised forward; real = "
            "Algorithm 1 as written (dS * M with the real-valued mask). Same forward value.",
            rich_help_panel=MASK,
        ),
    ] = ConvGrad.binary,
    mask_lr_mult: Annotated[
        float, typer.Option(help="Mask lr = --lr x this.", rich_help_panel=MASK)
    ] = DEFAULTS.mask_lr_mult,
    mask_weight_decay: Annotated[
        float, typer.Option(help="L2 weight decay on the masks.", rich_help_panel=MASK)
    ] = DEFAULTS.mask_weight_decay,
    amp: Annotated[
        bool, typer.Option(help="Mixed precision (the spectral filter stays float32).", rich_help_panel=SPEED)
    ] = DEFAULTS.amp,
    channels_last: Annotated[
        bool, typer.Option(help="channels_last memory format.", rich_help_panel=SPEED)
    ] = DEFAULTS.channels_last,
    compile: Annotated[
        bool, typer.Option(help="torch.compile the model.", rich_help_panel=SPEED)
    ] = DEFAULTS.compile,
    mask_backend: Annotated[
        MaskBackend,
        typer.Option(
            help="How masked layers compute their filter; every backend gives the same numbers up to "
            "rounding. auto: circulant matmul for maps of at most 8x8, torch.fft above (fastest measured "
            "on a CPU); circulant: that matmul everywhere (small maps only: (H W)^2 per channel); dft: "
            "real matmul DFT, for matmul-rich accelerators.",
            rich_help_panel=SPEED,
        ),
    ] = MaskBackend.auto,
) -> None:
    """Train ResNet-20 (or another registered model) with one of the registered methods.

    Defaults follow the paper where it speaks (paper) and the standard ResNet-20 recipe where it doesn't
    (recipe).

    Example: specreg train --method masked --epochs 3 --lr 0.05 --schedule cosine --out runs/masked
    """
    from specreg_cli.commands.given import given_names
    from specreg_cli.commands.train_view import RichTrainProgress, print_outcome
    from specreg_cli.device import set_threads
    from specreg_cli.parsing import parse_pixel_value
    from specreg_cli.train import Trainer, source_dataset

    set_threads(threads)
    given = given_names(ctx)
    mask = {
        "per_channel": not mask_per_layer,
        "stochastic": mask_stochastic,
        "include_stem": mask_stem,
        "spread_kind": mask_init_spread_kind.value,
        "random_drop": mask_random_drop,
        "backend": mask_backend.value,
        "threshold": mask_threshold,
        "conv_grad": mask_conv_grad.value,
    }
    if mask_init_mean is not None:
        mask["init_mean"] = mask_init_mean
    if mask_init_spread is not None:
        mask["init_spread"] = mask_init_spread
    init_source = str(init_from.expanduser().resolve()) if init_from else None
    if init_source and "dataset" not in given and not resume:  # fine-tune on what the source learnt
        dataset = source_dataset(init_source) or dataset
    config = TrainConfig(
        method=method.value,
        arch=arch,
        dataset=dataset,
        data_dir=str(data_dir.expanduser().resolve()),  # absolute: the run must not depend on the cwd
        download=download,
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        momentum=momentum,
        weight_decay=weight_decay,
        normalize=normalize,
        crop=crop,
        flip=flip,
        dropout=dropout,
        schedule=schedule.value,
        seed=seed,
        group=group,
        device=device,
        amp=amp,
        channels_last=channels_last,
        compile=compile,
        noise_std=parse_pixel_value(noise_std, "--noise-std"),
        noise_fraction=noise_fraction,
        adv_eps=parse_pixel_value(adv_eps, "--adv-eps"),
        adv_alpha=parse_pixel_value(adv_alpha, "--adv-alpha"),
        adv_steps=adv_steps,
        mask=mask if METHODS[method.value].masked else {},
        mask_lr_mult=mask_lr_mult,
        mask_weight_decay=mask_weight_decay,
        init_from=init_source,
    )
    config_given = {"mask" if name in MASK_PARAMS else name for name in given if name not in NOT_CONFIG}
    trainer = Trainer(config, out, resume=resume, force=force, given=config_given)
    if trainer.already_finished:
        result = trainer.run()
    else:
        with RichTrainProgress() as progress:
            if trainer.extended_from is not None:
                epochs = trainer.config.epochs
                progress.note(
                    f"extending {trainer.run_dir.path} from {trainer.extended_from} to {epochs} epochs; "
                    f"the {trainer.config.schedule} lr schedule is recomputed for {epochs} epochs"
                )
            result = trainer.run(progress)
    print_outcome(trainer.config, result)
