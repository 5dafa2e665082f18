"""``specreg attack``: robust accuracy under a registered attack (torchattacks), with gradient-masking checks.

Two modes:

- attack (default): every checkpoint is attacked on the test split it was trained alongside, at each
  --eps; the table shows clean and robust accuracy (and, dimmed, accuracy under random noise in the same
  ball).
- ``--adv-from FILE``: no attack; every checkpoint is evaluated on adversarial examples saved earlier
  with --save-adv (transfer attacks: natural -> masked, ...), condition "transfer".

The command parses options, calls the library (:mod:`specreg_cli.model_set`, :mod:`specreg_cli.attack`,
:mod:`specreg_cli.transfer`) and renders; the attacks are the entries of :mod:`specreg_cli.attacks`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from specreg_cli.attacks import ATTACKS, get_attack, parse_options
from specreg_cli.commands.given import as_typed, was_given
from specreg_cli.options import (
    DEFAULT_DATA_DIR,
    BatchSizeOption,
    DataDirOption,
    DeviceOption,
    DownloadOption,
    MeanOption,
    ModelKwargsOption,
    ModelOption,
    SeedOption,
    StdOption,
    ThreadsOption,
    WeightsOption,
)
from specreg_cli.parsing import format_pixel_value

COMMAND_NAME = "attack"
# The parameters that only configure the attack: with --adv-from no attack runs, so giving one of them
# would silently do nothing. (--save-adv is refused with --adv-from by a message of its own.)
ATTACK_ONLY = ("attack", "eps", "alpha", "steps", "random_start", "attack_options", "masking_checks")


def _names(knob: str, taken: bool = True) -> str:
    """The registered attacks that do (or don't) take ``knob`` (steps | alpha | random_start)."""
    return ", ".join(a.name for a in ATTACKS.values() if (knob in a.takes) == taken)


def _n_examples_help() -> str:
    """The --n-examples help with each expensive attack's own default (from the registry)."""
    own = [f"{a.name} {a.default_n_examples}" for a in ATTACKS.values() if a.default_n_examples]
    return "Attack only the first N test images. Default: all" + (
        f"; for the costly attacks: {', '.join(own)}." if own else "."
    )


def _option_help() -> str:
    """``square: n_queries (model queries per image, 5000); ...``: every attack's own options."""
    listed = [
        f"{a.name}: " + ", ".join(f"{o.name} ({o.help}, {o.default:g})" for o in a.options)
        for a in ATTACKS.values()
        if a.options
    ]
    return "An attack's own option, NAME=NUMBER; repeat for several. " + "; ".join(listed) + "."


def _default_radii() -> str:
    """``8/255 (pgd, fgsm), 0.5 (pgdl2)``: each registered default radius and the attacks that use it."""
    users: dict[str, list[str]] = {}
    for entry in ATTACKS.values():
        users.setdefault(format_pixel_value(entry.default_eps), []).append(entry.name)
    return ", ".join(f"{eps} ({', '.join(names)})" for eps, names in users.items())


# --help texts, from the registry: a new attack shows up in them the day it is added
ATTACK_HELP = "The attack. " + "; ".join(f"{a.name}: {a.summary}" for a in ATTACKS.values()) + "."
EPS_HELP = (
    "Attack radius in [0, 1] pixel units; fractions like 8/255 work. Several values (repeat the option "
    f"or comma-separate: 0,2/255,8/255) make a sweep. Default: {_default_radii()}."
)


def _absolute(path: Path | None) -> str | None:
    """A path from the command line as provenance stores it: absolute, so it survives a change of folder."""
    return None if path is None else str(Path(path).expanduser().resolve())


def command(
    ctx: typer.Context,
    checkpoints: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Run directories (or their checkpoint files) to attack. May be left out with --model.",
            show_default=False,
        ),
    ] = None,
    attack: Annotated[str, typer.Option("--attack", help=ATTACK_HELP)] = "pgd",
    eps: Annotated[
        list[str] | None,
        typer.Option(
            "--eps",
            help=EPS_HELP,
            show_default=False,
        ),
    ] = None,
    alpha: Annotated[
        str | None,
        typer.Option(
            "--alpha",
            help="Step size in [0, 1] pixel units (e.g. 2/255). Default: 2.5*eps/steps per eps "
            f"(Madry et al.; 2/255 at eps 8/255, 10 steps). Used by {_names('alpha')}.",
            show_default=False,
        ),
    ] = None,
    steps: Annotated[int, typer.Option("--steps", min=1, help=f"Gradient steps ({_names('steps')}).")] = 10,
    random_start: Annotated[
        bool,
        typer.Option(
            "--random-start/--no-random-start",
            help=f"Start at a uniformly random point of the ball ({_names('random_start')}).",
        ),
    ] = True,
    attack_options: Annotated[
        list[str] | None,
        typer.Option("--attack-option", help=_option_help(), show_default=False),
    ] = None,
    n_examples: Annotated[
        int | None,
        typer.Option("--n-examples", min=1, help=_n_examples_help(), show_default=False),
    ] = None,
    masking_checks: Annotated[
        bool,
        typer.Option(
            "--masking-checks/--no-masking-checks",
            help="Also run the gradient-masking checks at the sweep's largest eps, on the same images: "
            "Square (black-box, Linf only) must not clearly beat the attack, a radius of about the whole "
            "pixel range (0.5 Linf, 30 L2) must leave about 0%, and 5x the steps must not be weaker. "
            "Recorded and reported like the other sanity checks; several times the attack's cost. "
            "White-box attacks only.",
        ),
    ] = False,
    batch_size: BatchSizeOption = 256,
    seed: SeedOption = 0,
    device: DeviceOption = "auto",
    threads: ThreadsOption = None,
    dataset: Annotated[
        str | None,
        typer.Option(
            "--dataset",
            help="Test set to attack. Default: the test split the checkpoints were trained alongside "
            "(checkpoints of different test splits need this option; e.g. "
            "synthetic:train=5000,test=2000,seed=0 | cifar10).",
            show_default=False,
        ),
    ] = None,
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    download: DownloadOption = False,
    model: ModelOption = None,
    weights: WeightsOption = None,
    model_kwargs: ModelKwargsOption = None,
    mean: MeanOption = None,
    std: StdOption = None,
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

    Example: specreg attack --model torchvision.models:resnet18 --model-kwargs num_classes=10 --weights
    resnet18.pt --mean 0.4914,0.4822,0.4465 --std 0.2470,0.2435,0.2616 --dataset cifar10 --n-examples 500
    """
    from specreg_cli.device import set_threads
    from specreg_cli.errors import SpecregError
    from specreg_cli.external_model import from_options
    from specreg_cli.model_set import check_external_options
    from specreg_cli.parsing import parse_pixel_value, parse_pixel_values

    set_threads(threads)
    external = from_options(model, model_kwargs, mean, std)
    check_external_options(external, weights or [])
    if save_adv is not None and adv_from is not None:
        raise SpecregError(
            "--save-adv and --adv-from exclude each other",
            hint="save examples in one run, evaluate them with --adv-from in the next",
        )
    if adv_from is not None:  # first: `--attack cw --adv-from F` is wrong because --attack does not apply
        _refuse_attack_options(ctx, adv_from)
    get_attack(attack)  # an unknown name is one line naming the valid ones
    if masking_checks and get_attack(attack).black_box:
        raise SpecregError(
            f"--masking-checks compares a white-box attack with a black-box one; {attack} is black-box",
            hint="run them with --attack pgd (or another white-box attack)",
        )
    options = parse_options(attack, attack_options)  # unknown or bad options: one line, before any work
    if out is not None and out.suffix != ".json":
        raise SpecregError(f"--out {out} must end in .json", hint="e.g. --out results/pgd.json")
    eps_values = parse_pixel_values(eps, "--eps") if eps else None
    if masking_checks and eps_values is not None and not max(eps_values) > 0:
        raise SpecregError("--masking-checks needs an eps > 0 in --eps", hint="e.g. --eps 0,8/255")
    alpha_value = parse_pixel_value(alpha, "--alpha") if alpha is not None else None
    arguments = {
        "checkpoints": [_absolute(p) for p in checkpoints or []],
        "weights": [_absolute(p) for p in weights or []],
        **(external.as_arguments() if external is not None else {}),
        "attack": attack,
        "eps": eps_values,
        "alpha": alpha_value,
        "steps": steps,
        "random_start": random_start,
        "attack_options": options,
        # an expensive attack (AutoAttack) has a default of its own; the whole split otherwise
        "n_examples": n_examples if n_examples is not None else get_attack(attack).default_n_examples,
        "masking_checks": masking_checks,
        "batch_size": batch_size,
        "seed": seed,
        "device": device,
        "threads": threads,
        "dataset": dataset,
        "data_dir": _absolute(data_dir),
        "download": download,
        "save_adv": _absolute(save_adv),
        "adv_from": _absolute(adv_from),
        "out": _absolute(out),
    }
    from specreg_cli.output_lock import claim_outputs

    # checked and locked before the attack: a bad --out or --save-adv is one line now, not after it
    with claim_outputs([arguments["out"]]), claim_outputs([arguments["save_adv"]], "--save-adv"):
        if adv_from is not None:
            _run_transfer(checkpoints or [], adv_from, arguments, external)
        else:
            _run_attack(checkpoints or [], eps_values, alpha_value, arguments, external)


def _refuse_attack_options(ctx: typer.Context, adv_from: Path) -> None:
    """Raise when an attack-only option was given together with ``--adv-from``.

    Example: ``specreg attack runs/masked --adv-from adv.npy --eps 4/255`` -> "--eps does not apply ...".
    """
    from specreg_cli.errors import SpecregError

    given = [as_typed(ctx, name) for name in ATTACK_ONLY if was_given(ctx, name)]
    if given:
        listed, verb = ", ".join(given), "does" if len(given) == 1 else "do"
        raise SpecregError(
            f"{listed} {verb} not apply with --adv-from: it evaluates saved examples and runs no attack",
            hint=f"the examples' attack settings come from the metadata of {adv_from}; drop {listed}",
        )


def _run_attack(
    paths: list[Path], eps_values: list[float] | None, alpha: float | None, arguments: dict, external=None
) -> None:
    from specreg_cli import adversarial_io
    from specreg_cli import attack as lib
    from specreg_cli.data import load_dataset
    from specreg_cli.model_set import evaluation_dataset, load_model_set
    from specreg_cli.results import provenance

    specs = lib.sweep_specs(
        arguments["attack"],
        eps_values or None,
        alpha,
        arguments["steps"],
        arguments["random_start"],
        arguments["attack_options"],
    )
    save = adversarial_io.check_path(arguments["save_adv"]) if arguments["save_adv"] else None
    models = load_model_set(paths, arguments["device"], external, arguments["weights"])
    spec_text = evaluation_dataset(models.checkpoints, arguments["dataset"])
    test = load_dataset(
        spec_text, "test", data_dir=arguments["data_dir"], download=arguments["download"]
    ).subset(arguments["n_examples"])
    _warn_test_set(models.checkpoints, test.identity)
    keep = None if save is None else ("uint8" if save.suffix == ".npy" else "float32")
    results = _attack_all(models, test, specs, keep, arguments)
    records, checks = lib.sweep_records(models.checkpoints, results, test.identity["name"])
    if arguments["masking_checks"]:
        records += _masking_checks(models, test, specs, checks, arguments)
    _render_attack(models.checkpoints, results, checks)
    _note_external(external)
    if save is not None:
        source = adversarial_io.source_meta(spec_text, test, arguments["seed"], arguments["batch_size"])
        _render_saved(lib.save_examples(save, models.checkpoints, results, source))
    prov = provenance(
        "attack", arguments, arguments["seed"], dataset=test.identity, checkpoints=models.hashes()
    )
    _write(arguments["out"], records, prov)


def _masking_checks(models, test, specs, checks: dict, arguments: dict) -> list:
    """Run :func:`specreg_cli.attack.run_masking_checks` at the sweep's largest eps for every model; add
    its checks to ``checks`` (run -> list, rendered with the sweep's) and return their records."""
    from specreg_cli import attack as lib
    from specreg_cli.console import console

    largest = max(specs, key=lambda spec: spec.eps)  # > 0: checked before the attack
    records = []
    for model, checkpoint in models:
        console.print(
            f"[dim]{checkpoint.run_name}: gradient-masking checks at eps "
            f"{format_pixel_value(largest.eps)}...[/dim]",
            highlight=False,
        )
        found = lib.run_masking_checks(
            model,
            test.images,
            test.labels,
            largest,
            arguments["batch_size"],
            models.device,
            arguments["seed"],
        )
        checks[checkpoint.run_name] += found.checks
        meta = checkpoint.meta
        records += lib.check_records(
            found.checks,
            checkpoint.run_name,
            meta.get("method", "?"),
            meta["model"]["arch"],
            test.identity["name"],
            found.results["white"].n,
            largest.name,
        )
    return records


def _note_external(external) -> None:
    """Say what the external model's input normalisation is: none added is a choice the user must see."""
    from specreg_cli.console import console

    if external is not None:
        console.print(
            f"[dim]{external.target}: input normalisation {external.normalization}[/dim]", highlight=False
        )


def _warn_test_set(checkpoints, identity: dict) -> None:
    from specreg_cli.checkpoint import test_set_warnings
    from specreg_cli.console import err_console

    for line in test_set_warnings(checkpoints, identity):
        err_console.print(f"[yellow]warning:[/yellow] {line}", highlight=False)


def _attack_all(models, test, specs, keep, arguments) -> list:
    """:func:`specreg_cli.attack.attack_models` with a progress bar per model."""
    from specreg_cli import attack as lib
    from specreg_cli.console import make_progress

    with make_progress() as progress:
        tasks = {}

        def report(run: str, done: int, total: int, running: dict) -> None:
            if run not in tasks:
                tasks[run] = progress.add_task(f"{specs[0].name} {run}", total=total, status="")
            if running:
                worst = running[max(running)]
                status = f"robust {worst:.1%} at eps {format_pixel_value(max(running))}"
                progress.update(tasks[run], completed=done, total=total, status=status)

        return lib.attack_models(
            models,
            test.images,
            test.labels,
            specs,
            arguments["batch_size"],
            models.device,
            arguments["seed"],
            keep=keep,
            progress=report,
        )


def _render_attack(checkpoints, results, checks) -> None:
    from rich.table import Table

    from specreg_cli.console import console

    first = results[0]
    steps = f", {first.specs[0].steps} steps" if get_attack(first.name).iterative else ""
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
    for ckpt, result in zip(checkpoints, results, strict=True):
        cells = [
            f"{result.robust[s.eps]:.1%}" + (f"\n[dim]{result.noise[s.eps]:.1%}[/dim]" if s.eps else "")
            for s in result.specs
        ]
        failed = [c for c in checks[ckpt.run_name] if not c.passed]
        status = "[green]ok[/green]" if not failed else f"[bold red]{len(failed)} failed[/bold red]"
        table.add_row(ckpt.run_name, ckpt.meta.get("method", "?"), f"{result.clean:.1%}", *cells, status)
    console.print(table)
    for ckpt, result in zip(checkpoints, results, strict=True):
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


def _render_saved(saved) -> None:
    from specreg_cli.console import console

    for item in saved:
        line = f"saved {item.path}"
        if item.stored_accuracy is not None:  # rounding to uint8 may undo a few successes: show both
            line += f" [dim](accuracy uint8 {item.stored_accuracy:.1%}, float {item.accuracy:.1%})[/dim]"
        console.print(line, highlight=False)


def _write(out: str | None, records, prov) -> None:
    from specreg_cli.console import console
    from specreg_cli.results import write_results

    if out is None:
        console.print("[dim]not saved: pass --out FILE.json to keep these results[/dim]")
        return
    path = write_results(out, records, prov)
    console.print(f"wrote {len(records)} records to {path}", highlight=False)


# --- transfer ------------------------------------------------------------------------------------


def _run_transfer(paths: list[Path], adv_path: Path, arguments: dict, external=None) -> None:
    from specreg_cli.adversarial_io import load_adversarial
    from specreg_cli.model_set import load_model_set
    from specreg_cli.results import provenance
    from specreg_cli.transfer import evaluate_transfer

    adv = load_adversarial(adv_path).subset(arguments["n_examples"])
    models = load_model_set(paths, arguments["device"], external, arguments["weights"])
    result = evaluate_transfer(
        models,
        adv,
        arguments["batch_size"],
        dataset=arguments["dataset"],
        data_dir=arguments["data_dir"],
        download=arguments["download"],
    )
    _render_transfer(result)
    _note_external(external)
    prov = provenance(
        "attack", arguments, arguments["seed"], dataset=result.dataset, checkpoints=models.hashes()
    )
    _write(arguments["out"], result.records, prov)


def _render_transfer(result) -> None:
    from rich.table import Table

    from specreg_cli.console import console

    adv = result.adversarial
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
    for row in result.rows:
        clean = "-" if row.clean is None else f"{row.clean:.1%}"
        table.add_row(row.run, row.method, clean, f"{row.transfer:.1%}")
    console.print(table)
    if result.note:
        console.print(f"[yellow]note:[/yellow] {result.note}", highlight=False)
