"""A preset as steps: each one ``specreg`` command line, the output that marks it done, the steps it reads.

::

    train <method>                 (one per method) -> OUT/runs/<method>/ (config.json says "finished")
    eval-corruptions <method>                       -> OUT/results/corruptions-<method>.json     after train
    attack <name>-<steps> <method>                  -> OUT/results/attack-<name>-<steps>-<method>.json
    report md | csv                  -> OUT/table.md (+ OUT/plots/), OUT/table.csv (+ table.*.csv)  after all

The methods, and their order, are the method registry's (:mod:`specreg_cli.methods`): a new method is a
new train step and new evaluations without a change here.

Example::

    steps = plan(PRESETS["demo"], Path("reports/demo"), seed=0, device="cpu")
    [s.name for s in steps][:2]    # ['train natural', 'train gauss']
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from specreg_cli.attacks import get_attack
from specreg_cli.methods import METHOD_NAMES
from specreg_cli.reproduce.presets import AttackPlan, Preset


@dataclass(frozen=True)
class Step:
    """One command of the plan. ``kind``: train | evaluate | report; ``output``: the file or run directory
    that marks it done; ``after``: names of the steps it reads; ``expected``: train options its run
    directory must hold (train steps)."""

    name: str
    kind: str
    argv: tuple[str, ...]  # arguments after `specreg`
    output: Path
    after: tuple[str, ...] = ()
    runs: tuple[Path, ...] = ()  # evaluate steps: the run directories whose checkpoints they read
    expected: tuple[tuple[str, object], ...] = ()

    @property
    def slug(self) -> str:
        return self.name.replace(" ", "-")


def option(name: str, value: object) -> list[str]:
    """``--batch-size 128`` from ``("batch_size", 128)``: TrainConfig names to CLI options."""
    return [f"--{name.replace('_', '-')}", str(value)]


def plan(
    preset: Preset,
    out_dir: str | Path,
    *,
    seed: int = 0,
    device: str = "auto",
    dataset: str | None = None,
    data_dir: str | Path | None = None,
    download: bool = False,
    cifar10c_dir: str | Path | None = None,
) -> list[Step]:
    """The steps of ``preset`` writing into ``out_dir``: one training per method, then per run its
    corruption evaluation and attacks, then the reports. Steps are listed in the order they are started
    when run one at a time. Raises :class:`SpecregError` for an attack the registry does not know."""
    out = Path(out_dir).expanduser().resolve()
    data = option("data_dir", Path(data_dir).expanduser().resolve()) if data_dir is not None else []
    common = [*option("seed", seed), *option("device", device), *data]
    for sweep in preset.attacks:
        get_attack(sweep.attack)
    steps = [
        _train_step(preset, method, out / "runs" / method, dataset or preset.dataset, common, download)
        for method in METHOD_NAMES
    ]
    corruptions_dir = Path(cifar10c_dir).expanduser().resolve() if cifar10c_dir else None
    for method in METHOD_NAMES:
        steps.append(_corruption_step(preset, method, out, common, corruptions_dir))
        steps += [_attack_step(sweep, method, out, common) for sweep in preset.attacks]
    evaluations = tuple(s.name for s in steps if s.kind == "evaluate")
    return [*steps, *_report_steps(out, evaluations)]


def _train_step(
    preset: Preset, method: str, run: Path, dataset: str, common: list[str], download: bool
) -> Step:
    options = {"method": method, "dataset": dataset, **preset.train, **preset.method_train.get(method, {})}
    argv = [
        "train",
        *[a for k, v in options.items() for a in option(k, v)],
        *common,
        *(["--download"] if download else []),
        *option("out", run),
    ]
    seed = common[common.index("--seed") + 1]
    return Step(f"train {method}", "train", tuple(argv), run, expected=(*options.items(), ("seed", seed)))


def _corruption_step(
    preset: Preset, method: str, out: Path, common: list[str], cifar10c_dir: Path | None
) -> Step:
    run, target = out / "runs" / method, out / "results" / f"corruptions-{method}.json"
    argv = [
        "eval-corruptions",
        str(run),
        *option("corruptions", preset.corruptions),
        *option("severities", preset.severities),
        *option("batch_size", preset.eval_batch_size),
        *common,
        *(option("n_examples", preset.eval_n) if preset.eval_n else []),
        *(option("cifar10c_dir", cifar10c_dir) if cifar10c_dir else []),
        *option("out", target),
    ]
    return Step(f"eval-corruptions {method}", "evaluate", tuple(argv), target, (f"train {method}",), (run,))


def _attack_step(sweep: AttackPlan, method: str, out: Path, common: list[str]) -> Step:
    run, target = (
        out / "runs" / method,
        out / "results" / f"attack-{sweep.attack}-{sweep.steps}-{method}.json",
    )
    argv = [
        "attack",
        str(run),
        *option("attack", sweep.attack),
        *option("eps", sweep.eps),
        *option("steps", sweep.steps),
        *option("batch_size", sweep.batch_size),
        *common,
        *(option("n_examples", sweep.n_examples) if sweep.n_examples else []),
        *option("out", target),
    ]
    return Step(f"{sweep.name} {method}", "evaluate", tuple(argv), target, (f"train {method}",), (run,))


def _report_steps(out: Path, evaluations: tuple[str, ...]) -> list[Step]:
    """The Markdown report (with plots) and the CSV tables, after every evaluation."""
    inputs = [str(out / "results"), str(out / "runs")]
    markdown = ("report", *inputs, "--format", "md", *option("out", out / "table.md"))
    markdown += tuple(option("plots", out / "plots"))
    table = ("report", *inputs, "--format", "csv", *option("out", out / "table.csv"))
    return [
        Step("report md", "report", markdown, out / "table.md", evaluations),
        Step("report csv", "report", table, out / "table.csv", evaluations),
    ]
