"""`specreg reproduce`: presets, the step planner, the skip / resume logic, timings, and one real tiny run."""

import contextlib
import csv
import dataclasses
import io
import json
import os
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from specreg_cli import reproduce as lib
from specreg_cli.checkpoint import file_sha256
from specreg_cli.cli import app
from specreg_cli.errors import SpecregError
from specreg_cli.methods import METHODS
from specreg_cli.parsing import parse_pixel_values
from specreg_cli.reproduce import runner as runner_module
from specreg_cli.train_config import MASK_OPTIONS, TrainConfig


@pytest.mark.parametrize("name", sorted(lib.PRESETS))
def test_every_arm_of_every_preset_is_a_valid_train_config(name):
    """An arm's name becomes its runs' --group and its options `specreg train` options: a bad one would
    only fail when its step runs, an hour into a study (a '.' in a name once did)."""
    preset = lib.PRESETS[name]
    for arm in preset.arm_list():
        options = {**preset.train, **preset.method_train.get(arm.method, {}), **arm.train}
        known = {*TrainConfig.__dataclass_fields__, *MASK_OPTIONS, "mask_per_layer"}
        unknown = set(options) - known
        assert not unknown, f"{name}/{arm.name}: {unknown}"
        fields = {k: v for k, v in options.items() if k in TrainConfig.__dataclass_fields__}
        for radius in {"adv_eps", "adv_alpha"} & set(fields):  # CLI-ready text such as "8/255"
            (fields[radius],) = parse_pixel_values([fields[radius]])
        mask = {MASK_OPTIONS[k]: v for k, v in options.items() if k in MASK_OPTIONS}
        TrainConfig(method=arm.method, group=arm.name, mask=mask, **fields).validate()


def run_in_process(args, log):
    """A runner that calls the CLI in this process (no interpreter start-up per step). One step at a time
    only: stdout and stderr are redirected process-wide."""
    log.parent.mkdir(parents=True, exist_ok=True)
    buffer, code, cpu = io.StringIO(), 0, time.process_time()
    with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
        try:
            result = app(args=list(args), prog_name="specreg", standalone_mode=False)
            code = result if isinstance(result, int) else 0
        except SpecregError as error:
            print(f"error: {error}")
            code = 1
        except SystemExit as exc:  # typer/click exit codes
            code = exc.code if isinstance(exc.code, int) else 1
    log.write_text(buffer.getvalue(), encoding="utf-8")
    return code, time.process_time() - cpu


def test_public_presets_follow_the_brief():
    assert lib.PUBLIC_PRESETS == (
        "demo", "study", "study-control", "mask-dynamics", "mask-readings", "paper", "table1"
    )  # fmt: skip
    demo, paper = lib.PRESETS["demo"], lib.PRESETS["paper"]
    assert demo.dataset == "synthetic" and demo.eval_n is None
    assert demo.train == {
        "arch": "resnet20",
        "epochs": 3,
        "lr": 0.05,
        "schedule": "cosine",
        "batch_size": 128,
    }
    (sweep,) = demo.attacks
    assert (sweep.attack, sweep.steps, sweep.n_examples) == ("pgd", 10, 500)
    assert parse_pixel_values([sweep.eps]) == [0, 2 / 255, 8 / 255]
    assert paper.dataset == "cifar10" and paper.eval_n is None and paper.method_train == {}
    assert paper.train == {
        "arch": "resnet20",
        "epochs": 200,
        "lr": 0.01,
        "schedule": "step",
        "batch_size": 128,
    }
    assert sorted(a.steps for a in paper.attacks) == [10, 20]
    assert all(8 / 255 in parse_pixel_values([a.eps]) and a.n_examples is None for a in paper.attacks)
    with pytest.raises(SpecregError, match="demo, study, study-control, mask-dynamics, mask-readings, paper"):
        lib.get_preset("fast")


