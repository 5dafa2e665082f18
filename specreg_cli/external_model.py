"""Models that specreg did not train: ``--model MODULE:FACTORY --weights FILE``, e.g. a torchvision ResNet-18.

An external model is built by calling FACTORY from MODULE with ``--model-kwargs`` and given the weights of
FILE, a plain state_dict (``torch.save(model.state_dict(), FILE)``), read with
``torch.load(weights_only=True)`` and loaded strictly: missing or unexpected keys, shapes that differ and
non-finite values are each refused in one line. Importing MODULE runs its code: that is the point (it is
the user's own model code, like ``python -c "import MODULE"``), unlike the weights file, which is data and
never unpickled beyond tensors.

The model sees [0, 1] pixels, like every specreg model. ``--mean/--std`` put specreg's
:class:`~specreg_cli.models.normalize.Normalize` in front of it; without them nothing is added (the model is
taken to normalise inside, as RobustBench models do).

An :class:`ExternalModel` answers what the commands ask of a :class:`~specreg_cli.checkpoint.Checkpoint`
(``run_name``, ``path``, ``sha256``, ``meta``, the recorded test split: none), so it goes wherever a
checkpoint goes. Its records carry ``method`` :data:`EXTERNAL_METHOD` and ``arch`` = the factory
(``torchvision.models:resnet18``); :meth:`ExternalModel.provenance` is what results files record about it.

Example::

    spec = ExternalSpec.parse("torchvision.models:resnet18", "num_classes=10", "0.5,0.5,0.5", "0.2,0.2,0.2")
    model, source = load_external(spec, "resnet18.pt", "cpu")   # eval mode, Normalize first
    source.run_name, source.meta["method"]                       # ("resnet18", "external")
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
import math
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from specreg_cli.errors import SpecregError

if TYPE_CHECKING:  # annotations only: this module's parsers must not load torch
    import torch
    from torch import nn

EXTERNAL_METHOD = "external"  # the ``method`` of an external model's records (a report row of its own)
NUM_CLASSES = 10  # classes of every specreg dataset (CIFAR-10 and the synthetic one)
TARGET_HINT = "e.g. --model torchvision.models:resnet18 or --model path/to/net.py:Net"
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


@dataclass(frozen=True)
class ExternalSpec:
    """What builds an external model: ``target`` = ``MODULE:FACTORY``, factory keyword arguments and the
    input normalisation specreg adds (``mean``/``std`` per channel; both None: none added)."""

    target: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        split_target(self.target)  # validates
        if (self.mean is None) != (self.std is None):
            raise SpecregError("--mean and --std go together", hint="give both, or neither (none added)")
        if self.mean is not None and len(self.mean) != len(self.std):
            raise SpecregError(f"--mean has {len(self.mean)} values, --std {len(self.std)}")
        if self.mean is not None and not all(math.isfinite(v) for v in (*self.mean, *self.std)):
            raise SpecregError("--mean and --std must be finite numbers")
        if self.std is not None and min(self.std) <= 0:
            raise SpecregError(f"--std values must be > 0, got {list(self.std)}")

    @classmethod
    def parse(
        cls, target: str, kwargs: str | None = None, mean: str | None = None, std: str | None = None
    ) -> ExternalSpec:
        """From the command line's texts (``--model``, ``--model-kwargs``, ``--mean``, ``--std``)."""
        return cls(
            target,
            parse_kwargs(kwargs),
            parse_channels(mean, "--mean", positive=False),
            parse_channels(std, "--std", positive=True),
        )

    @property
    def arch(self) -> str:
        """The records' architecture: ``torchvision.models:resnet18`` (``net.py:Net`` for a file)."""
        module, factory = split_target(self.target)
        return f"{Path(module).name if module.endswith('.py') else module}:{factory}"

    def as_arguments(self) -> dict:
        """The ``--model`` options as a results file's ``provenance.arguments`` keeps them."""
        mean, std = (list(v) if v is not None else None for v in (self.mean, self.std))
        return {"model": self.target, "model_kwargs": dict(self.kwargs), "mean": mean, "std": std}

    @property
    def normalization(self) -> str:
        """In words, for provenance and the commands' notes."""
        if self.mean is None:
            return "none added by specreg (the model gets [0, 1] pixels and is taken to normalise inside)"
        return f"added by specreg: (x - mean) / std, mean {list(self.mean)}, std {list(self.std)}"


