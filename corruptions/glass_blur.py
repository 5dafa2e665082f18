"""CIFAR-10-C glass blur: blur, copy every pixel from a random (-1 | 0, -1 | 0) neighbour, blur again."""

from __future__ import annotations

import torch

from corruptions._common import check_images, chunks, resolve_indices, severity_parameter
from corruptions.gaussian_filter import gaussian_filter
from corruptions.seeding import random_words, stream_key

# (sigma, max delta, iterations) per severity 1..5
PARAMETERS = ((0.05, 1, 1), (0.25, 1, 1), (0.4, 1, 1), (0.25, 1, 2), (0.4, 1, 2))

_SIZE = 32
_FIRST = 2  # rows and columns 0 and 1 are never moved (the reference loops h, w = 31 .. 2)
_MOVED = _SIZE - _FIRST  # 30 rows and 30 columns move
_WORDS_PER_ITERATION = _MOVED * _MOVED * 2  # one (dx, dy) per moved pixel
_CPU_CHUNK = 128  # images per pass on the CPU


def glass_blur(
    images: torch.Tensor, severity: int, seed: int = 0, indices: torch.Tensor | None = None
) -> torch.Tensor:
    """Glass blur, (sigma, delta, iters) = (.05,1,1), (.25,1,1), (.4,1,1), (.25,1,2), (.4,1,2), severity 1..5.

    The reference (make_cifar_c.py), with ``gaussian`` = skimage's ('nearest' edges, 4 sigma)::

        y = np.uint8(gaussian(x / 255., sigma) * 255)
        for _ in range(iterations):
            for h in range(31, 1, -1):
                for w in range(31, 1, -1):
                    dx, dy = np.random.randint(-1, 1, size=(2,))      # each -1 or 0
                    y[h, w], y[h + dy, w + dx] = y[h + dy, w + dx], y[h, w]
        return np.clip(gaussian(y / 255., sigma), 0, 1) * 255

    The "swap" assigns numpy views, so it is a copy: ``y[h, w] = y[h + dy, w + dx]``. The source is
    never a pixel that the loop has already written (it lies at or above and left of ``(h, w)``, and
    the loop runs from the bottom right), so an iteration is one gather from the previous image,
    which is how it is computed here (the reference's slowest corruption: 1,800 Python steps).

    Randomness: iteration ``t``, pixel ``(h, w)`` (h, w = 2..31) takes words
    ``e = 2 * (t * 900 + (h - 2) * 30 + (w - 2))`` (dx) and ``e + 1`` (dy) of
    :func:`corruptions.seeding.random_words` for the stream ``(seed, "glass_blur", severity)``;
    an offset is -1 if the word is below ``2**31``, else 0 (probability 1/2 each, as ``randint(-1, 1)``).

    Args:
        images: (N, 32, 32, 3) uint8 tensor, NHWC RGB, any device.
        severity: 1..5.
        seed: integer in ``[0, 2**64)``.
        indices: (N,) integer tensor, the dataset index of each image (default ``0..N-1``).
    Returns:
        (N, 32, 32, 3) uint8 tensor on the same device.

    Example:
        >>> x = torch.randint(0, 256, (2, 32, 32, 3), dtype=torch.uint8)
        >>> glass_blur(x, severity=4, seed=0).shape
        torch.Size([2, 32, 32, 3])
    """
    sigma, _, iterations = severity_parameter(PARAMETERS, severity)
    check_images(images)
    indices = resolve_indices(indices, images.shape[0], images.device)
    key = stream_key(seed, "glass_blur", severity)
    out = torch.empty_like(images, memory_format=torch.contiguous_format)
    for part in chunks(images.shape[0], images.device, _CPU_CHUNK):
        x = images[part]
        n = x.shape[0]
        y = blur_to_bytes(x.to(torch.float64).div_(255), sigma)  # (n, 32, 32, 3) uint8
        sources = jitter_sources(key, indices[part], iterations)  # (n, iterations, 1024)
        for t in range(iterations):
            index = sources[:, t, :, None].expand(n, _SIZE * _SIZE, 3)
            y = y.view(n, _SIZE * _SIZE, 3).gather(1, index).view(n, _SIZE, _SIZE, 3)
        u = gaussian_filter(y.to(torch.float64).div_(255), sigma)
        out[part] = u.clamp_(0, 1).mul_(255).to(torch.uint8)  # truncation
    return out


def blur_to_bytes(u: torch.Tensor, sigma: float) -> torch.Tensor:
    """The reference's ``np.uint8(gaussian(u, sigma) * 255)`` (a blur of [0, 1] values stays in [0, 1])."""
    return gaussian_filter(u, sigma).clamp_(0, 1).mul_(255).to(torch.uint8)


def jitter_sources(key: tuple[int, int], indices: torch.Tensor, iterations: int) -> torch.Tensor:
    """Flat source pixel ``h' * 32 + w'`` of every pixel, per iteration: (N, iterations, 1024) int64.

    Pixels in rows or columns 0 and 1 are their own source; pixel ``(h, w)`` with ``h, w >= 2`` reads
    ``(h + dy, w + dx)``, its offsets drawn as the docstring of :func:`glass_blur` says.
    """
    n = indices.shape[0]
    words = random_words(key, indices, iterations * _WORDS_PER_ITERATION)
    offsets = (words >> 31).sub_(1).view(n, iterations, _MOVED, _MOVED, 2)  # -1 or 0
    dx, dy = offsets[..., 0], offsets[..., 1]
    flat = torch.arange(_SIZE * _SIZE, dtype=torch.int64, device=indices.device).view(_SIZE, _SIZE)
    sources = flat.expand(n, iterations, _SIZE, _SIZE).clone()
    sources[:, :, _FIRST:, _FIRST:] += dy * _SIZE + dx
    return sources.view(n, iterations, _SIZE * _SIZE)
