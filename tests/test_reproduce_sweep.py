"""Sweeps: presets x seeds x arms as one plan with one report (`reproduce --preset a,b`)."""

import dataclasses

import pytest
from typer.testing import CliRunner

from specreg_cli import reproduce as lib
from specreg_cli.cli import app
from specreg_cli.errors import SpecregError
from specreg_cli.methods import METHODS

TINY = lib.PRESETS["tiny"]
LONGER = dataclasses.replace(TINY, name="longer", train={**TINY.train, "epochs": 2})  # trains otherwise only


def test_one_preset_is_its_plan(tmp_path):
    assert lib.sweep([TINY], tmp_path, seeds=[0, 1]) == lib.plan(TINY, tmp_path, seeds=[0, 1])


def test_presets_seeds_and_arms_are_one_plan_with_one_report(tmp_path):
    steps = lib.sweep([TINY, LONGER], tmp_path, seeds=[0, 1], device="cpu")
    by_name = {s.name: s for s in steps}
    trains = [s.name for s in steps if s.kind == "train"]
    assert trains == [f"train {p}-{m}-s{s}" for p in ("tiny", "longer") for s in (0, 1) for m in METHODS]
    argv = list(by_name["train longer-masked-s1"].argv)
    assert argv[argv.index("--group") + 1] == "longer-masked"  # the report's row: preset and arm
    assert argv[argv.index("--epochs") + 1] == "2" and argv[argv.index("--seed") + 1] == "1"
    assert by_name["train longer-masked-s1"].output == tmp_path / "runs" / "longer-masked-s1"
    evaluations = [s.name for s in steps if s.kind == "evaluate"]
    assert len(evaluations) == 2 * 2 * len(METHODS) * 2  # presets x seeds x arms x (corruptions, attack)
    reports = [s for s in steps if s.kind == "report"]
    assert [s.name for s in reports] == ["report md", "report csv"] and steps[-2:] == reports
    assert all(s.after == tuple(evaluations) for s in reports)  # one report over every run


def test_a_fine_tune_arm_starts_from_its_own_presets_run(tmp_path):
    arms = (lib.Arm("natural", "natural"), lib.Arm("masked-ft", "masked", init_from="natural"))
    first, second = (dataclasses.replace(p, arms=arms) for p in (TINY, LONGER))
    steps = {s.name: s for s in lib.sweep([first, second], tmp_path, seeds=[3])}
    fine = steps["train longer-masked-ft-s3"]
    assert fine.after == ("train longer-natural-s3",)
    assert fine.argv[fine.argv.index("--init-from") + 1] == str(tmp_path / "runs" / "longer-natural-s3")


def test_presets_that_evaluate_differently_are_refused(tmp_path):
    with pytest.raises(SpecregError, match="'tiny' and 'demo' evaluate differently \\(dataset, severities"):
        lib.sweep([TINY, lib.PRESETS["demo"]], tmp_path)
    other_data = dataclasses.replace(LONGER, dataset="synthetic:train=128,test=64")
    lib.sweep([TINY, other_data], tmp_path, dataset="synthetic:train=64,test=32")  # --dataset: one dataset
    with pytest.raises(SpecregError, match="named twice"):
        lib.sweep([TINY, TINY], tmp_path)


def test_cli_sweep_errors_write_nothing(tmp_path):
    for presets, message in (("tiny,demo", "evaluate differently"), ("tiny, tiny", "named twice")):
        result = CliRunner().invoke(app, ["reproduce", "--preset", presets, "--out", str(tmp_path)])
        assert message in str(result.exception)
    assert not any(tmp_path.iterdir())
