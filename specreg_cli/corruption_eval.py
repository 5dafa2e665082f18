"""Accuracy under CIFAR-10-C corruptions: clean, then every (corruption, severity), for one or more models.

Two sources of corrupted images, one loop:

- generated (default): the clean test images are corrupted on the fly with :func:`corruptions.corrupt`,
  one batch at a time, from an explicit seed. Image ``i`` depends only on (seed, name, severity, i), so the
  accuracies don't depend on ``batch_size`` and equal those on files written by ``specreg corrupt`` with
  the same seed.
- files: a released-layout folder (:class:`~specreg_cli.data.cifar10c.Cifar10CFolder`), memory-mapped,
  read one batch at a time. Any of the 19 released corruptions present in the folder can be evaluated.

Means over corruptions (:func:`accuracy_table`) are over the 15 benchmark corruptions only; the 4 extra
ones of the release (:data:`EXTRA_CORRUPTIONS`, meant for validation by Hendrycks & Dietterich) are
listed apart and never averaged in. The two sources write distinct default results files
(:func:`default_output`), so evaluating one run both ways keeps both.

Memory stays bounded: the clean test split (uint8, 30 MB for 10,000 images) and one batch of corrupted
images (with its float copy and the model's activations) are all that is held, whatever the number of
corruptions and severities. Several models share each batch: it is generated (or read) once and
every model runs on it, so adding a model costs only its forward passes.

Clean accuracy is measured on the clean test split. With files, the clean split is used only when its
labels equal the folder's (so clean and corrupted numbers come from the same images); otherwise the
clean row is left out and :func:`clean_for_folder` says why.

Example::

    test = load_dataset("synthetic", "test")              # uint8 (N, 32, 32, 3) images, int64 (N,) labels
    models = [EvalModel.from_checkpoint(*load_model("runs/natural"))]
    result = evaluate_corruptions(models, ["fog"], [1, 2, 3, 4, 5], clean=test, dataset_name="synthetic",
                                  seed=0, batch_size=256, device="cpu")
    result.records        # list[Record]: one "clean" row, then fog severities 1..5, per model
    result.timing.generate_share   # fraction of the time spent generating corruptions

This module never prints; progress goes through ``progress(done_batches, total_batches, status)``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

import corruptions
from corruptions.registry import BENCHMARK_CORRUPTIONS, EXTRA_CORRUPTIONS  # noqa: F401  (re-exported)
from specreg_cli.checkpoint import CHECKPOINT_NAME
from specreg_cli.data.datasets import ImageSet, load_dataset
from specreg_cli.data.loader import images_to_tensor, to_float
from specreg_cli.errors import SpecregError
from specreg_cli.model_set import check_distinct_runs
from specreg_cli.parsing import parse_names
from specreg_cli.results import Record

DEFAULT_CORRUPTIONS = ("impulse_noise", "fog", "contrast")  # the paper's Table 2
DEFAULT_BATCH_SIZE = 256  # images per batch: ResNet-20 on a CPU runs fastest around 128-256 (cache-sized)
RESULTS_NAME = "corruptions.json"  # default results file in a run directory: generated corruptions
CIFAR10C_RESULTS_NAME = "corruptions-cifar10c.json"  # ... and corruptions read with --cifar10c-dir

ProgressFn = Callable[[int, int, str], None]  # (batches done, batches in total, what is running)


@dataclass
class EvalModel:
    """A model to evaluate and the names its records carry."""

    run: str
    method: str
    arch: str
    model: nn.Module

    @classmethod
    def from_checkpoint(cls, model: nn.Module, checkpoint) -> EvalModel:
        """From :func:`specreg_cli.checkpoint.load_model`'s (model, Checkpoint)."""
        meta = checkpoint.meta
        return cls(
            checkpoint.run_name,
            str(meta.get("method", "unknown")),
            str(meta.get("model", {}).get("arch", "unknown")),
            model,
        )


