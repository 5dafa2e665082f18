"""The batch perturbations of the training methods (which method uses which: :mod:`specreg_cli.methods`).
Methods differ only here (and masked only in its model): natural and masked train on the batch as it is.

- gauss: Gaussian-noise augmentation: ``clip(x + N(0, std^2), 0, 1)`` on a fraction of the batch.
- adversarial: PGD adversarial training (Madry et al., ICLR 2018) with ``torchattacks.PGD``;
  torchattacks puts the model in eval mode while attacking, so BatchNorm statistics see only the
  training forward pass.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

Perturbation = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def gaussian_noise(std: float, fraction: float) -> Perturbation:
    """Noise the first ``round(fraction * B)`` images of each (already shuffled) batch.

    Draws from torch's global RNG, which the training loop reseeds at every step.
    """

    def perturb(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        k = round(fraction * len(x))
        if k == 0 or std == 0:
            return x
        noisy = (x[:k] + std * torch.randn_like(x[:k])).clamp_(0, 1)
        return torch.cat([noisy, x[k:]])

    return perturb


def pgd_adversarial(model: nn.Module, eps: float, alpha: float, steps: int) -> Perturbation:
    """Replace the batch by PGD adversarial examples (random start) against the current model."""
    import torchattacks

    attack = torchattacks.PGD(model, eps=eps, alpha=alpha, steps=steps, random_start=True)

    def perturb(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return attack(x, y).detach()

    return perturb
