"""How ``--help`` reads: paragraphs reflowed, flags without a type, repeatable options as ``<type>...``.

Typer 0.29's Rich help keeps the single line breaks of a docstring (a paragraph wrapped at 110 columns
in the source shows broken in the terminal) and labels every flag ``<bool>`` and every list option
``<list[str]>``. :func:`install` adjusts those two renderers where they exist; with another Typer
version that lacks them, help renders as that version does. Called once by :mod:`specreg_cli.cli`.
"""

from __future__ import annotations

import re

import typer.core
import typer.rich_utils

_LIST = re.compile(r"^<list\[(.+)\]>$")


def _reflow(paragraphs: list[str], markup_mode: str) -> str:
    """Paragraphs joined by a blank line, each one's single line breaks turned into spaces (unless the
    paragraph starts with click's no-rewrap marker \\b)."""
    return "\n\n".join(p if p.startswith("\b") else " ".join(p.split("\n")) for p in paragraphs)


def _display_type(original):
    def display_type_rich(self, ctx):
        if getattr(self, "is_flag", False) and self.metavar is None:
            return None  # --resume / --no-resume says all there is to say
        shown = original(self, ctx)
        match = _LIST.match(shown) if isinstance(shown, str) else None
        return f"<{match.group(1)}>..." if match else shown

    return display_type_rich


def install() -> None:
    if hasattr(typer.rich_utils, "_fix_linebreaks"):
        typer.rich_utils._fix_linebreaks = _reflow
    for kind in (typer.core.TyperOption, typer.core.TyperArgument):
        if hasattr(kind, "display_type_rich") and not getattr(kind, "_specreg_help", False):
            kind.display_type_rich = _display_type(kind.display_type_rich)
            kind._specreg_help = True