@dataclass
class Timing:
    """Wall-clock seconds of one evaluation, split by what they were spent on."""

    generate_s: float = 0.0  # corruptions.corrupt() (generated source only)
    read_s: float = 0.0  # copying blocks out of .npy files (files source only)
    model_s: float = 0.0  # uint8 -> float conversion and every model's forward passes
    total_s: float = 0.0  # the whole evaluation

    @property
    def generate_share(self) -> float:
        """Fraction of the total time spent generating corruptions (0 when nothing ran)."""
        return self.generate_s / self.total_s if self.total_s > 0 else 0.0

    def as_dict(self) -> dict[str, float]:
        return {
            "generate_s": self.generate_s,
            "read_s": self.read_s,
            "model_s": self.model_s,
            "total_s": self.total_s,
            "generate_share": self.generate_share,
        }


@dataclass
class CorruptionEvaluation:
    records: list[Record]
    timing: Timing
    n: int  # images per (corruption, severity)

    def records_of(self, checkpoints: Sequence) -> list[Record]:
        """The records of these checkpoints' runs (for one results file)."""
        runs = {c.run_name for c in checkpoints}
        return [r for r in self.records if r.run in runs]


# --------------------------------------------------------------------------------------------- choices


def corruption_choices(folder=None) -> tuple[str, ...]:
    """Corruptions that can be evaluated: generatable ones, or every released one present in ``folder``."""
    return tuple(folder.available()) if folder is not None else tuple(corruptions.CORRUPTIONS)


def select_corruptions(text: str | Sequence[str], folder=None) -> list[str]:
    """Parse ``--corruptions`` (comma-separated names or ``all``) against what the source offers.

    Without ``folder``: the generatable corruptions (``corruptions.CORRUPTIONS``). With ``folder``: the
    released names whose file is in the folder (``all`` = every one present). Raises SpecregError with
    the valid choices.
    """
    items = [text] if isinstance(text, str) else list(text)
    names = [n.strip() for item in items for n in str(item).split(",") if n.strip()]
    choices = corruption_choices(folder)
    if folder is not None and "all" in names and not choices:
        raise SpecregError(
            f"{folder.path} holds no corruption files",
            hint=f"expected files like {corruptions.RELEASED_CORRUPTIONS[0]}.npy",
        )
    for name in names:
        if name == "all" or name in choices:
            continue
        if name not in corruptions.RELEASED_CORRUPTIONS:
            valid = choices if folder is None else corruptions.RELEASED_CORRUPTIONS
            raise SpecregError(f"unknown corruption {name!r}", hint=f"valid choices: {', '.join(valid)}, all")
        if folder is None:
            raise SpecregError(
                f"corruption {name!r} can't be generated by specreg",
                hint=f"valid choices: {', '.join(choices)}, all; evaluate the other released "
                "corruptions from files with --cifar10c-dir",
            )
        raise SpecregError(
            f"{folder.path / (name + '.npy')} is missing",
            hint=f"this folder has: {', '.join(choices) or 'no corruption files'}",
        )
    names = parse_names(names, choices, "corruption")
    for name in names if folder is not None else ():
        folder.array(name)  # check each file's dtype and shape now, before any work is done
    return names


def ready_to_generate(
    names: Sequence[str], requested: str | Sequence[str], frost_dir: str | Path | None = None
) -> tuple[list[str], list[str]]:
    """The corruptions of ``names`` that can be generated now, and a note for each one left out.

    Checked before any work (one blank image each): a corruption that needs the user's files (frost: its
    photographs, from ``frost_dir`` or $SPECREG_FROST_DIR) and lacks them is a :class:`SpecregError` when
    ``requested`` (the --corruptions text) names it, and is left out with a note when it only came in
    through ``all``, so that ``all`` works without the photographs.
    """
    import os

    from corruptions.frost_photos import ENV_VAR

    if frost_dir is not None:  # the corruptions read the folder from the environment (frost_photos)
        os.environ[ENV_VAR] = str(Path(frost_dir).expanduser().resolve())
    items = [requested] if isinstance(requested, str) else list(requested)
    named = {n.strip() for item in items for n in str(item).split(",")}
    ready, notes = [], []
    for name in names:
        try:
            corruptions.check_ready(name)
        except ValueError as err:
            if name in named:
                hint = f"give --frost-dir, or leave {name} out of --corruptions"
                raise SpecregError(str(err), hint=hint) from None
            notes.append(f"{name} left out of all: {err}")
            continue
        ready.append(name)
    return ready, notes


