"""Several checkpoints evaluated together, the way ``specreg attack`` and ``specreg eval-corruptions`` both
do it: loaded on one device under distinct run names, and evaluated on one test split.

The test split (:func:`evaluation_dataset`): ``--dataset`` when given; otherwise the split every checkpoint
was trained alongside. Two checkpoints share a split when their recorded test-split hashes
(``meta["test_dataset"]["sha256"]``) are equal, or, where one of them records none, when their dataset
specs agree once the train part is ignored: ``synthetic:train=96,test=32`` and
``synthetic:train=64,test=32`` share one. Checkpoints of different splits are refused (one line, with
the hint to pass ``--dataset``): their numbers would come from different images. External models
(``--model MODULE:FACTORY --weights FILE``, :mod:`specreg_cli.external_model`) record no split: they are
evaluated on the checkpoints' split, and ``--dataset`` is needed when there are only external models.

Example::

    models = load_model_set(["runs/natural", "runs/masked"], "cpu")   # refuses two runs of one name
    spec = evaluation_dataset(models.checkpoints)                       # "synthetic:train=5000,test=2000"
    for model, checkpoint in models:                                    # eval-mode models on models.device
        ...
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

import torch
from torch import nn

from specreg_cli.checkpoint import Checkpoint, load_model, resolve_checkpoint_path, run_name_for
from specreg_cli.data.datasets import parse_dataset_spec
from specreg_cli.device import resolve_device
from specreg_cli.errors import SpecregError
from specreg_cli.external_model import ExternalModel, ExternalSpec, load_external, split_target
from specreg_cli.robustbench_model import is_robustbench, load_robustbench


@dataclass
class ModelSet:
    """Models in eval mode on ``device`` with their checkpoints, in the order given; run names distinct."""

    device: torch.device
    models: list[tuple[nn.Module, Checkpoint | ExternalModel]]

    def __iter__(self) -> Iterator[tuple[nn.Module, Checkpoint]]:
        return iter(self.models)

    def __len__(self) -> int:
        return len(self.models)

    @property
    def checkpoints(self) -> list[Checkpoint | ExternalModel]:
        return [checkpoint for _, checkpoint in self.models]

    def hashes(self) -> dict[str, dict]:
        """run -> {"path", "sha256"} of every checkpoint, plus "external" for external models (provenance)."""
        return checkpoint_hashes(self.checkpoints)


def check_distinct_runs(runs: Sequence[str]) -> None:
    """Refuse two checkpoints of one run name: records are keyed by it."""
    duplicate = next((run for run in runs if list(runs).count(run) > 1), None)
    if duplicate is not None:
        raise SpecregError(
            f"two checkpoints share the run name {duplicate!r}",
            hint="results are keyed by run name: pass run directories with distinct names",
        )


def load_model_set(
    paths: Sequence[str | Path],
    device: torch.device | str = "auto",
    external: ExternalSpec | None = None,
    weights: Sequence[str | Path] = (),
) -> ModelSet:
    """Load every checkpoint (run directory or file) on ``device`` (``auto`` | ``cpu`` | ``cuda``), then one
    external model per file of ``weights``, each built by ``external`` (``--model``).

    Names are checked before anything is loaded: a missing checkpoint or two of one run name is a
    :class:`SpecregError`; so are ``--weights`` without ``--model`` (or the reverse) and nothing to load.
    """
    check_external_options(external, weights)
    resolved = [resolve_checkpoint_path(path) for path in paths]
    named = external is not None and is_robustbench(external)  # RobustBench brings its own weights
    if not resolved and not weights and not named:
        raise SpecregError(
            "no model to evaluate",
            hint="pass run directories, or --model MODULE:FACTORY --weights FILE",
        )
    extra = [Path(split_target(external.target)[1])] if named else []
    check_distinct_runs([run_name_for(path) for path in [*resolved, *(Path(w) for w in weights), *extra]])
    torch_device = device if isinstance(device, torch.device) else resolve_device(device)
    models = [load_model(path, torch_device) for path in resolved]
    models += [load_external(external, path, torch_device) for path in weights]
    models += [load_robustbench(external, torch_device)] if named else []
    return ModelSet(torch_device, models)


def check_external_options(external: ExternalSpec | None, weights: Sequence[str | Path]) -> None:
    """``--model`` and ``--weights`` go together (random weights would give no result worth a record);
    ``--model robustbench:NAME`` downloads its own and takes none."""
    if external is not None and is_robustbench(external):
        if weights:
            raise SpecregError(
                "--model robustbench:NAME brings its own weights: drop --weights",
                hint="choose the folder they are downloaded to with --model-kwargs model_dir=DIR",
            )
        return
    if external is not None and not weights:
        raise SpecregError(f"--model {external.target} needs --weights FILE", hint="a saved state_dict")
    if weights and external is None:
        raise SpecregError(
            "--weights needs --model MODULE:FACTORY (the code that builds the model)",
            hint="e.g. --model torchvision.models:resnet18 --model-kwargs num_classes=10",
        )


def checkpoint_hashes(checkpoints: Sequence[Checkpoint | ExternalModel]) -> dict[str, dict]:
    """run -> {"path", "sha256"}: what provenance says about the checkpoints behind a results file; an
    external model adds "external" (:meth:`ExternalModel.provenance`: factory, kwargs, mean/std, code)."""
    return {c.run_name: _hash_entry(c) for c in checkpoints}


def _hash_entry(source: Checkpoint | ExternalModel) -> dict:
    entry = {"path": str(source.path), "sha256": source.sha256}
    return entry | ({"external": source.provenance()} if isinstance(source, ExternalModel) else {})


def split_key(spec: str) -> tuple:
    """What decides a dataset spec's test split: ``"synthetic:train=9"`` and ``"synthetic"`` share one."""
    name, options = parse_dataset_spec(spec)
    return (name, options.get("test"), options.get("seed"))


