"""The per-image worst case over attacks: an image counts as robust at a radius only when the model was
right on it under every attack run on the same images at that radius (and on the clean image itself,
which lies in every ball).

It needs the per-image right / wrong bits that ``specreg attack`` records in ``params["correct"]``
(:func:`specreg_cli.results.encode_correct`); records without them (older files, transfer evaluations)
take no part. "The same images": the same run and checkpoint, the same test set (its sha256) and the
same first ``n`` images; "the same radius": the same norm and eps. A worst case is only made where two
attacks or more meet; it becomes one accuracy row of condition :data:`WORST`, a Table 2 column after
the attacks, ``params["attacks"]`` naming what it combines.

Example::

    rows = worst_case_rows(read_results(["results/"]))   # condition "worst-case", one row per run and radius
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from specreg_cli.attacks import ATTACKS
from specreg_cli.results import CORRECT, decode_correct

WORST = "worst-case"  # the condition of a worst-case row
SAME_IMAGES = ("run", "method", "arch", "dataset", "dataset_sha256", "checkpoint_sha256", "n")


def worst_case_rows(records: pd.DataFrame) -> pd.DataFrame:
    """One accuracy row per (same images, norm, eps > 0) that two registered attacks or more cover."""
    column = f"param_{CORRECT}"
    if column not in records or records.empty:
        return records.iloc[0:0]
    accuracy = records[(records["metric"] == "accuracy") & records[column].notna()]
    keys = accuracy[list(SAME_IMAGES)].astype(str).agg("|".join, axis=1)
    attacks = accuracy[accuracy["condition"].isin(list(ATTACKS)) & (accuracy["param_eps"].astype(float) > 0)]
    rows = []
    for (_, norm, eps), group in attacks.groupby([keys, "param_norm", "param_eps"], sort=True):
        names = sorted(set(group["condition"]))
        if len(names) < 2:
            continue
        first = group.iloc[0]
        n = int(first["n"])
        clean = accuracy[(keys == keys[first.name]) & (accuracy["condition"] == "clean")]
        right = np.ones(n, dtype=bool)
        for text in [*group[column], *clean[column]]:
            right &= decode_correct(text, n)
        rows.append(
            {
                **{name: first[name] for name in SAME_IMAGES},
                "condition": WORST,
                "severity": pd.NA,
                "metric": "accuracy",
                "value": float(right.mean()),
                "param_eps": float(eps),
                "param_norm": norm,
                "param_attacks": ", ".join(names),
                "source": first["source"],
                "command": first["command"],
                "seed": first["seed"],
            }
        )
    frame = pd.DataFrame(rows, columns=[*records.columns, "param_attacks"])
    return frame.astype({"severity": "Int64"}) if len(frame) else frame


def with_worst_case(accuracy: pd.DataFrame, records: pd.DataFrame) -> pd.DataFrame:
    """``accuracy`` rows (:func:`~specreg_cli.report.tables.accuracy_rows`) plus the worst-case rows."""
    worst = worst_case_rows(records)
    return accuracy if worst.empty else pd.concat([accuracy, worst], ignore_index=True)
