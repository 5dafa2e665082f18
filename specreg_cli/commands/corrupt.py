"""``specreg corrupt``: write the test split's corrupted images in the released CIFAR-10-C layout."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from specreg_cli.options import (
    DEFAULT_DATA_DIR,
    BatchSizeOption,
    DataDirOption,
    DatasetOption,
    DownloadOption,
    FrostDirOption,
    SeedOption,
    ThreadsOption,
)

COMMAND_NAME = "corrupt"


def command(
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            help="Folder to write <corruption>.npy, labels.npy and corrupt.json into "
            "(created if missing; files of the same names are replaced).",
        ),
    ],
    dataset: DatasetOption = "synthetic",
    corruptions: Annotated[
        str,
        typer.Option(
            "--corruptions",
            help="Comma-separated corruptions to write (e.g. gaussian_noise,fog,jpeg_compression), or all: "
            "the 19 of CIFAR-10-C, the 15 benchmark ones and 4 extras (corruptions/README.md); frost needs "
            "--frost-dir, and all leaves it out with a note without one.",
        ),
    ] = "impulse_noise,fog,contrast",
    severities: Annotated[
        str,
        typer.Option("--severities", help="Must be 1-5: the released layout holds all five severity blocks."),
    ] = "1-5",
    seed: SeedOption = 0,
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    download: DownloadOption = False,
    batch_size: BatchSizeOption = 256,
    threads: ThreadsOption = None,
    jobs: Annotated[
        int | None,
        typer.Option(
            "--jobs",
            min=1,
            help="Worker processes corrupting at once, each on --threads torch threads (default 1). "
            "Default: the usable cores for 100,000 corrupted images (images x corruptions x severities) "
            "or more, else 1 (workers take seconds to start). The bytes are the same for every --jobs.",
        ),
    ] = None,
    frost_dir: FrostDirOption = None,
) -> None:
    """Corrupt the dataset's TEST split and write it in the CIFAR-10-C layout.

    Each <corruption>.npy is uint8 (5N, 32, 32, 3): the N test images once per severity, severity 1 first.
    labels.npy holds the N labels tiled 5 times (uint8); corrupt.json the seed and dataset identity.
    Files are written atomically and load with np.load or `specreg eval-corruptions --cifar10c-dir`.

    Example: specreg corrupt --dataset cifar10 --data-dir data --out data/CIFAR-10-C-specreg --seed 0
    --corruptions all --jobs 2
    """
    import corruptions as corruption_lib
    from specreg_cli.cifar10c_writer import default_jobs, write_cifar10c
    from specreg_cli.console import console, err_console, make_progress
    from specreg_cli.corruption_eval import ready_to_generate
    from specreg_cli.data import load_dataset
    from specreg_cli.device import set_threads
    from specreg_cli.errors import SpecregError
    from specreg_cli.parsing import parse_names, parse_severities
    from specreg_cli.results import provenance

    set_threads(threads)
    chosen = parse_severities(severities)
    if tuple(chosen) != corruption_lib.SEVERITIES:
        raise SpecregError(
            f"--severities {severities} leaves some out: the CIFAR-10-C layout holds all five",
            hint="drop --severities; pick severities when evaluating with "
            "`specreg eval-corruptions --severities`",
        )
    names = parse_names(corruptions, corruption_lib.CORRUPTIONS, "corruption")
    # before any work: a corruption missing its files is one line (or, through all, left out with a note)
    names, notes = ready_to_generate(names, corruptions, frost_dir)
    for note in notes:
        err_console.print(f"[yellow]note:[/yellow] {note}", highlight=False)
    out = out.expanduser().resolve()
    if out.exists() and not out.is_dir():
        raise SpecregError(f"--out {out} is a file", hint="pass a folder")
    test = load_dataset(dataset, "test", data_dir=data_dir, download=download)
    arguments = {
        "dataset": dataset,
        "corruptions": names,
        "severities": chosen,
        "seed": seed,
        "batch_size": batch_size,
        "threads": threads,
        "data_dir": data_dir.expanduser().resolve(),
        "out": out,
    }
    if jobs is None:
        jobs = default_jobs(len(test) * len(names) * len(chosen))
    arguments["jobs"] = jobs
    prov = provenance("corrupt", arguments, seed, dataset=test.identity)

    with make_progress() as progress:
        task = progress.add_task("corrupt", total=None, status="")

        def report(done: int, total: int, status: str) -> None:
            progress.update(task, completed=done, total=total, status=status)

        paths = write_cifar10c(
            out,
            test.images,
            test.labels,
            names,
            seed=seed,
            batch_size=batch_size,
            provenance=prov,
            progress=report,
            jobs=jobs,
            threads=threads or 1,
        )
    console.print(
        f"wrote {len(names)} corruptions x {len(corruption_lib.SEVERITIES)} severities x {len(test)} images "
        f"({test.identity.get('name')} test split, seed {seed}) to {out}"
    )
    for path in paths:
        console.print(f"  {path.name}", highlight=False)
