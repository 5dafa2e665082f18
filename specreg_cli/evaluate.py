"""Accuracy of a model over batches of [0, 1] images; returns numbers, never prints.

Example::

    acc, loss = accuracy(model, images_u8_nhwc, labels, batch_size=500, device="cpu")
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from specreg_cli.data.loader import images_to_tensor, to_float


@torch.no_grad()
def evaluate_batches(
    model: nn.Module, batches: Iterable[tuple[torch.Tensor, torch.Tensor]]
) -> tuple[float, float, int]:
    """(accuracy in [0, 1], mean cross-entropy, n) of ``model`` in eval mode over (x, y) batches.

    The model's train/eval mode is restored afterwards.
    """
    was_training = model.training
    model.eval()
    correct, loss_sum, n = 0, 0.0, 0
    try:
        for x, y in batches:
            logits = model(x).float()
            loss_sum += F.cross_entropy(logits, y, reduction="sum").item()
            correct += (logits.argmax(1) == y).sum().item()
            n += len(y)
    finally:
        model.train(was_training)
    return (correct / n if n else float("nan")), (loss_sum / n if n else float("nan")), n


def uint8_batches(
    images: np.ndarray | torch.Tensor,
    labels: np.ndarray | torch.Tensor,
    batch_size: int,
    device: torch.device | str,
    transform: Callable[[torch.Tensor, int], torch.Tensor] | None = None,
):
    """Yield float [0, 1] (B, 3, H, W) batches on ``device`` from uint8 NHWC images, one batch in memory
    at a time.

    ``transform(batch_u8_nhwc, start_index)`` may alter each uint8 batch first (e.g. a corruption).
    ``images`` may be a read-only memmap (saved adversarial examples): numpy batches are copied out.
    """
    labels = torch.as_tensor(np.asarray(labels), dtype=torch.int64)
    for start in range(0, len(labels), batch_size):
        chunk = images[start : start + batch_size]
        # a writable copy: torch warns on (and must never write into) a read-only memmap or the caller's array
        chunk = torch.from_numpy(np.array(chunk, order="C")) if isinstance(chunk, np.ndarray) else chunk
        chunk = chunk.to(device)
        if transform is not None:
            chunk = transform(chunk, start)
        yield to_float(images_to_tensor(chunk, device)), labels[start : start + batch_size].to(device)


def accuracy(
    model: nn.Module,
    images,
    labels,
    batch_size: int = 500,
    device: torch.device | str = "cpu",
    transform=None,
) -> tuple[float, float]:
    """(accuracy, mean loss) of ``model`` on uint8 NHWC ``images``."""
    acc, loss, _ = evaluate_batches(model, uint8_batches(images, labels, batch_size, device, transform))
    return acc, loss