# ------------------------------------------------------------------------------------------- datasets


def clean_for_folder(
    folder, spec: str, data_dir: str | Path | None, download: bool, n: int | None, explicit: bool
) -> tuple[ImageSet | None, str | None]:
    """The clean test split that matches a CIFAR-10-C folder, or (None, why not).

    The clean split is used when it loads and its first N labels equal the folder's (N = the folder's
    images per severity, or ``n``): the folder was then made from those images. When ``explicit``
    (the user passed ``--dataset``) a split that can't be used is an error; otherwise the clean row is
    just left out.
    """
    size = min(folder.n, n) if n else folder.n
    try:
        clean = load_dataset(spec, "test", data_dir=data_dir, download=download)
    except SpecregError as error:
        if explicit:
            raise
        return None, f"no clean accuracy: {error.message}"
    if len(clean) < size or not np.array_equal(clean.labels[:size], folder.labels[:size]):
        why = (
            f"the {spec} test split ({len(clean)} images) does not have the labels of {folder.path} "
            f"({folder.n} per severity)"
        )
        if explicit:
            raise SpecregError(why, hint="pass the --dataset the folder was made from, or leave it out")
        return None, f"no clean accuracy: {why}"
    return clean.subset(size), None


def clean_split(
    spec: str,
    folder=None,
    data_dir: str | Path | None = None,
    download: bool = False,
    n: int | None = None,
    explicit: bool = False,
) -> tuple[ImageSet | None, list[str]]:
    """(the clean test split or None, notes): the whole ``spec`` test split for generated corruptions, or
    :func:`clean_for_folder`'s answer (and its note) with a folder."""
    if folder is None:
        return load_dataset(spec, "test", data_dir=data_dir, download=download), []
    clean, note = clean_for_folder(folder, spec, data_dir, download, n, explicit)
    return clean, [note] if note else []


def plan_outputs(
    checkpoints: Sequence, out: str | Path | None = None, cifar10c: bool = False
) -> list[tuple[Path, list]]:
    """[(results file, its checkpoints)]: ``out`` for all of them, else :func:`default_output` per checkpoint
    (``cifar10c``: the name for corruptions read from a folder).

    Checked before any work: run names must be unique (records are keyed by them) and ``out`` must not be
    a folder.
    """
    check_distinct_runs([c.run_name for c in checkpoints])
    if out is None:
        return [(default_output(c, cifar10c), [c]) for c in checkpoints]
    out = Path(out).expanduser().resolve()
    if out.is_dir():
        raise SpecregError(f"--out {out} is a folder", hint="pass a file name, e.g. results/corruptions.json")
    return [(out, list(checkpoints))]


def source_identity(clean: ImageSet | None, folder=None) -> dict:
    """The dataset identity results carry: the clean split's, or the folder's with the clean one inside."""
    identity = dict(clean.identity) if clean is not None else {}
    return identity if folder is None else {**folder.identity(), "clean": identity or None}


def default_output(checkpoint, cifar10c: bool = False) -> Path:
    """Where a run's results go without ``--out``: ``<run_dir>/corruptions.json`` for a run directory's
    checkpoint, ``<stem>.corruptions.json`` beside any other checkpoint file; ``corruptions-cifar10c.json``
    instead when ``cifar10c`` (corruptions read from a folder), so the two evaluations don't overwrite
    each other."""
    name = CIFAR10C_RESULTS_NAME if cifar10c else RESULTS_NAME
    path = Path(checkpoint.path)
    if path.name == CHECKPOINT_NAME:
        return path.parent / name
    return path.with_name(f"{path.stem}.{name}")


