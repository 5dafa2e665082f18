"""Carrying out a plan: each step as ``python -m specreg_cli ...`` in a subprocess, several side by side.

A subprocess per step, its output into OUT/logs/<step>.log, so a crash in one step can't take the plan's
bookkeeping with it. With ``jobs > 1`` independent steps run at once, each with ``cores // jobs`` threads
(or ``--threads``): on a small CPU two single-threaded processes get more out of two cores than one
process with two threads (ResNet-20's 32x32 convolutions and the FFTs of the masks parallelise poorly
inside one process). The threads reach the children as OMP_NUM_THREADS / MKL_NUM_THREADS, which torch
reads at start-up, so no child command needs a ``--threads`` option of its own.

A failed step stops the plan (the running ones finish) with :class:`StepFailed`, which names the step,
the cause (its log's last error line) and the log.

Example::

    timings = run_plan(steps, Path("reports/demo"), runner=subprocess_runner(jobs=2), jobs=2)
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from pathlib import Path

from specreg_cli.atomic import write_text_atomic
from specreg_cli.cores import available_cores
from specreg_cli.errors import SpecregError
from specreg_cli.reproduce.plan import Step
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
from specreg_cli.reproduce.timings import TOTAL, StepTiming, kept_timing, read_timings, seconds, write_timings

Runner = Callable[[list[str], Path], tuple[int, float | None]]  # (arguments, log) -> (exit code, CPU seconds)
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")  # what torch's intra-op pool sizes itself by
CAUSE_CHARS = 300  # at most this much of a failed step's log goes into the error line
BOX_CHARS = "│╭╮╰╯─┃━ "  # Rich panels (Typer's usage errors) around a log line


class StepFailed(SpecregError):
    """A step's command exited with an error."""


def child_env(threads: int | None = None) -> dict[str, str]:
    """A child's environment: this one, wide Rich tables for the log, and ``threads`` torch threads."""
    env = {**os.environ, "COLUMNS": os.environ.get("COLUMNS", "120")}  # readable Rich tables in the log
    if threads:
        env.update(dict.fromkeys(THREAD_VARIABLES, str(threads)))
    return env


def run_subprocess(
    args: list[str], log: Path, threads: int | None = None, die_with_parent: bool = True
) -> tuple[int, float | None]:
    """Run ``python -m specreg_cli ARGS`` with stdout and stderr into ``log``: (exit code, CPU seconds of
    the child). ``threads``: torch's intra-op threads in the child (default: torch's choice).
    ``die_with_parent`` (Linux): the child is killed when the thread that started it dies (with its
    process: ``kill -9`` of reproduce, or of a Ray worker), so no orphan goes on training and holding its
    run's lock while a rerun or a retried step starts. The starting thread waits for the child, so it
    never ends first."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w", encoding="utf-8") as fh:
        child = subprocess.Popen(
            [sys.executable, "-m", "specreg_cli", *args],
            stdout=fh,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=child_env(threads),
            preexec_fn=_kill_with_parent() if die_with_parent else None,
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


def _kill_with_parent() -> Callable[[], None] | None:
    """A pre-exec hook asking Linux to SIGKILL the child when its parent dies (prctl PR_SET_PDEATHSIG);
    None elsewhere. The C function is looked up here, before the fork: the hook itself only calls it."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes
    import signal

    prctl = ctypes.CDLL(None, use_errno=True).prctl
    set_death_signal, kill = 1, int(signal.SIGKILL)  # PR_SET_PDEATHSIG from <linux/prctl.h>
    return lambda: prctl(set_death_signal, kill)


