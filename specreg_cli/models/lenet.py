"""LeNet-5 style CNN for 32x32 RGB input (the small model of the paper's Table 1).

conv5x5(3->6) -> ReLU -> maxpool2 -> conv5x5(6->16) -> ReLU -> maxpool2 -> FC 400-120-84-classes.
The first layer normalises [0, 1] input with the CIFAR-10 statistics (``normalize``; Table 1 switches it
off, :mod:`specreg_cli.models.options`). ``dropout`` acts on the two hidden fully connected layers (after
fc1 and after fc2, each after its ReLU); its probability is 0 unless set (Table 1: keep-prob 0.9 = 0.1).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from specreg_cli.models.normalize import Normalize
from specreg_cli.models.registry import register_model


class LeNet(nn.Module):
    def __init__(self, num_classes: int = 10, dropout: float = 0.0):
        super().__init__()
        self.normalize = Normalize()
        self.dropout = nn.Dropout(dropout)  # no weights: checkpoints with and without it have the same keys
        self.conv1 = nn.Conv2d(3, 6, 5)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, num_classes)

    def spectral_mask_targets(self, include_stem: bool = False) -> list[str]:
        """LeNet has no residual blocks: both convolutions are masked (``include_stem`` changes nothing)."""
        return ["conv1", "conv2"]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.max_pool2d(F.relu(self.conv1(self.normalize(x))), 2)  # (B, 6, 14, 14)
        out = F.max_pool2d(F.relu(self.conv2(out)), 2)  # (B, 16, 5, 5)
        out = self.dropout(F.relu(self.fc1(out.flatten(1))))  # (B, 120)
        out = self.dropout(F.relu(self.fc2(out)))  # (B, 84)
        return self.fc3(out)


@register_model
def lenet(num_classes: int = 10) -> nn.Module:
    """LeNet-5 for CIFAR-sized RGB input."""
    return LeNet(num_classes=num_classes)
