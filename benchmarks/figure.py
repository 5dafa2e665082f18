"""One measured figure: the runs of every repeat, their median, an optional in-run baseline ratio and goal."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field

OPERATORS = {"<": lambda a, b: a < b, "<=": lambda a, b: a <= b, ">=": lambda a, b: a >= b}


@dataclass(frozen=True)
class Goal:
    """A target for a figure's value (``on="value"``) or its baseline ratio (``on="ratio"``).

    Example: ``Goal("<=", 1.3, on="ratio")`` reads "ratio <= 1.3x".
    """

    op: str  # "<" | "<=" | ">="
    threshold: float
    on: str = "value"  # "value" | "ratio"

    def met(self, value: float, ratio: float | None) -> bool:
        measured = ratio if self.on == "ratio" else value
        if measured is None or not math.isfinite(measured):
            return False
        return OPERATORS[self.op](measured, self.threshold)

    def describe(self, unit: str) -> str:
        if self.on == "ratio":
            return f"ratio {self.op} {self.threshold:g}x"
        return f"{self.op} {self.threshold:g} {unit}"


@dataclass
class Figure:
    """One row of the table and one entry of the JSON.

    ``runs`` holds one value per repeat (``value`` is their median). ``ratio_runs`` holds the per-repeat
    ratio to ``baseline`` (what the ratio compares against, in words); ``ratio`` is their median.

    Example::

        Figure("train.natural.images_per_s", "train, natural", "images/s", [410.0, 398.0])
    """

    key: str  # stable JSON key, e.g. "train.masked_fft.images_per_s"
    name: str  # what the table shows
    unit: str
    runs: list[float]
    baseline: str | None = None
    ratio_runs: list[float] | None = None
    goal: Goal | None = None
    setup: str = ""  # what was measured: model, sizes, device (printed under the table)
    extra: dict = field(default_factory=dict)  # context for the JSON (e.g. seconds behind a share)

    @property
    def value(self) -> float:
        return statistics.median(self.runs)

    @property
    def ratio(self) -> float | None:
        return statistics.median(self.ratio_runs) if self.ratio_runs else None

    @property
    def verdict(self) -> str | None:
        """ "met" / "missed" against the goal, None without one."""
        if self.goal is None:
            return None
        return "met" if self.goal.met(self.value, self.ratio) else "missed"

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "value": self.value,
            "unit": self.unit,
            "runs": list(self.runs),
            "baseline": self.baseline,
            "ratio": self.ratio,
            "ratio_runs": list(self.ratio_runs) if self.ratio_runs else None,
            "goal": self.goal.describe(self.unit) if self.goal else None,
            "verdict": self.verdict,
            "setup": self.setup,
            "extra": self.extra,
        }


def rotated(items: list, shift: int) -> list:
    """``items`` rotated left by ``shift``: repeat r starts with a different item, so no item always runs
    first (right after another group) or last."""
    shift %= len(items)
    return items[shift:] + items[:shift]