def test_plan_steps_their_inputs_and_command_lines(tmp_path):
    steps = {s.name: s for s in lib.plan(lib.PRESETS["demo"], tmp_path, seed=7, device="cpu")}
    evaluations = [f"{kind} {m}" for m in METHODS for kind in ("eval-corruptions", "attack pgd-10")]
    assert list(steps) == [f"train {m}" for m in METHODS] + evaluations + ["report md", "report csv"]
    adversarial = " ".join(steps["train adversarial"].argv)
    assert adversarial.startswith("train --method adversarial --dataset synthetic --arch resnet20 --epochs 3")
    assert "--adv-steps 3" in adversarial and "--seed 7" in adversarial
    assert adversarial.endswith(f"--out {tmp_path / 'runs' / 'adversarial'}")
    assert "--adv-steps" not in " ".join(steps["train natural"].argv)  # the others: the shared recipe only
    evaluate = list(steps["eval-corruptions masked"].argv)
    assert evaluate[:2] == ["eval-corruptions", str(tmp_path / "runs" / "masked")]
    assert "--n-examples" not in evaluate  # the whole test set
    assert evaluate[evaluate.index("--severities") + 1] == "1-5"
    assert evaluate[evaluate.index("--out") + 1] == str(tmp_path / "results" / "corruptions-masked.json")
    attack = list(steps["attack pgd-10 gauss"].argv)
    assert attack[:2] == ["attack", str(tmp_path / "runs" / "gauss")]
    values = [attack[attack.index(o) + 1] for o in ("--eps", "--steps", "--n-examples")]
    assert values == ["0,2/255,8/255", "10", "500"]
    assert steps["attack pgd-10 gauss"].after == ("train gauss",)
    assert steps["report md"].after == tuple(evaluations)
    assert steps["report md"].argv[-4:] == (
        "--out",
        str(tmp_path / "table.md"),
        "--plots",
        str(tmp_path / "plots"),
    )
    paper = [s.name for s in lib.plan(lib.PRESETS["paper"], tmp_path)]
    assert "attack pgd-10 natural" in paper and "attack pgd-20 natural" in paper


def write_run(folder, step, status="finished", checkpoint=True, **changes):
    """A run directory in the given state, with the config the train step asks for (plus ``changes``)."""
    folder.mkdir(parents=True, exist_ok=True)
    config = dict(step.expected) | changes
    (folder / "config.json").write_text(json.dumps({"config": config, "status": status, "epochs_done": 1}))
    if checkpoint:
        (folder / "model.pt").write_bytes(folder.name.encode())


def test_train_step_states(tmp_path):
    step = lib.plan(lib.PRESETS["demo"], tmp_path)[2]  # train adversarial
    assert lib.step_state(step) == lib.TODO
    write_run(step.output, step, status="running", checkpoint=False)
    assert lib.step_state(step) == lib.RESTART and lib.command_line(step, lib.RESTART)[-1] == "--force"
    write_run(step.output, step, status="running")
    assert lib.step_state(step) == lib.RESUME and lib.command_line(step, lib.RESUME)[-1] == "--resume"
    write_run(step.output, step, adv_eps=8 / 255, lr=0.05)  # floats in config.json vs "8/255" in the plan
    assert lib.step_state(step) == lib.DONE
    write_run(step.output, step, epochs=200)
    with pytest.raises(SpecregError, match="another recipe: epochs 200"):
        lib.step_state(step)


def test_evaluation_is_done_only_for_the_current_checkpoints(tmp_path):
    steps = lib.plan(lib.PRESETS["tiny"], tmp_path)
    train, evaluate = steps[3], steps[-3]  # train masked, attack pgd-2 masked
    assert evaluate.runs == (train.output,)
    write_run(train.output, train)
    assert lib.step_state(evaluate) == lib.TODO  # no results file yet
    checkpoint = train.output / "model.pt"
    hashes = {"masked": {"path": str(checkpoint), "sha256": file_sha256(checkpoint)}}
    evaluate.output.parent.mkdir(parents=True)
    evaluate.output.write_text(json.dumps({"provenance": {"checkpoints": hashes}, "records": []}))
    assert lib.step_state(evaluate) == lib.TODO  # no record of the command line that made it
    lib.argv_stamp(evaluate).write_text(json.dumps(list(evaluate.argv)))
    assert lib.step_state(evaluate) == lib.DONE
    lib.argv_stamp(evaluate).write_text(json.dumps([*evaluate.argv[:-2], "--eps", "4/255"]))
    assert lib.step_state(evaluate) == lib.TODO  # same checkpoint, other command line: rerun
    lib.argv_stamp(evaluate).write_text(json.dumps(list(evaluate.argv)))
    (train.output / "model.pt").write_bytes(b"retrained")  # the checkpoint changed after the evaluation
    assert lib.step_state(evaluate) == lib.TODO
    assert lib.step_state(steps[-1]) == lib.ALWAYS  # reports are cheap and always rewritten


