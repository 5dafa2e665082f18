"""CIFAR-10-C corruptions (impulse noise, fog, contrast): pure, batched, seeded functions + a registry.

Standalone (torch and numpy only). Parameters are the CIFAR-10-C ones, not ImageNet-C's; outputs
follow the reference generator (hendrycks/robustness ``make_cifar_c.py``): deterministic
corruptions bit for bit, random ones in distribution, reproducibly from an explicit seed.

Example:
    >>> import numpy as np, corruptions
    >>> x = np.zeros((8, 32, 32, 3), dtype=np.uint8)
    >>> corruptions.corrupt(x, "fog", severity=3, seed=0).shape
    (8, 32, 32, 3)
"""

from corruptions.contrast import contrast
from corruptions.fog import fog, plasma_fractal
from corruptions.impulse_noise import impulse_noise
from corruptions.registry import (
    BENCHMARK_CORRUPTIONS,
    CORRUPTIONS,
    EXTRA_CORRUPTIONS,
    REGISTRY,
    RELEASED_CORRUPTIONS,
    SEVERITIES,
    check_ready,
    corrupt,
    get_corruption,
)

__all__ = [
    "BENCHMARK_CORRUPTIONS",
    "CORRUPTIONS",
    "EXTRA_CORRUPTIONS",
    "REGISTRY",
    "RELEASED_CORRUPTIONS",
    "SEVERITIES",
    "check_ready",
    "contrast",
    "corrupt",
    "fog",
    "get_corruption",
    "impulse_noise",
    "plasma_fractal",
]