# ----------------------------------------------------------------------------------------- evaluation


def _sync(device: torch.device) -> None:
    """Wait for queued GPU work, so the wall clock charges it to the right phase."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class _Clock:
    """``with clock("generate_s"):`` adds the seconds spent inside to that field of a Timing."""

    def __init__(self, timing: Timing, device: torch.device):
        self.timing, self.device = timing, device

    @contextmanager
    def __call__(self, field_name: str) -> Iterator[None]:
        _sync(self.device)
        start = time.perf_counter()
        try:
            yield
        finally:
            _sync(self.device)
            setattr(self.timing, field_name, getattr(self.timing, field_name) + time.perf_counter() - start)


class _GeneratedSource:
    """Corrupted batches made from the clean images, on the images' device."""

    def __init__(self, images: torch.Tensor, seed: int, clock: _Clock):
        self.images = images  # (N, H, W, C) uint8
        self.seed, self.clock = seed, clock

    def batch(self, name: str, severity: int, start: int, stop: int) -> torch.Tensor:
        batch = self.images[start:stop]  # (B, H, W, C) uint8, a view
        with self.clock("generate_s"):
            return corruptions.corrupt(batch, name, severity, seed=self.seed, start_index=start)


class _FolderSource:
    """Corrupted batches copied out of a CIFAR-10-C folder's memory-mapped files."""

    def __init__(self, folder, device: torch.device, clock: _Clock):
        self.folder, self.device, self.clock = folder, device, clock

    def batch(self, name: str, severity: int, start: int, stop: int) -> torch.Tensor:
        images, _ = self.folder.block(name, severity)  # (N, H, W, C) uint8 memmap, nothing read yet
        with self.clock("read_s"):
            # np.array copies the B images out of the file (writable, so torch doesn't warn)
            return torch.from_numpy(np.array(images[start:stop])).to(self.device)


@torch.inference_mode()
def _count_correct(
    models: Sequence[EvalModel], batch_u8: torch.Tensor, labels: torch.Tensor, correct: dict[str, int]
) -> None:
    """Run every model on one uint8 (B, H, W, C) batch; add its correct predictions to ``correct[run]``."""
    x = to_float(images_to_tensor(batch_u8, batch_u8.device))  # (B, C, H, W) float32 in [0, 1]
    for entry in models:
        logits = entry.model(x)  # (B, classes)
        correct[entry.run] += int((logits.argmax(1) == labels).sum())


