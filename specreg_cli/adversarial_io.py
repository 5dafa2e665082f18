"""Adversarial examples on disk, so any model can be evaluated on them later (transfer attacks).

Two formats, chosen by the file suffix:

- ``adv.npy`` - the CIFAR-10-C-like layout: uint8 (N, 32, 32, 3) images, a sibling ``adv_labels.npy``
  with int64 (N,) labels and ``adv_meta.json`` with the attack parameters, eps, source checkpoint hash
  and dataset identity. The float images are rounded to 8-bit levels and then RE-PROJECTED into the
  eps ball of the clean uint8 image (:func:`to_uint8_in_ball`), so ``|adv - clean| <= eps`` holds exactly.
- ``adv.pt`` - ``{"images": float32 (N, 3, 32, 32) in [0, 1], "labels": int64 (N,), "meta": {...}}``, the
  attack's output unrounded; it loads with ``torch.load(weights_only=True)``.

Every file is written atomically. Example::

    save_adversarial("adv.npy", images_u8_nhwc, labels, meta)
    adv = load_adversarial("adv.npy")
    acc, n = specreg_cli.transfer.transfer_accuracy(model, adv.batches(256, "cpu"))
"""

from __future__ import annotations

import json
import math
import pickle
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from specreg_cli.atomic import atomic_path, write_text_atomic
from specreg_cli.data.datasets import content_hash
from specreg_cli.errors import SpecregError
from specreg_cli.evaluate import uint8_batches
from specreg_cli.parsing import format_pixel_value

FORMAT = "specreg-adversarial"
REGENERATE = "regenerate the examples with `specreg attack --save-adv`"
FORMAT_VERSION = 1
SUFFIXES = (".npy", ".pt")


def check_path(path: str | Path, option: str = "--save-adv") -> Path:
    """The absolute path if its suffix names a format, else a :class:`SpecregError`."""
    path = Path(path).expanduser().resolve()
    if path.suffix not in SUFFIXES:
        raise SpecregError(
            f"{option} {path.name} must end in .npy (uint8, CIFAR-10-C layout) or .pt (float32)",
            hint="e.g. --save-adv adv/pgd.npy",
        )
    return path


def sibling_paths(path: Path) -> tuple[Path, Path]:
    """(labels file, meta sidecar) of a ``.npy`` images file: ``<stem>_labels.npy``, ``<stem>_meta.json``."""
    return path.with_name(f"{path.stem}_labels.npy"), path.with_name(f"{path.stem}_meta.json")


def sweep_paths(
    base: str | Path, runs: Sequence[str], eps_values: Sequence[float]
) -> dict[tuple[str, float], Path]:
    """One file per (run, eps). One run and one eps: ``base`` itself.

    Otherwise ``<stem>[-<run>][-eps<tag>]<suffix>``, a part only where it varies, the tag being eps in
    its file-name form (``format_pixel_value(eps, sep="-")``, no ``/`` in a name):
    ``adv.npy`` -> ``adv-eps2-255.npy``, ``adv-eps8-255.npy``;
    two runs -> ``adv-natural-eps8-255.npy``, ``adv-masked-eps8-255.npy``.
    """
    base = Path(base)
    paths = {}
    for run in runs:
        for eps in eps_values:
            parts = ([f"-{run}"] if len(runs) > 1 else []) + (
                [f"-eps{format_pixel_value(eps, sep='-')}"] if len(eps_values) > 1 else []
            )
            paths[(run, eps)] = base.with_name(base.stem + "".join(parts) + base.suffix)
    return paths


def to_uint8_in_ball(
    adv: torch.Tensor, clean_u8: torch.Tensor, eps: float, norm: str = "Linf"
) -> torch.Tensor:
    """Round float adversarial images to 8-bit levels, staying inside the eps ball of the clean uint8 images.

    adv: float (B, C, H, W) in [0, 1]; clean_u8: uint8 (B, C, H, W); eps in [0, 1] pixel units.
    Returns uint8 (B, C, H, W).

    - Linf: round to nearest, then clip to ``[clean - b, clean + b]`` with ``b = floor(eps * 255)`` whole
      levels (the bound rounded inward; k/255 gives exactly k), so ``|adv - clean| <= b / 255 <= eps``.
    - L2: round to nearest; an image whose rounded perturbation is longer than ``eps * 255`` takes instead
      its float perturbation (scaled into the ball) truncated toward zero, which can only shorten it.
    """
    if norm not in ("Linf", "L2"):
        raise ValueError(f"norm must be Linf or L2, got {norm!r}")
    clean = clean_u8.to(torch.int32)  # (B, C, H, W)
    rounded = adv.detach().double().mul(255).round().to(torch.int32).clamp(0, 255)
    if norm == "Linf":
        bound = math.floor(eps * 255)  # whole levels, rounded inward: 8/255 -> 8, 0.0313725 -> 7
        return (
            torch.minimum(torch.maximum(rounded, clean - bound), clean + bound).clamp(0, 255).to(torch.uint8)
        )
    bound = eps * 255
    delta = rounded - clean  # (B, C, H, W) int32
    too_long = delta.flatten(1).double().norm(dim=1) > bound  # (B,)
    if too_long.any():
        exact = adv.detach().double().mul(255) - clean.double()  # (B, C, H, W), pixel units
        length = exact.flatten(1).norm(dim=1).clamp_min(1e-12)  # (B,)
        scale = (bound / length).clamp(max=1.0) * (1 - 1e-9)  # into the ball, with room for float error
        inward = (exact * scale.view(-1, 1, 1, 1)).trunc().to(torch.int32)  # |inward| <= |exact * scale|
        delta = torch.where(too_long.view(-1, 1, 1, 1), inward, delta)
    return (clean + delta).clamp(0, 255).to(torch.uint8)


