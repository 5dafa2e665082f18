"""The whole comparison as a resumable plan of ``specreg`` commands: presets, the step planner, the runner.

A preset says what to train and evaluate; :func:`plan` turns it into steps, each one ``specreg`` command
line whose output file marks it done, and each waiting only for the steps it reads: a training per method
of the method registry, per run a corruption evaluation and the preset's attacks, then the reports.

Resuming: :func:`step_state` looks at the outputs. A finished training run, or a results file whose
recorded checkpoint hash equals the run's current checkpoint, is skipped; an unfinished training run
continues with ``--resume``; everything else (and the cheap reports, always) runs. A run directory
trained with another recipe is refused rather than silently mixed in.

:func:`run_plan` runs each step as ``python -m specreg_cli ...`` in a subprocess (output in
OUT/logs/<step>.log), independent steps side by side with ``jobs > 1``, and writes each step's wall and CPU
seconds to OUT/timings.csv as steps finish. That is the ``local`` engine; the ``ray`` engine
(:mod:`~specreg_cli.reproduce.ray_engine`) runs the same steps, each with the same :func:`run_step`, as Ray
tasks (:data:`ENGINES`). :func:`sweep` makes one plan of several presets.

One concept per module: :mod:`~specreg_cli.reproduce.presets`, :mod:`~specreg_cli.reproduce.plan`,
:mod:`~specreg_cli.reproduce.state`, :mod:`~specreg_cli.reproduce.runner`,
:mod:`~specreg_cli.reproduce.timings`, :mod:`~specreg_cli.reproduce.engines`,
:mod:`~specreg_cli.reproduce.ray_engine`, :mod:`~specreg_cli.reproduce.sweep`. Torch- and Ray-free at
import (the CLI's ``--help`` reads the presets).

Example::

    steps = plan(PRESETS["demo"], Path("reports/demo"), seed=0, device="cpu")
    timings = run_plan(steps, Path("reports/demo"), runner=subprocess_runner(jobs=2), jobs=2)
"""

from specreg_cli.reproduce.engines import DEFAULT_ENGINE, ENGINES, Engine, EngineSettings, get_engine
from specreg_cli.reproduce.plan import Step, plan
from specreg_cli.reproduce.presets import (
    PRESETS,
    PUBLIC_PRESETS,
    Arm,
    AttackPlan,
    Preset,
    corruption_source,
    dataset_text,
    get_preset,
)
from specreg_cli.reproduce.runner import (
    Ledger,
    Runner,
    StepFailed,
    available_cores,
    child_env,
    default_jobs,
    failure_cause,
    log_path,
    run_plan,
    run_step,
    run_subprocess,
    subprocess_runner,
    threads_per_step,
)
from specreg_cli.reproduce.state import (
    ALWAYS,
    DONE,
    RESTART,
    RESUME,
    TODO,
    argv_stamp,
    command_line,
    step_state,
)
from specreg_cli.reproduce.sweep import sweep
from specreg_cli.reproduce.timings import TIMINGS_COLUMNS, TOTAL, StepTiming, read_timings, write_timings

__all__ = [
    "Arm",
    "ALWAYS",
    "DEFAULT_ENGINE",
    "DONE",
    "ENGINES",
    "Engine",
    "EngineSettings",
    "Ledger",
    "PRESETS",
    "PUBLIC_PRESETS",
    "RESTART",
    "RESUME",
    "TIMINGS_COLUMNS",
    "TODO",
    "TOTAL",
    "AttackPlan",
    "Preset",
    "Runner",
    "Step",
    "StepFailed",
    "StepTiming",
    "argv_stamp",
    "available_cores",
    "child_env",
    "command_line",
    "corruption_source",
    "dataset_text",
    "default_jobs",
    "failure_cause",
    "get_engine",
    "get_preset",
    "log_path",
    "plan",
    "read_timings",
    "run_plan",
    "run_step",
    "run_subprocess",
    "step_state",
    "subprocess_runner",
    "sweep",
    "threads_per_step",
    "write_timings",
]
