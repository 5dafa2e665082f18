"""Checkpoints: one file with the state_dict and a metadata dict; atomic writes, weights-only loads.

File layout (a ``torch.save`` of a plain dict, so ``torch.load(weights_only=True)`` reads it)::

    {"format": "specreg-checkpoint", "format_version": 1,
     "state_dict": {...},
     "meta": {"model": {"arch": "resnet20", "num_classes": 10, "spectral": None | MaskConfig dict},
              "method": "masked", "method_options": {...}, "dataset": {...identity...},
              "normalization": {"mean": [...], "std": [...]}, "epoch": 12, "epochs": 200,
              "resume": {"optimizer": ..., "scheduler": ..., "rng": ...},
              "specreg_version": "0.1.0", "config": {...full train config...}}}

Each way a file can be wrong gets its own one-line error: missing, needs arbitrary unpickling,
truncated or corrupt, not a specreg checkpoint, another architecture than expected.
"""

from __future__ import annotations

import hashlib
import pickle
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from specreg_cli.atomic import atomic_path
from specreg_cli.errors import SpecregError
from specreg_cli.models import create_model, list_models

FORMAT = "specreg-checkpoint"
FORMAT_VERSION = 1
CHECKPOINT_NAME = "model.pt"  # the file a run directory holds


@dataclass
class Checkpoint:
    path: Path
    state_dict: dict
    meta: dict
    sha256: str

    @property
    def run_name(self) -> str:
        """The run directory's name, or the file's stem for a loose checkpoint."""
        return run_name_for(self.path)

    @property
    def recorded_test_sha256(self) -> str | None:
        """The content hash of the test split the run was trained alongside (None: not recorded)."""
        recorded = self.meta.get("test_dataset")
        sha256 = recorded.get("sha256") if isinstance(recorded, dict) else None
        return sha256 if isinstance(sha256, str) and sha256 else None

    @property
    def dataset_spec(self) -> str | None:
        """The ``--dataset`` spec the run was trained on (its config's), None when not recorded."""
        spec = (self.meta.get("config") or {}).get("dataset")
        return spec if isinstance(spec, str) and spec else None


def run_name_for(path: str | Path) -> str:
    """The run name a checkpoint path gives its records: RUN for a run directory's :data:`CHECKPOINT_NAME`
    (``RUN/<CHECKPOINT_NAME>``), the file's stem for any other checkpoint file."""
    path = Path(path)
    return path.parent.name if path.name == CHECKPOINT_NAME else path.stem


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file, hex."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def resolve_checkpoint_path(path: str | Path) -> Path:
    """An absolute path: a run directory means its :data:`CHECKPOINT_NAME`; a file is taken as it is."""
    path = Path(path).expanduser().resolve()
    if path.is_dir():
        path = path / CHECKPOINT_NAME
    if not path.exists():
        raise SpecregError(
            f"checkpoint {path} not found",
            hint=f"pass a run directory made by `specreg train` or its {CHECKPOINT_NAME}",
        )
    return path


def save_checkpoint(path: str | Path, model: nn.Module, meta: dict) -> None:
    """Write model weights and ``meta`` atomically (temp file + rename)."""
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "state_dict": model.state_dict(),
        "meta": meta,
    }
    with atomic_path(path) as tmp, tmp.open("wb") as fh:
        # through a file object: torch names the archive's root folder after a *path*, and the temp
        # file's random name would make identical checkpoints hash differently
        torch.save(payload, fh)


def make_meta(
    model_config: dict,
    method: str,
    dataset: dict,
    epoch: int,
    epochs: int,
    config: dict,
    method_options: dict | None = None,
    resume: dict | None = None,
) -> dict:
    """The metadata dict every checkpoint carries (see the module docstring)."""
    from specreg_cli import __version__
    from specreg_cli.models.normalize import CIFAR10_MEAN, CIFAR10_STD

    return {
        "model": model_config,
        "method": method,
        "method_options": method_options or {},
        "dataset": dataset,
        "normalization": {"mean": list(CIFAR10_MEAN), "std": list(CIFAR10_STD)},
        "epoch": epoch,
        "epochs": epochs,
        "resume": resume or {},
        "specreg_version": __version__,
        "config": config,
    }


def _torch_load(path: Path) -> object:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise SpecregError(
            f"{path} needs arbitrary unpickling, which specreg refuses (weights_only=True)",
            hint="load it in trusted code and re-save its state_dict with `specreg train` tooling",
        ) from None
    except (
        Exception
    ) as exc:  # a damaged file fails in many layers (zip, unpickler, storage); same fix for all
        raise SpecregError(
            f"{path} is truncated or not a PyTorch file ({exc.__class__.__name__})",
            hint="re-run the training or copy the file again",
        ) from None


