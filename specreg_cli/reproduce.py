"""The whole comparison as a resumable plan of ``specreg`` commands: presets, the step planner, the runner.

A preset says what to train and evaluate; :func:`plan` turns it into steps, each one ``specreg`` command
line whose output file marks it done, and each waiting only for the steps it reads::

    train <method>               (x4)  -> OUT/runs/<method>/  (config.json says "finished")
    eval-corruptions <method>    (x4)  -> OUT/results/corruptions-<method>.json           after train
    attack <name>-<steps> <method> (x4) -> OUT/results/attack-<name>-<steps>-<method>.json  after train
    report md | csv                    -> OUT/table.md (+ OUT/plots/), OUT/table.csv   after every evaluation

Resuming: :func:`step_state` looks at the outputs. A finished training run, or a results file whose
recorded checkpoint hash equals the current ``model.pt``, is skipped; an unfinished training run
continues with ``--resume``; everything else (and the cheap reports, always) runs. A run directory
trained with another recipe is refused rather than silently mixed in.

Every step runs as ``python -m specreg_cli ...`` in a subprocess (its output goes to OUT/logs/<step>.log),
so a crash in one step can't take the plan's bookkeeping with it. With ``jobs > 1`` independent steps
run side by side, each with ``cores // jobs`` threads: on a small CPU two single-threaded processes get
more out of two cores than one process with two threads (ResNet-20's 32x32 convolutions and the FFTs
of the masks parallelise poorly inside one process). :func:`run_plan` writes each step's wall and CPU
seconds to OUT/timings.csv as steps finish; a skipped step keeps the seconds it took when it ran.

Example::

    steps = plan(PRESETS["demo"], Path("reports/demo"), seed=0, device="cpu")
    timings = run_plan(steps, Path("reports/demo"), jobs=2)   # [StepTiming(step, status, wall_s, cpu_s), ...]
"""

from __future__ import annotations

import contextlib
import csv
import functools
import io
import json
import math
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

from specreg_cli.atomic import write_text_atomic
from specreg_cli.errors import SpecregError

METHODS = ("natural", "gauss", "adversarial", "masked")  # trained with the same recipe and seed
TIMINGS_COLUMNS = ("step", "status", "wall_s", "cpu_s", "command")
TOTAL = "total"  # the last row of timings.csv: the whole invocation


@dataclass(frozen=True)
class AttackPlan:
    """One ``specreg attack`` sweep of every run."""

    attack: str = "pgd"  # pgd | pgdl2 | fgsm
    eps: str = "0,8/255"  # radii, [0, 1] pixel scale; 0 is the sanity check (it equals clean accuracy)
    steps: int = 10  # gradient steps
    n_examples: int | None = None  # first N test images (None: all)
    batch_size: int = 256  # images per attacked batch (results depend on it through the per-batch seeds)

    @property
    def name(self) -> str:
        return f"attack {self.attack}-{self.steps}"


@dataclass(frozen=True)
class Preset:
    """What `specreg reproduce` trains and evaluates. Train options are ``specreg train`` options
    (TrainConfig field names, CLI-ready values); ``method_train`` adds options for one method."""

    name: str
    description: str
    dataset: str  # dataset spec for training (evaluations use the checkpoints' own dataset)
    train: dict  # options shared by the four methods
    method_train: dict = field(default_factory=dict)  # method -> extra train options
    corruptions: str = "impulse_noise,fog,contrast"  # the paper's Table 2
    severities: str = "1-5"
    eval_n: int | None = None  # corruption evaluation on the first N test images (None: all)
    eval_batch_size: int = 1000  # images per forward pass of the corruption evaluation
    attacks: tuple[AttackPlan, ...] = (AttackPlan(),)
    hidden: bool = False  # not listed in --help (test presets)


