"""CIFAR-10-C frost: blend a random crop of a frost photograph into the image (photographs from the user)."""

from __future__ import annotations

import torch

from corruptions._common import check_images, chunks, resolve_indices, severity_parameter
from corruptions.frost_photos import USED, frost_folder, load_scaled_photos
from corruptions.seeding import stream_key, uniforms

WEIGHTS = ((1.0, 0.2), (1.0, 0.3), (0.9, 0.4), (0.85, 0.4), (0.75, 0.45))  # (image, frost) per severity 1..5

_CPU_CHUNK = 1024  # images per pass: a gather and a few float64 (n, 32, 32, 3) passes


def frost(
    images: torch.Tensor,
    severity: int,
    seed: int = 0,
    indices: torch.Tensor | None = None,
    *,
    frost_dir=None,
) -> torch.Tensor:
    """Frost, (image, frost) weights = (1, .2), (1, .3), (.9, .4), (.85, .4), (.75, .45) for severity 1..5.

    As the reference (``make_cifar_c.py``): a photograph ``k`` drawn uniformly from frost1.png ..
    frost5.jpg (its ``np.random.randint(5)``: frost6.jpg is listed but never drawn), scaled by 0.2
    as ``cv2.resize(fx=0.2, fy=0.2)`` does (:func:`corruptions.frost_photos.scale_like_opencv`), a
    32x32 crop at row ``r`` uniform in ``[0, H - 32)`` and column ``c`` in ``[0, W - 32)`` (the
    reference's ``randint``, which never reaches the last offset), then
    ``uint8(clip(a * x + b * crop, 0, 255))`` on the 0..255 scale in float64, truncated. Bit for bit
    the reference given (k, r, c); the photographs are read with Pillow (OpenCV's decoders give the
    same pixels for 8-bit PNG and baseline JPEG; tested against OpenCV).

    Randomness: image ``indices[i]`` uses uniforms 0, 1, 2 of :func:`corruptions.seeding.uniforms`
    for the stream ``(seed, "frost", severity)``: ``k = floor(5 u0)``, ``r = floor((H_k - 32) u1)``,
    ``c = floor((W_k - 32) u2)`` (53-bit uniforms: each choice is uniform to within 2**-45).

    Args:
        images: (N, 32, 32, 3) uint8 tensor, NHWC RGB, any device.
        severity: 1..5.
        seed: integer in ``[0, 2**64)``.
        indices: (N,) integer tensor, the dataset index of each image (default ``0..N-1``).
        frost_dir: folder with frost1.png, frost2.png, frost3.png, frost4.jpg, frost5.jpg (the
            reference's photographs); default: the ``SPECREG_FROST_DIR`` environment variable.
    Returns:
        (N, 32, 32, 3) uint8 tensor on the same device.
    Raises:
        ValueError: no folder given, photographs missing, unreadable or too small (one line).

    Example:
        >>> x = torch.zeros(2, 32, 32, 3, dtype=torch.uint8)
        >>> y = frost(x, severity=5, seed=0, frost_dir="~/frost")  # doctest: +SKIP (needs the photographs)
    """
    a, b = severity_parameter(WEIGHTS, severity)
    check_images(images)
    indices = resolve_indices(indices, images.shape[0], images.device)
    photos, sizes = load_scaled_photos(frost_folder(frost_dir), images.device)  # (5, H, W, 3), (5, 2)
    key = stream_key(seed, "frost", severity)
    offsets = torch.arange(32, device=images.device)
    out = torch.empty_like(images, memory_format=torch.contiguous_format)
    for part in chunks(images.shape[0], images.device, _CPU_CHUNK):
        u = uniforms(key, indices[part], 3)  # (n, 3) float64 in [0, 1)
        k = (u[:, 0] * len(USED)).to(torch.int64)  # (n,) photograph; floor: u >= 0
        spans = (sizes[k] - 32).to(torch.float64)  # (n, 2) crop positions per axis
        start = (u[:, 1:] * spans).to(torch.int64)  # (n, 2) top-left (row, column)
        rows = (start[:, 0:1] + offsets)[:, :, None]  # (n, 32, 1)
        cols = (start[:, 1:2] + offsets)[:, None, :]  # (n, 1, 32)
        crop = photos[k[:, None, None], rows, cols]  # (n, 32, 32, 3) uint8
        blend = images[part].to(torch.float64).mul_(a) + crop.to(torch.float64).mul_(b)
        out[part] = blend.clamp_(0, 255).to(torch.uint8)  # truncation, as np.uint8
    return out
