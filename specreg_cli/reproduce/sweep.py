"""A sweep: presets x seeds x arms (methods) as one plan with one report.

One preset is :func:`~specreg_cli.reproduce.plan.plan` itself (seeds x arms). Several presets
(``--preset A,B``, e.g. a preset and a copy of it on another network): each preset's arms are renamed
``<preset>-<arm>`` (runs ``study-natural-s0``, ...; in the report one row per preset and arm, through
``train --group``), the trainings and evaluations of all presets form one plan, and one pair of reports
covers every run. So the presets must evaluate alike (dataset, corruptions, severities, test images,
attacks) and differ only in training (a network, epochs): one table compares them, and the report would
refuse results of different test sets or attack settings in one column after the whole sweep had trained.

Example::

    steps = sweep([PRESETS["tiny"], tiny_lenet_wide], Path("reports/sweep"), seeds=[0, 1], device="cpu")
    [s.name for s in steps][:2]    # ['train tiny-natural-s0', 'train tiny-gauss-s0']
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

from specreg_cli.errors import SpecregError
from specreg_cli.reproduce.plan import Step, _report_steps, plan
from specreg_cli.reproduce.presets import Arm, Preset

EVALUATION_FIELDS = ("corruptions", "severities", "eval_n", "eval_batch_size", "attacks")  # one table's


def sweep(
    presets: Sequence[Preset], out_dir: str | Path, *, dataset: str | None = None, **options
) -> list[Step]:
    """One plan for ``presets`` (``options``: :func:`plan`'s, the same for every preset): their trainings,
    then their evaluations, then one report over all. Raises :class:`SpecregError` for a preset named
    twice or presets that evaluate differently."""
    if len(presets) == 1:
        return plan(presets[0], out_dir, dataset=dataset, **options)
    _check_comparable(presets, dataset)
    steps = [s for p in presets for s in plan(_prefixed(p), out_dir, dataset=dataset, **options)]
    trains = [s for s in steps if s.kind == "train"]
    evaluations = [s for s in steps if s.kind == "evaluate"]
    out = Path(out_dir).expanduser().resolve()
    return [*trains, *evaluations, *_report_steps(out, tuple(s.name for s in evaluations))]


def _prefixed(preset: Preset) -> Preset:
    """``preset`` with its arms named ``<preset>-<arm>`` (a fine-tune arm's source too)."""
    arms = tuple(
        Arm(
            f"{preset.name}-{arm.name}",
            arm.method,
            arm.train,
            f"{preset.name}-{arm.init_from}" if arm.init_from else None,
        )
        for arm in preset.arm_list()
    )
    return dataclasses.replace(preset, arms=arms)


def _check_comparable(presets: Sequence[Preset], dataset: str | None) -> None:
    names = [p.name for p in presets]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise SpecregError(f"preset {twice[0]!r} is named twice in the sweep", hint="name each preset once")
    first = presets[0]
    for other in presets[1:]:
        differ = [f for f in EVALUATION_FIELDS if getattr(other, f) != getattr(first, f)]
        if dataset is None and other.dataset != first.dataset:
            differ.insert(0, "dataset")
        if differ:
            raise SpecregError(
                f"presets {first.name!r} and {other.name!r} evaluate differently ({', '.join(differ)}): "
                "one report can't compare them",
                hint="sweep presets that differ only in training (with --dataset for one dataset), or run "
                "each into its own --out",
            )
