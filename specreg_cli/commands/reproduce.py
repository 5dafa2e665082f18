"""``specreg reproduce``: train every method, evaluate corruptions and attacks, report; resumable."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from specreg_cli.options import DeviceOption, DownloadOption, SeedOption, ThreadsOption
from specreg_cli.reproduce.presets import PRESETS, PUBLIC_PRESETS

COMMAND_NAME = "reproduce"
PRESET_HELP = " | ".join(f"{name}: {PRESETS[name].describe()}" for name in PUBLIC_PRESETS) + "."


def command(
    preset: Annotated[
        str,
        typer.Option(
            "--preset",
            help=PRESET_HELP,
        ),
    ] = "demo",
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            help="Folder for everything: runs/, results/, logs/, table.md, table.csv, plots/, timings.csv.",
        ),
    ] = Path("reports/demo"),
    dataset: Annotated[
        str | None,
        typer.Option(
            "--dataset",
            help="Override the preset's dataset (synthetic[:train=..,test=..,seed=..] | cifar10).",
            show_default=False,
        ),
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir",
            help="Folder holding cifar-10-batches-py (cifar10 only). Default: data.",
            show_default=False,
        ),
    ] = None,
    download: DownloadOption = False,
    cifar10c_dir: Annotated[
        Path | None,
        typer.Option(
            "--cifar10c-dir",
            help="Evaluate corruptions on this CIFAR-10-C folder instead of generating them.",
            show_default=False,
        ),
    ] = None,
    device: DeviceOption = "auto",
    seed: SeedOption = 0,
    seeds: Annotated[
        str | None,
        typer.Option(
            "--seeds",
            help="Seeds as an axis, e.g. 0-4 or 0,2,5: every arm is trained once per seed (runs named "
            "natural-s0, ...), each seed's evaluations use that seed, and the report gives mean, std, 95% "
            "intervals and paired differences. Excludes --seed.",
            show_default=False,
        ),
    ] = None,
    jobs: Annotated[
        int | None,
        typer.Option(
            "--jobs",
            min=1,
            help="Steps run at once, each with cores/jobs threads (or --threads). Default: 1 on a GPU, "
            "else one per CPU core (at most 4).",
            show_default=False,
        ),
    ] = None,
    threads: ThreadsOption = None,
) -> None:
    """Run the whole comparison: train natural, gauss, adversarial and masked models with one recipe and
    seed, evaluate impulse noise / fog / contrast (severities 1-5) and PGD, and write the report
    (Markdown, CSV, plots) into --out.

    Resumable: run the same command again after an interruption; finished steps are skipped and an
    unfinished training run continues where it stopped. Independent steps run side by side (--jobs);
    --threads sets every step's torch threads (through OMP_NUM_THREADS / MKL_NUM_THREADS).
    Each step's output is in OUT/logs/ and its wall and CPU time in OUT/timings.csv.

    Example: specreg reproduce --preset demo --out reports/demo

    Example: specreg reproduce --preset demo --dataset synthetic:train=600,test=200 --jobs 2 --threads 1

    Example: specreg reproduce --preset study --seeds 0-4 --out reports/study
    """
    import time

    from rich.table import Table

    from specreg_cli import reproduce as lib
    from specreg_cli.console import console, make_progress
    from specreg_cli.errors import SpecregError
    from specreg_cli.parsing import parse_int_list

    started = time.perf_counter()
    if seeds is not None and seed != 0:
        raise SpecregError("--seed and --seeds exclude each other", hint="e.g. --seeds 0-4, or --seed 3")
    seed_list = parse_int_list(seeds, "--seeds", "0-4 or 0,2,5") if seeds is not None else None
    chosen = lib.get_preset(preset)
    out = out.expanduser().resolve()
    steps = lib.plan(
        chosen,
        out,
        seed=seed,
        seeds=seed_list,
        device=device,
        dataset=dataset,
        data_dir=data_dir,
        download=download,
        cifar10c_dir=cifar10c_dir,
    )
    jobs = jobs or lib.default_jobs(cuda=_uses_cuda(device))
    each = lib.threads_per_step(jobs, threads=threads)
    console.print(
        f"[bold]reproduce --preset {chosen.name}[/bold]: {chosen.describe(dataset)}", highlight=False
    )
    console.print(
        f"{len(steps)} steps into {out}, {jobs} at a time"
        + (f", {each} thread{'s' * (each > 1)} each" if each else "")
        + f"; logs in {out / 'logs'}",
        highlight=False,
    )
    running: dict[str, str] = {}
    verbs = {lib.RESUME: "resuming", lib.RESTART: "restarting"}

    with make_progress() as progress:
        task = progress.add_task("reproduce", total=len(steps), status="")

        def on_start(index: int, step, state: str) -> None:
            if state != lib.DONE:
                running[step.name] = f"{verbs.get(state, '')} {step.name}".strip()
            progress.update(task, status=", ".join(running.values()))

        def on_end(index: int, step, timing) -> None:
            running.pop(step.name, None)
            progress.console.print(_line(index, len(steps), step.name, timing), highlight=False)
            progress.update(task, advance=1, status=", ".join(running.values()))

        timings = lib.run_plan(
            steps,
            out,
            runner=lib.subprocess_runner(jobs, threads=threads),
            jobs=jobs,
            on_start=on_start,
            on_end=on_end,
        )

    ran = [t for t in timings if t.wall_s is not None]
    table = Table(title=f"wrote {out / 'table.md'}, {out / 'table.csv'}, {out / 'plots'}")
    for name in ("step", "status", "wall s", "CPU s"):
        table.add_column(name, justify="right" if name.endswith(" s") else "left")
    for t in timings:
        table.add_row(
            t.step,
            t.status,
            "-" if t.wall_s is None else f"{t.wall_s:.1f}",
            "-" if t.cpu_s is None else f"{t.cpu_s:.1f}",
        )
    table.add_row(
        "sum over steps",
        "",
        f"{sum(t.wall_s for t in ran):.1f}",
        f"{sum(t.cpu_s or 0 for t in ran):.1f}",
        style="bold",
    )
    console.print(table)
    elapsed = time.perf_counter() - started
    console.print(f"wall time of this invocation: {elapsed:.1f} s ({jobs} steps at a time)", highlight=False)


def _line(index: int, total: int, name: str, timing) -> str:
    """One Rich line per finished step: its wall and CPU seconds, or "skipped"."""
    if timing.status == "skipped":
        return f"[dim]{index + 1:>2}/{total}  {name:<30} skipped (done)[/dim]"
    color = "red" if timing.status == "failed" else "green"
    cpu = "-" if timing.cpu_s is None else f"{timing.cpu_s:.1f}"
    return (
        f"[{color}]{index + 1:>2}/{total}[/{color}]  {name:<30} {timing.status:<9} "
        f"{timing.wall_s:8.1f} s wall  {cpu:>8} s CPU"
    )


def _uses_cuda(device: str) -> bool:
    if device == "cpu":
        return False
    import torch

    return torch.cuda.is_available()
