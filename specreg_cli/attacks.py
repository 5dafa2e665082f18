"""The adversarial attacks, one registry entry each, all of them torchattacks' (never re-implemented).
Everything that names an attack or behaves differently for one reads this registry: ``specreg attack
--attack`` choices, the default radius, which of --steps / --alpha / --random-start apply, the attack's
own options (Square's queries, CW's c, kappa and lr), the torchattacks object, the report's column order,
labels and headline, and the tests' parametrisation.

Torch-free at import time (``specreg --help`` must not load torch): an entry's builder imports
torchattacks when it is called.

Inputs are [0, 1] images and specreg models normalise inside, so torchattacks' ``set_normalization_used``
is never called. Attacks that take a seed (APGD, APGD-T, FAB, Square, AutoAttack) get the per-batch seed
of :func:`specreg_cli.attack.batch_seed`; they reseed torch's global RNG with it, inside the caller's
``fork_rng``. Attacks that target the other classes (APGD-T, FAB-T in AutoAttack) get the model's number
of outputs as ``n_classes``.

Minimum-norm attacks reported against a radius: FAB keeps only perturbations within eps (torchattacks
does so). CW-L2 is not eps-bounded (it minimises ``||delta||_2 + c * f``): an example counts as robust at
radius eps when CW's perturbation is longer than eps or CW did not fool the model, the usual convention;
the examples outside the ball are replaced by their clean image, so what is stored and counted is inside
the ball.

torchattacks' AutoAttack ``standard`` is APGD-CE, APGD-T (9 targets), FAB-T (9 targets) and Square
(5,000 queries), each with 1 restart and torchattacks' default 10 iterations (the reference
implementation, fra31/auto-attack, runs 100): a cheaper, somewhat weaker evaluation than RobustBench's.

Adding an attack is one entry in :data:`ATTACKS` plus its tests. Example::

    >>> from specreg_cli.attacks import ATTACKS, get_attack
    >>> list(ATTACKS)
    ['pgd', 'pgdl2', 'fgsm', 'autoattack', 'autoattack-l2', 'apgd-ce', 'apgd-t', 'fab', 'square', 'cw-l2']
    >>> get_attack("pgdl2").norm, get_attack("square").option_defaults()
    ('L2', {'n_queries': 5000})
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from specreg_cli.errors import SpecregError

if TYPE_CHECKING:  # only for annotations: importing these would load torch
    from torch import nn

STEP_KNOBS = frozenset(
    {"steps", "alpha", "random_start"}
)  # what PGD takes from --steps/--alpha/--random-start


@dataclass(frozen=True)
class AttackOption:
    """One knob of one attack (``--attack-option NAME=VALUE``), beyond eps / steps / alpha / random start."""

    name: str  # torchattacks' argument name
    default: float
    help: str
    integer: bool = False
    minimum: float = 0.0  # values must be > minimum (>= with inclusive)
    inclusive: bool = False

    def check(self, attack: str, value: float) -> float | int:
        """``value`` as this option's type; a :class:`SpecregError` when it is out of range."""
        low = self.minimum <= value if self.inclusive else self.minimum < value
        whole = not self.integer or float(value).is_integer()
        if not (math.isfinite(value) and low and whole):
            kind = "an integer" if self.integer else "a number"
            bound = f"{'>=' if self.inclusive else '>'} {self.minimum:g}"
            raise SpecregError(
                f"{attack} option {self.name} must be {kind} {bound}, got {value:g}",
                hint=f"{self.name}: {self.help} (default {self.default:g})",
            )
        return int(value) if self.integer else float(value)


@dataclass(frozen=True)
class BuildArgs:
    """What a builder gets besides the model. Radii and step sizes are in [0, 1] pixel units."""

    eps: float  # > 0 (eps 0 never reaches torchattacks)
    alpha: float | None  # step size; None when the attack does not take one
    steps: int | None  # iterations; None when the attack does not take them
    random_start: bool | None
    seed: int  # torchattacks' seed (a per-batch seed): the attacks that take one reseed torch's RNG with it
    n_classes: int  # the model's number of outputs (targeted attacks try every other class)
    options: tuple[tuple[str, float], ...] = ()  # the entry's options, all of them, defaults filled in

    def option(self, name: str) -> float:
        return dict(self.options)[name]


