"""``specreg.load_model``: a specreg run or any other model, ready for the evaluations."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from specreg_cli.checkpoint import Checkpoint
from specreg_cli.external_model import ExternalModel


@dataclass
class Model:
    """A model in eval mode that takes (B, 3, 32, 32) pixels in [0, 1], and where it came from.

    ``module`` is the ``nn.Module`` (call the :class:`Model` itself as a shortcut); ``source`` the
    checkpoint or external model behind it, which results record (run name, method, file hash).

    Example::

        model = specreg.load_model("runs/natural")
        model.run, model.method, model.arch        # ("natural", "natural", "resnet20")
        logits = model(torch.rand(8, 3, 32, 32))   # (8, 10)
    """

    module: nn.Module
    source: Checkpoint | ExternalModel
    device: torch.device

    @property
    def run(self) -> str:
        """The name records carry: the run directory's, or the weights file's stem."""
        return self.source.run_name

    @property
    def method(self) -> str:
        """The training method (``natural``, ``masked``, ...); ``external``: a model specreg did not train."""
        return str(self.source.meta.get("method", "unknown"))

    @property
    def arch(self) -> str:
        """``resnet20`` for a specreg run, the factory (``torchvision.models:resnet18``) for another model."""
        return str(self.source.meta["model"]["arch"])

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.module(x)


def load_model(
    source: str | Path,
    weights: str | Path | None = None,
    *,
    kwargs: Mapping[str, Any] | None = None,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
    device: str = "cpu",
) -> Model:
    """Load a specreg run (a run directory or checkpoint file), or, with ``weights``, any model.

    Without ``weights``, ``source`` is a run directory or its ``model.pt`` (validated, weights-only).
    With ``weights``, ``source`` is ``"MODULE:FACTORY"`` (``MODULE`` may be a ``.py`` file): the model is
    ``FACTORY(**kwargs)`` given the state_dict in ``weights``, loaded strictly. Importing ``MODULE`` runs
    its code: it is your own model code. ``mean``/``std`` put specreg's Normalize layer in front of the
    model; without them nothing is added and the model gets [0, 1] pixels (it must normalise inside).
    ``device``: ``cpu`` | ``cuda`` | ``auto``. Errors are :class:`specreg_cli.errors.SpecregError`.

    Example::

        natural = specreg.load_model("runs/natural")
        theirs = specreg.load_model("torchvision.models:resnet18", weights="resnet18.pt",
                                    kwargs={"num_classes": 10},
                                    mean=(0.4914, 0.4822, 0.4465), std=(0.2470, 0.2435, 0.2616))
    """
    from specreg_cli.device import resolve_device
    from specreg_cli.external_model import ExternalSpec, load_external

    torch_device = resolve_device(device)
    if weights is None:
        from specreg_cli.checkpoint import load_model as load_checkpoint_model

        module, checkpoint = load_checkpoint_model(source, torch_device)
        return Model(module, checkpoint, torch_device)
    spec = ExternalSpec(
        str(source),
        dict(kwargs or {}),
        tuple(float(v) for v in mean) if mean is not None else None,
        tuple(float(v) for v in std) if std is not None else None,
    )
    module, external = load_external(spec, weights, torch_device)
    return Model(module, external, torch_device)
