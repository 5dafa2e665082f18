"""ResNet-20 for CIFAR (He et al., 2016, "Deep Residual Learning for Image Recognition", section 4.2).

3 stages x 3 basic blocks, widths 16/32/64, option-A shortcuts (stride-2 subsampling + zero-padded
channels, no parameters), no conv bias, Kaiming-normal init: 269,722 parameters, the figure of the
widely used CIFAR implementation (akamaster/pytorch_resnet_cifar10). The first layer normalises
[0, 1] input with the CIFAR-10 statistics.

Example::

    model = create_model("resnet20")
    logits = model(torch.rand(8, 3, 32, 32))   # (8, 10)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from specreg_cli.models.normalize import Normalize
from specreg_cli.models.registry import register_model


class ShortcutA(nn.Module):
    """Option-A shortcut: subsample by 2 and zero-pad the new channels equally on both sides."""

    def __init__(self, extra_channels: int):
        super().__init__()
        self.pad = extra_channels // 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, self.pad, self.pad))


class BasicBlock(nn.Module):
    """conv3x3 -> BN -> ReLU -> conv3x3 -> BN, plus the shortcut, then ReLU."""

    def __init__(self, in_planes: int, planes: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        needs_projection = stride != 1 or in_planes != planes
        self.shortcut = ShortcutA(planes - in_planes) if needs_projection else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class CifarResNet(nn.Module):
    """The CIFAR ResNet family (6n+2 layers); ResNet-20 is n=3."""

    def __init__(self, blocks_per_stage: int = 3, num_classes: int = 10, widths=(16, 32, 64)):
        super().__init__()
        self.normalize = Normalize()
        self.conv1 = nn.Conv2d(3, widths[0], 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        in_planes = widths[0]
        stages = []
        for i, width in enumerate(widths):
            blocks = []
            for j in range(blocks_per_stage):
                stride = 2 if (i > 0 and j == 0) else 1
                blocks.append(BasicBlock(in_planes, width, stride))
                in_planes = width
            stages.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3 = stages
        self.linear = nn.Linear(widths[-1], num_classes)
        self._init_weights()

    def _init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight)

    def spectral_mask_targets(self, include_stem: bool = False) -> list[str]:
        """Convolutions the paper masks: those of the residual blocks, plus the stem on request."""
        names = [n for n, m in self.named_modules() if isinstance(m, nn.Conv2d) and n.startswith("layer")]
        return (["conv1"] if include_stem else []) + names

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(self.normalize(x))))  # (B, 16, 32, 32)
        out = self.layer3(self.layer2(self.layer1(out)))  # (B, 64, 8, 8)
        out = F.adaptive_avg_pool2d(out, 1).flatten(1)  # (B, 64)
        return self.linear(out)


@register_model
def resnet20(num_classes: int = 10) -> nn.Module:
    """ResNet-20 (269,722 parameters for 10 classes)."""
    return CifarResNet(blocks_per_stage=3, num_classes=num_classes)
