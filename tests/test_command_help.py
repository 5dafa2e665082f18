"""``--help`` of attack, eval-corruptions and corrupt: an example, the --threads option, no torch."""

from __future__ import annotations

import subprocess
import sys

import pytest
import typer.main

from specreg_cli.cli import app

COMMANDS = ("attack", "eval-corruptions", "corrupt")


@pytest.mark.parametrize("name", COMMANDS)
def test_help_has_an_example_and_threads(name):
    command = typer.main.get_command(app).commands[name]
    assert "Example: specreg " + name in command.help
    assert any("--threads" in p.opts for p in command.params)


def test_help_does_not_import_torch():
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from specreg_cli.cli import app\n"
        f"for name in {COMMANDS!r}:\n"
        "    result = CliRunner().invoke(app, [name, '--help'])\n"
        "    assert result.exit_code == 0 and 'Example:' in result.output, result.output\n"
        "loaded = sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.'))\n"
        "assert not loaded, loaded[:5]\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
