"""Results that don't fit together, found before any number is averaged.

Each check returns :class:`Issue` objects; :func:`~specreg_cli.report.build.build_report` refuses the
report on the first one, or (``allow_mixed``) flags the affected column with a dagger and lists the issues
under Table 2. A column-less issue concerns the whole table.

- :func:`table_issues`: several datasets or test sets; one run name behind two checkpoints
- :func:`column_issues`: different test-set sizes or attack settings within one column
- :func:`severity_issues`: a mean over severities of runs evaluated at different severities
- :func:`duplicate_issues`: two different values for one (run, severity) cell
- :func:`seed_issues`: runs averaged as seeds of a method that share their training seed
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from specreg_cli.attacks import option_names
from specreg_cli.report.columns import Column

if TYPE_CHECKING:
    from specreg_cli.report.inputs import RunInfo
    from specreg_cli.report.tables import RowGroup

HASH_CHARS = 12  # characters of a sha256 shown in messages and in the footer


@dataclass
class Issue:
    """Results that don't fit together. ``column`` None: the whole table."""

    message: str
    column: str | None = None


def short_hash(text: object) -> str:
    """The first characters of a sha256 (``?`` when unknown): enough to tell two files apart."""
    return str(text)[:HASH_CHARS] if text is not None and not pd.isna(text) else "?"


def file_names(paths) -> str:
    """Results files by name only: messages must not depend on where the files are."""
    return ", ".join(sorted({Path(p).name for p in paths}))


def distinct(frame: pd.DataFrame, column: str) -> list:
    """The different known values of ``column`` (sorted as text, gaps left out); [] when absent."""
    if column not in frame:
        return []
    return sorted({v for v in frame[column].tolist() if v is not None and not pd.isna(v)}, key=str)


def table_issues(frame: pd.DataFrame) -> list[Issue]:
    """Whole-table problems: several datasets or test sets, one run name for two checkpoints.

    Test sets compare by the sha256 of their identity: an attack on the first N test images keeps the
    hash of the whole split, so it matches the corruption evaluation of the same split. (A CIFAR-10-C
    folder has no hash and is compared by dataset name only.)
    """
    issues = []
    datasets = distinct(frame, "dataset")
    if len(datasets) > 1:
        issues.append(Issue(f"results come from different datasets ({', '.join(map(str, datasets))})"))
    hashes = distinct(frame, "dataset_sha256")
    if len(hashes) > 1:
        where = "; ".join(
            f"{short_hash(h)} in {file_names(frame.loc[frame['dataset_sha256'] == h, 'source'])}"
            for h in hashes
        )
        issues.append(Issue(f"results come from {len(hashes)} different test sets ({where})"))
    for run, group in frame.groupby("run", sort=True):
        hashes = distinct(group, "checkpoint_sha256")
        if len(hashes) > 1:
            issues.append(
                Issue(
                    f"run {run} was evaluated from {len(hashes)} different checkpoints "
                    f"({', '.join(map(short_hash, hashes))}, in {file_names(group['source'])})"
                )
            )
    return issues


def column_issues(column: Column, rows: pd.DataFrame) -> list[Issue]:
    """Problems within one column: different numbers of test images or attack settings."""
    issues = []
    sizes = distinct(rows, "n")
    if len(sizes) > 1:
        shown = ", ".join(map(str, sizes))
        issues.append(Issue(f"{column.label}: different numbers of test images ({shown})", column.key))
    for name in ("alpha", "norm", "random_start", *option_names()):
        values = distinct(rows, f"param_{name}")
        if len(values) > 1:
            issues.append(
                Issue(f"{column.label}: different attack {name} ({', '.join(map(str, values))})", column.key)
            )
    return issues


def severity_issues(column: Column, rows: pd.DataFrame) -> list[Issue]:
    """A mean over severities compares only when every run was evaluated at the same severities."""
    sets = {
        run: tuple(sorted(int(s) for s in group["severity"].unique()))
        for run, group in rows.groupby("run", sort=True)
    }
    if len(set(sets.values())) > 1:
        shown = "; ".join(f"{run}: {','.join(map(str, s))}" for run, s in sorted(sets.items()))
        return [Issue(f"{column.label}: runs were evaluated at different severities ({shown})", column.key)]
    return []


def duplicate_issues(column: Column, rows: pd.DataFrame) -> list[Issue]:
    """Two different values for one (run, severity) cell, from different results files."""
    issues = []
    for (run, severity), group in rows.groupby(["run", rows["severity"].fillna(0)], sort=True):
        if group["value"].nunique() > 1:
            where = f" severity {int(severity)}" if severity else ""
            count = group["value"].nunique()
            issues.append(
                Issue(
                    f"{column.label}{where}: run {run} has {count} different values "
                    f"(in {file_names(group['source'])})",
                    column.key,
                )
            )
    return issues


def seed_issues(groups: list[RowGroup], runs: list[RunInfo]) -> list[Issue]:
    """Runs averaged as seeds must differ in their seed (when their run directories say which)."""
    seeds = {r.name: r.config.get("seed") for r in runs}
    issues = []
    for group in groups:
        known = [(seeds[r], r) for r in group.runs if seeds.get(r) is not None]
        values = [s for s, _ in known]
        clashes = sorted({s for s in values if values.count(s) > 1})
        for seed in clashes:
            names = ", ".join(r for s, r in known if s == seed)
            issues.append(
                Issue(
                    f"{group.label}: runs {names} share training seed {seed}, so they are not "
                    "seeds of one method"
                )
            )
    return issues
