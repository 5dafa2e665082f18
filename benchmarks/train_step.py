"""Training images/s of ResNet-20, natural vs masked (the default "auto" backend, and the fft reference and
matmul-DFT backends for comparison): the masked cost is the headline.

One batch of 128 is reused, so the figure is the model step alone (forward, backward, SGD step, scheduler
step, mask clamp, as ``specreg train`` runs it), not the data pipeline. Inside each repeat the variants
take turns one step at a time (in rotating order), so a load change on a shared machine hits all of them
alike; the masked/natural time ratio is taken per repeat.
"""

from __future__ import annotations

from benchmarks.figure import Figure, Goal, rotated
from benchmarks.sizes import Sizes
from benchmarks.training import random_batch, train_parts

VARIANTS = {"natural": None, "masked_auto": "auto", "masked_fft": "fft", "masked_dft": "dft"}  # -> backend
MASKED_GOAL = Goal("<=", 1.3, on="ratio")  # masked step at most 1.3x the natural one


def measure(sizes: Sizes, repeats: int) -> list[Figure]:
    """Figures ``train.<variant>.images_per_s`` on the CPU; masked ones carry the time ratio to natural."""
    parts = {name: train_parts(backend, sizes.train_batch, "cpu") for name, backend in VARIANTS.items()}
    batch = random_batch(sizes.train_batch)
    for p in parts.values():
        p.epoch([batch] * sizes.warmup_steps)
    speed: dict[str, list[float]] = {name: [] for name in VARIANTS}
    for r in range(repeats):
        busy = dict.fromkeys(VARIANTS, 0.0)  # seconds in the training loop, per variant
        for step in range(sizes.train_steps):
            for name in rotated(list(VARIANTS), r + step):
                busy[name] += parts[name].epoch([batch])["seconds"]
        for name, seconds in busy.items():
            speed[name].append(sizes.train_steps * sizes.train_batch / seconds)
    setup = (
        f"ResNet-20, batch {sizes.train_batch}, {sizes.train_steps} timed steps per variant per repeat, "
        "variants taking turns step by step (forward, backward, SGD step, mask clamp), CPU"
    )
    figures = [
        Figure("train.natural.images_per_s", "train, natural", "images/s", speed["natural"], setup=setup)
    ]
    for name, backend in VARIANTS.items():
        if backend is None:
            continue
        ratios = [
            n / m for n, m in zip(speed["natural"], speed[name], strict=False)
        ]  # step time masked / natural
        figures.append(
            Figure(
                f"train.{name}.images_per_s",
                f"train, masked {backend}",
                "images/s",
                speed[name],
                baseline="natural (time ratio)",
                ratio_runs=ratios,
                goal=MASKED_GOAL,
                setup=setup,
            )
        )
    return figures
