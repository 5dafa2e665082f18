"""``specreg.evaluate_corruptions`` and ``specreg.robust_accuracy``: the CLI's evaluations as DataFrames.

Both take one :class:`~specreg.model.Model` or several (evaluated on the same images), return the records
as :func:`specreg.read_results` would (one row per run, condition, severity, metric, with ``param_*`` and
provenance columns) and, with ``out=``, write the results file the CLI would (``specreg report`` reads it).
The test split: ``dataset`` when given, else the one the specreg runs were trained alongside; a model
specreg did not train records none, so alone it needs ``dataset``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import pandas as pd

from specreg.model import Model
from specreg_cli.data.datasets import DEFAULT_DATA_DIR

GENERATED = ("impulse_noise", "fog", "contrast")  # the paper's corruptions, generated on the fly


def evaluate_corruptions(
    models: Model | Sequence[Model],
    corruptions: Sequence[str] = GENERATED,
    severities: Sequence[int] = (1, 2, 3, 4, 5),
    *,
    dataset: str | None = None,
    n_examples: int | None = None,
    seed: int = 0,
    batch_size: int = 256,
    data_dir: str | Path = DEFAULT_DATA_DIR,
    download: bool = False,
    out: str | Path | None = None,
) -> pd.DataFrame:
    """Clean accuracy and accuracy per (corruption, severity), corruptions generated from the test split
    with ``seed`` (the bytes ``specreg corrupt`` writes), as ``specreg eval-corruptions`` does.

    ``corruptions``: names (``impulse_noise``, ``fog``, ``contrast``) or ``["all"]``; ``severities``: 1..5;
    ``n_examples``: the first N test images (default all); ``out``: also write a results file there.

    Example::

        frame = specreg.evaluate_corruptions([natural, theirs], ["fog", "contrast"], severities=[1, 3, 5],
                                             dataset="cifar10", n_examples=1000, out="results/corr.json")
        frame.pivot_table(index="run", columns=["condition", "severity"], values="value")
    """
    from specreg_cli import corruption_eval as ce
    from specreg_cli.data.datasets import parse_dataset_spec
    from specreg_cli.model_set import checkpoint_hashes, evaluation_dataset
    from specreg_cli.parsing import parse_severities
    from specreg_cli.results import provenance

    chosen = _models(models)
    names = ce.select_corruptions(list(corruptions))
    levels = parse_severities(",".join(str(int(s)) for s in severities))
    sources = [m.source for m in chosen]
    spec = evaluation_dataset(sources, dataset)
    clean, _ = ce.clean_split(spec, None, data_dir, download, n_examples, explicit=dataset is not None)
    result = ce.evaluate_corruptions(
        [ce.EvalModel(m.run, m.method, m.arch, m.module) for m in chosen],
        names,
        levels,
        clean=clean,
        dataset_name=parse_dataset_spec(spec)[0],
        seed=seed,
        batch_size=batch_size,
        device=chosen[0].device,
        n=n_examples,
    )
    arguments = {
        "checkpoints": [str(s.path) for s in sources],
        "corruptions": names,
        "severities": levels,
        "n_examples": n_examples,
        "batch_size": batch_size,
        "device": str(chosen[0].device),
        "dataset": spec,
        "data_dir": str(Path(data_dir).expanduser().resolve()),
        "out": _absolute(out),
        "api": "specreg.evaluate_corruptions",
    }
    prov = provenance(
        "eval-corruptions",
        arguments,
        seed,
        dataset=ce.source_identity(clean),
        checkpoints=checkpoint_hashes(sources),
    )
    prov["timing"] = result.timing.as_dict()
    return _frame(result.records, prov, out)


def robust_accuracy(
    models: Model | Sequence[Model],
    attack: str = "pgd",
    eps: Sequence[float | str] = (0.0, 8 / 255),
    *,
    steps: int = 10,
    alpha: float | str | None = None,
    random_start: bool = True,
    dataset: str | None = None,
    n_examples: int | None = None,
    seed: int = 0,
    batch_size: int = 256,
    data_dir: str | Path = DEFAULT_DATA_DIR,
    download: bool = False,
    out: str | Path | None = None,
) -> pd.DataFrame:
    """Accuracy under ``attack`` (a name of :data:`specreg_cli.attacks.ATTACKS`) at each ``eps``, as
    ``specreg attack`` measures it: seeded per batch, plus clean accuracy, accuracy under random noise in
    the same ball and the sanity checks (metrics ``sanity_*``: 1.0 passed, 0.0 failed).

    ``eps`` and ``alpha`` are in [0, 1] pixel units, numbers or texts like ``"8/255"``; ``alpha`` None:
    2.5 * eps / steps. ``out``: also write a results file there.

    Example::

        frame = specreg.robust_accuracy(natural, "pgd", eps=["0", "2/255", "8/255"], n_examples=500)
        frame[frame.metric == "accuracy"][["run", "condition", "param_eps", "value"]]
    """
    from specreg_cli import attack as lib
    from specreg_cli.attacks import get_attack
    from specreg_cli.data import load_dataset
    from specreg_cli.model_set import ModelSet, checkpoint_hashes, evaluation_dataset
    from specreg_cli.parsing import parse_pixel_value
    from specreg_cli.results import provenance

    chosen = _models(models)
    get_attack(attack)  # an unknown name is one line naming the valid ones
    eps_values = [parse_pixel_value(str(e), "eps") for e in eps]
    alpha_value = parse_pixel_value(str(alpha), "alpha") if alpha is not None else None
    specs = lib.sweep_specs(attack, eps_values, alpha_value, steps, random_start)
    sources = [m.source for m in chosen]
    spec = evaluation_dataset(sources, dataset)
    test = load_dataset(spec, "test", data_dir=data_dir, download=download).subset(n_examples)
    device = chosen[0].device
    models_set = ModelSet(device, [(m.module, m.source) for m in chosen])
    results = lib.attack_models(models_set, test.images, test.labels, specs, batch_size, device, seed)
    records, _ = lib.sweep_records(sources, results, test.identity["name"])
    arguments = {
        "checkpoints": [str(s.path) for s in sources],
        "attack": attack,
        "eps": eps_values,
        "alpha": alpha_value,
        "steps": steps,
        "random_start": random_start,
        "n_examples": n_examples,
        "batch_size": batch_size,
        "seed": seed,
        "device": str(device),
        "dataset": spec,
        "data_dir": str(Path(data_dir).expanduser().resolve()),
        "out": _absolute(out),
        "api": "specreg.robust_accuracy",
    }
    prov = provenance(
        "attack", arguments, seed, dataset=test.identity, checkpoints=checkpoint_hashes(sources)
    )
    return _frame(records, prov, out)


def _models(models: Model | Sequence[Model]) -> list[Model]:
    """One model or several, on one device, with distinct run names (records are keyed by them)."""
    from specreg_cli.errors import SpecregError
    from specreg_cli.model_set import check_distinct_runs

    chosen = [models] if isinstance(models, Model) else list(models)
    if not chosen or not all(isinstance(m, Model) for m in chosen):
        raise SpecregError("pass one specreg.Model or a list of them", hint="from specreg.load_model(...)")
    check_distinct_runs([m.run for m in chosen])
    if len({m.device for m in chosen}) > 1:
        raise SpecregError("the models are on different devices", hint="load them with one device=")
    return chosen


def _absolute(path: str | Path | None) -> str | None:
    return None if path is None else str(Path(path).expanduser().resolve())


def _frame(records: list, prov: dict, out: str | Path | None) -> pd.DataFrame:
    """The records as :func:`specreg.read_results` gives them; written to ``out`` first when given."""
    from specreg_cli.results import records_frame, write_results

    if out is not None:
        path = write_results(out, records, prov)
        source = path
    else:
        source = Path("<not saved>")
    document = {"provenance": prov, "records": [asdict(r) for r in records]}
    return records_frame([(source, document)])
