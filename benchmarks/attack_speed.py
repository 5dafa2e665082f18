"""PGD throughput: attacked images x gradient steps per second (ResNet-20, PGD-10, batch 256, CPU), through
``specreg_cli.attack.perturb`` (torchattacks.PGD). Baseline: a bare forward + backward to the input on the
same batch (as many as PGD takes steps), the least a PGD step can cost; the ratio shows torchattacks'
overhead. PGD and the baseline alternate inside each repeat."""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F

from benchmarks.clock import seconds
from benchmarks.figure import Figure, rotated
from benchmarks.models import resnet20
from benchmarks.sizes import Sizes
from benchmarks.training import random_batch
from specreg_cli.attack import AttackSpec, perturb

EPS, ALPHA = 8 / 255, 2 / 255  # Linf radius and step size, [0, 1] pixel scale


def measure(sizes: Sizes, repeats: int) -> list[Figure]:
    """Figure ``attack.pgd.image_steps_per_s`` with ratio = PGD step rate / bare forward+backward rate."""
    model = resnet20()
    x, y = random_batch(sizes.pgd_batch, seed=1)  # (B, 3, 32, 32), (B,)
    spec = AttackSpec("pgd", EPS, ALPHA, sizes.pgd_steps, random_start=True)

    def bare_steps() -> None:
        for _ in range(sizes.pgd_steps):
            xr = x.clone().requires_grad_(True)
            torch.autograd.grad(F.cross_entropy(model(xr), y), xr)

    perturb(model, x[:8], y[:8], AttackSpec("pgd", EPS, ALPHA, 1, True), seed=0)  # warm-up
    pgd, bare = [], []
    for r in range(repeats):
        timers = {"pgd": functools.partial(perturb, model, x, y, spec, seed=r), "bare": bare_steps}
        for name in rotated(["pgd", "bare"], r):
            rate = len(x) * sizes.pgd_steps / seconds(timers[name])  # image-steps/s
            (pgd if name == "pgd" else bare).append(rate)
    setup = (
        f"specreg_cli.attack.perturb (torchattacks.PGD), eps 8/255, ResNet-20 eval mode, batch "
        f"{sizes.pgd_batch}, CPU; baseline: {sizes.pgd_steps} bare forward+backward passes to the input "
        "on the same batch"
    )
    return [
        Figure(
            "attack.pgd.image_steps_per_s",
            f"PGD-{sizes.pgd_steps}",
            "image-steps/s",
            pgd,
            baseline="bare fwd+bwd",
            ratio_runs=[p / b for p, b in zip(pgd, bare, strict=False)],
            setup=setup,
            extra={"bare_image_steps_per_s": bare},
        )
    ]
