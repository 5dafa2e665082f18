import subprocess
import sys

from typer.testing import CliRunner

from specreg_cli import __version__
from specreg_cli.cli import app

runner = CliRunner()


def test_help_lists_commands():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    assert "train" in result.output


def test_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"specreg {__version__}"


def test_python_dash_m():
    result = subprocess.run(
        [sys.executable, "-m", "specreg_cli", "--version"], capture_output=True, text=True
    )
    assert result.returncode == 0 and __version__ in result.stdout


def test_user_error_is_one_red_line_exit_1(tmp_path):
    # Through the console script's main(), as a user sees it: no traceback, exit code 1.
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "specreg_cli",
            "train",
            "--out",
            str(tmp_path / "run"),
            "--dataset",
            "imagenet",
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "unknown dataset 'imagenet'" in lines[0] and "synthetic" in lines[0]
    assert not (tmp_path / "run").exists()


def test_usage_error_exit_2():
    result = runner.invoke(app, ["train", "--no-such-option"])
    assert result.exit_code == 2
