"""A training run directory and the files in it.

    RUN/model.pt             checkpoint of the last completed epoch (weights + resume state)
    RUN/config.json          {"config": TrainConfig, "status": "running"|"finished", "epochs_done": k, ...}
    RUN/metrics.csv          one row per epoch (see METRIC_COLUMNS); accuracies are fractions in [0, 1]
    RUN/mask_fractions.csv   masked runs: epoch, layer, masked_fraction (the paper's Table 3 over time)

Every file is rewritten atomically after each epoch. ``model.pt`` is the commit point: it also carries
the metrics and mask-fraction rows, and the other three files are rewritten after it from the same rows,
so a kill between two writes loses nothing (``--resume`` restores them from the checkpoint). One process
at a time trains a run (:meth:`RunDir.lock`).
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from specreg_cli import __version__
from specreg_cli.atomic import write_text_atomic
from specreg_cli.checkpoint import CHECKPOINT_NAME
from specreg_cli.errors import SpecregError
from specreg_cli.output_lock import hold_lock

# batch_*: running means over the epoch's SGD batches (perturbed for gauss / adversarial, training mode);
# train_*: the model at the epoch's end, in eval mode, on a fixed subset of clean training images, so
# gap = train_acc - test_acc is the generalisation gap of the paper's Figure 2 for every method
METRIC_COLUMNS = (
    "epoch",
    "lr",
    "batch_loss",
    "batch_acc",
    "train_loss",
    "train_acc",
    "test_loss",
    "test_acc",
    "gap",
    "seconds",
    "images_per_s",
    "masked_fraction",
)


STATUSES = ("running", "finished")
CONFIG_NAME, METRICS_NAME, MASK_FRACTIONS_NAME = "config.json", "metrics.csv", "mask_fractions.csv"
LOCK_NAME = ".lock"  # held (flock) by the one process training the run


@dataclass(frozen=True)
class RunState:
    """What RUN/config.json says: the run's TrainConfig (as a dict), its status and epochs done."""

    config: dict
    status: str  # "running" | "finished"
    epochs_done: int

    @property
    def finished(self) -> bool:
        return self.status == "finished"

    @property
    def epochs(self) -> int:
        """The epochs the run was asked for (its config's ``epochs``)."""
        return int(self.config.get("epochs", self.epochs_done))


