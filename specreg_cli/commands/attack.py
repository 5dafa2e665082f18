"""``specreg attack``: robust accuracy under PGD / PGD-L2 / FGSM (torchattacks), with gradient-masking checks.

Two modes:

- attack (default): every checkpoint is attacked on its training dataset's test split, at each --eps;
  the table shows clean and robust accuracy (and, dimmed, accuracy under random noise in the same ball).
- ``--adv-from FILE``: no attack; every checkpoint is evaluated on adversarial examples saved earlier
  with --save-adv (transfer attacks: natural -> masked, ...), condition "transfer".
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from specreg_cli.options import (
    DEFAULT_DATA_DIR,
    BatchSizeOption,
    DataDirOption,
    DeviceOption,
    DownloadOption,
    NExamplesOption,
    SeedOption,
)
from specreg_cli.parsing import format_pixel_value

COMMAND_NAME = "attack"
# The names of specreg_cli.attack.NORMS (a test checks it); importing that would load torch on --help.
ATTACKS = ("pgd", "pgdl2", "fgsm")
# The parameters that only configure the attack: with --adv-from no attack runs, so giving one of them
# would silently do nothing. (--save-adv is refused with --adv-from by a message of its own.)
ATTACK_ONLY = ("attack", "eps", "alpha", "steps", "random_start")


def command(
    ctx: typer.Context,
    checkpoints: Annotated[
        list[Path], typer.Argument(help="Run directories (or model.pt files) to attack.", show_default=False)
    ],
    attack: Annotated[
        str, typer.Option("--attack", help="pgd (Linf) | pgdl2 (L2) | fgsm (Linf, one step).")
    ] = "pgd",
    eps: Annotated[
        list[str] | None,
        typer.Option(
            "--eps",
            help="Attack radius in [0, 1] pixel units; fractions like 8/255 work. Several values "
            "(repeat the option or comma-separate: 0,2/255,8/255) make a sweep. Default: 8/255 (pgd, fgsm), "
            "0.5 (pgdl2).",
            show_default=False,
        ),
    ] = None,
    alpha: Annotated[
        str | None,
        typer.Option(
            "--alpha",
            help="Step size in [0, 1] pixel units (e.g. 2/255). Default: 2.5*eps/steps per eps "
            "(Madry et al.; 2/255 at eps 8/255, 10 steps). Ignored by fgsm.",
            show_default=False,
        ),
    ] = None,
    steps: Annotated[int, typer.Option("--steps", min=1, help="Gradient steps (pgd, pgdl2).")] = 10,
    random_start: Annotated[
        bool,
        typer.Option(
            "--random-start/--no-random-start", help="Start PGD at a uniformly random point of the ball."
        ),
    ] = True,
    n_examples: NExamplesOption = None,
    batch_size: BatchSizeOption = 256,
    seed: SeedOption = 0,
    device: DeviceOption = "auto",
    dataset: Annotated[
        str | None,
        typer.Option(
            "--dataset",
            help="Test set to attack. Default: the dataset the checkpoints were trained on "
            "(e.g. synthetic:train=5000,test=2000,seed=0 | cifar10).",
            show_default=False,
        ),
    ] = None,
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    download: DownloadOption = False,
    save_adv: Annotated[
        Path | None,
        typer.Option(
            "--save-adv",
            help="Save the adversarial examples: FILE.npy = uint8 (N,32,32,3) rounded inside the eps "
            "ball + FILE_labels.npy + FILE_meta.json; FILE.pt = float32 (N,3,32,32). One file per eps and "
            "model when there are several: FILE-<run>-eps8-255.npy.",
            show_default=False,
        ),
    ] = None,
    adv_from: Annotated[
        Path | None,
        typer.Option(
            "--adv-from",
            help="Evaluate the checkpoints on examples saved with --save-adv (transfer) instead of "
            "attacking them; their attack settings come from the file, so --attack, --eps, --alpha, "
            "--steps and --random-start do not apply.",
            show_default=False,
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Write the result records to this JSON file (atomic). Default: print only.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Robust accuracy under a torchattacks attack, with sanity checks against gradient masking.

    Checks, recorded as sanity_* records and printed in red when they fail:
    eps 0 gives exactly the clean accuracy; accuracy does not rise with eps; the attack beats random noise.

    Seeded per batch: the same --seed and --batch-size give the same numbers.

    Example: specreg attack runs/natural runs/masked --eps 0,2/255,8/255 --out results/pgd.json
    """
    from specreg_cli.errors import SpecregError
    from specreg_cli.parsing import parse_pixel_value, parse_pixel_values

    if save_adv is not None and adv_from is not None:
        raise SpecregError(
            "--save-adv and --adv-from exclude each other",
            hint="save examples in one run, evaluate them with --adv-from in the next",
        )
    if adv_from is not None:  # first: `--attack cw --adv-from F` is wrong because --attack does not apply
        _refuse_attack_options(ctx, adv_from)
    if attack not in ATTACKS:
        raise SpecregError(f"unknown attack {attack!r}", hint=f"valid choices: {', '.join(ATTACKS)}")
    if out is not None and out.suffix != ".json":
        raise SpecregError(f"--out {out} must end in .json", hint="e.g. --out results/pgd.json")
    eps_values = parse_pixel_values(eps, "--eps") if eps else None
    alpha_value = parse_pixel_value(alpha, "--alpha") if alpha is not None else None
    arguments = {
        "checkpoints": [str(p) for p in checkpoints],
        "attack": attack,
        "eps": eps_values,
        "alpha": alpha_value,
        "steps": steps,
        "random_start": random_start,
        "n_examples": n_examples,
        "batch_size": batch_size,
        "seed": seed,
        "device": device,
        "dataset": dataset,
        "data_dir": str(data_dir),
        "download": download,
        "save_adv": save_adv and str(save_adv),
        "adv_from": adv_from and str(adv_from),
        "out": out and str(out),
    }
    if adv_from is not None:
        _run_transfer(checkpoints, adv_from, arguments)
    else:
        _run_attack(checkpoints, attack, eps_values, alpha_value, arguments)


