"""Switches that change a registered model without making it another architecture (the paper's Table 1).

- ``normalize=False``: the model's input normalisation layer (``model.normalize``, every specreg model
  has one) is replaced by ``nn.Identity``, so the network sees raw [0, 1] pixels and its state_dict has
  no ``normalize.*`` buffers.
- ``dropout=p``: the model's ``dropout`` module (models with hidden fully connected layers define one,
  LeNet after fc1 and fc2) drops units with probability ``p`` in training; eval mode is unaffected, and
  a dropout module holds no weights, so checkpoints with and without it have the same keys. Models
  without one refuse ``p > 0``.

A checkpoint's model description carries both (``{"arch": ..., "normalize": False, "dropout": 0.1}``);
descriptions written before the switches existed lack them and mean the defaults.

Example::

    model = apply_model_options(create_model("lenet"), normalize=False, dropout=0.1)
"""

from __future__ import annotations

from torch import nn

from specreg_cli.errors import SpecregError

DEFAULTS = {"normalize": True, "dropout": 0.0}  # what every model was before the switches existed


def apply_model_options(model: nn.Module, normalize: bool = True, dropout: float = 0.0) -> nn.Module:
    """Switch ``model``'s input normalisation off and/or set its dropout probability, in place."""
    if not normalize:
        if not isinstance(getattr(model, "normalize", None), nn.Module):
            raise SpecregError(f"{type(model).__name__} has no input normalisation layer to switch off")
        model.normalize = nn.Identity()
    if dropout:
        if not isinstance(getattr(model, "dropout", None), nn.Dropout):
            raise SpecregError(
                f"--dropout: {type(model).__name__} has no hidden fully connected layers to drop units of",
                hint="dropout is for --arch lenet (the paper's Table 1); use --dropout 0 here",
            )
        model.dropout.p = float(dropout)
    return model


def model_options(model_config: dict) -> dict:
    """The switches of a checkpoint's model description (defaults for descriptions that predate them)."""
    return {name: model_config.get(name, default) for name, default in DEFAULTS.items()}
