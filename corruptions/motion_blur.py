"""CIFAR-10-C motion blur: ImageMagick's one-sided motion blur at a random angle in [-45, 45) degrees."""

from __future__ import annotations

import torch

from corruptions._common import check_images, chunks, resolve_indices, severity_parameter
from corruptions.imagemagick_motion import motion_blur_q16
from corruptions.seeding import stream_key, uniforms

PARAMETERS = ((6, 1.0), (6, 1.5), (6, 2.0), (8, 2.0), (9, 2.5))  # ImageMagick (radius, sigma) per severity

ANGLE_RANGE = (-45.0, 45.0)  # degrees, uniform
_CPU_CHUNK = 128  # images per pass on the CPU


def motion_blur(
    images: torch.Tensor, severity: int, seed: int = 0, indices: torch.Tensor | None = None
) -> torch.Tensor:
    """Motion blur, (radius, sigma) = (6, 1), (6, 1.5), (6, 2), (8, 2), (9, 2.5) for severity 1..5.

    The reference writes the image to PNG, calls ImageMagick's ``MagickMotionBlurImage(radius, sigma,
    angle)`` through Wand with ``angle = np.random.uniform(-45, 45)`` and decodes the PNG:
    :func:`corruptions.imagemagick_motion.motion_blur_q16` computes that (ImageMagick 6, Q16): a
    one-sided Gaussian of ``2 ceil(radius) + 1`` taps along the angle, edge pixels repeated, rounded
    to 16 bits and then to 8 bits (ImageMagick rounds; this corruption's output is not truncated).

    Randomness: the angle of image ``indices[i]`` is ``-45 + 90 * u`` with ``u`` the first value of
    :func:`corruptions.seeding.uniforms` for the stream ``(seed, "motion_blur", severity)``.

    Args:
        images: (N, 32, 32, 3) uint8 tensor, NHWC RGB, any device.
        severity: 1..5.
        seed: integer in ``[0, 2**64)``.
        indices: (N,) integer tensor, the dataset index of each image (default ``0..N-1``).
    Returns:
        (N, 32, 32, 3) uint8 tensor on the same device.

    Example:
        >>> x = torch.full((2, 32, 32, 3), 77, dtype=torch.uint8)
        >>> sorted(set(motion_blur(x, severity=5, seed=0).view(-1).tolist()))   # constant stays constant
        [77]
    """
    radius, sigma = severity_parameter(PARAMETERS, severity)
    check_images(images)
    indices = resolve_indices(indices, images.shape[0], images.device)
    angles = motion_angles(seed, severity, indices)
    out = torch.empty_like(images, memory_format=torch.contiguous_format)
    for part in chunks(images.shape[0], images.device, _CPU_CHUNK):
        out[part] = motion_blur_q16(images[part].contiguous(), radius, sigma, angles[part])
    return out


def motion_angles(seed: int, severity: int, indices: torch.Tensor) -> torch.Tensor:
    """Each dataset index's blur angle in degrees: ``low + (high - low) * u``, as ``np.random.uniform``.

    Example:
        >>> a = motion_angles(0, 1, torch.arange(1000))
        >>> bool((a >= -45).all() and (a < 45).all())
        True
    """
    low, high = ANGLE_RANGE
    u = uniforms(stream_key(seed, "motion_blur", severity), indices, 1)[:, 0]  # (N,) float64 in [0, 1)
    return u.mul_(high - low).add_(low)
