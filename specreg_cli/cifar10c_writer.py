"""Write corrupted test images in the released CIFAR-10-C layout (what ``specreg corrupt`` does).

Layout (see ``/work/shared/spec/cifar10c.md``), for N clean test images:

- ``<name>.npy``: uint8 (5N, 32, 32, 3), five blocks of the N images in test-set order, severity 1 first
  (rows 0..N-1) and severity 5 last (rows 4N..5N-1);
- ``labels.npy``: the N labels tiled five times, (5N,) uint8 like the reference generator;
- ``corrupt.json``: provenance (seed, dataset identity, specreg version, arguments).

Every file is written atomically: a temporary file in the folder, renamed when complete. A ``.npy`` is
streamed: its header first, then each corrupted batch is appended as it is made, so memory holds one
batch (not 150 MB of images, nor float copies) whatever N is. Corruption files are written before
``labels.npy`` so an interrupted run never leaves a folder that looks complete.

Example::

    test = load_dataset("cifar10", "test")
    write_cifar10c("data/CIFAR-10-C", test.images, test.labels, ["fog"], seed=0)
    np.load("data/CIFAR-10-C/fog.npy").shape     # (50000, 32, 32, 3)
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

import corruptions
from corruptions import SEVERITIES
from specreg_cli.atomic import atomic_path, write_text_atomic

DEFAULT_BATCH_SIZE = 256  # images corrupted at once: the corruptions need ~0.25 MB of temporaries per image
SIDECAR_NAME = "corrupt.json"

ProgressFn = Callable[[int, int, str], None]  # (batches done, batches in total, what is being written)


def _npy_header(shape: tuple[int, ...]) -> dict:
    return {"descr": np.lib.format.dtype_to_descr(np.dtype(np.uint8)), "fortran_order": False, "shape": shape}


def write_corruption_file(
    path: str | Path,
    images: np.ndarray,
    name: str,
    seed: int = 0,
    batch_size: int = DEFAULT_BATCH_SIZE,
    on_batch: Callable[[int], None] | None = None,
) -> Path:
    """Write one ``<name>.npy``: uint8 (5N, 32, 32, 3), severity blocks 1..5, atomically; returns the path.

    ``images`` is uint8 (N, 32, 32, 3). Image i of severity s is ``corrupt(images[i:i+1], name, s, seed,
    start_index=i)`` byte for byte, whatever ``batch_size``. ``on_batch(severity)`` runs after each batch.
    """
    n = len(images)
    path = Path(path)
    with atomic_path(path) as tmp, tmp.open("wb") as fh:
        np.lib.format.write_array_header_1_0(fh, _npy_header((len(SEVERITIES) * n, *images.shape[1:])))
        for severity in SEVERITIES:
            for start in range(0, n, batch_size):
                batch = np.ascontiguousarray(images[start : start + batch_size])  # (B, 32, 32, 3) uint8
                out = corruptions.corrupt(batch, name, severity, seed=seed, start_index=start)
                fh.write(np.ascontiguousarray(out, dtype=np.uint8).data)
                if on_batch is not None:
                    on_batch(severity)
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
        progress: called after each batch with (done, total, status).
    """
    images, labels = np.asarray(images), np.asarray(labels)
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[1:] != (32, 32, 3):
        raise ValueError(f"images must be uint8 (N, 32, 32, 3), got {images.dtype} {images.shape}")
    if labels.shape != (len(images),) or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be ({len(images)},) integers, got {labels.dtype} {labels.shape}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    out_dir = Path(out_dir)
    total = len(names) * len(SEVERITIES) * -(-len(images) // batch_size)
    done = 0
    paths = []
    for name in names:

        def on_batch(severity: int, name: str = name) -> None:
            nonlocal done
            done += 1
            if progress is not None:
                progress(done, total, f"{name} s{severity}")

        paths.append(write_corruption_file(out_dir / f"{name}.npy", images, name, seed, batch_size, on_batch))
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