def same_test_split(a: Checkpoint, b: Checkpoint) -> bool:
    """Whether two checkpoints were trained alongside the same test split: their recorded test-split
    hashes when both have one, else their dataset specs with the train part ignored."""
    if a.recorded_test_sha256 and b.recorded_test_sha256:
        return a.recorded_test_sha256 == b.recorded_test_sha256
    return split_key(a.dataset_spec) == split_key(b.dataset_spec)


def evaluation_dataset(checkpoints: Sequence[Checkpoint], override: str | None = None) -> str:
    """The dataset spec whose test split the checkpoints are evaluated on (see the module docstring).

    ``override`` (``--dataset``) wins, validated. Otherwise the first checkpoint's spec, once every
    checkpoint is known to share its test split.
    """
    if override:
        parse_dataset_spec(override)  # validates; raises SpecregError listing the choices
        return override
    if not checkpoints:
        raise ValueError("no checkpoints")
    recorded = [c for c in checkpoints if not isinstance(c, ExternalModel)]  # external: no split recorded
    if not recorded:
        raise SpecregError(
            "an external model (--model) records no dataset, so the test split must be named",
            hint="pass --dataset cifar10 (or synthetic[:test=..])",
        )
    for checkpoint in recorded:
        if checkpoint.dataset_spec is None:
            raise SpecregError(
                f"checkpoint {checkpoint.path} does not record the dataset it was trained on",
                hint="pass --dataset synthetic or --dataset cifar10",
            )
    differ = next((pair for pair in combinations(recorded, 2) if not same_test_split(*pair)), None)
    if differ is not None:
        listed = ", ".join(_describe(c) for c in differ)
        raise SpecregError(
            f"the checkpoints were trained alongside different test splits ({listed})",
            hint="pass --dataset to evaluate them all on one test split, or evaluate them separately",
        )
    return recorded[0].dataset_spec


def _describe(checkpoint: Checkpoint) -> str:
    """``natural: synthetic:test=32 (test sha256 0123...)``."""
    sha = checkpoint.recorded_test_sha256
    return f"{checkpoint.run_name}: {checkpoint.dataset_spec}" + (f" (test sha256 {sha})" if sha else "")