def _refuse_attack_options(ctx: typer.Context, adv_from: Path) -> None:
    """Raise when an attack-only option was given together with ``--adv-from``.

    Example: ``specreg attack runs/masked --adv-from adv.npy --eps 4/255`` -> "--eps does not apply ...".
    """
    from specreg_cli.errors import SpecregError

    given = [_as_typed(ctx, name) for name in ATTACK_ONLY if _given(ctx, name)]
    if given:
        listed, verb = ", ".join(given), "does" if len(given) == 1 else "do"
        raise SpecregError(
            f"{listed} {verb} not apply with --adv-from: it evaluates saved examples and runs no attack",
            hint=f"the examples' attack settings come from the metadata of {adv_from}; drop {listed}",
        )


def _given(ctx: typer.Context, name: str) -> bool:
    """Whether the user gave parameter ``name`` (on the command line or in its environment variable)."""
    source = ctx.get_parameter_source(name)
    # By name, not by the enum: ParameterSource lives in click.core or, in newer typer, in a vendored click.
    return source is not None and source.name not in ("DEFAULT", "DEFAULT_MAP")


def _as_typed(ctx: typer.Context, name: str) -> str:
    """Parameter ``name`` as the user typed it: ``--eps``, ``--no-random-start``."""
    param = next(p for p in ctx.command.params if p.name == name)
    off = getattr(param, "secondary_opts", None)  # the --no-... half of a --x/--no-x flag
    return off[0] if off and not ctx.params[name] else param.opts[0]


