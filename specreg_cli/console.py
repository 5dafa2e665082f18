"""Rich consoles and progress bars shared by every command.

Tables and results go to stdout; progress bars and errors go to stderr, so
``specreg report ... > table.md`` captures only the table.
"""

from __future__ import annotations

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

console = Console()
err_console = Console(stderr=True)


def make_progress(transient: bool = False) -> Progress:
    """A progress bar with a description, a bar, done/total, elapsed and remaining time, and a free-text
    field."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[status]}"),
        console=err_console,
        transient=transient,
    )


def make_download_progress() -> Progress:
    """A progress bar for a download: a description, a bar, bytes done of total, speed, remaining time."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=err_console,
    )
