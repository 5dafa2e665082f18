"""The table1 and paper presets as plans: what each train step asks for reaches `specreg train` as the
TrainConfig the paper's tables need, the resume check reads it back, and the paper preset covers its three
networks. Nothing is trained here (the train command is stubbed where a step's command line is parsed)."""

import json

import pytest
from typer.testing import CliRunner

from specreg_cli import reproduce as lib
from specreg_cli.cli import app
from specreg_cli.errors import SpecregError
from specreg_cli.methods import METHODS
from specreg_cli.reproduce.presets import corruption_source
from specreg_cli.train_config import TrainConfig


def parsed_config(monkeypatch, argv) -> TrainConfig:
    """The TrainConfig that `specreg <argv>` (a train step) would train, without training it."""
    seen = {}

    class Stop(Exception):
        pass

    class FakeTrainer:
        def __init__(self, config, out, **kwargs):
            seen["config"] = config
            raise Stop

    monkeypatch.setattr("specreg_cli.train.Trainer", FakeTrainer)
    result = CliRunner().invoke(app, list(argv))
    assert isinstance(result.exception, Stop), result.output
    return seen["config"]


def train_steps(preset, out, **kwargs):
    return {s.name: s for s in lib.plan(lib.get_preset(preset), out, **kwargs) if s.kind == "train"}


def test_table1_plan_trains_nine_lenet_rows_with_their_switches(tmp_path, monkeypatch):
    steps = train_steps("table1", tmp_path, device="cpu")
    assert len(steps) == 9
    configs = {name.removeprefix("train "): parsed_config(monkeypatch, s.argv) for name, s in steps.items()}
    assert all(c.arch == "lenet" and c.dataset.startswith("synthetic") for c in configs.values())
    assert {c.group for c in configs.values()} == set(configs)  # one report row per arm

    def switches(c):
        return (c.normalize, c.crop, c.flip, c.weight_decay, c.dropout, c.method, c.mask.get("random_drop"))

    assert switches(configs["t1-none"]) == (False, False, False, 0, 0, "natural", None)
    assert switches(configs["t1-norm"])[:3] == (True, False, False)
    assert switches(configs["t1-crop"])[:3] == (True, True, False)
    assert switches(configs["t1-flip"])[:3] == (True, True, True)
    assert configs["t1-wd"].weight_decay == pytest.approx(1e-4) and configs["t1-wd"].dropout == 0
    assert configs["t1-dropout"].dropout == pytest.approx(0.1)  # keep-prob 0.9
    assert switches(configs["t1-ours"]) == (False, False, False, 0, 0, "masked", 0.0)
    assert switches(configs["t1-ours-all"]) == (True, True, True, 1e-4, 0.1, "masked", 0.0)
    assert switches(configs["t1-ours-drop"])[-1] == pytest.approx(0.2)
    # --dataset cifar10 trains the same rows on the real data
    real = train_steps("table1", tmp_path / "real", dataset="cifar10")
    assert all(s.argv[s.argv.index("--dataset") + 1] == "cifar10" for s in real.values())


def test_a_finished_table1_run_is_skipped_and_another_recipe_refused(tmp_path, monkeypatch):
    step = train_steps("table1", tmp_path, device="cpu")["train t1-ours-drop"]
    config = parsed_config(monkeypatch, step.argv).to_dict()

    def write(config):
        step.output.mkdir(parents=True, exist_ok=True)
        state = {"config": config, "status": "finished", "epochs_done": config["epochs"]}
        (step.output / "config.json").write_text(json.dumps(state))
        (step.output / "model.pt").write_bytes(b"x")

    write(config)
    assert lib.step_state(step) == lib.DONE  # booleans and the mask's random drop read back as planned
    write(config | {"mask": config["mask"] | {"random_drop": 0.1}})
    with pytest.raises(SpecregError, match="mask_random_drop 0.1"):
        lib.step_state(step)
    write(config | {"crop": False})
    with pytest.raises(SpecregError, match="crop False"):
        lib.step_state(step)


