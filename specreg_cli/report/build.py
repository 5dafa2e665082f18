"""A report from its inputs: checks first (refuse or flag), then every table and the provenance.

Example::

    report = build_report(load_inputs(["results/", "runs/"]), severity="mean")
    report.table2          # tidy DataFrame, accuracies as fractions
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from specreg_cli.attacks import ATTACKS
from specreg_cli.errors import SpecregError
from specreg_cli.report import checks, mce, tables, worst_case
from specreg_cli.report import seeds as seed_stats
from specreg_cli.report.checks import Issue
from specreg_cli.report.columns import Column
from specreg_cli.report.inputs import ReportInputs
from specreg_cli.report.provenance import provenance_items
from specreg_cli.report.table1 import table1
from specreg_cli.report.table3_paper import paper_table3
from specreg_cli.report.tables import MEAN

HEADLINE = tuple(name for name, entry in ATTACKS.items() if entry.headline)


@dataclass
class Report:
    """The tables of a report (tidy DataFrames; accuracies as fractions) and where they come from."""

    severity: str  # "mean" or "1".."5": what the corruption columns of Table 2 show
    columns: list[Column]
    table2: pd.DataFrame  # one row per (row group, column)
    per_severity: pd.DataFrame  # one row per (row group, corruption, severity | "mean")
    table3: pd.DataFrame  # one row per (masked run, layer)
    training: pd.DataFrame  # one row per run directory
    seeds: pd.DataFrame = field(default_factory=pd.DataFrame)  # intervals, paired differences (seeds.py)
    baseline: str = seed_stats.BASELINE  # the group differences are taken against
    issues: list[Issue] = field(default_factory=list)  # flagged (allow_mixed) problems
    provenance: list[tuple[str, str]] = field(default_factory=list)  # (item, text), see report.provenance
    figures: list[tuple[str, Path]] = field(default_factory=list)  # (caption, path) to embed in Markdown
    table1: pd.DataFrame = field(default_factory=pd.DataFrame)  # the paper's Table 1: LeNet arms (table1.py)
    table3_paper: pd.DataFrame = field(default_factory=pd.DataFrame)  # Table 3, ResNet-18 (table3_paper.py)
    benchmark: pd.DataFrame = field(default_factory=pd.DataFrame)  # error, CE, mCE per group (mce.py)

    @property
    def headline(self) -> list[Column]:
        """The headline robust-accuracy columns: the attack registry's headline entries (AutoAttack),
        when the report has them."""
        return [c for c in self.columns if c.kind == "attack" and c.condition in HEADLINE]

    @property
    def footer(self) -> list[str]:
        """The provenance texts: the Markdown footer's bullets."""
        return [text for _, text in self.provenance]


def parse_severity(text: str | int) -> str:
    """``"mean"`` or a severity ``"1".."5"`` (the corruption registry's); else a :class:`SpecregError`."""
    from corruptions.registry import SEVERITIES  # corruptions loads torch: only when a report is built

    value = str(text).strip().lower()
    if value == MEAN or value in {str(s) for s in SEVERITIES}:
        return value
    levels = f"{min(SEVERITIES)}..{max(SEVERITIES)}"
    raise SpecregError(
        f"--severity must be mean or one of {levels}, got {text!r}", hint="e.g. --severity mean"
    )


def build_report(
    inputs: ReportInputs, severity: str = MEAN, allow_mixed: bool = False, baseline: str = seed_stats.BASELINE
) -> Report:
    """All tables of the report; raises :class:`SpecregError` on results that don't fit together unless
    ``allow_mixed`` (then the affected columns are flagged)."""
    severity = parse_severity(severity)
    accuracy = worst_case.with_worst_case(tables.accuracy_rows(inputs.records), inputs.records)
    columns, by_column = tables.split_columns(accuracy)
    # an external model is a row of its own (its weights say nothing about seeds): its run is its group
    arms = {run: run for run in inputs.external_runs} | {r.name: r.config.get("group") for r in inputs.runs}
    groups = tables.row_groups(accuracy, arms)
    issues = _issues(accuracy, columns, by_column, groups, inputs, severity)
    if issues and not allow_mixed:
        raise SpecregError(
            f"results don't fit together: {issues[0].message}"
            + (f" (and {len(issues) - 1} more)" if len(issues) > 1 else ""),
            hint="report them separately, or pass --allow-mixed to flag them in the table",
        )
    cells = tables.run_cells(columns, by_column, severity)
    flagged = {i.column for i in issues if i.column is not None}
    return Report(
        severity,
        columns,
        tables.table2(columns, cells, groups, flagged, severity),
        tables.per_severity(columns, by_column, groups),
        tables.table3(inputs.runs, groups),
        tables.training_table(inputs.runs),
        seed_stats.seed_table(columns, cells, groups, inputs.runs, baseline),
        baseline,
        issues,
        provenance_items(inputs, accuracy, columns, by_column),
        benchmark=mce.benchmark_table(accuracy, groups, inputs.runs, baseline),
        table1=table1(inputs.runs),
        table3_paper=paper_table3(tables.table3(inputs.runs, groups)),
    )


def _issues(accuracy, columns, by_column, groups, inputs: ReportInputs, severity: str) -> list[Issue]:
    """Every check of :mod:`specreg_cli.report.checks`, in the order their messages are listed."""
    issues = checks.table_issues(accuracy)
    for column in columns:
        rows = by_column[column.key]
        issues += checks.column_issues(column, rows) + checks.duplicate_issues(column, rows)
        if column.kind == "corruption" and severity == MEAN:
            issues += checks.severity_issues(column, rows)
    return issues + checks.seed_issues(groups, inputs.runs)
