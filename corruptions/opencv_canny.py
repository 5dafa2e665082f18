"""OpenCV's ``Canny(image, low, high)`` (3x3 Sobel, L1 gradient) on a batch of uint8 images, in integers.

What ``cv2.Canny`` computes (4.x ``parallelCanny``), reproduced with integer tensor ops (exact on every
device and kernel path; tested against OpenCV 4.10):

1. ``dx``, ``dy``: 3x3 Sobel correlations with replicated borders; ``mag = |dx| + |dy|``.
2. Non-maximum suppression, for ``mag > floor(low)``, with OpenCV's fixed-point tangent test
   (``TG22 = round(tan(22.5 deg) * 2**15)``): horizontal gradient direction: greater than the left
   neighbour and at least the right one; vertical: greater than the one above, at least the one below;
   diagonal: greater than both neighbours along the diagonal that the gradient signs pick. Outside the
   image the magnitude counts as 0.
3. Hysteresis: a surviving pixel is an edge when it is 8-connected through survivors to one whose
   magnitude exceeds ``floor(high)`` (OpenCV's stack-based propagation reaches exactly these).

Returns 255 on edges, 0 elsewhere, like OpenCV.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

CANNY_SHIFT = 15
TG22 = int(0.4142135623730950488016887242097 * (1 << CANNY_SHIFT) + 0.5)  # 13573


def canny(images: torch.Tensor, low: float, high: float) -> torch.Tensor:
    """``cv2.Canny(images[i], low, high)`` for every image: (N, H, W) uint8 in, (N, H, W) uint8 out."""
    x = F.pad(images.to(torch.int64)[:, None], (1, 1, 1, 1), mode="replicate")[:, 0]  # (N, H+2, W+2)
    h, w = images.shape[1:]

    def at(dr: int, dc: int) -> torch.Tensor:
        return x[:, 1 + dr : 1 + dr + h, 1 + dc : 1 + dc + w]

    dx = (at(-1, 1) - at(-1, -1)) + 2 * (at(0, 1) - at(0, -1)) + (at(1, 1) - at(1, -1))
    dy = (at(1, -1) - at(-1, -1)) + 2 * (at(1, 0) - at(-1, 0)) + (at(1, 1) - at(-1, 1))
    mag = dx.abs() + dy.abs()  # (N, H, W)
    padded = F.pad(mag, (1, 1, 1, 1))  # zeros outside, as OpenCV's magnitude buffer

    def m_at(dr, dc):
        return padded[:, 1 + dr : 1 + dr + h, 1 + dc : 1 + dc + w]

    ax, ay = dx.abs(), dy.abs() << CANNY_SHIFT
    tg22x = ax * TG22
    tg67x = tg22x + (ax << (CANNY_SHIFT + 1))
    horizontal = ay < tg22x
    vertical = ~horizontal & (ay > tg67x)
    s = torch.where((dx ^ dy) < 0, -1, 1)  # the diagonal the signs pick
    keep_h = (mag > m_at(0, -1)) & (mag >= m_at(0, 1))
    keep_v = (mag > m_at(-1, 0)) & (mag >= m_at(1, 0))
    diag_pos = (mag > m_at(-1, -1)) & (mag > m_at(1, 1))  # s = +1: (i-1, j-1) and (i+1, j+1)
    diag_neg = (mag > m_at(-1, 1)) & (mag > m_at(1, -1))  # s = -1: (i-1, j+1) and (i+1, j-1)
    keep_d = torch.where(s > 0, diag_pos, diag_neg)
    candidate = (mag > int(low // 1)) & torch.where(horizontal, keep_h, torch.where(vertical, keep_v, keep_d))
    edges = candidate & (mag > int(high // 1))
    return _hysteresis(edges, candidate).to(torch.uint8) * 255


def _hysteresis(strong: torch.Tensor, candidate: torch.Tensor) -> torch.Tensor:
    """Candidates 8-connected through candidates to a strong pixel: grow by 3x3 dilation until stable."""
    edges = strong.clone()
    while True:
        grown = F.max_pool2d(edges[:, None].to(torch.float32), 3, stride=1, padding=1)[:, 0] > 0
        grown &= candidate
        if torch.equal(grown, edges):
            return edges
        edges = grown
