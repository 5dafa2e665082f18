"""Table 2's columns: which column a result record belongs to, what its header says, where it goes.

Order: clean, then the corruptions (the paper's three in its order, then any other by name), then the
attacks in the attack registry's column order (:mod:`specreg_cli.attacks`: AutoAttack, the headline,
first), each by steps and radius, then the per-image worst case over attacks (``worst case Linf 8/255``).
Attack headers come from the registry too (``Attack.column_label``), so a new attack needs no change here.

Example::

    column_of(row)            # Column("pgd-10-0.0313...", "PGD-10 8/255", "attack", "pgd", 8/255, 10)
    attack_label("fgsm", 1, 8 / 255)   # "FGSM 8/255"
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from specreg_cli.attacks import ATTACKS, attack_rank, get_attack
from specreg_cli.parsing import format_pixel_value
from specreg_cli.report.worst_case import WORST

PAPER_CORRUPTIONS = ("impulse_noise", "fog", "contrast")  # the paper's Table 2 columns, in its order
SKIPPED_CONDITIONS = ("noise",)  # the random-noise baseline of `specreg attack`: a sanity check, not a column
KIND_ORDER = {"clean": 0, "corruption": 1, "attack": 2}
UNLISTED = 99  # rank of a corruption outside the paper's three: after them, by name


@dataclass(frozen=True)
class Column:
    """One column of Table 2."""

    key: str  # stable id: "clean", a corruption name, "<attack>-<steps>-<eps>" (+ "-<source attack>-<run>")
    label: str  # what the header says: "clean", "impulse noise", "PGD-10 8/255"
    kind: str  # "clean" | "corruption" | "attack"
    condition: str
    eps: float | None = None
    steps: int | None = None

    def sort_key(self) -> tuple:
        """Clean, corruptions (paper order), attacks (registry order, then steps, then radius)."""
        if self.kind == "corruption":
            rank = (
                PAPER_CORRUPTIONS.index(self.condition) if self.condition in PAPER_CORRUPTIONS else UNLISTED
            )
            return (KIND_ORDER[self.kind], rank, self.condition, 0, 0.0, self.key)
        rank = attack_rank(self.condition) + (1 if self.condition == WORST else 0)  # after unknown attacks
        return (KIND_ORDER[self.kind], rank, self.condition, self.steps or 0, self.eps or 0.0, self.key)


def attack_label(condition: str, steps: int | None, eps: float | None) -> str:
    """``PGD-10 8/255``, ``PGD-L2-10 0.5``, ``FGSM 8/255``; attacks unknown to the registry by their name."""
    radius = "" if eps is None else format_pixel_value(eps)
    if condition in ATTACKS:
        return get_attack(condition).column_label(steps, radius)
    return f"{condition} {radius}".rstrip()


def transfer_label(attack: str | None, source: str | None, steps: int | None, eps: float | None) -> str:
    """``transfer PGD-10 8/255 from natural-s0``; what the results file does not record is left out.

    >>> transfer_label("fgsm", "natural-s0", 1, 8 / 255), transfer_label(None, None, None, 8 / 255)
    ('transfer FGSM 8/255 from natural-s0', 'transfer 8/255')
    """
    if attack is not None:
        made = attack_label(str(attack), steps, eps)
    else:
        made = format_pixel_value(eps) if eps is not None else ""
    parts = ("transfer", made, f"from {source}" if source is not None else "")
    return " ".join(part for part in parts if part)


def column_of(row: pd.Series) -> Column | None:
    """The Table 2 column of an accuracy record; None for records that are no column (eps 0, noise)."""
    condition = str(row["condition"])
    if condition == "clean":
        return Column("clean", "clean", "clean", condition)
    if not pd.isna(row["severity"]):
        return Column(condition, condition.replace("_", " "), "corruption", condition)
    if condition in SKIPPED_CONDITIONS:
        return None
    eps, steps = param(row, "eps"), param(row, "steps")
    if eps is not None and float(eps) == 0:
        return None  # eps 0 is the attack's sanity check (it equals clean accuracy), not a robustness number
    eps = None if eps is None else float(eps)
    steps = None if steps is None else int(steps)
    key = f"{condition}-{steps or 0}-{eps if eps is not None else 'na'}"
    label = attack_label(condition, steps, eps)
    if condition == WORST:  # every attack at this radius, image by image (report.worst_case)
        norm = param(row, "norm")
        key += f"-{norm}"
        label = f"worst case {norm} {format_pixel_value(eps) if eps is not None else ''}".rstrip()
    if condition == "transfer":  # examples made on another model: a column per source attack and source run
        attack, source = param(row, "source_attack"), param(row, "source_run")
        key += f"-{attack}-{source}"
        label = transfer_label(attack, source, steps, eps)
    return Column(key, label, "attack", condition, eps, steps)


def param(row: pd.Series, name: str) -> object | None:
    """The record's ``params[name]``, None when that record has none (pandas fills gaps with NaN)."""
    value = row.get(f"param_{name}")
    missing = value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))
    return None if missing else value
