"""Training and evaluation batches straight from one uint8 tensor on the device (the airbench approach).

The whole dataset lives on the training device as uint8 (N, 3, 32, 32). Each epoch draws one seeded
permutation; random crop (zero-pad 4) and horizontal flip are done for a whole batch at once with
index arithmetic, so there is no DataLoader, no worker process and no per-image Python. The same code
runs on CPU and GPU, and the batches of an epoch depend only on (seed, epoch): a resumed run sees the
same batches as an uninterrupted one.

Crop and flip are switches (the paper's Table 1 turns them on and off): an augmentation that is off
leaves its images as they are, while every batch still draws the same random numbers, so turning one
of them off changes nothing else (the other's draws, the order) and the default (both on) is the same
bytes as before the switches existed.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
import torch.nn.functional as F

CROP_PADDING = 4  # pixels of zero padding before the random 32x32 crop (standard CIFAR recipe)


def images_to_tensor(images: np.ndarray | torch.Tensor, device: torch.device | str = "cpu") -> torch.Tensor:
    """uint8 (N, H, W, C) -> uint8 (N, C, H, W) contiguous tensor on ``device``."""
    tensor = torch.as_tensor(np.ascontiguousarray(images)) if isinstance(images, np.ndarray) else images
    return tensor.to(device).permute(0, 3, 1, 2).contiguous()


def to_float(batch_u8: torch.Tensor) -> torch.Tensor:
    """uint8 (B, C, H, W) -> float32 in [0, 1]."""
    return batch_u8.float().div_(255)


def epoch_generator(seed: int, epoch: int) -> torch.Generator:
    """CPU generator whose stream depends only on (seed, epoch). Indices are drawn on the CPU and moved,
    so CPU and GPU runs see the same batches."""
    return torch.Generator().manual_seed(seed * 1_000_003 + epoch)


def random_crop_flip(
    batch_u8: torch.Tensor,
    generator: torch.Generator,
    padding: int = CROP_PADDING,
    crop: bool = True,
    flip: bool = True,
) -> torch.Tensor:
    """Random crop after zero padding, and random horizontal flip, for a whole uint8 (B, C, H, W) batch.

    ``crop=False`` keeps every image in place (the centre crop of the padded image), ``flip=False`` flips
    none; the offsets and coin flips are drawn either way (see the module docstring)."""
    b, c, h, w = batch_u8.shape
    device = batch_u8.device
    dy = torch.randint(0, 2 * padding + 1, (b,), generator=generator).to(device)
    dx = torch.randint(0, 2 * padding + 1, (b,), generator=generator).to(device)
    flips = torch.rand(b, generator=generator).lt(0.5).to(device)
    if not crop and not flip:
        return batch_u8
    if not crop:
        dy, dx = torch.full_like(dy, padding), torch.full_like(dx, padding)
    if not flip:
        flips = torch.zeros_like(flips)
    padded = F.pad(batch_u8, (padding,) * 4)  # (B, C, H+2p, W+2p)
    rows = dy[:, None] + torch.arange(h, device=device)  # (B, H)
    cols = torch.arange(w, device=device).expand(b, w)  # (B, W)
    cols = torch.where(flips[:, None], cols.flip(1), cols) + dx[:, None]
    batch_index = torch.arange(b, device=device)[:, None, None, None]
    chan_index = torch.arange(c, device=device)[None, :, None, None]
    return padded[batch_index, chan_index, rows[:, None, :, None], cols[:, None, None, :]]  # (B, C, H, W)


class BatchLoader:
    """Iterate over (x, y) batches: x float32 (B, 3, 32, 32) in [0, 1] on ``device``, y int64 (B,).

    Example::

        loader = BatchLoader(train.images, train.labels, batch_size=128, device="cpu", train=True, seed=0)
        loader.set_epoch(3)
        for x, y in loader: ...

    train=True shuffles, augments (crop and flip, each unless switched off) and drops the last partial
    batch (so BatchNorm never sees a batch of one); train=False keeps the order and every example.
    """

    def __init__(
        self,
        images,
        labels,
        batch_size: int,
        device: torch.device | str = "cpu",
        train: bool = False,
        seed: int = 0,
        crop: bool = True,
        flip: bool = True,
    ):
        self.images = images_to_tensor(images, device)  # (N, C, H, W) uint8
        self.labels = torch.as_tensor(np.asarray(labels), dtype=torch.int64).to(device)
        self.batch_size = int(batch_size)
        self.train = train
        self.seed = seed
        self.crop, self.flip = crop, flip
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        n = len(self.labels)
        return n // self.batch_size if self.train else -(-n // self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        n = len(self.labels)
        if not self.train:
            for start in range(0, n, self.batch_size):
                yield (
                    to_float(self.images[start : start + self.batch_size]),
                    self.labels[start : start + self.batch_size],
                )
            return
        generator = epoch_generator(self.seed, self.epoch)
        order = torch.randperm(n, generator=generator).to(self.images.device)
        for i in range(len(self)):
            index = order[i * self.batch_size : (i + 1) * self.batch_size]
            batch = random_crop_flip(self.images[index], generator, crop=self.crop, flip=self.flip)
            yield to_float(batch), self.labels[index]
