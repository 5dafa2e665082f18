"""The paper's tables from result records and run directories: records -> DataFrames -> Markdown / CSV.

What a report holds (:func:`build_report`):

- **Table 2**: one row per method (natural, Gaussian augmentation, adversarial training, masked, then any
  other method), columns clean, each corruption (mean over severities, or one severity) and each attack
  radius (e.g. ``PGD-10 8/255``). Runs of one method and architecture are the seeds of that row: the cell
  is their mean, with the sample std and the number of seeds.
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

Example::

    inputs = load_inputs(["results/", "runs/"])      # results files and run directories, found recursively
    report = build_report(inputs, severity="mean")
    Path("table.md").write_text(to_markdown(report)); Path("table.csv").write_text(to_csv(report))

This module never prints.
"""

from __future__ import annotations

import io
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from specreg_cli import __version__
from specreg_cli.errors import SpecregError
from specreg_cli.parsing import format_pixel_value
from specreg_cli.results import read_documents, records_frame

METHOD_ORDER = ("natural", "gauss", "adversarial", "masked")  # the paper's row order
METHOD_LABELS = {
    "natural": "natural",
    "gauss": "Gaussian augmentation",
    "adversarial": "adversarial training",
    "masked": "masked (spectral)",
}
PAPER_CORRUPTIONS = ("impulse_noise", "fog", "contrast")  # the paper's Table 2 columns, in its order
ATTACK_ORDER = ("pgd", "pgdl2", "fgsm")
SKIPPED_CONDITIONS = ("noise",)  # the random-noise baseline of `specreg attack`: a sanity check, not a column
SEVERITIES = (1, 2, 3, 4, 5)
MIXED = "†"  # marks a column (or the table) built from results that don't fit together (--allow-mixed)
FEWER = "‡"  # marks a cell averaged over fewer seeds than its row has
MISSING = "–"  # a cell without a result
HASH_CHARS = 12  # characters of a sha256 shown in the footer
CSV_COLUMNS = (
    "table",
    "label",
    "method",
    "arch",
    "runs",
    "column",
    "condition",
    "severity",
    "eps",
    "steps",
    "epoch",
    "metric",
    "value",
    "std",
    "n_seeds",
    "n_images",
    "flag",
)


# --- inputs --------------------------------------------------------------------------------------


@dataclass
class RunInfo:
    """A training run directory: its name, train config and per-epoch tables."""

    name: str
    path: Path
    config: dict  # the TrainConfig dict of RUN/config.json
    status: str  # "finished" | "running"
    epochs_done: int
    metrics: pd.DataFrame  # RUN/metrics.csv (epoch, train_acc, test_acc, gap, ...)
    mask_fractions: pd.DataFrame | None  # RUN/mask_fractions.csv (epoch, layer, masked_fraction), masked runs

    @property
    def checkpoint(self) -> Path:
        return self.path / "model.pt"


@dataclass
class ReportInputs:
    """Everything a report reads: result records, each results file's provenance, run directories."""

    records: pd.DataFrame  # results.records_frame() of every results file
    provenances: list[dict]  # one per results file, with "source" (absolute path) added
    runs: list[RunInfo]  # sorted by name


def load_inputs(paths: list[str | Path]) -> ReportInputs:
    """Results files (files as given, folders searched recursively) and run directories found in folders.

    A run directory is a folder holding ``config.json`` (with a ``config`` key) and ``metrics.csv``.
    Each results file is read once; records and provenances come from the same parsed documents.
    Raises :class:`SpecregError` when a path is missing, a file given is broken or no record is found.
    """
    # a dict: a file given twice (say, a folder and a file in it) counts once; sorted for the same bytes
    documents = sorted(dict(read_documents(paths)).items(), key=lambda item: item[0])
    if not documents:
        raise SpecregError(
            "no results files found in " + ", ".join(map(str, paths)),
            hint="pass files or folders written by `specreg eval-corruptions` or `specreg attack`",
        )
    records = records_frame(documents)
    provenances = [
        {**(document.get("provenance") or {}), "source": str(path)} for path, document in documents
    ]
    return ReportInputs(records, provenances, find_runs(paths))


