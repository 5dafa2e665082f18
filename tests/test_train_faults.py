"""Training runs under faults: kills between the writes of an epoch, two writers, leftover temp files."""

import csv

import pytest

from specreg_cli.errors import SpecregError
from specreg_cli.run_dir import RunDir
from specreg_cli.train import Trainer, train
from specreg_cli.train_config import TrainConfig


def tiny(epochs=2, **overrides):
    return TrainConfig(
        arch="lenet",
        dataset="synthetic:train=64,test=32",
        epochs=epochs,
        batch_size=32,
        device="cpu",
        **overrides,
    )


def test_a_kill_after_the_checkpoint_loses_no_metrics_row(tmp_path):
    out = tmp_path / "run"
    straight = train(tiny(epochs=2), tmp_path / "straight")
    train(tiny(epochs=2), out)
    # as if killed right after model.pt of epoch 2 was replaced: the CSV still has epoch 1 only,
    # config.json still says 1 epoch done, and a temporary file was left behind
    rows = (out / "metrics.csv").read_text().splitlines()
    (out / "metrics.csv").write_text("\n".join(rows[:2]) + "\n")
    run = RunDir(out)
    state = run.read_state()
    run.write_state(state.config, "running", 1)
    (out / ".metrics.csv.abcd.tmp").write_text("half")
    resumed = train(tiny(epochs=2), out, resume=True)
    assert resumed.trained_epochs == 0
    # nothing to train, but the state is mended: finished, both rows there
    assert RunDir(out).read_state().finished
    assert [int(r["epoch"]) for r in csv.DictReader((out / "metrics.csv").open())] == [1, 2]
    assert [r["test_acc"] for r in resumed.metrics] == [r["test_acc"] for r in straight.metrics]
    assert not list(out.glob("*.tmp"))


def test_resume_takes_its_rows_from_the_checkpoint(tmp_path):
    out = tmp_path / "run"
    train(tiny(epochs=1), out)
    run = RunDir(out)
    state = run.read_state()
    run.write_state({**state.config, "epochs": 2}, "running", 1)
    (out / "metrics.csv").write_text((out / "metrics.csv").read_text().splitlines()[0] + "\n")  # rows lost
    (out / ".model.pt.zzzz.tmp").write_text("half")
    result = train(tiny(epochs=2), out, resume=True)
    assert [int(r["epoch"]) for r in result.metrics] == [1, 2]
    assert [int(r["epoch"]) for r in csv.DictReader((out / "metrics.csv").open())] == [1, 2]
    assert not list(out.glob("*.tmp"))


def test_two_writers_on_one_run_the_second_is_refused(tmp_path):
    out = tmp_path / "run"
    trainer = Trainer(tiny(epochs=1), out)
    with RunDir(out).lock():  # another process is training it
        with pytest.raises(SpecregError, match="being trained by another process"):
            trainer.run()
        with pytest.raises(SpecregError, match="being trained by another process"):
            Trainer(tiny(epochs=1), out, force=True).run()
    assert not (out / "model.pt").exists()


def test_a_run_that_changed_while_being_prepared_is_not_overwritten(tmp_path):
    out = tmp_path / "run"
    first, second = Trainer(tiny(epochs=1), out), Trainer(tiny(epochs=1), out)
    first.run()
    with pytest.raises(SpecregError, match="already holds a finished run"):  # re-checked under the lock
        second.run()


def test_a_failed_fresh_run_leaves_no_folder(tmp_path, monkeypatch):
    from specreg_cli.methods import TrainingMethod

    monkeypatch.setattr(TrainingMethod, "perturbation", lambda self, c, m: lambda x, y: x * float("nan"))
    with pytest.raises(SpecregError):
        train(tiny(epochs=1), tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_out_may_not_be_the_current_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SpecregError, match="not the current folder"):
        train(tiny(epochs=1), "")
    assert list(tmp_path.iterdir()) == []