def from_options(
    target: str | None, kwargs: str | None = None, mean: str | None = None, std: str | None = None
) -> ExternalSpec | None:
    """The commands' ``--model/--model-kwargs/--mean/--std``: None without ``--model`` (and then none of the
    others may be given: they would silently do nothing)."""
    if target is not None:
        return ExternalSpec.parse(target, kwargs, mean, std)
    given = [name for name, value in (("--model-kwargs", kwargs), ("--mean", mean), ("--std", std)) if value]
    if given:
        raise SpecregError(f"{', '.join(given)} only apply with --model", hint=TARGET_HINT)
    return None


def split_target(target: str) -> tuple[str, str]:
    """``"torchvision.models:resnet18"`` -> ``("torchvision.models", "resnet18")``; a bad form is one line."""
    module, sep, factory = str(target).rpartition(":")
    if not sep or not module or not _IDENTIFIER.match(factory):
        raise SpecregError(f"--model {target!r} is not MODULE:FACTORY", hint=TARGET_HINT)
    return module, factory


def parse_kwargs(text: str | None) -> dict[str, Any]:
    """``--model-kwargs``: a JSON object (``'{"num_classes": 10}'``) or ``key=value,...`` where each value is
    read as JSON when it parses (``10``, ``0.5``, ``true``, ``null``, ``"x"``) and kept as a string otherwise.

    >>> parse_kwargs("num_classes=10,weights=null,norm=bn")
    {'num_classes': 10, 'weights': None, 'norm': 'bn'}
    """
    if text is None or not str(text).strip():
        return {}
    text = str(text).strip()
    if text.startswith("{"):
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SpecregError(
                f"--model-kwargs is not valid JSON ({exc.msg})", hint="e.g. '{\"num_classes\": 10}'"
            ) from None
        if not isinstance(value, dict):
            raise SpecregError("--model-kwargs JSON must be an object", hint="e.g. '{\"num_classes\": 10}'")
        pairs = list(value.items())
    else:
        pairs = [_pair(item) for item in text.split(",") if item.strip()]
    for key, _ in pairs:
        if not _IDENTIFIER.match(str(key)):
            raise SpecregError(f"--model-kwargs key {key!r} is not a Python name", hint="e.g. num_classes=10")
    return dict(pairs)


def _pair(item: str) -> tuple[str, Any]:
    key, sep, raw = item.partition("=")
    if not sep:
        raise SpecregError(
            f"--model-kwargs item {item.strip()!r} is not key=value", hint="e.g. num_classes=10"
        )
    try:
        return key.strip(), json.loads(raw)
    except json.JSONDecodeError:
        return key.strip(), raw.strip()


def parse_channels(text: str | None, option: str, positive: bool) -> tuple[float, ...] | None:
    """``"0.4914,0.4822,0.4465"`` -> a tuple of finite floats (``positive``: each > 0); None stays None."""
    if text is None:
        return None
    try:
        values = tuple(float(v) for v in str(text).split(","))
    except ValueError:
        raise SpecregError(
            f"{option} must be comma-separated numbers, got {text!r}", hint=f"e.g. {option} 0.5,0.5,0.5"
        ) from None
    if not all(math.isfinite(v) and (v > 0 or not positive) for v in values):
        raise SpecregError(f"{option} values must be finite{' and > 0' if positive else ''}, got {text!r}")
    return values


@dataclass
class ExternalModel:
    """An external model's source, in the shape of a :class:`~specreg_cli.checkpoint.Checkpoint`."""

    path: Path  # the weights file, absolute
    sha256: str  # of the weights file
    spec: ExternalSpec
    module_identity: dict = field(default_factory=dict)  # the code's version or file hash (provenance)

    @property
    def run_name(self) -> str:
        """The weights file's stem: ``resnet18`` for ``resnet18.pt``."""
        from specreg_cli.checkpoint import run_name_for

        return run_name_for(self.path)

    @property
    def meta(self) -> dict:
        """The checkpoint-like metadata the commands read (method, model arch)."""
        return {
            "method": EXTERNAL_METHOD,
            "model": {"arch": self.spec.arch, "kwargs": dict(self.spec.kwargs)},
            "external": self.provenance(),
        }

    recorded_test_sha256 = None  # an external model records no test split: --dataset decides
    dataset_spec = None

    def provenance(self) -> dict:
        """What a results file records about it (as ``provenance.checkpoints[run]["external"]``)."""
        return {
            "model": self.spec.target,
            "kwargs": dict(self.spec.kwargs),
            "code": dict(self.module_identity),
            "weights": str(self.path),
            "weights_sha256": self.sha256,
            "mean": list(self.spec.mean) if self.spec.mean is not None else None,
            "std": list(self.spec.std) if self.spec.std is not None else None,
            "normalization": self.spec.normalization,
        }


