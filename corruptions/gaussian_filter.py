"""scipy.ndimage.gaussian_filter over height and width, batched, in float64 torch, bit for bit.

The reference blurs with ``scipy.ndimage.gaussian_filter`` (directly, or through skimage's
``gaussian``), so the corruptions that blur need its exact semantics, not just "a Gaussian blur":
truncation of the kernel at ``radius = int(truncate * sigma + 0.5)``, its weights, the
boundary mode and even the order of the additions (the result is truncated to uint8, so a one-ulp
difference can become a one-level difference). What scipy does, and what this file reproduces:

* weights ``phi = exp(-0.5 / sigma**2 * x**2)`` for ``x = -radius..radius``, divided by their numpy
  sum (computed here with numpy exactly as scipy does, so the weights are the same doubles);
* one separable pass per axis, height first, each pass storing float64;
* each pass is scipy's symmetric correlation (``NI_Correlate1D``): ``out = x[0] * w[0]``, then for
  ``j = radius, radius - 1, ..., 1``: ``out += (x[-j] + x[+j]) * w[j]``, every operation rounded on its
  own (separate torch ops: nothing is fused into an FMA, on any kernel path);
* boundaries by index maps: ``nearest`` (a a | a b c d | d d), ``reflect`` (scipy's half-sample
  symmetric: b a | a b c d | d c), ``mirror`` (reflect-101: c b | a b c d | c b) and ``wrap``.

Example:
    >>> x = torch.rand(4, 32, 32, 3, dtype=torch.float64)
    >>> gaussian_filter(x, 0.7).shape                     # blurs axes 1 and 2 only
    torch.Size([4, 32, 32, 3])
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch

MODES = ("nearest", "reflect", "mirror", "wrap")
_SIGMA_EPS = 1e-15  # scipy skips an axis whose sigma is not above this


def gaussian_filter(
    x: torch.Tensor, sigma: float, mode: str = "nearest", truncate: float = 4.0
) -> torch.Tensor:
    """``scipy.ndimage.gaussian_filter(x[i], (sigma, sigma[, 0]), mode=mode, truncate=truncate)`` per image.

    Args:
        x: float64 tensor (N, H, W, C) or (N, H, W), any device; filtered over H and W only.
        sigma: standard deviation in pixels, ``>= 0`` (at most 1e-15: returned unchanged, as scipy does).
        mode: "nearest" (default; the edge pixel repeated), "reflect" (half-sample symmetric),
            "mirror" (reflect-101) or "wrap".
        truncate: the kernel's radius in sigmas, ``> 0``: ``radius = int(truncate * sigma + 0.5)``.
    Returns:
        A new float64 tensor of the same shape and device.
    Raises:
        ValueError: x not float64 with 3 or 4 dimensions, sigma or truncate out of range, unknown mode.

    Example:
        >>> x = torch.zeros(1, 5, 5, dtype=torch.float64); x[0, 2, 2] = 1
        >>> round(float(gaussian_filter(x, 1.0).sum()), 12)    # 'nearest' keeps the mass here
        1.0
    """
    _check(x, sigma, mode, truncate)
    out = x.clone()
    if sigma <= _SIGMA_EPS:
        return out
    weights = gaussian_weights(float(sigma), float(truncate))
    for dim in (1, 2):  # height, then width: scipy's axis order
        out = correlate_symmetric(out, weights, dim, mode)
    return out


@functools.lru_cache(maxsize=64)
def gaussian_weights(sigma: float, truncate: float = 4.0) -> tuple[float, ...]:
    """scipy's ``_gaussian_kernel1d(sigma, 0, int(truncate * sigma + 0.5))``, as Python floats.

    Example:
        >>> len(gaussian_weights(1.0))                      # radius int(4.5) = 4
        9
    """
    radius = int(truncate * sigma + 0.5)
    sigma2 = sigma * sigma
    xs = np.arange(-radius, radius + 1)
    phi = np.exp(-0.5 / sigma2 * xs**2)  # the same expression (and order) as scipy's
    phi = phi / phi.sum()
    return tuple(float(w) for w in phi)


def correlate_symmetric(x: torch.Tensor, weights: tuple[float, ...], dim: int, mode: str) -> torch.Tensor:
    """scipy's ``correlate1d`` with a symmetric odd-length kernel along ``dim``, in its order of operations.

    Args:
        x: float64 tensor; ``weights``: ``2r + 1`` floats with ``weights[r - j] == weights[r + j]``.
        dim: the axis to filter; mode: one of :data:`MODES`.
    Returns:
        New float64 tensor, same shape.
    """
    r = len(weights) // 2
    n = x.shape[dim]
    padded = x.index_select(dim, extended_indices(n, r, mode, x.device))  # n + 2r along dim
    out = padded.narrow(dim, r, n) * weights[r]
    for j in range(r, 0, -1):  # scipy adds the outermost pair first
        pair = padded.narrow(dim, r - j, n) + padded.narrow(dim, r + j, n)
        out += pair.mul_(weights[r - j])
    return out


def extended_indices(n: int, r: int, mode: str, device=None) -> torch.Tensor:
    """Source index of each of the ``n + 2r`` positions ``-r .. n - 1 + r`` under the boundary ``mode``.

    Example:
        >>> extended_indices(4, 2, "reflect").tolist(), extended_indices(4, 2, "mirror").tolist()
        ([1, 0, 0, 1, 2, 3, 3, 2], [2, 1, 0, 1, 2, 3, 2, 1])
    """
    return torch.tensor(_extended_indices(n, r, mode), dtype=torch.int64, device=device)


@functools.lru_cache(maxsize=64)
def _extended_indices(n: int, r: int, mode: str) -> tuple[int, ...]:
    positions = range(-r, n + r)
    if mode == "nearest":
        return tuple(min(max(i, 0), n - 1) for i in positions)
    if mode == "wrap":
        return tuple(i % n for i in positions)
    if mode == "reflect":  # period 2n: 0 1 .. n-1 n-1 .. 1 0
        return tuple(i % (2 * n) if i % (2 * n) < n else 2 * n - 1 - i % (2 * n) for i in positions)
    if n == 1:  # mirror of a single sample: scipy repeats it
        return tuple(0 for _ in positions)
    period = 2 * n - 2  # mirror (reflect-101): 0 1 .. n-1 n-2 .. 1
    return tuple(i % period if i % period < n else period - i % period for i in positions)


def _check(x, sigma, mode, truncate) -> None:
    if not isinstance(x, torch.Tensor) or x.dtype != torch.float64 or x.ndim not in (3, 4):
        raise ValueError("x must be a float64 tensor of shape (N, H, W) or (N, H, W, C)")
    if isinstance(sigma, bool) or not isinstance(sigma, (int, float)) or not (0 <= sigma < math.inf):
        raise ValueError(f"sigma must be a finite number >= 0, got {sigma!r}")
    if isinstance(truncate, bool) or not isinstance(truncate, (int, float)) or not (0 < truncate < math.inf):
        raise ValueError(f"truncate must be a finite number > 0, got {truncate!r}")
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}; got {mode!r}")
