"""Where and how a command computes: ``--device auto|cpu|cuda`` as a :class:`torch.device` (a clear error
when CUDA is absent) and ``--threads``."""

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


def set_threads(threads: int | None) -> None:
    """``--threads N``: torch's intra-op CPU threads for this process (None: leave torch's default)."""
    if threads is not None:
        torch.set_num_threads(threads)
