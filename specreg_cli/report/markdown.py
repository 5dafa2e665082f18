"""The report as one GitHub Markdown document: accuracies in %, mean ± sample std over seeds.

Marks: ``†`` a column (or the table) built from results that don't fit together (``--allow-mixed``),
``‡`` a cell averaged over fewer seeds than its row has, ``–`` a cell without a result.

Example::

    Path("table.md").write_text(to_markdown(report))
"""

from __future__ import annotations

import pandas as pd

from specreg_cli.report.build import Report
from specreg_cli.report.table1 import table1_markdown
from specreg_cli.report.table3_paper import paper_table3_markdown
from specreg_cli.report.tables import MEAN

MIXED = "†"  # marks a column (or the table) built from results that don't fit together (--allow-mixed)
FEWER = "‡"  # marks a cell averaged over fewer seeds than its row has
MISSING = "–"  # a cell without a result


def percent(value: float | None, std: float | None = None, digits: int = 2) -> str:
    """``85.20`` or ``85.20 ± 0.31`` (fractions in, % out); missing values give ``–``."""
    if value is None or pd.isna(value):
        return MISSING
    text = f"{100 * value:.{digits}f}"
    return text if std is None or pd.isna(std) else f"{text} ± {100 * std:.{digits}f}"


def _markdown_table(frame: pd.DataFrame, align: list[str]) -> str:
    # disable_numparse: tabulate would otherwise reformat "85.20" as 85.2
    return frame.to_markdown(index=False, disable_numparse=True, colalign=align)


def _group_size(runs: str) -> int:
    """Runs in a row group (its ``runs`` field joins them with ";")."""
    return runs.count(";") + 1


def headline_markdown(report: Report) -> str:
    """Clean, the headline attack columns (AutoAttack) and the per-image worst case over attacks, per row
    group; empty when the report has neither. PGD alone overestimates robustness when gradients are
    masked: these are the numbers to quote."""
    from specreg_cli.report.worst_case import WORST

    wanted = ["clean"] + [c.label for c in report.headline]
    wanted += [c.label for c in report.columns if c.condition == WORST]
    if len(wanted) == 1 or report.table2.empty:
        return ""
    part = report.table2[report.table2["column"].isin(wanted)]
    rows = []
    for label, rows_of in part.groupby("label", sort=False):
        cells = {r.column: percent(r.value, r.std) for r in rows_of.itertuples()}
        rows.append({"method": label, **{c: cells.get(c, MISSING) for c in wanted}})
    frame = pd.DataFrame(rows)
    note = (
        "Worst case: an image counts only when the model is right on it under every attack run on the same "
        "images at that radius (and clean); it needs attack results with per-image records."
    )
    return _markdown_table(frame, ["left"] + ["right"] * (frame.shape[1] - 1)) + "\n\n" + note


def table2_markdown(report: Report) -> str:
    """Table 2 as a GitHub pipe table: rows = methods, cells = mean (± std over seeds) in %."""
    t2, flagged = report.table2, set(report.table2.loc[report.table2["flag"] != "", "column"])
    if t2.empty:
        return "(no accuracy records)"
    several = t2.groupby("label", sort=False)["runs"].first().str.count(";").max() > 0
    rows = []
    for label, part in t2.groupby("label", sort=False):
        size = _group_size(part["runs"].iloc[0])
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
            (f"s{r.severity}" if r.severity != MEAN else MEAN): percent(r.value, r.std)
            for r in part.itertuples()
        }
        rows.append(row)
    frame = pd.DataFrame(rows).fillna(MISSING)
    return _markdown_table(frame, ["left", "left"] + ["right"] * (frame.shape[1] - 2))


SEED_TITLES = {
    "accuracy": "accuracy (%), mean [95% interval]",
    "difference": "paired difference against {baseline} (points), mean [95% interval]; * = the interval "
    "excludes 0",
    "relative_robustness": "corrupted / clean accuracy (%), mean [95% interval]",
    "relative_ce": "corruption error above clean, relative to {baseline} of the same seed (1 = the same), "
    "mean [95% interval]",
}


def _interval(r, scale: float, signed: bool) -> str:
    if r.n == 0:
        return MISSING
    fmt = "+.2f" if signed else ".2f"
    text = f"{scale * r.mean:{fmt}}"
    if r.n > 1:
        text += f" [{scale * r.ci_low:{fmt}}, {scale * r.ci_high:{fmt}}]"
    return text + ("*" if r.significant and signed else "")


def seeds_markdown(report: Report) -> str:
    """Per kind of statistic, a table: rows = groups, cells = mean [95% interval] over seeds."""
    data = report.seeds
    if data is None or data.empty:
        return ""
    parts = []
    for kind, title in SEED_TITLES.items():
        part = data[data["kind"] == kind]
        if part.empty:
            continue
        scale = 1.0 if kind == "relative_ce" else 100.0
        rows = []
        for label, rows_of in part.groupby("label", sort=False):
            row = {"method": label, "seeds": str(int(rows_of["n"].max()))}
            row |= {r.column: _interval(r, scale, kind == "difference") for r in rows_of.itertuples()}
            rows.append(row)
        frame = pd.DataFrame(rows)
        parts += [
            f"### {title.format(baseline=report.baseline)}",
            "",
            _markdown_table(frame, ["left"] + ["right"] * (frame.shape[1] - 1)),
            "",
        ]
    return "\n".join(parts).rstrip()


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
    epochs = [
        f"{done}/{'?' if asked is None or pd.isna(asked) else int(asked)}"
        for done, asked in zip(data["epochs_done"], data["epochs"], strict=True)
    ]
    frame = pd.DataFrame(
        {
            "run": data["run"],
            "method": data["method"],
            "arch": data["arch"],
            "dataset": data["dataset"],
            "seed": data["seed"].astype(str),
            "epochs": epochs,
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
        if report.severity == MEAN
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
    from specreg_cli.report.mce_markdown import benchmark_markdown  # it imports this module's helpers

    sections = [
        (
            "Headline: robust accuracy (%), AutoAttack and the worst case over attacks",
            headline_markdown(report),
        ),
        ("Over seeds: 95% intervals (Student t) and paired differences", seeds_markdown(report)),
        (f"CIFAR-10-C metrics: error (%), mCE against {report.baseline}", benchmark_markdown(report)),
        ("Accuracy (%) per corruption and severity", per_severity_markdown(report)),
        ("Table 3: frequencies masked (%) per layer, final epoch", table3_markdown(report)),
        (
            "Table 3 on ResNet-18, the paper's layer names: frequencies masked (%), final epoch",
            paper_table3_markdown(report.table3_paper),
        ),
        ("Table 1: LeNet, switches and final accuracies (%)", table1_markdown(report.table1)),
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
    """``1-5`` for a contiguous range of evaluated severities, else ``1,5``."""
    levels = sorted({int(s) for s in report.per_severity["severity"] if s != MEAN})
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
