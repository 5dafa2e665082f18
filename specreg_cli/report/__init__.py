"""The paper's tables from result records and run directories: records -> DataFrames -> Markdown / CSV.

What a report holds (:func:`build_report`):

- **Table 2**: one row per method (in the method registry's order, then any other method), columns clean,
  each corruption (mean over severities, or one severity) and each attack radius (e.g. ``PGD-10 8/255``).
  Runs of one method and architecture are the seeds of that row: the cell is their mean, with the sample
  std and the number of seeds.
- **Per severity**: method x corruption x severity, with the mean over severities.
- **Table 3** (masked runs, from ``RUN/mask_fractions.csv``): fraction of frequencies masked per conv
  layer at the final epoch.
- **Training**: the recipe of every run directory found (epochs, lr, method options, final accuracies).
- **Provenance**: versions, seeds, datasets, attack parameters, test-set sizes, short checkpoint hashes,
  sanity checks of the attacks.

Results that don't fit together are refused with one :class:`SpecregError` line (``allow_mixed=False``)
or flagged with a dagger in the table and explained under it (``allow_mixed=True``): records of different
datasets, two checkpoints behind one run name, different test sets, sizes ``n`` or attack settings
within one column, different severity sets behind a mean, two different values for one cell.

Everything is deterministic: rows and columns are sorted, numbers have a fixed format, no times or
absolute paths are printed. Accuracies stay fractions in the DataFrames and the CSV; Markdown shows %.

One concept per module:

- :mod:`~specreg_cli.report.inputs`: results files and run directories (through ``RunDir``)
- :mod:`~specreg_cli.report.columns`: Table 2's columns, their labels (attack registry) and order
- :mod:`~specreg_cli.report.checks`: results that don't fit together (:class:`Issue`)
- :mod:`~specreg_cli.report.tables`: Table 2, per severity, Table 3, training, as DataFrames
- :mod:`~specreg_cli.report.table1` and :mod:`~specreg_cli.report.table3_paper`: the paper's Table 1 (LeNet
  arms and their switches) and Table 3 on ResNet-18 under the paper's layer names
- :mod:`~specreg_cli.report.figure2` and :mod:`~specreg_cli.report.figure3`: the paper's Figure 2 (its three
  arms per epoch) and Figure 3 (class activation maps), drawn by :func:`specreg_cli.plots.write_plots`
- :mod:`~specreg_cli.report.provenance`: the footer's (item, text) lines
- :mod:`~specreg_cli.report.build`: :class:`Report` and :func:`build_report`
- :mod:`~specreg_cli.report.markdown` and :mod:`~specreg_cli.report.csv_files`: the renderers

Example::

    inputs = load_inputs(["results/", "runs/"])      # results files and run directories, found recursively
    report = build_report(inputs, severity="mean")
    Path("table.md").write_text(to_markdown(report)); write_csv(report, "table.csv")  # + table.*.csv

This package never prints.
"""

from specreg_cli.report.build import Report, build_report, parse_severity
from specreg_cli.report.checks import (
    Issue,
    column_issues,
    duplicate_issues,
    seed_issues,
    severity_issues,
    table_issues,
)
from specreg_cli.report.columns import PAPER_CORRUPTIONS, Column, attack_label, column_of, transfer_label
from specreg_cli.report.csv_files import TABLE_NAMES, csv_paths, csv_tables, to_csv, write_csv
from specreg_cli.report.inputs import ReportInputs, RunInfo, find_runs, load_inputs, read_run
from specreg_cli.report.markdown import FEWER, MISSING, MIXED, percent, to_markdown
from specreg_cli.report.provenance import provenance_items
from specreg_cli.report.tables import RowGroup, table3, training_table

__all__ = [
    "FEWER",
    "MISSING",
    "MIXED",
    "PAPER_CORRUPTIONS",
    "TABLE_NAMES",
    "Column",
    "Issue",
    "Report",
    "ReportInputs",
    "RowGroup",
    "RunInfo",
    "attack_label",
    "build_report",
    "column_issues",
    "column_of",
    "csv_paths",
    "csv_tables",
    "duplicate_issues",
    "find_runs",
    "load_inputs",
    "parse_severity",
    "percent",
    "provenance_items",
    "read_run",
    "seed_issues",
    "severity_issues",
    "table3",
    "table_issues",
    "to_csv",
    "to_markdown",
    "training_table",
    "transfer_label",
    "write_csv",
]
