"""Data layer: uint8 NHWC arrays on disk, [0, 1] float NCHW tensors in memory.

- :func:`load_dataset` - ``synthetic`` (built-in, offline) or ``cifar10`` (official python folder)
- :class:`Cifar10CFolder` - a released-layout CIFAR-10-C folder, memory-mapped
- :class:`BatchLoader` - batches from one uint8 tensor on the device, crop + flip done batched
"""

from specreg_cli.data.datasets import (
    DATASET_CHOICES,
    DEFAULT_DATA_DIR,
    ImageSet,
    load_dataset,
    parse_dataset_spec,
)
from specreg_cli.data.loader import BatchLoader, images_to_tensor, to_float

__all__ = [
    "DATASET_CHOICES",
    "DEFAULT_DATA_DIR",
    "ImageSet",
    "load_dataset",
    "parse_dataset_spec",
    "BatchLoader",
    "images_to_tensor",
    "to_float",
]