def find_runs(paths: list[str | Path]) -> list[RunInfo]:
    """Run directories among ``paths`` and inside the folders among them, sorted by name then path."""
    found: dict[Path, RunInfo] = {}
    for root in (Path(p).expanduser().resolve() for p in paths):
        if not root.is_dir():
            continue
        for config_file in sorted([root / "config.json", *root.rglob("config.json")]):
            run = read_run(config_file.parent)
            if run is not None:
                found[run.path] = run
    return sorted(found.values(), key=lambda r: (r.name, str(r.path)))


def read_run(path: Path) -> RunInfo | None:
    """The run directory at ``path``, or None when it is not one."""
    config_file, metrics_file = path / "config.json", path / "metrics.csv"
    if not (config_file.is_file() and metrics_file.is_file()):
        return None
    try:
        state = json.loads(config_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(state, dict) or not isinstance(state.get("config"), dict):
        return None
    fractions_file = path / "mask_fractions.csv"
    fractions = pd.read_csv(fractions_file) if fractions_file.is_file() else None
    return RunInfo(
        path.name,
        path,
        state["config"],
        str(state.get("status", "unknown")),
        int(state.get("epochs_done", 0)),
        pd.read_csv(metrics_file),
        fractions,
    )


# --- columns -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """One column of Table 2."""

    key: str  # stable id: "clean", a corruption name, "<attack>-<steps>-<eps>" (+ "-<source attack>-<run>")
    label: str  # what the header says: "clean", "impulse noise", "PGD-10 8/255"
    kind: str  # "clean" | "corruption" | "attack"
    condition: str
    eps: float | None = None
    steps: int | None = None

    def sort_key(self) -> tuple:
        kinds = {"clean": 0, "corruption": 1, "attack": 2}
        if self.kind == "corruption":
            rank = PAPER_CORRUPTIONS.index(self.condition) if self.condition in PAPER_CORRUPTIONS else 99
            return (kinds[self.kind], rank, self.condition, 0, 0.0, self.key)
        rank = ATTACK_ORDER.index(self.condition) if self.condition in ATTACK_ORDER else 99
        return (kinds[self.kind], rank, self.condition, self.steps or 0, self.eps or 0.0, self.key)


def attack_label(condition: str, steps: int | None, eps: float | None) -> str:
    """``PGD-10 8/255``, ``PGD-L2-10 0.5``, ``FGSM 8/255``; other attacks by their condition name."""
    radius = "" if eps is None else f" {format_pixel_value(eps)}"
    if condition == "pgd":
        return f"PGD-{steps}{radius}" if steps else f"PGD{radius}"
    if condition == "pgdl2":
        return f"PGD-L2-{steps}{radius}" if steps else f"PGD-L2{radius}"
    return f"{condition.upper() if condition == 'fgsm' else condition}{radius}"


def _param(row: pd.Series, name: str) -> float | None:
    value = row.get(f"param_{name}")
    missing = value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))
    return None if missing else value


def column_of(row: pd.Series) -> Column | None:
    """The Table 2 column of an accuracy record; None for records that are no column (eps 0, noise)."""
    condition = str(row["condition"])
    if condition == "clean":
        return Column("clean", "clean", "clean", condition)
    if not pd.isna(row["severity"]):
        return Column(condition, condition.replace("_", " "), "corruption", condition)
    if condition in SKIPPED_CONDITIONS:
        return None
    eps, steps = _param(row, "eps"), _param(row, "steps")
    if eps is not None and float(eps) == 0:
        return None  # eps 0 is the attack's sanity check (it equals clean accuracy), not a robustness number
    eps = None if eps is None else float(eps)
    steps = None if steps is None else int(steps)
    key = f"{condition}-{steps or 0}-{eps if eps is not None else 'na'}"
    label = attack_label(condition, steps, eps)
    if condition == "transfer":  # examples made on another model: a column per source attack and source run
        attack, source = _param(row, "source_attack"), _param(row, "source_run")
        key += f"-{attack}-{source}"
        label = transfer_label(attack, source, steps, eps)
    return Column(key, label, "attack", condition, eps, steps)


