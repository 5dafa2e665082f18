"""Turn ``--device auto|cpu|cuda`` into a :class:`torch.device`, with a clear error when CUDA is absent."""

from __future__ import annotations

import torch

from specreg_cli.errors import SpecregError

DEVICE_CHOICES = ("auto", "cpu", "cuda")


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` picks CUDA when available, else the CPU; ``cuda`` without a GPU is a user error."""
    if name not in DEVICE_CHOICES and not name.startswith("cuda:"):
        raise SpecregError(f"unknown device {name!r}", hint=f"valid choices: {', '.join(DEVICE_CHOICES)}")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise SpecregError(
            "--device cuda was asked for but no CUDA GPU is visible", hint="use --device cpu or auto"
        )
    return torch.device(name)
