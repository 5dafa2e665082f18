"""What :func:`corruptions.corrupt` accepts besides uint8 NHWC batches: one HWC image, float images in [0, 1].

The corruption functions work on uint8 (N, 32, 32, 3) tensors, as the reference does (it corrupts
CIFAR's uint8 PIL images). Users of ``imagecorruptions`` pass one (H, W, 3) image, often as floats
in [0, 1]; :func:`as_uint8_batch` turns that into the uint8 batch and returns the function that
turns the result back into the caller's type, dtype and shape.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from corruptions._common import IMAGE_SHAPE


def as_uint8_batch(images) -> tuple[torch.Tensor, Callable[[torch.Tensor], object]]:
    """``images`` as a uint8 (N, 32, 32, 3) tensor, and ``restore(out)`` back to the input's format.

    Args:
        images: a numpy array or torch tensor (any device), (N, H, W, 3) or one (H, W, 3) image, RGB;
            uint8 (0..255), or floating point in [0, 1], which is quantised to the 256 levels the
            reference sees, ``round(x * 255)`` (exact for values k / 255).
    Returns:
        ``(batch, restore)``: ``batch`` shares memory with a uint8 input where possible (never
        written to); ``restore`` maps a uint8 (N, 32, 32, 3) result to the input's type, device,
        dtype (floats: ``y / 255``) and shape.
    Raises:
        ValueError: not an array or tensor, not RGB channels-last, not 32x32 (the parameters are
            CIFAR-10-C's), an integer dtype other than uint8, or floats outside [0, 1] or not finite.

    Example:
        >>> batch, restore = as_uint8_batch(np.full((32, 32, 3), 0.5, dtype=np.float32))
        >>> back = restore(batch)
        >>> tuple(batch.shape), back.dtype, back.shape, float(back[0, 0, 0] * 255)
        ((1, 32, 32, 3), dtype('float32'), (32, 32, 3), 128.0)
    """
    is_numpy = isinstance(images, np.ndarray)
    if is_numpy:
        tensor = _numpy_as_tensor(images)
    elif isinstance(images, torch.Tensor):
        tensor = images
    else:
        raise ValueError(f"images must be a numpy array or a torch tensor, got {type(images).__name__}")
    single = tensor.ndim == 3
    batch = tensor.unsqueeze(0) if single else tensor
    _check_layout(batch, tensor)
    dtype = tensor.dtype
    if dtype.is_floating_point:
        batch = _quantise(batch)
    elif dtype != torch.uint8:
        name = str(dtype).replace("torch.", "")
        raise ValueError(f"images must be uint8 (0..255) or floating point in [0, 1]; got {name}")

    def restore(out: torch.Tensor):
        if dtype.is_floating_point:
            out = out.to(dtype) / 255
        if single:
            out = out[0]
        return out.numpy() if is_numpy else out

    return batch, restore


def _numpy_as_tensor(images: np.ndarray) -> torch.Tensor:
    """A CPU tensor sharing memory with ``images`` where possible."""
    if images.dtype.kind not in "uif" or images.dtype.kind == "f" and images.dtype.itemsize < 2:
        raise ValueError(f"images must be uint8 (0..255) or floating point in [0, 1]; got {images.dtype}")
    if not images.flags.writeable or not images.flags.c_contiguous or not images.dtype.isnative:
        images = np.array(images, order="C", dtype=images.dtype.newbyteorder("="))  # from_numpy's needs
    return torch.from_numpy(images)


def _check_layout(batch: torch.Tensor, original: torch.Tensor) -> None:
    shape = tuple(original.shape)
    if batch.ndim != 4 or batch.shape[-1] != IMAGE_SHAPE[2]:
        raise ValueError(
            f"images must be RGB, channels last: (N, 32, 32, 3) or one (32, 32, 3) image; got shape {shape}"
        )
    if tuple(batch.shape[1:3]) != IMAGE_SHAPE[:2]:
        raise ValueError(
            f"images must be 32x32: these are CIFAR-10-C's parameters, made for CIFAR's 32x32 images "
            f"(got {batch.shape[1]}x{batch.shape[2]}; ImageNet-C's are in the imagecorruptions package)"
        )


def _quantise(batch: torch.Tensor) -> torch.Tensor:
    """Float images in [0, 1] -> uint8 levels ``round(x * 255)``; ValueError outside [0, 1] or not finite."""
    x = batch.to(torch.float64, copy=True)  # a copy even for float64: the input is never written to
    if x.numel() and not (torch.isfinite(x).all() and x.min() >= 0 and x.max() <= 1):
        low, high = float(x.min()), float(x.max())
        raise ValueError(
            f"float images must lie in [0, 1] (got values in [{low:g}, {high:g}]); pass uint8 for 0..255"
        )
    return x.mul_(255).round_().to(torch.uint8)
