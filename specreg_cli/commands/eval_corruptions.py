"""``specreg eval-corruptions``: clean accuracy and accuracy per (corruption, severity) for trained models.

The command parses options, calls the library (:mod:`specreg_cli.model_set`,
:mod:`specreg_cli.corruption_eval`) and renders.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from specreg_cli.options import (
    DEFAULT_DATA_DIR,
    BatchSizeOption,
    DataDirOption,
    DeviceOption,
    DownloadOption,
    FrostDirOption,
    MeanOption,
    ModelKwargsOption,
    ModelOption,
    NExamplesOption,
    SeedOption,
    StdOption,
    ThreadsOption,
    WeightsOption,
)

COMMAND_NAME = "eval-corruptions"


class Metric(str, Enum):
    """What the per-model tables show."""

    accuracy = "accuracy"
    error = "error"


def command(
    checkpoints: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Run directories (or their checkpoint files); the models share the corrupted images. "
            "May be left out with --model.",
            show_default=False,
        ),
    ] = None,
    corruptions: Annotated[
        str,
        typer.Option(
            "--corruptions",
            help="Comma-separated corruption names, or all. Generated: any of the 19 of CIFAR-10-C "
            "(frost needs --frost-dir; all leaves it out with a note without one); with --cifar10c-dir: "
            "any of the 19 released ones present in the folder (means are "
            "over the 15 benchmark corruptions; the 4 extra ones, gaussian_blur, saturate, spatter and "
            "speckle_noise, are listed apart).",
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
            "match the folder's, and is left out otherwise. With --download, a folder without labels.npy is "
            "first filled with the released files (Zenodo 2535967, 2.9 GB, MD5-checked, resumable; the "
            "archive passes through --data-dir).",
            show_default=False,
        ),
    ] = None,
    metric: Annotated[
        Metric,
        typer.Option(
            "--metric",
            help="What the tables show: accuracy, or error (top-1 error % per corruption and severity, "
            "with CE and relative CE per corruption and the mean error over the 15, mCE and relative mCE; "
            "Hendrycks & Dietterich 2019). A line per model gives those three means either way.",
        ),
    ] = Metric.accuracy,
    baseline: Annotated[
        str,
        typer.Option(
            "--baseline",
            help="The model CE and mCE are normalised by (the paper's AlexNet): a run name, or the method "
            "of one of the models given.",
        ),
    ] = "natural",
    n_examples: NExamplesOption = None,
    batch_size: BatchSizeOption = 256,
    seed: SeedOption = 0,
    device: DeviceOption = "auto",
    threads: ThreadsOption = None,
    frost_dir: FrostDirOption = None,
    dataset: Annotated[
        str | None,
        typer.Option(
            "--dataset",
            help="Test split to evaluate on (default: the test split the checkpoints were trained "
            "alongside; checkpoints of different test splits need this option): "
            "synthetic[:train=..,test=..,seed=..] | cifar10.",
            show_default=False,
        ),
    ] = None,
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    download: DownloadOption = False,
    model: ModelOption = None,
    weights: WeightsOption = None,
    model_kwargs: ModelKwargsOption = None,
    mean: MeanOption = None,
    std: StdOption = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="One results file (JSON) for every model. Default, per model: "
            "<run_dir>/corruptions.json for generated corruptions, <run_dir>/corruptions-cifar10c.json with "
            "--cifar10c-dir (<name>.corruptions.json or <name>.corruptions-cifar10c.json beside a loose "
            "checkpoint file), so the two evaluations of a run don't overwrite each other.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Clean accuracy plus accuracy for every (corruption, severity), per model; writes result records.

    Corruptions are generated on the fly from the test split with --seed (the bytes `specreg corrupt` writes),
    or read from a CIFAR-10-C folder with --cifar10c-dir.
    Images are streamed in batches: memory does not grow with the number of images, corruptions or severities.

    Example: specreg eval-corruptions runs/natural runs/masked --severities 1-5 --out results/corruptions.json

    Example: specreg eval-corruptions runs/natural --model torchvision.models:resnet18 --model-kwargs
    num_classes=10 --weights resnet18.pt --mean 0.4914,0.4822,0.4465 --std 0.2470,0.2435,0.2616
    """
    from specreg_cli import corruption_eval as ce
    from specreg_cli.checkpoint import test_set_warnings
    from specreg_cli.commands.benchmark_view import BenchmarkView
    from specreg_cli.commands.cifar10c_folder import open_folder
    from specreg_cli.console import err_console, make_progress
    from specreg_cli.data.datasets import parse_dataset_spec
    from specreg_cli.device import set_threads
    from specreg_cli.external_model import from_options
    from specreg_cli.model_set import checkpoint_hashes, evaluation_dataset, load_model_set
    from specreg_cli.output_lock import check_output_path, claim_outputs
    from specreg_cli.parsing import parse_severities
    from specreg_cli.results import provenance, write_results

    set_threads(threads)
    chosen_severities = parse_severities(severities)
    folder = open_folder(cifar10c_dir, download, data_dir)  # --download fetches the release into it
    names = ce.select_corruptions(corruptions, folder)
    if folder is None:  # generated: each must be able to run now (frost: its photographs)
        names, notes = ce.ready_to_generate(names, corruptions, frost_dir)
        for note in notes:
            err_console.print(f"[yellow]note:[/yellow] {note}", highlight=False)
    external = from_options(model, model_kwargs, mean, std)
    if out is not None:
        check_output_path(out)  # a bad --out is one line before any model or image is loaded
    loaded = load_model_set(checkpoints or [], device, external, weights or [])
    outputs = ce.plan_outputs(loaded.checkpoints, out, cifar10c=folder is not None)
    # checked and locked before the work: a bad --out is one line now, not after the evaluation
    with claim_outputs(path for path, _ in outputs):
        spec = evaluation_dataset(loaded.checkpoints, dataset)
        clean, notes = ce.clean_split(
            spec, folder, data_dir, download, n_examples, explicit=dataset is not None
        )
        if clean is not None:
            for line in test_set_warnings(loaded.checkpoints, clean.identity):
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
                dataset_name=parse_dataset_spec(spec)[0],
                seed=seed,
                batch_size=batch_size,
                device=loaded.device,
                n=n_examples,
                progress=report,
            )

        arguments = {
            "checkpoints": [str(c.path) for c in loaded.checkpoints],
            "corruptions": names,
            "severities": chosen_severities,
            "cifar10c_dir": str(folder.path) if folder else None,
            "n_examples": n_examples,
            "batch_size": batch_size,
            "device": str(loaded.device),
            "threads": threads,
            "dataset": spec,
            "data_dir": str(data_dir.expanduser().resolve()),
            "out": str(out.expanduser().resolve()) if out is not None else None,
            **(external.as_arguments() if external is not None else {}),
        }
        written = []
        for path, members in outputs:  # one file for all models with --out, else one per run directory
            prov = provenance(
                "eval-corruptions",
                arguments,
                seed,
                dataset=ce.source_identity(clean, folder),
                checkpoints=checkpoint_hashes(members),
            )
            prov["timing"] = result.timing.as_dict()  # seconds generating / reading / in the models
            written.append(write_results(path, result.records_of(members), prov))
    if external is not None:
        notes.append(f"{external.target}: input normalisation {external.normalization}")
    _render(result, models, notes, written, BenchmarkView(result.records, models, baseline), metric)