def threads_per_step(jobs: int, cores: int | None = None, threads: int | None = None) -> int | None:
    """Torch threads of each child: ``threads`` when given, else ``cores // jobs`` when several steps run
    at once, else None (one step alone: torch's choice, all cores)."""
    if threads is None and jobs > 1:
        threads = max(1, (cores or available_cores()) // jobs)
    return threads


def subprocess_runner(jobs: int, cores: int | None = None, threads: int | None = None) -> Runner:
    """:func:`run_subprocess` with :func:`threads_per_step` threads in every child."""
    return functools.partial(run_subprocess, threads=threads_per_step(jobs, cores, threads))


def default_jobs(cuda: bool, cores: int | None = None) -> int:
    """Steps at once: 1 on a GPU (one device to share), else one per core, at most 4."""
    return 1 if cuda else max(1, min(4, cores or available_cores()))


def log_path(out: Path, step: Step) -> Path:
    return out / "logs" / f"{step.slug}.log"


def failure_cause(log: Path) -> str:
    """Why a step failed, from its log: the last ``error: ...`` line (specreg's one red line), else the last
    line with text (a traceback's exception, a usage error); box drawing and the ``error:`` prefix removed."""
    try:
        text = log.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "no log"
    lines = [line.strip().strip(BOX_CHARS).strip() for line in text.splitlines()]
    lines = [line for line in lines if line and line.lower() != "error"]  # "Error" alone: a panel's title
    errors = [line for line in lines if line.lower().startswith("error:")]
    cause = (errors or lines or ["empty log"])[-1]
    cause = cause[len("error:") :].strip() if cause.lower().startswith("error:") else cause
    return cause if len(cause) <= CAUSE_CHARS else cause[: CAUSE_CHARS - 3] + "..."


def run_step(
    step: Step,
    out: Path,
    runner: Runner,
    previous: dict | None = None,
    on_start: Callable[[Step, str], None] | None = None,
) -> StepTiming:
    """One step as its outputs call for: skipped when done (keeping the seconds ``previous``, its row of
    the last timings.csv, gives), else its command run by ``runner`` (a training with ``--resume`` or
    ``--force`` as its run directory says). The unit of work of every engine: the local thread pool and
    each Ray task call this, so the engines skip, resume and time steps alike."""
    previous = previous or {}
    state = step_state(step)
    args = command_line(step, state)
    shown = "specreg " + " ".join(_display(a, out) for a in args)
    if on_start:
        on_start(step, state)
    if state == DONE:
        old = kept_timing(previous, status="skipped")
        return StepTiming(step.name, old.status, old.wall_s, old.cpu_s, shown)
    return _run_step(step, state, args, out, runner, shown, previous)


class Ledger:
    """What became of a plan's steps, for every engine: OUT/timings.csv rewritten (in plan order) after
    each step, ``on_end(index, step, timing)`` called, and at :meth:`close` the first failure raised or
    the total row written. ``previous``: the rows of the timings.csv found at the start, by step."""

    def __init__(self, steps: list[Step], out: Path, on_end: Callable[[int, Step, StepTiming], None] | None):
        self.steps, self.out, self.on_end = steps, out, on_end
        self.previous = {row["step"]: row for row in read_timings(out / "timings.csv")}
        self.index = {step.name: i for i, step in enumerate(steps)}
        self.finished: dict[str, StepTiming] = {}
        self.started = time.perf_counter()
        self._lock = threading.Lock()

    @property
    def failed(self) -> bool:
        return any(t.status == "failed" for t in self.finished.values())

    def record(self, step: Step, timing: StepTiming) -> None:
        with self._lock:
            self.finished[step.name] = timing
            rows = [
                self.finished.get(s.name) or kept_timing(self.previous[s.name])
                for s in self.steps
                if s.name in self.finished or s.name in self.previous
            ]
            write_timings(self.out / "timings.csv", rows)
        if self.on_end:
            self.on_end(self.index[step.name], step, timing)

    def close(self, how: str) -> list[StepTiming]:
        """The timings in plan order, with the total row (``how`` the steps ran) written; or
        :class:`StepFailed` for the first failed step."""
        _raise_on_failure(self.steps, self.finished, self.out)
        timings = [self.finished[s.name] for s in self.steps]
        total = _total(timings, time.perf_counter() - self.started, how)
        write_timings(self.out / "timings.csv", [*timings, total])
        return timings


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
    then :class:`StepFailed` (a SpecregError naming the step, the cause and its log) is raised.
    """
    if jobs < 1:
        raise SpecregError(f"--jobs must be at least 1, got {jobs}")
    out = Path(out_dir).expanduser().resolve()
    ledger = Ledger(steps, out, on_end)
    started = (lambda step, state: on_start(ledger.index[step.name], step, state)) if on_start else None

    def execute(step: Step) -> None:
        ledger.record(step, run_step(step, out, runner, ledger.previous.get(step.name), started))

    pending, running = list(steps), {}
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        while pending or running:
            for step in [] if ledger.failed else list(pending):
                if len(running) >= jobs:
                    break
                if not all(name in ledger.finished for name in step.after):
                    continue
                pending.remove(step)
                running[pool.submit(execute, step)] = step
            if not running:
                break
            done, _ = wait(list(running), return_when=FIRST_COMPLETED)
            for future in done:
                running.pop(future)
                future.result()  # a bug in a worker (or a refused run directory) surfaces here
    return ledger.close(f"{jobs} at a time")


def _raise_on_failure(steps: list[Step], finished: dict[str, StepTiming], out: Path) -> None:
    """:class:`StepFailed` for the first failed step in plan order, with the cause from its log."""
    failures = [s for s in steps if s.name in finished and finished[s.name].status == "failed"]
    if failures:
        log = log_path(out, failures[0])
        raise StepFailed(
            f"step '{failures[0].name}' failed: {failure_cause(log)}; its output is in {log}",
            hint="fix the cause and run the same command again: finished steps are skipped",
        )


def _total(timings: list[StepTiming], elapsed: float, how: str) -> StepTiming:
    """The last row of timings.csv: this invocation's wall clock and the CPU seconds of the steps it ran."""
    cpu = [t.cpu_s for t in timings if t.status != "skipped" and t.cpu_s is not None]
    ran = sum(t.status != "skipped" for t in timings)
    return StepTiming(
        TOTAL,
        f"{ran} of {len(timings)} steps ran; {how}",
        round(elapsed, 2),
        round(sum(cpu), 2),
        "wall: this invocation from start to end; CPU: sum over the steps it ran",
    )


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
        wall_s += seconds(previous.get("wall_s")) or 0.0
        cpu_s = None if cpu_s is None else cpu_s + (seconds(previous.get("cpu_s")) or 0.0)
    return StepTiming(step.name, status, round(wall_s, 2), None if cpu_s is None else round(cpu_s, 2), shown)


def _display(arg: str, out: Path) -> str:
    """Arguments as a user would type them: paths inside OUT relative to OUT's parent (no machine paths)."""
    path = Path(arg)
    if path.is_absolute():
        with contextlib.suppress(ValueError):
            return str(path.relative_to(out.parent))
    return arg