# model, BuildArgs -> a torchattacks.Attack (or a callable like one: attack(images, labels) -> images)
AttackBuilder = Callable[["nn.Module", BuildArgs], Any]


@dataclass(frozen=True)
class Attack:
    """One attack. Radii and step sizes are in [0, 1] pixel units (an L2 radius for L2 attacks)."""

    name: str  # the CLI / results "condition" name
    label: str  # the report's column label, before its steps and radius: "PGD" -> "PGD-10 8/255"
    norm: str  # "Linf" | "L2": the threat model
    default_eps: float  # the usual CIFAR-10 radius of this threat model (RobustBench)
    summary: str  # one line for --help: the paper and what it does
    build: AttackBuilder
    takes: frozenset[str] = STEP_KNOBS  # which of --steps, --alpha, --random-start it uses
    options: tuple[AttackOption, ...] = ()  # its own knobs, --attack-option NAME=VALUE
    one_step: bool = False  # a single step of eps without random start (FGSM): recorded as such
    headline: bool = False  # the report's headline robust accuracy when present (AutoAttack)
    minimum_norm: bool = False  # finds the smallest perturbation, reported against a radius (FAB, CW)
    black_box: bool = False  # queries the model's outputs only, no gradients (Square)
    # the --n-examples of `specreg attack` when none is given (None: the whole test split): AutoAttack
    # costs ~7.6x PGD-10 per image on a natural ResNet-20 at 1-2/255 (measured, loaded 2-core CPU) and
    # more on robust models, whose surviving images each get Square's 5,000 queries
    default_n_examples: int | None = None

    @property
    def iterative(self) -> bool:
        """Whether --steps applies (and the step count is part of the column label)."""
        return "steps" in self.takes

    def column_label(self, steps: int | None, eps_text: str) -> str:
        """``PGD-10 8/255``, ``PGD-L2-10 0.5``, ``FGSM 8/255``, ``AutoAttack 8/255``."""
        counted = f"{self.label}-{steps}" if self.iterative and steps else self.label
        return f"{counted} {eps_text}".rstrip()

    def option_defaults(self) -> dict[str, float]:
        return {o.name: o.default for o in self.options}

    def resolve_options(self, given: Mapping[str, float] | None = None) -> tuple[tuple[str, float], ...]:
        """Every option of this entry, ``given`` over the defaults, checked; sorted (name, value) pairs.

        >>> get_attack("square").resolve_options({"n_queries": 100})
        (('n_queries', 100),)
        """
        given = dict(given or {})
        known = {o.name: o for o in self.options}
        unknown = sorted(set(given) - set(known))
        if unknown:
            valid = ", ".join(known) if known else "none"
            raise SpecregError(
                f"{self.name} has no option {', '.join(unknown)}", hint=f"options of {self.name}: {valid}"
            )
        values = {
            name: option.check(self.name, float(given.get(name, option.default)))
            for name, option in known.items()
        }
        return tuple(sorted(values.items()))


# --- builders: one torchattacks constructor each -----------------------------------------------------


def _pgd(model: nn.Module, a: BuildArgs):
    import torchattacks

    return torchattacks.PGD(model, eps=a.eps, alpha=a.alpha, steps=a.steps, random_start=a.random_start)


def _pgdl2(model: nn.Module, a: BuildArgs):
    import torchattacks

    return torchattacks.PGDL2(model, eps=a.eps, alpha=a.alpha, steps=a.steps, random_start=a.random_start)


def _fgsm(model: nn.Module, a: BuildArgs):
    import torchattacks

    return torchattacks.FGSM(model, eps=a.eps)


