"""The one defaults block of ``specreg train``: every knob, its unit, and where its default comes from.

"paper" = the spectral-mask paper says so; "recipe" = the standard CIFAR ResNet-20 recipe (He et al.
2016 / the widely used CIFAR implementation) where the paper is silent.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields

from specreg_cli.errors import SpecregError
from specreg_cli.methods import METHODS

SCHEDULES = ("step", "cosine")
GROUP_CHARACTERS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")
MAX_SEED = 2**31 - 1  # seeds feed numpy and torch generators; both take at least 31 bits


# `specreg train` options that are MaskConfig fields, saved under TrainConfig.mask (option -> field)
MASK_OPTIONS = {
    "mask_stochastic": "stochastic",
    "mask_stem": "include_stem",
    "mask_init_mean": "init_mean",
    "mask_init_spread": "init_spread",
    "mask_init_spread_kind": "spread_kind",
    "mask_random_drop": "random_drop",
    "mask_backend": "backend",
    "mask_threshold": "threshold",
    "mask_conv_grad": "conv_grad",
}


def saved_option(config: dict, option: str) -> object:
    """The value of the ``specreg train`` option ``option`` (``batch_size``, ``mask_random_drop``) in a
    saved TrainConfig dict (None when absent): mask options live in its ``mask`` dict."""
    mask = config.get("mask") if isinstance(config.get("mask"), dict) else {}
    if option == "mask_per_layer":  # the flag --mask-per-layer is the saved per_channel False
        return None if "per_channel" not in mask else not mask["per_channel"]
    if option in MASK_OPTIONS:
        return mask.get(MASK_OPTIONS[option])
    return config.get(option)


@dataclass
class TrainConfig:
    method: str = "natural"  # a name from specreg_cli.methods.METHODS
    arch: str = "resnet20"  # a name from specreg_cli.models.list_models()
    dataset: str = "synthetic"  # dataset spec (see specreg_cli.data.datasets)
    data_dir: str = "data"  # folder holding cifar-10-batches-py (cifar10 only)
    download: bool = False  # fetch CIFAR-10 when missing
    epochs: int = 200  # recipe: ~64k iterations at batch 128 on CIFAR-10
    batch_size: int = 128  # recipe: images per SGD step
    lr: float = 0.01  # paper: SGD learning rate on CIFAR
    momentum: float = 0.9  # paper
    weight_decay: float = 1e-4  # paper (= recipe): L2 on weights, not on masks (0: Table 1's "off")
    # the paper's Table 1 switches (LeNet); each default is what specreg always did before they existed
    normalize: bool = True  # the model's first layer standardises with CIFAR-10's mean/std (off: no layer)
    crop: bool = True  # recipe: random 32x32 crop after 4 pixels of zero padding, per image and epoch
    flip: bool = True  # recipe: random horizontal flip, probability 1/2 ("data augmentation")
    # probability of zeroing a unit of the hidden fully connected layers in training (LeNet: after fc1 and
    # fc2); Table 1's "dropout keep-prob 0.9" is 0.1. Models without hidden FC layers refuse > 0
    dropout: float = 0.0
    # recipe: step = lr x0.1 at 50% and again at 75% of training; cosine = per-step cosine to 0
    schedule: str = "step"
    seed: int = 0  # init, data order, augmentation, perturbations
    # the arm this run belongs to: runs of one group are seeds of one recipe, one row of the report
    # (None: the method's name). E.g. "masked-x1" and "masked-x100" are two groups of the masked method
    group: str | None = None
    device: str = "auto"  # auto | cpu | cuda
    amp: bool = False  # mixed precision (bfloat16 on CPU, float16 + GradScaler on CUDA); FFTs stay float32
    channels_last: bool = False  # NHWC memory format (faster convs on GPUs)
    compile: bool = False  # torch.compile the model
    # gauss: Gaussian noise augmentation
    noise_std: float = 0.1  # std of the added noise, pixel scale [0, 1]
    noise_fraction: float = 0.5  # fraction of each batch that is noised (the rest stays clean)
    # adversarial: PGD adversarial training (Madry et al. 2018) with torchattacks
    adv_eps: float = 8 / 255  # L-inf radius, pixel scale
    adv_alpha: float = 2 / 255  # step size, pixel scale
    adv_steps: int = 7  # PGD iterations per batch
    # masked: the paper's spectral masks (fields of specreg_cli.spectral.MaskConfig)
    mask: dict = field(default_factory=dict)  # MaskConfig overrides; init defaults depend on init_from
    mask_lr_mult: float = 1.0  # mask learning rate = lr x this
    mask_weight_decay: float = 0.0  # L2 on the masks (0: the masks are only pushed by the loss)
    # checkpoint to fine-tune from (masks start at the fine-tune init N(0.6, 0.1)); absolute path
    init_from: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> TrainConfig:
        """Rebuild a config; unknown keys are rejected (a typo must not silently become a default)."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise SpecregError(f"unknown train config keys: {', '.join(unknown)}")
        return cls(**data)

    def validate(self) -> TrainConfig:
        """Check ranges; raise SpecregError naming the option and the valid range."""
        numbers = ("lr", "momentum", "weight_decay", "noise_std", "noise_fraction", "adv_eps", "adv_alpha")
        numbers += ("mask_lr_mult", "mask_weight_decay", "dropout")
        for name in numbers:  # inf and nan pass every range check below, and train a broken model
            if not math.isfinite(getattr(self, name)):
                raise SpecregError(
                    f"--{name.replace('_', '-')} must be a finite number, got {getattr(self, name)}"
                )
        checks = [
            (self.method in METHODS, f"--method must be one of {', '.join(METHODS)}"),
            (0 <= self.seed <= MAX_SEED, f"--seed must be in [0, {MAX_SEED}]"),
            (self.group is None or _is_name(self.group), "--group must be letters, digits, '-' or '_'"),
            (self.schedule in SCHEDULES, f"--schedule must be one of {', '.join(SCHEDULES)}"),
            (self.epochs >= 1, "--epochs must be at least 1"),
            (self.batch_size >= 2, "--batch-size must be at least 2 (BatchNorm needs two images)"),
            (self.lr > 0, "--lr must be > 0"),
            (0 <= self.momentum < 1, "--momentum must be in [0, 1)"),
            (self.weight_decay >= 0, "--weight-decay must be >= 0"),
            (0 <= self.dropout < 1, "--dropout must be in [0, 1) (a drop probability; keep-prob 0.9 = 0.1)"),
            (self.noise_std >= 0, "--noise-std must be >= 0"),
            (0 <= self.noise_fraction <= 1, "--noise-fraction must be in [0, 1]"),
            (self.adv_eps >= 0 and self.adv_alpha >= 0, "--adv-eps and --adv-alpha must be >= 0"),
            (self.adv_steps >= 1, "--adv-steps must be at least 1"),
            (
                self.mask_lr_mult >= 0 and self.mask_weight_decay >= 0,
                "--mask-lr-mult and --mask-weight-decay must be >= 0",
            ),
        ]
        for ok, message in checks:
            if not ok:
                raise SpecregError(message)
        return self


def _is_name(text: str) -> bool:
    return bool(text) and set(text) <= GROUP_CHARACTERS
