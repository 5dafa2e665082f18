"""A preset as steps: each one ``specreg`` command line, the output that marks it done, the steps it reads.

::

    train <run>               (per seed and arm) -> OUT/runs/<run>/ (config.json says "finished")
    eval-corruptions <run>                       -> OUT/results/corruptions-<run>.json         after train
    attack <name>-<steps> <run>                  -> OUT/results/attack-<name>-<steps>-<run>.json
    report md | csv               -> OUT/table.md (+ OUT/plots/), OUT/table.csv (+ table.*.csv)  after all

A run is an arm (:class:`~specreg_cli.reproduce.presets.Arm`) at a seed: ``natural`` for one seed,
``natural-s3`` with ``--seeds``. By default a preset's arms are the method registry's methods, in its
order: a new method is a new train step and new evaluations without a change here. A fine-tune arm's
training waits for the run it starts from.

Example::

    steps = plan(PRESETS["demo"], Path("reports/demo"), seed=0, device="cpu")
    [s.name for s in steps][:2]    # ['train natural', 'train gauss']
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from specreg_cli.attacks import get_attack
from specreg_cli.errors import SpecregError
from specreg_cli.methods import get_method
from specreg_cli.reproduce.presets import DEFAULT_BASELINE, Arm, AttackPlan, Preset


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
    """``--batch-size 128`` from ``("batch_size", 128)``: TrainConfig names to CLI options; a boolean is
    its flag, ``--crop`` or ``--no-crop``."""
    flag = name.replace("_", "-")
    if isinstance(value, bool):
        return [f"--{flag}" if value else f"--no-{flag}"]
    return [f"--{flag}", str(value)]


def plan(
    preset: Preset,
    out_dir: str | Path,
    *,
    seed: int = 0,
    seeds: Sequence[int] | None = None,
    device: str = "auto",
    dataset: str | None = None,
    data_dir: str | Path | None = None,
    download: bool = False,
    cifar10c_dir: str | Path | None = None,
) -> list[Step]:
    """The steps of ``preset`` writing into ``out_dir``: per seed, one training per arm, then per run its
    corruption evaluation and attacks; then the reports over every run. Steps are listed in the order they
    are started when run one at a time.

    ``seeds`` (``--seeds 0-4``) makes seeds an axis: runs are named ``<arm>-s<seed>``, each resumable on
    its own, and a seed's evaluations draw their corruptions and attack noise from that same seed (so
    the arms of one seed are compared on the same bytes). Without it, ``seed`` trains one run per arm,
    named after the arm. Raises :class:`SpecregError` for an attack or arm the registries don't know.
    """
    out = Path(out_dir).expanduser().resolve()
    data = option("data_dir", Path(data_dir).expanduser().resolve()) if data_dir is not None else []
    for sweep in preset.attacks:
        get_attack(sweep.attack)
    arms = _checked_arms(preset)
    corruptions_dir = Path(cifar10c_dir).expanduser().resolve() if cifar10c_dir else None
    trains, evaluations = [], []
    for each in seeds if seeds is not None else [seed]:
        common = [*option("seed", each), *option("device", device), *data]
        names = {arm.name: arm.name if seeds is None else f"{arm.name}-s{each}" for arm in arms}
        for arm in arms:
            run = out / "runs" / names[arm.name]
            source = out / "runs" / names[arm.init_from] if arm.init_from else None
            trains.append(_train_step(preset, arm, run, dataset or preset.dataset, common, download, source))
            evaluations.append(_corruption_step(preset, run, out, common, corruptions_dir))
            evaluations += [_attack_step(sweep, run, out, common) for sweep in preset.attacks]
    steps = [*trains, *evaluations]
    return [
        *steps,
        *_report_steps(out, tuple(s.name for s in evaluations), preset.cam_images, preset.baseline),
    ]


def _checked_arms(preset: Preset) -> tuple[Arm, ...]:
    arms = preset.arm_list()
    seen: set[str] = set()
    for arm in arms:
        get_method(arm.method)
        if arm.init_from is not None and arm.init_from not in seen:
            raise SpecregError(f"arm {arm.name!r} fine-tunes {arm.init_from!r}, which is not an earlier arm")
        seen.add(arm.name)
    return arms


def _train_step(
    preset: Preset,
    arm: Arm,
    run: Path,
    dataset: str,
    common: list[str],
    download: bool,
    source: Path | None,
) -> Step:
    options = {"method": arm.method, "dataset": dataset, **preset.train, **arm.train}
    if arm.name != arm.method:  # the report's row: the arm, not just the method
        options["group"] = arm.name
    argv = [
        "train",
        *[a for k, v in options.items() for a in option(k, v)],
        *common,
        *(["--download"] if download else []),
        *(option("init_from", source) if source else []),
        *option("out", run),
    ]
    seed = common[common.index("--seed") + 1]
    after = (f"train {source.name}",) if source else ()
    expected = (*options.items(), ("seed", seed), *((("init_from", str(source)),) if source else ()))
    return Step(f"train {run.name}", "train", tuple(argv), run, after, expected=expected)


def _corruption_step(
    preset: Preset, run: Path, out: Path, common: list[str], cifar10c_dir: Path | None
) -> Step:
    target = out / "results" / f"corruptions-{run.name}.json"
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
    return Step(
        f"eval-corruptions {run.name}", "evaluate", tuple(argv), target, (f"train {run.name}",), (run,)
    )


def _attack_step(sweep: AttackPlan, run: Path, out: Path, common: list[str]) -> Step:
    target = out / "results" / f"attack-{sweep.slug}-{run.name}.json"
    argv = [
        "attack",
        str(run),
        *option("attack", sweep.attack),
        *option("eps", sweep.eps),
        *(option("steps", sweep.steps) if sweep.steps is not None else []),
        *option("batch_size", sweep.batch_size),
        *common,
        *(option("n_examples", sweep.n_examples) if sweep.n_examples else []),
        *option("out", target),
    ]
    return Step(f"{sweep.name} {run.name}", "evaluate", tuple(argv), target, (f"train {run.name}",), (run,))


def _report_steps(
    out: Path, evaluations: tuple[str, ...], cam_images: int = 0, baseline: str = DEFAULT_BASELINE
) -> list[Step]:
    """The Markdown report (with plots, and Figure 3's activation maps when ``cam_images``) and the CSV
    tables, after every evaluation; differences against the arm ``baseline``."""
    inputs = [str(out / "results"), str(out / "runs")]
    if (
        baseline != DEFAULT_BASELINE
    ):  # the default is left implicit, so the command lines of older plans stand
        inputs += option("baseline", baseline)
    markdown = ("report", *inputs, "--format", "md", *option("out", out / "table.md"))
    markdown += tuple(option("plots", out / "plots"))
    markdown += tuple(option("cam_images", cam_images)) if cam_images else ()
    table = ("report", *inputs, "--format", "csv", *option("out", out / "table.csv"))
    return [
        Step("report md", "report", markdown, out / "table.md", evaluations),
        Step("report csv", "report", table, out / "table.csv", evaluations),
    ]