PRESETS = {
    "demo": Preset(
        name="demo",
        description="offline, CPU: synthetic data (5,000 train / 2,000 test), ResNet-20, 3 epochs, "
        "adversarial training with PGD-3, mask lr x100; under 10 minutes on 2 CPU cores",
        dataset="synthetic",
        train={"arch": "resnet20", "epochs": 3, "lr": 0.05, "schedule": "cosine", "batch_size": 128},
        # 3 PGD steps instead of 7 keep adversarial training within the demo's budget; alpha ~ 2.5 eps / steps
        method_train={
            "adversarial": {"adv_steps": 3, "adv_eps": "8/255", "adv_alpha": "6/255"},
            # 117 steps at lr <= 0.05 move a mask about 1/250 as far as the paper's 200 epochs at
            # lr 0.01 (78k steps): at mask lr x1 the masks barely leave their init (measured:
            # mean |change| 0.001, masked fraction 6.7% -> 6.7%); x100 lets them train
            "masked": {"mask_lr_mult": 100},
        },
        eval_batch_size=200,  # on a CPU ResNet-20 (the masked one even more) runs fastest in small batches
        attacks=(AttackPlan("pgd", "0,2/255,8/255", 10, 500, batch_size=125),),
    ),
    "paper": Preset(
        name="paper",
        description="the paper's recipe on CIFAR-10: 200 epochs, lr 0.01, batch 128, step schedule, full "
        "test set, PGD-10 and PGD-20 at 8/255; for a GPU with the data in --data-dir",
        dataset="cifar10",
        train={"arch": "resnet20", "epochs": 200, "lr": 0.01, "schedule": "step", "batch_size": 128},
        attacks=(AttackPlan("pgd", "0,8/255", 10, None), AttackPlan("pgd", "0,8/255", 20, None)),
    ),
    "tiny": Preset(
        name="tiny",
        description="seconds, for tests: LeNet on 256 synthetic images, 1 epoch",
        dataset="synthetic:train=256,test=64",
        train={"arch": "lenet", "epochs": 1, "lr": 0.05, "schedule": "cosine", "batch_size": 64},
        method_train={"adversarial": {"adv_steps": 1, "adv_eps": "8/255", "adv_alpha": "8/255"}},
        severities="1,5",
        eval_batch_size=64,
        attacks=(AttackPlan("pgd", "0,8/255", 2, 32, batch_size=32),),
        hidden=True,
    ),
}
PUBLIC_PRESETS = tuple(name for name, p in PRESETS.items() if not p.hidden)


def get_preset(name: str) -> Preset:
    """The preset called ``name``; a :class:`SpecregError` listing the public ones otherwise."""
    if name not in PRESETS:
        raise SpecregError(f"unknown preset {name!r}", hint=f"valid choices: {', '.join(PUBLIC_PRESETS)}")
    return PRESETS[name]


# --- steps ---------------------------------------------------------------------------------------


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


def _option(name: str, value: object) -> list[str]:
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
    """The steps of ``preset`` writing into ``out_dir``: train x4, then per run its corruption evaluation
    and attacks, then the reports. Steps are listed in the order they are started when run one at a time."""
    out = Path(out_dir).expanduser().resolve()
    data = _option("data_dir", Path(data_dir).expanduser().resolve()) if data_dir is not None else []
    common = [*_option("seed", seed), *_option("device", device), *data]
    steps = [
        _train_step(preset, method, out / "runs" / method, dataset or preset.dataset, common, download)
        for method in METHODS
    ]
    for method in METHODS:
        run, after = out / "runs" / method, (f"train {method}",)
        target = out / "results" / f"corruptions-{method}.json"
        argv = [
            "eval-corruptions",
            str(run),
            *_option("corruptions", preset.corruptions),
            *_option("severities", preset.severities),
            *_option("batch_size", preset.eval_batch_size),
            *common,
            *(_option("n_examples", preset.eval_n) if preset.eval_n else []),
            *(_option("cifar10c_dir", Path(cifar10c_dir).expanduser().resolve()) if cifar10c_dir else []),
            *_option("out", target),
        ]
        steps.append(Step(f"eval-corruptions {method}", "evaluate", tuple(argv), target, after, (run,)))
        for sweep in preset.attacks:
            target = out / "results" / f"attack-{sweep.attack}-{sweep.steps}-{method}.json"
            argv = [
                "attack",
                str(run),
                *_option("attack", sweep.attack),
                *_option("eps", sweep.eps),
                *_option("steps", sweep.steps),
                *_option("batch_size", sweep.batch_size),
                *common,
                *(_option("n_examples", sweep.n_examples) if sweep.n_examples else []),
                *_option("out", target),
            ]
            steps.append(Step(f"{sweep.name} {method}", "evaluate", tuple(argv), target, after, (run,)))
    evaluations = tuple(s.name for s in steps if s.kind == "evaluate")
    inputs = [str(out / "results"), str(out / "runs")]
    markdown = (
        "report",
        *inputs,
        "--format",
        "md",
        *_option("out", out / "table.md"),
        *_option("plots", out / "plots"),
    )
    table = ("report", *inputs, "--format", "csv", *_option("out", out / "table.csv"))
    steps.append(Step("report md", "report", markdown, out / "table.md", evaluations))
    steps.append(Step("report csv", "report", table, out / "table.csv", evaluations))
    return steps


