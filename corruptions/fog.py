"""CIFAR-10-C fog: a per-image plasma fractal added to all three channels, then rescaled."""

from __future__ import annotations

import torch

from corruptions._common import check_images, chunks, resolve_indices, severity_parameter
from corruptions.plasma import UNIFORMS_PER_MAP, plasma_from_uniforms
from corruptions.seeding import stream_key, uniforms

PARAMETERS = ((0.2, 3.0), (0.5, 3.0), (0.75, 2.5), (1.0, 2.0), (1.5, 1.75))  # (t, d) per severity 1..5

_CPU_CHUNK = 256  # images per pass on the CPU: the plasma steps are small ops, so amortise them


def plasma_fractal(seed: int, severity: int, indices, device=None) -> torch.Tensor:
    """The fog maps that :func:`fog` uses: one 32x32 plasma per dataset index, each spanning [0, 1].

    The map of image ``i`` depends only on ``(seed, severity, i)``: its 1,023 uniforms are
    :func:`corruptions.seeding.uniforms` of the stream ``(seed, "fog", severity)``, and ``severity``
    also picks the decay ``d`` = (3, 3, 2.5, 2, 1.75).

    Args:
        seed: integer in ``[0, 2**64)``.
        severity: 1..5.
        indices: dataset indices: an int, a sequence of ints or a 1-D integer tensor.
        device: where to compute (default: the tensor's device, else the CPU).
    Returns:
        (N, 32, 32) float64 tensor.

    Example:
        >>> maps = plasma_fractal(seed=0, severity=3, indices=[0, 1, 2])     # (3, 32, 32)
        >>> torch.equal(maps[2], plasma_fractal(0, 3, 2)[0])
        True
    """
    _, decay = severity_parameter(PARAMETERS, severity)
    if isinstance(indices, torch.Tensor):
        idx = indices.to(device) if device is not None else indices
    else:
        idx = torch.as_tensor(indices, dtype=torch.int64, device=device).reshape(-1)
    key = stream_key(seed, "fog", severity)
    return plasma_from_uniforms(uniforms(key, idx, UNIFORMS_PER_MAP), decay)  # (N, 32, 32)


def fog(
    images: torch.Tensor, severity: int, seed: int = 0, indices: torch.Tensor | None = None
) -> torch.Tensor:
    """Fog, (t, d) = (.2, 3), (.5, 3), (.75, 2.5), (1, 2), (1.5, 1.75) for severity 1..5.

    With ``u = x / 255`` (float64), ``m`` = the maximum of ``u`` over the whole image (one scalar per
    image) and ``P`` = the image's plasma map (:func:`plasma_fractal`, decay ``d``), the same for all
    three channels, the result is ``uint8(clip((u + t * P) * m / (m + t), 0, 1) * 255)``, with the
    reference's order of operations (``x += t * P; x * m / (m + t)``) and truncation.

    Args:
        images: (N, 32, 32, 3) uint8 tensor, NHWC RGB, any device.
        severity: 1..5.
        seed: integer in ``[0, 2**64)``.
        indices: (N,) integer tensor, the dataset index of each image (default ``0..N-1``).
    Returns:
        (N, 32, 32, 3) uint8 tensor on the same device.

    Example:
        >>> x = torch.full((2, 32, 32, 3), 200, dtype=torch.uint8)
        >>> fog(x, severity=5, seed=0, indices=torch.arange(2)).shape
        torch.Size([2, 32, 32, 3])
    """
    t, _ = severity_parameter(PARAMETERS, severity)
    check_images(images)
    indices = resolve_indices(indices, images.shape[0], images.device)
    out = torch.empty_like(images, memory_format=torch.contiguous_format)
    for part in chunks(images.shape[0], images.device, _CPU_CHUNK):
        x = images[part]  # (n, 32, 32, 3) uint8
        n = x.shape[0]
        fog_term = plasma_fractal(seed, severity, indices[part], images.device).mul_(t)  # (n, 32, 32)
        # max of u = max(x) / 255 exactly: division by 255 is monotone and correctly rounded
        m = x.reshape(n, -1).amax(dim=1).to(torch.float64).div_(255).view(n, 1, 1, 1)  # (n, 1, 1, 1)
        u = x.to(torch.float64).div_(255)  # (n, 32, 32, 3)
        u += fog_term[..., None]  # same map in all channels
        u.mul_(m).div_(m + t).clamp_(0, 1).mul_(255)
        out[part] = u.to(torch.uint8)  # truncation, as np.uint8 of a float in [0, 255]
    return out
