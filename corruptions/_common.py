"""Shared checks and batching for the corruption functions (argument validation, chunk bounds)."""

from __future__ import annotations

import operator
from collections.abc import Iterator, Sequence

import torch

SEVERITIES = (1, 2, 3, 4, 5)
IMAGE_SHAPE = (32, 32, 3)  # (H, W, C): CIFAR, RGB


def check_severity(severity) -> int:
    """Return ``severity`` as an int in 1..5, or raise ValueError."""
    if not isinstance(severity, bool):
        try:
            severity = operator.index(severity)
        except TypeError:
            pass
        else:
            if severity in SEVERITIES:
                return severity
    raise ValueError(f"severity must be one of 1, 2, 3, 4, 5; got {severity!r}")


def severity_parameter(table: Sequence, severity) -> object:
    """The entry of a five-entry parameter table for ``severity`` (1..5); ValueError otherwise."""
    return table[check_severity(severity) - 1]


def check_images(images: torch.Tensor) -> None:
    """Raise ValueError unless ``images`` is a uint8 (N, 32, 32, 3) tensor (NHWC, RGB)."""
    if images.dtype != torch.uint8 or images.ndim != 4 or tuple(images.shape[1:]) != IMAGE_SHAPE:
        raise ValueError(
            "images must be uint8 with shape (N, 32, 32, 3) (NHWC, RGB); "
            f"got {str(images.dtype).replace('torch.', '')} with shape {tuple(images.shape)}"
        )


def resolve_indices(indices: torch.Tensor | None, n: int, device: torch.device) -> torch.Tensor:
    """Dataset indices as an (n,) int64 tensor on ``device``; ``None`` means ``0..n-1``.

    Raises ValueError unless ``indices`` is None or a 1-D integer tensor of length ``n``.
    """
    if indices is None:
        return torch.arange(n, dtype=torch.int64, device=device)
    if not isinstance(indices, torch.Tensor) or indices.is_floating_point() or indices.shape != (n,):
        raise ValueError(f"indices must be a 1-D integer tensor with one dataset index per image ({n})")
    return indices.to(device=device, dtype=torch.int64)


def chunks(n: int, device: torch.device, cpu_size: int, gpu_size: int = 8192) -> Iterator[slice]:
    """Slices of ``range(n)`` of at most ``cpu_size`` (CPU: the work stays in cache) or ``gpu_size``."""
    size = cpu_size if device.type == "cpu" else gpu_size
    for lo in range(0, n, size):
        yield slice(lo, min(lo + size, n))