def transfer_label(attack: str | None, source: str | None, steps: int | None, eps: float | None) -> str:
    """``transfer PGD-10 8/255 from natural-s0``; what the results file does not record is left out.

    >>> transfer_label("fgsm", "natural-s0", 1, 8 / 255), transfer_label(None, None, None, 8 / 255)
    ('transfer FGSM 8/255 from natural-s0', 'transfer 8/255')
    """
    if attack is not None:
        made = attack_label(str(attack), steps, eps)
    else:
        made = format_pixel_value(eps) if eps is not None else ""
    parts = ("transfer", made, f"from {source}" if source is not None else "")
    return " ".join(part for part in parts if part)


# --- compatibility -------------------------------------------------------------------------------


@dataclass
class Issue:
    """Results that don't fit together. ``column`` None: the whole table."""

    message: str
    column: str | None = None


def _short(text: object) -> str:
    return str(text)[:HASH_CHARS] if text is not None and not pd.isna(text) else "?"


def _names(paths) -> str:
    return ", ".join(sorted({Path(p).name for p in paths}))


def _distinct(frame: pd.DataFrame, column: str) -> list:
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
    datasets = _distinct(frame, "dataset")
    if len(datasets) > 1:
        issues.append(Issue(f"results come from different datasets ({', '.join(map(str, datasets))})"))
    hashes = _distinct(frame, "dataset_sha256")
    if len(hashes) > 1:
        where = "; ".join(
            f"{_short(h)} in {_names(frame.loc[frame['dataset_sha256'] == h, 'source'])}" for h in hashes
        )
        issues.append(Issue(f"results come from {len(hashes)} different test sets ({where})"))
    for run, group in frame.groupby("run", sort=True):
        hashes = _distinct(group, "checkpoint_sha256")
        if len(hashes) > 1:
            issues.append(
                Issue(
                    f"run {run} was evaluated from {len(hashes)} different checkpoints "
                    f"({', '.join(map(_short, hashes))}, in {_names(group['source'])})"
                )
            )
    return issues


def column_issues(column: Column, rows: pd.DataFrame) -> list[Issue]:
    """Problems within one column: different numbers of test images or attack settings."""
    issues = []
    sizes = _distinct(rows, "n")
    if len(sizes) > 1:
        shown = ", ".join(map(str, sizes))
        issues.append(Issue(f"{column.label}: different numbers of test images ({shown})", column.key))
    for name in ("alpha", "norm", "random_start"):
        values = _distinct(rows, f"param_{name}")
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
                    f"(in {_names(group['source'])})",
                    column.key,
                )
            )
    return issues


# --- building ------------------------------------------------------------------------------------


@dataclass
class Report:
    """The tables of a report (tidy DataFrames; accuracies as fractions) and what the footer says."""

    severity: str  # "mean" or "1".."5": what the corruption columns of Table 2 show
    columns: list[Column]
    table2: pd.DataFrame  # one row per (row group, column)
    per_severity: pd.DataFrame  # one row per (row group, corruption, severity | "mean")
    table3: pd.DataFrame  # one row per (masked run, layer)
    training: pd.DataFrame  # one row per run directory
    issues: list[Issue] = field(default_factory=list)  # flagged (allow_mixed) problems
    footer: list[str] = field(default_factory=list)  # provenance lines (Markdown bullets)
    figures: list[tuple[str, Path]] = field(default_factory=list)  # (caption, path) to embed in Markdown


def parse_severity(text: str | int) -> str:
    """``"mean"`` or a severity ``"1".."5"``; anything else is a :class:`SpecregError`."""
    value = str(text).strip().lower()
    if value == "mean" or value in {str(s) for s in SEVERITIES}:
        return value
    raise SpecregError(f"--severity must be mean or one of 1..5, got {text!r}", hint="e.g. --severity mean")


