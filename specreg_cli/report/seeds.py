"""Statistics over seeds: what a result is, as opposed to one run (an anecdote).

For every row group (an arm: the runs of one recipe, its seeds) and column, from the per-run cells:

- ``accuracy``: mean and its 95% Student-t interval over the seeds;
- ``difference``: the paired difference against the baseline group (natural training by default) per
  seed, over the seeds both have (same seed: same test images, same corruption bytes), with its interval;
  *significant* only when the interval excludes 0;
- ``relative_robustness`` (corruption columns): corrupted / clean accuracy of each run, then summarised:
  robustness that a better-trained model does not get for free;
- ``relative_ce`` (corruption columns): the corruption error above the clean error, relative to the
  baseline's of the same seed, ``(E_c - E_clean) / (E_c^base - E_clean^base)`` (Hendrycks & Dietterich's
  relative CE with the baseline in AlexNet's place): below 1 degrades less than the baseline.

Values are fractions (accuracies) or ratios. A run's seed is its training config's ``seed``; runs whose
directory the report was not given have no seed and take no part.

Example::

    frame = seed_table(columns, cells, groups, runs, baseline="natural")
    frame[frame["kind"] == "difference"]   # label, column, mean, ci_low, ci_high, n, significant
"""

from __future__ import annotations

import math

import pandas as pd

from specreg_cli.report.columns import Column
from specreg_cli.report.inputs import RunInfo
from specreg_cli.report.tables import RowGroup
from specreg_cli.stats import Summary, paired_difference, summarize

KINDS = ("accuracy", "difference", "relative_robustness", "relative_ce")
SEED_COLUMNS = ("kind", "label", "group", "column", "mean", "ci_low", "ci_high", "std", "n", "significant")
BASELINE = "natural"  # the default group that differences and relative CE are taken against


def run_seeds(runs: list[RunInfo]) -> dict[str, int]:
    """Run name -> its training seed (runs without an integer seed are left out)."""
    return {r.name: r.config["seed"] for r in runs if isinstance(r.config.get("seed"), int)}


def seed_table(
    columns: list[Column], cells: pd.DataFrame, groups: list[RowGroup], runs: list[RunInfo], baseline: str
) -> pd.DataFrame:
    """The tidy frame of :data:`SEED_COLUMNS`, rows in group then column order; empty when no group has
    two seeds (no interval exists then)."""
    seeds = run_seeds(runs)
    value = {(r, c): v for r, c, v in zip(cells["run"], cells["column"], cells["value"], strict=True)}
    per_group = {g.group: {seeds[r]: r for r in g.runs if r in seeds} for g in groups}
    if max((len(s) for s in per_group.values()), default=0) < 2:
        return pd.DataFrame(columns=SEED_COLUMNS)
    base = next((g for g in groups if g.group == baseline), None)
    clean = next((c for c in columns if c.kind == "clean"), None)
    rows = []
    for group in groups:
        mine = per_group[group.group]
        for column in columns:
            acc = _by_seed(mine, column, value)
            rows.append(_row("accuracy", group, column, _summary(list(acc.values()))))
            if base is not None and group is not base:
                other = _by_seed(per_group[base.group], column, value)
                rows.append(_row("difference", group, column, _paired(acc, other)))
            if column.kind != "corruption" or clean is None:
                continue
            clean_acc = _by_seed(mine, clean, value)
            ratios = [acc[s] / clean_acc[s] for s in acc if clean_acc.get(s)]
            rows.append(_row("relative_robustness", group, column, _summary(ratios)))
            if base is not None and group is not base:
                base_acc = _by_seed(per_group[base.group], column, value)
                base_clean = _by_seed(per_group[base.group], clean, value)
                rel = [
                    (clean_acc[s] - acc[s]) / (base_clean[s] - base_acc[s])
                    for s in acc
                    if s in clean_acc and s in base_acc and s in base_clean and base_clean[s] > base_acc[s]
                ]
                rows.append(_row("relative_ce", group, column, _summary(rel)))
    return pd.DataFrame(rows, columns=SEED_COLUMNS)


def _by_seed(runs_by_seed: dict[int, str], column: Column, value: dict) -> dict[int, float]:
    found = {s: value.get((r, column.key)) for s, r in runs_by_seed.items()}
    return {s: float(v) for s, v in found.items() if v is not None and math.isfinite(v)}


def _summary(values: list[float]) -> Summary | None:
    return summarize(values) if values else None


def _paired(treated: dict[int, float], baseline: dict[int, float]) -> Summary | None:
    return paired_difference(treated, baseline) if set(treated) & set(baseline) else None


def _row(kind: str, group: RowGroup, column: Column, summary: Summary | None) -> dict:
    missing = summary is None
    return {
        "kind": kind,
        "label": group.label,
        "group": group.group,
        "column": column.label,
        "mean": math.nan if missing else summary.mean,
        "ci_low": math.nan if missing else summary.ci_low,
        "ci_high": math.nan if missing else summary.ci_high,
        "std": math.nan if missing else summary.std,
        "n": 0 if missing else summary.n,
        "significant": False if missing else summary.significant,
    }
