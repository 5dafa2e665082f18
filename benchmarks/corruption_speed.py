"""Corruption images/s on big uint8 batches, next to the reference generator's per-image speed.

Measured on one thread whatever ``--threads`` says: the reference figure is one thread's, so the ratio
compares like with like (torch would otherwise spread the batch over every core).
"""

from __future__ import annotations

import contextlib
import functools

import torch

import corruptions
from benchmarks.clock import seconds
from benchmarks.figure import Figure, Goal, rotated
from benchmarks.sizes import Sizes

# ms per image of the reference generator: one thread of a 2-vCPU AMD EPYC (shared/spec/cifar10c.md, the end)
REFERENCE_MS = {"impulse_noise": 0.15, "fog": 0.35, "contrast": 0.06}
SPEEDUP_GOAL = Goal(">=", 10.0, on="ratio")  # at least 10x the reference's images/s


def measure(sizes: Sizes, repeats: int) -> list[Figure]:
    """Figures ``corruption.<name>.images_per_s`` with ratio = ours / reference images/s."""
    gen = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (sizes.corruption_images, 32, 32, 3), dtype=torch.uint8, generator=gen)
    names = list(REFERENCE_MS)
    for name in names:  # warm-up
        corruptions.corrupt(images[:64], name, sizes.corruption_severity, seed=0)
    speed: dict[str, list[float]] = {name: [] for name in names}
    with one_thread():
        for r in range(repeats):
            for name in rotated(names, r):
                run = functools.partial(corruptions.corrupt, images, name, sizes.corruption_severity, seed=r)
                t = seconds(run)
                speed[name].append(len(images) / t)
    setup = (
        f"corruptions.corrupt on a {len(images):,}-image uint8 batch, severity "
        f"{sizes.corruption_severity}, CPU, 1 thread; reference: 1 thread, 2-vCPU AMD EPYC "
        "(shared/spec/cifar10c.md)"
    )
    figures = []
    for name in names:
        reference = 1000 / REFERENCE_MS[name]  # images/s
        figures.append(
            Figure(
                f"corruption.{name}.images_per_s",
                name,
                "images/s",
                speed[name],
                baseline=f"ref. {REFERENCE_MS[name]} ms/image",
                ratio_runs=[s / reference for s in speed[name]],
                goal=SPEEDUP_GOAL,
                setup=setup,
            )
        )
    return figures


@contextlib.contextmanager
def one_thread():
    """torch on one intra-op thread inside the block; the previous count is restored after."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)
