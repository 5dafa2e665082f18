"""The reference's ``clipped_zoom``: a centre crop zoomed back to 32x32 by scipy.ndimage.zoom (order 1).

``clipped_zoom(img, z)`` in make_cifar_c.py (used by zoom_blur and snow) crops the central
``ch = ceil(32 / z)`` square (top-left corner ``(32 - ch) // 2``), zooms it with
``scipy.ndimage.zoom(crop, (z, z, 1), order=1)`` to ``m = round(ch * z)`` pixels (Python's round:
half to even) and keeps the central 32 (from ``(m - 32) // 2``). What scipy computes, reproduced
here in its order of operations:

* output pixel ``o`` samples input coordinate ``cc = o * ((ch - 1) / (m - 1))`` (``grid_mode=False``);
* linear weights ``w0 = 1 - (cc - floor(cc))`` on ``floor(cc)`` and ``w1 = 1 - w0`` on the next pixel
  (scipy makes the weights add to one this way);
* the value is ``sum over (a, b) in row-major order of (x[row_a, col_b] * w_row_a) * w_col_b``,
  added to 0.0 in that order, in double; the channel axis (zoom 1) only multiplies by 1 and adds zeros.

A zoom whose output is 32 pixels (z = 1.00, 1.01) is the identity.

Example:
    >>> x = torch.rand(2, 32, 32, 3, dtype=torch.float64)
    >>> torch.equal(clipped_zoom(x, 1.0), x), clipped_zoom(x, 1.2).shape
    (True, torch.Size([2, 32, 32, 3]))
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch

SIZE = 32  # CIFAR: the image side, and the output side


@functools.lru_cache(maxsize=64)
def zoom_taps(factor: float) -> tuple[tuple[int, ...], tuple[int, ...], tuple[float, ...], tuple[float, ...]]:
    """Per output pixel (of the 32 kept): the two source indices in the full image and their weights.

    Returns ``(first, second, w_first, w_second)``, each 32 entries (the same for rows and columns).

    Example:
        >>> first, second, w0, w1 = zoom_taps(1.0)
        >>> first == tuple(range(32)), set(w0), set(w1)
        (True, {1.0}, {0.0})
    """
    ch = int(np.ceil(SIZE / np.float64(factor)))  # crop side
    top = (SIZE - ch) // 2
    m = int(round(ch * np.float64(factor)))  # zoomed side, as scipy.ndimage.zoom sizes its output
    trim = (m - SIZE) // 2
    ratio = (ch - 1) / (m - 1) if m > 1 else 1.0  # scipy: (in - 1) / (out - 1)
    first, second, w_first, w_second = [], [], [], []
    for o in range(trim, trim + SIZE):
        cc = float(o) * ratio
        start = math.floor(cc)
        w0 = 1.0 - (cc - start)
        first.append(top + min(start, ch - 1))
        second.append(top + min(start + 1, ch - 1))  # past the edge only with weight 0
        w_first.append(w0)
        w_second.append(1.0 - w0)
    return tuple(first), tuple(second), tuple(w_first), tuple(w_second)


def clipped_zoom(x: torch.Tensor, factor: float) -> torch.Tensor:
    """``clipped_zoom`` of every image, in float64 (scipy's arithmetic; cast the result as the caller needs).

    Args:
        x: (N, 32, 32, C) or (N, 32, 32) float64 tensor, any device.
        factor: the zoom factor ``z >= 1``.
    Returns:
        New float64 tensor of the same shape.
    """
    planes = x.movedim((1, 2), (0, 1)).reshape(SIZE, SIZE, -1)  # (32, 32, N*C): a copy, rows first
    zoomed = zoom_planes(planes.contiguous(), factor)
    return zoomed.view(SIZE, SIZE, *x.shape[:1], *x.shape[3:]).movedim((0, 1), (1, 2)).contiguous()


def zoom_planes(planes: torch.Tensor, factor: float) -> torch.Tensor:
    """:func:`clipped_zoom` of images stored rows first: (32, 32, M) float64 in and out (M = images * C).

    In this layout a gather of rows or columns copies whole contiguous blocks of M values and the
    weights broadcast along them, which is what makes zoom blur's 7 to 26 zooms per image cheap.
    """
    taps = zoom_taps(float(factor))
    first, second = (torch.tensor(t, dtype=torch.int64, device=planes.device) for t in taps[:2])  # (32,)
    w_first, w_second = (torch.tensor(t, dtype=torch.float64, device=planes.device) for t in taps[2:])
    rows = (
        planes.index_select(0, first).mul_(w_first.view(SIZE, 1, 1)),  # x * w_row, row tap a = 0
        planes.index_select(0, second).mul_(w_second.view(SIZE, 1, 1)),  # a = 1
    )
    out = None
    for r in rows:  # (a, b) row-major: (x * w_row) * w_col, added to 0.0 in this order
        for index, weight in ((first, w_first), (second, w_second)):
            term = r.index_select(1, index).mul_(weight.view(1, SIZE, 1))
            out = term if out is None else out.add_(term)
    return out


def is_identity(factor: float) -> bool:
    """Whether ``clipped_zoom(x, factor)`` is ``x`` exactly (output side 32: weights 1 on itself, 0 next)."""
    first, _, w_first, _ = zoom_taps(float(factor))
    return first == tuple(range(SIZE)) and set(w_first) == {1.0}
