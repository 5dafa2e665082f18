"""CIFAR-10-C brightness: raise the HSV value, bit-identical to the float64 reference."""

from __future__ import annotations

import torch

from corruptions._common import check_images, resolve_indices, severity_parameter
from corruptions.hsv import adjust_in_hsv

SHIFTS = (0.05, 0.1, 0.15, 0.2, 0.3)  # added to V (HSV value, in [0, 1]) per severity 1..5


def brightness(
    images: torch.Tensor, severity: int, seed: int = 0, indices: torch.Tensor | None = None
) -> torch.Tensor:
    """Brightness, c = (.05, .1, .15, .2, .3) for severity 1..5: HSV value ``V -> clip(V + c, 0, 1)``.

    The reference (``make_cifar_c.py``) converts ``u = x / 255`` with ``skimage.color.rgb2hsv``, sets
    ``V = clip(V + c, 0, 1)``, converts back with ``hsv2rgb`` and returns
    ``uint8(clip(rgb, 0, 1) * 255)``. :mod:`corruptions.hsv` repeats skimage's float64 operations, so
    the result is the reference's bit for bit (tested against scikit-image). Deterministic: ``seed``
    and ``indices`` are accepted for a uniform signature and ignored.

    Args:
        images: (N, 32, 32, 3) uint8 tensor, NHWC RGB, any device.
        severity: 1..5.
        seed, indices: ignored (deterministic corruption).
    Returns:
        (N, 32, 32, 3) uint8 tensor on the same device.

    Example:
        >>> x = torch.full((1, 32, 32, 3), 100, dtype=torch.uint8)       # grey: V = 100/255
        >>> brightness(x, severity=5)[0, 0, 0].tolist()                   # V + 0.3, still grey
        [176, 176, 176]
    """
    c = severity_parameter(SHIFTS, severity)
    check_images(images)
    resolve_indices(indices, images.shape[0], images.device)  # checked for a uniform interface, unused

    def adjust(h: torch.Tensor, s: torch.Tensor, v: torch.Tensor) -> None:
        v.add_(c).clamp_(0, 1)

    return adjust_in_hsv(images, adjust)
