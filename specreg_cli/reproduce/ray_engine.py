"""The Ray engine: each step of a plan a Ray task, on a Ray instance started here or on a cluster.

- **One task per step**, running :func:`~specreg_cli.reproduce.runner.run_step` (the local engine's unit
  of work: skip when done, train ``--resume`` after an interruption, the step's command in a child
  process with its log in OUT/logs/). It asks for the CPUs of its torch threads (``--threads``, default 1)
  and, for a step that runs a model (train, evaluate) on cuda, one GPU; reports ask for CPUs only.
- **Dependencies are Ray's**: a task gets the ObjectRefs of the steps it reads as arguments, so Ray starts
  an evaluation when its training has finished and the reports after every evaluation. No scheduler here:
  the driver submits the whole plan and books the steps as they finish (:class:`~.runner.Ledger`).
- **Faults**: a task whose worker dies (killed, out of memory, its node lost) is retried up to
  :data:`RETRIES` times. The retry looks at the outputs again, so a training continues from its last
  checkpoint (``train --resume``). A step's child process dies with its worker (``die_with_parent``), so
  no orphan keeps training or holds the run's lock. As with the local engine, after a failed step no new
  step starts (a stop file the tasks look for), the running ones finish, then
  :class:`~.runner.StepFailed`.
- **A shared file system**: every task reads and writes OUT. The driver writes a marker OUT/.ray-<token>;
  before any step one probe task per node checks that it sees it, and each step task checks again (a node
  that joined later); a node that can't is refused with one error line. The marker goes at the end.

Ray is imported when a plan runs, so ``specreg --help`` and the local engine need no Ray.

Example::

    timings = run_plan_ray(steps, Path("reports/demo"), EngineSettings(device="cpu", threads=1))
"""

from __future__ import annotations

import contextlib
import functools
import os
import secrets
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from specreg_cli.atomic import write_text_atomic
from specreg_cli.errors import SpecregError
from specreg_cli.reproduce.engines import EngineSettings, OnEnd
from specreg_cli.reproduce.plan import Step
from specreg_cli.reproduce.runner import Ledger, default_jobs, run_step, run_subprocess
from specreg_cli.reproduce.timings import StepTiming

RETRIES = 3  # runs of a step whose worker died, after the first (each resumes from the outputs)
MODEL_KINDS = ("train", "evaluate")  # steps that run a model: on cuda each asks for one GPU
SHARED_HINT = (
    "on a Ray cluster --out must be a shared file system (NFS, Lustre, ...) mounted at the same path on "
    "every node, and specreg installed on every node"
)


@dataclass(frozen=True)
class Outcome:
    """What a step task returns: its timing, or nothing (an input failed, or the plan stopped), or a
    user error (a SpecregError's message and hint: the exception itself would lose its hint on the way)."""

    timing: StepTiming | None = None
    error: str | None = None
    hint: str | None = None


@dataclass(frozen=True)
class Marker:
    """OUT/.ray-<token>: what every node must see; ``stop`` beside it tells tasks not to start."""

    path: Path
    token: str

    @property
    def stop(self) -> Path:
        return self.path.with_name(self.path.name + ".stop")

    def seen(self) -> bool:
        try:
            return self.path.read_text(encoding="utf-8") == self.token
        except OSError:
            return False


def step_cpus(settings: EngineSettings) -> int:
    """CPUs each task asks for: its torch threads (``--threads``), one by default."""
    return settings.threads or 1


def local_cpus(settings: EngineSettings) -> int:
    """CPUs of a Ray instance started here: ``--jobs`` steps (one per core, at most 4) of their CPUs."""
    return (settings.jobs or default_jobs(cuda=False)) * step_cpus(settings)


def describe(settings: EngineSettings) -> str:
    where = (
        f"on the Ray cluster at {settings.address}"
        if settings.address
        else f"on Ray started here with {local_cpus(settings)} CPUs"
    )
    cpus = step_cpus(settings)
    gpu = "" if settings.device == "cpu" else ", a model step on cuda one GPU more"
    return f"as Ray tasks of {cpus} CPU{'s' * (cpus > 1)} each{gpu}, {where}"


