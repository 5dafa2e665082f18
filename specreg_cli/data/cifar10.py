"""CIFAR-10, python version: the official ``cifar-10-batches-py`` folder.

Layout (https://www.cs.toronto.edu/~kriz/cifar.html): ``data_batch_1`` .. ``data_batch_5`` and
``test_batch``, each a pickle of a dict with ``b"data"`` (10000, 3072) uint8 in CHW order and
``b"labels"`` (10000,) ints. We read that documented format ourselves (torchvision's ``CIFAR10``
insists on the official MD5 sums, which small test-written folders can't have). ``--download`` goes
through :mod:`specreg_cli.data.download`, like CIFAR-10-C: streamed, resumable, MD5-checked, unpacked
atomically (the folder appears whole or not at all), members checked before extraction.

A batch file is untrusted input: plain ``pickle.load`` would run any code a crafted file carries. It is
read with :class:`BatchUnpickler`, which builds only containers, strings, numbers and numpy arrays.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from specreg_cli.data.download import Archive, fetch_folder
from specreg_cli.errors import SpecregError

FOLDER = "cifar-10-batches-py"
TRAIN_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_FILES = ("test_batch",)
URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
ARCHIVE_MD5 = "c58f30108f718f92721af3b95e74349a"  # published on that page (and torchvision's CIFAR10)
ARCHIVE = Archive(URL, ARCHIVE_MD5, "cifar-10-python.tar.gz", FOLDER)


def download_cifar10(data_dir: Path, archive: Archive | None = None) -> None:
    """Fetch the official archive into ``data_dir`` and unpack its ``cifar-10-batches-py`` folder there."""
    data_dir = Path(data_dir).expanduser().resolve()
    fetch_folder(archive or ARCHIVE, data_dir, data_dir / FOLDER, validate=_has_every_batch)


def _has_every_batch(folder: Path) -> None:
    missing = [f for f in TRAIN_FILES + TEST_FILES if not (folder / f).is_file()]
    if missing:
        raise SpecregError(f"the CIFAR-10 archive lacks {', '.join(missing)}", hint="is it the official one?")


# The only globals a CIFAR-10 batch needs: numpy's array and dtype reconstructors (numpy 1 and 2 names).
ALLOWED_GLOBALS = frozenset(
    {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.numeric", "_frombuffer"),
        ("numpy._core.numeric", "_frombuffer"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
    }
)


class BatchUnpickler(pickle.Unpickler):
    """Unpickles dicts, lists, bytes, str, numbers and numpy arrays; any other global is refused, so a
    crafted file can't call a function while it is read."""

    def find_class(self, module: str, name: str):
        if (module, name) in ALLOWED_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"global {module}.{name} is not allowed in a CIFAR-10 batch")


def _read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        with path.open("rb") as fh:
            entry = BatchUnpickler(fh, encoding="bytes").load()
        if not isinstance(entry, dict) or not isinstance(entry.get(b"data"), np.ndarray):
            raise TypeError("not a dict with a b'data' array")
        if entry[b"data"].dtype != np.uint8:
            raise TypeError(f"data of dtype {entry[b'data'].dtype}, expected uint8")
        data = np.asarray(entry[b"data"], dtype=np.uint8)
        labels = np.asarray(entry.get(b"labels", entry.get(b"fine_labels")), dtype=np.int64)
    except Exception as exc:
        raise SpecregError(
            f"{path} is not a CIFAR-10 python batch ({exc.__class__.__name__})",
            hint="re-download with --download",
        ) from None
    if labels.ndim != 1 or len(labels) and (labels.min() < 0 or labels.max() > 9):
        raise SpecregError(f"{path} has labels outside 0..9", hint="re-download with --download")
    if data.ndim != 2 or data.shape[1] != 3072 or len(labels) != len(data):
        raise SpecregError(
            f"{path} has data of shape {data.shape}, expected (N, 3072) with N labels",
            hint="re-download with --download",
        )
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), labels  # (N, 32, 32, 3) uint8


def read_cifar10(data_dir: Path, split: str, download: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """uint8 (N, 32, 32, 3) images and int64 labels of the train (50,000) or test (10,000) split."""
    folder = Path(data_dir) / FOLDER
    files = TRAIN_FILES if split == "train" else TEST_FILES
    if download and not all((folder / f).exists() for f in files):
        download_cifar10(Path(data_dir))
    missing = [f for f in files if not (folder / f).exists()]
    if missing:
        raise SpecregError(
            f"CIFAR-10 not found: {folder} lacks {', '.join(missing)}",
            hint="add --download, or point --data-dir at the folder holding cifar-10-batches-py",
        )
    parts = [_read_batch(folder / f) for f in files]
    images = np.ascontiguousarray(np.concatenate([p[0] for p in parts]))
    return images, np.concatenate([p[1] for p in parts])
