"""CIFAR-10-C Gaussian blur (an extra): scipy's gaussian_filter over height and width, 'nearest' edges."""

from __future__ import annotations

import torch

from corruptions._common import check_images, chunks, resolve_indices, severity_parameter
from corruptions.gaussian_filter import gaussian_filter

SIGMAS = (0.4, 0.6, 0.7, 0.8, 1.0)  # filter standard deviation in pixels per severity 1..5

_CPU_CHUNK = 128  # images per pass on the CPU: the float64 copies (3 MB each) stay in cache


def gaussian_blur(
    images: torch.Tensor, severity: int, seed: int = 0, indices: torch.Tensor | None = None
) -> torch.Tensor:
    """Gaussian blur, sigma = (.4, .6, .7, .8, 1) for severity 1..5, over height and width, 'nearest' edges.

    The reference's ``np.uint8(clip(skimage.filters.gaussian(u, sigma=c, multichannel=True), 0, 1) * 255)``
    with ``u = x / 255``: skimage calls ``scipy.ndimage.gaussian_filter(u, (c, c, 0), mode='nearest',
    truncate=4.0)``, which :func:`corruptions.gaussian_filter.gaussian_filter` reproduces bit for bit.
    Deterministic: ``seed`` and ``indices`` are accepted for a uniform signature and ignored.

    Args:
        images: (N, 32, 32, 3) uint8 tensor, NHWC RGB, any device.
        severity: 1..5.
        seed, indices: ignored (deterministic corruption).
    Returns:
        (N, 32, 32, 3) uint8 tensor on the same device.

    Example:
        >>> x = torch.full((1, 32, 32, 3), 200, dtype=torch.uint8)
        >>> int(gaussian_blur(x, severity=5).min()) >= 199     # a constant image stays (nearly) constant
        True
    """
    sigma = severity_parameter(SIGMAS, severity)
    check_images(images)
    resolve_indices(indices, images.shape[0], images.device)  # checked for a uniform interface, unused
    out = torch.empty_like(images, memory_format=torch.contiguous_format)
    for part in chunks(images.shape[0], images.device, _CPU_CHUNK):
        u = images[part].to(torch.float64).div_(255)
        out[part] = gaussian_filter(u, sigma).clamp_(0, 1).mul_(255).to(torch.uint8)  # truncation
    return out
