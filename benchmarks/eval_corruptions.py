"""Evaluation images/s and the share of ``evaluate_corruptions`` time spent generating corruptions, from its
own timing (ResNet-20 in eval mode, batch 256, clean + 3 corruptions x 5 severities, CPU)."""

from __future__ import annotations

from benchmarks.figure import Figure, Goal
from benchmarks.models import resnet20
from benchmarks.sizes import Sizes
from specreg_cli.corruption_eval import EvalModel, evaluate_corruptions
from specreg_cli.data import load_dataset

GENERATE_GOAL = Goal("<", 10.0)  # percent of the evaluation time


def measure(sizes: Sizes, repeats: int) -> list[Figure]:
    """Figures ``eval.images_per_s`` (forward passes incl. uint8 -> float) and ``eval.generate_share``."""
    test = load_dataset(sizes.eval_dataset, "test")
    entry = EvalModel("untrained-resnet20", "natural", "resnet20", resnet20())
    names, severities = list(sizes.eval_corruptions), list(sizes.eval_severities)
    # warm-up: one batch of each corruption and of the model
    evaluate_corruptions(
        [entry],
        names,
        severities[:1],
        clean=test,
        dataset_name="synthetic",
        batch_size=sizes.eval_batch,
        n=min(len(test), sizes.eval_batch),
    )
    speed, shares, totals = [], [], []
    for r in range(repeats):
        result = evaluate_corruptions(
            [entry],
            names,
            severities,
            clean=test,
            dataset_name="synthetic",
            seed=r,
            batch_size=sizes.eval_batch,
            device="cpu",
        )
        passes = 1 + len(names) * len(severities)  # the clean pass, then every (corruption, severity)
        speed.append(result.n * passes / result.timing.model_s)
        shares.append(100 * result.timing.generate_share)
        totals.append(result.timing.total_s)
    setup = (
        f"evaluate_corruptions' own timing: ResNet-20 eval mode, {len(test):,} synthetic test images "
        f"x (clean + {len(names)} corruptions x {len(severities)} severities), "
        f"batch {sizes.eval_batch}, CPU"
    )
    return [
        Figure("eval.images_per_s", "eval, ResNet-20", "images/s", speed, setup=setup),
        Figure(
            "eval.generate_share",
            "corruption generation share of eval",
            "%",
            shares,
            goal=GENERATE_GOAL,
            setup=setup,
            extra={"total_s": totals},
        ),
    ]