def load_checkpoint(path: str | Path, expected_arch: str | None = None) -> Checkpoint:
    """Read and validate a checkpoint file or run directory.

    Everything in the file is checked before anyone uses it (it may be hand-made or damaged): the
    payload's shape, the metadata's types, the architecture's name, and that every floating tensor is
    finite (a NaN model must never be evaluated: it would score chance accuracy and pass as a result).
    """
    path = resolve_checkpoint_path(path)
    payload = _torch_load(path)
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise SpecregError(
            f"{path} is not a specreg checkpoint", hint=f"pass a {CHECKPOINT_NAME} written by `specreg train`"
        )
    version = payload.get("format_version", 0)
    if isinstance(version, bool) or not isinstance(version, int):
        raise SpecregError(f"{path}: format_version {version!r} is not an integer")
    if version > FORMAT_VERSION:
        raise SpecregError(
            f"{path} was written by a newer specreg (format {version})", hint="upgrade specreg"
        )
    meta, state_dict = payload.get("meta"), payload.get("state_dict")
    _check_meta(path, meta)
    _check_state_dict(path, state_dict)
    arch = meta["model"]["arch"]
    if expected_arch is not None and arch != expected_arch:
        raise SpecregError(
            f"{path} holds a {arch} model, expected {expected_arch}",
            hint=f"use --arch {arch} or another checkpoint",
        )
    return Checkpoint(path, state_dict, meta, file_sha256(path))


def _check_meta(path: Path, meta: object) -> None:
    """The metadata fields that readers index into have the types they expect."""
    damaged = "re-run the training or copy the file again"
    if not isinstance(meta, dict) or not isinstance(meta.get("model"), dict):
        raise SpecregError(f"{path}: the checkpoint's metadata has no model description", hint=damaged)
    model = meta["model"]
    if model.get("arch") not in list_models():
        raise SpecregError(
            f"{path}: unknown architecture {model.get('arch')!r}",
            hint=f"specreg knows {', '.join(list_models())}",
        )
    classes = model.get("num_classes", 10)
    if isinstance(classes, bool) or not isinstance(classes, int) or not 2 <= classes <= 100_000:
        raise SpecregError(f"{path}: num_classes {classes!r} is not an integer >= 2", hint=damaged)
    if model.get("spectral") is not None and not isinstance(model["spectral"], dict):
        raise SpecregError(f"{path}: the spectral mask settings are not an object", hint=damaged)
    for key in ("config", "dataset", "test_dataset", "normalization", "method_options", "resume"):
        if meta.get(key) is not None and not isinstance(meta[key], dict):
            raise SpecregError(f"{path}: checkpoint metadata {key!r} is not an object", hint=damaged)
    for key in ("method", "run_name"):
        if meta.get(key) is not None and not isinstance(meta[key], str):
            raise SpecregError(f"{path}: checkpoint metadata {key!r} is not a string", hint=damaged)


def _check_state_dict(path: Path, state_dict: object) -> None:
    """A dict of name -> tensor whose floating tensors are all finite."""
    if not isinstance(state_dict, dict) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state_dict.items()
    ):
        raise SpecregError(f"{path}: the checkpoint's state_dict is not a mapping of names to tensors")
    for name, tensor in state_dict.items():
        if (tensor.is_floating_point() or tensor.is_complex()) and not torch.isfinite(tensor).all():
            raise SpecregError(
                f"{path}: the weights hold NaN or infinite values ({name}); this model cannot be evaluated",
                hint="retrain it (a smaller --lr), or take a checkpoint saved before it diverged",
            )


def test_set_warnings(checkpoints: list[Checkpoint], test_identity: dict) -> list[str]:
    """One line per checkpoint whose recorded test split differs from the one about to be evaluated
    (e.g. the synthetic generator changed, or another CIFAR-10 copy): its numbers would not be comparable."""
    warnings = []
    for checkpoint in checkpoints:
        recorded = checkpoint.recorded_test_sha256
        if recorded and test_identity.get("sha256") and recorded != test_identity["sha256"]:
            warnings.append(
                f"{checkpoint.run_name} was trained alongside a different test split "
                f"(sha256 {recorded} vs {test_identity['sha256']} now)"
            )
    return warnings


def build_model(model_config: dict, generator: torch.Generator | None = None) -> nn.Module:
    """Create the architecture of ``model_config`` with its switches (normalisation, dropout:
    :mod:`specreg_cli.models.options`) and, for masked models, insert the spectral masks."""
    from specreg_cli.models.options import apply_model_options, model_options

    model = create_model(model_config["arch"], num_classes=model_config.get("num_classes", 10))
    apply_model_options(model, **model_options(model_config))
    if model_config.get("spectral"):
        from specreg_cli.spectral import MaskConfig, apply_spectral_masks

        apply_spectral_masks(model, MaskConfig.from_dict(model_config["spectral"]), generator=generator)
    return model


def load_model(path: str | Path, device: torch.device | str = "cpu") -> tuple[nn.Module, Checkpoint]:
    """The checkpoint's model in eval mode on ``device``, and the checkpoint itself."""
    checkpoint = load_checkpoint(path)
    try:
        model = build_model(checkpoint.meta["model"])
    except (TypeError, ValueError, KeyError) as exc:  # hand-edited mask settings: MaskConfig refuses them
        raise SpecregError(f"{checkpoint.path}: its model settings are invalid ({exc})") from None
    try:
        model.load_state_dict(checkpoint.state_dict)
    except RuntimeError as exc:
        first = str(exc).splitlines()[1].strip() if len(str(exc).splitlines()) > 1 else str(exc)
        raise SpecregError(f"{checkpoint.path} does not match its declared model: {first}") from None
    return model.to(device).eval(), checkpoint
