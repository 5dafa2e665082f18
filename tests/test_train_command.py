"""`specreg train` as a user runs it: defaults written once, resume and extend, stubs, fine-tuning data."""

import json
from dataclasses import fields

import pytest
import torch
from typer.main import get_command
from typer.testing import CliRunner

from specreg_cli.checkpoint import load_checkpoint
from specreg_cli.cli import app
from specreg_cli.commands import train as train_command
from specreg_cli.methods import TrainingMethod
from specreg_cli.parsing import parse_pixel_value
from specreg_cli.train_config import TrainConfig

TINY = "synthetic:train=96,test=32"
BASE = [
    "train",
    "--arch",
    "lenet",
    "--dataset",
    TINY,
    "--batch-size",
    "32",
    "--lr",
    "0.05",
    "--device",
    "cpu",
]


def run(*args):
    return CliRunner().invoke(app, [*BASE, *args], env={"COLUMNS": "200"})


def train_params() -> dict:
    command = get_command(app).commands["train"]
    return {p.name: p for p in command.params}


# every TrainConfig field but `mask` (its knobs are --mask-* options: MaskConfig's defaults apply)
CONFIG_FIELDS = [f for f in fields(TrainConfig) if f.name != "mask"]


@pytest.mark.parametrize("field", CONFIG_FIELDS, ids=lambda f: f.name)
def test_command_default_is_the_config_default(field):
    param = train_params()[field.name]
    default, expected = param.default, getattr(TrainConfig(), field.name)
    default = getattr(default, "value", default)  # enum choices
    if field.name in ("noise_std", "adv_eps", "adv_alpha"):  # pixel values are typed as text (8/255)
        default = parse_pixel_value(default)
    if field.name == "data_dir":
        default = str(default)
    assert default == pytest.approx(expected) if isinstance(expected, float) else default == expected


def test_every_config_field_is_an_option():
    params = train_params()
    missing = [f.name for f in CONFIG_FIELDS if f.name not in params]
    assert not missing
    assert set(train_command.MASK_PARAMS) <= set(params)


def test_resume_of_a_finished_run_changes_nothing(tmp_path):
    out = tmp_path / "run"
    assert run("--epochs", "1", "--out", str(out)).exit_code == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    result = run("--epochs", "1", "--out", str(out), "--resume")
    assert result.exit_code == 0, result.output
    assert "already finished" in result.output
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert json.loads((out / "config.json").read_text())["status"] == "finished"
    # and the next plain train still calls it finished
    again = run("--epochs", "1", "--out", str(out))
    assert again.exit_code == 1 or "finished" in str(again.exception)


def test_resume_with_more_epochs_extends_the_run(tmp_path):
    out = tmp_path / "run"
    assert run("--epochs", "1", "--schedule", "cosine", "--out", str(out)).exit_code == 0
    result = run("--epochs", "3", "--schedule", "cosine", "--out", str(out), "--resume")
    assert result.exit_code == 0, result.output
    assert "extending" in result.output and "recomputed for 3 epochs" in result.output
    state = json.loads((out / "config.json").read_text())
    assert state["status"] == "finished" and state["epochs_done"] == 3 and state["config"]["epochs"] == 3
    assert load_checkpoint(out).meta["epoch"] == 3
    rows = (out / "metrics.csv").read_text().splitlines()
    assert len(rows) == 1 + 3


def test_resume_refuses_a_changed_recipe_and_fewer_epochs(tmp_path):
    out = tmp_path / "run"
    assert run("--epochs", "2", "--out", str(out)).exit_code == 0
    changed = run("--epochs", "2", "--out", str(out), "--resume", "--lr", "0.1")
    assert changed.exit_code != 0 and "--lr" in str(changed.exception.message)
    fewer = run("--epochs", "1", "--out", str(out), "--resume")
    assert fewer.exit_code != 0 and "fewer" in str(fewer.exception.message)


