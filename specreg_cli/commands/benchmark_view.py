"""What ``eval-corruptions`` shows of the CIFAR-10-C metrics (:mod:`specreg_cli.corruption_metrics`).

With ``--metric error``, a table per model: error % per corruption and severity, its mean, CE and relative
CE, then the mean error over the 15, mCE and relative mCE. For every model, one line with those three
means against the ``--baseline`` model, or the reason they are missing.

Example::

    view = BenchmarkView(result.records, models, baseline="natural")
    console.print(view.error_table(models[0], n=10000))
    for line in view.summary_lines(): console.print(line)
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table

from specreg_cli import corruption_metrics as cm


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


class BenchmarkView:
    """Every model's errors and scores against one baseline model, ready to render."""

    def __init__(self, records: Sequence, models: Sequence, baseline: str):
        self.models = list(models)
        self.errors = {m.run: cm.RunErrors.from_records(records, m.run) for m in self.models}
        self.base_run, self.base_note = cm.pick_baseline({m.run: m.method for m in self.models}, baseline)
        base = self.errors.get(self.base_run) if self.base_run is not None else None
        self.scores = {run: cm.score(errors, base) for run, errors in self.errors.items()}

    def error_table(self, entry, n: int) -> Table:
        """One model's error % per corruption and severity, mean, CE and relative CE (extras dimmed, last)."""
        errors, scores = self.errors[entry.run], self.scores[entry.run]
        benchmark, extra = cm.benchmark_split()
        names = [c for c in (*benchmark, *extra) if c in errors.errors]
        names += [c for c in errors.errors if c not in names]
        severities = sorted({s for c in names for s in errors.errors[c]})
        against = f"CE against {self.base_run}" if self.base_run else "no CE (no baseline)"
        table = Table(
            title=f"{entry.run} ({entry.method}, {entry.arch}): error % on {n} images, clean "
            f"{_pct(errors.clean)}; {against}",
            caption="(extra): not one of the 15 benchmark corruptions, so in no mean" if extra else None,
        )
        table.add_column("corruption")
        for s in severities:
            table.add_column(f"s{s}", justify="right")
        for title in ("mean", "CE", "rel. CE"):
            table.add_column(title, justify="right", style="bold" if title == "mean" else None)
        for name in names:
            row = errors.errors[name]
            cells = [_pct(row.get(s)) for s in severities]
            cells += [
                _pct(errors.mean_error(name)),
                _pct(scores.ce.get(name)),
                _pct(scores.relative_ce.get(name)),
            ]
            table.add_row(
                f"{name} (extra)" if name in extra else name, *cells, style="dim" if name in extra else None
            )
        table.add_section()
        blank = [""] * len(severities)
        table.add_row(
            f"mean of the {len(benchmark)}",
            *blank,
            _pct(scores.mean_error),
            _pct(scores.mce),
            _pct(scores.relative_mce),
            style="bold",
        )
        return table

    def summary_lines(self) -> list[str]:
        """Per model: mean error over the 15, mCE, relative mCE, or why not; the baseline's note once."""
        lines = []
        for entry in self.models:
            scores = self.scores[entry.run]
            if scores.missing:
                lines.append(f"{entry.run}: {cm.missing_note(scores.missing)}")
                continue
            text = f"{entry.run}: mean error over the 15 {_pct(scores.mean_error)}%"
            if self.base_run is not None:
                text += (
                    f", mCE {_pct(scores.mce)}%, relative mCE {_pct(scores.relative_mce)}% "
                    f"(against {self.base_run})"
                )
                if scores.mce is None and scores.notes:
                    text += f"; {scores.notes[0]}"
            lines.append(text)
        if self.base_note and any(not s.missing for s in self.scores.values()):
            lines.append(self.base_note)
        return lines