def _train_step(
    preset: Preset, method: str, run: Path, dataset: str, common: list[str], download: bool
) -> Step:
    options = {"method": method, "dataset": dataset, **preset.train, **preset.method_train.get(method, {})}
    argv = [
        "train",
        *[a for k, v in options.items() for a in _option(k, v)],
        *common,
        *(["--download"] if download else []),
        *_option("out", run),
    ]
    seed = common[common.index("--seed") + 1]
    return Step(f"train {method}", "train", tuple(argv), run, expected=(*options.items(), ("seed", seed)))


# --- state ---------------------------------------------------------------------------------------

DONE, TODO, RESUME, RESTART, ALWAYS = "done", "todo", "resume", "restart", "always"


def step_state(step: Step) -> str:
    """done (skip) | todo (run) | resume (train --resume) | restart (train --force) | always (reports).

    Raises :class:`SpecregError` when a training run directory holds a run with another recipe.
    """
    if step.kind == "report":
        return ALWAYS
    if step.kind == "train":
        return _train_state(step)
    return DONE if _results_current(step) else TODO


def _train_state(step: Step) -> str:
    config_file = step.output / "config.json"
    if not config_file.exists():
        return TODO
    try:
        state = json.loads(config_file.read_text(encoding="utf-8"))
        config = state["config"]
    except (OSError, ValueError, KeyError, TypeError):
        return RESTART  # a run directory cut off before its first write: start it over
    mismatch = [
        f"{key} {config.get(key)!r} (the plan wants {value!r})"
        for key, value in step.expected
        if not _same(config.get(key), value)
    ]
    if mismatch:
        raise SpecregError(
            f"{step.output} holds a run with another recipe: {', '.join(mismatch)}",
            hint="use another --out, or delete that run directory to retrain it",
        )
    if not (step.output / "model.pt").exists():
        return RESTART  # e.g. a clone that has the run's small files but not its checkpoint
    return DONE if state.get("status") == "finished" else RESUME


def _same(actual: object, wanted: object) -> bool:
    """Config values against plan values: numbers compare as numbers (``"8/255"`` = 0.0313...)."""
    if isinstance(actual, (int, float)) and not isinstance(actual, bool):
        from specreg_cli.parsing import parse_pixel_value

        try:
            return math.isclose(float(actual), parse_pixel_value(str(wanted)), rel_tol=1e-9, abs_tol=1e-12)
        except SpecregError:
            return False
    return str(actual) == str(wanted)


def argv_stamp(step: Step) -> Path:
    """Hidden file beside an evaluation's results: the command line that produced them."""
    return step.output.parent / f".{step.output.name}.argv.json"


def _results_current(step: Step) -> bool:
    """The results file exists, was made by this step's exact command line (a changed preset, eps or
    --cifar10c-dir reruns it) and from exactly the current checkpoints of ``step.runs``."""
    from specreg_cli.checkpoint import file_sha256

    try:
        document = json.loads(step.output.read_text(encoding="utf-8"))
        recorded = {run: info["sha256"] for run, info in document["provenance"]["checkpoints"].items()}
        if json.loads(argv_stamp(step).read_text(encoding="utf-8")) != list(step.argv):
            return False
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False
    current = {}
    for run in step.runs:
        checkpoint = run / "model.pt"
        if not checkpoint.exists():
            return False
        current[run.name] = file_sha256(checkpoint)
    return recorded == current


def command_line(step: Step, state: str) -> list[str]:
    """The `specreg` arguments that carry out ``step`` in ``state`` (+ ``--resume`` / ``--force``)."""
    extra = {RESUME: ["--resume"], RESTART: ["--force"]}.get(state, []) if step.kind == "train" else []
    return [*step.argv, *extra]


# --- running -------------------------------------------------------------------------------------


@dataclass
class StepTiming:
    """How a step went: ran | resumed | restarted | skipped | failed; seconds of wall clock and of CPU."""

    step: str
    status: str
    wall_s: float | None
    cpu_s: float | None
    command: str


