"""specreg_cli.model_set: one way for `attack` and `eval-corruptions` to load checkpoints together and pick
the test split they are evaluated on."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch

from specreg_cli.checkpoint import CHECKPOINT_NAME, Checkpoint, build_model, make_meta, save_checkpoint
from specreg_cli.cli import main
from specreg_cli.data import load_dataset
from specreg_cli.errors import SpecregError
from specreg_cli.model_set import evaluation_dataset, load_model_set, same_test_split

LENET = {"arch": "lenet", "num_classes": 10, "spectral": None}
SMALL, OTHER_TRAIN, OTHER_TEST = (
    "synthetic:train=96,test=32",
    "synthetic:train=64,test=32",
    "synthetic:train=96,test=48",
)


def _fake(run: str, spec: str | None, test_sha256: str | None = None) -> Checkpoint:
    meta = {"config": {"dataset": spec} if spec else {}}
    if test_sha256:
        meta["test_dataset"] = {"name": "synthetic", "split": "test", "sha256": test_sha256}
    return Checkpoint(Path("/runs") / run / CHECKPOINT_NAME, {}, meta, "0" * 64)


def test_the_train_part_of_a_spec_does_not_decide_the_test_split():
    a, b = _fake("a", SMALL), _fake("b", OTHER_TRAIN)
    assert same_test_split(a, b)
    assert evaluation_dataset([a, b]) == SMALL
    with pytest.raises(SpecregError) as info:
        evaluation_dataset([a, _fake("c", OTHER_TEST)])
    assert "different test splits" in info.value.message and "--dataset" in info.value.hint


def test_recorded_test_hashes_decide_when_both_have_one():
    same = [_fake("a", SMALL, "abc"), _fake("b", "synthetic:train=64,test=32,seed=0", "abc")]
    assert evaluation_dataset(same) == SMALL
    with pytest.raises(SpecregError, match="different test splits"):  # same spec, another test split
        evaluation_dataset([_fake("a", SMALL, "abc"), _fake("b", SMALL, "def")])
    # one without a hash: the specs (train part ignored) decide
    assert evaluation_dataset([_fake("a", SMALL, "abc"), _fake("b", OTHER_TRAIN)]) == SMALL


def test_dataset_override_and_missing_spec():
    a, c = _fake("a", SMALL), _fake("c", OTHER_TEST)
    assert evaluation_dataset([a, c], OTHER_TEST) == OTHER_TEST  # --dataset evaluates both on one split
    with pytest.raises(SpecregError, match="unknown dataset"):
        evaluation_dataset([a], "mnist")
    with pytest.raises(SpecregError) as info:
        evaluation_dataset([_fake("x", None)])
    assert "does not record" in info.value.message and "--dataset" in info.value.hint


def test_duplicate_run_names_are_refused_before_anything_is_loaded(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / CHECKPOINT_NAME).write_bytes(b"not a checkpoint")  # loading it would be another error
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "a.pt").write_bytes(b"not a checkpoint either")
    with pytest.raises(SpecregError, match="share the run name 'a'"):
        load_model_set([tmp_path / "a", tmp_path / "b" / "a.pt"], "cpu")


# --- the same behaviour through both commands ----------------------------------------------------------


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Untrained LeNets trained (by their metadata) on three specs: two share their test split."""
    root = tmp_path_factory.mktemp("runs")
    for seed, (run, spec, record_test) in enumerate(
        [("small", SMALL, True), ("other_train", OTHER_TRAIN, False), ("other_test", OTHER_TEST, True)]
    ):
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            model = build_model(LENET)
        meta = make_meta(LENET, "natural", load_dataset(spec, "train").identity, 1, 1, {"dataset": spec})
        if record_test:
            meta["test_dataset"] = load_dataset(spec, "test").identity
        save_checkpoint(root / run / CHECKPOINT_NAME, model, meta)
    return root


@pytest.fixture
def cli(monkeypatch, capsys):
    def run(*args):
        monkeypatch.setattr(sys, "argv", ["specreg", *map(str, args)])
        try:
            main()
            code = 0
        except SystemExit as exit_:
            code = exit_.code or 0
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


COMMANDS = {
    "attack": ["--eps", "2/255", "--steps", "1"],
    "eval-corruptions": ["--corruptions", "contrast", "--severities", "1"],
}


@pytest.mark.parametrize("command", list(COMMANDS))
def test_both_commands_accept_checkpoints_of_one_test_split(runs, tmp_path, cli, command):
    out = tmp_path / "r.json"
    code, _, stderr = cli(command, runs / "small", runs / "other_train", *COMMANDS[command], "--out", out)
    assert code == 0, stderr
    document = json.loads(out.read_text())
    assert {r["run"] for r in document["records"]} == {"small", "other_train"}
    assert {r["n"] for r in document["records"]} == {32}  # evaluated on the shared 32-image test split
    assert document["provenance"]["dataset"]["sha256"] == load_dataset(SMALL, "test").identity["sha256"]


@pytest.mark.parametrize("command", list(COMMANDS))
def test_both_commands_refuse_different_test_splits_in_one_line(runs, tmp_path, cli, command):
    out = tmp_path / "r.json"
    code, _, stderr = cli(command, runs / "small", runs / "other_test", *COMMANDS[command], "--out", out)
    assert code == 1 and len(stderr.strip().splitlines()) == 1, stderr
    assert "different test splits" in stderr and "--dataset" in stderr and not out.exists()
    # --dataset evaluates both on one split
    code, _, stderr = cli(
        command,
        runs / "small",
        runs / "other_test",
        *COMMANDS[command],
        "--dataset",
        OTHER_TEST,
        "--out",
        out,
    )
    assert code == 0, stderr
    assert {r["n"] for r in json.loads(out.read_text())["records"]} == {48}
