"""Plasma fractal (diamond-square on a 32x32 torus), batched over images, as in CIFAR-10-C's fog.

The algorithm and the order of every floating-point operation follow ``plasma_fractal`` in
hendrycks/robustness ``ImageNet-C/create_c/make_cifar_c.py`` (mapsize 32, wibble 100), so that, given
the same uniforms, the map is the reference's bit for bit. Only the source of the uniforms differs:
the caller passes them in (see :func:`corruptions.fog.plasma_fractal` for the seeded ones).
"""

from __future__ import annotations

import torch

SIZE = 32  # map side (CIFAR), a power of two
START_AMPLITUDE = 100.0  # "wibble": the noise term is w * U(-w, w), so +-w**2 at the first level
STEPS = (32, 16, 8, 4, 2)  # step sizes s; each sets n*n centres and 2*n*n diamond points, n = 32 / s
UNIFORMS_PER_MAP = sum(3 * (SIZE // s) ** 2 for s in STEPS)  # 1023


def plasma_from_uniforms(uniforms: torch.Tensor, decay: float) -> torch.Tensor:
    """Diamond-square heightmaps from explicit uniforms; each map spans exactly [0, 1].

    Per level (step ``s`` = 32, 16, 8, 4, 2; ``h = s / 2``; ``n = 32 / s``), with indices wrapping
    around (the grid is a torus) and noise ``w * U(-w, w)``:
      1. square: centre (h + i*s, h + j*s) = (sum of its 4 corners) / 4 + noise      (n*n uniforms)
      2. diamond A: (i*s, h + j*s) = (centre below + above + corner left + right) / 4 + noise (n*n)
      3. diamond B: (h + i*s, j*s) = (centre right + left + corner above + below) / 4 + noise (n*n)
      4. ``w /= decay``.
    Finally ``P = (grid - min) / max(grid - min)`` per map.

    Args:
        uniforms: (N, 1023) float64 in [0, 1), consumed in the order above (per level: square,
            diamond A, diamond B; each block row-major).
        decay: amplitude divisor per level (fog's ``d``: 3, 3, 2.5, 2, 1.75).
    Returns:
        (N, 32, 32) float64 on ``uniforms.device``.

    Example:
        >>> p = plasma_from_uniforms(torch.rand(2, 1023, dtype=torch.float64), decay=3.0)
        >>> p.shape, float(p[0].min()), float(p[0].max())
        (torch.Size([2, 32, 32]), 0.0, 1.0)
    """
    if uniforms.ndim != 2 or uniforms.shape[1] != UNIFORMS_PER_MAP or uniforms.dtype != torch.float64:
        raise ValueError(
            f"uniforms must be float64 with shape (N, {UNIFORMS_PER_MAP}), got "
            f"{uniforms.dtype} {tuple(uniforms.shape)}"
        )
    n_maps = uniforms.shape[0]
    grid = torch.zeros(n_maps, SIZE, SIZE, dtype=torch.float64, device=uniforms.device)  # (N, 32, 32)
    w = START_AMPLITUDE
    used = 0

    def noisy_mean(total: torch.Tensor) -> torch.Tensor:
        """``total / 4 + w * U(-w, w)``, as ``array / 4 + wibble * np.random.uniform(-wibble, wibble)``."""
        nonlocal used
        k = total.shape[1] * total.shape[2]
        u = uniforms[:, used : used + k].view_as(total)  # (N, n, n)
        used += k
        # numpy's uniform(low, high) is low + (high - low) * random_sample(); high - low = 2w exactly
        return total / 4 + w * (-w + (2 * w) * u)

    for s in STEPS:
        h = s // 2
        corners = grid[:, 0::s, 0::s]  # (N, n, n) view
        total = corners + torch.roll(corners, -1, dims=1)  # corner + the one below
        total = total + torch.roll(total, -1, dims=2)  # + the same pair one column right
        grid[:, h::s, h::s] = noisy_mean(total)
        centres = grid[:, h::s, h::s]  # (N, n, n) view, just set
        # diamond A at (i*s, h + j*s): centres below (i) and above (i - 1); corners left (j), right (j + 1)
        total = (centres + torch.roll(centres, 1, dims=1)) + (corners + torch.roll(corners, -1, dims=2))
        grid[:, 0::s, h::s] = noisy_mean(total)
        # diamond B at (h + i*s, j*s): centres right (j) and left (j - 1); corners above (i), below (i + 1)
        total = (centres + torch.roll(centres, 1, dims=2)) + (corners + torch.roll(corners, -1, dims=1))
        grid[:, h::s, 0::s] = noisy_mean(total)
        w /= decay

    grid -= grid.amin(dim=(1, 2), keepdim=True)
    return grid / grid.amax(dim=(1, 2), keepdim=True)
