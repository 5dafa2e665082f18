"""``specreg eval-corruptions``: clean accuracy and accuracy per (corruption, severity) for trained models."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from specreg_cli.options import (
    DEFAULT_DATA_DIR,
    BatchSizeOption,
    DataDirOption,
    DeviceOption,
    DownloadOption,
    NExamplesOption,
    SeedOption,
)

COMMAND_NAME = "eval-corruptions"


def command(
    checkpoints: Annotated[
        list[Path],
        typer.Argument(
            help="Run directories (their model.pt) or checkpoint files; the models share the corrupted "
            "images.",
            show_default=False,
        ),
    ],
    corruptions: Annotated[
        str,
        typer.Option(
            "--corruptions",
            help="Comma-separated corruption names, or all. Generated: impulse_noise, fog, "
            "contrast; with --cifar10c-dir: any of the 19 released ones present in the folder.",
        ),
    ] = "impulse_noise,fog,contrast",
    severities: Annotated[
        str, typer.Option("--severities", help="Severities 1..5, e.g. 1-5, 3 or 1,3,5.")
    ] = "1-5",
    cifar10c_dir: Annotated[
        Path | None,
        typer.Option(
            "--cifar10c-dir",
            help="Read corrupted images from this CIFAR-10-C folder (labels.npy, <name>.npy) "
            "instead of generating them. Clean accuracy then uses the --dataset test split when its labels "
            "match the folder's, and is left out otherwise.",
            show_default=False,
        ),
    ] = None,
    n_examples: NExamplesOption = None,
    batch_size: BatchSizeOption = 256,
    seed: SeedOption = 0,
    device: DeviceOption = "auto",
    dataset: Annotated[
        str | None,
        typer.Option(
            "--dataset",
            help="Test split to evaluate on (default: the dataset the checkpoints were trained on): "
            "synthetic[:train=..,test=..,seed=..] | cifar10.",
            show_default=False,
        ),
    ] = None,
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    download: DownloadOption = False,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="One results file (JSON) for every model. Default: <run_dir>/corruptions.json per "
            "model (<name>.corruptions.json beside a loose checkpoint file).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Clean accuracy plus accuracy for every (corruption, severity), per model; writes result records.

    Corruptions are generated on the fly from the test split with --seed (the bytes `specreg corrupt` writes),
    or read from a CIFAR-10-C folder with --cifar10c-dir.
    Images are streamed in batches: memory does not grow with the number of images, corruptions or severities.

    Example: specreg eval-corruptions runs/natural runs/masked --severities 1-5 --out results/corruptions.json
    """
    from specreg_cli import corruption_eval as ce
    from specreg_cli.checkpoint import load_model, test_set_warnings
    from specreg_cli.console import err_console, make_progress
    from specreg_cli.data.cifar10c import Cifar10CFolder
    from specreg_cli.data.datasets import load_dataset, parse_dataset_spec
    from specreg_cli.device import resolve_device
    from specreg_cli.parsing import parse_severities
    from specreg_cli.results import provenance, write_results

    chosen_severities = parse_severities(severities)
    folder = Cifar10CFolder(cifar10c_dir) if cifar10c_dir is not None else None
    names = ce.select_corruptions(corruptions, folder)
    torch_device = resolve_device(device)
    loaded = [load_model(path, torch_device) for path in checkpoints]
    outputs = ce.plan_outputs([c for _, c in loaded], out)
    spec = ce.dataset_spec_for([c for _, c in loaded], dataset)
    dataset_name = parse_dataset_spec(spec)[0]
    if folder is None:
        clean, notes = load_dataset(spec, "test", data_dir=data_dir, download=download), []
    else:
        clean, note = ce.clean_for_folder(
            folder, spec, data_dir, download, n_examples, explicit=dataset is not None
        )
        notes = [note] if note else []

    if clean is not None:
        for line in test_set_warnings([c for _, c in loaded], clean.identity):
            err_console.print(f"[yellow]warning:[/yellow] {line}", highlight=False)
    models = [ce.EvalModel.from_checkpoint(model, checkpoint) for model, checkpoint in loaded]
    with make_progress() as progress:
        task = progress.add_task("eval-corruptions", total=None, status="")

        def report(done: int, total: int, status: str) -> None:
            progress.update(task, completed=done, total=total, status=status)

        result = ce.evaluate_corruptions(
            models,
            names,
            chosen_severities,
            clean=clean,
            folder=folder,
            dataset_name=dataset_name,
            seed=seed,
            batch_size=batch_size,
            device=torch_device,
            n=n_examples,
            progress=report,
        )

    arguments = {
        "checkpoints": [str(c.path) for _, c in loaded],
        "corruptions": names,
        "severities": chosen_severities,
        "cifar10c_dir": str(folder.path) if folder else None,
        "n_examples": n_examples,
        "batch_size": batch_size,
        "device": str(torch_device),
        "dataset": spec,
    }
    written = []
    for path, members in outputs:  # one file for all models with --out, else one per run directory
        prov = provenance(
            "eval-corruptions",
            arguments,
            seed,
            dataset=ce.source_identity(clean, folder),
            checkpoints=ce.checkpoint_hashes(members),
        )
        prov["timing"] = result.timing.as_dict()  # seconds generating / reading / in the models
        written.append(write_results(path, result.records_of(members), prov))
    _render(result, models, notes, written)


def _render(result, models, notes: list[str], written: list[Path]) -> None:
    """A table per model (rows: corruptions; columns: severities and their mean), timings, written files."""
    from rich.table import Table

    from specreg_cli import corruption_eval as ce
    from specreg_cli.console import console

    def pct(value: float | None) -> str:
        return "-" if value is None else f"{100 * value:.1f}"

    for entry in models:
        clean, grid = ce.accuracy_table(result.records, entry.run)
        severities = sorted({s for row in grid.values() for s in row})
        table = Table(
            title=f"{entry.run} ({entry.method}, {entry.arch}): accuracy % on {result.n} images, "
            f"clean {pct(clean)}"
        )
        table.add_column("corruption")
        for s in severities:
            table.add_column(f"s{s}", justify="right")
        table.add_column("mean", justify="right", style="bold")
        for name, row in grid.items():
            values = [row[s] for s in severities]
            table.add_row(name, *map(pct, values), pct(sum(values) / len(values)))
        if len(grid) > 1:
            columns = [[grid[name][s] for name in grid] for s in severities]
            means = [sum(c) / len(c) for c in columns]
            table.add_row("mean", *map(pct, means), pct(sum(means) / len(means)), style="bold")
        console.print(table)
    t = result.timing
    source = f"reading files {t.read_s:.1f} s" if t.read_s else f"generating corruptions {t.generate_s:.1f} s"
    console.print(
        f"[dim]{source} ({100 * (t.generate_s + t.read_s) / max(t.total_s, 1e-9):.0f}% of "
        f"{t.total_s:.1f} s), models {t.model_s:.1f} s[/dim]",
        highlight=False,
    )
    for note in notes:
        console.print(f"[dim]{note}[/dim]", highlight=False)
    for path in written:
        console.print(f"wrote {path}", highlight=False)