def _render(result, models, notes: list[str], written: list[Path], view, metric: Metric) -> None:
    """A table per model (rows: corruptions; columns: severities and their mean), timings, written files."""
    from rich.table import Table

    from specreg_cli import corruption_eval as ce
    from specreg_cli.console import console

    def pct(value: float | None) -> str:
        return "-" if value is None else f"{100 * value:.1f}"

    for entry in models:
        if metric == Metric.error:  # the benchmark's view: error rates, CE, mCE (commands/benchmark_view.py)
            console.print(view.error_table(entry, result.n))
            continue
        accuracies = ce.accuracy_table(result.records, entry.run)
        severities = accuracies.severities
        table = Table(
            title=f"{entry.run} ({entry.method}, {entry.arch}): accuracy % on {result.n} images, "
            f"clean {pct(accuracies.clean)}",
            caption="(extra): not one of the 15 benchmark corruptions, so not in the mean"
            if accuracies.extra
            else None,
        )
        table.add_column("corruption")
        for s in severities:
            table.add_column(f"s{s}", justify="right")
        table.add_column("mean", justify="right", style="bold")
        for name, row in accuracies.benchmark.items():
            table.add_row(name, *(pct(row.get(s)) for s in severities), pct(accuracies.row_mean(row)))
        if len(accuracies.benchmark) > 1:
            means = accuracies.severity_means
            table.add_row(
                "mean", *(pct(means.get(s)) for s in severities), pct(accuracies.mean), style="bold"
            )
        if accuracies.extra:
            table.add_section()
            for name, row in accuracies.extra.items():
                cells = (pct(row.get(s)) for s in severities)
                table.add_row(f"{name} (extra)", *cells, pct(accuracies.row_mean(row)), style="dim")
        console.print(table)
    for line in view.summary_lines():
        console.print(line, highlight=False)
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
