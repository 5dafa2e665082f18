"""What carries out a plan: the engines of ``specreg reproduce --engine``, one entry each.

- ``local`` (the default): :func:`~specreg_cli.reproduce.runner.run_plan`, a thread pool of child
  processes on this machine, ``--jobs`` steps at a time.
- ``ray``: :func:`~specreg_cli.reproduce.ray_engine.run_plan_ray`, each step a Ray task on a Ray instance
  started here, or on a cluster (``--ray-address``); Ray is an optional extra (``specreg[ray]``).

Both run each step with :func:`~specreg_cli.reproduce.runner.run_step` and book it in a
:class:`~specreg_cli.reproduce.runner.Ledger`, so they skip, resume, time and report alike; only who
schedules the steps differs. Torch- and Ray-free at import (``specreg --help`` lists the engines).

Example::

    engine = ENGINES["ray"]
    timings = engine.run(steps, Path("reports/demo"), EngineSettings(device="cpu"), None, None)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from specreg_cli.errors import SpecregError
from specreg_cli.reproduce.plan import Step
from specreg_cli.reproduce.timings import StepTiming

OnStart = Callable[[int, Step, str], None] | None
OnEnd = Callable[[int, Step, StepTiming], None] | None


@dataclass(frozen=True)
class EngineSettings:
    """How to carry out a plan: the CLI's ``--jobs``, ``--threads``, ``--device`` and ``--ray-address``."""

    jobs: int | None = None  # steps at once (local engine; the size of a Ray instance started here)
    threads: int | None = None  # torch threads of each step (the CPUs a Ray task asks for)
    device: str = "auto"  # the steps' --device: whether a step needs a GPU
    address: str | None = None  # a Ray cluster to join (None: start Ray on this machine)


@dataclass(frozen=True)
class Engine:
    name: str
    help: str  # one line for --engine's help
    run: Callable[[list[Step], Path, EngineSettings, OnStart, OnEnd], list[StepTiming]]
    describe: Callable[[EngineSettings], str]  # how the steps will run, in words, before they do


def uses_cuda(device: str) -> bool:
    """Whether this machine's steps will run on a GPU (``auto`` with one visible); loads torch."""
    if device == "cpu":
        return False
    import torch

    return torch.cuda.is_available()


def local_jobs(settings: EngineSettings) -> int:
    """Steps at once: ``--jobs``, else 1 on a GPU and one per core (at most 4) on a CPU."""
    from specreg_cli.reproduce.runner import default_jobs

    if settings.address is not None:
        raise SpecregError("--ray-address is for --engine ray", hint="add --engine ray or drop it")
    return settings.jobs or default_jobs(cuda=uses_cuda(settings.device))


def _run_local(steps, out, settings: EngineSettings, on_start: OnStart, on_end: OnEnd) -> list[StepTiming]:
    from specreg_cli.reproduce import runner

    jobs = local_jobs(settings)
    return runner.run_plan(
        steps,
        out,
        runner=runner.subprocess_runner(jobs, threads=settings.threads),
        jobs=jobs,
        on_start=on_start,
        on_end=on_end,
    )


def _describe_local(settings: EngineSettings) -> str:
    from specreg_cli.reproduce.runner import threads_per_step

    jobs = local_jobs(settings)
    each = threads_per_step(jobs, threads=settings.threads)
    return f"{jobs} at a time" + (f", {each} thread{'s' * (each > 1)} each" if each else "")


def _run_ray(steps, out, settings: EngineSettings, on_start: OnStart, on_end: OnEnd) -> list[StepTiming]:
    from specreg_cli.reproduce.ray_engine import run_plan_ray

    return run_plan_ray(steps, out, settings, on_end=on_end)


def _describe_ray(settings: EngineSettings) -> str:
    from specreg_cli.reproduce.ray_engine import describe

    return describe(settings)


ENGINES = {
    "local": Engine(
        "local", "child processes on this machine, --jobs at a time", _run_local, _describe_local
    ),
    "ray": Engine(
        "ray",
        "each step a Ray task, on Ray started here or the cluster at --ray-address (pip install "
        "'specreg[ray]'; on a cluster --out must be a shared file system)",
        _run_ray,
        _describe_ray,
    ),
}
DEFAULT_ENGINE = "local"


def get_engine(name: str) -> Engine:
    if name not in ENGINES:
        raise SpecregError(f"unknown engine {name!r}", hint=f"valid choices: {', '.join(ENGINES)}")
    return ENGINES[name]
