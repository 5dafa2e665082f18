"""Transfer attacks: models evaluated on adversarial examples saved from another model (``specreg attack
--adv-from``), condition ``transfer``, with their clean accuracy on the very images the examples came from.

The clean images are found again from the file's metadata (its ``dataset_spec``, or ``--dataset``): they
are used only when that test split reproduces them exactly (same labels, and the same content hash as
the one recorded when the examples were made); otherwise the clean accuracy is left out and a note
says why.

Example::

    adv = load_adversarial("adv/pgd.npy")
    models = load_model_set(["runs/natural", "runs/masked"], "cpu")
    result = evaluate_transfer(models, adv, batch_size=256)
    result.rows        # [TransferRow(run="natural", method="natural", clean=0.91, transfer=0.02), ...]
    result.records     # "transfer" (and "clean") records, the attack settings in params
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from torch import nn

from specreg_cli.adversarial_io import AdversarialSet, check_perturbation
from specreg_cli.checkpoint import file_sha256
from specreg_cli.data.datasets import ImageSet, content_hash, load_dataset
from specreg_cli.errors import SpecregError
from specreg_cli.evaluate import accuracy, evaluate_batches
from specreg_cli.model_set import ModelSet
from specreg_cli.results import Record

# The examples' metadata keys that transfer records carry in their params ("attack" as "source_attack").
TRANSFER_KEYS = (
    "attack",
    "eps",
    "alpha",
    "steps",
    "random_start",
    "norm",
    "source_run",
    "source_method",
    "source_sha256",
)


@dataclass(frozen=True)
class TransferRow:
    """One model's accuracies (fractions): on the clean images (None: not found again) and on the examples."""

    run: str
    method: str
    clean: float | None
    transfer: float


@dataclass
class TransferEvaluation:
    adversarial: AdversarialSet
    rows: list[TransferRow]
    records: list[Record]
    dataset: dict  # identity of the clean test split that was checked ({} when none was loaded)
    note: str | None  # why the clean accuracy is missing, if it is


def transfer_params(adv: AdversarialSet) -> dict:
    """The params of a transfer record: the source attack's settings, the file and its hash, the storage."""
    params = {("source_attack" if k == "attack" else k): adv.meta[k] for k in TRANSFER_KEYS if k in adv.meta}
    params.update(file=str(adv.path), file_sha256=file_sha256(adv.path), storage=adv.storage)
    return params


def clean_for(
    adv: AdversarialSet,
    dataset: str | None = None,
    data_dir: str | Path | None = None,
    download: bool = False,
) -> tuple[ImageSet | None, dict, str | None]:
    """The clean images behind ``adv`` when the recorded (or ``dataset``) test split reproduces them exactly:
    (ImageSet or None, the test split's identity or {}, a note saying why clean accuracy is missing)."""
    spec_text = dataset or adv.meta.get("dataset_spec")
    if not spec_text:
        return None, {}, f"{adv.path.name} records no dataset: clean accuracy not measured"
    recorded_n = adv.meta.get("n")
    made_from = recorded_n if isinstance(recorded_n, int) and not isinstance(recorded_n, bool) else len(adv)
    try:
        test = load_dataset(spec_text, "test", data_dir=data_dir, download=download).subset(made_from)
    except SpecregError as error:
        return None, {}, f"clean accuracy not measured: {error.message}"
    images, labels = test.images[: len(adv)], test.labels[: len(adv)]
    expected = adv.meta.get("clean_sha256")
    full = content_hash(test.images, test.labels)
    if not np.array_equal(labels, adv.labels) or (expected is not None and full != expected):
        return (
            None,
            test.identity,
            f"the {spec_text} test set is not the one these examples came from: clean accuracy not measured",
        )
    check_perturbation(adv, images)  # the eps claim against the images themselves: one line if false
    return ImageSet(images, labels, test.identity), test.identity, None


def transfer_accuracy(model: nn.Module, batches) -> tuple[float, int]:
    """(accuracy, n) of ``model`` in eval mode over (x float32 (B, 3, H, W), y (B,)) batches, e.g. saved
    adversarial examples from another model (:meth:`AdversarialSet.batches`)."""
    acc, _, n = evaluate_batches(model, batches)
    return acc, n


def evaluate_transfer(
    models: ModelSet,
    adv: AdversarialSet,
    batch_size: int = 256,
    dataset: str | None = None,
    data_dir: str | Path | None = None,
    download: bool = False,
) -> TransferEvaluation:
    """Every model's accuracy on ``adv`` (and on its clean images, when :func:`clean_for` finds them)."""
    clean, identity, note = clean_for(adv, dataset, data_dir, download)
    params = {**transfer_params(adv), "eps_verified": clean is not None and "eps" in adv.meta}
    _check_label_range(models, adv)
    dataset_name = (adv.meta.get("dataset") or {}).get("name", "unknown")
    records, rows = [], []
    for model, checkpoint in models:
        method, arch = checkpoint.meta.get("method", "?"), checkpoint.meta["model"]["arch"]
        acc, n = transfer_accuracy(model, adv.batches(batch_size, models.device))
        records.append(
            Record(
                checkpoint.run_name, method, arch, dataset_name, "transfer", None, "accuracy", acc, n, params
            )
        )
        clean_acc = None
        if clean is not None:
            clean_acc, _ = accuracy(model, clean.images, clean.labels, batch_size, models.device)
            records.append(
                Record(
                    checkpoint.run_name, method, arch, dataset_name, "clean", None, "accuracy", clean_acc, n
                )
            )
        rows.append(TransferRow(checkpoint.run_name, method, clean_acc, acc))
    return TransferEvaluation(adv, rows, records, identity, note)


def _check_label_range(models: ModelSet, adv: AdversarialSet) -> None:
    """Every label must be a class of every model: an out-of-range label would otherwise be scored as a
    plain mistake (or crash inside the loss)."""
    top = int(adv.labels.max()) if len(adv) else -1
    for _, checkpoint in models:
        classes = (checkpoint.meta.get("model") or {}).get("num_classes", 10)
        if top >= classes:
            raise SpecregError(
                f"{adv.path}: label {top} is not a class of {checkpoint.run_name} ({classes} classes)",
                hint="these examples come from another dataset",
            )
