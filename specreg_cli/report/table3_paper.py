"""Table 3 on the paper's network with the paper's layer names: ResNet-18's 16 block convolutions as
``layer1conv1.1`` .. ``layer4conv2.2`` beside specreg's module names, one column per masked run.

The mapping (:func:`specreg_cli.models.resnet.paper_layer_name`): specreg's ``layer<S>.<b>.conv<k>``
(stage S, 0-based block b, conv k of the block) is the paper's ``layer<S>conv<k>.<b+1>``; shortcut convs
are not masked and not in the table.

The paper's per-layer masked fractions are not in the issue or in this repository (the issue quotes only
that Table 3 "falls from 69% to 2%"), so no reference column is shown (:data:`PAPER_NOTE`).

Example::

    frame = paper_table3(report.table3)      # rows of the ResNet-18 runs, with paper_layer
"""

from __future__ import annotations

import pandas as pd

TABLE3_ARCH = "resnet18"  # the network of the paper's Table 3
PAPER_NOTE = (
    "Layer names: specreg's layer<S>.<b>.conv<k> is the paper's layer<S>conv<k>.<b+1> (block b counted "
    "from 0 here, from 1 in the paper). The paper's per-layer fractions are not in the issue or in this "
    "repository (the issue quotes only that its Table 3 falls from 69% to 2%), so there is no reference "
    "column."
)
COLUMNS = ("run", "label", "layer", "paper_layer", "epoch", "masked_fraction")


def paper_table3(table3: pd.DataFrame) -> pd.DataFrame:
    """The ResNet-18 rows of the report's Table 3 frame, with the paper's layer name; model order kept."""
    from specreg_cli.models.resnet import paper_layer_name  # loads torch: only when a report is built

    part = table3[table3["arch"] == TABLE3_ARCH]
    return pd.DataFrame(
        {
            "run": part["runs"],
            "label": part["label"],
            "layer": part["column"],
            "paper_layer": [paper_layer_name(str(name)) for name in part["column"]],
            "epoch": part["epoch"],
            "masked_fraction": part["value"],
        },
        columns=COLUMNS,
    )


def paper_table3_markdown(frame: pd.DataFrame) -> str:
    """Rows = the paper's layers (specreg's name in brackets), columns = runs, cells = % masked."""
    if frame.empty:
        return ""
    from specreg_cli.report.markdown import percent

    layers = list(dict.fromkeys(zip(frame["paper_layer"], frame["layer"], strict=True)))
    shown = pd.DataFrame({"layer (paper)": [p for p, _ in layers], "specreg module": [s for _, s in layers]})
    for run in sorted(frame["run"].unique()):
        values = frame[frame["run"] == run].set_index("layer")["masked_fraction"]
        shown[run] = [percent(values.get(layer)) for _, layer in layers]
    table = shown.to_markdown(
        index=False, disable_numparse=True, colalign=["left", "left"] + ["right"] * (shown.shape[1] - 2)
    )
    return f"{table}\n\n{PAPER_NOTE}"
