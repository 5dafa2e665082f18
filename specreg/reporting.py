"""``specreg.read_results`` and ``specreg.write_report``: results files as a DataFrame, and the report."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd


def read_results(paths: str | Path | Sequence[str | Path]) -> pd.DataFrame:
    """Every results file under ``paths`` (files, or folders searched recursively), validated, as one
    DataFrame: columns ``run, method, arch, dataset, condition, severity, metric, value, n``, ``param_<name>``
    for attack settings and ``source, command, seed, dataset_sha256, checkpoint_sha256``.

    Example::

        frame = specreg.read_results("results/")
        acc = frame[frame.metric == "accuracy"]
        acc.pivot_table(index="run", columns="condition", values="value")
    """
    from specreg_cli.results import read_results as read

    return read(paths)


def write_report(
    paths: str | Path | Sequence[str | Path],
    out: str | Path | None = None,
    *,
    format: str | None = None,
    severity: str = "mean",
    baseline: str = "natural",
    allow_mixed: bool = False,
) -> str:
    """``specreg report``: Table 2 (rows: methods, mean ± std over seeds; models specreg did not train are
    rows of their own, after them), per severity, Table 3, training runs and provenance.

    ``paths``: results files and folders (run directories in them add Table 3 and the training table).
    ``format``: ``md`` | ``csv`` (default: from ``out``'s suffix, else ``md``). Returns the Markdown (or
    Table 2 as CSV); with ``out`` also writes it atomically (CSV: every table beside ``out``).

    Example::

        text = specreg.write_report(["results/", "runs/"], "reports/table.md")
        from IPython.display import Markdown; Markdown(text)
    """
    from specreg_cli.atomic import write_text_atomic
    from specreg_cli.errors import SpecregError
    from specreg_cli.report import build_report, load_inputs, to_csv, to_markdown, write_csv

    chosen = format or ("csv" if out is not None and Path(out).suffix.lower() == ".csv" else "md")
    if chosen not in ("md", "csv"):
        raise SpecregError(f"format must be md or csv, got {format!r}")
    listed = [paths] if isinstance(paths, (str, Path)) else list(paths)
    report = build_report(load_inputs(listed), severity=severity, allow_mixed=allow_mixed, baseline=baseline)
    text = to_markdown(report) if chosen == "md" else to_csv(report)
    if out is not None and chosen == "md":
        write_text_atomic(Path(out).expanduser().resolve(), text)
    elif out is not None:
        write_csv(report, Path(out).expanduser().resolve())
    return text
