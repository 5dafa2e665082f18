"""A training run directory and the files in it.

    RUN/model.pt             checkpoint of the last completed epoch (weights + resume state)
    RUN/config.json          {"config": TrainConfig, "status": "running"|"finished", "epochs_done": k, ...}
    RUN/metrics.csv          one row per epoch (see METRIC_COLUMNS); accuracies are fractions in [0, 1]
    RUN/mask_fractions.csv   masked runs: epoch, layer, masked_fraction (the paper's Table 3 over time)

Every file is rewritten atomically after each epoch, so an interrupted run is always resumable.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path

from specreg_cli import __version__
from specreg_cli.atomic import write_text_atomic
from specreg_cli.checkpoint import CHECKPOINT_NAME
from specreg_cli.errors import SpecregError

METRIC_COLUMNS = (
    "epoch",
    "lr",
    "train_loss",
    "train_acc",
    "test_loss",
    "test_acc",
    "gap",
    "seconds",
    "images_per_s",
    "masked_fraction",
)
OWNED_FILES = (CHECKPOINT_NAME, "config.json", "metrics.csv", "mask_fractions.csv")


@dataclass(frozen=True)
class RunDir:
    path: Path

    @property
    def checkpoint(self) -> Path:
        return self.path / CHECKPOINT_NAME

    @property
    def config_file(self) -> Path:
        return self.path / "config.json"

    def read_state(self) -> dict | None:
        """The config.json document, or None for a folder without a run."""
        if not self.config_file.exists():
            return None
        try:
            return json.loads(self.config_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raise SpecregError(
                f"{self.config_file} is unreadable", hint="use --force to start this run over"
            ) from None

    def check_writable(self, resume: bool, force: bool) -> dict | None:
        """Refuse to clobber a run; return the existing state when resuming."""
        state = self.read_state()
        if force or state is None:
            if resume and state is None:
                raise SpecregError(
                    f"nothing to resume in {self.path}", hint="drop --resume to start a new run"
                )
            return None
        done, total = state.get("epochs_done", 0), state["config"]["epochs"]
        if resume:
            if not self.checkpoint.exists():
                raise SpecregError(f"{self.path} has no {CHECKPOINT_NAME} to resume from", hint="use --force")
            return state
        if state.get("status") == "finished":
            raise SpecregError(
                f"{self.path} already holds a finished run ({done} epochs)",
                hint="pass --force to overwrite it or choose another --out",
            )
        raise SpecregError(
            f"{self.path} holds an unfinished run ({done} of {total} epochs)",
            hint="pass --resume to continue it or --force to start over",
        )

    def clear(self) -> None:
        """Remove the files a run writes (and nothing else the user may keep there)."""
        for name in OWNED_FILES:
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
        write_text_atomic(self.path / "metrics.csv", _csv(METRIC_COLUMNS, rows))

    def write_mask_fractions(self, rows: list[dict]) -> None:
        write_text_atomic(self.path / "mask_fractions.csv", _csv(("epoch", "layer", "masked_fraction"), rows))

    def read_csv_rows(self, name: str) -> list[dict]:
        """Rows of metrics.csv / mask_fractions.csv with numbers parsed (for resuming)."""
        path = self.path / name
        if not path.exists():
            return []
        rows = list(csv.DictReader(path.open(encoding="utf-8")))
        return [
            {
                k: (v if k == "layer" else float(v) if v not in ("", "nan") else float("nan"))
                for k, v in r.items()
            }
            for r in rows
        ]


def _csv(columns: tuple[str, ...], rows: list[dict]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: (int(row[k]) if k == "epoch" else row[k]) for k in columns})
    return buffer.getvalue()
