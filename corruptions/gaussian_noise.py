"""CIFAR-10-C Gaussian noise: independent N(0, sigma) added to every value, seeded per image."""

from __future__ import annotations

import torch

from corruptions._common import check_images, chunks, resolve_indices, severity_parameter
from corruptions.normal import normals
from corruptions.seeding import stream_key

SIGMAS = (0.04, 0.06, 0.08, 0.09, 0.10)  # noise standard deviation (on [0, 1]) per severity 1..5

_VALUES = 32 * 32 * 3
_CPU_CHUNK = 128  # images per pass on the CPU: the float64 temporaries (3 MB each) stay in cache


def gaussian_noise(
    images: torch.Tensor, severity: int, seed: int = 0, indices: torch.Tensor | None = None
) -> torch.Tensor:
    """Gaussian noise, sigma = (.04, .06, .08, .09, .10) for severity 1..5: ``u + N(0, sigma)`` per value.

    The reference's ``np.uint8(clip(u + np.random.normal(size=u.shape, scale=c), 0, 1) * 255)``
    with ``u = x / 255`` in float64, in its order of operations (the noise is ``c * z``, then added).

    Randomness: value ``e = (h * 32 + w) * 3 + ch`` of image ``indices[i]`` takes ``z[i, e]`` of
    :func:`corruptions.normal.normals` for the stream ``(seed, "gaussian_noise", severity)``.

    Args:
        images: (N, 32, 32, 3) uint8 tensor, NHWC RGB, any device.
        severity: 1..5.
        seed: integer in ``[0, 2**64)``.
        indices: (N,) integer tensor, the dataset index of each image (default ``0..N-1``).
    Returns:
        (N, 32, 32, 3) uint8 tensor on the same device.

    Example:
        >>> x = torch.full((2, 32, 32, 3), 128, dtype=torch.uint8)
        >>> gaussian_noise(x, severity=1, seed=0).float().std().item() > 5    # sigma 0.04 = 10 levels
        True
    """
    return add_noise(images, severity, seed, indices, "gaussian_noise", severity_parameter(SIGMAS, severity))


def add_noise(
    images, severity, seed, indices, name: str, sigma: float, speckle: bool = False
) -> torch.Tensor:
    """``u + sigma * z`` (``speckle``: ``u + u * (sigma * z)``) with the seeded normals of ``name``."""
    check_images(images)
    indices = resolve_indices(indices, images.shape[0], images.device)
    key = stream_key(seed, name, severity)
    x = images.contiguous().view(images.shape[0], _VALUES)  # (N, 3072): HWC order, the counter order
    out = torch.empty_like(x)
    for part in chunks(x.shape[0], x.device, _CPU_CHUNK):
        noise = normals(key, indices[part], _VALUES).mul_(sigma)  # (n, 3072) float64: c * z
        u = x[part].to(torch.float64).div_(255)
        if speckle:
            noise.mul_(u)  # u * (c * z), the reference's x * normal(scale=c)
        out[part] = u.add_(noise).clamp_(0, 1).mul_(255).to(torch.uint8)  # truncation, as np.uint8
    return out.view(images.shape)
