"""CIFAR-10-C zoom blur: the mean of the image and its centre zooms by 1.00 .. 1.25, in float32."""

from __future__ import annotations

import numpy as np
import torch

from corruptions._common import check_images, chunks, resolve_indices, severity_parameter
from corruptions.clipped_zoom import is_identity, zoom_planes, zoom_taps

# zoom factors per severity 1..5: the reference's np.arange(1, top, 0.01) (7, 12, 16, 21, 26 factors)
FACTORS = tuple(tuple(float(z) for z in np.arange(1, top, 0.01)) for top in (1.06, 1.11, 1.16, 1.21, 1.26))

_CPU_CHUNK = 64  # images per pass on the CPU: a float64 copy (1.5 MB) and its gathers stay in cache


def zoom_blur(
    images: torch.Tensor, severity: int, seed: int = 0, indices: torch.Tensor | None = None
) -> torch.Tensor:
    """Zoom blur, factors 1.00 to 1.06, 1.11, 1.15, 1.20, 1.25 (step .01) for severity 1..5.

    The reference (make_cifar_c.py), in float32 as it computes::

        u = (x / 255.).astype(np.float32)
        out = np.zeros_like(u)
        for z in factors:
            out += clipped_zoom(u, z)          # scipy.ndimage.zoom, order 1: double inside, float32 out
        return np.clip((u + out) / (len(factors) + 1), 0, 1) * 255

    ``clipped_zoom`` is :func:`corruptions.clipped_zoom.clipped_zoom` (scipy's arithmetic in double,
    then rounded to float32 as scipy's float32 output is); the sums and the division are float32, and
    the result is truncated to uint8. Factors with the same crop and output size give the same zoom,
    so each distinct zoom is computed once (14 for the 26 factors of severity 5). Deterministic:
    ``seed`` and ``indices`` are accepted for a uniform signature and ignored.

    Args:
        images: (N, 32, 32, 3) uint8 tensor, NHWC RGB, any device.
        severity: 1..5.
        seed, indices: ignored (deterministic corruption).
    Returns:
        (N, 32, 32, 3) uint8 tensor on the same device.

    Example:
        >>> x = torch.full((1, 32, 32, 3), 100, dtype=torch.uint8)
        >>> sorted(set(zoom_blur(x, severity=5).view(-1).tolist()))     # a constant image stays put
        [100]
    """
    factors = severity_parameter(FACTORS, severity)
    check_images(images)
    resolve_indices(indices, images.shape[0], images.device)  # checked for a uniform interface, unused
    out = torch.empty_like(images, memory_format=torch.contiguous_format)
    for part in chunks(images.shape[0], images.device, _CPU_CHUNK):
        x = images[part]
        n = x.shape[0]
        planes = x.permute(1, 2, 0, 3).reshape(32, 32, n * 3)  # rows first: see zoom_planes
        u32 = planes.to(torch.float64).div_(255).to(torch.float32)  # (x / 255.).astype(float32)
        u64 = u32.to(torch.float64)  # scipy reads float32 input as double
        total = torch.zeros_like(u32)
        zooms: dict[tuple, torch.Tensor] = {}  # factors of the same crop and output size zoom alike
        for z in factors:
            if is_identity(z):
                total += u32  # scipy returns the image itself (weights 1 and 0), as float32
                continue
            key = zoom_taps(z)
            if key not in zooms:
                zooms[key] = zoom_planes(u64, z).to(torch.float32)
            total += zooms[key]
        blurred = (u32 + total).div_(len(factors) + 1)
        blurred = blurred.clamp_(0, 1).mul_(255).to(torch.uint8)  # float32 * 255, truncation
        out[part] = blurred.view(32, 32, n, 3).permute(2, 0, 1, 3)
    return out
