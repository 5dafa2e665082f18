"""Name -> corruption function, and :func:`corrupt`, the one entry point for numpy or torch images."""

from __future__ import annotations

import inspect
import operator
from collections.abc import Callable

import torch

from corruptions._common import SEVERITIES, check_images, check_severity
from corruptions.brightness import brightness
from corruptions.contrast import contrast
from corruptions.defocus_blur import defocus_blur
from corruptions.elastic_transform import elastic_transform
from corruptions.fog import fog
from corruptions.frost import frost
from corruptions.gaussian_blur import gaussian_blur
from corruptions.gaussian_noise import gaussian_noise
from corruptions.glass_blur import glass_blur
from corruptions.image_formats import as_uint8_batch
from corruptions.impulse_noise import impulse_noise
from corruptions.jpeg_compression import jpeg_compression
from corruptions.motion_blur import motion_blur
from corruptions.pixelate import pixelate
from corruptions.saturate import saturate
from corruptions.seeding import MAX_INDEX, check_seed
from corruptions.shot_noise import shot_noise
from corruptions.snow import snow
from corruptions.spatter import spatter
from corruptions.speckle_noise import speckle_noise
from corruptions.zoom_blur import zoom_blur

# fn(images (N, 32, 32, 3) uint8 tensor, severity 1..5, seed, indices (N,) int64) -> uint8 tensor
CorruptionFn = Callable[[torch.Tensor, int, int, torch.Tensor], torch.Tensor]

# Built from the functions, so a name can't drift from its implementation.
REGISTRY: dict[str, CorruptionFn] = {
    fn.__name__: fn
    for fn in (
        impulse_noise,
        fog,
        contrast,
        brightness,
        saturate,
        jpeg_compression,
        pixelate,
        frost,
        elastic_transform,
        spatter,
        gaussian_noise,
        shot_noise,
        speckle_noise,
        gaussian_blur,
        defocus_blur,
        glass_blur,
        motion_blur,
        zoom_blur,
        snow,
    )
}
CORRUPTIONS: tuple[str, ...] = tuple(REGISTRY)  # what this package can generate

# The released CIFAR-10-C file stems, in the order of the reference generator (hendrycks/robustness,
# make_cifar_c.py): the 15 benchmark corruptions, whose mean (and mCE) is "CIFAR-10-C" in the paper's
# tables, then the 4 extra ones that Hendrycks & Dietterich (ICLR 2019) hold out for validation,
# so no benchmark mean includes them. The one definition of that split: everything else imports it.
BENCHMARK_CORRUPTIONS: tuple[str, ...] = (
    "gaussian_noise",
    "shot_noise",
    "impulse_noise",
    "defocus_blur",
    "glass_blur",
    "motion_blur",
    "zoom_blur",
    "snow",
    "frost",
    "fog",
    "brightness",
    "contrast",
    "elastic_transform",
    "pixelate",
    "jpeg_compression",
)
EXTRA_CORRUPTIONS: tuple[str, ...] = ("speckle_noise", "gaussian_blur", "spatter", "saturate")
RELEASED_CORRUPTIONS: tuple[str, ...] = BENCHMARK_CORRUPTIONS + EXTRA_CORRUPTIONS


def get_corruption(name: str) -> CorruptionFn:
    """The corruption function called ``name``; ValueError naming the valid choices otherwise.

    Example:
        >>> get_corruption("fog").__name__
        'fog'
    """
    if isinstance(name, str) and name in REGISTRY:
        return REGISTRY[name]
    choices = ", ".join(CORRUPTIONS)
    if name in RELEASED_CORRUPTIONS:
        raise ValueError(
            f"corruption {name!r} is part of CIFAR-10-C but not implemented here; choose one of: {choices}"
        )
    raise ValueError(f"unknown corruption {name!r}; choose one of: {choices}")


def corrupt(images, name: str, severity: int, seed: int = 0, start_index: int = 0, **options):
    """Corrupt CIFAR images, reproducibly: one image's bytes depend only on
    ``(seed, name, severity, start_index + i)``, whatever the batch size, order or device.

    Args:
        images: RGB, channels last, a numpy array or a torch tensor on any device: a batch
            (N, 32, 32, 3) or one (32, 32, 3) image; uint8 (0..255), or floating point in [0, 1]
            (quantised to ``round(x * 255)``, the 256 levels the reference corrupts).
        name: one of :data:`CORRUPTIONS`.
        severity: 1..5.
        seed: integer in ``[0, 2**64)`` (deterministic corruptions ignore it).
        start_index: dataset index of ``images[0]``; image ``i`` is index ``start_index + i``.
        options: keyword options of the corruption, e.g. ``frost_dir`` for frost.
    Returns:
        The corrupted images in the input's format: same type, shape, dtype (floats: ``y / 255``)
        and device. The input is not modified.
    Raises:
        ValueError: unknown name or option, severity outside 1..5, seed or start_index out of range,
            images not RGB channels-last, not 32x32 (the parameters are CIFAR-10-C's), not uint8 or
            floats in [0, 1].

    Example:
        >>> import numpy as np
        >>> x = np.zeros((4, 32, 32, 3), dtype=np.uint8)
        >>> y = corrupt(x, "impulse_noise", severity=3, seed=0)
        >>> np.array_equal(y[2:], corrupt(x[2:], "impulse_noise", 3, seed=0, start_index=2))
        True
        >>> corrupt(np.full((32, 32, 3), 0.5), "contrast", 1).shape      # one float image in [0, 1]
        (32, 32, 3)
    """
    fn = get_corruption(name)
    severity = check_severity(severity)
    seed = check_seed(seed)
    start = _check_start_index(start_index)
    _check_options(fn, options)
    tensor, restore = as_uint8_batch(images)
    check_images(tensor)
    n = tensor.shape[0]
    if start + n - 1 > MAX_INDEX:
        raise ValueError(f"start_index + N must not exceed 2**62, got {start} + {n}")
    indices = torch.arange(start, start + n, dtype=torch.int64, device=tensor.device)
    return restore(fn(tensor, severity, seed, indices, **options))


def check_ready(name: str, **options) -> None:
    """Raise now, with the corruption's one-line ValueError, if ``name`` can't run with these options.

    Corrupts one blank image: a corruption that needs files from the user (frost: its photographs)
    fails here, before a long run has written anything.

    Example:
        >>> check_ready("fog")
    """
    corrupt(torch.zeros(1, 32, 32, 3, dtype=torch.uint8), name, 1, **options)


def _check_options(fn: CorruptionFn, options: dict) -> None:
    """ValueError for an option that the corruption does not take (its keyword-only parameters)."""
    accepted = [p.name for p in inspect.signature(fn).parameters.values() if p.kind is p.KEYWORD_ONLY]
    for key in options:
        if key not in accepted:
            takes = f"its options are: {', '.join(accepted)}" if accepted else "it takes no options"
            raise ValueError(f"corruption {fn.__name__!r} has no option {key!r}; {takes}")


def _check_start_index(start_index) -> int:
    """Return ``start_index`` as a non-negative int, or raise ValueError."""
    if not isinstance(start_index, bool):
        try:
            start = operator.index(start_index)
        except TypeError:
            pass
        else:
            if start >= 0:
                return start
    raise ValueError(f"start_index must be a non-negative integer, got {start_index!r}")


__all__ = [
    "BENCHMARK_CORRUPTIONS",
    "CORRUPTIONS",
    "EXTRA_CORRUPTIONS",
    "RELEASED_CORRUPTIONS",
    "REGISTRY",
    "SEVERITIES",
    "check_ready",
    "corrupt",
    "get_corruption",
]
