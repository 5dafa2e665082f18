"""``specreg corrupt --jobs``: every corruption at severities 1-5 written in worker processes, against
the same job in one process, measured in the same run.

The issue's target is 19 corruptions x 5 severities x 10,000 images in 2 minutes on 2 cores, i.e.
7,917 corrupted images/s. The figure here is measured on a smaller test set and includes what the
workers pay once: starting (importing torch) and their first call of every corruption (kernels and
caches the one-process baseline already has from the warm-up), about 8 s in all on a 2-core machine. So
it understates a full run: measured there, 10,000 images took 101-104 s with --jobs 2 against 185 s with
--jobs 1 (1.8x; 2,000 images here: 1.3x).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import torch

from benchmarks.clock import seconds
from benchmarks.corruption_speed import one_thread, runnable_corruptions
from benchmarks.figure import Figure, Goal
from benchmarks.sizes import Sizes
from specreg_cli.cifar10c_writer import write_cifar10c
from specreg_cli.cores import available_cores

TARGET_IMAGES_PER_S = 19 * 5 * 10_000 / 120  # issue 16: the whole of CIFAR-10-C in 2 minutes


def measure(sizes: Sizes, repeats: int) -> list[Figure]:
    """Figure ``corrupt.jobs.images_per_s``: corrupted images/s of ``write_cifar10c`` with one worker per
    usable core (each on one torch thread), its ratio to ``jobs=1`` on one thread in the same repeat."""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (sizes.corrupt_jobs_images, 32, 32, 3), dtype=np.uint8)
    labels = rng.integers(0, 10, len(images))
    names, skipped = runnable_corruptions(torch.from_numpy(images[:64]), 3)
    jobs = available_cores()
    count = len(images) * len(names) * 5
    parallel, ratios = [], []
    with one_thread(), tempfile.TemporaryDirectory() as tmp:
        for r in range(repeats):

            def write(n_jobs: int, folder: str, r: int = r) -> None:
                write_cifar10c(Path(tmp) / folder, images, labels, names, seed=r, jobs=n_jobs, threads=1)

            one = seconds(lambda: write(1, "one"))
            several = seconds(lambda: write(jobs, "several"))
            parallel.append(count / several)
            ratios.append(one / several)
    setup = (
        f"write_cifar10c of {len(images):,} images x {len(names)} corruptions x 5 severities, {jobs} "
        "worker processes of 1 thread (start-up included) against 1 process of 1 thread"
    )
    if skipped:
        setup += f"; not measured: {'; '.join(skipped)}"
    return [
        Figure(
            "corrupt.jobs.images_per_s",
            f"corrupt --jobs {jobs}, all corruptions",
            "images/s",
            parallel,
            baseline="--jobs 1",
            ratio_runs=ratios,
            goal=Goal(">=", TARGET_IMAGES_PER_S),
            setup=setup,
        )
    ]
