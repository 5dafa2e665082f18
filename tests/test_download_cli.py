"""`specreg eval-corruptions --cifar10c-dir DIR --download`: the release is fetched into DIR through
--data-dir (from a local server, see test_download.py) and evaluated in the same command."""

from __future__ import annotations

import sys

import pytest
from test_download import SPEC, N, Server, good_tar, release_files  # noqa: F401  (fixtures)

from specreg_cli.checkpoint import build_model, make_meta, save_checkpoint
from specreg_cli.cli import main
from specreg_cli.data import cifar10c
from specreg_cli.data.datasets import load_dataset
from specreg_cli.results import read_results


@pytest.fixture
def server(good_tar):  # noqa: F811
    running = Server(good_tar)
    yield running
    running.close()


def test_eval_corruptions_download_into_data_dir(server, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(cifar10c, "RELEASE", server.release())
    config = {"arch": "lenet", "num_classes": 10, "spectral": None}
    train = load_dataset(SPEC, "train")
    run = tmp_path / "runs" / "natural"
    meta = make_meta(config, "natural", train.identity, epoch=1, epochs=1, config={"dataset": SPEC})
    save_checkpoint(run / "model.pt", build_model(config), meta)
    target, data = tmp_path / "data" / "CIFAR-10-C", tmp_path / "data"
    argv = ["specreg", "eval-corruptions", str(run), "--cifar10c-dir", str(target), "--download"]
    argv += ["--data-dir", str(data), "--corruptions", "all", "--out", str(tmp_path / "r.json")]
    monkeypatch.setattr(sys, "argv", argv)
    try:
        main()
        code = 0
    except SystemExit as exit_:
        code = exit_.code or 0
    assert code == 0, capsys.readouterr().err
    frame = read_results(tmp_path / "r.json")
    assert set(frame["condition"]) == {"clean", "fog", "contrast"} and set(frame["n"]) == {N}
    assert (target / "labels.npy").exists() and not (data / "CIFAR-10-C.tar").exists()


class _NoSteps:
    """An engine that runs nothing: the test is about what reproduce does before its steps."""

    def describe(self, settings):
        return "no steps (test)"

    def run(self, steps, out, settings, on_start, on_end):
        self.steps = steps
        return []


def test_reproduce_downloads_once_before_the_steps(server, tmp_path, monkeypatch, capsys):
    from specreg_cli import reproduce

    monkeypatch.setattr(cifar10c, "RELEASE", server.release())
    engine = _NoSteps()
    monkeypatch.setattr(reproduce, "get_engine", lambda name: engine)
    target, data = tmp_path / "c10c", tmp_path / "data"
    argv = ["specreg", "reproduce", "--preset", "demo", "--out", str(tmp_path / "out")]
    argv += ["--cifar10c-dir", str(target), "--download", "--data-dir", str(data)]
    monkeypatch.setattr(sys, "argv", argv)
    try:
        main()
        code = 0
    except SystemExit as exit_:
        code = exit_.code or 0
    assert code == 0, capsys.readouterr().err
    assert (target / "labels.npy").exists() and len(server.log) == 1
    evaluations = [s for s in engine.steps if s.argv[0] == "eval-corruptions"]
    assert evaluations and all(str(target) in s.argv for s in evaluations)
    assert not any("--download" in s.argv for s in evaluations)  # the steps read the folder, never fetch
