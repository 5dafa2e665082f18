"""Reader for a CIFAR-10-C folder (Hendrycks & Dietterich, 2019), the released layout.

One ``<corruption>.npy`` per corruption, uint8 (5N, 32, 32, 3): five blocks of the N test images in
test-set order, severity 1 first; and ``labels.npy``, the N test labels tiled five times (any integer
dtype). N is 10,000 for the official files; the reader accepts any N so that small test-written
folders use the same code path. Files are memory-mapped: selecting one (corruption, severity) block
reads only that block from disk, never a whole 150 MB file.

The released files (:data:`RELEASE`, 2.9 GB) are fetched by :func:`download_cifar10c`: streamed into
``--data-dir``, resumable, checked against the published MD5, unpacked atomically
(:mod:`specreg_cli.data.download`).

Example::

    folder = Cifar10CFolder("data/CIFAR-10-C")
    images, labels = folder.block("fog", severity=3)   # (10000, 32, 32, 3) uint8 memmap, (10000,) int64
    folder = open_cifar10c("data/CIFAR-10-C", download=True, data_dir="data")  # fetches it when missing
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from corruptions import RELEASED_CORRUPTIONS, SEVERITIES
from specreg_cli.data.download import Archive, ProgressFn, fetch_folder
from specreg_cli.errors import SpecregError

BLOCKS = len(SEVERITIES)  # severity blocks per file (and label tilings)
# The release: Zenodo record 2535967 (Hendrycks & Dietterich, "CIFAR-10-C"), file CIFAR-10-C.tar, which
# unpacks to CIFAR-10-C/ (labels.npy and the 19 <corruption>.npy). The MD5 is the one published for that
# file on the record's page (https://zenodo.org/record/2535967), not one computed here.
RELEASE = Archive(
    url="https://zenodo.org/record/2535967/files/CIFAR-10-C.tar",
    md5="56bf5dcef84df0e2308c6dcbcbbd8499",
    filename="CIFAR-10-C.tar",
    folder="CIFAR-10-C",
)


def _load_npy(path: Path) -> np.ndarray:
    try:
        return np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise SpecregError(
            f"{path} is not a readable .npy file ({exc})",
            hint="re-download CIFAR-10-C or regenerate it with `specreg corrupt`",
        ) from None


class Cifar10CFolder:
    """A validated CIFAR-10-C folder. Construction checks ``labels.npy``; each corruption file is checked
    (name, dtype, shape) the first time it is used."""

    def __init__(self, path: str | Path):
        self.path = Path(path).expanduser().resolve()
        if not self.path.is_dir():
            raise SpecregError(
                f"CIFAR-10-C folder {self.path} does not exist",
                hint="point --cifar10c-dir at the folder holding labels.npy and <corruption>.npy, or add "
                "--download to fetch the released files (2.9 GB) into it",
            )
        labels_path = self.path / "labels.npy"
        if not labels_path.exists():
            raise SpecregError(f"{labels_path} is missing", hint="a CIFAR-10-C folder holds labels.npy")
        labels = np.asarray(_load_npy(labels_path))
        if (
            labels.ndim != 1
            or labels.size == 0
            or labels.size % BLOCKS
            or not np.issubdtype(labels.dtype, np.integer)
        ):
            raise SpecregError(
                f"{labels_path} must be a 1-D integer array of {BLOCKS} x N labels, got "
                f"{labels.dtype} {labels.shape}"
            )
        if labels.min() < 0 or labels.max() > 9:
            raise SpecregError(f"{labels_path} holds labels outside 0..9")
        self.n = labels.size // BLOCKS  # test images per severity block
        blocks = labels.reshape(BLOCKS, self.n)
        if not (blocks == blocks[0]).all():
            raise SpecregError(f"{labels_path} is not the same N labels tiled {BLOCKS} times")
        self.labels = blocks[0].astype(np.int64)
        self._arrays: dict[str, np.ndarray] = {}

    def available(self) -> list[str]:
        """Released corruption names with a file in this folder, in the benchmark's order."""
        return [name for name in RELEASED_CORRUPTIONS if (self.path / f"{name}.npy").exists()]

    def array(self, name: str) -> np.ndarray:
        """The whole validated (5N, 32, 32, 3) uint8 memmap of one corruption."""
        if name not in RELEASED_CORRUPTIONS:
            raise SpecregError(
                f"unknown CIFAR-10-C corruption {name!r}",
                hint=f"valid choices: {', '.join(RELEASED_CORRUPTIONS)}",
            )
        if name not in self._arrays:
            path = self.path / f"{name}.npy"
            if not path.exists():
                have = ", ".join(self.available()) or "none"
                raise SpecregError(f"{path} is missing", hint=f"this folder has: {have}")
            array = _load_npy(path)
            if array.dtype != np.uint8 or array.shape != (BLOCKS * self.n, 32, 32, 3):
                raise SpecregError(
                    f"{path} is {array.dtype} {array.shape}, expected uint8 "
                    f"{(BLOCKS * self.n, 32, 32, 3)} to match labels.npy"
                )
            self._arrays[name] = array
        return self._arrays[name]

    def block(self, name: str, severity: int) -> tuple[np.ndarray, np.ndarray]:
        """(images, labels) of one severity: a (N, 32, 32, 3) uint8 memmap slice and (N,) int64 labels."""
        if severity not in SEVERITIES:
            raise SpecregError(
                f"severity {severity} is not valid",
                hint=f"valid severities: {', '.join(map(str, SEVERITIES))}",
            )
        start = (severity - 1) * self.n
        return self.array(name)[start : start + self.n], self.labels

    def identity(self) -> dict:
        """What a result record says about where its images came from."""
        return {"name": "cifar10-c", "path": str(self.path), "n_per_severity": self.n}


def validate_folder(path: Path) -> Cifar10CFolder:
    """A :class:`Cifar10CFolder` with every corruption file in it checked (dtype and shape; headers only)."""
    folder = Cifar10CFolder(path)
    for name in folder.available():
        folder.array(name)
    unknown = sorted(
        p.name for p in folder.path.glob("*.npy") if p.stem not in (*RELEASED_CORRUPTIONS, "labels")
    )
    if unknown:
        raise SpecregError(f"{folder.path} holds files that are not CIFAR-10-C: {', '.join(unknown)}")
    return folder


def download_cifar10c(
    target: str | Path,
    data_dir: str | Path,
    progress: ProgressFn | None = None,
    release: Archive | None = None,
) -> Cifar10CFolder:
    """Fetch ``release`` into ``data_dir`` and unpack it as the folder ``target`` (see
    :func:`specreg_cli.data.download.fetch_folder`); the validated folder."""
    target = Path(target).expanduser().resolve()
    release = release or RELEASE  # read when called, so a test can point it at a local server
    fetch_folder(release, Path(data_dir).expanduser().resolve(), target, validate_folder, progress)
    return Cifar10CFolder(target)


def open_cifar10c(
    path: str | Path,
    download: bool = False,
    data_dir: str | Path = "data",
    progress: ProgressFn | None = None,
    release: Archive | None = None,
) -> Cifar10CFolder:
    """The folder at ``path``; with ``download``, the released one fetched there first when ``path`` holds
    no ``labels.npy`` (the archive goes through ``data_dir``)."""
    if download and not (Path(path).expanduser() / "labels.npy").exists():
        return download_cifar10c(path, data_dir, progress, release)
    return Cifar10CFolder(path)
