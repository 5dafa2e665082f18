"""CIFAR-10-C elastic transform: a random affine warp, then a smooth random displacement field."""

from __future__ import annotations

import torch

from corruptions._common import check_images, chunks, resolve_indices, severity_parameter
from corruptions.gaussian_filter import gaussian_filter
from corruptions.map_coordinates import map_coordinates_reflect
from corruptions.opencv_affine import get_affine_transform, warp_affine_reflect101
from corruptions.seeding import stream_key, uniforms

_SIZE = 32
# (alpha, sigma, affine jitter) in pixels per severity 1..5: the reference's IMSIZE * (0, 0, .08), ...
PARAMETERS = tuple(
    (_SIZE * a, _SIZE * s, _SIZE * j)
    for a, s, j in ((0, 0, 0.08), (0.05, 0.2, 0.07), (0.08, 0.06, 0.06), (0.1, 0.04, 0.05), (0.1, 0.03, 0.03))
)
# The reference's three affine anchor points: centre (16, 16) +- a third of the side (10), as (x, y)
ANCHORS = ((26.0, 26.0), (26.0, 6.0), (6.0, 6.0))
UNIFORMS_PER_IMAGE = 6 + 2 * _SIZE * _SIZE  # jitter of 3 points, then the dx field, then the dy field

_CPU_CHUNK = 256  # images per pass: the gathers and the fields stay within a few MB


def elastic_transform(
    images: torch.Tensor, severity: int, seed: int = 0, indices: torch.Tensor | None = None
) -> torch.Tensor:
    """Elastic, 32x(a,s,j)=(0,0,.08), (.05,.2,.07), (.08,.06,.06), (.1,.04,.05), (.1,.03,.03), severity 1..5.

    Parameters in pixels: displacement scale ``alpha = 32 a``, its smoothing ``sigma = 32 s``, the
    affine jitter ``32 j``.

    The reference (``make_cifar_c.py``, after erniejunior's gist), in float32 as it does:
      1. ``u = float32(x) / 255``;
      2. the anchors (26, 26), (26, 6), (6, 6) each moved by ``U(-jitter, jitter)`` (float32), and
         ``u = cv2.warpAffine(u, cv2.getAffineTransform(anchors, moved), BORDER_REFLECT_101)``
         (:mod:`corruptions.opencv_affine`: OpenCV's LU solve and its 1/32-pixel fixed-point bilinear
         warp, bit for bit against OpenCV 4.10);
      3. ``dx, dy = float32(alpha * gaussian(U(-1, 1) field, sigma, mode='reflect', truncate=3))``
         (scipy's gaussian_filter, :mod:`corruptions.gaussian_filter`); severity 1 has alpha = sigma = 0,
         so it is the affine warp alone;
      4. ``map_coordinates(u, (row + dy, col + dx, channel), order=1, mode='reflect')``
         (:mod:`corruptions.map_coordinates`: scipy's arithmetic, rounded to float32);
      5. ``uint8(clip(result, 0, 1) * 255)`` in float32, truncated.
    Every step repeats the library's arithmetic, so the result is the reference's bit for bit given
    the uniforms (tested against OpenCV 4.10 and scipy).

    Randomness: image ``indices[i]`` uses the 2,054 uniforms of :func:`corruptions.seeding.uniforms`
    for the stream ``(seed, "elastic_transform", severity)``, in the reference's order: 6 for the
    jitter (x, y of each anchor; ``-j + 2 j u`` as numpy's uniform computes it), then the dx field,
    then the dy field (1,024 each, row-major; ``-1 + 2 u``).

    Args:
        images: (N, 32, 32, 3) uint8 tensor, NHWC RGB, any device.
        severity: 1..5.
        seed: integer in ``[0, 2**64)``.
        indices: (N,) integer tensor, the dataset index of each image (default ``0..N-1``).
    Returns:
        (N, 32, 32, 3) uint8 tensor on the same device.

    Example:
        >>> x = torch.full((2, 32, 32, 3), 90, dtype=torch.uint8)
        >>> torch.unique(elastic_transform(x, severity=5, seed=0)).tolist()  # flat, up to float32 rounding
        [89, 90]
    """
    alpha, sigma, jitter = severity_parameter(PARAMETERS, severity)
    check_images(images)
    indices = resolve_indices(indices, images.shape[0], images.device)
    key = stream_key(seed, "elastic_transform", severity)
    out = torch.empty_like(images, memory_format=torch.contiguous_format)
    for part in chunks(images.shape[0], images.device, _CPU_CHUNK):
        u = uniforms(key, indices[part], UNIFORMS_PER_IMAGE)  # (n, 2054) float64
        warped = warp_affine_reflect101(images[part].to(torch.float32) / 255, _affine(u[:, :6], jitter))
        rows, cols = _displaced_grid(u[:, 6:], alpha, sigma)  # (n, 32, 32) float64 each
        resampled = map_coordinates_reflect(warped, rows, cols)  # (n, 32, 32, 3) float32
        out[part] = resampled.clamp_(0, 1).mul_(255).to(torch.uint8)  # float32, truncated as np.uint8
    return out


def _affine(u: torch.Tensor, jitter: float) -> torch.Tensor:
    """(n, 2, 3) float64: cv2.getAffineTransform(anchors, anchors + float32(U(-jitter, jitter)))."""
    anchors = torch.tensor(ANCHORS, dtype=torch.float32, device=u.device)  # (3, 2)
    moves = (-jitter + (jitter - -jitter) * u).to(torch.float32).view(-1, 3, 2)  # numpy's uniform
    return get_affine_transform(ANCHORS, anchors + moves)  # float32 sum, as pts1 + float32 array


def _displaced_grid(u: torch.Tensor, alpha: float, sigma: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Source coordinates ``(row + dy, col + dx)`` of each output pixel: (n, 32, 32) float64 each."""
    n = u.shape[0]
    fields = (-1.0 + 2.0 * u).view(n, 2, _SIZE, _SIZE)  # numpy's uniform(-1, 1): image i's dx, then dy
    fields = fields.transpose(0, 1).reshape(2 * n, _SIZE, _SIZE)  # all dx fields, then all dy fields
    smooth = gaussian_filter(fields, sigma, mode="reflect", truncate=3.0).mul_(alpha).to(torch.float32)
    dx, dy = smooth.view(2, n, _SIZE, _SIZE).to(torch.float64)  # float32 values, exactly in float64
    grid = torch.arange(_SIZE, dtype=torch.float64, device=u.device)
    return grid[:, None] + dy, grid[None, :] + dx