def _autoattack(norm: str) -> AttackBuilder:
    def build(model: nn.Module, a: BuildArgs):
        import torchattacks

        attack = torchattacks.AutoAttack(
            model, norm=norm, eps=a.eps, version="standard", n_classes=a.n_classes, seed=a.seed
        )
        # the one knob of the standard version exposed: Square's query budget (5,000, its cost on a CPU),
        # set on torchattacks' own Square object; any other layout is a changed torchattacks
        square = attack._autoattack.attacks[-1]
        if not isinstance(square, torchattacks.Square):
            raise RuntimeError(
                "torchattacks.AutoAttack no longer ends with Square: update specreg_cli.attacks"
            )
        square.n_queries = int(a.option("n_queries"))
        return attack

    return build


def _apgd_ce(model: nn.Module, a: BuildArgs):
    import torchattacks

    return torchattacks.APGD(model, norm="Linf", eps=a.eps, steps=a.steps, seed=a.seed, loss="ce")


def _apgd_t(model: nn.Module, a: BuildArgs):
    import torchattacks

    return torchattacks.APGDT(
        model, norm="Linf", eps=a.eps, steps=a.steps, seed=a.seed, n_classes=a.n_classes
    )


def _fab(model: nn.Module, a: BuildArgs):
    import torchattacks

    return torchattacks.FAB(model, norm="Linf", eps=a.eps, steps=a.steps, seed=a.seed, n_classes=a.n_classes)


def _square(model: nn.Module, a: BuildArgs):
    import torchattacks

    return torchattacks.Square(
        model, norm="Linf", eps=a.eps, n_queries=int(a.option("n_queries")), seed=a.seed
    )


def _cw_l2(model: nn.Module, a: BuildArgs):
    import torchattacks

    cw = torchattacks.CW(model, c=a.option("c"), kappa=a.option("kappa"), steps=a.steps, lr=a.option("lr"))
    return WithinRadius(cw, a.eps)


class WithinRadius:
    """A minimum-norm L2 attack judged at radius ``eps``: its examples whose perturbation is longer than eps
    are replaced by the clean image (counted as not fooled), so every returned example is in the ball.

    Example: ``WithinRadius(torchattacks.CW(model), 0.5)(images, labels)`` -> (B, C, H, W) float.
    """

    def __init__(self, attack, eps: float):
        self.attack, self.eps = attack, eps

    def __call__(self, images, labels):
        import torch

        adv = self.attack(images, labels)  # (B, C, H, W)
        length = (adv - images).flatten(1).norm(dim=1)  # (B,)
        inside = (length <= self.eps).view(-1, *([1] * (images.dim() - 1)))  # (B, 1, 1, 1)
        return torch.where(inside, adv, images)


