"""CIFAR-10-C saturate (an extra): scale and shift the HSV saturation, bit-identical to the reference."""

from __future__ import annotations

import torch

from corruptions._common import check_images, resolve_indices, severity_parameter
from corruptions.hsv import adjust_in_hsv

# (scale, shift) of S (HSV saturation, in [0, 1]) per severity 1..5: 1 and 2 desaturate, 3..5 saturate
PARAMETERS = ((0.3, 0.0), (0.1, 0.0), (1.5, 0.0), (2.0, 0.1), (2.5, 0.2))


def saturate(
    images: torch.Tensor, severity: int, seed: int = 0, indices: torch.Tensor | None = None
) -> torch.Tensor:
    """Saturate, (scale, shift) = (.3, 0), (.1, 0), (1.5, 0), (2, .1), (2.5, .2) for severity 1..5.

    HSV saturation ``S -> clip(S * scale + shift, 0, 1)``. The reference (``make_cifar_c.py``) converts
    ``u = x / 255`` with ``skimage.color.rgb2hsv``, changes S, converts back with ``hsv2rgb`` and
    returns ``uint8(clip(rgb, 0, 1) * 255)``; :mod:`corruptions.hsv` repeats skimage's float64
    operations, so the result is the reference's bit for bit (tested against scikit-image). A grey
    pixel has H = 0 (red), so a positive shift tints grey pixels red, as in the reference.
    Deterministic: ``seed`` and ``indices`` are accepted for a uniform signature and ignored.

    Args:
        images: (N, 32, 32, 3) uint8 tensor, NHWC RGB, any device.
        severity: 1..5.
        seed, indices: ignored (deterministic corruption).
    Returns:
        (N, 32, 32, 3) uint8 tensor on the same device.

    Example:
        >>> x = torch.tensor([200, 100, 100], dtype=torch.uint8).repeat(1024).view(1, 32, 32, 3)
        >>> saturate(x, severity=2)[0, 0, 0].tolist()       # S = 0.5 -> 0.05: nearly grey
        [200, 189, 189]
    """
    scale, shift = severity_parameter(PARAMETERS, severity)
    check_images(images)
    resolve_indices(indices, images.shape[0], images.device)  # checked for a uniform interface, unused

    def adjust(h: torch.Tensor, s: torch.Tensor, v: torch.Tensor) -> None:
        s.mul_(scale).add_(shift).clamp_(0, 1)

    return adjust_in_hsv(images, adjust)
