"""The masked spectral filter ``irfft2(mask * rfft2(y))``: one function, four interchangeable backends.

``spectral_filter(y, mask, backend)`` is the operation every :class:`~specreg_cli.spectral.SpectralMaskConv2d`
applies to its conv output. The backends compute the same real-linear map (the tests prove them equal to
the reference, values and gradients):

- ``"fft"``: the reference, ``torch.fft.rfft2`` / ``torch.fft.irfft2`` (norm "backward" both ways, so an
  all-ones mask is exactly the identity).
- ``"circulant"``: the filter as one circulant matrix per channel (:mod:`specreg_cli.spectral_circulant`);
  three batched GEMMs per step, cost growing as (H W)^2: the fastest form for small maps.
- ``"dft"``: a real DFT written as matrix products, two per direction (W then H), no complex dtype. Each
  stage is one large GEMM (tensor-core and ``torch.compile`` friendly); the DFT matrices are cached per
  (H, W, dtype, device). On CPU (MKL FFT) it measured about 2x slower than "fft" per layer on 32x32,
  16x16 and 8x8 maps; it is for matmul-rich accelerators (not measured here).
- ``"auto"`` (the default): "circulant" for maps of at most
  :data:`~specreg_cli.spectral_circulant.AUTO_MAX_PIXELS` pixels (ResNet-20's 8x8 stage), "fft" above.
  That choice was measured on the CPU (``python -m benchmarks``); see :func:`resolve_backend`.

Semantics on the self-conjugate columns (k=0, and k=W/2 for even W): entries (h, k) and (-h, k) are the
same real frequency, so a conjugate pair acts with the mean of its two mask entries. That is exactly how
``irfft2`` reads a non-Hermitian half-spectrum on CPU; the filter symmetrises those two mask columns
explicitly so that every transform gets an exactly Hermitian input (a multi-dim cuFFT C2R is not
specified for non-Hermitian input) and all backends and devices agree.

"fft" and "dft" run under one custom autograd function whose backward uses that the filter is
self-adjoint: the half-spectrum mask acts like a real, Hermitian-symmetric full-spectrum mask, so
``dL/dy = filter(dL/dout)`` and one transform pair serves the backward. ``dL/dmask`` is
``w_k / (H W) * sum_batch Re(S * conj(G))`` with ``S = rfft2(y)``, ``G = rfft2(dL/dout)`` and ``w_k`` = 1 on
the self-conjugate columns, 2 elsewhere (the Hermitian weights of the half-spectrum). "circulant" is plain
autograd.

Under autocast, or for float16 / bfloat16 inputs, the filter runs in float32 and the result is cast back
to the input's dtype.

Example::

    y = torch.randn(8, 16, 32, 32)
    mask = torch.ones(16, 32, 17)
    torch.testing.assert_close(spectral_filter(y, mask, backend="dft"), y)
"""

from __future__ import annotations

import functools
import math

import torch
from torch.autograd.function import once_differentiable

from specreg_cli.spectral_circulant import AUTO_MAX_PIXELS, circulant_filter

BACKENDS = ("auto", "fft", "circulant", "dft")


