"""The data pipeline's share of a training epoch: time inside the BatchLoader (permutation, gather,
random crop + flip, float conversion) over the epoch's time, ResNet-20 natural on the CPU."""

from __future__ import annotations

import itertools

from benchmarks.clock import TimedLoader
from benchmarks.figure import Figure, Goal
from benchmarks.sizes import Sizes
from benchmarks.training import train_parts
from specreg_cli.data import BatchLoader, load_dataset

SHARE_GOAL = Goal("<", 5.0)  # percent of the epoch


def measure(sizes: Sizes, repeats: int) -> list[Figure]:
    """Figure ``pipeline.share`` (percent), one epoch of the training loop per repeat."""
    train = load_dataset(sizes.pipeline_dataset, "train")
    loader = BatchLoader(train.images, train.labels, sizes.train_batch, "cpu", train=True, seed=0)
    parts = train_parts(None, sizes.train_batch, "cpu")
    parts.epoch(list(itertools.islice(loader, sizes.warmup_steps)))
    shares, loader_s, epoch_s = [], [], []
    for r in range(repeats):
        loader.set_epoch(r)
        timed = TimedLoader(loader)
        row = parts.epoch(timed)
        loader_s.append(timed.seconds)
        epoch_s.append(row["seconds"])
        shares.append(100 * timed.seconds / row["seconds"])
    setup = (
        f"one epoch of {len(train):,} synthetic images, ResNet-20 natural, batch {sizes.train_batch}, "
        "CPU; time inside BatchLoader / epoch time"
    )
    return [
        Figure(
            "pipeline.share",
            "data pipeline share of epoch",
            "%",
            shares,
            goal=SHARE_GOAL,
            setup=setup,
            extra={"loader_s": loader_s, "epoch_s": epoch_s, "images": len(train)},
        )
    ]
