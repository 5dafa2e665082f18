"""The per-image worst case over attacks: an image counts as robust at a radius only when the model was
right on it under every attack run on the same images at that radius (and on the clean image itself,
which lies in every ball).

It needs the per-image right / wrong bits that ``specreg attack`` records in ``params["correct"]``
(:func:`specreg_cli.results.encode_correct`); records without them (older files, transfer evaluations)
take no part. "The same images": the same run and checkpoint, the same test set (its sha256) and its
first ``n`` images; attacks run on different first-n prefixes (PGD on the whole split, AutoAttack on
its first 200) meet on the shorter prefix, since the bits of image i do not depend on how many images
followed. "The same radius": the same norm and eps. A worst case is only made where two attacks or more
meet; it becomes one accuracy row of condition :data:`WORST` over that prefix, a Table 2 column after
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
SAME_TEST_SET = ("run", "method", "arch", "dataset", "dataset_sha256", "checkpoint_sha256")
SAME_IMAGES = (*SAME_TEST_SET, "n")  # a worst-case row's identity: its test set and the prefix it covers


def worst_case_rows(records: pd.DataFrame) -> pd.DataFrame:
    """One accuracy row per (test set, norm, eps > 0) that two registered attacks or more cover, over the
    shortest first-n prefix they share."""
    column = f"param_{CORRECT}"
    if column not in records or records.empty:
        return records.iloc[0:0]
    accuracy = records[(records["metric"] == "accuracy") & records[column].notna()]
    keys = accuracy[list(SAME_TEST_SET)].astype(str).agg("|".join, axis=1)
    attacks = accuracy[accuracy["condition"].isin(list(ATTACKS)) & (accuracy["param_eps"].astype(float) > 0)]
    rows = []
    for (_, norm, eps), group in attacks.groupby([keys, "param_norm", "param_eps"], sort=True):
        names = sorted(set(group["condition"]))
        if len(names) < 2:
            continue
        first = group.loc[group["n"].astype(int).idxmin()]
        n = int(first["n"])
        clean = accuracy[(keys == keys[first.name]) & (accuracy["condition"] == "clean")]
        clean = clean[clean["n"].astype(int) >= n]
        right = np.ones(n, dtype=bool)
        for text, length in zip([*group[column], *clean[column]], [*group["n"], *clean["n"]], strict=True):
            right &= decode_correct(text, int(length))[:n]
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