def test_paper_plan_covers_the_three_networks(tmp_path, monkeypatch):
    steps = lib.plan(lib.get_preset("paper"), tmp_path)
    trains = {s.name.removeprefix("train "): s for s in steps if s.kind == "train"}
    configs = {name: parsed_config(monkeypatch, s.argv) for name, s in trains.items()}
    by_arch = {}
    for name, config in configs.items():
        by_arch.setdefault(config.arch, []).append(name)
    assert by_arch["resnet20"] == list(METHODS)  # Table 2: every registered method
    assert by_arch["resnet18"] == ["r18-natural", "r18-sketch", "r18-ourmethod"]  # Table 3, Figures 2, 3
    assert len(by_arch["lenet"]) == 9  # Table 1
    assert all(c.dataset == "cifar10" and c.epochs == 200 and c.lr == 0.01 for c in configs.values())
    # Figure 2's "ourMethod" fine-tunes the natural ResNet-18 of the same seed, after it is trained
    assert configs["r18-ourmethod"].init_from == str(tmp_path / "runs" / "r18-natural")
    assert trains["r18-ourmethod"].after == ("train r18-natural",)
    assert configs["r18-sketch"].init_from is None and configs["r18-sketch"].method == "masked"
    # every run is evaluated on the corruptions and both attacks; the report draws Figure 3
    names = {s.name for s in steps}
    assert all(f"eval-corruptions {r}" in names and f"attack pgd-20 {r}" in names for r in trains)
    report = next(s for s in steps if s.name == "report md")
    assert report.argv[report.argv.index("--cam-images") + 1] == "8"
    assert (
        "--cam-images"
        not in next(s for s in lib.plan(lib.get_preset("table1"), tmp_path) if s.name == "report md").argv
    )


def test_paper_plan_reads_cifar10c_when_given_and_says_when_it_generates(tmp_path):
    released = tmp_path / "CIFAR-10-C"
    steps = lib.plan(lib.get_preset("paper"), tmp_path, cifar10c_dir=released)
    evaluations = [s for s in steps if s.name.startswith("eval-corruptions")]
    assert evaluations and all(str(released) in s.argv for s in evaluations)
    generated = lib.plan(lib.get_preset("paper"), tmp_path)
    assert not any("--cifar10c-dir" in s.argv for s in generated)
    assert "GENERATED" in corruption_source(None) and "--cifar10c-dir" in corruption_source(None)
    assert str(released) in corruption_source(str(released))


@pytest.mark.parametrize("released", [False, True])
def test_reproduce_says_where_the_corruptions_come_from(tmp_path, monkeypatch, released):
    from test_reproduce import fake_plan

    calls = fake_plan(monkeypatch)
    args = ["reproduce", "--preset", "paper", "--out", str(tmp_path / "out"), "--device", "cpu"]
    folder = tmp_path / "CIFAR-10-C"
    args += ["--cifar10c-dir", str(folder)] if released else []
    result = CliRunner().invoke(app, args, terminal_width=300)
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())  # Rich wraps long lines
    assert calls and ("GENERATED" in text) != released
    assert (f"read from the released CIFAR-10-C in {folder}" in text) == released


def test_paper_cost_counts_every_arm_of_the_paper_preset():
    from benchmarks.paper_cost import arm_configs, step_cost

    configs = dict(arm_configs())
    assert list(configs) == [a.name for a in lib.get_preset("paper").arm_list()]
    assert configs["r18-natural"].arch == "resnet18" and configs["t1-none"].normalize is False
    flops, seconds = step_cost(configs["t1-none"], batch=4, steps=1)
    # LeNet: 651,720 multiply-adds = 1.30 MFLOP forward; the backward adds the weight gradients (1.30) and
    # the input gradients of every layer but the first (1.30 - conv1's 0.71): 3.20 MFLOP in all
    assert flops == 2 * 651_720 * 3 - 2 * 352_800 and seconds > 0


