"""CIFAR-10-C contrast: pull every channel toward its own mean, bit-identical to the float64 reference."""

from __future__ import annotations

import functools

import numpy as np
import torch

from corruptions._common import check_images, chunks, resolve_indices, severity_parameter

FACTORS = (0.75, 0.5, 0.4, 0.3, 0.15)  # contrast factor c per severity 1..5

_PIXELS = 32 * 32
_CPU_CHUNK = 128  # images per pass on the CPU: the float64 copy (3 MB) stays in cache (64..256 measured)
_GPU_CHUNK = 16384  # on a GPU the mean takes 1,024 kernel launches per chunk: keep chunks large


def contrast(
    images: torch.Tensor, severity: int, seed: int = 0, indices: torch.Tensor | None = None
) -> torch.Tensor:
    """Contrast, c = (.75, .5, .4, .3, .15) for severity 1..5: ``(u - mu) * c + mu`` per channel.

    ``u = x / 255`` in float64 and ``mu`` = the mean of each channel of the image over height and
    width (per image, per channel; not a greyscale mean). The result is
    ``uint8(clip((u - mu) * c + mu, 0, 1) * 255)``, bit for bit what the reference computes with
    ``np.mean(u, axis=(0, 1))`` on the (32, 32, 3) image. Deterministic: ``seed`` and ``indices``
    are accepted for a uniform signature and ignored.

    Exactness, in two parts:
      * ``mu``: numpy reduces over the two outer axes of an HWC image by adding the 1,024 pixels in
        order (its pairwise summation only applies along the innermost axis), so ``mu`` here is
        that sequential float64 sum, divided by 1,024. Truncation turns a 1-ulp error in ``mu``
        into a one-level error, so nothing else (pairwise, integer sums) would do.
      * output: for a given (image, channel) the result is a function of the input byte only, so
        the exact formula is evaluated once per possible byte (a 256-entry table per channel) and
        gathered: the same float64 operations as the reference, on a quarter of the values.

    Args:
        images: (N, 32, 32, 3) uint8 tensor, NHWC RGB, any device.
        severity: 1..5.
        seed, indices: ignored (deterministic corruption).
    Returns:
        (N, 32, 32, 3) uint8 tensor on the same device.

    Example:
        >>> x = torch.tensor([0, 255], dtype=torch.uint8).repeat(512 * 3).view(1, 32, 32, 3)
        >>> contrast(x, severity=2)[0, 0, 0].tolist()       # mean 0.5, c = 0.5: 0 -> 63, 255 -> 191
        [63, 191, 63]
    """
    c = severity_parameter(FACTORS, severity)
    check_images(images)
    resolve_indices(indices, images.shape[0], images.device)  # checked for a uniform interface, unused
    out = torch.empty_like(images, memory_format=torch.contiguous_format)
    flat_out = out.view(-1, _PIXELS * 3)  # (N, 3072): each chunk's gather writes straight into it
    levels = torch.arange(256, dtype=torch.float64, device=images.device).div_(255)  # (256,) u per byte
    for part in chunks(images.shape[0], images.device, _CPU_CHUNK, _GPU_CHUNK):
        x = images[part].reshape(-1, _PIXELS * 3)  # (n, 3072) uint8, HWC order
        n = x.shape[0]
        mu = channel_means(x).reshape(n * 3, 1)  # (n*3, 1) float64, row = image * 3 + channel
        table = (levels - mu).mul_(c).add_(mu).clamp_(0, 1).mul_(255).to(torch.uint8)  # (n*3, 256)
        # out[i, p, ch] = table[i * 3 + ch, x[i, p, ch]]: one gather from the flattened tables, with
        # int32 indices (cheaper to build than int64; n*3*256 < 2**31 per chunk)
        index = torch.add(_table_offsets(n, x.device), x)  # (n, 3072) int32
        torch.index_select(table.view(-1), 0, index.view(-1), out=flat_out[part].view(-1))
    return out


def _table_offsets(n: int, device: torch.device) -> torch.Tensor:
    """(n, 3072) int32: ``256 * (image * 3 + channel)`` at every HWC value of an n-image chunk, the start of
    that (image, channel)'s table. Cached on the CPU (a broadcast add in every chunk cost more than the
    gather it feeds); built per chunk on a GPU, where a cached 16,384-image chunk would hold 192 MiB."""
    if device.type == "cpu":
        return _cpu_table_offsets(n)
    return _build_table_offsets(n, device)


@functools.lru_cache(maxsize=4)
def _cpu_table_offsets(n: int) -> torch.Tensor:
    with torch.inference_mode(False):  # cached: stays usable whatever mode first built it
        return _build_table_offsets(n, torch.device("cpu"))


def _build_table_offsets(n: int, device: torch.device) -> torch.Tensor:
    starts = torch.arange(0, n * 3 * 256, 256, dtype=torch.int32, device=device)  # (n*3,)
    return starts.view(n, 1, 3).expand(n, _PIXELS, 3).reshape(n, _PIXELS * 3)


def channel_means(x: torch.Tensor) -> torch.Tensor:
    """Per-image, per-channel mean of ``u = x / 255``, exactly as ``np.mean(u, axis=(0, 1))`` gives it.

    Args:
        x: (n, 3072) uint8 tensor, each row one (32, 32, 3) image in HWC order, any device.
    Returns:
        (n, 3) float64: for each channel, the float64 sum of its 1,024 values of ``u`` added one
        pixel after the other, in row-major pixel order, divided by 1,024.

    Example:
        >>> x = torch.full((1, 3072), 255, dtype=torch.uint8)
        >>> channel_means(x).tolist()
        [[1.0, 1.0, 1.0]]
    """
    n = x.shape[0]
    # (3072, n): row p*3 + ch holds value (p, ch) of every image; a 2-D transpose is the cheapest
    # way to make each (image, channel) a column, so that the sum can run row after row
    u = x.t().contiguous().to(torch.float64).div_(255).view(_PIXELS, 3 * n)  # column ch * n + i
    total = sum_rows_in_order(u) if u.device.type == "cpu" else _sum_rows_loop(u)  # (3n,)
    return total.div_(_PIXELS).view(3, n).t()


def sum_rows_in_order(u: torch.Tensor) -> torch.Tensor:
    """Column sums of a (R, L) float64 CPU tensor, adding row 0, then row 1, ... (no pairwise tree).

    numpy's add.reduce over the outer axis of a C-contiguous 2-D array adds row after row,
    vectorised across the columns: the sequential order in one call (checked against
    :func:`_sum_rows_loop` and against np.mean in the tests). Not for a single column: numpy
    then drops the unit axis and sums pairwise, so that case takes the loop.
    """
    if u.shape[1] < 2:
        return _sum_rows_loop(u)
    return torch.from_numpy(np.add.reduce(u.contiguous().numpy(), axis=0))  # (L,)


def _sum_rows_loop(u: torch.Tensor) -> torch.Tensor:
    """The same sums for any device, one row per step (R launches on a GPU: keep L large)."""
    total = torch.zeros(u.shape[1], dtype=torch.float64, device=u.device)
    for row in u:
        total += row
    return total
