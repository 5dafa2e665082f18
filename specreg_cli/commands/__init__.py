"""One module per CLI command. :func:`register_all` adds every module of this package that defines
``COMMAND_NAME`` and ``command`` to the Typer app, in ``ORDER`` (so ``--help`` lists the workflow in order).
A module appears here only once its command does something.
"""

from __future__ import annotations

import importlib
import pkgutil

import typer

ORDER = ("train", "corrupt", "eval-corruptions", "attack", "cam", "report", "reproduce")


def register_all(app: typer.Typer) -> None:
    modules = [importlib.import_module(f"{__name__}.{info.name}") for info in pkgutil.iter_modules(__path__)]
    commands = [m for m in modules if hasattr(m, "COMMAND_NAME") and hasattr(m, "command")]
    rank = {name: i for i, name in enumerate(ORDER)}
    for module in sorted(commands, key=lambda m: (rank.get(m.COMMAND_NAME, len(ORDER)), m.COMMAND_NAME)):
        app.command(module.COMMAND_NAME)(module.command)
