"""The paper's Table 1 in the report: per LeNet arm, its switches and the final clean train accuracy, test
accuracy and their gap (mean over the arm's seeds).

A row is an arm (the runs' training-config ``group``, else the method) of the paper's Table 1 network,
:data:`TABLE1_ARCH`. Its switches are read from the runs' saved configs, with :class:`TrainConfig`'s
defaults for configs written before a switch existed; train accuracy is measured on clean training
images in eval mode at the last epoch (:mod:`specreg_cli.train`), so the gap compares like with like.

The paper's own Table 1 numbers are not in the issue or in this repository, so no reference column is
shown (:data:`PAPER_NOTE` says so in the report) rather than numbers nobody can check.

Example::

    frame = table1(inputs.runs)          # one row per arm, accuracies as fractions
    print(table1_markdown(frame))
"""

from __future__ import annotations

import pandas as pd

from specreg_cli.methods import method_rank
from specreg_cli.report.inputs import RunInfo
from specreg_cli.train_config import TrainConfig, saved_option

TABLE1_ARCH = "lenet"  # the network of the paper's Table 1
SWITCHES = ("normalize", "crop", "flip", "weight_decay", "dropout", "mask_random_drop")  # train options
ACCURACIES = ("train_acc", "test_acc", "gap")  # final epoch, mean over seeds; *_std: their sample std
TABLE1_COLUMNS = ("group", "method", "arch", *SWITCHES, "n_seeds", *ACCURACIES)
TABLE1_COLUMNS += (*(f"{k}_std" for k in ACCURACIES), "runs")
PAPER_NOTE = (
    "The paper's Table 1 numbers are not in the issue or in this repository, so there is no reference "
    "column; the rows are specreg's reading of its switches (reproduce --preset table1)."
)
_DEFAULTS = TrainConfig()


def _switch(config: dict, name: str) -> object:
    """A run's value of a Table 1 switch: the saved one, else the default of the time it was missing."""
    value = saved_option(config, name)
    if value is not None:
        return value
    if name == "mask_random_drop":  # masked runs without it drew no random drop; other methods have none
        return 0.0 if config.get("method") == "masked" or config.get("mask") else None
    return getattr(_DEFAULTS, name)


def table1(runs: list[RunInfo]) -> pd.DataFrame:
    """One row per Table 1 arm (method in registry order, then by switches on): switches, seeds, final
    accuracies."""
    members: dict[str, list[RunInfo]] = {}
    for run in runs:
        if run.config.get("arch") == TABLE1_ARCH and len(run.metrics):
            members.setdefault(run.config.get("group") or str(run.config.get("method")), []).append(run)
    rows = []
    for group, part in members.items():
        config = part[0].config
        finals = pd.DataFrame([r.metrics.iloc[-1][["train_acc", "test_acc", "gap"]] for r in part])
        rows.append(
            {"group": group, "method": config.get("method", ""), "arch": TABLE1_ARCH}
            | {name: _switch(config, name) for name in SWITCHES}
            | {"n_seeds": len(part), "runs": ";".join(sorted(r.name for r in part))}
            | {k: float(finals[k].astype(float).mean()) for k in ACCURACIES}
            | {f"{k}_std": float(finals[k].astype(float).std(ddof=1)) for k in ACCURACIES}  # NaN: one seed
        )
    # the paper's layout: per method, from no regulariser to all of them (the count of switches on)
    rows.sort(key=lambda r: (method_rank(r["method"]), sum(bool(r[n]) for n in SWITCHES), r["group"]))
    return pd.DataFrame(rows, columns=TABLE1_COLUMNS)


def table1_markdown(frame: pd.DataFrame) -> str:
    """Table 1 as a GitHub table (accuracies in %), then the note about the paper's numbers; '' if empty."""
    if frame.empty:
        return ""
    from specreg_cli.report.markdown import MISSING, percent  # the report's one number format

    def on(value) -> str:
        return "on" if value else "off"

    def number(value) -> str:
        return MISSING if value is None or pd.isna(value) else ("off" if value == 0 else f"{value:g}")

    shown = pd.DataFrame(
        {
            "arm": frame["group"],
            "method": frame["method"],
            "normalisation": frame["normalize"].map(on),
            "random crop": frame["crop"].map(on),
            "flip": frame["flip"].map(on),
            "weight decay": frame["weight_decay"].map(number),
            "dropout (drop prob.)": frame["dropout"].map(number),
            "random drop": frame["mask_random_drop"].map(number),
            "seeds": frame["n_seeds"].astype(str),
            **{
                title: [percent(v, sd) for v, sd in zip(frame[k], frame[f"{k}_std"], strict=True)]
                for title, k in zip(("train acc", "test acc", "gap"), ACCURACIES, strict=True)
            },
        }
    )
    table = shown.to_markdown(index=False, disable_numparse=True, colalign=["left"] * 9 + ["right"] * 3)
    notes = (
        "Final epoch, mean (± sample std) over the arm's seeds; train accuracy on a fixed subset of clean "
        "training images in eval mode, gap = train - test (points). Dropout is the drop probability (the "
        "paper's keep-prob 0.9 = 0.1); random drop zeroes that fraction of the kept frequencies per "
        "training forward (specreg's reading)."
    )
    return f"{table}\n\n{notes} {PAPER_NOTE}"
