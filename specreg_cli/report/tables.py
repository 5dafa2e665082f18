"""The report's tables as tidy DataFrames (accuracies as fractions), from accuracy records and runs.

- :func:`table2`: one row per (row group, column) — a row group is the runs of one method and
  architecture (its seeds), in the method registry's order (:mod:`specreg_cli.methods`); a cell is the mean
  over those runs, with the sample std and the number of seeds behind it.
- :func:`per_severity`: one row per (row group, corruption, severity), and one with severity ``"mean"``.
- :func:`table3`: one row per (masked run, layer): the fraction of frequencies masked at its last epoch.
- :func:`training_table`: one row per run directory: the recipe, epochs done, final accuracies.

The frames share the columns of :data:`FRAME_COLUMNS` (training has its own), so the renderers treat
them alike. Each record meets its column once, in :func:`split_columns`.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from specreg_cli.methods import METHODS, describe_options, method_label, method_rank
from specreg_cli.report.columns import Column, column_of
from specreg_cli.report.inputs import RunInfo

FRAME_COLUMNS = (
    "label",
    "method",
    "arch",
    "runs",  # the row group's runs, ";"-joined (CSV output lists them in a table of their own)
    "column",
    "condition",
    "severity",  # "1".."5" | "mean" | "" (not a corruption)
    "eps",
    "steps",
    "epoch",
    "metric",
    "value",
    "std",
    "n_seeds",
    "n_images",
    "flag",  # "mixed" for a column built from results that don't fit together, else ""
)
MEAN = "mean"  # the severity of a mean over the evaluated severities
_MEAN_VALUE = {"value": ("value", "mean"), "n": ("n", "max")}  # a cell: mean value, largest test set


@dataclass(frozen=True)
class RowGroup:
    """One row of Table 2: the runs of one method and architecture (its seeds)."""

    order: int
    method: str
    arch: str
    label: str
    runs: tuple[str, ...]
    group: str = ""  # the arm: the runs' training-config group, else the method


def accuracy_rows(records: pd.DataFrame) -> pd.DataFrame:
    """Accuracy records, one row per file and record (a file passed twice counts once), clean rows chosen."""
    frame = records[records["metric"] == "accuracy"].drop_duplicates(
        subset=[
            c
            for c in ("source", "run", "condition", "severity", "value", "param_eps", "param_steps")
            if c in records
        ]
    )
    clean, other = frame[frame["condition"] == "clean"], frame[frame["condition"] != "clean"]
    return pd.concat([_choose_clean(clean), other], ignore_index=True)


def _choose_clean(clean: pd.DataFrame) -> pd.DataFrame:
    """Per run, the clean rows of one evaluation: the most test images, the corruption evaluation first.

    ``specreg attack`` also records clean accuracy (on its first N images); the corruption evaluation's clean
    row, on the whole test set, is the one Table 2 shows. Runs with equal-size candidates keep them all, so
    two different values still show up as a conflict.
    """
    if clean.empty:
        return clean
    ranked = clean.assign(_rank=(clean["command"] != "eval-corruptions").astype(int))
    best = ranked.sort_values(["run", "n", "_rank", "source"], ascending=[True, False, True, True])
    keep = best.groupby("run", sort=True).head(1)[["run", "n", "_rank"]]
    return best.merge(keep, on=["run", "n", "_rank"]).drop(columns="_rank")


def split_columns(accuracy: pd.DataFrame) -> tuple[list[Column], dict[str, pd.DataFrame]]:
    """The sorted Table 2 columns and each column's accuracy rows: the one place rows meet columns."""
    assigned = [column_of(row) for _, row in accuracy.iterrows()]
    keys = pd.Series([c.key if c else None for c in assigned], index=accuracy.index)
    columns = sorted({c for c in assigned if c is not None}, key=Column.sort_key)
    return columns, {c.key: accuracy[keys == c.key] for c in columns}


def row_groups(accuracy: pd.DataFrame, run_group: dict[str, str] | None = None) -> list[RowGroup]:
    """Table 2's rows: one per group (an arm: ``run_group`` maps run names to their training config's
    ``group``; runs without one group by method) and architecture; registry order, then by name."""
    run_group = run_group or {}
    members = accuracy[["run", "method", "arch"]].drop_duplicates()
    members = members.assign(
        group=[
            run_group.get(str(r)) or str(m) for r, m in zip(members["run"], members["method"], strict=True)
        ]
    )
    archs = sorted(members["arch"].astype(str).unique())
    groups = []
    for (group, method, arch), part in members.groupby(["group", "method", "arch"], sort=True):
        label = method_label(method) + ("" if group == method else f": {group}")
        label += f" ({arch})" if len(archs) > 1 else ""
        runs = tuple(sorted(part["run"].astype(str).unique()))
        groups.append(RowGroup(method_rank(method), str(method), str(arch), label, runs, str(group)))
    return sorted(groups, key=lambda g: (g.order, g.method, g.group != g.method, g.group, g.arch))


def run_cells(columns: list[Column], by_column: dict[str, pd.DataFrame], severity: str) -> pd.DataFrame:
    """One value per (run, column): the mean of duplicate values, corruptions reduced over severities."""
    parts = []
    for column in columns:
        rows = by_column[column.key]
        if column.kind == "corruption":
            if severity != MEAN:
                rows = rows[rows["severity"] == int(severity)]
            per_level = rows.groupby(["run", "severity"], sort=True).agg(**_MEAN_VALUE)
            cell = per_level.groupby("run", sort=True).agg(**_MEAN_VALUE)
        else:
            cell = rows.groupby("run", sort=True).agg(**_MEAN_VALUE)
        parts.append(cell.reset_index().assign(column=column.key))
    if not parts:
        return pd.DataFrame(columns=["run", "value", "n", "column"])
    return pd.concat(parts, ignore_index=True)


