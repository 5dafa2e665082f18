"""The training methods, one registry entry each. Everything that names a method or behaves differently
for one reads this registry: ``specreg train --method`` choices, config validation, the batch
perturbation, the checkpoint's method options, the report's row order, labels and option texts, plot
colours, the steps of ``specreg reproduce`` and the tests' parametrisation.

Torch-free at import time (``specreg --help`` must not load torch): an entry's builder imports what it
needs when it is called.

Adding a method is one entry in :data:`METHODS` plus its tests. Example::

    >>> from specreg_cli.methods import METHODS, get_method
    >>> list(METHODS)
    ['natural', 'gauss', 'adversarial', 'masked']
    >>> get_method("masked").masked
    True
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from specreg_cli.errors import SpecregError
from specreg_cli.parsing import format_pixel_value

if TYPE_CHECKING:  # only for annotations: importing these would load torch
    from torch import nn

    from specreg_cli.perturb import Perturbation
    from specreg_cli.train_config import TrainConfig

PerturbationBuilder = Callable[["TrainConfig", "nn.Module"], "Perturbation"]


@dataclass(frozen=True)
class TrainingMethod:
    """One way of training a model.

    ``options`` maps the key stored in a checkpoint's ``method_options`` to the TrainConfig field it
    comes from; ``describe`` turns a run's saved config (a dict, possibly from an older version) into
    the report's options text.
    """

    name: str  # the CLI / config / results name
    label: str  # the report's row label (the paper's wording)
    color: str  # matplotlib colour of its curves in every figure
    summary: str  # one line for --help
    options: Mapping[str, str] = field(
        default_factory=dict
    )  # checkpoint key -> TrainConfig field (only this method's knobs)
    masked: bool = False  # the model gets spectral masks (specreg_cli.spectral)
    build_perturbation: PerturbationBuilder | None = None  # None: trains on the batches as they are
    describe: Callable[[Mapping[str, Any]], str] = lambda config: ""

    @property
    def perturbs_batches(self) -> bool:
        """Whether the SGD step sees altered batches (so its running train accuracy is not clean)."""
        return self.build_perturbation is not None

    def method_options(self, config: TrainConfig) -> dict:
        """This method's knobs of ``config``, as a checkpoint records them."""
        return {key: getattr(config, name) for key, name in self.options.items()}

    def perturbation(self, config: TrainConfig, model: nn.Module) -> Perturbation | None:
        return None if self.build_perturbation is None else self.build_perturbation(config, model)


def _gauss_perturbation(config: TrainConfig, model: nn.Module) -> Perturbation:
    from specreg_cli.perturb import gaussian_noise

    return gaussian_noise(config.noise_std, config.noise_fraction)


def _pgd_perturbation(config: TrainConfig, model: nn.Module) -> Perturbation:
    from specreg_cli.perturb import pgd_adversarial

    return pgd_adversarial(model, config.adv_eps, config.adv_alpha, config.adv_steps)


def _describe_gauss(config: Mapping[str, Any]) -> str:
    std, fraction = float(config.get("noise_std", 0)), float(config.get("noise_fraction", 0))
    return f"noise std {std:g} on {fraction:.0%} of each batch"


def _describe_adversarial(config: Mapping[str, Any]) -> str:
    eps, alpha = float(config.get("adv_eps", 0)), float(config.get("adv_alpha", 0))
    return f"PGD-{config.get('adv_steps')} eps {format_pixel_value(eps)} alpha {format_pixel_value(alpha)}"


def _describe_masked(config: Mapping[str, Any]) -> str:
    mask = config.get("mask") or {}
    scope = "per layer" if mask.get("per_channel") is False else "per channel"
    source = config.get("init_from")
    extra = f", fine-tuned from {run_name_of(source)}" if source else ""
    return f"masks {scope}, mask lr x{float(config.get('mask_lr_mult', 1.0)):g}{extra}"


def run_name_of(checkpoint_or_run: str) -> str:
    """The run name behind a path given to ``--init-from``: RUN/model.pt and RUN both name RUN."""
    path = Path(checkpoint_or_run)
    return path.parent.name if path.suffix == ".pt" else path.name


_ENTRIES = (
    TrainingMethod("natural", "natural", "C0", "plain cross-entropy training"),
    TrainingMethod(
        "gauss",
        "Gaussian augmentation",
        "C1",
        "Gaussian-noise augmentation on a fraction of each batch",
        options={"noise_std": "noise_std", "noise_fraction": "noise_fraction"},
        build_perturbation=_gauss_perturbation,
        describe=_describe_gauss,
    ),
    TrainingMethod(
        "adversarial",
        "adversarial training",
        "C2",
        "PGD adversarial training (Madry et al. 2018, torchattacks)",
        options={"eps": "adv_eps", "alpha": "adv_alpha", "steps": "adv_steps"},
        build_perturbation=_pgd_perturbation,
        describe=_describe_adversarial,
    ),
    TrainingMethod(
        "masked",
        "masked (spectral)",
        "C3",
        "the paper's learnable binarised spectral masks on every residual-block conv",
        options={
            "mask_lr_mult": "mask_lr_mult",
            "mask_weight_decay": "mask_weight_decay",
            "init_from": "init_from",
        },
        masked=True,
        describe=_describe_masked,
    ),
)
METHODS: dict[str, TrainingMethod] = {entry.name: entry for entry in _ENTRIES}  # in the paper's row order
METHOD_NAMES = tuple(METHODS)


def get_method(name: str) -> TrainingMethod:
    """The entry called ``name``; a :class:`SpecregError` naming the valid ones otherwise."""
    if name not in METHODS:
        raise SpecregError(f"unknown method {name!r}", hint=f"valid choices: {', '.join(METHODS)}")
    return METHODS[name]


def method_rank(name: str) -> int:
    """Registry order (the paper's), then methods unknown to this version, after all of them."""
    return METHOD_NAMES.index(name) if name in METHODS else len(METHOD_NAMES)


def method_label(name: str) -> str:
    return METHODS[name].label if name in METHODS else str(name)


def method_color(name: str) -> str:
    """A method's colour in every figure; unknown methods get a stable colour after the registry's."""
    if name in METHODS:
        return METHODS[name].color
    return f"C{len(METHOD_NAMES) + sum(map(ord, str(name))) % 6}"


def describe_options(config: Mapping[str, Any]) -> str:
    """What makes a run's method differ, in words (``PGD-3 eps 8/255 alpha 2/255``); '' if unknown."""
    method = METHODS.get(str(config.get("method")))
    return "" if method is None else method.describe(config)
