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


COMMANDS = ("train", "corrupt", "eval-corruptions", "attack", "cam", "report", "reproduce")


def test_help_of_every_command_loads_no_torch_and_shows_an_example():
    # In a fresh interpreter: `specreg --help` and each `specreg CMD --help` must stay instant.
    script = f"""
import sys
from typer.testing import CliRunner
from specreg_cli.cli import app
assert "torch" not in sys.modules, "importing the CLI loaded torch"
for args in [["--help"], *[[name, "--help"] for name in {COMMANDS!r}]]:
    result = CliRunner().invoke(app, args, env={{"COLUMNS": "120"}})
    assert result.exit_code == 0, (args, result.output)
    assert "torch" not in sys.modules, f"{{args}} loaded torch"
    if args != ["--help"]:
        assert "Example:" in result.output, f"{{args}} shows no example"
        assert "<bool>" not in result.output, f"{{args}} renders a flag as <bool>"
        assert "<list[" not in result.output, f"{{args}} renders a list as <list[...]>"
print("ok")
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_every_command_is_registered():
    result = runner.invoke(app, ["--help"], env={"COLUMNS": "120"})
    assert all(name in result.output for name in COMMANDS)


def test_help_paragraphs_are_not_broken_mid_sentence():
    result = runner.invoke(app, ["train", "--help"], env={"COLUMNS": "200"})
    assert "where it doesn't (recipe)." in result.output


def test_an_os_error_is_one_line_not_a_traceback(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    result = subprocess.run(
        [sys.executable, "-m", "specreg_cli", "train", "--out", str(blocker / "run"), "--epochs", "1"]
        + ["--dataset", "synthetic:train=64,test=32", "--arch", "lenet", "--batch-size", "32"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Not a directory" in lines[0] and str(blocker) in lines[0]