class FakeRunner:
    """Pretends to run each command by writing the output that marks it done."""

    def __init__(self, fail=None, failure_log="ok\n"):
        self.calls, self.fail, self.failure_log = [], fail, failure_log

    def __call__(self, args, log):
        self.calls.append(list(args))
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text("ok\n")
        if self.fail and args[0] == self.fail:
            log.write_text(self.failure_log)
            return 1, 0.5
        out = args[args.index("--out") + 1] if "--out" in args else None
        if args[0] == "train":
            run = Path(out)
            run.mkdir(parents=True, exist_ok=True)
            (run / "model.pt").write_bytes(run.name.encode())
            pairs = zip(args[1::2], args[2::2], strict=False)  # "--lr 0.05" -> {"lr": "0.05"}, as in a config
            config = {k[2:].replace("-", "_"): v for k, v in pairs if k not in ("--device", "--out")}
            (run / "config.json").write_text(json.dumps({"config": config, "status": "finished"}))
        elif args[0] in ("eval-corruptions", "attack"):
            run = Path(args[1])
            Path(out).parent.mkdir(parents=True, exist_ok=True)
            Path(out).write_text(
                json.dumps(
                    {"provenance": {"checkpoints": {run.name: {"sha256": file_sha256(run / "model.pt")}}}}
                )
            )
        else:
            Path(out).write_text("report\n")
        return 0, 0.25


def test_run_plan_skips_finished_steps_and_keeps_timings(tmp_path):
    steps = lib.plan(lib.PRESETS["tiny"], tmp_path)
    first = FakeRunner()
    timings = lib.run_plan(steps, tmp_path, runner=first)
    assert [t.status for t in timings] == ["ran"] * 14 and len(first.calls) == 14
    (tmp_path / "results" / "corruptions-gauss.json").unlink()  # as if interrupted before this evaluation
    second = FakeRunner()
    timings = lib.run_plan(steps, tmp_path, runner=second)
    assert [t.status for t in timings] == ["skipped"] * 6 + ["ran"] + ["skipped"] * 5 + ["ran"] * 2
    assert [c[0] for c in second.calls] == ["eval-corruptions", "report", "report"]
    rows = list(csv.DictReader((tmp_path / "timings.csv").open()))
    assert [r["step"] for r in rows] == [s.name for s in steps] + [lib.TOTAL]
    assert all(r["wall_s"] != "" for r in rows)  # skipped steps keep the seconds of the run that did them
    assert rows[0]["cpu_s"] == "0.25" and rows[-1]["cpu_s"] == "0.75"  # total: the three steps that ran
    assert rows[0]["command"].startswith("specreg train --method natural --dataset synthetic:train=256")
    assert str(tmp_path) not in rows[0]["command"]  # paths shown relative to OUT's parent


def test_a_failed_step_stops_the_plan_with_its_log(tmp_path):
    steps = lib.plan(lib.PRESETS["tiny"], tmp_path)
    with pytest.raises(lib.StepFailed, match="step 'train natural' failed.*logs/train-natural.log"):
        lib.run_plan(steps, tmp_path, runner=FakeRunner(fail="train"))
    rows = list(csv.DictReader((tmp_path / "timings.csv").open()))
    assert [(r["step"], r["status"]) for r in rows] == [("train natural", "failed")]


def test_parallel_jobs_respect_inputs_and_finish_everything(tmp_path):
    steps = lib.plan(lib.PRESETS["tiny"], tmp_path)
    events, lock, fake = [], threading.Lock(), FakeRunner()
    names = {" ".join(s.argv): s.name for s in steps}

    def runner(args, log):
        with lock:
            events.append(("start", names[" ".join(args)]))
        # the slowest step first: its dependants would start before it ends if the scheduler let them
        time.sleep(0.2 if args[:3] == ["train", "--method", "natural"] else 0.01)
        result = fake(args, log)
        with lock:
            events.append(("end", names[" ".join(args)]))
        return result

    timings = lib.run_plan(steps, tmp_path, runner=runner, jobs=3)
    assert [t.status for t in timings] == ["ran"] * 14
    for step in steps:  # every step started after the steps it reads had ended
        start = events.index(("start", step.name))
        assert all(events.index(("end", name)) < start for name in step.after), step.name
    running = max(
        sum(1 if kind == "start" else -1 for kind, _ in events[: i + 1]) for i in range(len(events))
    )
    assert 2 <= running <= 3  # several at a time, never more than --jobs


