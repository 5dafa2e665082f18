"""The adversarial attacks, one registry entry each, all of them torchattacks' (never re-implemented).
Everything that names an attack or behaves differently for one reads this registry: ``specreg attack
--attack`` choices, the default radius, whether steps / alpha / random start apply, the torchattacks
object, the report's column order and labels, and the tests' parametrisation.

Torch-free at import time (``specreg --help`` must not load torch): an entry's builder imports
torchattacks when it is called.

Adding an attack is one entry in :data:`ATTACKS` plus its tests. Example::

    >>> from specreg_cli.attacks import ATTACKS, get_attack
    >>> list(ATTACKS)
    ['pgd', 'pgdl2', 'fgsm']
    >>> get_attack("pgdl2").norm
    'L2'
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from specreg_cli.errors import SpecregError

if TYPE_CHECKING:  # only for annotations: importing these would load torch
    from torch import nn

# model, eps, alpha, steps, random_start -> a torchattacks.Attack (called as attack(images, labels))
AttackBuilder = Callable[["nn.Module", float, float, int, bool], Any]


@dataclass(frozen=True)
class Attack:
    """One attack. Radii and step sizes are in [0, 1] pixel units (an L2 radius for L2 attacks)."""

    name: str  # the CLI / results "condition" name
    label: str  # the report's column label, before its steps and radius: "PGD" -> "PGD-10 8/255"
    norm: str  # "Linf" | "L2": the threat model
    default_eps: float  # the usual CIFAR-10 radius of this threat model (RobustBench)
    summary: str  # one line for --help: the paper and what it does
    build: AttackBuilder
    iterative: bool = True  # uses --steps, --alpha and --random-start (False: one step of eps, no start)

    def column_label(self, steps: int | None, eps_text: str) -> str:
        """``PGD-10 8/255``, ``PGD-L2-10 0.5``, ``FGSM 8/255``."""
        counted = f"{self.label}-{steps}" if self.iterative and steps else self.label
        return f"{counted} {eps_text}".rstrip()


def _pgd(model: nn.Module, eps: float, alpha: float, steps: int, random_start: bool):
    import torchattacks

    return torchattacks.PGD(model, eps=eps, alpha=alpha, steps=steps, random_start=random_start)


def _pgdl2(model: nn.Module, eps: float, alpha: float, steps: int, random_start: bool):
    import torchattacks

    return torchattacks.PGDL2(model, eps=eps, alpha=alpha, steps=steps, random_start=random_start)


def _fgsm(model: nn.Module, eps: float, alpha: float, steps: int, random_start: bool):
    import torchattacks

    return torchattacks.FGSM(model, eps=eps)


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
        iterative=False,
    ),
)
ATTACKS: dict[str, Attack] = {entry.name: entry for entry in _ENTRIES}  # in the report's column order
ATTACK_NAMES = tuple(ATTACKS)


def get_attack(name: str) -> Attack:
    """The entry called ``name``; a :class:`SpecregError` naming the valid ones otherwise."""
    if name not in ATTACKS:
        raise SpecregError(f"unknown attack {name!r}", hint=f"valid choices: {', '.join(ATTACKS)}")
    return ATTACKS[name]


def attack_rank(name: str) -> int:
    """Registry order, then attacks unknown to this version after all of them."""
    return ATTACK_NAMES.index(name) if name in ATTACKS else len(ATTACK_NAMES)