def aggregate(values: list[float]) -> tuple[float, float, int]:
    """(mean, sample std or NaN for one value, count) of the finite values."""
    series = pd.Series(values, dtype="float64").dropna()
    if series.empty:
        return float("nan"), float("nan"), 0
    return float(series.mean()), float(series.std(ddof=1)) if len(series) > 1 else float("nan"), len(series)


def table2(
    columns: list[Column], cells: pd.DataFrame, groups: list[RowGroup], flagged: set[str], severity: str
) -> pd.DataFrame:
    """Table 2: per row group and column, the mean over its runs' cells (``flagged``: mixed column keys)."""
    rows = []
    for group in groups:
        for column in columns:
            part = cells[(cells["column"] == column.key) & cells["run"].isin(group.runs)]
            mean, std, count = aggregate(part["value"].tolist())
            rows.append(
                _row(group, column, severity if column.kind == "corruption" else "", mean, std, count)
                | {
                    "eps": column.eps,
                    "steps": column.steps,
                    "n_images": int(part["n"].max()) if count else None,
                    "flag": "mixed" if column.key in flagged else "",
                }
            )
    return pd.DataFrame(rows, columns=FRAME_COLUMNS)


def per_severity(columns: list[Column], by_column: dict[str, pd.DataFrame], groups: list[RowGroup]):
    """Per row group and corruption: each evaluated severity, then the mean over them (``"mean"``)."""
    rows = []
    for group in groups:
        for column in (c for c in columns if c.kind == "corruption"):
            data = by_column[column.key]
            data = data[data["run"].isin(group.runs)]
            size = {"n_images": int(data["n"].max()) if len(data) else None}
            per_run = data.groupby(["run", "severity"], sort=True)["value"].mean().reset_index()
            for level in sorted(int(s) for s in per_run["severity"].unique()):
                stats = aggregate(per_run.loc[per_run["severity"] == level, "value"].tolist())
                rows.append(_row(group, column, str(level), *stats) | size)
            if not per_run.empty:
                stats = aggregate(per_run.groupby("run")["value"].mean().tolist())
                rows.append(_row(group, column, MEAN, *stats) | size)
    return pd.DataFrame(rows, columns=FRAME_COLUMNS)


def _row(group: RowGroup, column: Column, severity: str, mean: float, std: float, count: int) -> dict:
    """The fields an accuracy row of Table 2 and of the per-severity table share."""
    return {
        "label": group.label,
        "method": group.method,
        "arch": group.arch,
        "runs": ";".join(group.runs),
        "column": column.label,
        "condition": column.condition,
        "severity": severity,
        "eps": None,
        "steps": None,
        "epoch": None,
        "metric": "accuracy",
        "value": mean,
        "std": std,
        "n_seeds": count,
        "n_images": None,
        "flag": "",
    }


def table3(runs: list[RunInfo], groups: list[RowGroup] | None = None) -> pd.DataFrame:
    """Fraction of frequencies masked per layer at each masked run's last recorded epoch (model order)."""
    labels = {r: g.label for g in groups or [] for r in g.runs}
    rows = []
    for run in runs:
        fractions = run.mask_fractions
        if fractions is None or fractions.empty:
            continue
        method = run.config.get("method", "")
        label = labels.get(run.name, method_label(method) if method in METHODS else run.name)
        last = fractions[fractions["epoch"] == fractions["epoch"].max()]
        for _, row in last.iterrows():
            rows.append(
                {
                    "label": label,
                    "method": method,
                    "arch": run.config.get("arch", ""),
                    "runs": run.name,
                    "column": str(row["layer"]),
                    "condition": "",
                    "severity": "",
                    "eps": None,
                    "steps": None,
                    "epoch": int(row["epoch"]),
                    "metric": "masked_fraction",
                    "value": float(row["masked_fraction"]),
                    "std": float("nan"),
                    "n_seeds": 1,
                    "n_images": None,
                    "flag": "",
                }
            )
    return pd.DataFrame(rows, columns=FRAME_COLUMNS)


def training_table(runs: list[RunInfo]) -> pd.DataFrame:
    """One row per run directory: recipe, epochs done of asked, method options (the method registry's
    words, :func:`specreg_cli.methods.describe_options`) and final accuracies (fractions)."""
    rows = []
    for run in runs:
        config, last = run.config, run.metrics.iloc[-1] if len(run.metrics) else None
        rows.append(
            {
                "run": run.name,
                "method": config.get("method", ""),
                "arch": config.get("arch", ""),
                "dataset": config.get("dataset", ""),
                "seed": config.get("seed"),
                "epochs_done": run.epochs_done,
                "epochs": config.get("epochs"),
                "status": run.status,
                "lr": config.get("lr"),
                "schedule": config.get("schedule", ""),
                "batch_size": config.get("batch_size"),
                "options": describe_options(config),
                "train_acc": None if last is None else float(last["train_acc"]),
                "test_acc": None if last is None else float(last["test_acc"]),
                "gap": None if last is None else float(last["gap"]),
            }
        )
    return pd.DataFrame(rows)