def test_subprocess_runner_logs_output_and_exit_code(tmp_path):
    log = tmp_path / "logs" / "version.log"
    code, cpu = lib.run_subprocess(["--version"], log, threads=1)
    assert code == 0 and cpu > 0
    assert log.read_text().startswith("specreg ")
    code, _ = lib.run_subprocess(["--no-such-option"], log)
    assert code == 2 and "No such option" in log.read_text()


def test_tiny_preset_end_to_end_then_resume(tmp_path):
    out = tmp_path / "repro"
    steps = lib.plan(lib.PRESETS["tiny"], out, seed=0, device="cpu")
    timings = lib.run_plan(steps, out, runner=run_in_process)
    assert [t.status for t in timings] == ["ran"] * 14, [(t.step, t.status) for t in timings]
    table = (out / "table.md").read_text()
    for label in ("natural", "Gaussian augmentation", "adversarial training", "masked (spectral)"):
        assert f"\n| {label} " in table
    assert "PGD-2 8/255" in table and "## Table 3" in table
    frame = pd.read_csv(io.StringIO((out / "table.csv").read_text()))
    assert set(frame["method"]) == set(METHODS)  # table.csv: Table 2; the other tables beside it
    assert (out / "table.training.csv").is_file() and (out / "table.provenance.csv").is_file()
    plots = sorted(p.name for p in (out / "plots").iterdir())
    assert plots == ["accuracy_vs_severity.png", "figure2.png", "masks_masked.png", "training_curves.png"]
    again = lib.run_plan(steps, out, runner=run_in_process)
    assert [t.status for t in again] == ["skipped"] * 12 + ["ran"] * 2


def test_reproduce_help_names_the_public_presets_only():
    result = CliRunner().invoke(app, ["reproduce", "--help"])
    assert result.exit_code == 0 and "demo" in result.output and "paper" in result.output
    assert "tiny" not in result.output


def test_unknown_preset_is_a_user_error(tmp_path):
    result = CliRunner().invoke(app, ["reproduce", "--preset", "huge", "--out", str(tmp_path)])
    assert isinstance(result.exception, SpecregError)
    assert "demo, study, study-control, mask-dynamics, mask-readings, paper, table1" in result.exception.hint
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize(
    "log, cause",
    [
        (
            "epoch 1/3\nerror: dataset 'cifar10' not found in data (pass --download)\n\n",
            "dataset 'cifar10' not found in data (pass --download)",
        ),
        ("Traceback (most recent call last):\n  File x\nValueError: boom\n", "ValueError: boom"),
        (
            "Usage: specreg train\n╭─ Error ──╮\n│ No such option: --threads │\n╰──────────╯\n",
            "No such option: --threads",
        ),
    ],
)
def test_a_failed_step_names_its_cause(tmp_path, log, cause):
    """Regression: the error named only the step's log, not why it failed."""
    steps = lib.plan(lib.PRESETS["tiny"], tmp_path)
    with pytest.raises(lib.StepFailed) as failed:
        lib.run_plan(steps, tmp_path, runner=FakeRunner(fail="train", failure_log=log))
    assert failed.value.message.startswith(f"step 'train natural' failed: {cause}; its output is in ")
    assert failed.value.message.endswith("logs/train-natural.log")


def fake_plan(monkeypatch):
    """Stub run_plan for the command: keeps what it was called with, runs nothing."""
    calls = []

    def run_plan(steps, out, runner, jobs, on_start, on_end):
        calls.append({"steps": steps, "runner": runner, "jobs": jobs})
        return []

    monkeypatch.setattr(runner_module, "run_plan", run_plan)  # what the local engine calls
    return calls


