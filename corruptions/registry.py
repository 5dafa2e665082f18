"""Name -> corruption function, and :func:`corrupt`, the one entry point for numpy or torch images."""

from __future__ import annotations

import operator
from collections.abc import Callable

import numpy as np
import torch

from corruptions._common import SEVERITIES, check_images, check_severity
from corruptions.brightness import brightness
from corruptions.contrast import contrast
from corruptions.fog import fog
from corruptions.gaussian_noise import gaussian_noise
from corruptions.impulse_noise import impulse_noise
from corruptions.jpeg_compression import jpeg_compression
from corruptions.pixelate import pixelate
from corruptions.saturate import saturate
from corruptions.seeding import MAX_INDEX, check_seed
from corruptions.shot_noise import shot_noise
from corruptions.speckle_noise import speckle_noise

# fn(images (N, 32, 32, 3) uint8 tensor, severity 1..5, seed, indices (N,) int64) -> uint8 tensor
CorruptionFn = Callable[[torch.Tensor, int, int, torch.Tensor], torch.Tensor]

# Built from the functions, so a name can't drift from its implementation.
REGISTRY: dict[str, CorruptionFn] = {
    fn.__name__: fn
    for fn in (
        impulse_noise,
        fog,
        contrast,
        brightness,
        saturate,
        jpeg_compression,
        pixelate,
        gaussian_noise,
        shot_noise,
        speckle_noise,
    )
}
CORRUPTIONS: tuple[str, ...] = tuple(REGISTRY)  # what this package can generate

# The released CIFAR-10-C file stems, in the order of the reference generator (hendrycks/robustness,
# make_cifar_c.py): the 15 benchmark corruptions, whose mean (and mCE) is "CIFAR-10-C" in the paper's
# tables, then the 4 extra ones that Hendrycks & Dietterich (ICLR 2019) hold out for validation,
# so no benchmark mean includes them. The one definition of that split: everything else imports it.
BENCHMARK_CORRUPTIONS: tuple[str, ...] = (
    "gaussian_noise",
    "shot_noise",
    "impulse_noise",
    "defocus_blur",
    "glass_blur",
    "motion_blur",
    "zoom_blur",
    "snow",
    "frost",
    "fog",
    "brightness",
    "contrast",
    "elastic_transform",
    "pixelate",
    "jpeg_compression",
)
EXTRA_CORRUPTIONS: tuple[str, ...] = ("speckle_noise", "gaussian_blur", "spatter", "saturate")
RELEASED_CORRUPTIONS: tuple[str, ...] = BENCHMARK_CORRUPTIONS + EXTRA_CORRUPTIONS


def get_corruption(name: str) -> CorruptionFn:
    """The corruption function called ``name``; ValueError naming the valid choices otherwise.

    Example:
        >>> get_corruption("fog").__name__
        'fog'
    """
    if isinstance(name, str) and name in REGISTRY:
        return REGISTRY[name]
    choices = ", ".join(CORRUPTIONS)
    if name in RELEASED_CORRUPTIONS:
        raise ValueError(
            f"corruption {name!r} is part of CIFAR-10-C but not implemented here; choose one of: {choices}"
        )
    raise ValueError(f"unknown corruption {name!r}; choose one of: {choices}")


def corrupt(images, name: str, severity: int, seed: int = 0, start_index: int = 0):
    """Corrupt a batch of CIFAR images, reproducibly: one image's bytes depend only on
    ``(seed, name, severity, start_index + i)``, whatever the batch size, order or device.

    Args:
        images: uint8 (N, 32, 32, 3) NHWC RGB, a numpy array or a torch tensor on any device.
        name: one of :data:`CORRUPTIONS` ("impulse_noise", "fog", "contrast").
        severity: 1..5.
        seed: integer in ``[0, 2**64)`` (contrast is deterministic and ignores it).
        start_index: dataset index of ``images[0]``; image ``i`` is index ``start_index + i``.
    Returns:
        The corrupted images: same type, dtype, shape (and device, for a tensor). The input is not
        modified.
    Raises:
        ValueError: unknown name, severity outside 1..5, seed or start_index out of range, images
            not uint8 (N, 32, 32, 3).

    Example:
        >>> x = np.zeros((4, 32, 32, 3), dtype=np.uint8)
        >>> y = corrupt(x, "impulse_noise", severity=3, seed=0)
        >>> np.array_equal(y[2:], corrupt(x[2:], "impulse_noise", 3, seed=0, start_index=2))
        True
    """
    fn = get_corruption(name)
    severity = check_severity(severity)
    seed = check_seed(seed)
    start = _check_start_index(start_index)
    if isinstance(images, np.ndarray):
        tensor = _numpy_to_tensor(images)
    elif isinstance(images, torch.Tensor):
        tensor = images
    else:
        raise ValueError(f"images must be a numpy array or a torch tensor, got {type(images).__name__}")
    check_images(tensor)
    n = tensor.shape[0]
    if start + n - 1 > MAX_INDEX:
        raise ValueError(f"start_index + N must not exceed 2**62, got {start} + {n}")
    indices = torch.arange(start, start + n, dtype=torch.int64, device=tensor.device)
    out = fn(tensor, severity, seed, indices)
    return out.numpy() if isinstance(images, np.ndarray) else out


def _check_start_index(start_index) -> int:
    """Return ``start_index`` as a non-negative int, or raise ValueError."""
    if not isinstance(start_index, bool):
        try:
            start = operator.index(start_index)
        except TypeError:
            pass
        else:
            if start >= 0:
                return start
    raise ValueError(f"start_index must be a non-negative integer, got {start_index!r}")


def _numpy_to_tensor(images: np.ndarray) -> torch.Tensor:
    """A CPU tensor sharing memory with ``images`` where possible (never written to)."""
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[1:] != (32, 32, 3):
        raise ValueError(
            f"images must be uint8 with shape (N, 32, 32, 3) (NHWC, RGB); "
            f"got {images.dtype} with shape {images.shape}"
        )
    if not images.flags.writeable or not images.flags.c_contiguous:
        images = np.array(images, order="C")  # torch.from_numpy warns on read-only arrays
    return torch.from_numpy(images)


__all__ = [
    "BENCHMARK_CORRUPTIONS",
    "CORRUPTIONS",
    "EXTRA_CORRUPTIONS",
    "RELEASED_CORRUPTIONS",
    "REGISTRY",
    "SEVERITIES",
    "corrupt",
    "get_corruption",
]
