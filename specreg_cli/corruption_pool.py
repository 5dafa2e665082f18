"""Corrupt chunks of test images, in this process or in worker processes (``specreg corrupt --jobs``).

The corruptions are mostly single-threaded NumPy and Pillow code, so the way to use several cores is
several processes, each corrupting its own chunk of (corruption, severity, image range). Results come
back in the order the chunks were asked for, so a writer can stream them into files as they arrive, and
the bytes are those of the one-process path: a corrupted image depends only on (seed, corruption,
severity, image index), never on the chunk or the batch it was made in.

Workers are *spawned* (a fresh interpreter each: a fork of a process that has run torch's OpenMP
kernels can hang), take the images once when they start, and run torch on ``threads`` threads each.
Workers take seconds to be up to speed (importing torch, the first call of each corruption), which is why
callers use them only for big jobs. As with
any spawned worker, a script that asks for them needs the ``if __name__ == "__main__":`` guard.

Example::

    chunks = [Chunk("fog", 3, 0, 1024), Chunk("fog", 3, 1024, 2000)]
    for chunk, corrupted in zip(chunks, corrupted_chunks(images, chunks, seed=0, jobs=2)):
        ...  # corrupted: uint8 (stop - start, 32, 32, 3)
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Generator, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import NamedTuple

import numpy as np

import corruptions


class Chunk(NamedTuple):
    """Images ``start:stop`` of the test set under ``name`` at ``severity``."""

    name: str
    severity: int
    start: int
    stop: int


def corrupt_chunk(images: np.ndarray, chunk: Chunk, seed: int, batch_size: int) -> np.ndarray:
    """uint8 (stop - start, 32, 32, 3): the chunk's images corrupted, ``batch_size`` at a time."""
    parts = [
        corruptions.corrupt(
            np.ascontiguousarray(images[start : min(start + batch_size, chunk.stop)]),
            chunk.name,
            chunk.severity,
            seed=seed,
            start_index=start,
        )
        for start in range(chunk.start, chunk.stop, batch_size)
    ]
    return np.ascontiguousarray(np.concatenate(parts), dtype=np.uint8)


def corrupted_chunks(
    images: np.ndarray,
    chunks: Sequence[Chunk],
    seed: int,
    batch_size: int = 256,
    jobs: int = 1,
    threads: int = 1,
) -> Generator[np.ndarray, None, None]:
    """Each chunk of ``chunks`` corrupted, in order; ``jobs`` > 1 spreads them over that many worker
    processes with ``threads`` torch threads each (``jobs`` 1: in this process, on torch's threads)."""
    if jobs <= 1 or len(chunks) <= 1:
        for chunk in chunks:
            yield corrupt_chunk(images, chunk, seed, batch_size)
        return
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        max_workers=min(jobs, len(chunks)),
        mp_context=context,
        initializer=_start_worker,
        initargs=(images, threads),
    ) as pool:
        # map submits every chunk at once but yields in order; a result waits in memory only until the
        # writer, which is much faster than the workers, takes it
        yield from pool.map(_worker_chunk, chunks, [seed] * len(chunks), [batch_size] * len(chunks))


_worker_images: np.ndarray | None = None  # a worker's copy of the images, set once when it starts


def _start_worker(images: np.ndarray, threads: int) -> None:
    import torch

    global _worker_images
    _worker_images = images
    torch.set_num_threads(threads)


def _worker_chunk(chunk: Chunk, seed: int, batch_size: int) -> np.ndarray:
    assert _worker_images is not None, "worker started without its images"
    return corrupt_chunk(_worker_images, chunk, seed, batch_size)