def _run_attack(
    paths: list[Path], name: str, eps_values: list[float] | None, alpha: float | None, arguments: dict
) -> None:
    from specreg_cli import adversarial_io
    from specreg_cli import attack as lib
    from specreg_cli.data.datasets import content_hash
    from specreg_cli.results import provenance

    specs = lib.sweep_specs(
        name,
        eps_values if eps_values else [lib.DEFAULT_EPS[name]],
        alpha,
        arguments["steps"],
        arguments["random_start"],
    )
    save = adversarial_io.check_path(arguments["save_adv"]) if arguments["save_adv"] else None
    device, models = _load_models(paths, arguments["device"])
    spec_text = _dataset_spec([ckpt for _, ckpt in models], arguments["dataset"])
    test = _test_set(spec_text, arguments)
    _warn_test_set([ckpt for _, ckpt in models], test.identity)
    keep = None if save is None else ("uint8" if save.suffix == ".npy" else "float32")
    results = _attack_all(models, test, specs, keep, device, arguments)

    records, checks = [], {}
    for (_, ckpt), result in zip(models, results, strict=True):
        checks[ckpt.run_name] = result.checks()
        records += lib.attack_records(
            result,
            ckpt.run_name,
            ckpt.meta.get("method", "?"),
            ckpt.meta["model"]["arch"],
            test.identity["name"],
            checks[ckpt.run_name],
        )
    _render_attack(models, results, checks)
    if save is not None:
        source = {
            "dataset_spec": spec_text,
            "dataset": test.identity,
            "seed": arguments["seed"],
            "batch_size": arguments["batch_size"],
            "clean_sha256": content_hash(test.images, test.labels),
        }
        _save_examples(save, models, results, source)
    prov = provenance(
        "attack", arguments, arguments["seed"], dataset=test.identity, checkpoints=_provenance(models)
    )
    _write(arguments["out"], records, prov)


def _warn_test_set(checkpoints, identity: dict) -> None:
    from specreg_cli.checkpoint import test_set_warnings
    from specreg_cli.console import err_console

    for line in test_set_warnings(checkpoints, identity):
        err_console.print(f"[yellow]warning:[/yellow] {line}", highlight=False)


def _load_models(paths: list[Path], device_name: str):
    from specreg_cli.checkpoint import load_model
    from specreg_cli.device import resolve_device
    from specreg_cli.errors import SpecregError

    device = resolve_device(device_name)
    models = [load_model(p, device) for p in paths]
    names = [ckpt.run_name for _, ckpt in models]
    duplicate = next((n for n in names if names.count(n) > 1), None)
    if duplicate is not None:
        raise SpecregError(
            f"two checkpoints share the run name {duplicate!r}",
            hint="pass run directories with distinct names",
        )
    return device, models


def _dataset_spec(checkpoints, override: str | None) -> str:
    """--dataset, else the one dataset spec every checkpoint was trained on."""
    from specreg_cli.errors import SpecregError

    if override:
        return override
    specs = {ckpt.run_name: (ckpt.meta.get("config") or {}).get("dataset") for ckpt in checkpoints}
    missing = [run for run, spec in specs.items() if not spec]
    if missing:
        raise SpecregError(f"checkpoint {missing[0]} does not record its dataset", hint="pass --dataset")
    if len(set(specs.values())) > 1:
        listed = ", ".join(f"{run}: {spec}" for run, spec in specs.items())
        raise SpecregError(
            f"the checkpoints were trained on different datasets ({listed})",
            hint="pass --dataset to attack all of them on one test set",
        )
    return next(iter(specs.values()))


def _test_set(spec_text: str, arguments: dict):
    from specreg_cli.data import load_dataset

    test = load_dataset(spec_text, "test", data_dir=arguments["data_dir"], download=arguments["download"])
    return test.subset(arguments["n_examples"])


