"""Untrained models for timing: speed and memory don't depend on the weights' values."""

from __future__ import annotations

import torch
from torch import nn

from specreg_cli.checkpoint import build_model

RESNET20 = {"arch": "resnet20", "num_classes": 10, "spectral": None}  # checkpoint model_config


def resnet20(seed: int = 0) -> nn.Module:
    """A freshly initialised ResNet-20 (natural) in eval mode on the CPU, seeded."""
    with torch.random.fork_rng():  # nn init draws from the global RNG: keep the caller's state
        torch.manual_seed(seed)
        return build_model(RESNET20, generator=torch.Generator().manual_seed(seed)).eval()