def half_spectrum_weights(w: int, dtype: torch.dtype = torch.float64, device=None) -> torch.Tensor:
    """Hermitian weights of the W//2+1 half-spectrum columns: 1 for k=0 (and k=W/2 if W is even), else 2.

    ``irfft2(Z)[m, n] = Re(sum_{h,k} w_k Z[h, k] exp(2 pi i (h m / H + k n / W))) / (H W)``.
    Example: ``half_spectrum_weights(4)`` -> ``tensor([1., 2., 1.])``.
    """
    weights = torch.full((w // 2 + 1,), 2.0, dtype=dtype, device=device)
    weights[0] = 1.0
    if w % 2 == 0:
        weights[-1] = 1.0  # the Nyquist column is its own conjugate
    return weights


@functools.lru_cache(maxsize=64)
def dft_matrices(h: int, w: int, dtype: torch.dtype, device: torch.device) -> tuple[torch.Tensor, ...]:
    """Real DFT matrices for an (H, W) map, built in float64 and cast; cached per (h, w, dtype, device).

    Returns ``(fwd_w, fwd_h, inv_h, inv_w)`` with K = W//2+1:
    - ``fwd_w`` (W, 2K): ``y @ fwd_w`` = [Re | Im] of the rfft along W (angle beta = 2 pi k n / W).
    - ``fwd_h`` (2H, 2H): ``[A | B] @ fwd_h`` = [Re | Im] of the DFT along H for a column stored as (2H,).
    - ``inv_h`` (2H, 2H): the inverse DFT along H (no scaling), ``= fwd_h.T``.
    - ``inv_w`` (2K, W): Hermitian-weighted inverse along W, including the 1/(H W) scaling.
    """
    with torch.inference_mode(False):  # cached: must stay usable by autograd if first built in inference
        return _build_dft_matrices(h, w, dtype, device)


def _build_dft_matrices(h: int, w: int, dtype: torch.dtype, device: torch.device) -> tuple[torch.Tensor, ...]:
    f64 = {"dtype": torch.float64, "device": device}
    k = torch.arange(w // 2 + 1, **f64)
    beta = 2 * math.pi * torch.outer(torch.arange(w, **f64), k) / w  # (W, K)
    fwd_w = torch.cat([beta.cos(), -beta.sin()], dim=1)  # (W, 2K)
    idx = torch.arange(h, **f64)
    alpha = 2 * math.pi * torch.outer(idx, idx) / h  # (H, H), symmetric
    cos, sin = alpha.cos(), alpha.sin()
    # (A + iB)(cos - i sin): Re = A cos + B sin, Im = B cos - A sin; rows of the block = [A-part; B-part].
    fwd_h = torch.cat([torch.cat([cos, -sin], dim=1), torch.cat([sin, cos], dim=1)], dim=0)  # (2H, 2H)
    weights = half_spectrum_weights(w, **f64)[:, None]  # (K, 1)
    inv_w = torch.cat([weights * beta.T.cos(), -weights * beta.T.sin()], dim=0) / (h * w)  # (2K, W)
    mats = (fwd_w, fwd_h, fwd_h.T, inv_w)
    return tuple(m.to(dtype).contiguous() for m in mats)


class _FFT:
    """Reference transform: spectra are complex (..., H, K)."""

    @staticmethod
    def analyze(y: torch.Tensor) -> torch.Tensor:
        return torch.fft.rfft2(y)  # (..., H, K) complex

    @staticmethod
    def masked(spec: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return spec * mask  # complex * real broadcast; measured 2x faster than on view_as_real pairs

    @staticmethod
    def synthesize(spec: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
        return torch.fft.irfft2(spec, s=hw)  # (..., H, W) real

    @staticmethod
    def mask_grad(spec: torch.Tensor, grad_spec: torch.Tensor, mask: torch.Tensor, hw) -> torch.Tensor:
        prod = torch.view_as_real(spec) * torch.view_as_real(grad_spec)  # (..., H, K, 2)
        # Reduce the batch first: a sum over the trailing (re, im) pair of the full tensor is 5x slower.
        prod = prod.sum_to_size(*mask.shape, 2).sum(-1)  # (mask shape) Re(S conj G)
        return prod * (half_spectrum_weights(hw[1], prod.dtype, prod.device) / (hw[0] * hw[1]))


class _DFT:
    """Matmul transform: spectra are real (..., K, 2, H) = [Re | Im] along H, one row per column k."""

    @staticmethod
    def analyze(y: torch.Tensor) -> torch.Tensor:
        *lead, h, w = y.shape
        k = w // 2 + 1
        fwd_w, fwd_h, _, _ = dft_matrices(h, w, y.dtype, y.device)
        t = (y @ fwd_w).view(*lead, h, 2, k)  # (..., H, 2, K): rfft along W
        t = t.transpose(-1, -3).reshape(*lead, k, 2 * h)  # (..., K, 2, H) -> (..., K, 2H)
        return (t @ fwd_h).view(*lead, k, 2, h)  # (..., K, 2, H): DFT along H

    @staticmethod
    def masked(spec: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return spec * mask.transpose(-1, -2).unsqueeze(-2)  # mask (.., H, K) -> (.., K, 1, H)

    @staticmethod
    def synthesize(spec: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
        *lead, k, _, h = spec.shape
        _, _, inv_h, inv_w = dft_matrices(hw[0], hw[1], spec.dtype, spec.device)
        u = (spec.reshape(*lead, k, 2 * h) @ inv_h).view(*lead, k, 2, h)  # (..., K, 2, H): inverse along H
        u = u.transpose(-1, -3).reshape(*lead, h, 2 * k)  # (..., H, 2, K) -> (..., H, 2K)
        return u @ inv_w  # (..., H, W): Hermitian-weighted inverse along W

    @staticmethod
    def mask_grad(spec: torch.Tensor, grad_spec: torch.Tensor, mask: torch.Tensor, hw) -> torch.Tensor:
        prod = (spec * grad_spec).sum(-2)  # (..., K, H) Re(S conj G)
        shape_t = mask.shape[:-2] + (mask.shape[-1], mask.shape[-2])
        prod = prod.sum_to_size(shape_t).transpose(-1, -2)  # (.., H, K)
        return prod * (half_spectrum_weights(hw[1], prod.dtype, prod.device) / (hw[0] * hw[1]))


_BACKEND_IMPLS = {"fft": _FFT, "dft": _DFT}  # the transform-pair backends of _SpectralFilter


class _SpectralFilter(torch.autograd.Function):
    """out = irfft2(mask * rfft2(y)); backward reuses the (self-adjoint) filter, see the module docstring."""

    @staticmethod
    def forward(ctx, y: torch.Tensor, mask: torch.Tensor, backend: str) -> torch.Tensor:
        impl = _BACKEND_IMPLS[backend]
        hw = (y.shape[-2], y.shape[-1])
        spec = impl.analyze(y)
        out = impl.synthesize(impl.masked(spec, mask), hw)
        # The spectrum is only needed for the mask gradient; don't hold it otherwise.
        ctx.save_for_backward(spec if mask.requires_grad else None, mask)
        ctx.impl, ctx.hw = impl, hw
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out: torch.Tensor):
        spec, mask = ctx.saved_tensors
        impl, hw = ctx.impl, ctx.hw
        grad_spec = impl.analyze(grad_out.contiguous())
        grad_y = impl.synthesize(impl.masked(grad_spec, mask), hw) if ctx.needs_input_grad[0] else None
        grad_mask = impl.mask_grad(spec, grad_spec, mask, hw) if ctx.needs_input_grad[1] else None
        return grad_y, grad_mask, None


def _symmetrize_self_conjugate_columns(mask: torch.Tensor, w: int) -> torch.Tensor:
    """Replace mask[..., h, k] by the mean of (h, k) and (-h, k) on k=0 (and k=W/2 if W is even).

    (..., H, K) -> (..., H, K), differentiable. The filter's value is unchanged (see the module docstring);
    the product with a Hermitian spectrum becomes exactly Hermitian.
    """
    negated_rows, keep = _self_conjugate_index(mask.shape[-2], mask.shape[-1], w, mask.device)
    mean = (mask + mask[..., negated_rows, :]) / 2
    return torch.where(keep, mask, mean)


@functools.lru_cache(maxsize=64)
def _self_conjugate_index(h: int, k: int, w: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """(row h -> row -h mod H index, columns kept as they are), built once per shape and device: this runs
    in every masked layer's forward pass. Built outside inference mode: a cached inference tensor could not
    be saved for backward by a later training step."""
    with torch.inference_mode(False):
        return _negated_rows_and_kept_columns(h, k, w, device)


def _negated_rows_and_kept_columns(
    h: int, k: int, w: int, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    negated_rows = (-torch.arange(h, device=device)) % h
    keep = torch.ones(k, dtype=torch.bool, device=device)
    keep[[0, w // 2] if w % 2 == 0 else [0]] = False
    return negated_rows, keep


def resolve_backend(backend: str, h: int, w: int) -> str:
    """The backend that runs for an (H, W) map: ``backend`` itself, or for "auto" "circulant" when
    ``H * W <= AUTO_MAX_PIXELS`` and "fft" otherwise. Raises ValueError for an unknown name.

    Example: ``resolve_backend("auto", 8, 8)`` -> ``"circulant"``;
    ``resolve_backend("auto", 16, 16)`` -> ``"fft"``.
    """
    if backend not in BACKENDS:
        raise ValueError(f"unknown spectral backend {backend!r}; expected one of {BACKENDS}")
    if backend == "auto":
        return "circulant" if h * w <= AUTO_MAX_PIXELS else "fft"
    return backend


def spectral_filter(y: torch.Tensor, mask: torch.Tensor, backend: str = "auto") -> torch.Tensor:
    """Mask the half-spectrum of every (H, W) map of ``y``: ``irfft2(mask * rfft2(y), s=(H, W))``.

    Args:
        y: (..., H, W) real, e.g. a conv output (B, C, H, W).
        mask: (..., H, W//2+1) real, broadcastable against the spectrum: (C, H, W//2+1) or (1, H, W//2+1).
        backend: one of :data:`BACKENDS` (see the module docstring); same result up to rounding.
    Returns:
        (..., H, W), dtype of ``y``. Differentiable in ``y`` and ``mask`` (first order).

    Example: ``spectral_filter(torch.randn(2, 4, 8, 8), torch.ones(4, 8, 5))`` returns its input.
    """
    h, w = y.shape[-2:]
    backend = resolve_backend(backend, h, w)
    if tuple(mask.shape[-2:]) != (h, w // 2 + 1):
        raise ValueError(
            f"mask shape {tuple(mask.shape)} does not fit a ({h}, {w}) map: last dims must be "
            f"({h}, {w // 2 + 1})"
        )
    mask = _symmetrize_self_conjugate_columns(mask, w)
    if y.dtype in (torch.float16, torch.bfloat16) or torch.is_autocast_enabled(y.device.type):
        # Low-precision FFTs, DFT sums and circulant GEMMs lose too much: compute in float32 with autocast
        # off (it would send the GEMMs back to half precision) and return the input's dtype.
        with torch.autocast(device_type=y.device.type, enabled=False):
            return _apply(y.float(), mask.float(), backend).to(y.dtype)
    return _apply(y, mask.to(y.dtype), backend)


def _apply(y: torch.Tensor, mask: torch.Tensor, backend: str) -> torch.Tensor:
    if backend == "circulant":
        return circulant_filter(y, mask)
    return _SpectralFilter.apply(y, mask, backend)


def rfft2_dft(y: torch.Tensor) -> torch.Tensor:
    """``torch.fft.rfft2(y)`` computed by the matmul DFT: (..., H, W) real -> (..., H, W//2+1) complex."""
    spec = _DFT.analyze(y)  # (..., K, 2, H)
    return torch.complex(spec[..., 0, :], spec[..., 1, :]).transpose(-1, -2)


def irfft2_dft(spec: torch.Tensor, s: tuple[int, int]) -> torch.Tensor:
    """``torch.fft.irfft2(spec, s=s)`` by the matmul DFT: (..., H, W//2+1) complex -> (..., H, W) real.

    Like torch (CPU), the imaginary parts on the self-conjugate columns are read as ``irfft2`` reads them:
    the result is ``Re(...)`` of the Hermitian-weighted inverse sum (see :func:`half_spectrum_weights`).
    """
    stacked = torch.stack([spec.real, spec.imag], dim=-2)  # (..., H, 2, K)
    stacked = stacked.transpose(-1, -3)  # (..., K, 2, H)
    return _DFT.synthesize(stacked.contiguous(), tuple(s))