@dataclass
class AdversarialSet:
    """Saved adversarial examples.

    ``images``: uint8 (N, 32, 32, 3) numpy (``.npy``) or float32 (N, 3, 32, 32) tensor (``.pt``);
    ``labels``: int64 (N,); ``meta``: the attack parameters (empty for foreign files without a sidecar).
    """

    path: Path
    images: np.ndarray | torch.Tensor
    labels: np.ndarray
    meta: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def storage(self) -> str:
        return "uint8" if isinstance(self.images, np.ndarray) else "float32"

    def subset(self, n: int | None) -> AdversarialSet:
        """The first ``n`` examples (all when ``n`` is None or not smaller), metadata unchanged."""
        if n is None or n >= len(self):
            return self
        return AdversarialSet(self.path, self.images[:n], self.labels[:n], self.meta)

    def batches(
        self, batch_size: int, device: torch.device | str
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """(x float32 (B, 3, 32, 32) in [0, 1], y int64 (B,)) on ``device``, in file order.

        Example: ``transfer_accuracy(model, load_adversarial("adv.npy").batches(256, "cpu"))``.
        """
        if isinstance(self.images, np.ndarray):  # uint8 NHWC, memory-mapped: the evaluation's own batching
            yield from uint8_batches(self.images, self.labels, batch_size, device)
            return
        labels = torch.as_tensor(self.labels, dtype=torch.int64)  # (N,)
        for start in range(0, len(labels), batch_size):
            x = self.images[start : start + batch_size].to(device)  # (B, 3, 32, 32) float32, as saved
            yield x, labels[start : start + batch_size].to(device)


def source_meta(dataset_spec: str, test, seed: int, batch_size: int) -> dict:
    """What an examples file says about the clean images it was made from: the ``--dataset`` spec, the
    test split's identity (an ImageSet's) and content hash, and the attack's seed and batch size (its
    random starts depend on both)."""
    return {
        "dataset_spec": dataset_spec,
        "dataset": test.identity,
        "seed": seed,
        "batch_size": batch_size,
        "clean_sha256": content_hash(test.images, test.labels),
    }


def example_meta(
    attack: str,
    params: dict,
    source: dict,
    checkpoint,
    accuracy: float,
    stored_accuracy: float | None = None,
) -> dict:
    """The metadata of one saved examples file: the attack and its ``params`` (eps, alpha, steps,
    random_start, norm), :func:`source_meta`'s ``source``, the source model (a
    :class:`~specreg_cli.checkpoint.Checkpoint`) and its accuracy on the float examples and, for uint8
    files, on the stored pixels."""
    meta = {
        "attack": attack,
        **params,
        **source,
        "source_run": checkpoint.run_name,
        "source_method": checkpoint.meta.get("method"),
        "source_arch": checkpoint.meta["model"]["arch"],
        "source_checkpoint": str(checkpoint.path),
        "source_sha256": checkpoint.sha256,
        "source_accuracy": accuracy,
    }
    if stored_accuracy is not None:
        meta["source_accuracy_stored"] = stored_accuracy
    return meta


def save_adversarial(
    path: str | Path, images: np.ndarray | torch.Tensor, labels: np.ndarray | torch.Tensor, meta: dict
) -> list[Path]:
    """Write one set of adversarial examples (format chosen by the suffix); returns the files written."""
    path = check_path(path)
    labels = np.asarray(labels, dtype=np.int64)
    meta = {"format": FORMAT, "version": FORMAT_VERSION, **meta, "n": len(labels)}
    if path.suffix == ".npy":
        images = np.asarray(images)
        _check_images(images, np.uint8, len(labels), path)
        labels_path, meta_path = sibling_paths(path)
        _save_npy(labels_path, labels)
        write_text_atomic(
            meta_path,
            json.dumps({**meta, "storage": "uint8"}, indent=1, sort_keys=True, allow_nan=False) + "\n",
        )
        _save_npy(path, images)
        return [path, labels_path, meta_path]
    images = torch.as_tensor(images).detach().cpu()
    _check_images(images, torch.float32, len(labels), path)
    with atomic_path(path) as tmp:
        torch.save(
            {
                "images": images.contiguous(),
                "labels": torch.from_numpy(labels),
                "meta": {**meta, "storage": "float32"},
            },
            tmp,
        )
    return [path]


def _save_npy(path: Path, array: np.ndarray) -> None:
    with (
        atomic_path(path) as tmp,
        tmp.open("wb") as fh,
    ):  # a file handle: np.save would append ".npy" to a name
        np.save(fh, np.ascontiguousarray(array), allow_pickle=False)


def _check_images(images, dtype, n: int, path: Path) -> None:
    """uint8 must be (N, 32, 32, 3) NHWC; float32 must be (N, 3, 32, 32) NCHW; N must match the labels."""
    shape = tuple(images.shape)
    nhwc = dtype == np.uint8
    ok = images.dtype == dtype and len(shape) == 4 and shape[3 if nhwc else 1] == 3 and shape[0] == n
    if not ok:
        layout = "uint8 (N, H, W, 3)" if nhwc else "float32 (N, 3, H, W)"
        raise SpecregError(f"{path} holds {images.dtype} {shape} images with {n} labels; expected {layout}")


def load_adversarial(path: str | Path) -> AdversarialSet:
    """Read a ``.npy`` (with its labels and optional meta sidecar) or ``.pt`` adversarial set, validated."""
    path = check_path(path, "--adv-from")
    if not path.exists():
        raise SpecregError(
            f"adversarial examples {path} not found", hint="write them with `specreg attack --save-adv`"
        )
    return _load_npy(path) if path.suffix == ".npy" else _load_pt(path)


def _load_npy(path: Path) -> AdversarialSet:
    labels_path, meta_path = sibling_paths(path)
    if not labels_path.exists():
        raise SpecregError(
            f"{path} has no labels file {labels_path.name} beside it",
            hint="saved examples come as <stem>.npy + <stem>_labels.npy",
        )
    try:
        images = np.load(path, mmap_mode="r", allow_pickle=False)
        labels = np.load(labels_path, allow_pickle=False)
        meta = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.exists() else {}
    except (OSError, ValueError) as exc:
        raise SpecregError(
            f"{path} or its sidecars cannot be read ({exc.__class__.__name__}: {exc})"
        ) from None
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise SpecregError(f"{labels_path} must hold integer (N,) labels, got {labels.dtype} {labels.shape}")
    _check_images(images, np.uint8, len(labels), path)
    _check_labels(labels, labels_path)
    return AdversarialSet(path, images, labels.astype(np.int64), check_meta(meta, meta_path))


def _load_pt(path: Path) -> AdversarialSet:
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError, zipfile.BadZipFile) as exc:
        raise SpecregError(
            f"{path} is not a loadable weights-only PyTorch file ({exc.__class__.__name__})",
            hint="write it with `specreg attack --save-adv FILE.pt`",
        ) from None
    if not isinstance(payload, dict) or not {"images", "labels"} <= payload.keys():
        raise SpecregError(f"{path} is not a specreg adversarial .pt file (needs images and labels)")
    labels = torch.as_tensor(payload["labels"])
    if labels.ndim != 1 or labels.dtype != torch.int64:
        raise SpecregError(f"{path}: labels must be int64 (N,), got {labels.dtype} {tuple(labels.shape)}")
    images = torch.as_tensor(payload["images"])
    _check_images(images, torch.float32, len(labels), path)
    if not torch.isfinite(images).all() or images.min() < 0 or images.max() > 1:
        raise SpecregError(f"{path}: images must be finite and in [0, 1]", hint=REGENERATE)
    _check_labels(labels.numpy(), path)
    return AdversarialSet(path, images, labels.numpy(), check_meta(payload.get("meta") or {}, path))


