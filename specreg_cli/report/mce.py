"""The report's CIFAR-10-C benchmark metrics: error rates, the mean over the 15, mCE and relative mCE.

Per row group (an arm: its runs are its seeds), from each run's accuracy records
(:mod:`specreg_cli.corruption_metrics` has the definitions):

- ``clean_error`` and ``error`` per corruption and severity (and per corruption, ``severity == "mean"``);
- ``ce`` and ``relative_ce`` per corruption, against the baseline group's run of the same seed (a
  baseline group of one run serves every run); the 4 extra corruptions have ``set == "extra"``;
- ``mean_error``, ``mce`` and ``relative_mce`` over the 15 benchmark corruptions: only for runs evaluated
  on all 15; otherwise the row is NaN and its ``note`` names the missing corruptions.

Each value is summarised over the group's runs with :func:`specreg_cli.stats.summarize`: mean, and with
several seeds the sample std and the 95% Student-t interval. Values are fractions (errors) or ratios
(CE: 1.0 = the baseline); Markdown shows both in %.

Example::

    frame = benchmark_table(accuracy, groups, runs, baseline="natural")
    frame[frame["metric"] == "mce"]   # label, group, mean, ci_low, ci_high, std, n, note
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from specreg_cli import corruption_metrics as cm
from specreg_cli.report.inputs import RunInfo
from specreg_cli.report.seeds import run_seeds
from specreg_cli.report.tables import MEAN, RowGroup
from specreg_cli.stats import summarize

BENCHMARK_COLUMNS = (
    "label",
    "group",
    "method",
    "arch",
    "metric",  # clean_error | error | ce | relative_ce | mean_error | mce | relative_mce
    "corruption",  # a corruption name, "" for clean_error and the means over the 15
    "set",  # "benchmark" | "extra" | "" (not one corruption)
    "severity",  # "1".."5" | "mean" (error rows), else ""
    "mean",
    "ci_low",
    "ci_high",
    "std",
    "n",  # runs (seeds) behind the value
    "note",  # why a value is missing
)
# the CSV (table.benchmark.csv): severity an integer or empty, severity_mean True for the mean over them
CSV_COLUMNS = BENCHMARK_COLUMNS[:8] + ("severity_mean",) + BENCHMARK_COLUMNS[8:]
AGGREGATES = ("mean_error", "mce", "relative_mce")  # the means over the 15 benchmark corruptions


@dataclass(frozen=True)
class _RunScores:
    run: str
    errors: cm.RunErrors
    scores: cm.Scores
    baseline_note: str | None  # why this run has no baseline run, if it has none


def run_errors(accuracy: pd.DataFrame) -> dict[str, cm.RunErrors]:
    """Run -> its errors, from accuracy rows (duplicates of one cell averaged, as Table 2 does)."""
    result = {}
    for run, rows in accuracy.groupby("run", sort=True):
        clean = rows.loc[rows["condition"] == "clean", "value"]
        corrupted = rows[rows["severity"].notna()]
        cells = corrupted.groupby(["condition", "severity"], sort=False)["value"].mean()
        grid: dict[str, dict[int, float]] = {}
        for (condition, severity), value in cells.items():
            grid.setdefault(str(condition), {})[int(severity)] = float(value)
        result[str(run)] = cm.RunErrors.from_accuracies(float(clean.mean()) if len(clean) else None, grid)
    return result


def benchmark_table(
    accuracy: pd.DataFrame, groups: list[RowGroup], runs: list[RunInfo], baseline: str
) -> pd.DataFrame:
    """The tidy frame of :data:`BENCHMARK_COLUMNS`, groups in Table 2's order; empty without corruption
    records."""
    if not accuracy["severity"].notna().any():
        return pd.DataFrame(columns=BENCHMARK_COLUMNS)
    errors = run_errors(accuracy)
    seeds = run_seeds(runs)
    base = next((g for g in groups if g.group == baseline), None)
    rows = []
    for group in groups:
        corrupted = [r for r in group.runs if r in errors and errors[r].errors]  # attack-only runs: none
        if corrupted:
            rows += _group_rows(group, [_score(r, errors, seeds, base, baseline) for r in corrupted])
    return pd.DataFrame(rows, columns=BENCHMARK_COLUMNS)


def _baseline_run(
    run: str, seeds: dict[str, int], base: RowGroup | None, name: str
) -> tuple[str | None, str | None]:
    """(the baseline run that ``run`` is normalised by, None) or (None, why there is none)."""
    if base is None:
        return None, f"no group {name!r} in this report to normalise CE by (choose one with --baseline)"
    same_seed = [r for r in base.runs if run in seeds and seeds.get(r) == seeds[run]]
    if same_seed:
        return same_seed[0], None
    if len(base.runs) == 1:
        return base.runs[0], None
    return None, f"{run}: no run of {name!r} with its seed to normalise CE by"


def _score(run: str, errors: dict, seeds: dict, base: RowGroup | None, name: str) -> _RunScores:
    base_run, why = _baseline_run(run, seeds, base, name)
    base_errors = errors.get(base_run) if base_run is not None else None
    if base_run is not None and base_errors is None:
        why = f"the baseline run {base_run} has no corruption results"
    return _RunScores(run, errors[run], cm.score(errors[run], base_errors), why)


def _group_rows(group: RowGroup, scored: list[_RunScores]) -> list[dict]:
    """The group's rows: clean error, errors per corruption and severity, CEs, then the means over 15."""
    benchmark, extra = cm.benchmark_split()
    names = [n for n in (*benchmark, *extra) if any(n in s.errors.errors for s in scored)]
    names += sorted({n for s in scored for n in s.errors.errors} - set(names))  # unknown names last
    rows = [_row(group, "clean_error", "", "", [s.errors.clean for s in scored])]
    for name in names:
        which = "extra" if name in extra else "benchmark" if name in benchmark else ""
        grids = [s.errors.errors.get(name, {}) for s in scored]
        for level in sorted({lvl for grid in grids for lvl in grid}):
            rows.append(_row(group, "error", name, which, [g.get(level) for g in grids], str(level)))
        means = [s.errors.mean_error(name) if name in s.errors.errors else None for s in scored]
        rows.append(_row(group, "error", name, which, means, MEAN))
        for metric in ("ce", "relative_ce"):
            values = [getattr(s.scores, metric).get(name) for s in scored]
            rows.append(_row(group, metric, name, which, values))
    notes = _group_notes(scored)
    for metric in AGGREGATES:
        rows.append(_row(group, metric, "", "", [getattr(s.scores, metric) for s in scored], note=notes))
    return rows


