"""Write corrupted test images in the released CIFAR-10-C layout (what ``specreg corrupt`` does).

Layout (see ``/work/shared/spec/cifar10c.md``), for N clean test images:

- ``<name>.npy``: uint8 (5N, 32, 32, 3), five blocks of the N images in test-set order, severity 1 first
  (rows 0..N-1) and severity 5 last (rows 4N..5N-1);
- ``labels.npy``: the N labels tiled five times, (5N,) uint8 like the reference generator;
- ``corrupt.json``: provenance (seed, dataset identity, specreg version, arguments).

Every file is written atomically: a temporary file in the folder, renamed when complete. A ``.npy`` is
streamed: its header first, then each corrupted chunk (``CHUNK_BATCHES`` batches) is appended as it
comes, so memory holds a chunk per worker (not 150 MB of images, nor float copies) whatever N is.
``jobs`` > 1 corrupts chunks in that many worker processes (:mod:`specreg_cli.corruption_pool`), with
the same bytes. Corruption files are written before ``labels.npy`` so an interrupted run never leaves a
folder that looks complete.

Example::

    test = load_dataset("cifar10", "test")
    write_cifar10c("data/CIFAR-10-C", test.images, test.labels, ["fog"], seed=0)
    np.load("data/CIFAR-10-C/fog.npy").shape     # (50000, 32, 32, 3)
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np

from corruptions import SEVERITIES
from specreg_cli.atomic import atomic_path, write_text_atomic
from specreg_cli.cores import available_cores
from specreg_cli.corruption_pool import Chunk, corrupted_chunks

DEFAULT_BATCH_SIZE = 256  # images corrupted at once: the corruptions need ~0.25 MB of temporaries per image
CHUNK_BATCHES = 4  # batches per chunk: the unit handed to a worker process (about 3 MB of images)
# two workers cost about 8 s before they are up to speed (importing torch, the first call of every
# corruption), measured; one process corrupts ~5,000 images/s (950,000 in 185 s), so two workers only
# win from about 80,000 corrupted images on (1.1x at 90,000, 1.3x at 180,000, 1.8x at 950,000)
PARALLEL_FROM = 100_000
SIDECAR_NAME = "corrupt.json"

ProgressFn = Callable[[int, int, str], None]  # (chunks done, chunks in total, what is being written)


def default_jobs(corrupted_images: int) -> int:
    """Worker processes for a job of this many corrupted images (names x severities x images): every
    usable core when the job is big enough to repay starting them, else 1 (in this process)."""
    return available_cores() if corrupted_images >= PARALLEL_FROM else 1


def _npy_header(shape: tuple[int, ...]) -> dict:
    return {"descr": np.lib.format.dtype_to_descr(np.dtype(np.uint8)), "fortran_order": False, "shape": shape}


def severity_chunks(name: str, n: int, batch_size: int = DEFAULT_BATCH_SIZE) -> list[Chunk]:
    """The chunks of one ``<name>.npy`` in file order: severity 1..5, each in runs of whole batches."""
    step = batch_size * CHUNK_BATCHES
    return [Chunk(name, s, start, min(start + step, n)) for s in SEVERITIES for start in range(0, n, step)]


def write_corruption_file(
    path: str | Path,
    chunks: Sequence[Chunk],
    corrupted: Iterator[np.ndarray],
    image_shape: tuple[int, ...],
    on_chunk: Callable[[Chunk], None] | None = None,
) -> Path:
    """Write one ``<name>.npy`` from ``severity_chunks``' chunks, taking each chunk's uint8 images from
    ``corrupted`` as they come, atomically; returns the path. ``on_chunk(chunk)`` runs after each chunk."""
    n_rows = sum(chunk.stop - chunk.start for chunk in chunks)
    path = Path(path)
    with atomic_path(path) as tmp, tmp.open("wb") as fh:
        np.lib.format.write_array_header_1_0(fh, _npy_header((n_rows, *image_shape)))
        for chunk in chunks:
            fh.write(next(corrupted).data)
            if on_chunk is not None:
                on_chunk(chunk)
    return path


def write_labels_file(path: str | Path, labels: np.ndarray) -> Path:
    """Write ``labels.npy``: the N labels tiled five times, (5N,) uint8, atomically."""
    labels = np.asarray(labels)
    if labels.size and (labels.min() < 0 or labels.max() > 255):
        raise ValueError("labels must fit in uint8 (0..255)")
    with atomic_path(path) as tmp, tmp.open("wb") as fh:
        np.save(fh, np.tile(labels.astype(np.uint8), len(SEVERITIES)), allow_pickle=False)
    return Path(path)


def write_cifar10c(
    out_dir: str | Path,
    images: np.ndarray,
    labels: np.ndarray,
    names: Sequence[str],
    seed: int = 0,
    batch_size: int = DEFAULT_BATCH_SIZE,
    provenance: dict | None = None,
    progress: ProgressFn | None = None,
    jobs: int = 1,
    threads: int = 1,
) -> list[Path]:
    """Write a CIFAR-10-C folder from clean test images; returns the written paths.

    Args:
        out_dir: the folder (created if missing); files of the same names are replaced.
        images: uint8 (N, 32, 32, 3) clean test images, in test-set order.
        labels: (N,) integer labels.
        names: corruptions to write (each must be in ``corruptions.CORRUPTIONS``).
        seed: corruption seed; the same seed writes the same bytes.
        batch_size: images corrupted at once (default 256); the bytes don't depend on it.
        provenance: written to ``corrupt.json`` (e.g. :func:`specreg_cli.results.provenance`'s dict).
        progress: called after each chunk (``CHUNK_BATCHES`` batches) with (done, total, status).
        jobs: worker processes corrupting chunks at once (1: in this process); the bytes don't depend on it.
            Workers are spawned: a script passing ``jobs`` > 1 needs the ``if __name__ == "__main__":``
            guard.
        threads: torch threads of each worker (with ``jobs`` > 1).
    """
    images, labels = np.asarray(images), np.asarray(labels)
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[1:] != (32, 32, 3):
        raise ValueError(f"images must be uint8 (N, 32, 32, 3), got {images.dtype} {images.shape}")
    if labels.shape != (len(images),) or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be ({len(images)},) integers, got {labels.dtype} {labels.shape}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    out_dir = Path(out_dir)
    files = {name: severity_chunks(name, len(images), batch_size) for name in names}
    every_chunk = [chunk for chunks in files.values() for chunk in chunks]
    corrupted = corrupted_chunks(images, every_chunk, seed, batch_size, jobs, threads)
    done = 0

    def on_chunk(chunk: Chunk) -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, len(every_chunk), f"{chunk.name} s{chunk.severity}")

    try:
        paths = [
            write_corruption_file(out_dir / f"{name}.npy", chunks, corrupted, images.shape[1:], on_chunk)
            for name, chunks in files.items()
        ]
    finally:
        corrupted.close()  # on an error: cancel what the workers have not started, and stop them
    paths.append(write_labels_file(out_dir / "labels.npy", labels))
    sidecar = {
        "layout": "cifar10-c",
        "n": len(images),
        "severities": list(SEVERITIES),
        "corruptions": list(names),
        "seed": seed,
        **(provenance or {}),
    }
    write_text_atomic(out_dir / SIDECAR_NAME, json.dumps(sidecar, indent=1, sort_keys=True) + "\n")
    paths.append(out_dir / SIDECAR_NAME)
    return paths
