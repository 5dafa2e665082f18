"""What a report reads: result records (with each results file's provenance) and run directories.

Results files are read by :mod:`specreg_cli.results`, run directories by :class:`~specreg_cli.run_dir.RunDir`
(the one owner of that format); this module only finds them and puts them side by side.

A run is named by its folder. Two run directories of the same name (``A/runs/natural``, ``B/runs/natural``)
would collide in every table keyed by run, so each of them is named by as many parent folders as tell them
apart, and the records whose provenance points at that run's checkpoint are renamed with it.

Example::

    inputs = load_inputs(["results/", "runs/"])   # files as given, folders searched recursively
    [run.name for run in inputs.runs]             # ["adversarial", "gauss", "masked", "natural"]
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from specreg_cli.errors import SpecregError
from specreg_cli.results import read_documents, records_frame

if TYPE_CHECKING:
    from specreg_cli.run_dir import RunDir

CONFIG_NAME = "config.json"  # what marks a candidate run directory while searching a folder


@dataclass
class RunInfo:
    """A training run directory: its report name, train config and per-epoch tables."""

    name: str  # the folder's name, or a longer tail of its path where two runs share a name
    path: Path
    config: dict  # the TrainConfig dict of RUN/config.json
    status: str  # "finished" | "running"
    epochs_done: int
    metrics: pd.DataFrame  # RUN/metrics.csv (epoch, train_acc, test_acc, gap, ...)
    mask_fractions: pd.DataFrame | None  # RUN/mask_fractions.csv (epoch, layer, masked_fraction), masked runs

    @property
    def run_dir(self) -> RunDir:
        from specreg_cli.run_dir import RunDir  # run_dir loads torch (checkpoint): only when a run is read

        return RunDir(self.path)

    @property
    def checkpoint(self) -> Path:
        return self.run_dir.checkpoint


@dataclass
class ReportInputs:
    """Everything a report reads: result records, each results file's provenance, run directories."""

    records: pd.DataFrame  # results.records_frame() of every results file
    provenances: list[dict]  # one per results file, with "source" (absolute path) added
    runs: list[RunInfo]  # sorted by name

    @property
    def external_runs(self) -> dict[str, dict]:
        """Run name -> what the results files record about an external model (``--model``): its factory,
        kwargs, weights hash and normalisation (``ExternalModel.provenance``, specreg_cli.external_model)."""
        found = {}
        for prov in self.provenances:
            for run, info in (prov.get("checkpoints") or {}).items():
                if isinstance(info, dict) and isinstance(info.get("external"), dict):
                    found[run] = info["external"]
        return dict(sorted(found.items()))


def load_inputs(paths: list[str | Path]) -> ReportInputs:
    """Results files (files as given, folders searched recursively) and run directories found in folders.

    Each results file is read once; records and provenances come from the same parsed documents.
    Raises :class:`SpecregError` when a path is missing, a file given is broken or no record is found.
    """
    # a dict: a file given twice (say, a folder and a file in it) counts once; sorted for the same bytes
    documents = sorted(dict(read_documents(paths)).items(), key=lambda item: item[0])
    if not documents:
        raise SpecregError(
            "no results files found in " + ", ".join(map(str, paths)),
            hint="pass files or folders written by `specreg eval-corruptions` or `specreg attack`",
        )
    runs = find_runs(paths)
    records = _rename_records(records_frame(documents), documents, runs)
    provenances = [
        {**(document.get("provenance") or {}), "source": str(path)} for path, document in documents
    ]
    return ReportInputs(records, provenances, runs)


def find_runs(paths: list[str | Path]) -> list[RunInfo]:
    """Run directories among ``paths`` and inside the folders among them, sorted by name then path."""
    found: dict[Path, RunInfo] = {}
    for root in (Path(p).expanduser().resolve() for p in paths):
        if not root.is_dir():
            continue
        for config_file in sorted([root / CONFIG_NAME, *root.rglob(CONFIG_NAME)]):
            run = read_run(config_file.parent)
            if run is not None:
                found[run.path] = run
    names = unique_names(list(found))
    for path, run in found.items():
        run.name = names[path]
    return sorted(found.values(), key=lambda r: (r.name, str(r.path)))


def read_run(path: Path) -> RunInfo | None:
    """The run directory at ``path``, or None when it is not one (see ``RunDir.is_run``).

    Raises :class:`SpecregError` when its metrics.csv or mask_fractions.csv is unreadable.
    """
    from specreg_cli.run_dir import RunDir  # loads torch (checkpoint): only once a folder is a candidate

    run_dir = RunDir(Path(path))
    if not run_dir.is_run():
        return None
    state = run_dir.read_state()
    fractions = _frame(run_dir.read_mask_fractions())
    return RunInfo(
        run_dir.name,
        run_dir.path,
        state.config,
        state.status,
        state.epochs_done,
        _frame(run_dir.read_metrics()),
        fractions if len(fractions) else None,
    )


def _frame(rows: list[dict]) -> pd.DataFrame:
    """RunDir's rows as a DataFrame; epochs as integers (RunDir parses every number as a float)."""
    frame = pd.DataFrame(rows)
    if "epoch" in frame:
        frame["epoch"] = frame["epoch"].astype("int64")
    return frame


def unique_names(paths: list[Path]) -> dict[Path, str]:
    """Each run directory's name in the report: its folder's name, or, where several share it, the
    shortest tail of their paths that tells them apart (``A/runs/natural`` and ``B/runs/natural``)."""
    by_name: dict[str, list[Path]] = defaultdict(list)
    for path in paths:
        by_name[path.name].append(path)
    names = {}
    for group in by_name.values():
        depth = 1
        while len({_tail(p, depth) for p in group}) < len(group):
            depth += 1
        names |= {p: _tail(p, depth) for p in group}
    return names


def _tail(path: Path, depth: int) -> str:
    return "/".join(path.parts[-depth:]).replace("//", "/")


def _rename_records(records: pd.DataFrame, documents: list[tuple[Path, dict]], runs: list[RunInfo]):
    """Give the records of a renamed run (see :func:`unique_names`) that run's name: a results file's
    provenance says which checkpoint each of its runs was evaluated from."""
    renamed = {run.checkpoint: run.name for run in runs if run.name != run.path.name}
    if not renamed:
        return records
    records = records.copy()
    for source, document in documents:
        checkpoints = (document.get("provenance") or {}).get("checkpoints") or {}
        for run, info in checkpoints.items():
            path = info.get("path") if isinstance(info, dict) else None
            name = renamed.get(Path(path).expanduser().resolve()) if path else None
            if name is not None:
                records.loc[(records["source"] == str(source)) & (records["run"] == run), "run"] = name
    return records
