"""Datasets by name: ``synthetic`` (the built-in offline default) and ``cifar10``.

A dataset is named by a spec string, the value of ``--dataset``:

- ``synthetic`` - the built-in procedural 10-class dataset: 5,000 train / 2,000 test images, seed 0;
  ``synthetic:train=20000,test=10000,seed=1`` changes sizes and seed.
- ``cifar10`` - the official python-version folder under ``--data-dir`` (``--download`` fetches it).

Every split comes back as an :class:`ImageSet`: uint8 (N, 32, 32, 3) images, int64 (N,) labels and an
``identity`` dict (name, split, size, content hash) that results carry, so two results can tell
whether they were measured on the same images.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from specreg_cli.data.cifar10 import read_cifar10
from specreg_cli.errors import SpecregError

DATASET_CHOICES = ("synthetic", "cifar10")
SPLITS = ("train", "test")
SYNTHETIC_DEFAULTS = {"train": 5000, "test": 2000, "seed": 0}  # images per split; generator seed
DEFAULT_DATA_DIR = Path("data")


@dataclass(frozen=True)
class ImageSet:
    images: np.ndarray  # (N, 32, 32, 3) uint8
    labels: np.ndarray  # (N,) int64
    identity: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, n: int | None) -> ImageSet:
        """The first ``n`` examples (all when ``n`` is None), with the size recorded in the identity."""
        if n is None or n >= len(self):
            return self
        if n < 1:
            raise SpecregError(f"--n-examples must be at least 1, got {n}")
        return ImageSet(self.images[:n], self.labels[:n], {**self.identity, "n": n, "first_n_of": len(self)})


def parse_dataset_spec(spec: str) -> tuple[str, dict[str, int]]:
    """``"synthetic:train=100,test=50"`` -> ``("synthetic", {"train": 100, "test": 50, "seed": 0})``."""
    name, _, options_text = str(spec).partition(":")
    if name not in DATASET_CHOICES:
        raise SpecregError(f"unknown dataset {name!r}", hint=f"valid choices: {', '.join(DATASET_CHOICES)}")
    if name != "synthetic":
        if options_text:
            raise SpecregError(f"dataset {name!r} takes no options, got {spec!r}")
        return name, {}
    options = dict(SYNTHETIC_DEFAULTS)
    for item in filter(None, options_text.split(",")):
        key, _, value = item.partition("=")
        if key not in SYNTHETIC_DEFAULTS or not value.strip().isdigit():
            raise SpecregError(
                f"bad synthetic dataset option {item!r}",
                hint="e.g. --dataset synthetic:train=5000,test=2000,seed=0",
            )
        options[key] = int(value)
    if options["train"] < 1 or options["test"] < 1:
        raise SpecregError("synthetic train and test sizes must be at least 1")
    return name, options


def content_hash(images: np.ndarray, labels: np.ndarray) -> str:
    """First 16 hex digits of the SHA-256 of the images and labels bytes."""
    digest = hashlib.sha256(np.ascontiguousarray(images).data)
    digest.update(np.ascontiguousarray(labels, dtype=np.int64).data)
    return digest.hexdigest()[:16]


def load_dataset(
    spec: str, split: str, data_dir: str | Path | None = None, download: bool = False
) -> ImageSet:
    """Load one split (``"train"`` or ``"test"``) of the dataset named by ``spec``."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    name, options = parse_dataset_spec(spec)
    if name == "synthetic":
        from specreg_cli.data.synthetic import make_synthetic

        images, labels = make_synthetic(options[split], seed=options["seed"], split=split)
        identity = {"name": "synthetic", "seed": options["seed"]}
    else:
        root = Path(data_dir or DEFAULT_DATA_DIR).expanduser().resolve()
        images, labels = read_cifar10(root, split, download=download)
        identity = {"name": "cifar10", "path": str(root)}
    identity.update(split=split, n=len(labels), sha256=content_hash(images, labels))
    return ImageSet(images, labels.astype(np.int64), identity)
