"""The masked spectral filter as an explicit circulant matrix: the fast form for small maps.

``irfft2(mask * rfft2(y))`` with a Hermitian mask (the caller symmetrises the self-conjugate columns, see
:mod:`specreg_cli.spectral_dft`) is a *circular convolution* of each (H, W) map with the real kernel
``k = irfft2(mask)``: ``out[q] = sum_p y[p] k[(q - p) mod (H, W)]``. Written as a matrix over the flattened
map, that is ``out = y @ P`` with the block-circulant ``P[p, q] = k[q - p]`` of size (H W, H W), one per
mask channel. This module computes the filter exactly that way:

- forward: ``k`` from the mask (C tiny inverse FFTs), ``P`` by one gather, then one batched matmul;
- backward: plain autograd through the same ops (the matmul gives ``dL/dy = g @ P^T`` and
  ``dL/dP = y^T g``; the gather sums ``dL/dP`` along each wrapped diagonal into ``dL/dk``; the inverse FFT
  carries that to the mask). No custom gradient code, so nothing here can disagree with the reference.

Why: per masked layer the FFT route runs four batched transforms over every map (two forward, two in the
backward pass) plus their layout copies; for an 8x8 map that is mostly per-call and memory overhead. The
circulant route costs ``3 * B * C * (H W)^2`` multiply-adds in three large batched GEMMs, which is cheaper
for small maps (ResNet-20's 8x8 stage, 64x64 matrices) and grows as ``(H W)^2``: at 16x16 it is already ~3x
slower than the FFT on a CPU. ``benchmarks`` measures both; :data:`AUTO_MAX_PIXELS` is where ``auto``
switches.

Example::

    y = torch.randn(8, 64, 8, 8)
    mask = torch.ones(64, 8, 5)
    torch.testing.assert_close(circulant_filter(y, mask), y, atol=1e-5, rtol=0)
"""

from __future__ import annotations

import functools

import torch

AUTO_MAX_PIXELS = 64  # "auto" uses the circulant form for maps of at most this many pixels (8x8)


@functools.lru_cache(maxsize=32)
def circulant_index(h: int, w: int, device: torch.device) -> torch.Tensor:
    """(H W, H W) int64 index with ``index[p, q]`` = flat position of the 2-D offset ``q - p`` (mod H, W).

    Gathering a flattened kernel (..., H W) with it gives the block-circulant matrix of the circular
    convolution. Cached per shape and device: it is used in every forward pass.
    Example: ``circulant_index(1, 3, "cpu")`` -> ``[[0, 1, 2], [2, 0, 1], [1, 2, 0]]``.
    """
    with torch.inference_mode(False):  # cached: must stay usable by autograd if first built in inference
        return _offset_index(h, w, device)


def _offset_index(h: int, w: int, device: torch.device) -> torch.Tensor:
    rows = torch.arange(h, device=device).repeat_interleave(w)  # (H W,) row of each flat position
    cols = torch.arange(w, device=device).repeat(h)  # (H W,) column of each flat position
    d_row = (rows[None, :] - rows[:, None]) % h  # (H W, H W)
    d_col = (cols[None, :] - cols[:, None]) % w
    return d_row * w + d_col


def circulant_filter(y: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``irfft2(mask * rfft2(y), s=(H, W))`` for a Hermitian ``mask``, as one circulant matmul per channel.

    Args:
        y: (..., H, W) real; the fast layout is (B, C, H, W).
        mask: (..., H, W//2+1) real, same dtype as ``y``, broadcastable against ``y``'s maps: the fast
            layout is (C, H, W//2+1) or (1, H, W//2+1). Already Hermitian on the self-conjugate columns
            (``spectral_filter`` symmetrises it before calling this).
    Returns:
        (..., H, W), differentiable in ``y`` and ``mask`` by autograd.
    """
    h, w = y.shape[-2:]
    n = h * w
    kernel = torch.fft.irfft2(mask, s=(h, w))  # (..., H, W) real: the filter's spatial kernel
    matrix = kernel.reshape(*kernel.shape[:-2], n)[..., circulant_index(h, w, y.device)]  # (..., n, n)
    if y.dim() == 4 and matrix.dim() == 3:  # (B, C, H, W) maps, (C|1, n, n): one GEMM per channel
        b, c = y.shape[:2]
        out = torch.matmul(y.reshape(b, c, n).transpose(0, 1), matrix)  # (C, B, n): sum_p y[p] k[q-p]
        return out.transpose(0, 1).reshape(b, c, h, w).contiguous()  # (B, C, H, W)
    out = torch.matmul(y.reshape(*y.shape[:-2], 1, n), matrix)  # any other layout: broadcast, (..., 1, n)
    return out.reshape(*out.shape[:-2], h, w)
