"""CIFAR-10-C JPEG compression: Pillow's encoder and decoder, as in the reference."""

from __future__ import annotations

import io

import torch

from corruptions._common import check_images, resolve_indices, severity_parameter
from corruptions._pillow import map_with_pillow

QUALITIES = (80, 65, 58, 50, 40)  # JPEG quality (Pillow / libjpeg scale, 1..95) per severity 1..5


def jpeg_compression(
    images: torch.Tensor, severity: int, seed: int = 0, indices: torch.Tensor | None = None
) -> torch.Tensor:
    """JPEG compression, quality = (80, 65, 58, 50, 40) for severity 1..5: encode, then decode.

    The reference (``make_cifar_c.py``) saves the PIL image with ``save(buffer, "JPEG", quality=q)``
    and reads it back with ``PIL.Image.open``. This does the same through Pillow, with the settings
    that call leaves at their defaults spelled out: 4:2:0 chroma subsampling, no optimisation, baseline
    (not progressive), the integer DCT. The bytes are Pillow's (bundled libjpeg-turbo) bit for bit;
    another libjpeg build may differ in rare pixels. Deterministic: ``seed`` and ``indices`` are
    accepted for a uniform signature and ignored.

    Args:
        images: (N, 32, 32, 3) uint8 tensor, NHWC RGB, any device (coded on the CPU, one image at a time).
        severity: 1..5.
        seed, indices: ignored (deterministic corruption).
    Returns:
        (N, 32, 32, 3) uint8 tensor on the same device.

    Example:
        >>> x = torch.full((1, 32, 32, 3), 77, dtype=torch.uint8)
        >>> jpeg_compression(x, severity=5)[0, 0, 0].tolist()   # even a flat grey moves a level (YCbCr)
        [78, 78, 78]
    """
    quality = severity_parameter(QUALITIES, severity)
    check_images(images)
    resolve_indices(indices, images.shape[0], images.device)  # checked for a uniform interface, unused

    def round_trip(image):
        from PIL import Image

        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=quality, subsampling="4:2:0", optimize=False, progressive=False)
        buffer.seek(0)
        return Image.open(buffer, formats=["JPEG"])

    return map_with_pillow(images, round_trip)