def load_external(
    spec: ExternalSpec, weights: str | Path, device: torch.device | str = "cpu"
) -> tuple[nn.Module, ExternalModel]:
    """The external model in eval mode on ``device`` (:class:`Normalize` first when ``spec`` has mean/std)
    and its :class:`ExternalModel`. Every way the code or the file can be wrong is a :class:`SpecregError`."""
    from specreg_cli.checkpoint import file_sha256

    path = Path(weights).expanduser().resolve()
    if not path.is_file():
        raise SpecregError(f"weights file {path} not found", hint="pass --weights FILE (a saved state_dict)")
    state_dict = read_state_dict(path)
    module = import_module(split_target(spec.target)[0])
    model = build(spec, module)
    fit_weights(model, state_dict, path, spec)
    model = wrap(model, spec).to(device).eval()
    check_outputs(model, spec, device)
    return model, ExternalModel(path, file_sha256(path), spec, module_identity(module))


def read_state_dict(path: Path) -> dict:
    """``torch.load(path, weights_only=True)``, refused unless a flat name -> tensor dict of finite values."""
    import torch

    from specreg_cli.checkpoint import FORMAT, _torch_load

    payload = _torch_load(path)
    if isinstance(payload, dict) and payload.get("format") == FORMAT:
        raise SpecregError(
            f"{path} is a specreg checkpoint, not a state_dict",
            hint="pass it (or its run directory) as a run",
        )
    wrong = _first_non_tensor(payload)
    if wrong is not None:
        raise SpecregError(
            f"{path} is not a state_dict ({wrong})", hint="save it with torch.save(model.state_dict(), FILE)"
        )
    bad = [k for k, t in payload.items() if t.is_floating_point() and not torch.isfinite(t).all()]
    if bad:
        more = f" and {len(bad) - 1} more tensor(s)" if len(bad) > 1 else ""
        raise SpecregError(
            f"{path} holds non-finite weights (NaN or inf) in {bad[0]}{more}",
            hint="the model diverged or the file is damaged: use other weights",
        )
    return payload


def _first_non_tensor(payload: object) -> str | None:
    """Why ``payload`` is not a name -> tensor dict (None when it is one)."""
    import torch

    if not isinstance(payload, dict) or not payload:
        return f"a {type(payload).__name__}" if not isinstance(payload, dict) else "an empty dict"
    for key, value in payload.items():
        if not isinstance(key, str) or not isinstance(value, torch.Tensor):
            return f"entry {key!r} is a {type(value).__name__}, not a tensor"
    return None


def import_module(name: str) -> ModuleType:
    """Import MODULE: a dotted name (tried from the current folder too, as ``python -m`` does) or a ``.py``
    file. This runs the module's code, which is the user's own (see the module docstring)."""
    try:
        if name.endswith(".py"):
            return _import_file(Path(name).expanduser().resolve())
        try:
            return importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name.split(".")[0] or str(Path.cwd()) in sys.path:
                raise
            sys.path.append(str(Path.cwd()))  # last: an installed module of that name always wins
            return importlib.import_module(name)
    except SpecregError:
        raise
    except Exception as exc:  # the user's code may fail in any way; what it was is the useful part
        raise SpecregError(
            f"cannot import {name} ({exc.__class__.__name__}: {_first_line(exc)})",
            hint="is it installed, or a module in the current folder? " + TARGET_HINT,
        ) from None


def _import_file(path: Path) -> ModuleType:
    if not path.is_file():
        raise SpecregError(f"module file {path} not found", hint=TARGET_HINT)
    name = f"specreg_external_{hashlib.sha256(str(path).encode()).hexdigest()[:12]}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look modules up by name
    spec.loader.exec_module(module)
    return module


