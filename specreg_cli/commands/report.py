"""``specreg report``: the paper's Table 2 (+ per severity, Table 3, training, provenance) as Markdown or CSV.

CSV is one table per file (see :mod:`specreg_cli.report.csv_files`): ``--out table.csv`` writes Table 2 there
and the other tables beside it; without ``--out`` only Table 2 goes to stdout.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

COMMAND_NAME = "report"


class Format(str, Enum):
    md = "md"
    csv = "csv"


def command(
    results: Annotated[
        list[Path],
        typer.Argument(
            help="Results files, or folders searched recursively for results files and training run "
            "directories "
            "(run directories add Table 3, the training recipe and the figures).",
            show_default=False,
        ),
    ],
    format: Annotated[
        Format | None,
        typer.Option(
            "--format",
            help="md (GitHub Markdown tables, accuracies in %) | csv (one table per file, fractions: "
            "--out table.csv writes Table 2 there and table.per_severity.csv, table.table3.csv, "
            "table.training.csv, table.runs.csv, table.provenance.csv beside it; integer columns with gaps "
            "load as Int64 with pandas.read_csv(..., dtype_backend='numpy_nullable'); severity is a number, "
            "severity_mean marks means over severities). Default: from --out's suffix, else md.",
            show_default=False,
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Write the report to this file (atomically) instead of stdout "
            "(csv: Table 2 there, the other tables beside it).",
            show_default=False,
        ),
    ] = None,
    severity: Annotated[
        str,
        typer.Option(
            "--severity", help="Corruption columns of Table 2: mean (over the evaluated severities) | 1..5."
        ),
    ] = "mean",
    plots: Annotated[
        Path | None,
        typer.Option(
            "--plots",
            help="Also write PNG figures into this folder: training curves, accuracy vs severity, "
            "spectral masks.",
            show_default=False,
        ),
    ] = None,
    cam_images: Annotated[
        int,
        typer.Option(
            "--cam-images",
            min=0,
            max=32,
            help="With --plots: also draw the paper's Figure 3, class activation maps of the first N test "
            "images for one run of each Figure 2 arm (natural, masks from scratch, masks fine-tuned); it "
            "loads the models, so it is off (0) by default.",
        ),
    ] = 0,
    baseline: Annotated[
        str,
        typer.Option(
            "--baseline",
            help="The group (arm) that paired differences, relative corruption error and the CIFAR-10-C "
            "metrics (CE, mCE, relative mCE; the paper's AlexNet) are taken against, seed by seed.",
        ),
    ] = "natural",
    allow_mixed: Annotated[
        bool,
        typer.Option(
            "--allow-mixed",
            help="Report results that don't fit together (other datasets, test-set sizes, "
            "attack settings) with the affected columns flagged, instead of refusing.",
        ),
    ] = False,
) -> None:
    """The paper's Table 2 from result records: rows = methods (mean ± std over seeds), columns = clean,
    corruptions and attacks; then accuracy per severity, Table 3 (masked frequencies per layer), the
    training runs and a provenance footer. Same inputs, same bytes.

    Example: specreg report results/ runs/ --format md --out reports/table.md --plots reports/plots

    Example: specreg report results/ runs/ --out reports/table.csv   (six CSV files, one per table)
    """
    from specreg_cli.atomic import write_text_atomic
    from specreg_cli.console import console, err_console
    from specreg_cli.errors import SpecregError
    from specreg_cli.output_lock import check_output_path
    from specreg_cli.report import build_report, load_inputs, parse_severity, to_csv, to_markdown, write_csv

    chosen = format or (Format.csv if out is not None and out.suffix.lower() == ".csv" else Format.md)
    out = check_output_path(out) if out is not None else None  # before any work or plot is written
    if cam_images and plots is None:
        raise SpecregError("--cam-images draws a figure: it needs --plots DIR", hint="e.g. --plots plots")
    inputs = load_inputs(results)
    report = build_report(
        inputs, severity=parse_severity(severity), allow_mixed=allow_mixed, baseline=baseline
    )
    written: list[Path] = []
    if plots is not None:
        from specreg_cli.plots import write_plots

        figures = write_plots(report, inputs, plots, cam_images=cam_images)
        written += [path for _, path in figures]
        base = out.parent if out is not None else Path.cwd()
        report.figures = [(caption, _relative(path, base)) for caption, path in figures]
    if out is None:
        typer.echo(to_markdown(report) if chosen == Format.md else to_csv(report), nl=False)
        if chosen == Format.csv:
            err_console.print("stdout holds Table 2 only; --out FILE.csv writes every table", highlight=False)
    elif chosen == Format.md:
        write_text_atomic(out, to_markdown(report))
        written.insert(0, out)
    else:
        written[:0] = write_csv(report, out)
    notes = console if out is not None else err_console  # without --out, stdout carries only the report
    for path in written:
        notes.print(f"wrote {path}", highlight=False)
    if report.issues:
        err_console.print(
            f"[yellow]warning:[/yellow] {len(report.issues)} mixed-results issue(s) flagged in the table",
            highlight=False,
        )


def _relative(path: Path, base: Path) -> Path:
    """``path`` relative to the report's folder, so the Markdown links survive moving the folder."""
    import os

    return Path(os.path.relpath(path, base))