@pytest.mark.parametrize("preset", ["study", "study-control"])
def test_the_fine_tune_arms_differ_only_by_the_masks(tmp_path, monkeypatch, preset):
    steps = {s.name: s for s in lib.plan(lib.get_preset(preset), tmp_path, seeds=[2], device="cpu")}
    control, masked = (
        parsed_config(monkeypatch, steps[f"train {n}-s2"].argv) for n in ("natural-ft", "masked-ft")
    )
    source = str((tmp_path / "runs" / "natural-s2").resolve())
    assert control.method == "natural" and masked.method == "masked"
    assert control.init_from == masked.init_from == source
    assert steps["train natural-ft-s2"].after == steps["train masked-ft-s2"].after == ("train natural-s2",)
    # one recipe but the masks: the paired difference is the masks' effect, not the 3 extra epochs'
    recipe = ("epochs", "lr", "schedule", "batch_size", "momentum", "weight_decay", "seed", "dataset", "arch")
    assert [getattr(control, k) for k in recipe] == [getattr(masked, k) for k in recipe]
    assert control.epochs == 3


def test_the_study_has_its_committed_recipe_and_the_control_keeps_the_first_one(tmp_path, monkeypatch):
    def natural(preset):
        steps = {s.name: s for s in lib.plan(lib.get_preset(preset), tmp_path / preset, seeds=[0])}
        return parsed_config(monkeypatch, steps["train natural-s0"].argv), steps

    study, study_steps = natural("study")
    control, control_steps = natural("study-control")
    # reports/study was trained with 504 steps (why, and how far natural converged: presets.STUDY_TRAIN)
    assert (study.epochs, study.batch_size) == (8, 32)
    # study-control's committed report was trained with the first study's 7 epochs of batch 128
    assert (control.epochs, control.batch_size) == (7, 128)
    assert study.dataset == control.dataset
    report = list(control_steps["report md"].argv)
    assert report[report.index("--baseline") + 1] == "natural-ft"
    assert "--baseline" not in study_steps["report md"].argv  # the default (natural) stays implicit


def test_table1_reports_against_its_first_row_and_the_default_baseline_is_the_reports():
    from specreg_cli.report.seeds import BASELINE
    from specreg_cli.reproduce.presets import DEFAULT_BASELINE

    assert DEFAULT_BASELINE == BASELINE
    steps = {s.name: s for s in lib.plan(lib.get_preset("table1"), "/tmp/t1", seeds=[0])}
    for name in ("report md", "report csv"):
        argv = list(steps[name].argv)
        assert argv[argv.index("--baseline") + 1] == "t1-none"


def test_mask_dynamics_trains_per_channel_and_per_layer_masks_at_the_papers_settings(tmp_path, monkeypatch):
    from specreg_cli.train_config import saved_option

    steps = train_steps("mask-dynamics", tmp_path, device="cpu")
    configs = {name.removeprefix("train "): parsed_config(monkeypatch, s.argv) for name, s in steps.items()}
    assert set(configs) == {"dyn-channel", "dyn-layer"}
    for config in configs.values():
        assert (config.method, config.arch, config.lr, config.momentum, config.mask_lr_mult) == (
            "masked",
            "resnet20",
            0.01,
            0.9,
            1.0,
        )
        assert config.weight_decay == pytest.approx(1e-4)
    assert configs["dyn-layer"].mask.get("per_channel") is False
    assert configs["dyn-channel"].mask.get("per_channel", True) is True
    # the resume check reads the flag back from the saved config (it is stored inverted)
    saved = {"mask": dict(configs["dyn-layer"].mask)}
    assert saved_option(saved, "mask_per_layer") is True
    assert saved_option({"mask": {"per_channel": True}}, "mask_per_layer") is False
    assert saved_option({"mask": {}}, "mask_per_layer") is None and saved_option({}, "mask_threshold") is None
