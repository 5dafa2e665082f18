"""The benchmark metrics of :mod:`specreg_cli.report.mce` as Markdown: a headline table (clean error, mean
error over the 15, mCE, relative mCE; mean [95% interval] over seeds) and one row per method and corruption
(error % per severity, its mean, CE and relative CE; extras marked and never in a mean).

Example::

    text = benchmark_markdown(report)   # "" when the report has no corruption results
"""

from __future__ import annotations

import pandas as pd

from specreg_cli.report.build import Report
from specreg_cli.report.markdown import MISSING, _markdown_table
from specreg_cli.report.tables import MEAN

HEADLINE = {  # metric -> column header
    "clean_error": "clean error",
    "mean_error": "mean error (15)",
    "mce": "mCE",
    "relative_mce": "relative mCE",
}
EXTRA_MARK = " (extra)"


def _cell(row, interval: bool) -> str:
    """``35.20`` or ``35.20 [33.10, 37.30]`` (in %)."""
    if row.n == 0:
        return MISSING
    text = f"{100 * row.mean:.2f}"
    return text + (f" [{100 * row.ci_low:.2f}, {100 * row.ci_high:.2f}]" if interval and row.n > 1 else "")


def benchmark_markdown(report: Report) -> str:
    """The section's body: the headline table, its notes, then the per-corruption table."""
    data = report.benchmark
    if data is None or data.empty:
        return ""
    parts = [_headline(data), ""]
    parts += _notes(data)
    parts += ["", _per_corruption(data)]
    return "\n".join(p for p in parts if p is not None).strip()


def _notes(data: pd.DataFrame) -> list[str]:
    """Each note once, after the methods it concerns ("every method" when it concerns them all)."""
    noted = data[data["note"] != ""]
    by_note: dict[str, list[str]] = {}
    for label, note in dict.fromkeys(zip(noted["label"], noted["note"], strict=True)):
        by_note.setdefault(note, []).append(label)
    every = list(dict.fromkeys(data["label"]))
    return [
        f"{'Every method' if labels == every else ', '.join(labels)}: {note}."
        for note, labels in by_note.items()
    ]


def _headline(data: pd.DataFrame) -> str:
    rows = []
    for label, part in data.groupby("label", sort=False):
        cells = {r.metric: r for r in part.itertuples() if r.metric in HEADLINE}
        row = {"method": label, "seeds": str(int(part["n"].max()))}
        row |= {title: _cell(cells[m], True) if m in cells else MISSING for m, title in HEADLINE.items()}
        rows.append(row)
    frame = pd.DataFrame(rows)
    return _markdown_table(frame, ["left"] + ["right"] * (frame.shape[1] - 1))


def _per_corruption(data: pd.DataFrame) -> str:
    """One row per (method, corruption): s1..s5 and mean error, CE and relative CE, in %."""
    part = data[data["corruption"] != ""]
    if part.empty:
        return ""
    rows = []
    for (label, name), cells in part.groupby(["label", "corruption"], sort=False):
        extra = (cells["set"] == "extra").any()
        row = {"method": label, "corruption": name.replace("_", " ") + (EXTRA_MARK if extra else "")}
        for r in cells.itertuples():
            if r.metric == "error":
                row[f"s{r.severity}" if r.severity != MEAN else "mean error"] = _cell(r, False)
            else:
                row["CE" if r.metric == "ce" else "relative CE"] = _cell(r, False)
        rows.append(row)
    frame = pd.DataFrame(rows)
    levels = sorted(c for c in frame.columns if c.startswith("s") and c[1:].isdigit())
    order = ["method", "corruption", *levels, "mean error", "CE", "relative CE"]
    frame = frame.reindex(columns=order).fillna(MISSING)
    return _markdown_table(frame, ["left", "left"] + ["right"] * (frame.shape[1] - 2))