def test_the_printed_dataset_is_the_one_used(tmp_path, monkeypatch):
    """Regression: `--dataset synthetic:train=600,test=200` still printed the preset's 5,000 / 2,000."""
    calls = fake_plan(monkeypatch)
    args = [
        "reproduce",
        "--out",
        str(tmp_path),
        "--dataset",
        "synthetic:train=600,test=200",
        "--device",
        "cpu",
    ]
    result = CliRunner().invoke(app, args, terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "synthetic data (600 train / 200 test)" in result.output and "5,000" not in result.output
    train = calls[0]["steps"][0].argv
    assert train[train.index("--dataset") + 1] == "synthetic:train=600,test=200"
    assert lib.get_preset("demo").describe() == lib.get_preset("demo").describe("synthetic")
    assert "5,000 train / 2,000 test" in lib.get_preset("demo").describe()
    assert lib.get_preset("paper").describe().startswith("CIFAR-10 with the paper's SGD")


@pytest.mark.parametrize("jobs, threads, expected", [("1", "3", 3), ("2", "1", 1), ("1", None, None)])
def test_threads_reach_every_step(tmp_path, monkeypatch, jobs, threads, expected):
    """Regression: reproduce had no --threads; an explicit one reaches every child (OMP/MKL_NUM_THREADS)."""
    calls = fake_plan(monkeypatch)
    args = ["reproduce", "--out", str(tmp_path), "--device", "cpu", "--jobs", jobs]
    result = CliRunner().invoke(app, args + (["--threads", threads] if threads else []))
    assert result.exit_code == 0, result.output
    runner = calls[0]["runner"]
    assert runner.func is lib.run_subprocess and runner.keywords["threads"] == expected
    env = lib.child_env(expected)
    assert all(
        env.get(name) == (threads or os.environ.get(name)) for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")
    )


def test_threads_per_step_defaults():
    assert lib.threads_per_step(1, cores=4) is None  # one step alone: torch's choice
    assert lib.threads_per_step(2, cores=4) == 2 and lib.threads_per_step(4, cores=2) == 1
    assert lib.threads_per_step(2, cores=4, threads=3) == 3


def test_reproduce_help_has_an_example_and_flags():
    result = CliRunner().invoke(app, ["reproduce", "--help"], terminal_width=200)
    assert result.exit_code == 0 and "Example:" in result.output
    assert "--threads" in result.output and "--download" in result.output
    assert "BOOLEAN" not in result.output.upper().replace("-", "")


def test_plan_has_a_train_step_per_registered_method(tmp_path):
    steps = lib.plan(lib.PRESETS["tiny"], tmp_path)
    assert [s.name for s in steps if s.kind == "train"] == [f"train {m}" for m in METHODS]
    with pytest.raises(SpecregError, match="unknown attack"):
        lib.plan(lib.Preset("x", "{data}", "synthetic", {}, attacks=(lib.AttackPlan("cw"),)), tmp_path)


def test_seeds_are_an_axis(tmp_path):
    steps = {s.name: s for s in lib.plan(lib.PRESETS["tiny"], tmp_path, seeds=[0, 3], device="cpu")}
    trains = [n for n in steps if n.startswith("train ")]
    assert trains == [
        f"train {m}-s{s}" for s in (0, 3) for m in ("natural", "gauss", "adversarial", "masked")
    ]
    train = steps["train masked-s3"]
    assert train.output == tmp_path / "runs" / "masked-s3" and dict(train.expected)["seed"] == "3"
    evaluate = list(steps["eval-corruptions masked-s3"].argv)
    assert evaluate[evaluate.index("--seed") + 1] == "3"  # the same corruption bytes for every arm of seed 3
    assert steps["eval-corruptions masked-s3"].after == ("train masked-s3",)
    assert len(steps["report md"].after) == 2 * 4 * 2  # every evaluation of both seeds


def test_arms_fine_tune_the_run_of_their_own_seed(tmp_path):
    preset = dataclasses.replace(
        lib.PRESETS["tiny"],
        arms=(
            lib.Arm("natural", "natural"),
            lib.Arm("masked-x10", "masked", {"mask_lr_mult": 10}),
            lib.Arm("masked-ft", "masked", init_from="natural"),
        ),
    )
    steps = {s.name: s for s in lib.plan(preset, tmp_path, seeds=[1])}
    fine = steps["train masked-ft-s1"]
    argv = list(fine.argv)
    assert argv[argv.index("--init-from") + 1] == str(tmp_path / "runs" / "natural-s1")
    assert argv[argv.index("--group") + 1] == "masked-ft" and fine.after == ("train natural-s1",)
    assert "--group" not in steps["train natural-s1"].argv
    bad = dataclasses.replace(preset, arms=(lib.Arm("ft", "masked", init_from="natural"),))
    with pytest.raises(SpecregError, match="not an earlier arm"):
        lib.plan(bad, tmp_path)


def test_seed_and_seeds_exclude_each_other(tmp_path):
    result = CliRunner().invoke(app, ["reproduce", "--preset", "tiny", "--seed", "2", "--seeds", "0-1"])
    assert result.exit_code != 0 and "exclude each other" in str(result.exception)
    bad = CliRunner().invoke(app, ["reproduce", "--preset", "tiny", "--seeds", "3-1", "--out", str(tmp_path)])
    assert bad.exit_code != 0 and "--seeds must look like" in str(bad.exception)
