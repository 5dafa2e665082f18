"""Result records: one schema for every evaluation (clean, corruption, attack), JSON on disk.

A results file::

    {"schema": "specreg-results", "version": 1,
     "provenance": {"command": "eval-corruptions", "arguments": {...}, "seed": 0, "time": "...",
                    "specreg_version": "0.1.0", "packages": {"torch": "...", ...}, "python": "3.11.7",
                    "dataset": {...identity, incl. sha256...},
                    "checkpoints": {"<run>": {"path": "/abs/run/model.pt", "sha256": "..."}}},
     "records": [{"run": "natural-s0", "method": "natural", "arch": "resnet20", "dataset": "synthetic",
                  "condition": "fog", "severity": 3, "metric": "accuracy", "value": 0.8125, "n": 2000,
                  "params": {}}, ...]}

Tidy: one row per (run, condition, severity, metric). ``severity`` is null for clean and attack rows;
attack rows keep eps, alpha, steps... in ``params``, and ``specreg attack``'s clean and attack accuracy
rows also ``params["correct"]``: which of the ``n`` images the model got right, one bit per image in
test-set order, packed (numpy ``packbits``, big-endian) and written as hex (:func:`encode_correct`); the
reader checks its length, its zero padding and that it counts ``value * n`` images (older files without it
still load). Values are numbers, never formatted strings;
paths are absolute. :func:`read_results` validates files and returns one pandas DataFrame;
:func:`read_documents` and :func:`records_frame` are its two halves, for callers that also need the
documents (each file is read once).
"""

from __future__ import annotations

import json
import math
import platform
import sys
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from numbers import Integral, Real
from pathlib import Path

import pandas as pd

from specreg_cli import __version__
from specreg_cli.atomic import write_text_atomic
from specreg_cli.errors import SpecregError

SCHEMA = "specreg-results"
SCHEMA_VERSION = 1
RECORD_COLUMNS = ("run", "method", "arch", "dataset", "condition", "severity", "metric", "value", "n")
TEXT_COLUMNS = ("run", "method", "arch", "dataset", "condition", "metric")
FRACTION_METRICS = ("accuracy", "error")  # stored as fractions in [0, 1], rendered as percentages
CORRECT = "correct"  # the params key of the per-image right / wrong bits
PACKAGES = ("torch", "torchvision", "torchattacks", "numpy", "pandas", "typer", "rich")


@dataclass
class Record:
    run: str
    method: str
    arch: str
    dataset: str
    condition: str  # "clean", a corruption name, or an attack name ("pgd", "pgdl2", "fgsm", "noise", ...)
    severity: int | None  # 1..5 for corruptions, None otherwise
    metric: str  # "accuracy" (fraction in [0, 1]), "loss", ...
    value: float
    n: int  # number of test images behind the value
    params: dict = field(default_factory=dict)  # e.g. {"eps": 0.0314, "alpha": 0.0078, "steps": 10}


def package_versions() -> dict[str, str]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def provenance(
    command: str,
    arguments: dict,
    seed: int | None,
    dataset: dict | None = None,
    checkpoints: dict | None = None,
) -> dict:
    """Everything a number needs to say where it came from. ``checkpoints``: run -> {"path", "sha256"}."""
    return {
        "command": command,
        "arguments": {k: (str(v) if isinstance(v, Path) else v) for k, v in arguments.items()},
        "seed": seed,
        "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "specreg_version": __version__,
        "python": platform.python_version(),
        "argv": list(sys.argv),
        "packages": package_versions(),
        "dataset": dataset or {},
        "checkpoints": checkpoints or {},
    }


def write_results(path: str | Path, records: list[Record], prov: dict) -> Path:
    """Write a results file atomically; returns its absolute path."""
    path = Path(path).expanduser().resolve()
    rows = [_validated(asdict(r) if isinstance(r, Record) else dict(r), path) for r in records]
    document = {"schema": SCHEMA, "version": SCHEMA_VERSION, "provenance": prov, "records": rows}
    write_text_atomic(path, json.dumps(document, indent=1, sort_keys=True, allow_nan=False) + "\n")
    return path


