"""Data layer: uint8 NHWC arrays on disk, [0, 1] float NCHW tensors in memory.

- :func:`load_dataset` - ``synthetic`` (built-in, offline) or ``cifar10`` (official python folder)
- :class:`Cifar10CFolder` - a released-layout CIFAR-10-C folder, memory-mapped
- :class:`BatchLoader` - batches from one uint8 tensor on the device, crop + flip done batched

The names below are imported on first use (PEP 562), so ``specreg_cli.data.datasets`` (dataset specs,
the default folder) can be read without loading torch, as ``specreg --help`` does.
"""

import importlib

_HOMES = {
    "DATASET_CHOICES": "datasets",
    "DEFAULT_DATA_DIR": "datasets",
    "ImageSet": "datasets",
    "load_dataset": "datasets",
    "parse_dataset_spec": "datasets",
    "BatchLoader": "loader",
    "images_to_tensor": "loader",
    "to_float": "loader",
}
__all__ = list(_HOMES)


def __getattr__(name: str):
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)
