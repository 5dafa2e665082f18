"""Whether a step still has to run, from what its outputs say (so an interrupted plan resumes).

- a training run directory (read through :class:`~specreg_cli.run_dir.RunDir`): finished -> done; a
  checkpoint of an unfinished run -> resume (``train --resume``); a state without a checkpoint or an
  unreadable one -> restart (``train --force``); a run with another recipe -> refused, never mixed in
- an evaluation: done when its results file was made by this exact command line (a hidden stamp beside
  it) from exactly the current checkpoints of its runs
- a report: always (cheap, and it must see every evaluation)

``RunDir`` loads torch (through the checkpoint module), so it is imported where a state is read:
``import specreg_cli.reproduce`` stays torch-free for ``specreg --help``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from specreg_cli.errors import SpecregError
from specreg_cli.reproduce.plan import Step
from specreg_cli.train_config import saved_option  # torch-free; mask options live in the config's mask dict

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


def command_line(step: Step, state: str) -> list[str]:
    """The `specreg` arguments that carry out ``step`` in ``state`` (+ ``--resume`` / ``--force``)."""
    extra = {RESUME: ["--resume"], RESTART: ["--force"]}.get(state, []) if step.kind == "train" else []
    return [*step.argv, *extra]


def _train_state(step: Step) -> str:
    from specreg_cli.run_dir import RunDir

    run = RunDir(step.output)
    try:
        state = run.read_state()
    except SpecregError:
        return RESTART  # a run directory cut off before its first write: start it over
    if state is None:
        return TODO
    mismatch = [
        f"{key} {saved_option(state.config, key)!r} (the plan wants {value!r})"
        for key, value in step.expected
        if not _same(saved_option(state.config, key), value)
    ]
    if mismatch:
        raise SpecregError(
            f"{step.output} holds a run with another recipe: {', '.join(mismatch)}",
            hint="use another --out, or delete that run directory to retrain it",
        )
    if not run.checkpoint.exists():
        return RESTART  # e.g. a clone that has the run's small files but not its checkpoint
    return DONE if state.finished else RESUME


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
    from specreg_cli.run_dir import RunDir

    try:
        document = json.loads(step.output.read_text(encoding="utf-8"))
        recorded = {run: info["sha256"] for run, info in document["provenance"]["checkpoints"].items()}
        if json.loads(argv_stamp(step).read_text(encoding="utf-8")) != list(step.argv):
            return False
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False
    current = {}
    for run in map(RunDir, step.runs):
        if not run.checkpoint.exists():
            return False
        current[run.name] = file_sha256(run.checkpoint)
    return recorded == current
