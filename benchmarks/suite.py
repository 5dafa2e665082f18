"""Run every benchmark group in order, with a progress bar; collect their figures and what was skipped."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable

import torch

from benchmarks import (
    attack_speed,
    corrupt_jobs,
    corruption_speed,
    eval_corruptions,
    gpu_epoch,
    memory,
    pipeline,
    train_step,
)
from benchmarks.figure import Figure
from benchmarks.sizes import Sizes
from specreg_cli.console import make_progress

Group = Callable[[Sizes, int], list[Figure]]  # (sizes, repeats) -> figures

# CPU groups, cheapest first: the train-step ratio (the headline) is measured before the machine warms up
CPU_GROUPS: dict[str, Group] = {
    "training step": train_step.measure,
    "data pipeline": pipeline.measure,
    "corruption speed": corruption_speed.measure,
    "corrupt --jobs": corrupt_jobs.measure,
    "evaluation": eval_corruptions.measure,
    "PGD": attack_speed.measure,
    "peak memory": memory.measure,
}


def groups_for(device: str) -> tuple[dict[str, Group], dict[str, str]]:
    """(groups to run, {skipped group: why}). The CUDA group runs only with ``device="cuda"`` and a GPU."""
    groups = dict(CPU_GROUPS)
    skipped = {}
    if device == "cuda" and torch.cuda.is_available():
        groups["GPU epoch"] = functools.partial(gpu_epoch.measure, device="cuda")
    else:
        skipped["GPU epoch"] = (
            "no CUDA GPU visible"
            if device == "cuda"
            else "--device cpu (pass --device cuda on a machine with a GPU)"
        )
    return groups, skipped


def run_suite(
    sizes: Sizes, repeats: int, groups: dict[str, Group], show_progress: bool = True
) -> tuple[list[Figure], dict[str, float]]:
    """Run ``groups`` one after the other: (their figures in order, {group: wall-clock seconds})."""
    figures: list[Figure] = []
    seconds: dict[str, float] = {}
    with make_progress(transient=True) as progress:
        task = progress.add_task("benchmarks", total=len(groups), status="", visible=show_progress)
        for name, group in groups.items():
            progress.update(task, status=name)
            start = time.perf_counter()
            figures += group(sizes, repeats)
            seconds[name] = round(time.perf_counter() - start, 2)
            progress.advance(task)
    return figures, seconds