AUTOATTACK_N_EXAMPLES = 200  # first test images AutoAttack evaluates unless --n-examples says otherwise
_AA_QUERIES = AttackOption(
    "n_queries", 5000, "queries per image of AutoAttack's Square (standard: 5000)", integer=True
)
_ENTRIES = (
    Attack("pgd", "PGD", "Linf", 8 / 255, "PGD, Linf (Madry et al., ICLR 2018): sign steps of alpha", _pgd),
    Attack(
        "pgdl2", "PGD-L2", "L2", 0.5, "PGD, L2 (Madry et al.): normalised-gradient steps of alpha", _pgdl2
    ),
    Attack(
        "fgsm",
        "FGSM",
        "Linf",
        8 / 255,
        "FGSM, Linf (Goodfellow et al., ICLR 2015): one signed step of eps",
        _fgsm,
        takes=frozenset(),
        one_step=True,
    ),
    Attack(
        "autoattack",
        "AutoAttack",
        "Linf",
        8 / 255,
        "AutoAttack standard, Linf (Croce & Hein, ICML 2020): APGD-CE, APGD-T, FAB-T, Square, seeded; "
        "the headline robust accuracy",
        _autoattack("Linf"),
        takes=frozenset(),
        options=(_AA_QUERIES,),
        headline=True,
        default_n_examples=AUTOATTACK_N_EXAMPLES,
    ),
    Attack(
        "autoattack-l2",
        "AutoAttack-L2",
        "L2",
        0.5,
        "AutoAttack standard, L2 (Croce & Hein, ICML 2020)",
        _autoattack("L2"),
        takes=frozenset(),
        options=(_AA_QUERIES,),
        headline=True,
        default_n_examples=AUTOATTACK_N_EXAMPLES,
    ),
    Attack(
        "apgd-ce",
        "APGD-CE",
        "Linf",
        8 / 255,
        "APGD, cross-entropy, Linf (Croce & Hein, ICML 2020): step size adapted, no alpha",
        _apgd_ce,
        takes=frozenset({"steps"}),
    ),
    Attack(
        "apgd-t",
        "APGD-T",
        "Linf",
        8 / 255,
        "APGD targeted, DLR loss, Linf (Croce & Hein, ICML 2020): each other class as target",
        _apgd_t,
        takes=frozenset({"steps"}),
    ),
    Attack(
        "fab",
        "FAB",
        "Linf",
        8 / 255,
        "FAB, Linf (Croce & Hein, ICML 2020): minimum-norm, kept when within eps",
        _fab,
        takes=frozenset({"steps"}),
        minimum_norm=True,
    ),
    Attack(
        "square",
        "Square",
        "Linf",
        8 / 255,
        "Square, Linf (Andriushchenko et al., ECCV 2020): black-box random search, n_queries per image",
        _square,
        takes=frozenset(),
        options=(AttackOption("n_queries", 5000, "model queries per image", integer=True),),
        black_box=True,
    ),
    Attack(
        "cw-l2",
        "CW-L2",
        "L2",
        0.5,
        "Carlini & Wagner L2 (IEEE S&P 2017): minimum-norm; robust at eps when its perturbation is longer",
        _cw_l2,
        takes=frozenset({"steps"}),
        options=(
            AttackOption("c", 1.0, "weight of the misclassification term"),
            AttackOption("kappa", 0.0, "confidence margin", inclusive=True),
            AttackOption("lr", 0.01, "Adam learning rate"),
        ),
        minimum_norm=True,
    ),
)
ATTACKS: dict[str, Attack] = {entry.name: entry for entry in _ENTRIES}  # registry order
ATTACK_NAMES = tuple(ATTACKS)
# the report's column order: headline attacks (AutoAttack) first, then the others in registry order
COLUMN_ORDER = tuple(e.name for e in _ENTRIES if e.headline) + tuple(
    e.name for e in _ENTRIES if not e.headline
)


def get_attack(name: str) -> Attack:
    """The entry called ``name``; a :class:`SpecregError` naming the valid ones otherwise."""
    if name not in ATTACKS:
        raise SpecregError(f"unknown attack {name!r}", hint=f"valid choices: {', '.join(ATTACKS)}")
    return ATTACKS[name]


def attack_rank(name: str) -> int:
    """Report order (:data:`COLUMN_ORDER`), then attacks unknown to this version after all of them."""
    return COLUMN_ORDER.index(name) if name in ATTACKS else len(COLUMN_ORDER)


def option_names() -> tuple[str, ...]:
    """Every option name of every entry (the report compares them within a column)."""
    return tuple(dict.fromkeys(o.name for e in _ENTRIES for o in e.options))


def parse_options(name: str, texts: list[str] | None) -> dict[str, float]:
    """``["n_queries=1000"]`` -> ``{"n_queries": 1000.0}``, checked against entry ``name``'s options."""
    entry, values = get_attack(name), {}
    for text in texts or []:
        key, sep, value = str(text).partition("=")
        try:
            number = float(value)
        except ValueError:
            number = None
        if not sep or number is None:
            raise SpecregError(
                f"--attack-option {text!r} is not NAME=NUMBER",
                hint=f"e.g. --attack-option n_queries=1000; options of {name}: "
                + (", ".join(entry.option_defaults()) or "none"),
            )
        values[key.strip()] = number
    entry.resolve_options(values)  # unknown names and bad values are refused here
    return values
