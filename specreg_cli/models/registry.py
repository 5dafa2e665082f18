"""Name -> constructor registry (timm style): ``create_model("resnet20")``, ``list_models()``."""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from specreg_cli.errors import SpecregError

_REGISTRY: dict[str, Callable[..., nn.Module]] = {}


def register_model(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
    """Decorator: register ``fn`` under its function name."""
    _REGISTRY[fn.__name__] = fn
    return fn


def list_models() -> list[str]:
    """Registered architecture names, sorted."""
    return sorted(_REGISTRY)


def create_model(name: str, num_classes: int = 10) -> nn.Module:
    """Build a fresh model by name. Every model takes (B, 3, 32, 32) in [0, 1] and returns
    (B, num_classes) logits."""
    if name not in _REGISTRY:
        raise SpecregError(
            f"unknown architecture {name!r}", hint=f"valid choices: {', '.join(list_models())}"
        )
    return _REGISTRY[name](num_classes=num_classes)
