"""The ``specreg`` command line: thin Typer commands over the library, rendered with Rich.

Every user error is a :class:`SpecregError`, caught once in :func:`main` and printed as one red line
with a hint (exit 1). Usage errors (unknown option, bad type) are Typer's (exit 2).
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from specreg_cli import __version__, help_format
from specreg_cli.commands import register_all
from specreg_cli.console import err_console
from specreg_cli.errors import SpecregError

help_format.install()

app = typer.Typer(
    name="specreg",
    help="Robustness evaluation of spectral-mask regularised CNNs on CIFAR-10(-C).\n\n"
    "  specreg train --method masked --out runs/masked\n\n"
    "  specreg eval-corruptions runs/masked --out results/masked-corruptions.json",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"specreg {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version_callback, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Robustness evaluation of spectral-mask regularised CNNs on CIFAR-10(-C)."""


register_all(app)  # each command lives in its own module under specreg_cli/commands/


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except SpecregError as error:
        hint = f" [dim]({error.hint})[/dim]" if error.hint else ""
        err_console.print(
            f"[bold red]error:[/bold red] {error.message}{hint}", highlight=False, soft_wrap=True
        )
        sys.exit(1)
    except OSError as error:  # a full or read-only disk, a path that is a file: the OS's words, one line
        where = f": {error.filename}" if error.filename else ""
        err_console.print(
            f"[bold red]error:[/bold red] {error.strerror or error}{where} "
            "[dim](check the path, its permissions and the free disk space)[/dim]",
            highlight=False,
            soft_wrap=True,
        )
        sys.exit(1)
    except KeyboardInterrupt:
        err_console.print("[bold red]interrupted[/bold red]")
        sys.exit(130)