# The metadata keys readers use, and the JSON types each may hold. Unknown keys are kept (a newer specreg
# may add some); known ones with the wrong type are refused, since their values become records' params.
META_TYPES: dict[str, tuple[type, ...]] = {
    "format": (str,),
    "version": (int,),
    "attack": (str,),
    "eps": (int, float),
    "alpha": (int, float, type(None)),
    "steps": (int, type(None)),
    "random_start": (bool, type(None)),
    "norm": (str,),
    "n": (int,),
    "seed": (int, type(None)),
    "batch_size": (int, type(None)),
    "dataset_spec": (str, type(None)),
    "dataset": (dict,),
    "clean_sha256": (str, type(None)),
    "source_run": (str, type(None)),
    "source_method": (str, type(None)),
    "source_arch": (str, type(None)),
    "source_checkpoint": (str, type(None)),
    "source_sha256": (str, type(None)),
    "source_accuracy": (int, float, type(None)),
    "source_accuracy_stored": (int, float, type(None)),
    "storage": (str,),
}
NORMS = ("Linf", "L2")
# Upper bounds of the numeric keys: radii in pixel units; an L2 radius can reach sqrt(3 * 32 * 32) = 55.4.
META_RANGES = {"eps": 56.0, "alpha": 56.0, "source_accuracy": 1.0, "source_accuracy_stored": 1.0}