def _attack_all(models, test, specs, keep, device, arguments) -> list:
    from specreg_cli import attack as lib
    from specreg_cli.console import make_progress

    results = []
    with make_progress() as progress:
        for model, ckpt in models:
            task = progress.add_task(f"{specs[0].name} {ckpt.run_name}", total=None, status="")

            def report(done: int, total: int, running: dict, task=task) -> None:
                worst = running[max(running)]
                progress.update(
                    task,
                    completed=done,
                    total=total,
                    status=f"robust {worst:.1%} at eps {format_pixel_value(max(running))}",
                )

            results.append(
                lib.robust_accuracy(
                    model,
                    test.images,
                    test.labels,
                    specs,
                    arguments["batch_size"],
                    device,
                    arguments["seed"],
                    keep=keep,
                    on_batch=report,
                )
            )
    return results


def _render_attack(models, results, checks) -> None:
    from rich.table import Table

    from specreg_cli.console import console

    first = results[0]
    steps = "" if first.name == "fgsm" else f", {first.specs[0].steps} steps"
    table = Table(
        title=f"{first.name} accuracy by eps ({first.specs[0].norm}{steps}, n={first.n})",
        caption="second line, dim: accuracy under random noise in the same ball",
    )
    table.add_column("run", no_wrap=True)
    table.add_column("method", no_wrap=True)
    table.add_column("clean", justify="right")
    for spec in first.specs:
        table.add_column(format_pixel_value(spec.eps), justify="right", no_wrap=True)
    table.add_column("checks", no_wrap=True)
    for (_, ckpt), result in zip(models, results, strict=True):
        cells = [
            f"{result.robust[s.eps]:.1%}" + (f"\n[dim]{result.noise[s.eps]:.1%}[/dim]" if s.eps else "")
            for s in result.specs
        ]
        failed = [c for c in checks[ckpt.run_name] if not c.passed]
        status = "[green]ok[/green]" if not failed else f"[bold red]{len(failed)} failed[/bold red]"
        table.add_row(ckpt.run_name, ckpt.meta.get("method", "?"), f"{result.clean:.1%}", *cells, status)
    console.print(table)
    for (_, ckpt), result in zip(models, results, strict=True):
        for check in checks[ckpt.run_name]:
            if not check.passed:
                console.print(
                    f"[bold red]warning:[/bold red] {ckpt.run_name}: {check.name}: {check.message}",
                    highlight=False,
                )
        console.print(
            f"[dim]{ckpt.run_name}: {result.n} images attacked in {result.seconds:.1f} s[/dim]",
            highlight=False,
        )


def _save_examples(base: Path, models, results, source: dict) -> None:
    from specreg_cli import adversarial_io
    from specreg_cli.console import console

    runs = [ckpt.run_name for _, ckpt in models]
    paths = adversarial_io.sweep_paths(base, runs, [s.eps for s in results[0].specs])
    for (_, ckpt), result in zip(models, results, strict=True):
        for spec in result.specs:
            meta = {
                "attack": spec.name,
                **spec.params(),
                **source,
                "source_run": ckpt.run_name,
                "source_method": ckpt.meta.get("method"),
                "source_arch": ckpt.meta["model"]["arch"],
                "source_checkpoint": str(ckpt.path),
                "source_sha256": ckpt.sha256,
                "source_accuracy": result.robust[spec.eps],
            }
            line = f"saved {paths[(ckpt.run_name, spec.eps)]}"
            if spec.eps in result.stored:  # rounding to uint8 may undo a few successes: show both
                meta["source_accuracy_stored"] = result.stored[spec.eps]
                stored, floating = result.stored[spec.eps], result.robust[spec.eps]
                line += f" [dim](accuracy uint8 {stored:.1%}, float {floating:.1%})[/dim]"
            adversarial_io.save_adversarial(
                paths[(ckpt.run_name, spec.eps)], result.adversarial[spec.eps], result.labels, meta
            )
            console.print(line, highlight=False)


def _provenance(models) -> dict:
    return {ckpt.run_name: {"path": str(ckpt.path), "sha256": ckpt.sha256} for _, ckpt in models}


