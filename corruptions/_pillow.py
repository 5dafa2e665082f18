"""Run a Pillow operation on every image of a batch: for the corruptions whose reference *is* Pillow.

JPEG coding and Pillow's box resampling are defined by their library (libjpeg-turbo's integer DCT and
chroma subsampling, Pillow's fixed-point resampling), so calling that library is the faithful
implementation. Both are integer code: the same bytes on every CPU (libjpeg-turbo's SIMD paths are
bit-identical to its C code for the integer DCT; tests/test_data_determinism.py runs them off too).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch


def map_with_pillow(images: torch.Tensor, operation: Callable) -> torch.Tensor:
    """``operation(PIL RGB image) -> PIL RGB image`` on every image of a uint8 (N, 32, 32, 3) tensor.

    Args:
        images: (N, 32, 32, 3) uint8 tensor, any device (the work is done on the CPU).
        operation: takes and returns a 32x32 ``PIL.Image.Image`` in mode RGB.
    Returns:
        (N, 32, 32, 3) uint8 tensor on the device of ``images``.
    """
    from PIL import Image

    source = images.cpu().numpy()
    out = np.empty_like(source)
    for i, image in enumerate(source):
        result = operation(Image.fromarray(image, mode="RGB"))
        out[i] = np.asarray(result if result.mode == "RGB" else result.convert("RGB"))
    return torch.from_numpy(out).to(images.device)
