"""ImageMagick's MotionBlurImage (as the reference calls it through Wand), batched, with per-image angles.

The reference's motion_blur and snow write the image to PNG, blur it with ImageMagick 6 (Q16, the
build that Wand loads by default) and decode the PNG again. What that computes, from the IM6 source
(``MotionBlurImage``, ``GetOptimalKernelWidth1D``, ``ClampToQuantum``, ``ScaleQuantumToChar``):

* kernel width ``2 * ceil(radius) + 1``; weights ``k_i = exp(-i**2 / (2 sigma**2)) / (sqrt(2 pi) sigma)``
  for ``i = 0 .. width - 1``, divided by their sum (added in order): a one-sided Gaussian;
* sample offsets, with ``a`` the angle in degrees, ``px = width * sin(pi * a / 180)``,
  ``py = width * cos(pi * a / 180)``: column ``ceil(i * py / hypot(px, py) - 0.5)`` and row
  ``ceil(i * px / hypot(px, py) - 0.5)``; outside the image the edge pixel is repeated (IM's default
  'edge' virtual pixels);
* on 16-bit quanta (an 8-bit value ``v`` is ``257 v``): ``q = sum_i k_i * p_i`` added tap after tap
  in double, then ``ClampToQuantum`` (``0`` below 0, ``65535`` above, else ``int(q + 0.5)``);
* back to 8 bits for the PNG: ``((q + 128) - ((q + 128) >> 8)) >> 8`` (a rounding, not a truncation).

Example:
    >>> x = torch.zeros(2, 32, 32, 1, dtype=torch.uint8); x[:, :, 16] = 255      # a vertical line
    >>> y = motion_blur_q16(x, 6, 1.0, torch.tensor([0.0, 90.0], dtype=torch.float64))
    >>> y[0, 0, 13:18, 0].tolist(), int(y[1, 0, 16, 0])    # angle 0: smeared to the left; 90: along itself
    ([2, 20, 88, 145, 0], 255)
"""

from __future__ import annotations

import functools
import math

import torch

_SQ2PI = 2.50662827463100024161235523934010416269302368164062  # IM's MagickSQ2PI
_EPSILON = 1.0e-12  # IM6's MagickEpsilon: the smallest sigma it uses
_QUANTUM = 257.0  # 8-bit value -> Q16 quantum (ScaleCharToQuantum)
_QUANTUM_RANGE = 65535


@functools.lru_cache(maxsize=16)
def motion_weights(radius: float, sigma: float) -> tuple[float, ...]:
    """IM6's normalised one-sided kernel: ``2 ceil(radius) + 1`` Python floats, largest first.

    Example:
        >>> len(motion_weights(6, 1.0)), motion_weights(6, 1.0)[0] > motion_weights(6, 1.0)[1]
        (13, True)
    """
    width = int(2.0 * math.ceil(radius) + 1.0)
    s = sigma if abs(sigma) >= _EPSILON else _EPSILON
    kernel = [math.exp(-float(i * i) / (2.0 * s * s)) / (_SQ2PI * s) for i in range(width)]
    total = 0.0
    for k in kernel:
        total += k
    return tuple(k / total for k in kernel)


def motion_offsets(angles: torch.Tensor, width: int) -> tuple[torch.Tensor, torch.Tensor]:
    """IM6's sample offsets for per-image angles in degrees: (columns, rows), each (N, width) int64.

    Example:
        >>> cols, rows = motion_offsets(torch.tensor([0.0], dtype=torch.float64), 5)
        >>> cols.tolist(), rows.tolist()
        ([[0, 1, 2, 3, 4]], [[0, 0, 0, 0, 0]])
    """
    radians = angles.to(torch.float64).mul(math.pi).div_(180.0)  # IM: MagickPI * degrees / 180
    px = radians.sin().mul_(width)[:, None]  # (N, 1)
    py = radians.cos().mul_(width)[:, None]
    norm = torch.hypot(px, py)
    i = torch.arange(width, dtype=torch.float64, device=angles.device)  # (width,)
    columns = torch.ceil((i * py).div_(norm).sub_(0.5)).to(torch.int64)
    rows = torch.ceil((i * px).div_(norm).sub_(0.5)).to(torch.int64)
    return columns, rows


def motion_blur_q16(images: torch.Tensor, radius: float, sigma: float, angles: torch.Tensor) -> torch.Tensor:
    """Motion-blur 8-bit images as ImageMagick 6 Q16 does and return the 8-bit PNG values.

    Args:
        images: (N, H, W, C) uint8 tensor (any number of channels, each blurred alike), any device.
        radius, sigma: ImageMagick's ``-motion-blur radius x sigma``.
        angles: (N,) float64 tensor, one angle in degrees per image.
    Returns:
        (N, H, W, C) uint8 tensor.
    """
    n, height, width_px, channels = images.shape
    weights = motion_weights(radius, sigma)
    columns, rows = motion_offsets(angles, len(weights))  # (N, taps) each
    flat = images.reshape(n, height * width_px, channels)
    ys = torch.arange(height, device=images.device)
    xs = torch.arange(width_px, device=images.device)
    acc = torch.zeros(n, height * width_px, channels, dtype=torch.float64, device=images.device)
    for i, k in enumerate(weights):
        src_rows = (ys[None, :] + rows[:, i, None]).clamp_(0, height - 1)  # (N, H): edge pixels repeat
        src_cols = (xs[None, :] + columns[:, i, None]).clamp_(0, width_px - 1)  # (N, W)
        index = (src_rows[:, :, None] * width_px + src_cols[:, None, :]).view(n, -1, 1)
        sample = flat.gather(1, index.expand(n, height * width_px, channels)).to(torch.float64)
        acc += sample.mul_(_QUANTUM).mul_(k)  # IM: kernel[i] * quantum, quantum = 257 v exactly
    return _to_bytes(acc).view(n, height, width_px, channels)


def _to_bytes(q: torch.Tensor) -> torch.Tensor:
    """ClampToQuantum then ScaleQuantumToChar (Q16): float64 quanta -> uint8."""
    quanta = q.clamp_(0, _QUANTUM_RANGE).add_(0.5).to(torch.int64).clamp_(max=_QUANTUM_RANGE)
    quanta += 128
    return ((quanta - (quanta >> 8)) >> 8).to(torch.uint8)