def build_report(inputs: ReportInputs, severity: str = "mean", allow_mixed: bool = False) -> Report:
    """All tables of the report; raises :class:`SpecregError` on results that don't fit together unless
    ``allow_mixed`` (then the affected columns are flagged)."""
    severity = parse_severity(severity)
    accuracy = _accuracy_rows(inputs.records)
    columns, by_column = _split_columns(accuracy)
    issues = table_issues(accuracy)
    for column in columns:
        rows = by_column[column.key]
        issues += column_issues(column, rows) + duplicate_issues(column, rows)
        if column.kind == "corruption" and severity == "mean":
            issues += severity_issues(column, rows)
    groups = _row_groups(accuracy)
    issues += _seed_issues(groups, inputs.runs)
    if issues and not allow_mixed:
        raise SpecregError(
            f"results don't fit together: {issues[0].message}"
            + (f" (and {len(issues) - 1} more)" if len(issues) > 1 else ""),
            hint="report them separately, or pass --allow-mixed to flag them in the table",
        )
    cells = _run_cells(columns, by_column, severity)
    report = Report(
        severity,
        columns,
        _table2(columns, cells, groups, issues, severity),
        _per_severity(columns, by_column, groups),
        table3(inputs.runs, groups),
        training_table(inputs.runs),
        issues,
    )
    report.footer = footer_lines(inputs, accuracy, columns, by_column)
    return report


def _accuracy_rows(records: pd.DataFrame) -> pd.DataFrame:
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


def _split_columns(accuracy: pd.DataFrame) -> tuple[list[Column], dict[str, pd.DataFrame]]:
    """The sorted Table 2 columns and each column's accuracy rows: the one place rows meet columns."""
    assigned = [column_of(row) for _, row in accuracy.iterrows()]
    keys = pd.Series([c.key if c else None for c in assigned], index=accuracy.index)
    columns = sorted({c for c in assigned if c is not None}, key=Column.sort_key)
    return columns, {c.key: accuracy[keys == c.key] for c in columns}


@dataclass(frozen=True)
class RowGroup:
    """One row of Table 2: the runs of one method and architecture (its seeds)."""

    order: int
    method: str
    arch: str
    label: str
    runs: tuple[str, ...]


def _row_groups(accuracy: pd.DataFrame) -> list[RowGroup]:
    members = accuracy[["run", "method", "arch"]].drop_duplicates()
    archs = sorted(members["arch"].astype(str).unique())
    groups = []
    for (method, arch), part in members.groupby(["method", "arch"], sort=True):
        rank = METHOD_ORDER.index(method) if method in METHOD_ORDER else len(METHOD_ORDER)
        label = METHOD_LABELS.get(method, str(method)) + (f" ({arch})" if len(archs) > 1 else "")
        runs = tuple(sorted(part["run"].astype(str).unique()))
        groups.append(RowGroup(rank, str(method), str(arch), label, runs))
    return sorted(groups, key=lambda g: (g.order, g.method, g.arch))


def _seed_issues(groups: list[RowGroup], runs: list[RunInfo]) -> list[Issue]:
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


_MEAN_VALUE = {"value": ("value", "mean"), "n": ("n", "max")}  # a cell: mean value, largest test set


def _run_cells(columns: list[Column], by_column: dict[str, pd.DataFrame], severity: str) -> pd.DataFrame:
    """One value per (run, column): the mean of duplicate values, corruptions reduced over severities."""
    parts = []
    for column in columns:
        rows = by_column[column.key]
        if column.kind == "corruption":
            if severity != "mean":
                rows = rows[rows["severity"] == int(severity)]
            per_severity = rows.groupby(["run", "severity"], sort=True).agg(**_MEAN_VALUE)
            cell = per_severity.groupby("run", sort=True).agg(**_MEAN_VALUE)
        else:
            cell = rows.groupby("run", sort=True).agg(**_MEAN_VALUE)
        parts.append(cell.reset_index().assign(column=column.key))
    return (
        pd.concat(parts, ignore_index=True)
        if parts
        else pd.DataFrame(columns=["run", "value", "n", "column"])
    )


def _aggregate(values: list[float]) -> tuple[float, float, int]:
    """(mean, sample std or NaN for one value, count) of the finite values."""
    series = pd.Series(values, dtype="float64").dropna()
    if series.empty:
        return float("nan"), float("nan"), 0
    return float(series.mean()), float(series.std(ddof=1)) if len(series) > 1 else float("nan"), len(series)