def evaluate_corruptions(
    models: Sequence[EvalModel],
    names: Sequence[str],
    severities: Sequence[int] = corruptions.SEVERITIES,
    *,
    clean: ImageSet | None = None,
    folder=None,
    dataset_name: str = "unknown",
    seed: int = 0,
    batch_size: int = DEFAULT_BATCH_SIZE,
    device: torch.device | str = "cpu",
    n: int | None = None,
    progress: ProgressFn | None = None,
) -> CorruptionEvaluation:
    """Clean accuracy and accuracy for every (corruption, severity), for every model, as records.

    Args:
        models: models in eval mode on ``device``; their ``run`` names must be unique.
        names: corruption names (generatable ones, or with ``folder`` any present in it).
        severities: subset of 1..5 (default all).
        clean: the clean test split: uint8 (N, 32, 32, 3) images, int64 labels. Required for generated
            corruptions (they are made from it); optional with ``folder`` (clean row only when given).
        folder: a Cifar10CFolder to read corrupted images from instead of generating them.
        dataset_name: what records say in their ``dataset`` field.
        seed: corruption seed (generated source only; same seed, same images).
        batch_size: images per batch (default 256); results don't depend on it.
        device: where images are corrupted and models run.
        n: evaluate only the first ``n`` images (default all).
        progress: called after each batch with (done, total, status).

    Returns: a :class:`CorruptionEvaluation`; records per model are the "clean" row (when measured),
    then one "accuracy" row per (corruption, severity) in the given order.
    """
    if folder is None and clean is None:
        raise ValueError("generated corruptions need the clean images (clean=)")
    if len({m.run for m in models}) != len(models):
        raise ValueError("run names must be unique")
    for entry in models:
        entry.model.eval()  # BatchNorm statistics and masks must not change while we measure
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    device = torch.device(device)
    total_n = folder.n if folder is not None else len(clean)
    size = min(total_n, n) if n else total_n
    if clean is not None:
        clean = clean.subset(size)
    labels_np = folder.labels[:size] if folder is not None else clean.labels
    labels = torch.as_tensor(np.asarray(labels_np), dtype=torch.int64).to(device)  # (N,)

    timing = Timing()
    clock = _Clock(timing, device)
    # the clean split lives on the device as uint8 (30 MB for 10,000 images); batches are views of it
    clean_images = None if clean is None else torch.as_tensor(np.ascontiguousarray(clean.images)).to(device)
    source = (
        _FolderSource(folder, device, clock)
        if folder is not None
        else _GeneratedSource(clean_images, seed, clock)
    )
    steps: list[tuple[str, int | None]] = [("clean", None)] if clean is not None else []
    steps += [(name, s) for name in names for s in severities]
    starts = range(0, size, batch_size)
    total, done = len(steps) * len(starts), 0

    records: list[Record] = []
    wall = time.perf_counter()
    for condition, severity in steps:
        correct = {m.run: 0 for m in models}
        for start in starts:
            stop = min(start + batch_size, size)
            batch = (
                clean_images[start:stop]
                if severity is None
                else source.batch(condition, severity, start, stop)
            )  # (B, H, W, C) uint8
            with clock("model_s"):
                _count_correct(models, batch, labels[start:stop], correct)
            done += 1
            if progress is not None:
                progress(done, total, condition if severity is None else f"{condition} s{severity}")
        records += [
            Record(
                m.run,
                m.method,
                m.arch,
                dataset_name,
                condition,
                severity,
                "accuracy",
                correct[m.run] / size,
                size,
            )
            for m in models
        ]
    timing.total_s = time.perf_counter() - wall
    # one model's rows together, in step order: what a reader of the JSON expects
    order = {m.run: i for i, m in enumerate(models)}
    records.sort(key=lambda r: order[r.run])
    return CorruptionEvaluation(records, timing, size)


@dataclass
class AccuracyTable:
    """One run's accuracies (fractions) for rendering: ``{corruption: {severity: accuracy}}`` grids, the 15
    benchmark corruptions apart from the extra ones, and means over the benchmark ones only."""

    clean: float | None
    benchmark: dict[str, dict[int, float]]
    extra: dict[str, dict[int, float]]  # EXTRA_CORRUPTIONS that were evaluated: never in a mean

    @property
    def severities(self) -> list[int]:
        return sorted({s for grid in (self.benchmark, self.extra) for row in grid.values() for s in row})

    @staticmethod
    def row_mean(row: dict[int, float]) -> float:
        """One corruption's mean over its severities."""
        return sum(row.values()) / len(row)

    @property
    def severity_means(self) -> dict[int, float]:
        """severity -> the mean over the benchmark corruptions ({} when none was evaluated)."""
        means = {}
        for s in self.severities:
            values = [row[s] for row in self.benchmark.values() if s in row]
            if values:
                means[s] = sum(values) / len(values)
        return means

    @property
    def mean(self) -> float | None:
        """The mean over benchmark corruptions and severities (None when no benchmark corruption ran)."""
        means = self.severity_means
        return sum(means.values()) / len(means) if means else None


def accuracy_table(records: Sequence[Record], run: str) -> AccuracyTable:
    """One run's :class:`AccuracyTable` from evaluation records, corruptions in record order."""
    clean, benchmark, extra = None, {}, {}
    for r in records:
        if r.run != run or r.metric != "accuracy":
            continue
        if r.condition == "clean":
            clean = r.value
        else:
            grid = extra if r.condition in EXTRA_CORRUPTIONS else benchmark
            grid.setdefault(r.condition, {})[r.severity] = r.value
    return AccuracyTable(clean, benchmark, extra)
