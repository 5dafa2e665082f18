"""``python -m benchmarks``: measure every hot path, print one table, write the figures as JSON.

Example::

    python -m benchmarks --quick --threads 2 --out /tmp/bench.json
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

DEFAULT_OUT = Path(__file__).resolve().parent / "results.json"  # benchmarks/results.json
DEVICES = ("cpu", "cuda")

app = typer.Typer(
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.command()
def command(
    quick: Annotated[
        bool,
        typer.Option(
            "--quick",
            help="Reduced sizes (1,000 images instead of 10,000, shorter epochs, 2 repeats): under 2 "
            "minutes. Default: the full sizes, about 10 minutes on an idle 2-core CPU.",
        ),
    ] = False,
    device: Annotated[
        str,
        typer.Option(
            "--device",
            help="cpu | cuda. The CPU figures always run on the CPU; cuda adds CUDA epoch times and "
            "the projected `reproduce --preset paper` time (skipped with a note when no GPU is visible).",
        ),
    ] = "cpu",
    threads: Annotated[
        int | None,
        typer.Option(
            "--threads",
            min=1,
            help="torch.set_num_threads(N) for the whole run (default: torch's default); "
            "recorded in the JSON.",
            show_default=False,
        ),
    ] = None,
    repeats: Annotated[
        int | None,
        typer.Option(
            "--repeats",
            min=1,
            help="Runs per figure; the table shows their median (default: 3, 2 with --quick).",
            show_default=False,
        ),
    ] = None,
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            help="JSON file for every figure, its runs and the machine.",
            show_default="benchmarks/results.json",
        ),
    ] = DEFAULT_OUT,
) -> None:
    """Measure specreg's hot paths (training step natural vs masked, data pipeline, evaluation, corruptions,
    PGD, peak memory) and print one table of medians, baseline ratios and goals.

    Example: python -m benchmarks --quick --out /tmp/bench.json
    """
    from specreg_cli.errors import SpecregError

    if device not in DEVICES:
        raise SpecregError(f"unknown device {device!r}", hint=f"valid choices: {', '.join(DEVICES)}")
    run_benchmarks(quick=quick, device=device, threads=threads, repeats=repeats, out=out, argv=sys.argv[1:])


def run_benchmarks(
    quick: bool = False,
    device: str = "cpu",
    threads: int | None = None,
    repeats: int | None = None,
    out: str | Path = DEFAULT_OUT,
    sizes=None,
    console=None,
    show_progress: bool = True,
    argv: list[str] | None = None,
) -> Path:
    """What the command does, callable from Python (``sizes`` overrides the full/quick sizes, e.g. for a
    smoke test; ``argv`` is the command line recorded in the JSON). Returns the JSON file written."""
    import dataclasses

    import torch

    from benchmarks.machine import busy_warning, load_average, machine_info
    from benchmarks.report import render_table, write_json
    from benchmarks.sizes import FULL, QUICK
    from benchmarks.suite import groups_for, run_suite
    from specreg_cli.console import console as default_console
    from specreg_cli.console import err_console

    if threads is not None:
        torch.set_num_threads(threads)
    sizes = sizes or (QUICK if quick else FULL)
    repeats = repeats or sizes.repeats
    console = console or default_console
    machine = machine_info(device)
    groups, skipped = groups_for(device)
    machine["busy_warning"] = warning = busy_warning(machine)
    if warning:
        err_console.print(f"[yellow]warning:[/yellow] {warning}", highlight=False)
    for name, why in skipped.items():
        err_console.print(f"[yellow]skipped[/yellow] {name}: {why}", highlight=False)
    figures, group_seconds = run_suite(sizes, repeats, groups, show_progress=show_progress)
    machine["load_average_end"] = load_average()
    settings = {
        "command": None if argv is None else " ".join(["python -m benchmarks", *argv]),
        "repeats": repeats,
        "threads": threads,
        "device": device,
        "sizes": dataclasses.asdict(sizes),
        "group_seconds": group_seconds,
    }
    render_table(figures, machine, repeats, console)
    path = write_json(out, figures, machine, settings, skipped)
    console.print(
        f"[dim]load average (1/5/15 min) {machine['load_average_start']} at the start, "
        f"{machine['load_average_end']} at the end; wrote {path}[/dim]",
        highlight=False,
    )
    return path


def main() -> None:
    from specreg_cli.console import err_console
    from specreg_cli.errors import SpecregError

    try:
        app()
    except SpecregError as error:
        hint = f" [dim]({error.hint})[/dim]" if error.hint else ""
        err_console.print(
            f"[bold red]error:[/bold red] {error.message}{hint}", highlight=False, soft_wrap=True
        )
        sys.exit(1)
    except KeyboardInterrupt:
        err_console.print("[bold red]interrupted[/bold red]")
        sys.exit(130)


if __name__ == "__main__":
    main()