def _table2(columns, cells, groups, issues, severity) -> pd.DataFrame:
    flagged = {i.column for i in issues if i.column is not None}
    rows = []
    for group in groups:
        for column in columns:
            part = cells[(cells["column"] == column.key) & cells["run"].isin(group.runs)]
            mean, std, count = _aggregate(part["value"].tolist())
            rows.append(
                {
                    "label": group.label,
                    "method": group.method,
                    "arch": group.arch,
                    "runs": ";".join(group.runs),
                    "column": column.label,
                    "condition": column.condition,
                    "severity": severity if column.kind == "corruption" else "",
                    "eps": column.eps,
                    "steps": column.steps,
                    "epoch": None,
                    "metric": "accuracy",
                    "value": mean,
                    "std": std,
                    "n_seeds": count,
                    "n_images": int(part["n"].max()) if count else None,
                    "flag": "mixed" if column.key in flagged else "",
                }
            )
    return pd.DataFrame(rows, columns=CSV_COLUMNS[1:])


def _per_severity(columns, by_column, groups) -> pd.DataFrame:
    rows = []
    for group in groups:
        for column in (c for c in columns if c.kind == "corruption"):
            data = by_column[column.key]
            data = data[data["run"].isin(group.runs)]
            per_run = data.groupby(["run", "severity"], sort=True)["value"].mean().reset_index()
            for level in sorted(int(s) for s in per_run["severity"].unique()):
                mean, std, count = _aggregate(per_run.loc[per_run["severity"] == level, "value"].tolist())
                rows.append(_severity_row(group, column, str(level), mean, std, count, data))
            if not per_run.empty:
                mean, std, count = _aggregate(per_run.groupby("run")["value"].mean().tolist())
                rows.append(_severity_row(group, column, "mean", mean, std, count, data))
    return pd.DataFrame(rows, columns=CSV_COLUMNS[1:])


