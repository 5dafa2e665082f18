"""CIFAR-10-C pixelate: Pillow box-filter resize down, then back up to 32x32, as in the reference."""

from __future__ import annotations

import torch

from corruptions._common import check_images, resolve_indices, severity_parameter
from corruptions._pillow import map_with_pillow

SCALES = (0.95, 0.9, 0.85, 0.75, 0.65)  # side scale per severity 1..5
SIZES = tuple(int(32 * c) for c in SCALES)  # the reference's int(32 * c): 30, 28, 27, 24, 20


def pixelate(
    images: torch.Tensor, severity: int, seed: int = 0, indices: torch.Tensor | None = None
) -> torch.Tensor:
    """Pixelate, scale = (.95, .9, .85, .75, .65) for severity 1..5: box resize to 32c, then back to 32.

    The reference (``make_cifar_c.py``) calls ``x.resize((int(32 c),) * 2, PIL.Image.BOX)`` and then
    ``.resize((32, 32), PIL.Image.BOX)`` on the PIL image (sizes 30, 28, 27, 24, 20). This calls the
    same two Pillow resizes, whose fixed-point box filter (rounded to uint8 after each pass) defines
    the result: bit for bit the reference's with the same Pillow. Deterministic: ``seed`` and
    ``indices`` are accepted for a uniform signature and ignored.

    Args:
        images: (N, 32, 32, 3) uint8 tensor, NHWC RGB, any device (resized on the CPU, one image at a time).
        severity: 1..5.
        seed, indices: ignored (deterministic corruption).
    Returns:
        (N, 32, 32, 3) uint8 tensor on the same device.

    Example:
        >>> x = torch.zeros(1, 32, 32, 3, dtype=torch.uint8)
        >>> x[0, :, 15:] = 255                                  # a vertical edge between columns 14 and 15
        >>> pixelate(x, severity=5)[0, 0, 13:18, 0].tolist()    # on the coarse 20-pixel grid: 2 grey columns
        [0, 128, 128, 255, 255]
    """
    size = severity_parameter(SIZES, severity)
    check_images(images)
    resolve_indices(indices, images.shape[0], images.device)  # checked for a uniform interface, unused

    def down_and_up(image):
        from PIL import Image

        return image.resize((size, size), Image.BOX).resize((32, 32), Image.BOX)

    return map_with_pillow(images, down_and_up)
