"""Wall-clock timing that waits for queued GPU work, and a loader wrapper that times its batches."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator

import torch


def sync(device: torch.device | str) -> None:
    """Wait for queued CUDA work (no-op on the CPU), so the clock charges it to the right phase."""
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def seconds(fn: Callable[[], object], device: torch.device | str = "cpu") -> float:
    """Wall-clock seconds of one call of ``fn``, GPU work included."""
    sync(device)
    start = time.perf_counter()
    fn()
    sync(device)
    return time.perf_counter() - start


class TimedLoader:
    """Wraps a batch iterable; ``seconds`` adds up the time spent producing batches (inside ``next``).

    For a :class:`~specreg_cli.data.BatchLoader` that is the permutation, gather, crop + flip and float
    conversion: the data pipeline's share of an epoch. CPU only: on a GPU the work is asynchronous.

    Example::

        timed = TimedLoader(loader)
        row = trainer.train_epoch(state, 0, timed)
        share = timed.seconds / row["seconds"]
    """

    def __init__(self, loader: Iterable):
        self.loader = loader
        self.seconds = 0.0

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self) -> Iterator:
        batches = iter(self.loader)
        while True:
            start = time.perf_counter()
            try:
                batch = next(batches)
            except StopIteration:
                self.seconds += time.perf_counter() - start
                return
            self.seconds += time.perf_counter() - start
            yield batch
