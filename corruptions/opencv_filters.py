"""OpenCV's small filters that CIFAR-10-C's spatter chains, batched in torch with OpenCV's exact arithmetic.

All with OpenCV's default border, BORDER_REFLECT_101 (gfedcb|abcdefgh|gfedcba); tested against 4.10:

* :func:`box_blur_float`: ``cv2.blur(float32, (3, 3))``: the 9-value sum in double (exact for the
  dyadic values it meets here), times the double ``1/9``, rounded to float32;
* :func:`box_blur_uint8`: ``cv2.blur(uint8, (3, 3))``: OpenCV's fixed-point division of the integer
  sum, ``((s + 4) * 7282) >> 16`` (= round(s / 9));
* :func:`filter2d_uint8`: ``cv2.filter2D(uint8, cv2.CV_8U, integer kernel)``: correlation, the exact
  integer sum saturated to 0..255;
* :func:`equalize_hist`: ``cv2.equalizeHist``: lut[v] = round_half_even(float32(cumulative count) *
  float32(255 / (pixels - count of the lowest value))), the lowest value to 0.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _reflect101_pad(x: torch.Tensor, r: int) -> torch.Tensor:
    """(N, H, W) padded by r on each side with reflect-101 (torch's 'reflect' is OpenCV's REFLECT_101)."""
    return F.pad(x[:, None], (r, r, r, r), mode="reflect")[:, 0]


def _window_terms(x: torch.Tensor, size: int):
    h, w = x.shape[1:]
    padded = _reflect101_pad(x, size // 2)
    for dr in range(size):
        for dc in range(size):
            yield dr, dc, padded[:, dr : dr + h, dc : dc + w]


def box_blur_float(x: torch.Tensor) -> torch.Tensor:
    """``cv2.blur(x[i], (3, 3))`` for float32 (N, H, W) whose 3x3 sums are exact in double."""
    total = sum(term for _, _, term in _window_terms(x.to(torch.float64), 3))
    return (total * (1.0 / 9)).to(torch.float32)


def box_blur_uint8(x: torch.Tensor) -> torch.Tensor:
    """``cv2.blur(x[i], (3, 3))`` for uint8 (N, H, W)."""
    total = sum(term for _, _, term in _window_terms(x.to(torch.int64), 3))
    return (((total + 4) * 7282) >> 16).to(torch.uint8)


def filter2d_uint8(x: torch.Tensor, kernel: tuple[tuple[int, ...], ...]) -> torch.Tensor:
    """``cv2.filter2D(x[i], cv2.CV_8U, kernel)`` for uint8 (N, H, W) and a small odd integer kernel."""
    total = sum(kernel[dr][dc] * term for dr, dc, term in _window_terms(x.to(torch.int64), len(kernel)))
    return total.clamp_(0, 255).to(torch.uint8)


def equalize_hist(x: torch.Tensor) -> torch.Tensor:
    """``cv2.equalizeHist(x[i])`` for uint8 (N, H, W)."""
    n = x.shape[0]
    flat = x.reshape(n, -1).to(torch.int64)
    total = flat.shape[1]
    hist = torch.zeros(n, 256, dtype=torch.int64, device=x.device).scatter_add_(
        1, flat, torch.ones_like(flat)
    )
    lowest = (hist > 0).to(torch.int64).argmax(dim=1, keepdim=True)  # first non-empty bin
    lowest_count = hist.gather(1, lowest)
    scale = torch.tensor(255.0, dtype=torch.float32, device=x.device) / (total - lowest_count).to(
        torch.float32
    )
    cumulative = hist.cumsum(1) - lowest_count  # counts above the lowest value, up to each bin
    lut = torch.round(cumulative.to(torch.float32) * scale).clamp_(0, 255)  # cvRound: half to even
    levels = torch.arange(256, device=x.device)
    lut = torch.where(levels <= lowest, 0.0, lut)
    single = lowest_count == total  # one value only: OpenCV sets every pixel to it
    lut = torch.where(single, lowest.to(torch.float32), lut).to(torch.uint8)
    return lut.gather(1, flat).view(x.shape)
