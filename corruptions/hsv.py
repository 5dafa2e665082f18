"""RGB <-> HSV in float64, batched, with the exact operations of ``skimage.color.rgb2hsv`` / ``hsv2rgb``.

CIFAR-10-C's brightness and saturate go through scikit-image's HSV conversion and truncate the result
to uint8, so a one-ulp difference anywhere becomes a one-level difference in the output. These two
functions therefore repeat skimage's float64 operations one for one (same divisions, same order of
operations, same tie-breaking between channels), and add none of their own: elementwise IEEE
arithmetic, which gives the same bits on every CPU kernel path and device.
"""

from __future__ import annotations

import torch

# hsv2rgb picks (r, g, b) from (v, t, p, q) by the sector hi = floor(6 h) mod 6, as skimage's np.choose does:
# sector 0: (v, t, p), 1: (q, v, p), 2: (p, v, t), 3: (p, q, v), 4: (t, p, v), 5: (v, p, q)
_SECTOR_PICKS = ((0, 1, 2), (3, 0, 2), (2, 0, 1), (2, 3, 0), (1, 2, 0), (0, 2, 3))


def rgb_to_hsv(r: torch.Tensor, g: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """``skimage.color.rgb2hsv`` of float64 RGB planes in [0, 1], any (equal) shapes.

    V is the channel maximum, S = (max - min) / V, H = the sector formula divided by 6, modulo 1.
    Where several channels equal the maximum, skimage's later assignment wins: blue over green over
    red. Grey pixels (max == min) get H = S = 0, where skimage's 0/0 NaNs are zeroed.

    Args:
        r, g, b: float64 tensors of one shape (planes, not channels-last: each op then runs on
            contiguous memory, about twice as fast), values in [0, 1].
    Returns:
        ``(h, s, v)``, float64 tensors of that shape, each in [0, 1].

    Example:
        >>> one = lambda value: torch.tensor([value], dtype=torch.float64)
        >>> [x.item() for x in rgb_to_hsv(one(1.0), one(0.5), one(0.0))]
        [0.08333333333333333, 1.0, 1.0]
    """
    v = torch.maximum(torch.maximum(r, g), b)
    delta = v - torch.minimum(torch.minimum(r, g), b)  # np.ptp
    grey = delta == 0
    s = torch.where(grey, 0.0, delta / v)
    h = (g - b) / delta  # red is the maximum
    h = torch.where(g == v, (b - r).div_(delta).add_(2.0), h)  # green is, overriding red
    h = torch.where(b == v, (r - g).div_(delta).add_(4.0), h)  # blue is, overriding both
    h.div_(6.0)
    # numpy's h % 1.0: h / 6 lies in [-1/6, 5/6], where fmod is the identity, so only negatives move
    h = torch.where(h < 0, h + 1.0, h)
    h.masked_fill_(grey, 0.0)
    return h, s, v


def hsv_to_rgb(h: torch.Tensor, s: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """``skimage.color.hsv2rgb`` of float64 HSV planes, any (equal) shapes.

    With ``hi = floor(6 h)``, ``f = 6 h - hi``, ``p = v (1 - s)``, ``q = v (1 - f s)``,
    ``t = v (1 - (1 - f) s)``, the sector ``hi mod 6`` picks the (r, g, b) of (v, t, p, q), as
    skimage's ``np.choose`` does.

    Args:
        h, s, v: float64 tensors of one shape.
    Returns:
        ``(r, g, b)``, float64 tensors of that shape.

    Example:
        >>> one = lambda value: torch.tensor([value], dtype=torch.float64)
        >>> [x.item() for x in hsv_to_rgb(one(0.5), one(1.0), one(1.0))]
        [0.0, 1.0, 1.0]
    """
    h6 = h * 6
    hi = torch.floor(h6)
    f = h6 - hi
    p = v * (1 - s)
    q = v * (1 - f * s)
    t = v * (1 - (1 - f) * s)
    sector = hi.to(torch.uint8) % 6  # skimage: astype(uint8) % 6; hi is in 0..6
    picked = []
    for channel in range(3):  # r, g, b: one where per value that a sector can pick
        column = [row[channel] for row in _SECTOR_PICKS]
        out = (v, t, p, q)[column[0]].clone()
        for sec in range(1, 6):
            if column[sec] != column[0]:
                out = torch.where(sector == sec, (v, t, p, q)[column[sec]], out)
        picked.append(out)
    return tuple(picked)


_CPU_CHUNK = 256  # images per pass on the CPU: a dozen float64 (n, 32, 32) temporaries stay in cache


def adjust_in_hsv(images: torch.Tensor, adjust) -> torch.Tensor:
    """The reference's ``uint8(clip(hsv2rgb(adjust(rgb2hsv(x / 255))), 0, 1) * 255)`` over a batch.

    Args:
        images: (N, 32, 32, 3) uint8 tensor (checked by the caller).
        adjust: ``adjust(h, s, v)`` changes the (n, 32, 32) float64 HSV planes in place.
    Returns:
        (N, 32, 32, 3) uint8 tensor on the same device.
    """
    out = torch.empty_like(images, memory_format=torch.contiguous_format)
    for part in _chunks(images.shape[0], images.device):
        planes = images[part].permute(3, 0, 1, 2).to(torch.float64).div_(255)  # (3, n, 32, 32)
        h, s, v = rgb_to_hsv(*planes)
        adjust(h, s, v)
        rgb = torch.stack(hsv_to_rgb(h, s, v), dim=-1)  # (n, 32, 32, 3)
        out[part] = rgb.clamp_(0, 1).mul_(255).to(torch.uint8)  # truncation, as np.uint8
    return out


def _chunks(n: int, device: torch.device):
    from corruptions._common import chunks  # local: keeps this module importable on its own

    return chunks(n, device, _CPU_CHUNK)
