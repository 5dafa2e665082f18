"""CIFAR-10-C speckle noise (an extra): multiplicative Gaussian noise ``u + u * N(0, sigma)``, seeded."""

from __future__ import annotations

import torch

from corruptions._common import severity_parameter
from corruptions.gaussian_noise import add_noise

SIGMAS = (0.06, 0.10, 0.12, 0.16, 0.20)  # standard deviation of the multiplicative noise per severity 1..5


def speckle_noise(
    images: torch.Tensor, severity: int, seed: int = 0, indices: torch.Tensor | None = None
) -> torch.Tensor:
    """Speckle noise, sigma = (.06, .10, .12, .16, .20) for severity 1..5: ``u + u * N(0, sigma)`` per value.

    The reference's ``np.uint8(clip(u + u * np.random.normal(size=u.shape, scale=c), 0, 1) * 255)``
    with ``u = x / 255`` in float64, in its order of operations. Randomness as in
    :func:`corruptions.gaussian_noise.gaussian_noise`, from the stream ``(seed, "speckle_noise", severity)``.

    Args:
        images: (N, 32, 32, 3) uint8 tensor, NHWC RGB, any device.
        severity: 1..5.
        seed: integer in ``[0, 2**64)``.
        indices: (N,) integer tensor, the dataset index of each image (default ``0..N-1``).
    Returns:
        (N, 32, 32, 3) uint8 tensor on the same device; black stays black.

    Example:
        >>> x = torch.zeros(1, 32, 32, 3, dtype=torch.uint8)
        >>> bool((speckle_noise(x, severity=5, seed=0) == 0).all())
        True
    """
    sigma = severity_parameter(SIGMAS, severity)
    return add_noise(images, severity, seed, indices, "speckle_noise", sigma, speckle=True)
