"""Where the report's numbers come from: versions, seeds, datasets, attack settings, test-set sizes,
sanity checks, checkpoint hashes and results files, as (item, text) pairs.

Markdown shows the texts as the footer's bullets; the CSV output writes the pairs as its provenance table.
Deterministic: values sorted, no times, no absolute paths (results files relative to their common folder).
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from specreg_cli import __version__
from specreg_cli.attacks import option_names
from specreg_cli.parsing import format_pixel_value
from specreg_cli.report.checks import distinct, short_hash
from specreg_cli.report.columns import Column
from specreg_cli.report.inputs import ReportInputs

PROVENANCE_ITEMS = (
    "versions",
    "evaluation_seeds",
    "dataset",
    "test_images",
    "attack",
    "sanity_checks",
    "checkpoints",
    "external_models",
    "results_files",
)  # the items, in the footer's order (dataset and attack: one line each)


def provenance_items(
    inputs: ReportInputs, accuracy: pd.DataFrame, columns: list[Column], by_column: dict[str, pd.DataFrame]
) -> list[tuple[str, str]]:
    """The provenance as (item, text) pairs, in :data:`PROVENANCE_ITEMS` order.

    ``columns``, ``by_column``: Table 2's columns and each column's accuracy rows (column key -> rows).
    """
    provs = inputs.provenances
    items = [("versions", _versions_line(provs)), ("evaluation_seeds", _seeds_line(provs))]
    items += [("dataset", line) for line in _dataset_lines(provs)]
    sizes = {c.key: "/".join(map(str, distinct(by_column[c.key], "n"))) for c in columns}
    shown = ", ".join(f"{c.label} {sizes[c.key]}" for c in columns)
    items.append(("test_images", "test images per column: " + shown))
    items += [("attack", line) for line in _attack_lines(columns, by_column)]
    items += [("sanity_checks", line) for line in _sanity_lines(inputs.records)]
    hashes = accuracy[["run", "checkpoint_sha256"]].drop_duplicates()
    hashes = hashes.sort_values(["run", "checkpoint_sha256"])
    if len(hashes):
        listed = ", ".join(f"{run} {short_hash(sha)}" for run, sha in hashes.itertuples(index=False))
        items.append(("checkpoints", "checkpoints (sha256): " + listed))
    items += [("external_models", line) for line in _external_lines(inputs.external_runs)]
    sources = sorted(Path(p["source"]) for p in provs)
    items.append(("results_files", "results files: " + ", ".join(relative(sources))))
    return items


def _versions_line(provs: list[dict]) -> str:
    specreg = sorted({str(p.get("specreg_version", "?")) for p in provs})
    python = sorted({str(p.get("python", "?")) for p in provs})
    packages: dict[str, set] = {}
    for p in provs:
        for name, version in (p.get("packages") or {}).items():
            packages.setdefault(name, set()).add(str(version))
    shown = ", ".join(f"{name} {'/'.join(sorted(v))}" for name, v in sorted(packages.items()))
    return (
        f"results written by specreg {'/'.join(specreg)} (python {'/'.join(python)}; {shown}); "
        f"report by specreg {__version__}"
    )


def _seeds_line(provs: list[dict]) -> str:
    by_command: dict[str, set] = {}
    for p in provs:
        by_command.setdefault(str(p.get("command", "?")), set()).add(str(p.get("seed")))
    shown = "; ".join(
        f"{command} {', '.join(sorted(seeds))}" for command, seeds in sorted(by_command.items())
    )
    return "evaluation seeds: " + shown


def _dataset_lines(provs: list[dict]) -> list[str]:
    shown = {f"{p.get('command', '?')}: " + ", ".join(_dataset_parts(p.get("dataset") or {})) for p in provs}
    return ["dataset (" + line + ")" for line in sorted(shown)]


def _dataset_parts(identity: dict) -> list[str]:
    """A results file's dataset identity in words: name, split, seed, size, short hash."""
    parts = [str(identity.get("name", "?"))]
    if identity.get("split"):
        parts.append(f"{identity['split']} split")
    if identity.get("seed") is not None:
        parts.append(f"seed {identity['seed']}")
    if identity.get("n") is not None:
        whole = identity.get("first_n_of")
        parts.append(f"first {identity['n']} of {whole} images" if whole else f"{identity['n']} images")
    if identity.get("n_per_severity") is not None:
        parts.append(f"{identity['n_per_severity']} images per severity")
    if identity.get("sha256"):
        parts.append(f"sha256 {short_hash(identity['sha256'])}")
    return parts


def _attack_lines(columns: list[Column], by_column: dict[str, pd.DataFrame]) -> list[str]:
    lines = []
    for column in (c for c in columns if c.kind == "attack"):
        rows = by_column[column.key]
        settings = []
        for name in ("eps", "alpha", "steps", "random_start", "norm", *option_names(), "attacks"):
            values = distinct(rows, f"param_{name}")
            if values:
                pixels = name in ("eps", "alpha")
                text = [format_pixel_value(float(v)) if pixels else _plain(v) for v in values]
                settings.append(f"{name} {'/'.join(text)}")
        lines.append(f"attack {column.label}: " + ", ".join(settings) + " (torchattacks, pixel scale [0, 1])")
    return lines


def _plain(value: object) -> str:
    """``10`` for 10.0 (pandas turns integer params into floats next to missing values)."""
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def _sanity_lines(records: pd.DataFrame) -> list[str]:
    checks = records[records["metric"].astype(str).str.startswith("sanity_")]
    if checks.empty:
        return []
    failed = checks[checks["value"] < 0.5]
    text = f"attack sanity checks: {len(checks) - len(failed)} of {len(checks)} passed"
    if not failed.empty:
        details = sorted({f"{r.run} {r.metric[len('sanity_') :]}" + _detail(r) for r in failed.itertuples()})
        text += "; FAILED: " + "; ".join(details)
    return [text]


def _detail(row) -> str:
    detail = getattr(row, "param_detail", None)
    return f" ({detail})" if isinstance(detail, str) else ""


def relative(paths: list[Path]) -> list[str]:
    """Paths relative to their common folder (never absolute: the report must not depend on where it runs)."""
    if not paths:
        return []
    common = Path(os.path.commonpath([p.parent for p in paths]))
    base = common.parent if len(paths) > 1 else common
    return [str(p.relative_to(base)) for p in paths]


def _external_lines(external: dict[str, dict]) -> list[str]:
    """One line per external model (``--model``): which code and weights, which normalisation."""
    lines = []
    for run, info in external.items():
        given = (
            info.get("kwargs") if isinstance(info.get("kwargs"), dict) else {}
        )  # a file may be hand-edited
        kwargs = ", ".join(f"{k}={v!r}" for k, v in given.items())
        code = info.get("code") if isinstance(info.get("code"), dict) else {}
        version = code.get("package") or (
            f"file sha256 {short_hash(code['file_sha256'])}" if code.get("file_sha256") else ""
        )
        lines.append(
            f"external model {run}: {info.get('model', '?')}({kwargs})"
            + (f" [{version}]" if version else "")
            + f", weights sha256 {short_hash(info.get('weights_sha256'))}"
            + f", normalisation {info.get('normalization', '?')}"
        )
    return lines
