"""``specreg reproduce``: train every method, evaluate corruptions and attacks, report; resumable."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from specreg_cli.options import DeviceOption, DownloadOption, SeedOption, ThreadsOption
from specreg_cli.reproduce.engines import DEFAULT_ENGINE, ENGINES
from specreg_cli.reproduce.presets import PRESETS, PUBLIC_PRESETS

COMMAND_NAME = "reproduce"
PRESET_HELP = (
    " | ".join(f"{name}: {PRESETS[name].describe()}" for name in PUBLIC_PRESETS)
    + ". Several, comma-separated, sweep as one plan and one report (runs named <preset>-<arm>)."
)
ENGINE_HELP = " | ".join(f"{e.name}: {e.help}" for e in ENGINES.values()) + "."


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
            help="Evaluate corruptions on this CIFAR-10-C folder instead of generating them. With "
            "--download, a folder without labels.npy is first filled with the released files (2.9 GB, "
            "MD5-checked, resumable; the archive passes through --data-dir).",
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
            "else one per CPU core (at most 4). With --engine ray: the size of a Ray started here.",
            show_default=False,
        ),
    ] = None,
    threads: ThreadsOption = None,
    engine: Annotated[str, typer.Option("--engine", help=ENGINE_HELP)] = DEFAULT_ENGINE,
    ray_address: Annotated[
        str | None,
        typer.Option(
            "--ray-address",
            help="With --engine ray: the Ray cluster to join (auto, or HEAD_IP:6379 of `ray start --head`). "
            "Default: start Ray on this machine.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Run the whole comparison: train natural, gauss, adversarial and masked models with one recipe and
    seed, evaluate impulse noise / fog / contrast (severities 1-5) and PGD, and write the report
    (Markdown, CSV, plots) into --out.

    Resumable: run the same command again after an interruption; finished steps are skipped and an
    unfinished training run continues where it stopped. Independent steps run side by side (--jobs);
    --threads sets every step's torch threads (through OMP_NUM_THREADS / MKL_NUM_THREADS).
    Each step's output is in OUT/logs/ and its wall and CPU time in OUT/timings.csv.
    --engine ray runs each step as a Ray task (here, or on the cluster at --ray-address; a worker that dies
    is retried and its training resumes); on a cluster --out must be a shared file system.

    Example: specreg reproduce --preset demo --out reports/demo

    Example: specreg reproduce --preset demo --dataset synthetic:train=600,test=200 --jobs 2 --threads 1

    Example: specreg reproduce --preset study --seeds 0-4 --out reports/study

    Example: specreg reproduce --preset paper --seeds 0-2 --engine ray --ray-address auto --out /shared/paper
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
    chosen = [lib.get_preset(name.strip()) for name in preset.split(",")]
    run_with = lib.get_engine(engine)
    settings = lib.EngineSettings(jobs=jobs, threads=threads, device=device, address=ray_address)
    out = out.expanduser().resolve()
    steps = lib.sweep(
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
    if cifar10c_dir is not None and download:  # fetched once here, before any step reads it
        from specreg_cli.commands.cifar10c_folder import open_folder
        from specreg_cli.data.datasets import DEFAULT_DATA_DIR

        open_folder(cifar10c_dir, download, data_dir or DEFAULT_DATA_DIR)
    for each in chosen:
        console.print(
            f"[bold]reproduce --preset {each.name}[/bold]: {each.describe(dataset)}", highlight=False
        )
    console.print(lib.corruption_source(str(cifar10c_dir) if cifar10c_dir else None), highlight=False)
    how = run_with.describe(settings)
    console.print(f"{len(steps)} steps into {out}, {how}; logs in {out / 'logs'}", highlight=False)
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

        timings = run_with.run(steps, out, settings, on_start, on_end)

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
    console.print(f"wall time of this invocation: {elapsed:.1f} s, {how}", highlight=False)


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