@dataclass(frozen=True)
class RunDir:
    """The one reader and writer of a run directory; train, report and reproduce all go through it."""

    path: Path

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def checkpoint(self) -> Path:
        return self.path / CHECKPOINT_NAME

    @property
    def config_file(self) -> Path:
        return self.path / CONFIG_NAME

    @property
    def metrics_file(self) -> Path:
        return self.path / METRICS_NAME

    @property
    def mask_fractions_file(self) -> Path:
        return self.path / MASK_FRACTIONS_NAME

    def is_run(self) -> bool:
        """Whether the folder holds a readable run (config.json and metrics.csv, a valid state)."""
        if not (self.config_file.is_file() and self.metrics_file.is_file()):
            return False
        try:
            return self.read_state() is not None
        except SpecregError:
            return False

    def is_finished(self) -> bool:
        """Finished = config.json says so and the checkpoint is there."""
        try:
            state = self.read_state()
        except SpecregError:
            return False
        return state is not None and state.finished and self.checkpoint.is_file()

    def read_state(self) -> RunState | None:
        """RUN/config.json, validated; None for a folder without one.

        Raises :class:`SpecregError` for a config.json that is unreadable or not in this format (a
        hand-edited or foreign file must not turn into a traceback later).
        """
        if not self.config_file.exists():
            # killed between the commit point (model.pt) and config.json of the first epoch: the state
            # is the checkpoint's own record of it
            return self._state_from_checkpoint() if self.checkpoint.exists() else None
        hint = "use --force to start this run over"
        try:
            document = json.loads(self.config_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raise SpecregError(f"{self.config_file} is unreadable", hint=hint) from None
        config = document.get("config") if isinstance(document, dict) else None
        status = document.get("status") if isinstance(document, dict) else None
        done = document.get("epochs_done", 0) if isinstance(document, dict) else None
        if not isinstance(config, dict) or status not in STATUSES or type(done) is not int or done < 0:
            raise SpecregError(f"{self.config_file} is not a specreg run state", hint=hint)
        return RunState(config, status, done)

    def _state_from_checkpoint(self) -> RunState:
        """The run state that model.pt records (its config, and the epochs it holds)."""
        from specreg_cli.checkpoint import load_checkpoint

        meta = load_checkpoint(self.checkpoint).meta
        config, done, total = meta.get("config"), meta.get("epoch"), meta.get("epochs")
        if not isinstance(config, dict) or type(done) is not int or type(total) is not int or done < 0:
            raise SpecregError(
                f"{self.checkpoint} does not record its run's state", hint="use --force to start over"
            )
        return RunState(config, "finished" if done >= total else "running", done)

    def check_writable(self, resume: bool, force: bool) -> RunState | None:
        """Refuse to clobber a run; return the existing state when resuming."""
        if force:  # before reading: --force must also get past a config.json that is broken
            return None
        state = self.read_state()
        if state is None:
            if resume:
                raise SpecregError(
                    f"nothing to resume in {self.path}", hint="drop --resume to start a new run"
                )
            return None
        done, total = state.epochs_done, state.epochs
        if resume:
            if not self.checkpoint.exists():
                raise SpecregError(f"{self.path} has no {CHECKPOINT_NAME} to resume from", hint="use --force")
            return state
        if not self.checkpoint.exists():  # stopped before its first epoch was saved (older versions)
            raise SpecregError(
                f"{self.path} holds a run that stopped before its first checkpoint",
                hint="pass --force to start it over",
            )
        if state.finished:
            raise SpecregError(
                f"{self.path} already holds a finished run ({done} epochs)",
                hint="pass --force to overwrite it or choose another --out",
            )
        raise SpecregError(
            f"{self.path} holds an unfinished run ({done} of {total} epochs)",
            hint="pass --resume to continue it or --force to start over",
        )

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the run's lock while training: a second ``specreg train`` (or ``--force``) on the same
        folder is refused instead of silently interleaving its writes. A run that wrote nothing leaves
        no folder behind."""
        created = not self.path.exists()
        self.path.mkdir(parents=True, exist_ok=True)
        try:
            with hold_lock(
                self.path / LOCK_NAME,
                busy=f"{self.path} is being trained by another process right now",
                hint="wait for it to finish, or train into another --out",
            ):
                yield
        finally:
            if created and not any(self.path.iterdir()):  # a run that wrote nothing leaves no folder
                self.path.rmdir()

    def remove_temporaries(self) -> None:
        """Temporary files of atomic writes that a kill left behind (``.model.pt.XXXX.tmp``)."""
        for name in (CHECKPOINT_NAME, CONFIG_NAME, METRICS_NAME, MASK_FRACTIONS_NAME):
            for leftover in self.path.glob(f".{name}.*.tmp"):
                leftover.unlink(missing_ok=True)

    def clear(self) -> None:
        """Remove the files a run writes (and nothing else the user may keep there)."""
        for name in (CHECKPOINT_NAME, CONFIG_NAME, METRICS_NAME, MASK_FRACTIONS_NAME):
            (self.path / name).unlink(missing_ok=True)

    def write_state(self, config: dict, status: str, epochs_done: int) -> None:
        document = {
            "config": config,
            "status": status,
            "epochs_done": epochs_done,
            "specreg_version": __version__,
        }
        write_text_atomic(self.config_file, json.dumps(document, indent=1, sort_keys=True) + "\n")

    def write_metrics(self, rows: list[dict]) -> None:
        write_text_atomic(self.metrics_file, _csv(METRIC_COLUMNS, rows))

    def write_mask_fractions(self, rows: list[dict]) -> None:
        write_text_atomic(self.mask_fractions_file, _csv(("epoch", "layer", "masked_fraction"), rows))

    def read_metrics(self) -> list[dict]:
        """metrics.csv rows, numbers parsed ([] when absent)."""
        return _read_rows(self.metrics_file)

    def read_mask_fractions(self) -> list[dict]:
        """mask_fractions.csv rows (epoch, layer, masked_fraction); [] for runs without masks."""
        return _read_rows(self.mask_fractions_file)


def _read_rows(path: Path) -> list[dict]:
    if not path.exists():
        return []
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
        return [{k: (v if k == "layer" else _number(v)) for k, v in row.items()} for row in rows]
    except (OSError, ValueError, csv.Error) as error:
        raise SpecregError(
            f"{path} is unreadable ({error})", hint="use --force to start this run over"
        ) from None


def _number(text: str | None) -> float:
    return float("nan") if text in (None, "", "nan") else float(text)


def _csv(columns: tuple[str, ...], rows: list[dict]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        # rows of runs from older versions lack the newer columns: left empty
        writer.writerow({k: (int(row[k]) if k == "epoch" else row.get(k, "")) for k in columns})
    return buffer.getvalue()