def _validated(row: object, path: Path) -> dict:
    """``row`` as a clean record dict, or a one-line :class:`SpecregError` naming what is wrong with it.

    Every record is untrusted (a hand-edited or foreign file): the text fields must be strings, the value
    a finite number (a fraction in [0, 1] for :data:`FRACTION_METRICS`: a percentage typed by hand, 93.5,
    would otherwise be reported as 9350%), ``n`` a non-negative integer, ``severity`` null or 1..5.
    """
    if not isinstance(row, dict):
        raise SpecregError(f"{path}: a record is a {type(row).__name__}, not an object")
    missing = [c for c in RECORD_COLUMNS if c not in row]
    if missing:
        raise SpecregError(f"{path}: a record lacks {', '.join(missing)}")
    for name in TEXT_COLUMNS:
        if not isinstance(row[name], str) or not row[name]:
            raise SpecregError(f"{path}: record {name} {row[name]!r} is not a non-empty string")
    value, n, severity = row["value"], row["n"], row["severity"]
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
        raise SpecregError(f"{path}: record value {value!r} is not a finite number")
    if row["metric"] in FRACTION_METRICS and not 0.0 <= value <= 1.0:
        raise SpecregError(
            f"{path}: {row['run']} {row['condition']} {row['metric']} is {value!r}, outside [0, 1]",
            hint="accuracies are stored as fractions (0.935, not 93.5); re-run the evaluation",
        )
    if isinstance(n, bool) or not isinstance(n, Integral) or n < 0:
        raise SpecregError(f"{path}: record n {n!r} is not a non-negative integer")
    if severity is not None and (
        isinstance(severity, bool) or not isinstance(severity, Integral) or not 1 <= severity <= 5
    ):
        raise SpecregError(f"{path}: record severity {severity!r} is not null or 1..5")
    params = row.get("params") or {}
    if not isinstance(params, dict):
        raise SpecregError(f"{path}: record params must be an object")
    if CORRECT in params:
        _check_correct(params[CORRECT], value, n, path)
    return {**{c: row[c] for c in RECORD_COLUMNS}, "value": float(value), "n": int(n), "params": params}


def encode_correct(correct) -> str:
    """Per-image right / wrong (bool (n,)) as the hex text of ``params["correct"]``.

    >>> encode_correct([True, False, True, True, False, False, False, False, True])
    'b080'
    """
    import numpy as np

    return np.packbits(np.asarray(correct, dtype=bool)).tobytes().hex()


