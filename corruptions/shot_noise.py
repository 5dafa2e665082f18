"""CIFAR-10-C shot noise: ``Poisson(u * lambda) / lambda`` per value, exact inverse-CDF draws, seeded."""

from __future__ import annotations

import functools

import numpy as np
import torch

from corruptions._common import check_images, chunks, resolve_indices, severity_parameter
from corruptions.seeding import random_words, stream_key

RATES = (500, 250, 100, 75, 50)  # photons per unit intensity, lambda, per severity 1..5

_VALUES = 32 * 32 * 3
_CPU_CHUNK = 128  # images per pass on the CPU


def shot_noise(
    images: torch.Tensor, severity: int, seed: int = 0, indices: torch.Tensor | None = None
) -> torch.Tensor:
    """Shot noise, lambda = (500, 250, 100, 75, 50) for severity 1..5: ``Poisson(u * lambda) / lambda``.

    The reference's ``np.uint8(clip(np.random.poisson(u * c) / c, 0, 1) * 255)``, ``u = x / 255``.
    The Poisson mean of a value depends only on its byte ``k`` (``(k / 255) * c``, 256 means), so the
    count is drawn by inverse CDF from one table per byte: ``X = #{m : T[k, m] <= w}`` with
    ``T[k, m] = round(P(Poisson((k / 255) * c) <= m) * 2**32)`` (float64 CDF, :func:`cdf_thresholds`)
    and ``w`` one random word, so ``P(X = m)`` is the Poisson probability to within ``2**-32``.
    Counts of ``c`` and more all give 255, so the table stops at ``m = c - 1``.

    Randomness: value ``e = (h * 32 + w) * 3 + ch`` of image ``indices[i]`` uses word ``w[i, e]`` of
    :func:`corruptions.seeding.random_words` for the stream ``(seed, "shot_noise", severity)``.

    Args:
        images: (N, 32, 32, 3) uint8 tensor, NHWC RGB, any device.
        severity: 1..5.
        seed: integer in ``[0, 2**64)``.
        indices: (N,) integer tensor, the dataset index of each image (default ``0..N-1``).
    Returns:
        (N, 32, 32, 3) uint8 tensor on the same device; black stays black.

    Example:
        >>> x = torch.full((2, 32, 32, 3), 128, dtype=torch.uint8)
        >>> y = shot_noise(x, severity=5, seed=0)            # Poisson(25.1) / 50: std ~ 0.1 = 25 levels
        >>> 15 < y.float().std().item() < 35
        True
    """
    c = severity_parameter(RATES, severity)
    check_images(images)
    indices = resolve_indices(indices, images.shape[0], images.device)
    key = stream_key(seed, "shot_noise", severity)
    thresholds, levels = (torch.from_numpy(a).to(images.device) for a in _tables(c))
    x = images.contiguous().view(images.shape[0], _VALUES)  # (N, 3072): HWC order, the counter order
    out = torch.empty_like(x)
    for part in chunks(x.shape[0], x.device, _CPU_CHUNK):
        words = random_words(key, indices[part], _VALUES)  # (n, 3072) int64 in [0, 2**32)
        k = x[part].to(torch.int64)
        # table k occupies [k * 2**32, (k + 1) * 2**32) of the flat sorted thresholds: one search for all
        position = torch.searchsorted(thresholds, words.add_(k << 32), right=True)
        counts = position.sub_(k * c)  # (n, 3072): X = #{m : T[k, m] <= w}, in 0..c
        out[part] = levels[counts]
    return out.view(images.shape)


@functools.lru_cache(maxsize=len(RATES))
def _tables(c: int) -> tuple[np.ndarray, np.ndarray]:
    """Flat thresholds ``k * 2**32 + T[k, m]`` ((256 * c,) int64, sorted) and the byte of each count 0..c."""
    offsets = np.arange(256, dtype=np.int64)[:, None] << 32
    flat = (cdf_thresholds(c) + offsets).reshape(-1)
    levels = np.uint8(np.clip(np.arange(c + 1) / c, 0, 1) * 255)  # the reference's Poisson / c, as bytes
    return flat, levels


def cdf_thresholds(c: int) -> np.ndarray:
    """``round(P(Poisson(lam_k) <= m) * 2**32)`` for ``lam_k = (k / 255) * c``: (256, c) int64.

    The CDF is summed in float64 from ``exp(-lam)`` by the recurrence ``p_m = p_{m-1} * lam / m``
    (``exp(-500)`` is 7e-218: no underflow at these means); its rounding error (about 1e-13) is far
    below the ``2**-32`` resolution of the thresholds.

    Example:
        >>> t = cdf_thresholds(50)
        >>> t.shape, int(t[0, 0]) == 2**32                 # byte 0: mean 0, always 0
        ((256, 50), True)
    """
    lam = np.arange(256) / 255.0 * c  # (256,): the reference's x * c
    p = np.exp(-lam)
    cdf = np.empty((256, c))
    total = p.copy()
    cdf[:, 0] = total
    for m in range(1, c):
        p = p * lam / m
        total += p
        cdf[:, m] = total
    return np.rint(np.minimum(cdf, 1.0) * 2.0**32).astype(np.int64)