def test_nan_in_the_first_epoch_leaves_no_stub(tmp_path, monkeypatch):
    def poisoned(self, config, model):
        return lambda x, y: x * float("nan")

    monkeypatch.setattr(TrainingMethod, "perturbation", poisoned)
    out = tmp_path / "run"
    result = run("--epochs", "2", "--out", str(out))
    assert result.exit_code != 0 and "no epoch had finished" in str(result.exception.message)
    assert not out.exists() or not any(out.iterdir())
    # train and train --resume agree: there is nothing there
    resumed = run("--epochs", "2", "--out", str(out), "--resume")
    assert "nothing to resume" in str(resumed.exception.message)


def test_an_old_stub_gets_one_consistent_hint(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    stub = {"config": TrainConfig(epochs=2).to_dict(), "status": "running", "epochs_done": 0}
    (out / "config.json").write_text(json.dumps(stub))
    plain, resumed = run("--out", str(out)), run("--out", str(out), "--resume")
    assert "--force" in plain.exception.hint and "--force" in resumed.exception.hint
    assert run("--epochs", "1", "--out", str(out), "--force").exit_code == 0


def test_init_from_trains_on_the_source_runs_dataset(tmp_path):
    source = tmp_path / "natural"
    assert run("--epochs", "1", "--out", str(source)).exit_code == 0
    fine = CliRunner().invoke(
        app,
        ["train", "--arch", "lenet", "--batch-size", "32", "--device", "cpu", "--epochs", "1"]
        + ["--method", "masked", "--init-from", str(source), "--out", str(tmp_path / "ft")],
    )
    assert fine.exit_code == 0, fine.output
    assert json.loads((tmp_path / "ft" / "config.json").read_text())["config"]["dataset"] == TINY


def test_paths_in_the_config_are_absolute_and_threads_apply(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    before = torch.get_num_threads()
    try:
        assert run("--epochs", "1", "--out", "run", "--data-dir", "data", "--threads", "1").exit_code == 0
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
    config = json.loads((tmp_path / "run" / "config.json").read_text())["config"]
    assert config["data_dir"] == str(tmp_path / "data")


@pytest.mark.parametrize("option,value", [("--lr", "inf"), ("--weight-decay", "nan"), ("--noise-std", "inf")])
def test_non_finite_numbers_are_refused(tmp_path, option, value):
    result = run("--out", str(tmp_path / "run"), option, value)
    assert result.exit_code != 0 and "finite" in str(result.exception.message)
    assert not (tmp_path / "run").exists()


def test_mask_option_defaults_are_mask_config_defaults():
    from specreg_cli.spectral import CONV_GRADS, SPREAD_KINDS, MaskConfig

    params, defaults = train_params(), MaskConfig()
    assert params["mask_threshold"].default == defaults.threshold
    assert params["mask_conv_grad"].default.value == defaults.conv_grad
    assert params["mask_init_spread_kind"].default.value == defaults.spread_kind
    assert params["mask_backend"].default.value == defaults.backend
    assert params["mask_random_drop"].default == defaults.random_drop
    assert params["mask_per_layer"].default == (not defaults.per_channel)
    assert tuple(c.value for c in train_command.ConvGrad) == CONV_GRADS
    assert tuple(k.value for k in train_command.SpreadKind) == SPREAD_KINDS


def test_mask_readings_reach_the_checkpoint(tmp_path):
    out = tmp_path / "run"
    result = run(
        "--method",
        "masked",
        "--epochs",
        "1",
        "--mask-threshold",
        "0.7",
        "--mask-conv-grad",
        "real",
        "--out",
        str(out),
    )
    assert result.exit_code == 0, result.output
    spectral = load_checkpoint(out).meta["model"]["spectral"]
    assert spectral["threshold"] == 0.7 and spectral["conv_grad"] == "real"
    bad = run("--method", "masked", "--mask-threshold", "2", "--out", str(tmp_path / "bad"))
    assert bad.exit_code != 0 and "threshold" in str(bad.exception.message)