def decode_correct(text: str, n: int):
    """The bool (n,) array of :func:`encode_correct`'s text; ValueError when it cannot be ``n`` bits."""
    import numpy as np

    if not isinstance(text, str) or len(text) != 2 * (-(-n // 8)):
        raise ValueError(f"expected {2 * (-(-n // 8))} hex digits for {n} images")
    bits = np.unpackbits(np.frombuffer(bytes.fromhex(text), dtype=np.uint8))  # ValueError on non-hex
    if bits[n:].any():
        raise ValueError("padding bits after the last image are set")
    return bits[:n].astype(bool)


def _check_correct(text: object, value: float, n: int, path: Path) -> None:
    """``params["correct"]`` must be ``n`` bits of which exactly ``value * n`` are set."""
    try:
        bits = decode_correct(text, n)
    except (ValueError, TypeError) as exc:
        raise SpecregError(f"{path}: record params.correct is not {n} per-image bits ({exc})") from None
    if abs(int(bits.sum()) - value * n) > 1e-6 * max(n, 1):
        raise SpecregError(
            f"{path}: record params.correct counts {int(bits.sum())} of {n} images right, "
            f"its value says {value * n:g}"
        )


def read_documents(paths: list[str | Path]) -> list[tuple[Path, dict]]:
    """Every results file under ``paths``, read and parsed once: ``[(absolute path, document)]``.

    Files are taken as given (a broken one is an error); folders are searched recursively for ``*.json``
    files and keep only those whose ``schema`` says they are results files. A missing path is an
    error before any file is read. A file named twice appears twice, but is read only once.

    Example::

        [(path, document)] = read_documents(["results/pgd.json"])
        document["provenance"]["command"]  # "attack"
    """
    candidates = _candidates(paths)
    parsed = {path: _parse(path) for path in dict.fromkeys(path for path, _ in candidates)}  # once each
    documents = []
    for path, explicit in candidates:
        if explicit or isinstance(parsed[path], dict):
            documents.append((path, _checked_document(path, parsed[path])))
    return documents


def _candidates(paths: list[str | Path]) -> list[tuple[Path, bool]]:
    """``(file, given explicitly)`` for each path: files as given, ``*.json`` inside folders, sorted."""
    candidates: list[tuple[Path, bool]] = []
    for p in (Path(q).expanduser().resolve() for q in paths):
        if p.is_dir():
            candidates += [(candidate, False) for candidate in sorted(p.rglob("*.json"))]
        elif p.exists():
            candidates.append((p, True))
        else:
            raise SpecregError(f"results path {p} does not exist")
    return candidates


def _parse(path: Path) -> dict | Exception | None:
    """The results document in ``path``, the exception that stopped reading it, or None for other JSON."""
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        return exc  # the caller decides: an error for a file given, skipped in a folder
    # other JSON (a run's config.json, ...) is dropped at once: a big folder must not stay in memory
    return value if isinstance(value, dict) and value.get("schema") == SCHEMA else None


def _checked_document(path: Path, value: dict | Exception | None) -> dict:
    """``value`` (:func:`_parse` of ``path``) when it is a results document this specreg can read."""
    if isinstance(value, Exception):
        raise SpecregError(f"{path} is not a readable JSON results file ({value.__class__.__name__})")
    if value is None:
        raise SpecregError(f"{path} is not a specreg results file", hint="pass files written by specreg")
    version = value.get("version", 0)
    if isinstance(version, bool) or not isinstance(version, int):
        raise SpecregError(
            f"{path}: version {version!r} is not an integer", hint="pass files written by specreg"
        )
    if version > SCHEMA_VERSION:
        raise SpecregError(f"{path} was written by a newer specreg", hint="upgrade specreg")
    if not isinstance(value.get("records", []), list):
        raise SpecregError(f"{path}: records must be a list", hint="pass files written by specreg")
    _check_provenance(path, value.get("provenance", {}))
    return value


# provenance key -> the JSON types it may hold (readers index into these, so a wrong type is refused here)
PROVENANCE_TYPES: dict[str, tuple[type, ...]] = {
    "command": (str, type(None)),
    "arguments": (dict,),
    "seed": (int, type(None)),
    "time": (str,),
    "specreg_version": (str,),
    "python": (str,),
    "argv": (list,),
    "packages": (dict,),
    "dataset": (dict,),
    "checkpoints": (dict,),
}


def _check_provenance(path: Path, prov: object) -> None:
    """A one-line :class:`SpecregError` when a file's provenance has the wrong shape (hand-edited)."""
    hint = "pass files written by specreg, or restore the file's provenance"
    if not isinstance(prov, dict):
        raise SpecregError(f"{path}: provenance must be an object, got {type(prov).__name__}", hint=hint)
    for key, types in PROVENANCE_TYPES.items():
        value = prov.get(key)
        if key in prov and (isinstance(value, bool) or not isinstance(value, types)):
            names = " or ".join("null" if t is type(None) else _JSON_NAMES[t] for t in types)
            raise SpecregError(f"{path}: provenance {key} {value!r} is not {names}", hint=hint)
    for run, entry in prov.get("checkpoints", {}).items():
        if not isinstance(entry, dict) or not isinstance(entry.get("sha256", ""), str):
            raise SpecregError(f"{path}: provenance checkpoint {run!r} is not a {{path, sha256}} object")
    if not isinstance(prov.get("dataset", {}).get("sha256", ""), (str, type(None))):
        raise SpecregError(f"{path}: provenance dataset sha256 is not a string", hint=hint)


_JSON_NAMES = {str: "a string", int: "an integer", dict: "an object", list: "a list"}


def read_results(paths: list[str | Path] | str | Path) -> pd.DataFrame:
    """Validated records of every results file under ``paths`` as one DataFrame.

    Columns: the record columns, ``param_<name>`` for each params key, and provenance columns
    ``source`` (absolute file path), ``command``, ``seed``, ``dataset_sha256``, ``checkpoint_sha256``.

    Example::

        frame = read_results(["results/"])  # folders are searched recursively
    """
    paths = [paths] if isinstance(paths, (str, Path)) else list(paths)
    return records_frame(read_documents(paths))


def records_frame(documents: list[tuple[Path, dict]]) -> pd.DataFrame:
    """The validated records of documents from :func:`read_documents` as one DataFrame (see read_results).

    Example::

        frame = records_frame(read_documents(["results/pgd.json"]))
    """
    frames = [pd.DataFrame(_rows(path, document)) for path, document in documents]
    if not frames or all(f.empty for f in frames):
        raise SpecregError("no result records found", hint="pass results files or folders written by specreg")
    frame = pd.concat(frames, ignore_index=True)
    frame["severity"] = frame["severity"].astype("Int64")
    return frame


def _rows(path: Path, document: dict) -> list[dict]:
    """One flat row per record: the record columns, ``param_<name>`` columns and provenance columns."""
    prov = document.get("provenance", {})
    rows = []
    for raw in document.get("records", []):
        row = _validated(raw, path)
        params = row.pop("params")
        row.update({f"param_{k}": v for k, v in params.items()})
        row["source"] = str(path)
        row["command"] = prov.get("command")
        row["seed"] = prov.get("seed")
        row["dataset_sha256"] = (prov.get("dataset") or {}).get("sha256")
        row["checkpoint_sha256"] = (prov.get("checkpoints") or {}).get(row["run"], {}).get("sha256")
        rows.append(row)
    return rows