def resources(step: Step, settings: EngineSettings, gpu: bool) -> dict:
    """A step's Ray resource request: its CPUs, and one GPU when it runs a model on cuda."""
    return {"num_cpus": step_cpus(settings), "num_gpus": 1 if gpu and step.kind in MODEL_KINDS else 0}


def wants_gpu(device: str, cluster_gpus: float) -> bool:
    """Whether model steps ask for a GPU: ``cuda`` (refused on a cluster without one), ``auto`` when the
    cluster has GPUs; ``cpu`` never."""
    if device == "cpu":
        return False
    if device.startswith("cuda") and not cluster_gpus:
        raise SpecregError(
            f"--device {device}, but the Ray cluster has no GPU", hint="use --device cpu or auto, or add GPUs"
        )
    return cluster_gpus > 0


def run_plan_ray(
    steps: list[Step], out_dir: str | Path, settings: EngineSettings, on_end: OnEnd = None
) -> list[StepTiming]:
    """Carry out ``steps`` as Ray tasks (see the module's docstring); the same outputs, OUT/timings.csv
    and errors as :func:`~specreg_cli.reproduce.runner.run_plan`. Ray already initialised in this process
    (a notebook, the tests) is used as it is; else it is started here (``settings.address`` None) or
    joined, and shut down at the end."""
    ray = _import_ray()
    out = Path(out_dir).expanduser().resolve()
    started_here = _connect(ray, settings)
    try:
        gpu = wants_gpu(settings.device, ray.cluster_resources().get("GPU", 0))
        with _marker(out) as marker:
            check_nodes_see(ray, marker, out)
            ledger = Ledger(steps, out, on_end)
            refs = _submit(ray, steps, out, settings, gpu, marker, ledger)
            _collect(ray, refs, ledger, marker)
        return ledger.close(describe(settings))
    finally:
        if started_here:
            ray.shutdown()


