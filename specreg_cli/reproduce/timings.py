"""OUT/timings.csv: how each step went and its wall and CPU seconds, then a total row.

Rewritten (atomically, in plan order) after every step, so an interrupted plan still says what it did; a
skipped step keeps the seconds it took when it ran, and a resumed training adds the seconds of its
earlier part.

    step,status,wall_s,cpu_s,command
    train natural,ran,68.09,67.47,specreg train --method natural ...
    total,14 of 14 steps ran; 2 at a time,385.10,700.20,wall: this invocation ...
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from specreg_cli.atomic import write_text_atomic

TIMINGS_COLUMNS = ("step", "status", "wall_s", "cpu_s", "command")
TOTAL = "total"  # the last row of timings.csv: the whole invocation


@dataclass
class StepTiming:
    """How a step went: ran | resumed | restarted | skipped | failed; seconds of wall clock and of CPU."""

    step: str
    status: str
    wall_s: float | None
    cpu_s: float | None
    command: str


def read_timings(path: Path) -> list[dict]:
    """Rows of a timings.csv (empty when missing or unreadable)."""
    try:
        return list(csv.DictReader(path.open(encoding="utf-8")))
    except (OSError, csv.Error):
        return []


def write_timings(path: Path, timings: list[StepTiming]) -> None:
    """timings.csv: step, status, wall_s, cpu_s, command (atomic)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(TIMINGS_COLUMNS)
    for t in timings:
        writer.writerow(
            [
                t.step,
                t.status,
                "" if t.wall_s is None else f"{t.wall_s:.2f}",
                "" if t.cpu_s is None else f"{t.cpu_s:.2f}",
                t.command,
            ]
        )
    write_text_atomic(path, buffer.getvalue())


def kept_timing(row: dict, status: str | None = None) -> StepTiming:
    """A timings.csv row as it was (a step this invocation did not run), ``status`` replaced if given."""
    return StepTiming(
        row.get("step", ""),
        row.get("status", "") if status is None else status,
        seconds(row.get("wall_s")),
        seconds(row.get("cpu_s")),
        row.get("command", ""),
    )


def seconds(text: object) -> float | None:
    """A seconds field of timings.csv; None when empty or not a number."""
    try:
        return float(text) if text not in (None, "") else None
    except (TypeError, ValueError):
        return None
