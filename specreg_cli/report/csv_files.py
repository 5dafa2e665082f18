"""The report as CSV: one table per file, each ready for ``pandas.read_csv``.

``write_csv(report, "table.csv")`` writes one file per table (header only when the table is empty)::

    table.csv               Table 2: one row per (method row, column)
    table.per_severity.csv  per (method row, corruption, severity), plus each mean over the severities
    table.table3.csv        per (masked run, layer): fraction of frequencies masked at the final epoch
    table.training.csv      per run directory: recipe, epochs, method options, final accuracies
    table.runs.csv          per (method row, run): the runs (seeds) a row of the first two averages
    table.benchmark.csv     per (method row, metric, corruption, severity): error, CE, mCE, relative mCE
                            (mean, 95% interval over seeds; report/mce.py)
    table.provenance.csv    per provenance line: item (versions, dataset, attack, ...) and its text
    table.table1.csv        per LeNet arm: the paper's Table 1 switches, seeds, final train/test acc, gap
    table.table3_paper.csv  per (ResNet-18 masked run, layer): the paper's layer name beside specreg's

Values are numbers, never formatted text: accuracies and masked fractions as fractions in [0, 1] (8
decimals), eps in [0, 1] pixel scale, exact. ``severity`` is an integer (1..5) or empty; a value averaged
over the evaluated severities has ``severity_mean`` True (and severity empty); booleans are True / False.
``pd.read_csv(path)`` reads integer columns without gaps as int64; integer columns that can have gaps
(severity, steps, n_images, seed, epochs, batch_size) read as nullable Int64 with
``pd.read_csv(path, dtype_backend="numpy_nullable")`` (plain read_csv turns a gappy integer column into
float64). No list is packed into a cell: which runs a row averages is ``table.runs.csv``.

Example::

    write_csv(report, "reports/table.csv")
    table2 = pd.read_csv("reports/table.csv", dtype_backend="numpy_nullable")
"""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd

from specreg_cli.atomic import write_text_atomic
from specreg_cli.report import mce
from specreg_cli.report.build import Report
from specreg_cli.report.tables import MEAN

FRACTION_DECIMALS = 8  # far below one test image; 0.7, not 0.7000000000000001
ACCURACY_COLUMNS = ("value", "std", "n_seeds", "n_runs", "n_images")
TABLE2_COLUMNS = (
    "label",
    "method",
    "arch",
    "column",
    "kind",
    "condition",
    "severity",
    "severity_mean",
    "eps",
    "steps",
    *ACCURACY_COLUMNS,
    "mixed",
)
PER_SEVERITY_COLUMNS = ("label", "method", "arch", "column", "condition", "severity", "severity_mean")
PER_SEVERITY_COLUMNS += ACCURACY_COLUMNS
TABLE3_COLUMNS = ("run", "label", "method", "arch", "layer", "epoch", "masked_fraction")
TRAINING_COLUMNS = (
    "run",
    "method",
    "arch",
    "dataset",
    "seed",
    "epochs_done",
    "epochs",
    "status",
    "lr",
    "schedule",
    "batch_size",
    "options",
    "train_acc",
    "test_acc",
    "gap",
)
from specreg_cli.report.seeds import SEED_COLUMNS  # noqa: E402  (next to the other column lists)
from specreg_cli.report.table1 import TABLE1_COLUMNS  # noqa: E402
from specreg_cli.report.table3_paper import COLUMNS as TABLE3_PAPER_COLUMNS  # noqa: E402

RUNS_COLUMNS = ("label", "method", "arch", "run")
PROVENANCE_COLUMNS = ("item", "text")
INTEGER_COLUMNS = ("severity", "steps", "n_seeds", "n_runs", "n_images", "epoch", "seed", "epochs_done")
INTEGER_COLUMNS += ("epochs", "batch_size")
FRACTION_COLUMNS = ("value", "std", "masked_fraction", "train_acc", "test_acc", "gap")
TABLE_NAMES = ("table2", "per_severity", "table3", "training", "runs", "seeds", "benchmark", "provenance")
TABLE_NAMES += ("table1", "table3_paper")  # the paper-named tables (table1.py, table3_paper.py)


