"""CIFAR-10-C snow: a thresholded, zoomed, motion-blurred noise layer added twice over a whitened image."""

from __future__ import annotations

import torch

from corruptions._common import check_images, chunks, resolve_indices, severity_parameter
from corruptions.clipped_zoom import clipped_zoom
from corruptions.imagemagick_motion import motion_blur_q16
from corruptions.normal import normals
from corruptions.seeding import stream_key, uniforms

# (mean, std, zoom, threshold, blur radius, blur sigma, blend) per severity 1..5
PARAMETERS = (
    (0.1, 0.2, 1.0, 0.6, 8, 3.0, 0.95),
    (0.1, 0.2, 1.0, 0.5, 10, 4.0, 0.9),
    (0.15, 0.3, 1.75, 0.55, 10, 4.0, 0.9),
    (0.25, 0.3, 2.25, 0.6, 12, 6.0, 0.85),
    (0.3, 0.3, 1.25, 0.65, 14, 12.0, 0.8),
)
ANGLE_RANGE = (-135.0, -45.0)  # degrees, uniform: the flakes fall downwards
GREY_WEIGHTS = (0.299, 0.587, 0.114)  # OpenCV's COLOR_RGB2GRAY for float images (R, G, B), as float32

_CPU_CHUNK = 128  # images per pass on the CPU


def snow(
    images: torch.Tensor, severity: int, seed: int = 0, indices: torch.Tensor | None = None
) -> torch.Tensor:
    """Snow, (mean, std, zoom, threshold, radius, sigma, blend) = (.1,.2,1,.6,8,3,.95), ..., severity 1..5.

    The reference (make_cifar_c.py), step by step (its dtypes kept: the image part is float32)::

        u = np.array(x, dtype=np.float32) / 255.
        layer = np.random.normal(size=(32, 32), loc=mean, scale=std)        # float64
        layer = clipped_zoom(layer[..., None], zoom); layer[layer < threshold] = 0
        layer = uint8(clip(layer, 0, 1) * 255) -> PNG -> ImageMagick motion_blur(radius, sigma,
                angle=np.random.uniform(-135, -45)) -> PNG -> / 255.
        u = blend * u + (1 - blend) * np.maximum(u, cv2.cvtColor(u, RGB2GRAY) * 1.5 + 0.5)   # float32
        return np.clip(u + layer + np.rot90(layer, k=2), 0, 1) * 255                     # float64

    ``clipped_zoom`` is :func:`corruptions.clipped_zoom.clipped_zoom` (scipy's order-1 zoom, bit for
    bit), the blur :func:`corruptions.imagemagick_motion.motion_blur_q16` (ImageMagick 6 Q16, one
    channel), the grey as OpenCV computes it (:func:`grey`); the result is truncated to uint8.

    Randomness: the layer of image ``indices[i]`` is ``mean + std * z`` with ``z`` the 1,024 values
    (row-major) of :func:`corruptions.normal.normals` for the stream ``(seed, "snow", severity)``; its
    angle is ``-135 + 90 * u``, ``u`` the first of :func:`corruptions.seeding.uniforms` for the
    stream ``(seed, "snow/angle", severity)``.

    Args:
        images: (N, 32, 32, 3) uint8 tensor, NHWC RGB, any device.
        severity: 1..5.
        seed: integer in ``[0, 2**64)``.
        indices: (N,) integer tensor, the dataset index of each image (default ``0..N-1``).
    Returns:
        (N, 32, 32, 3) uint8 tensor on the same device.

    Example:
        >>> x = torch.zeros(2, 32, 32, 3, dtype=torch.uint8)
        >>> bool((snow(x, severity=5, seed=0) >= 6).all())     # black is lifted toward (1 - .8) * .5
        True
    """
    *_, blend = severity_parameter(PARAMETERS, severity)
    check_images(images)
    indices = resolve_indices(indices, images.shape[0], images.device)
    out = torch.empty_like(images, memory_format=torch.contiguous_format)
    for part in chunks(images.shape[0], images.device, _CPU_CHUNK):
        layer = snow_layer(seed, severity, indices[part])[..., None]  # (n, 32, 32, 1) float64
        u = whiten(images[part].to(torch.float32).div_(255), blend).to(torch.float64)
        u += layer
        u += layer.flip(1, 2)  # np.rot90(layer, k=2)
        out[part] = u.clamp_(0, 1).mul_(255).to(torch.uint8)  # truncation
    return out


def snow_layer(seed: int, severity: int, indices: torch.Tensor) -> torch.Tensor:
    """The blurred snow layer of each dataset index, ``PNG / 255.``: (N, 32, 32) float64 in [0, 1].

    Example:
        >>> snow_layer(0, 3, torch.arange(2)).shape
        torch.Size([2, 32, 32])
    """
    mean, std, zoom, threshold, radius, sigma, _ = severity_parameter(PARAMETERS, severity)
    n = indices.shape[0]
    z = normals(stream_key(seed, "snow", severity), indices, 32 * 32).view(n, 32, 32)
    layer = clipped_zoom(z.mul_(std).add_(mean), zoom)  # numpy's normal: loc + scale * z
    layer[layer < threshold] = 0
    flakes = layer.clamp_(0, 1).mul_(255).to(torch.uint8)  # (n, 32, 32): .astype(np.uint8) truncates
    low, high = ANGLE_RANGE
    u = uniforms(stream_key(seed, "snow/angle", severity), indices, 1)[:, 0]
    angles = u.mul_(high - low).add_(low)
    blurred = motion_blur_q16(flakes[..., None], radius, sigma, angles)[..., 0]
    return blurred.to(torch.float64).div_(255)


def whiten(u: torch.Tensor, blend: float) -> torch.Tensor:
    """``blend * u + (1 - blend) * max(u, grey * 1.5 + 0.5)`` in float32 ((n, 32, 32, 3) float32 in and out).

    The Python scalars meet float32 arrays in the reference, so numpy rounds them to float32 first.
    """
    lifted = torch.maximum(u, grey(u).mul_(1.5).add_(0.5))
    keep = torch.tensor(blend, dtype=torch.float32, device=u.device)
    rest = torch.tensor(1 - blend, dtype=torch.float32, device=u.device)
    return (u * keep).add_(lifted.mul_(rest))


def grey(u: torch.Tensor) -> torch.Tensor:
    """``cv2.cvtColor(u, cv2.COLOR_RGB2GRAY)`` of float32 RGB images, as OpenCV's vector code computes it.

    OpenCV (5.x, AVX2 dispatch) evaluates ``fma(B, 0.114f, fma(R, 0.299f, G * 0.587f))`` in float32
    (equal on every value tested; the plain ``R*.299 + G*.587 + B*.114`` differs in the last bit on
    about a fifth of them). Each fused step is emulated exactly in double: the product of two floats
    is exact there, and the sum is rounded to double, then to float32 (twice-rounded, which can
    differ from one rounding only on an exact float32 tie: about 2**-29 of values).

    Args:
        u: (..., 3) float32 tensor. Returns: (..., 1) float32.
    """
    r, g, b = (torch.tensor(w, dtype=torch.float32, device=u.device).double() for w in GREY_WEIGHTS)
    d = u.double()
    green = (d[..., 1:2] * g).float().double()  # G * 0.587f, rounded to float32
    partial = (d[..., 0:1] * r).add_(green).float().double()  # fma(R, 0.299f, .)
    return (d[..., 2:3] * b).add_(partial).float()  # fma(B, 0.114f, .)