Runner = Callable[[list[str], Path], tuple[int, float | None]]  # (arguments, log) -> (exit code, CPU seconds)


def run_subprocess(args: list[str], log: Path, threads: int | None = None) -> tuple[int, float | None]:
    """Run ``python -m specreg_cli ARGS`` with stdout and stderr into ``log``: (exit code, CPU seconds of
    the child). ``threads``: torch's intra-op threads in the child (default: torch's choice)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "COLUMNS": os.environ.get("COLUMNS", "120")}  # readable Rich tables in the log
    if threads:
        env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    with log.open("w", encoding="utf-8") as fh:
        child = subprocess.Popen(
            [sys.executable, "-m", "specreg_cli", *args],
            stdout=fh,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
        )
        if not hasattr(os, "wait4"):  # Windows: no per-child CPU time
            return child.wait(), None
        try:
            _, status, usage = os.wait4(child.pid, 0)  # the child's own CPU time, even with others running
        except BaseException:
            child.kill()
            child.wait()
            raise
        child.returncode = os.waitstatus_to_exitcode(status)
        return child.returncode, usage.ru_utime + usage.ru_stime


def run_in_process(args: list[str], log: Path) -> tuple[int, float | None]:
    """Run the CLI in this process (no interpreter start-up per step; used by the tests). One step at a
    time only: stdout and stderr are redirected process-wide."""
    from specreg_cli.cli import app

    log.parent.mkdir(parents=True, exist_ok=True)
    buffer, code, cpu = io.StringIO(), 0, time.process_time()
    with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
        try:
            result = app(args=list(args), prog_name="specreg", standalone_mode=False)
            code = result if isinstance(result, int) else 0
        except SpecregError as error:
            print(f"error: {error}")
            code = 1
        except SystemExit as exc:  # typer/click exit codes
            code = exc.code if isinstance(exc.code, int) else 1
    log.write_text(buffer.getvalue(), encoding="utf-8")
    return code, time.process_time() - cpu


def available_cores() -> int:
    """CPU cores this process may use (its affinity mask where the OS has one)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def subprocess_runner(jobs: int, cores: int | None = None) -> Runner:
    """:func:`run_subprocess` with ``cores // jobs`` threads per child when several steps run at once."""
    cores = cores or available_cores()
    return functools.partial(run_subprocess, threads=max(1, cores // jobs) if jobs > 1 else None)


def default_jobs(cuda: bool, cores: int | None = None) -> int:
    """Steps at once: 1 on a GPU (one device to share), else one per core, at most 4."""
    return 1 if cuda else max(1, min(4, cores or available_cores()))


class StepFailed(SpecregError):
    """A step's command exited with an error."""


def run_plan(
    steps: list[Step],
    out_dir: str | Path,
    runner: Runner = run_subprocess,
    jobs: int = 1,
    on_start: Callable[[int, Step, str], None] | None = None,
    on_end: Callable[[int, Step, StepTiming], None] | None = None,
) -> list[StepTiming]:
    """Carry out ``steps``, at most ``jobs`` at once, each after the steps it reads; skip finished ones.

    A step whose inputs are ready starts in plan order. OUT/timings.csv is rewritten (in plan order) after
    each step. ``on_start(index, step, state)`` / ``on_end(index, step, timing)`` report progress (from
    worker threads when ``jobs > 1``). When a command fails, no new step starts; the running ones finish,
    then :class:`StepFailed` (a SpecregError naming the step and its log) is raised.
    """
    if jobs < 1:
        raise SpecregError(f"--jobs must be at least 1, got {jobs}")
    out = Path(out_dir).expanduser().resolve()
    previous = {row["step"]: row for row in read_timings(out / "timings.csv")}
    index = {step.name: i for i, step in enumerate(steps)}
    finished: dict[str, StepTiming] = {}
    lock = threading.Lock()

    def record(step: Step, timing: StepTiming) -> None:
        with lock:
            finished[step.name] = timing
            rows = [
                finished.get(s.name) or _keep(previous, s)
                for s in steps
                if s.name in finished or s.name in previous
            ]
            write_timings(out / "timings.csv", rows)
        if on_end:
            on_end(index[step.name], step, timing)

    def execute(step: Step, state: str, args: list[str], shown: str) -> StepTiming:
        timing = _run_step(step, state, args, out, runner, shown, previous.get(step.name, {}))
        record(step, timing)
        return timing

    pending, running, started = list(steps), {}, time.perf_counter()
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        while pending or running:
            failed = any(t.status == "failed" for t in finished.values())
            for step in [] if failed else list(pending):
                if len(running) >= jobs:
                    break
                if not all(name in finished for name in step.after):
                    continue
                pending.remove(step)
                state = step_state(step)
                args = command_line(step, state)
                shown = "specreg " + " ".join(_display(a, out) for a in args)
                if on_start:
                    on_start(index[step.name], step, state)
                if state == DONE:
                    old = previous.get(step.name, {})
                    record(
                        step,
                        StepTiming(
                            step.name, "skipped", _float(old.get("wall_s")), _float(old.get("cpu_s")), shown
                        ),
                    )
                    continue
                running[pool.submit(execute, step, state, args, shown)] = step
            if not running:
                break
            done, _ = wait(list(running), return_when=FIRST_COMPLETED)
            for future in done:
                running.pop(future)
                future.result()  # a bug in a worker surfaces here with its traceback
    failures = [s for s in steps if s.name in finished and finished[s.name].status == "failed"]
    if failures:
        raise StepFailed(
            f"step '{failures[0].name}' failed; its output is in {log_path(out, failures[0])}",
            hint="fix the cause and run the same command again: finished steps are skipped",
        )
    timings = [finished[s.name] for s in steps]
    cpu = [t.cpu_s for t in timings if t.status != "skipped" and t.cpu_s is not None]
    elapsed = round(time.perf_counter() - started, 2)
    ran = sum(t.status != "skipped" for t in timings)
    status = f"{ran} of {len(timings)} steps ran; {jobs} at a time"
    total = StepTiming(
        TOTAL,
        status,
        elapsed,
        round(sum(cpu), 2),
        "wall: this invocation from start to end; CPU: sum over the steps it ran",
    )
    write_timings(out / "timings.csv", [*timings, total])
    return timings


def log_path(out: Path, step: Step) -> Path:
    return out / "logs" / f"{step.slug}.log"


def _run_step(
    step: Step, state: str, args: list[str], out: Path, runner: Runner, shown: str, previous: dict
) -> StepTiming:
    wall = time.perf_counter()
    code, cpu_s = runner(args, log_path(out, step))
    wall_s = time.perf_counter() - wall
    status = {TODO: "ran", ALWAYS: "ran", RESUME: "resumed", RESTART: "restarted"}[state]
    if code != 0:
        status = "failed"
    elif step.kind == "evaluate":
        write_text_atomic(argv_stamp(step), json.dumps(list(step.argv)) + "\n")
    elif state == RESUME:  # the epochs done before the interruption count too
        wall_s += _float(previous.get("wall_s")) or 0.0
        cpu_s = None if cpu_s is None else cpu_s + (_float(previous.get("cpu_s")) or 0.0)
    return StepTiming(step.name, status, round(wall_s, 2), None if cpu_s is None else round(cpu_s, 2), shown)


def _keep(previous: dict, step: Step) -> StepTiming:
    row = previous[step.name]
    return StepTiming(
        step.name,
        row.get("status", ""),
        _float(row.get("wall_s")),
        _float(row.get("cpu_s")),
        row.get("command", ""),
    )


def _display(arg: str, out: Path) -> str:
    """Arguments as a user would type them: paths inside OUT relative to OUT's parent (no machine paths)."""
    path = Path(arg)
    if path.is_absolute():
        with contextlib.suppress(ValueError):
            return str(path.relative_to(out.parent))
    return arg


def _float(text: object) -> float | None:
    try:
        return float(text) if text not in (None, "") else None
    except (TypeError, ValueError):
        return None


def read_timings(path: Path) -> list[dict]:
    """Rows of a timings.csv (empty when missing or unreadable)."""
    try:
        return list(csv.DictReader(path.open(encoding="utf-8")))
    except (OSError, csv.Error):
        return []


def write_timings(path: Path, timings: list[StepTiming]) -> None:
    """timings.csv: step, status, wall_s, cpu_s, command (atomic)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(TIMINGS_COLUMNS)
    for t in timings:
        writer.writerow(
            [
                t.step,
                t.status,
                "" if t.wall_s is None else f"{t.wall_s:.2f}",
                "" if t.cpu_s is None else f"{t.cpu_s:.2f}",
                t.command,
            ]
        )
    write_text_atomic(path, buffer.getvalue())