def _severity_row(group, column, level, mean, std, count, data) -> dict:
    return {
        "label": group.label,
        "method": group.method,
        "arch": group.arch,
        "runs": ";".join(group.runs),
        "column": column.label,
        "condition": column.condition,
        "severity": level,
        "eps": None,
        "steps": None,
        "epoch": None,
        "metric": "accuracy",
        "value": mean,
        "std": std,
        "n_seeds": count,
        "n_images": int(data["n"].max()) if len(data) else None,
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
        last = fractions[fractions["epoch"] == fractions["epoch"].max()]
        for _, row in last.iterrows():
            rows.append(
                {
                    "label": labels.get(run.name, METHOD_LABELS.get(run.config.get("method"), run.name)),
                    "method": run.config.get("method", ""),
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
    return pd.DataFrame(rows, columns=CSV_COLUMNS[1:])


def training_table(runs: list[RunInfo]) -> pd.DataFrame:
    """One row per run directory: recipe, epochs done and final accuracies (fractions)."""
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
                "epochs": f"{run.epochs_done}/{config.get('epochs', '?')}",
                "status": run.status,
                "lr": config.get("lr"),
                "schedule": config.get("schedule", ""),
                "batch_size": config.get("batch_size"),
                "options": method_options_text(config),
                "train_acc": None if last is None else float(last["train_acc"]),
                "test_acc": None if last is None else float(last["test_acc"]),
                "gap": None if last is None else float(last["gap"]),
            }
        )
    return pd.DataFrame(rows)


def method_options_text(config: dict) -> str:
    """What makes a method differ, in words: ``PGD-3 eps 8/255 alpha 2/255`` for adversarial training."""
    method = config.get("method")
    if method == "gauss":
        std, fraction = config.get("noise_std", 0), config.get("noise_fraction", 0)
        return f"noise std {std:g} on {fraction:.0%} of each batch"
    if method == "adversarial":
        return (
            f"PGD-{config.get('adv_steps')} eps {format_pixel_value(float(config.get('adv_eps', 0)))} "
            f"alpha {format_pixel_value(float(config.get('adv_alpha', 0)))}"
        )
    if method == "masked":
        mask = config.get("mask") or {}
        scope = "per layer" if mask.get("per_channel") is False else "per channel"
        source = config.get("init_from")
        extra = f", fine-tuned from {Path(source).parent.name}" if source else ""
        return f"masks {scope}, mask lr x{config.get('mask_lr_mult', 1.0):g}{extra}"
    return ""


# --- provenance ----------------------------------------------------------------------------------


def footer_lines(
    inputs: ReportInputs, accuracy: pd.DataFrame, columns: list[Column], by_column: dict[str, pd.DataFrame]
) -> list[str]:
    """The provenance footer as Markdown bullet texts (deterministic: sorted, no times, no paths).

    ``columns``, ``by_column``: as :func:`build_report` split ``accuracy`` (column key -> its rows).
    """
    provs = inputs.provenances
    lines = [_versions_line(provs), _seeds_line(provs), *_dataset_lines(provs)]
    sizes = {c.key: "/".join(map(str, _distinct(by_column[c.key], "n"))) for c in columns}
    lines.append("test images per column: " + ", ".join(f"{c.label} {sizes[c.key]}" for c in columns))
    lines += _attack_lines(columns, by_column)
    lines += _sanity_lines(inputs.records)
    hashes = accuracy[["run", "checkpoint_sha256"]].drop_duplicates()
    hashes = hashes.sort_values(["run", "checkpoint_sha256"])
    if len(hashes):
        lines.append(
            "checkpoints (sha256): "
            + ", ".join(f"{run} {_short(sha)}" for run, sha in hashes.itertuples(index=False))
        )
    sources = sorted(Path(p["source"]) for p in provs)
    lines.append("results files: " + ", ".join(_relative(sources)))
    return lines


def _versions_line(provs: list[dict]) -> str:
    specreg = sorted({str(p.get("specreg_version", "?")) for p in provs})
    python = sorted({str(p.get("python", "?")) for p in provs})
    packages: dict[str, set] = {}
    for p in provs:
        for name, version in (p.get("packages") or {}).items():
            packages.setdefault(name, set()).add(str(version))
    shown = ", ".join(f"{name} {'/'.join(sorted(v))}" for name, v in sorted(packages.items()))
    return (
        f"results written by specreg {'/'.join(specreg)} (python {'/'.join(python)}; {shown}); "
        f"report by specreg {__version__}"
    )


def _seeds_line(provs: list[dict]) -> str:
    by_command: dict[str, set] = {}
    for p in provs:
        by_command.setdefault(str(p.get("command", "?")), set()).add(str(p.get("seed")))
    shown = "; ".join(
        f"{command} {', '.join(sorted(seeds))}" for command, seeds in sorted(by_command.items())
    )
    return "evaluation seeds: " + shown


def _dataset_lines(provs: list[dict]) -> list[str]:
    shown = set()
    for p in provs:
        identity = p.get("dataset") or {}
        parts = [str(identity.get("name", "?"))]
        if identity.get("split"):
            parts.append(f"{identity['split']} split")
        if identity.get("seed") is not None:
            parts.append(f"seed {identity['seed']}")
        if identity.get("n") is not None:
            whole = identity.get("first_n_of")
            parts.append(f"first {identity['n']} of {whole} images" if whole else f"{identity['n']} images")
        if identity.get("n_per_severity") is not None:
            parts.append(f"{identity['n_per_severity']} images per severity")
        if identity.get("sha256"):
            parts.append(f"sha256 {_short(identity['sha256'])}")
        shown.add(f"{p.get('command', '?')}: " + ", ".join(parts))
    return ["dataset (" + line + ")" for line in sorted(shown)]


def _attack_lines(columns: list[Column], by_column: dict[str, pd.DataFrame]) -> list[str]:
    lines = []
    for column in (c for c in columns if c.kind == "attack"):
        rows = by_column[column.key]
        settings = []
        for name in ("eps", "alpha", "steps", "random_start", "norm"):
            values = _distinct(rows, f"param_{name}")
            if values:
                pixels = name in ("eps", "alpha")
                text = [format_pixel_value(float(v)) if pixels else _plain(v) for v in values]
                settings.append(f"{name} {'/'.join(text)}")
        lines.append(f"attack {column.label}: " + ", ".join(settings) + " (torchattacks, pixel scale [0, 1])")
    return lines


def _plain(value: object) -> str:
    """``10`` for 10.0 (pandas turns integer params into floats next to missing values)."""
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def _sanity_lines(records: pd.DataFrame) -> list[str]:
    checks = records[records["metric"].astype(str).str.startswith("sanity_")]
    if checks.empty:
        return []
    failed = checks[checks["value"] < 0.5]
    text = f"attack sanity checks: {len(checks) - len(failed)} of {len(checks)} passed"
    if not failed.empty:
        details = sorted({f"{r.run} {r.metric[len('sanity_') :]}" + _detail(r) for r in failed.itertuples()})
        text += "; FAILED: " + "; ".join(details)
    return [text]


def _detail(row) -> str:
    detail = getattr(row, "param_detail", None)
    return f" ({detail})" if isinstance(detail, str) else ""


def _relative(paths: list[Path]) -> list[str]:
    """Paths relative to their common folder (never absolute: the report must not depend on where it runs)."""
    if not paths:
        return []
    common = Path(os.path.commonpath([p.parent for p in paths]))
    base = common.parent if len(paths) > 1 else common
    return [str(p.relative_to(base)) for p in paths]


# --- rendering -----------------------------------------------------------------------------------


def percent(value: float | None, std: float | None = None, digits: int = 2) -> str:
    """``85.20`` or ``85.20 ± 0.31`` (fractions in, % out); missing values give ``–``."""
    if value is None or pd.isna(value):
        return MISSING
    text = f"{100 * value:.{digits}f}"
    return text if std is None or pd.isna(std) else f"{text} ± {100 * std:.{digits}f}"


def _markdown_table(frame: pd.DataFrame, align: list[str]) -> str:
    # disable_numparse: tabulate would otherwise reformat "85.20" as 85.2
    return frame.to_markdown(index=False, disable_numparse=True, colalign=align)


def table2_markdown(report: Report) -> str:
    """Table 2 as a GitHub pipe table: rows = methods, cells = mean (± std over seeds) in %."""
    t2, flagged = report.table2, set(report.table2.loc[report.table2["flag"] != "", "column"])
    if t2.empty:
        return "(no accuracy records)"
    several = t2.groupby("label", sort=False)["runs"].first().str.count(";").max() > 0
    rows = []
    for label, part in t2.groupby("label", sort=False):
        size = part["runs"].iloc[0].count(";") + 1
        row = {"method": label} | ({"seeds": str(size)} if several else {})
        for r in part.itertuples():
            mark = FEWER if 0 < r.n_seeds < size else ""
            row[r.column + (f" {MIXED}" if r.column in flagged else "")] = percent(r.value, r.std) + mark
        rows.append(row)
    frame = pd.DataFrame(rows)
    return _markdown_table(frame, ["left"] + ["right"] * (frame.shape[1] - 1))


def per_severity_markdown(report: Report) -> str:
    data = report.per_severity
    if data.empty:
        return ""
    rows = []
    for (label, corruption), part in data.groupby(["label", "column"], sort=False):
        row = {"method": label, "corruption": corruption}
        row |= {
            (f"s{r.severity}" if r.severity != "mean" else "mean"): percent(r.value, r.std)
            for r in part.itertuples()
        }
        rows.append(row)
    frame = pd.DataFrame(rows).fillna(MISSING)
    return _markdown_table(frame, ["left", "left"] + ["right"] * (frame.shape[1] - 2))


def table3_markdown(report: Report) -> str:
    data = report.table3
    if data.empty:
        return ""
    layers = list(dict.fromkeys(data["column"]))  # model order, as the run directory recorded it
    runs = sorted(data["runs"].unique())
    frame = pd.DataFrame({"layer": layers + ["mean over layers"]})
    for run in runs:
        values = data[data["runs"] == run].set_index("column")["value"]
        frame[run] = [percent(values.get(layer)) for layer in layers] + [percent(values.mean())]
    return _markdown_table(frame, ["left"] + ["right"] * len(runs))


def training_markdown(report: Report) -> str:
    data = report.training
    if data.empty:
        return ""
    frame = pd.DataFrame(
        {
            "run": data["run"],
            "method": data["method"],
            "arch": data["arch"],
            "dataset": data["dataset"],
            "seed": data["seed"].astype(str),
            "epochs": data["epochs"],
            "lr": [f"{v:g}" if v is not None else MISSING for v in data["lr"]],
            "schedule": data["schedule"],
            "batch": data["batch_size"].astype(str),
            "method options": data["options"].replace("", MISSING),
            "train acc": data["train_acc"].map(percent),
            "test acc": data["test_acc"].map(percent),
            "gap": data["gap"].map(percent),
        }
    )
    return _markdown_table(frame, ["left"] * 10 + ["right"] * 3)


def to_markdown(report: Report) -> str:
    """The whole report as one Markdown document (ends with a newline)."""
    what = (
        "mean over severities " + _severity_range(report)
        if report.severity == "mean"
        else f"severity {report.severity}"
    )
    parts = [
        "# specreg report",
        "",
        f"## Table 2: accuracy (%) under corruptions ({what}) and attacks",
        "",
        table2_markdown(report),
        "",
    ]
    parts += _table_notes(report)
    sections = [
        ("Accuracy (%) per corruption and severity", per_severity_markdown(report)),
        ("Table 3: frequencies masked (%) per layer, final epoch", table3_markdown(report)),
        ("Training runs", training_markdown(report)),
    ]
    for title, body in sections:
        if body:
            parts += [f"## {title}", "", body, ""]
    if report.figures:
        links = [f"![{caption}]({path.as_posix()})" for caption, path in report.figures]
        parts += ["## Figures", "", *links, ""]
    parts += ["## Provenance", ""] + [f"- {line}" for line in report.footer] + [""]
    return "\n".join(parts)


def _severity_range(report: Report) -> str:
    levels = sorted({int(s) for s in report.per_severity["severity"] if s != "mean"})
    if not levels:
        return ""
    contiguous = levels == list(range(levels[0], levels[-1] + 1))
    return f"{levels[0]}-{levels[-1]}" if contiguous and len(levels) > 1 else ",".join(map(str, levels))


def _table_notes(report: Report) -> list[str]:
    notes = [
        (
            "Cells: mean over the runs of a method (± sample std when it has several seeds); "
            f"{MISSING}: not evaluated. Attack columns: robust accuracy (eps in [0, 1] pixel scale)."
        )
    ]
    sizes = report.table2["runs"].str.count(";") + 1
    if ((report.table2["n_seeds"] > 0) & (report.table2["n_seeds"] < sizes)).any():
        notes.append(f"{FEWER}: averaged over fewer seeds than the row has.")
    training = report.training
    adversarial = training[training["method"] == "adversarial"] if len(training) else training
    if len(adversarial):
        notes.append("Adversarial training: " + "; ".join(sorted(set(adversarial["options"]))) + ".")
    if report.issues:
        notes.append(
            f"{MIXED} RESULTS THAT DON'T FIT TOGETHER (--allow-mixed): "
            + "; ".join(i.message for i in report.issues)
            + "."
        )
    return [line for note in notes for line in (note, "")]


def to_csv(report: Report) -> str:
    """Every table in one tidy CSV (long format; ``table`` says which); values are fractions."""
    parts = [
        frame.assign(table=name)
        for name, frame in (
            ("table2", report.table2),
            ("per_severity", report.per_severity),
            ("table3", report.table3),
        )
        if not frame.empty
    ]
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=CSV_COLUMNS)
    frame = frame[list(CSV_COLUMNS)]
    for name in ("steps", "epoch", "n_seeds", "n_images"):
        frame[name] = frame[name].astype("Int64")
    frame["eps"] = frame["eps"].astype("float64")  # exact: 8/255 must read back as 8/255
    for name in ("value", "std"):  # 8 decimals: far below one test image; 0.7, not 0.7000000000000001
        frame[name] = frame[name].astype("float64").round(8)
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, lineterminator="\n")  # shortest repr that round-trips
    return buffer.getvalue()