def _write(out: str | None, records, prov) -> None:
    from specreg_cli.console import console
    from specreg_cli.results import write_results

    if out is None:
        console.print("[dim]not saved: pass --out FILE.json to keep these results[/dim]")
        return
    path = write_results(out, records, prov)
    console.print(f"wrote {len(records)} records to {path}", highlight=False)


# --- transfer ------------------------------------------------------------------------------------

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


def _run_transfer(paths: list[Path], adv_path: Path, arguments: dict) -> None:
    from specreg_cli import adversarial_io
    from specreg_cli import attack as lib
    from specreg_cli.checkpoint import file_sha256
    from specreg_cli.evaluate import accuracy
    from specreg_cli.results import Record, provenance

    adv = adversarial_io.load_adversarial(adv_path)
    if arguments["n_examples"] is not None and arguments["n_examples"] < len(adv):
        adv = adversarial_io.AdversarialSet(
            adv.path, adv.images[: arguments["n_examples"]], adv.labels[: arguments["n_examples"]], adv.meta
        )
    device, models = _load_models(paths, arguments["device"])
    clean, dataset_identity, note = _clean_for(adv, arguments)
    params = {("source_attack" if k == "attack" else k): adv.meta[k] for k in TRANSFER_KEYS if k in adv.meta}
    params.update(file=str(adv.path), file_sha256=file_sha256(adv.path), storage=adv.storage)
    dataset_name = (adv.meta.get("dataset") or {}).get("name", "unknown")
    bs = arguments["batch_size"]
    records, rows = [], []
    for model, ckpt in models:
        method, arch = ckpt.meta.get("method", "?"), ckpt.meta["model"]["arch"]
        acc, n = lib.transfer_accuracy(model, adv.batches(bs, device))
        row = [ckpt.run_name, method, None, acc]
        records.append(
            Record(ckpt.run_name, method, arch, dataset_name, "transfer", None, "accuracy", acc, n, params)
        )
        if clean is not None:
            clean_acc, _ = accuracy(model, clean.images, clean.labels, bs, device)
            row[2] = clean_acc
            records.append(
                Record(ckpt.run_name, method, arch, dataset_name, "clean", None, "accuracy", clean_acc, n)
            )
        rows.append(row)
    _render_transfer(adv, rows, note)
    prov = provenance(
        "attack", arguments, arguments["seed"], dataset=dataset_identity, checkpoints=_provenance(models)
    )
    _write(arguments["out"], records, prov)


def _clean_for(adv, arguments: dict):
    """The clean images behind ``adv`` when the recorded (or --dataset) test set reproduces them exactly:
    (ImageSet or None, dataset identity, a note saying why clean accuracy is missing)."""
    import numpy as np

    from specreg_cli.data.datasets import ImageSet, content_hash
    from specreg_cli.errors import SpecregError

    spec_text = arguments["dataset"] or adv.meta.get("dataset_spec")
    if not spec_text:
        return None, {}, f"{adv.path.name} records no dataset: clean accuracy not measured"
    try:
        test = _test_set(spec_text, {**arguments, "n_examples": adv.meta.get("n", len(adv))})
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
    return ImageSet(images, labels, test.identity), test.identity, None


def _render_transfer(adv, rows, note: str | None) -> None:
    from rich.table import Table

    from specreg_cli.console import console

    meta = adv.meta
    source = meta.get("source_run", "?")
    what = (
        f"{meta.get('attack', '?')} eps {format_pixel_value(meta['eps'])}"
        if "eps" in meta
        else "unknown attack"
    )
    table = Table(title=f"transfer: {what} examples from {source} ({adv.storage}, n={len(adv)})")
    for name in ("run", "method", "clean", "transfer"):
        table.add_column(name, justify="right" if name in ("clean", "transfer") else "left")
    for run, method, clean, acc in rows:
        table.add_row(run, method, "-" if clean is None else f"{clean:.1%}", f"{acc:.1%}")
    console.print(table)
    if note:
        console.print(f"[yellow]note:[/yellow] {note}", highlight=False)
