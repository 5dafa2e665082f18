"""PGD throughput: attacked images x gradient steps per second (ResNet-20, PGD-10, batch 256, CPU), through
``specreg_cli.attack.perturb`` (torchattacks.PGD). Baseline: a bare forward + backward to the input on the
same batch (as many as PGD takes steps), the least a PGD step can cost; the ratio shows torchattacks'
overhead. PGD and the baseline alternate inside each repeat.

AutoAttack (torchattacks' standard version: APGD-CE, APGD-T, FAB-T, Square): attacked images per second on
the same model and batch, against PGD-10 images per second measured alternately in the same run (ratio
AutoAttack / PGD-10, below 1: it is slower). The labels are the model's own predictions, so every image is
attacked (AutoAttack skips the misclassified ones); each later attack only sees the images the earlier
ones did not break, so the cost depends on the model: this untrained ResNet-20 is broken by APGD-CE
almost at once, the cheap end. A robust model pays for APGD-T and FAB-T over 9 targets and Square's
5,000 queries per surviving image."""

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
    """The PGD figure and the AutoAttack figure."""
    return [measure_pgd(sizes, repeats), measure_autoattack(sizes, repeats)]


def measure_autoattack(sizes: Sizes, repeats: int) -> Figure:
    """Figure ``attack.autoattack.images_per_s`` with ratio = AutoAttack / PGD-10 images per second."""
    model = resnet20().eval()
    x, _ = random_batch(sizes.pgd_batch, seed=1)  # (B, 3, 32, 32)
    with torch.no_grad():
        y = model(x).argmax(1)  # (B,) its own predictions: every image is attacked
    pgd_spec = AttackSpec("pgd", EPS, ALPHA, 10, random_start=True)
    aa_spec = AttackSpec("autoattack", EPS, None, None, None, (("n_queries", 5000),))
    perturb(model, x[:4], y[:4], aa_spec, seed=0)  # warm-up
    rates: dict[str, list[float]] = {"autoattack": [], "pgd": []}
    for r in range(repeats):
        timers = {
            "autoattack": functools.partial(perturb, model, x, y, aa_spec, seed=r),
            "pgd": functools.partial(perturb, model, x, y, pgd_spec, seed=r),
        }
        for name in rotated(["autoattack", "pgd"], r):
            rates[name].append(len(x) / seconds(timers[name]))  # images/s
    setup = (
        f"specreg_cli.attack.perturb (torchattacks.AutoAttack standard, Linf 8/255, seeded), untrained "
        f"ResNet-20 eval mode, batch {sizes.pgd_batch} labelled with its own predictions, CPU; baseline: "
        "PGD-10 (alpha 2/255) on the same batch"
    )
    return Figure(
        "attack.autoattack.images_per_s",
        "AutoAttack",
        "images/s",
        rates["autoattack"],
        baseline="PGD-10",
        ratio_runs=[a / p for a, p in zip(rates["autoattack"], rates["pgd"], strict=True)],
        setup=setup,
        extra={"pgd10_images_per_s": rates["pgd"]},
    )


def measure_pgd(sizes: Sizes, repeats: int) -> Figure:
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
    return Figure(
        "attack.pgd.image_steps_per_s",
        f"PGD-{sizes.pgd_steps}",
        "image-steps/s",
        pgd,
        baseline="bare fwd+bwd",
        ratio_runs=[p / b for p, b in zip(pgd, bare, strict=False)],
        setup=setup,
        extra={"bare_image_steps_per_s": bare},
    )
