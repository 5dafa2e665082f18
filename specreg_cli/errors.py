"""The one error type that reaches the user.

Anything the user can fix (a bad option value, a missing file, an incompatible checkpoint) is raised as
:class:`SpecregError`; the CLI catches it once and prints one red line plus a hint, exit code 1.
Everything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class SpecregError(Exception):
    """A user-facing error: ``message`` says what is wrong, ``hint`` how to fix it."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message} ({self.hint})"