def check_meta(meta: object, path: Path) -> dict:
    """The examples' metadata, validated: an object whose known keys have their types, a finite eps in
    [0, 1] (pixel units), a known norm. A defect is one line naming the key."""
    if not isinstance(meta, dict):
        raise SpecregError(f"{path}: the metadata is a {type(meta).__name__}, not an object", hint=REGENERATE)
    for key, types in META_TYPES.items():
        if key not in meta:
            continue
        value = meta[key]
        wrong_bool = isinstance(value, bool) and bool not in types  # JSON true is an int to Python
        if wrong_bool or not isinstance(value, types):
            raise SpecregError(f"{path}: metadata {key} {value!r} has the wrong type", hint=REGENERATE)
    for key, top in META_RANGES.items():
        value = meta.get(key)
        if value is not None and not (math.isfinite(value) and 0 <= value <= top):
            raise SpecregError(f"{path}: metadata {key} {value!r} is outside [0, {top:g}]", hint=REGENERATE)
    if meta.get("norm", "Linf") not in NORMS:
        raise SpecregError(f"{path}: metadata norm {meta['norm']!r} is not Linf or L2", hint=REGENERATE)
    for key in ("n", "steps", "batch_size", "seed"):
        if isinstance(meta.get(key), int) and meta[key] < 0:
            raise SpecregError(f"{path}: metadata {key} {meta[key]!r} is negative", hint=REGENERATE)
    return dict(meta)


def _check_labels(labels: np.ndarray, path: Path) -> None:
    """Class indices must be non-negative (the upper bound is the model's: checked at evaluation)."""
    if len(labels) and int(labels.min()) < 0:
        raise SpecregError(f"{path}: labels must be class indices >= 0, found {int(labels.min())}")


def perturbation_size(adv: AdversarialSet, clean_u8: np.ndarray, norm: str, chunk: int = 1000) -> float:
    """The largest per-image perturbation ``|adv - clean|`` in [0, 1] pixel units, under ``norm``
    (Linf: the largest pixel change; L2: the longest perturbation vector).

    clean_u8: uint8 (N, 32, 32, 3), the images the examples were made from, in file order.
    """
    largest = 0.0
    for start in range(0, len(adv), chunk):
        stop = min(start + chunk, len(adv))
        clean = torch.from_numpy(np.array(clean_u8[start:stop])).double().permute(0, 3, 1, 2) / 255
        if isinstance(adv.images, np.ndarray):  # uint8 NHWC
            moved = torch.from_numpy(np.array(adv.images[start:stop])).double().permute(0, 3, 1, 2) / 255
        else:  # float32 NCHW
            moved = adv.images[start:stop].double()
        delta = (moved - clean).flatten(1)  # (B, 3*32*32)
        size = delta.abs().amax(dim=1) if norm == "Linf" else delta.norm(dim=1)
        largest = max(largest, float(size.max()) if len(size) else 0.0)
    return largest


def check_perturbation(adv: AdversarialSet, clean_u8: np.ndarray) -> float | None:
    """Check the examples against the radius their metadata claims, now that the clean images are at
    hand; returns the measured largest perturbation (None when the file claims no eps).

    A uint8 file may move a pixel by at most ``floor(eps * 255)`` levels (how specreg rounds into the
    ball); a float file by eps plus float32 rounding. Anything more is one line: a file whose eps
    claim is false would report a weak attack as a strong one.
    """
    eps = adv.meta.get("eps")
    if eps is None:
        return None
    norm = adv.meta.get("norm", "Linf")
    measured = perturbation_size(adv, clean_u8, norm)
    tolerance = 1e-9 if adv.storage == "uint8" else 1e-6
    if measured > eps + tolerance:
        raise SpecregError(
            f"{adv.path}: the examples move the clean images by up to {format_pixel_value(measured)} "
            f"({norm}), beyond the eps {format_pixel_value(eps)} their metadata claims",
            hint=f"the file was altered or did not come from this test set; {REGENERATE}",
        )
    return measured