def check_nodes_see(ray, marker: Marker, out: Path) -> None:
    """One probe task on every live node of the cluster: :class:`SpecregError` naming the first node that
    doesn't see ``marker`` (so --out isn't the shared file system it must be)."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    nodes = [node for node in ray.nodes() if node.get("Alive")]
    probe = ray.remote(_probe)
    refs = [
        probe.options(
            num_cpus=0, scheduling_strategy=NodeAffinitySchedulingStrategy(node["NodeID"], soft=False)
        ).remote(marker)
        for node in nodes
    ]
    for node, host in zip(nodes, ray.get(refs), strict=True):
        if host is not None:
            raise SpecregError(
                f"--out {out} is not visible on the Ray node {host} ({node.get('NodeManagerAddress')})",
                hint=SHARED_HINT,
            )


def _probe(marker: Marker) -> str | None:
    """On one node: None when it sees the driver's marker, else the node's host name."""
    return None if marker.seen() else socket.gethostname()


def _step_task(
    step: Step, out: Path, marker: Marker, previous: dict | None, threads: int, cwd: str, *inputs: Outcome
) -> Outcome:
    """One step on a Ray worker, after the steps it reads (``inputs``, their outcomes)."""
    try:
        if not marker.seen():
            host = socket.gethostname()
            raise SpecregError(f"--out {out} is not visible on the Ray node {host}", hint=SHARED_HINT)
        if marker.stop.exists() or any(i.timing is None or i.timing.status == "failed" for i in inputs):
            return Outcome()  # as the local engine: nothing starts after a failure
        with contextlib.suppress(OSError):  # relative defaults (--data-dir data) as on the driver
            os.chdir(cwd)
        runner = functools.partial(run_subprocess, threads=threads, die_with_parent=True)
        return Outcome(run_step(step, out, runner, previous))
    except SpecregError as error:
        return Outcome(error=error.message, hint=error.hint)


def _submit(ray, steps: list[Step], out: Path, settings: EngineSettings, gpu: bool, marker: Marker, ledger):
    """Every step as a task, in plan order, with the refs of the steps it reads as arguments."""
    task = ray.remote(_step_task)
    refs: dict[str, object] = {}
    for step in steps:
        missing = [name for name in step.after if name not in refs]
        if missing:
            raise ValueError(
                f"step {step.name!r} reads {missing}, which come later in the plan or not at all"
            )
        refs[step.name] = task.options(
            name=step.name, max_retries=RETRIES, **resources(step, settings, gpu)
        ).remote(
            step,
            out,
            marker,
            ledger.previous.get(step.name),
            step_cpus(settings),
            str(Path.cwd()),
            *[refs[name] for name in step.after],
        )
    return {ref: step for step, ref in zip(steps, refs.values(), strict=True)}


def _collect(ray, refs: dict, ledger: Ledger, marker: Marker) -> None:
    """Book each step as its task ends; after a failure, stop new steps. Then raise the first user error
    (in plan order), if any; failed commands are raised by ``ledger.close``."""
    errors: dict[str, SpecregError] = {}
    waiting = dict(refs)
    while waiting:
        (ref,), _ = ray.wait(list(waiting), num_returns=1)
        step = waiting.pop(ref)
        outcome = _outcome(ray, ref, step)
        if outcome.error is not None:
            errors[step.name] = SpecregError(outcome.error, hint=outcome.hint)
        elif outcome.timing is not None:
            ledger.record(step, outcome.timing)
        if errors or ledger.failed:
            write_text_atomic(marker.stop, "stop\n")
    first = next((errors[s.name] for s in ledger.steps if s.name in errors), None)
    if first is not None:
        raise first


def _outcome(ray, ref, step: Step) -> Outcome:
    """A task's outcome; a task lost for good (its worker died on every try) as a user error. A bug in the
    task (RayTaskError) keeps its traceback."""
    try:
        return ray.get(ref)
    except ray.exceptions.RayTaskError:
        raise
    except ray.exceptions.RayError as error:
        cause = (str(error).strip().splitlines() or [type(error).__name__])[0]
        return Outcome(
            error=f"step '{step.name}' was lost on Ray after {RETRIES + 1} tries: {cause}",
            hint="run the same command again: finished steps are skipped, trainings resume",
        )


def _connect(ray, settings: EngineSettings) -> bool:
    """Ray for this plan; True when it was started (or joined) here and must be shut down after."""
    if ray.is_initialized():
        return False
    if settings.address is not None and settings.jobs is not None:
        raise SpecregError("--jobs sizes a Ray started here; a cluster has its own size", hint="drop --jobs")
    options = {"address": "local", "num_cpus": local_cpus(settings)}  # "local": never a RAY_ADDRESS's
    if settings.address is not None:
        options = {"address": settings.address}
    try:
        ray.init(**options, include_dashboard=False, log_to_driver=False, logging_level="warning")
    except (ConnectionError, ValueError, RuntimeError) as error:
        raise SpecregError(
            f"could not start or join Ray ({settings.address or 'local'}): {error}",
            hint="check --ray-address (e.g. auto, or HEAD_IP:6379 of a cluster started with `ray start`)",
        ) from error
    return True


@contextlib.contextmanager
def _marker(out: Path) -> Iterator[Marker]:
    out.mkdir(parents=True, exist_ok=True)
    token = secrets.token_hex(8)
    marker = Marker(out / f".ray-{token}", token)
    write_text_atomic(marker.path, token)
    try:
        yield marker
    finally:
        marker.path.unlink(missing_ok=True)
        marker.stop.unlink(missing_ok=True)


def _import_ray():
    try:
        import ray
    except ImportError as error:
        raise SpecregError(
            "--engine ray needs Ray, which is not installed", hint="pip install 'specreg[ray]'"
        ) from error
    return ray
