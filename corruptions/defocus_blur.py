"""CIFAR-10-C defocus blur: a normalised disk kernel, smoothed by a 3x3 Gaussian, with reflect-101 edges."""

from __future__ import annotations

import functools
import math

import numpy as np
import torch

from corruptions._common import check_images, chunks, resolve_indices, severity_parameter
from corruptions.gaussian_filter import extended_indices

PARAMETERS = (
    (0.3, 0.4),
    (0.4, 0.5),
    (0.5, 0.6),
    (1.0, 0.2),
    (1.5, 0.1),
)  # (radius, alias sigma) per severity

_GRID = 8  # the reference's kernel grid is -8..8 (17 x 17) for every radius up to 8
_DBL_EPSILON = np.finfo(np.float64).eps
_CPU_CHUNK = 128  # images per pass on the CPU


def defocus_blur(
    images: torch.Tensor, severity: int, seed: int = 0, indices: torch.Tensor | None = None
) -> torch.Tensor:
    """Defocus blur, (radius, alias) = (.3,.4), (.4,.5), (.5,.6), (1,.2), (1.5,.1) for severity 1..5.

    The reference's ``np.uint8(clip(cv2.filter2D(u[..., ch], -1, disk(radius, alias)), 0, 1) * 255)``
    per channel, ``u = x / 255`` in float64: a correlation with :func:`disk_kernel` (float32, as
    the reference builds it) and OpenCV's default border, reflect-101 (``c b | a b c d | c b``).
    Evaluated directly in float64 as ``scipy.ndimage.correlate(u, kernel, mode='mirror')`` does
    it (the taps in row-major order, those not above DBL_EPSILON skipped: they change nothing): OpenCV
    computes a 17x17 filter through the DFT, whose rounding differs from the formula in the last bits.
    Deterministic: ``seed`` and ``indices`` are accepted for a uniform signature and ignored.

    Args:
        images: (N, 32, 32, 3) uint8 tensor, NHWC RGB, any device.
        severity: 1..5.
        seed, indices: ignored (deterministic corruption).
    Returns:
        (N, 32, 32, 3) uint8 tensor on the same device.

    Example:
        >>> x = torch.zeros(1, 32, 32, 3, dtype=torch.uint8); x[0, 16, 16] = 255
        >>> int(defocus_blur(x, severity=5)[0, 16, 16, 0])     # spread over the 3x3 disk: 255 / 9
        28
    """
    radius, alias = severity_parameter(PARAMETERS, severity)
    check_images(images)
    resolve_indices(indices, images.shape[0], images.device)  # checked for a uniform interface, unused
    taps = _taps(radius, alias)
    reach = max(max(abs(dy), abs(dx)) for dy, dx, _ in taps)
    rows = extended_indices(32, reach, "mirror", images.device)
    out = torch.empty_like(images, memory_format=torch.contiguous_format)
    for part in chunks(images.shape[0], images.device, _CPU_CHUNK):
        u = images[part].to(torch.float64).div_(255)
        padded = u.index_select(1, rows).index_select(2, rows)  # (n, 32 + 2 reach, 32 + 2 reach, 3)
        acc = torch.zeros_like(u)
        for dy, dx, w in taps:  # scipy's order: tmp = 0; tmp += value * weight, tap after tap
            acc += padded[:, reach + dy : reach + dy + 32, reach + dx : reach + dx + 32] * w
        out[part] = acc.clamp_(0, 1).mul_(255).to(torch.uint8)  # truncation
    return out


@functools.lru_cache(maxsize=len(PARAMETERS))
def _taps(radius: float, alias: float) -> tuple[tuple[int, int, float], ...]:
    """(dy, dx, weight) of the kernel's taps above DBL_EPSILON, row-major (scipy's footprint)."""
    kernel = disk_kernel(radius, alias).astype(np.float64)
    return tuple(
        (int(i) - _GRID, int(j) - _GRID, float(kernel[i, j]))
        for i, j in zip(*np.nonzero(np.abs(kernel) > _DBL_EPSILON), strict=True)
    )


def disk_kernel(radius: float, alias: float) -> np.ndarray:
    """The reference's ``disk(radius, alias_blur)``: (17, 17) float32, built as it builds it.

    ``d = float32(x**2 + y**2 <= radius**2)`` on the grid -8..8, divided by its sum (float32), then
    ``cv2.GaussianBlur(d, (3, 3), sigmaX=alias)``: the 3-tap kernel of ``cv2.getGaussianKernel``
    (``float32(exp(-x**2 / (2 alias**2)))`` for x = -1, 0, 1, scaled by 1 / their double sum, to
    float32), applied along rows then columns in float32 with reflect-101 edges. Radii below 1 give
    a single-pixel disk, so the kernel is the 3x3 Gaussian itself. Equal to OpenCV's (tested).

    Example:
        >>> k = disk_kernel(0.3, 0.4)
        >>> k.dtype, k.shape, float(k.sum()) > 0.999
        (dtype('float32'), (17, 17), True)
    """
    grid = np.arange(-_GRID, _GRID + 1)
    xx, yy = np.meshgrid(grid, grid)
    disk = np.array(xx**2 + yy**2 <= radius**2, dtype=np.float32)
    disk /= np.sum(disk)
    edge = np.float32(math.exp(-0.5 / (alias * alias)))  # OpenCV: exp(scale2X * x * x), x = -1 and 1
    taps = [edge, np.float32(1.0), edge]
    inverse = 1.0 / (float(taps[0]) + float(taps[1]) + float(taps[2]))  # summed in double
    g = [np.float32(float(t) * inverse) for t in taps]
    pad = np.pad(disk, 1, mode="reflect")  # numpy's "reflect" is reflect-101
    rows = pad[:, :-2] * g[0] + pad[:, 1:-1] * g[1] + pad[:, 2:] * g[2]  # (19, 17) float32
    return rows[:-2] * g[0] + rows[1:-1] * g[1] + rows[2:] * g[2]  # (17, 17) float32