def csv_tables(report: Report) -> dict[str, str]:
    """Every table of the report as CSV text, by name (:data:`TABLE_NAMES` order)."""
    frames = {
        "table2": _accuracy(report.table2, TABLE2_COLUMNS),
        "per_severity": _accuracy(report.per_severity, PER_SEVERITY_COLUMNS),
        "table3": _table3(report.table3),
        "training": report.training.reindex(columns=TRAINING_COLUMNS),
        "runs": _runs(report.table2),
        "seeds": report.seeds.reindex(columns=SEED_COLUMNS),  # intervals and paired differences
        "benchmark": mce.csv_frame(report.benchmark),  # error, CE, mCE (report/mce.py)
        "provenance": pd.DataFrame(report.provenance, columns=PROVENANCE_COLUMNS),
        "table1": report.table1.reindex(columns=TABLE1_COLUMNS),  # the paper's Table 1 (LeNet arms)
        "table3_paper": report.table3_paper.reindex(columns=TABLE3_PAPER_COLUMNS),  # ResNet-18, paper names
    }
    return {name: _csv_text(frames[name]) for name in TABLE_NAMES}


def to_csv(report: Report) -> str:
    """Table 2 alone as CSV (what ``specreg report --format csv`` prints without --out)."""
    return csv_tables(report)["table2"]


def csv_paths(out: str | Path) -> dict[str, Path]:
    """The file of each table for ``--out out``: Table 2 in ``out``, the others beside it."""
    out = Path(out)
    return {
        name: out if name == "table2" else out.with_name(f"{out.stem}.{name}{out.suffix or '.csv'}")
        for name in TABLE_NAMES
    }


def write_csv(report: Report, out: str | Path) -> list[Path]:
    """Write every table (atomically) to :func:`csv_paths` of ``out``; the paths, in table order."""
    texts, paths = csv_tables(report), csv_paths(out)
    for name in TABLE_NAMES:
        write_text_atomic(paths[name], texts[name])
    return [paths[name] for name in TABLE_NAMES]


def _accuracy(frame: pd.DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
    """An accuracy table's rows: numeric severity + severity_mean instead of "mean", runs counted."""
    frame = frame.copy()
    level = frame["severity"].astype(str)
    frame["severity_mean"] = level == MEAN
    frame["severity"] = pd.to_numeric(level.where(level.str.isdigit()), errors="coerce")
    frame["kind"] = [
        "corruption" if lvl else "clean" if condition == "clean" else "attack"
        for lvl, condition in zip(level != "", frame["condition"], strict=True)
    ]
    frame["n_runs"] = frame["runs"].astype(str).str.count(";") + 1
    frame["mixed"] = frame["flag"] == "mixed"
    frame["eps"] = frame["eps"].astype("float64")  # exact: 8/255 must read back as 8/255
    return frame.reindex(columns=columns)


def _table3(frame: pd.DataFrame) -> pd.DataFrame:
    renamed = frame.rename(columns={"runs": "run", "column": "layer", "value": "masked_fraction"})
    return renamed.reindex(columns=TABLE3_COLUMNS)


def _runs(table2: pd.DataFrame) -> pd.DataFrame:
    """One row per (Table 2 row, run), from the ";"-joined ``runs`` of the internal frame."""
    rows = table2[["label", "method", "arch", "runs"]].drop_duplicates()
    pairs = [
        (label, method, arch, run)
        for label, method, arch, runs in rows.itertuples(index=False)
        for run in str(runs).split(";")
    ]
    return pd.DataFrame(pairs, columns=RUNS_COLUMNS)


def _csv_text(frame: pd.DataFrame) -> str:
    """Integers as integers (gaps allowed), fractions rounded, shortest round-trip repr, "\\n" lines."""
    frame = frame.copy()
    for name in INTEGER_COLUMNS:
        if name in frame:
            frame[name] = pd.to_numeric(frame[name], errors="coerce").astype("Int64")
    for name in FRACTION_COLUMNS:
        if name in frame:
            frame[name] = (
                pd.to_numeric(frame[name], errors="coerce").astype("float64").round(FRACTION_DECIMALS)
            )
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, lineterminator="\n")
    return buffer.getvalue()
