"""The CIFAR ResNets: ResNet-20 (the brief's network) and ResNet-18 (the paper's Table 3 and Figure 3).

- ``resnet20`` (He et al., 2016, "Deep Residual Learning for Image Recognition", section 4.2): 3 stages x
  3 basic blocks, widths 16/32/64, option-A shortcuts (stride-2 subsampling + zero-padded channels, no
  parameters): 269,722 parameters, the figure of the widely used CIFAR implementation
  (akamaster/pytorch_resnet_cifar10).
- ``resnet18``, CIFAR layout (the widely used kuangliu/pytorch-cifar one): a 3x3 stem, 4 stages x 2
  basic blocks, widths 64/128/256/512, option-B shortcuts (1x1 conv + BN) where the shape changes:
  11,173,962 parameters. Its 16 block convolutions are the 16 rows of the paper's Table 3
  (``layer1conv1.1`` .. ``layer4conv2.2``; :func:`paper_layer_name`).

Both: no conv bias, Kaiming-normal init, and a first layer that normalises [0, 1] input with the CIFAR-10
statistics.

Example::

    model = create_model("resnet18")
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


def projection_shortcut(in_planes: int, planes: int, stride: int) -> nn.Module:
    """Option-B shortcut: a strided 1x1 conv and BN (ResNet-18's)."""
    return nn.Sequential(nn.Conv2d(in_planes, planes, 1, stride=stride, bias=False), nn.BatchNorm2d(planes))


class BasicBlock(nn.Module):
    """conv3x3 -> BN -> ReLU -> conv3x3 -> BN, plus the shortcut, then ReLU."""

    def __init__(self, in_planes: int, planes: int, stride: int = 1, shortcut: str = "A"):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        needs_projection = stride != 1 or in_planes != planes
        if not needs_projection:
            self.shortcut = nn.Identity()
        elif shortcut == "A":
            self.shortcut = ShortcutA(planes - in_planes)
        else:
            self.shortcut = projection_shortcut(in_planes, planes, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class CifarResNet(nn.Module):
    """A stem, ``len(widths)`` stages of ``blocks_per_stage`` basic blocks, global pooling, a linear head.
    ResNet-20: 3 stages of 3 blocks (6n+2 layers, n=3), option-A shortcuts; ResNet-18: 4 of 2, option B."""

    def __init__(
        self,
        blocks_per_stage: int = 3,
        num_classes: int = 10,
        widths: tuple[int, ...] = (16, 32, 64),
        shortcut: str = "A",
    ):
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
                blocks.append(BasicBlock(in_planes, width, stride, shortcut))
                in_planes = width
            stages.append(nn.Sequential(*blocks))
        self.stage_names = [f"layer{i + 1}" for i in range(len(stages))]
        for name, stage in zip(self.stage_names, stages, strict=True):
            self.add_module(name, stage)
        self.linear = nn.Linear(widths[-1], num_classes)
        self._init_weights()

    def _init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight)

    def spectral_mask_targets(self, include_stem: bool = False) -> list[str]:
        """Convolutions the paper masks: those of the residual blocks, plus the stem on request."""
        names = [
            n
            for n, m in self.named_modules()
            if isinstance(m, nn.Conv2d) and n.startswith("layer") and ".shortcut" not in n
        ]
        return (["conv1"] if include_stem else []) + names

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(self.normalize(x))))  # (B, widths[0], 32, 32)
        for name in self.stage_names:  # each later stage halves H and W
            out = getattr(self, name)(out)
        out = F.adaptive_avg_pool2d(out, 1).flatten(1)  # (B, widths[-1])
        return self.linear(out)


@register_model
def resnet20(num_classes: int = 10) -> nn.Module:
    """ResNet-20 (269,722 parameters for 10 classes)."""
    return CifarResNet(blocks_per_stage=3, num_classes=num_classes)


@register_model
def resnet18(num_classes: int = 10) -> nn.Module:
    """ResNet-18, CIFAR layout (11,173,962 parameters for 10 classes)."""
    return CifarResNet(blocks_per_stage=2, num_classes=num_classes, widths=(64, 128, 256, 512), shortcut="B")


def paper_layer_name(name: str) -> str:
    """The paper's Table 3 name of a block conv: ``layer2.1.conv1`` -> ``layer2conv1.2`` (block 1-based)."""
    stage, block, conv = name.split(".")
    return f"{stage}{conv}.{int(block) + 1}"
