"""``scipy.ndimage.map_coordinates(order=1, mode='reflect')`` over H and W of a batch, bit for bit.

CIFAR-10-C's elastic_transform resamples its float32 image at displaced coordinates with
``map_coordinates(image, (rows, cols, channels), order=1, mode='reflect')``. scipy's C code
(``NI_GeometricTransform``, scipy 1.6 and later), for each axis:

* maps a coordinate outside ``[0, len - 1]`` with the half-sample reflection ('reflect':
  ``-c - 1`` below 0, ``2 len - c - 1`` at or past ``len``);
* takes ``start = floor(c)``, weights ``w0 = 1 - (c - start)`` and ``w1 = 1 - w0``;
* folds a neighbour index outside the array by the same reflection (``-i - 1``, ``2 len - 1 - i``),
  so that a coordinate in the outer half pixel reads the edge value twice (scipy 1.17 checked:
  the result is linear interpolation of the half-sample symmetric extension);
* sums the corners in C order, each ``((value * w_row) * w_col) * w_channel`` in double, and
  rounds the sum to the output's float32.

The channel coordinate is an exact integer here (weights 1 and 0), so its corners add exact zeros
and are left out. Elementwise IEEE operations only: the same bytes on every kernel path.
"""

from __future__ import annotations

import torch


def map_coordinates_reflect(image: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
    """Bilinear resampling of every channel at (rows, cols), as scipy's order-1 'reflect' map_coordinates.

    Args:
        image: (N, H, W, C) float32 tensor.
        rows, cols: (N, H, W) float64 source coordinates of each output pixel (the same for all channels).
    Returns:
        (N, H, W, C) float32 tensor.
    """
    n, height, width, _ = image.shape
    r0, wr = _axis(rows, height)
    c0, wc = _axis(cols, width)
    r_idx = (_reflect(r0, height), _reflect(r0 + 1, height))
    c_idx = (_reflect(c0, width), _reflect(c0 + 1, width))
    flat = image.reshape(n * height * width, -1)  # (n*H*W, C): one row per pixel, for index_select
    base = (torch.arange(n, device=image.device) * height)[:, None, None]
    total = None
    for a in (0, 1):
        line = (base + r_idx[a]) * width
        for b in (0, 1):
            values = flat.index_select(0, (line + c_idx[b]).view(-1)).to(torch.float64)  # (n*H*W, C)
            term = values.mul_(wr[a].view(-1, 1)).mul_(wc[b].view(-1, 1))  # (v * w_row) * w_col
            total = term if total is None else total.add_(term)  # t = 0.0 + first term: the same bits
    return total.to(torch.float32).view(image.shape)


def _axis(c: torch.Tensor, size: int) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
    """scipy's map_coordinate ('reflect') and order-1 weights along one axis."""
    period = 2 * size
    low = c < 0
    folded = torch.where(c < -period, period * torch.trunc(-c / period) + c, c)
    folded = torch.where(folded < -size, folded + period, -folded - 1)
    high = c > size - 1
    up = c - period * torch.trunc(c / period)
    up = torch.where(up >= size, period - up - 1, up)
    c = torch.where(low, folded, torch.where(high, up, c))
    start = torch.floor(c)
    w0 = 1.0 - (c - start)
    return start.to(torch.int64), (w0, 1.0 - w0)


def _reflect(i: torch.Tensor, size: int) -> torch.Tensor:
    """A neighbour index outside [0, size) folded by the half-sample reflection (period 2 size)."""
    period = 2 * size
    i = torch.remainder(i, period)
    return torch.where(i >= size, period - 1 - i, i)
