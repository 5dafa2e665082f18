"""The training loop exactly as ``specreg train`` runs it, for timing, through the Trainer's public seams:
``build_state`` (model, optimizer, schedule) and ``train_epoch`` (forward, backward, SGD step, scheduler
step, mask clamp), fed batches that the benchmark chooses.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from specreg_cli.train import Trainer, TrainingState
from specreg_cli.train_config import TrainConfig


@dataclass
class TrainParts:
    trainer: Trainer
    state: TrainingState

    @property
    def model(self) -> nn.Module:
        return self.state.model

    def epoch(self, batches: Iterable) -> dict:
        """One pass of the training loop over ``batches`` ((x, y) pairs or a loader); returns its metrics row
        (``seconds``, ``images_per_s``, ...). The global RNG (reseeded at every step) is restored after."""
        device = self.trainer.device
        with torch.random.fork_rng(devices=[device.index or 0] if device.type == "cuda" else []):
            return self.trainer.train_epoch(self.state, 0, batches)


def train_parts(
    backend: str | None,
    batch_size: int,
    device: str = "cpu",
    amp: bool = False,
    channels_last: bool = False,
    seed: int = 0,
) -> TrainParts:
    """A ResNet-20 training setup: natural when ``backend`` is None, else masked with that spectral backend
    ("auto" | "fft" | "circulant" | "dft"). Nothing is written to disk (the run directory is never
    created)."""
    config = TrainConfig(
        method="natural" if backend is None else "masked",
        mask={} if backend is None else {"backend": backend},
        arch="resnet20",
        dataset=f"synthetic:train={batch_size},test=1",
        batch_size=batch_size,
        epochs=1,
        device=device,
        amp=amp,
        channels_last=channels_last,
        seed=seed,
    )
    with tempfile.TemporaryDirectory() as tmp:  # the Trainer only reads the folder until it trains
        trainer = Trainer(config, Path(tmp) / "unused-run")
    with torch.random.fork_rng():
        state = trainer.build_state()
    return TrainParts(trainer, state)


def random_batch(batch_size: int, device: str = "cpu", seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """x float32 (B, 3, 32, 32) in [0, 1] and y int64 (B,) labels in 0..9, seeded, on ``device``."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand(batch_size, 3, 32, 32, generator=gen)
    y = torch.randint(0, 10, (batch_size,), generator=gen)
    return x.to(device), y.to(device)
