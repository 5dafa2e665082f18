"""The benchmark's output: one Rich table and one JSON file holding every figure and the machine."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.table import Table

from benchmarks.figure import Figure
from specreg_cli.atomic import write_text_atomic

VERDICT_STYLE = {"met": "green", "missed": "bold red"}
HEADLINE = "train.masked_auto.images_per_s"  # its ratio to natural is the figure the paper's method lives by
TABLE_WIDTH = 120  # columns when printing to a pipe or a file (seven columns need more than 80)


def fmt(x: float | None) -> str:
    """Three significant digits, thousands separated; "-" for None."""
    if x is None:
        return "-"
    if not math.isfinite(x):
        return str(x)
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.3g}"


def render_table(figures: Sequence[Figure], machine: dict, repeats: int, console: Console) -> None:
    """Print the figures as one table (figure, value, unit, baseline, ratio, goal, verdict)."""
    table = Table(
        title=f"specreg benchmarks: medians of {repeats} run(s) on {machine['device_name']}, "
        f"{machine['torch_threads']} torch thread(s)",
        title_justify="left",
    )
    for column in ("figure", "value", "unit", "baseline", "ratio", "goal", "verdict"):
        table.add_column(column, justify="right" if column in ("value", "ratio") else "left", overflow="fold")
    for f in figures:
        verdict = f.verdict or ""
        table.add_row(
            f.name,
            fmt(f.value),
            f.unit,
            f.baseline or "-",
            "-" if f.ratio is None else f"{fmt(f.ratio)}x",
            f.goal.describe(f.unit) if f.goal else "-",
            f"[{VERDICT_STYLE[verdict]}]{verdict}[/]" if verdict else "-",
        )
    if not console.is_terminal and console.width < TABLE_WIDTH:  # a pipe or a file gets 80 columns by default
        console = Console(file=console.file, width=TABLE_WIDTH, no_color=console.no_color)
    console.print(table)
    setups = {}
    for f in figures:
        setups.setdefault(f.setup, f.key.split(".")[0])
    for setup, group in setups.items():
        if setup:
            console.print(f"[dim]{group}: {setup}[/dim]", highlight=False)
    for f in figures:
        if f.key == HEADLINE:
            console.print(
                f"[bold]headline:[/bold] a masked training step (default backend) costs {fmt(f.ratio)}x a "
                f"natural one (goal {f.goal.describe(f.unit)}: {f.verdict})",
                highlight=False,
            )


def write_json(
    path: str | Path, figures: Sequence[Figure], machine: dict, settings: dict, skipped: dict[str, str]
) -> Path:
    """Write every figure (median, runs, ratio, goal, verdict), the machine and the settings atomically."""
    document = {
        "machine": machine,
        "settings": settings,
        "figures": {f.key: f.as_dict() for f in figures},
        "skipped": skipped,
    }
    path = Path(path).expanduser().resolve()
    write_text_atomic(path, json.dumps(document, indent=1) + "\n")
    return path
