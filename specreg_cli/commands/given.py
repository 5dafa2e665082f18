"""Which options the user gave, as opposed to their defaults: for commands whose behaviour depends on it
(``train --resume`` keeps the run's recipe; ``attack --adv-from`` runs no attack)."""

from __future__ import annotations

import typer


def was_given(ctx: typer.Context, name: str) -> bool:
    """Whether parameter ``name`` was set on the command line or through its environment variable."""
    source = ctx.get_parameter_source(name)
    # By name, not by the enum: ParameterSource lives in click.core or, in newer typer, in a vendored click.
    return source is not None and source.name not in ("DEFAULT", "DEFAULT_MAP")


def given_names(ctx: typer.Context) -> set[str]:
    """The parameter names (Python names: ``batch_size``) that the user gave."""
    return {name for name in ctx.params if was_given(ctx, name)}


def as_typed(ctx: typer.Context, name: str) -> str:
    """Parameter ``name`` as the user typed it: ``--eps``, ``--no-random-start``."""
    param = next(p for p in ctx.command.params if p.name == name)
    off = getattr(param, "secondary_opts", None)  # the --no-... half of a --x/--no-x flag
    return off[0] if off and not ctx.params[name] else param.opts[0]