def _group_notes(scored: list[_RunScores]) -> str:
    """Why a mean over the 15 is missing for some run of the group ("" when none is)."""
    missing = list(dict.fromkeys(n for s in scored for n in s.scores.missing))
    notes = [cm.missing_note(missing)] if missing else []
    notes += [s.baseline_note for s in scored if s.baseline_note]
    # a complete run without an mCE: its CE notes say why (no baseline value, a baseline without error)
    notes += [
        n for s in scored if not s.scores.missing and s.scores.relative_mce is None for n in s.scores.notes
    ]
    return "; ".join(dict.fromkeys(notes))


def _row(
    group: RowGroup,
    metric: str,
    corruption: str,
    which: str,
    values: list[float | None],
    severity: str = "",
    note: str = "",
) -> dict:
    finite = [v for v in values if v is not None and math.isfinite(v)]
    summary = summarize(finite) if finite else None
    return {
        "label": group.label,
        "group": group.group,
        "method": group.method,
        "arch": group.arch,
        "metric": metric,
        "corruption": corruption,
        "set": which,
        "severity": severity,
        "mean": math.nan if summary is None else summary.mean,
        "ci_low": math.nan if summary is None else summary.ci_low,
        "ci_high": math.nan if summary is None else summary.ci_high,
        "std": math.nan if summary is None else summary.std,
        "n": 0 if summary is None else summary.n,
        "note": note,
    }


def csv_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame as the CSV convention has it (:mod:`specreg_cli.report.csv_files`): numeric severity,
    ``severity_mean`` True for an error averaged over the severities."""
    frame = frame.reindex(columns=BENCHMARK_COLUMNS).copy()
    level = frame["severity"].astype(str)
    frame["severity_mean"] = level == MEAN
    frame["severity"] = pd.to_numeric(level.where(level.str.isdigit()), errors="coerce")
    return frame.reindex(columns=CSV_COLUMNS)