def build(spec: ExternalSpec, module: ModuleType) -> nn.Module:
    """``FACTORY(**kwargs)`` from ``module``; it must return an ``nn.Module``."""
    from torch import nn

    factory_name = split_target(spec.target)[1]
    factory = getattr(module, factory_name, None)
    if not callable(factory):
        raise SpecregError(f"{module.__name__} has no callable {factory_name!r}", hint=TARGET_HINT)
    try:
        model = factory(**spec.kwargs)
    except Exception as exc:  # a wrong keyword, a failed download, ...: the user's code says what
        raise SpecregError(
            f"{spec.target}(**{spec.kwargs}) failed ({exc.__class__.__name__}: {_first_line(exc)})",
            hint="check --model-kwargs",
        ) from None
    if not isinstance(model, nn.Module):
        raise SpecregError(f"{spec.target} returned a {type(model).__name__}, not a torch.nn.Module")
    return model


def fit_weights(model: nn.Module, state_dict: dict, path: Path, spec: ExternalSpec) -> None:
    """Strict ``load_state_dict``, with missing / unexpected keys and shape mismatches said in one line."""
    own = model.state_dict()
    missing = [k for k in own if k not in state_dict]
    unexpected = [k for k in state_dict if k not in own]
    if missing or unexpected:
        parts = [
            f"{len(keys)} {what} ({_some(keys)})"
            for what, keys in (("missing", missing), ("unexpected", unexpected))
            if keys
        ]
        raise SpecregError(
            f"{path.name} does not fit {spec.target}: keys {'; '.join(parts)}",
            hint="are --model and --model-kwargs the ones the weights were saved from? "
            "(a saved nn.Sequential or DataParallel adds a prefix like '0.' or 'module.')",
        )
    shapes = [k for k in own if tuple(own[k].shape) != tuple(state_dict[k].shape)]
    if shapes:
        key = shapes[0]
        raise SpecregError(
            f"{path.name} does not fit {spec.target}: {key} is {tuple(state_dict[key].shape)} in the file, "
            f"{tuple(own[key].shape)} in the model"
            + (f" (and {len(shapes) - 1} more)" if len(shapes) > 1 else ""),
            hint="check --model-kwargs (num_classes=10?)",
        )
    model.load_state_dict(state_dict, strict=True)


def _some(keys: list[str], shown: int = 3) -> str:
    return ", ".join(keys[:shown]) + (f", ... {len(keys) - shown} more" if len(keys) > shown else "")


def wrap(model: nn.Module, spec: ExternalSpec) -> nn.Module:
    """``Normalize(mean, std)`` then the model, when ``spec`` gives them; the model itself otherwise."""
    if spec.mean is None:
        return model
    from torch import nn

    from specreg_cli.models.normalize import Normalize

    return nn.Sequential(Normalize(spec.mean, spec.std), model)


def check_outputs(model: nn.Module, spec: ExternalSpec, device: torch.device | str) -> None:
    """One forward pass on a black 32x32 image: it must give (1, NUM_CLASSES) logits."""
    import torch

    try:
        with torch.no_grad():
            out = model(torch.zeros(1, 3, 32, 32, device=device))
    except Exception as exc:  # a model for other input sizes or channel counts
        raise SpecregError(
            f"{spec.target} fails on a (1, 3, 32, 32) image ({exc.__class__.__name__}: {_first_line(exc)})",
            hint="specreg evaluates 32x32 RGB images in [0, 1]",
        ) from None
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != (1, NUM_CLASSES):
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise SpecregError(
            f"{spec.target} returns {shape} for one image, expected (1, {NUM_CLASSES}) logits",
            hint=f"e.g. --model-kwargs num_classes={NUM_CLASSES}",
        )


def module_identity(module: ModuleType) -> dict:
    """Which code built the model: its package's version when it is installed under its import name
    (``torchvision 0.19.0``), else the module file's SHA-256 (a local ``net.py``)."""
    from importlib import metadata

    identity: dict = {"module": module.__name__}
    top = module.__name__.split(".")[0]
    try:  # not metadata.packages_distributions(): it reads every installed package's file list (seconds)
        identity["package"] = f"{top} {metadata.version(top)}"
    except (metadata.PackageNotFoundError, ValueError):
        source = getattr(module, "__file__", None)
        if source:
            from specreg_cli.checkpoint import file_sha256

            identity |= {"file": str(Path(source).resolve()), "file_sha256": file_sha256(source)}
    return identity


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [""])[0][:200]
