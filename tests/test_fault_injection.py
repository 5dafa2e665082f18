"""Fault injection: every class of hostile or unlucky input, through the CLI as a user meets it.

Each case runs ``specreg`` in-process through :func:`specreg_cli.cli.main` (the console script's entry
point, which turns errors into one red line) and asserts exit code 1, exactly one line on stderr, no
traceback (an uncaught exception would fail the test), and that nothing was left behind: no output
file, no temporary file, no code run from a data file.

Classes: malicious pickles in every file the tool reads; kills at every replace of a checkpoint write;
concurrent writers; unwritable and full outputs; non-finite weights and options; corrupted and
hand-edited files (results, checkpoints, adversarial examples and their sidecars).
"""

from __future__ import annotations

import copy
import errno
import json
import os
import pickle
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from specreg_cli import adversarial_io
from specreg_cli.checkpoint import CHECKPOINT_NAME, build_model, make_meta, save_checkpoint
from specreg_cli.cli import main
from specreg_cli.data import load_dataset
from specreg_cli.data.cifar10 import FOLDER, TEST_FILES, TRAIN_FILES
from specreg_cli.output_lock import claim_outputs
from specreg_cli.results import provenance
from specreg_cli.run_dir import RunDir
from specreg_cli.train import train
from specreg_cli.train_config import TrainConfig

SPEC = "synthetic:train=64,test=20"
LENET = {"arch": "lenet", "num_classes": 10, "spectral": None}
FAST = ["--device", "cpu", "--batch-size", "20"]


# --- the harness ----------------------------------------------------------------------------------


def run_specreg(argv: list[str], capsys, monkeypatch) -> tuple[int, list[str]]:
    """(exit code, non-empty stderr lines) of ``specreg ARGV`` through the console script's main()."""
    monkeypatch.setattr(sys, "argv", ["specreg", *map(str, argv)])
    capsys.readouterr()
    with pytest.raises(SystemExit) as stopped:
        main()
    err = capsys.readouterr().err
    code = stopped.value.code
    # a progress bar's last frame is not a message (on a terminal it is erased): "━" marks one
    return (0 if code is None else code), [
        line for line in err.splitlines() if line.strip() and "━" not in line
    ]


def assert_one_line(argv, capsys, monkeypatch, *needles: str) -> str:
    code, lines = run_specreg(argv, capsys, monkeypatch)
    assert code == 1, lines
    assert len(lines) == 1, lines
    assert "Traceback" not in lines[0]
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def files_under(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


class Trap:
    """Unpickling this creates ``marker``: proof that a reader ran code from a data file."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    """A loose LeNet run directory (untrained weights: the faults, not the accuracy, are under test)."""
    root = tmp_path_factory.mktemp("run") / "natural"
    identity = load_dataset(SPEC, "test").identity
    torch.manual_seed(0)
    save_checkpoint(
        root / CHECKPOINT_NAME,
        build_model(LENET),
        make_meta(LENET, "natural", identity, 1, 1, {"dataset": SPEC}),
    )
    return root


def checkpoint_with(tmp_path: Path, mutate) -> Path:
    """A copy of a LeNet checkpoint whose payload ``mutate(payload)`` hand-edited."""
    identity = load_dataset(SPEC, "test").identity
    model = build_model(LENET)
    payload = {
        "format": "specreg-checkpoint",
        "format_version": 1,
        "state_dict": model.state_dict(),
        "meta": copy.deepcopy(make_meta(LENET, "natural", identity, 1, 1, {"dataset": SPEC})),
    }
    mutate(payload)
    path = tmp_path / "edited" / CHECKPOINT_NAME
    path.parent.mkdir()
    torch.save(payload, path)
    return path.parent


# --- 1. malicious pickles in every file the tool reads ----------------------------------------------


def test_the_trap_is_live(tmp_path):
    marker = tmp_path / "ran"
    pickle.loads(pickle.dumps(Trap(marker)))
    assert marker.exists()


def _trapped_checkpoint(tmp_path, marker):
    path = tmp_path / "trap" / CHECKPOINT_NAME
    path.parent.mkdir()
    torch.save({"format": "specreg-checkpoint", "state_dict": {}, "meta": Trap(marker)}, path)
    return ["eval-corruptions", path.parent, "--corruptions", "contrast", "--severities", "1", *FAST]


def _trapped_adversarial_pt(tmp_path, marker):
    path = tmp_path / "adv.pt"
    torch.save(
        {
            "images": torch.zeros(2, 3, 32, 32),
            "labels": torch.zeros(2, dtype=torch.long),
            "meta": Trap(marker),
        },
        path,
    )
    return ["attack", "RUN", "--adv-from", path, "--device", "cpu"]


def _trapped_adversarial_npy(tmp_path, marker):
    path = tmp_path / "adv.npy"
    np.save(path, np.array([Trap(marker)], dtype=object), allow_pickle=True)
    np.save(tmp_path / "adv_labels.npy", np.zeros(1, dtype=np.int64))
    return ["attack", "RUN", "--adv-from", path, "--device", "cpu"]


def _trapped_cifar10_batch(tmp_path, marker):
    folder = tmp_path / "data" / FOLDER
    folder.mkdir(parents=True)
    for name in TRAIN_FILES + TEST_FILES:
        (folder / name).write_bytes(pickle.dumps({b"data": Trap(marker), b"labels": [0]}))
    return ["train", "--dataset", "cifar10", "--data-dir", tmp_path / "data", "--arch", "lenet",
            "--epochs", "1", "--device", "cpu", "--out", tmp_path / "out"]  # fmt: skip


def _trapped_cifar10c_file(tmp_path, marker):
    folder = tmp_path / "c"
    folder.mkdir()
    np.save(folder / "contrast.npy", np.array([Trap(marker)], dtype=object), allow_pickle=True)
    np.save(folder / "labels.npy", np.zeros(100, dtype=np.uint8))
    return ["eval-corruptions", "RUN", "--cifar10c-dir", folder, "--corruptions", "contrast", *FAST]


@pytest.mark.parametrize(
    "make",
    [
        _trapped_checkpoint,
        _trapped_adversarial_pt,
        _trapped_adversarial_npy,
        _trapped_cifar10_batch,
        _trapped_cifar10c_file,
    ],  # fmt: skip
    ids=["checkpoint", "adversarial-pt", "adversarial-npy", "cifar10-batch", "cifar10c-npy"],
)
def test_no_data_file_runs_code(make, run, tmp_path, capsys, monkeypatch):
    marker = tmp_path / "ran"
    argv = [run if a == "RUN" else a for a in make(tmp_path, marker)]
    assert_one_line(argv, capsys, monkeypatch)
    assert not marker.exists()
    assert not (tmp_path / "out").exists()


# --- 2. kills at every replace of a checkpoint write -----------------------------------------------


class Killed(BaseException):
    """What a SIGKILL looks like to the code: nothing after this point runs (not even except Exception)."""


def tiny(epochs: int = 2) -> TrainConfig:
    return TrainConfig(arch="lenet", method="masked", dataset="synthetic:train=64,test=32", epochs=epochs,
                       batch_size=32, device="cpu")  # fmt: skip


def _count_replaces(monkeypatch, tmp_path) -> int:
    calls = []
    real = os.replace
    monkeypatch.setattr("specreg_cli.atomic.os.replace", lambda a, b: (calls.append(b), real(a, b))[1])
    train(tiny(), tmp_path / "count")
    monkeypatch.setattr("specreg_cli.atomic.os.replace", real)
    return len(calls)


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
    return train(tiny(), tmp_path_factory.mktemp("straight") / "run")


@pytest.mark.parametrize("kill_at", range(8))  # a 2-epoch masked run replaces 8 files (checked below)
def test_a_kill_at_any_replace_loses_nothing(kill_at, straight, tmp_path, monkeypatch):
    if kill_at == 0:
        assert _count_replaces(monkeypatch, tmp_path) == 8  # 4 per epoch: model.pt first
    out = tmp_path / "run"
    real = os.replace
    calls = []

    def replace_then_die(src, dst):
        calls.append(dst)
        if len(calls) - 1 == kill_at:
            shutil.copy(
                src, Path(src).with_name(Path(src).name.replace(".tmp", "x.tmp"))
            )  # as a kill leaves it
            raise Killed
        return real(src, dst)

    monkeypatch.setattr("specreg_cli.atomic.os.replace", replace_then_die)
    with pytest.raises(Killed):
        train(tiny(), out)
    monkeypatch.setattr("specreg_cli.atomic.os.replace", real)
    resumed = (
        train(tiny(), out, resume=True) if RunDir(out).checkpoint.exists() else train(tiny(), out, force=True)
    )
    assert [r["test_acc"] for r in resumed.metrics] == [r["test_acc"] for r in straight.metrics]
    assert RunDir(out).read_state().finished
    assert len(RunDir(out).read_metrics()) == 2
    assert not list(out.glob(".*.tmp"))


# --- 3. concurrent writers --------------------------------------------------------------------------


def test_a_second_writer_of_a_results_file_is_refused_with_the_holders_pid(
    run, tmp_path, capsys, monkeypatch
):
    out = tmp_path / "results" / "c.json"
    argv = ["eval-corruptions", run, "--corruptions", "contrast", "--severities", "1", *FAST, "--out", out]
    with claim_outputs([out]):  # another specreg writing the same file right now
        line = assert_one_line(argv, capsys, monkeypatch, "being written", f"process {os.getpid()}")
    assert "c.json" in line
    assert not out.exists()
    code, _ = run_specreg(argv, capsys, monkeypatch)  # the lock went with its holder
    assert code == 0 and out.exists()
    assert not list(out.parent.glob(".*.lock"))


def test_the_lock_dies_with_its_process(tmp_path):
    out = tmp_path / "x.json"
    holder = (
        "import sys, time; from pathlib import Path; from specreg_cli.output_lock import claim_outputs\n"
        f"with claim_outputs([Path({str(out)!r})]):\n    print('held', flush=True); time.sleep(60)\n"
    )
    import subprocess

    child = subprocess.Popen(
        [sys.executable, "-c", holder], stdout=subprocess.PIPE, text=True, cwd=Path.cwd()
    )
    try:
        assert child.stdout.readline().strip() == "held"
        from specreg_cli.errors import SpecregError

        with pytest.raises(SpecregError, match=f"process {child.pid}"), claim_outputs([out]):
            pass
        child.kill()  # kill -9: no cleanup code runs in the holder
        child.wait()
        with claim_outputs([out]):  # the OS released its lock
            pass
    finally:
        child.kill()


# --- 4. unwritable and full outputs -----------------------------------------------------------------


@pytest.mark.parametrize("command", ["eval-corruptions", "attack"])
@pytest.mark.parametrize("where", ["a folder", "under a file", "empty"])
def test_a_bad_output_path_is_one_line_before_any_work(command, where, run, tmp_path, capsys, monkeypatch):
    (tmp_path / "file").write_text("x")
    (tmp_path / "dir.json").mkdir()
    out = {"a folder": tmp_path / "dir.json", "under a file": tmp_path / "file" / "r.json", "empty": ""}[
        where
    ]
    work = []  # the evaluation must never start
    monkeypatch.setattr("specreg_cli.model_set.load_model_set", lambda *a, **k: work.append(1))
    extra = (
        ["--corruptions", "contrast", "--severities", "1"]
        if command == "eval-corruptions"
        else ["--steps", "1"]
    )
    assert_one_line([command, run, *extra, *FAST, "--out", out], capsys, monkeypatch)
    assert not work
    assert files_under(tmp_path) == {tmp_path / "file"}


@pytest.mark.parametrize("err", [errno.ENOSPC, errno.EROFS, errno.EACCES])
def test_a_full_or_read_only_disk_is_one_line_and_leaves_nothing(err, run, tmp_path, capsys, monkeypatch):
    out = tmp_path / "results" / "c.json"

    def refuse(*args, **kwargs):
        raise OSError(err, os.strerror(err), str(out))

    monkeypatch.setattr("specreg_cli.atomic.tempfile.mkstemp", refuse)
    argv = ["eval-corruptions", run, "--corruptions", "contrast", "--severities", "1", *FAST, "--out", out]
    assert_one_line(argv, capsys, monkeypatch, os.strerror(err))
    assert not files_under(tmp_path)


# --- 5. non-finite weights and options --------------------------------------------------------------


def _nan_weights(payload):
    name = next(iter(payload["state_dict"]))
    payload["state_dict"][name] = torch.full_like(payload["state_dict"][name], float("nan"))


@pytest.mark.parametrize("command", ["eval-corruptions", "attack"])
def test_a_nan_model_is_never_evaluated(command, tmp_path, capsys, monkeypatch):
    edited = checkpoint_with(tmp_path, _nan_weights)
    extra = (
        ["--corruptions", "contrast", "--severities", "1"]
        if command == "eval-corruptions"
        else ["--steps", "1"]
    )
    out = tmp_path / "r.json"
    assert_one_line([command, edited, *extra, *FAST, "--out", out], capsys, monkeypatch, "NaN or infinite")
    assert not out.exists()


@pytest.mark.parametrize(
    "option", ["--lr", "--weight-decay", "--noise-std", "--mask-init-mean", "--momentum", "--mask-lr-mult"]
)
@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_every_float_option_refuses_non_finite_values(option, value, tmp_path, capsys, monkeypatch):
    argv = [
        "train",
        "--arch",
        "lenet",
        "--dataset",
        SPEC,
        "--epochs",
        "1",
        option,
        value,
        "--out",
        tmp_path / "r",
    ]
    code, lines = run_specreg(argv, capsys, monkeypatch)
    assert code in (1, 2) and lines and "Traceback" not in "\n".join(lines)
    assert not (tmp_path / "r").exists()


# --- 6. corrupted and hand-edited files -------------------------------------------------------------


def _results_file(tmp_path: Path, edit) -> Path:
    record = {"run": "natural-s0", "method": "natural", "arch": "lenet", "dataset": "synthetic",
              "condition": "clean", "severity": None, "metric": "accuracy", "value": 0.935, "n": 20,
              "params": {}}  # fmt: skip
    prov = provenance("eval-corruptions", {}, 0)
    document = {"schema": "specreg-results", "version": 1, "provenance": prov, "records": [record]}
    edit(document, record)
    path = tmp_path / "results.json"
    path.write_text(json.dumps(document))
    return path


RESULT_EDITS = {
    "a percentage": (lambda d, r: r.update(value=93.5), "outside [0, 1]"),
    "a negative accuracy": (lambda d, r: r.update(value=-0.5), "outside [0, 1]"),
    "a string value": (lambda d, r: r.update(value="93%"), "not a finite number"),
    "a record that is a string": (lambda d, r: d.update(records=["clean 93.5"]), "not an object"),
    "records not a list": (lambda d, r: d.update(records={"a": r}), "records must be a list"),
    "a numeric run name": (lambda d, r: r.update(run=7), "run"),
    "a boolean severity": (lambda d, r: r.update(severity=True), "severity"),
    "provenance a list": (lambda d, r: d.update(provenance=[1]), "provenance"),
    "a text seed": (lambda d, r: d["provenance"].update(seed="zero"), "seed"),
    "a dataset string": (lambda d, r: d["provenance"].update(dataset="synthetic"), "dataset"),
    "a checkpoint string": (
        lambda d, r: d["provenance"].update(checkpoints={"natural-s0": "abc"}),
        "checkpoint",
    ),
    "a version string": (lambda d, r: d.update(version="1"), "version"),
}


@pytest.mark.parametrize("edit", RESULT_EDITS, ids=list(RESULT_EDITS))
def test_a_hand_edited_results_file_is_one_line(edit, tmp_path, capsys, monkeypatch):
    change, needle = RESULT_EDITS[edit]
    path = _results_file(tmp_path, change)
    out = tmp_path / "table.md"
    assert_one_line(["report", path, "--out", out], capsys, monkeypatch, needle)
    assert not out.exists()


def test_a_truncated_results_file_is_one_line(tmp_path, capsys, monkeypatch):
    path = _results_file(tmp_path, lambda d, r: None)
    path.write_text(path.read_text()[:50])
    assert_one_line(["report", path], capsys, monkeypatch, "not a readable JSON")


CHECKPOINT_EDITS = {
    "no meta": (lambda p: p.pop("meta"), "no model description"),
    "an unknown arch": (lambda p: p["meta"]["model"].update(arch="vgg99"), "unknown architecture"),
    "num_classes text": (lambda p: p["meta"]["model"].update(num_classes="ten"), "num_classes"),
    "a state_dict list": (lambda p: p.update(state_dict=[1, 2]), "state_dict"),
    "a missing weight": (lambda p: p["state_dict"].pop(next(iter(p["state_dict"]))), "does not match"),
    "mask settings a list": (lambda p: p["meta"]["model"].update(spectral=[0.5]), "spectral"),
    "bad mask settings": (
        lambda p: p["meta"]["model"].update(spectral={"threshold": "high"}),
        "model settings",
    ),
    "config a string": (lambda p: p["meta"].update(config="x"), "config"),
    "infinite weights": (_nan_weights, "NaN or infinite"),
}


@pytest.mark.parametrize("edit", CHECKPOINT_EDITS, ids=list(CHECKPOINT_EDITS))
def test_a_hand_edited_checkpoint_is_one_line(edit, tmp_path, capsys, monkeypatch):
    change, needle = CHECKPOINT_EDITS[edit]
    edited = checkpoint_with(tmp_path, change)
    out = tmp_path / "r.json"
    argv = ["eval-corruptions", edited, "--corruptions", "contrast", "--severities", "1", *FAST, "--out", out]
    assert_one_line(argv, capsys, monkeypatch, needle)
    assert not out.exists()


def _examples(tmp_path: Path, shift: int = 0, eps: float = 2 / 255, **meta_changes) -> Path:
    """A uint8 examples file made from the first 20 synthetic test images, moved by ``shift`` levels."""
    test = load_dataset(SPEC, "test")
    moved = np.clip(test.images.astype(np.int16) + shift, 0, 255).astype(np.uint8)
    meta = {"attack": "pgd", "eps": eps, "norm": "Linf", "steps": 1,
            **adversarial_io.source_meta(SPEC, test, 0, 20), **meta_changes}  # fmt: skip
    path = tmp_path / "adv" / "adv.npy"
    adversarial_io.save_adversarial(path, moved, test.labels, meta)
    return path


def test_honest_examples_are_accepted_and_marked_verified(run, tmp_path, capsys, monkeypatch):
    from specreg_cli.results import read_results

    path, out = _examples(tmp_path, shift=2), tmp_path / "t.json"
    code, lines = run_specreg(
        ["attack", run, "--adv-from", path, "--device", "cpu", "--out", out], capsys, monkeypatch
    )
    assert code == 0, lines
    frame = read_results(out)
    assert frame[frame.condition == "transfer"].param_eps_verified.all()


def test_examples_moved_beyond_their_claimed_eps_are_refused(run, tmp_path, capsys, monkeypatch):
    path, out = _examples(tmp_path, shift=64), tmp_path / "t.json"
    argv = ["attack", run, "--adv-from", path, "--device", "cpu", "--out", out]
    assert_one_line(argv, capsys, monkeypatch, "64/255", "2/255")
    assert not out.exists()


SIDECAR_EDITS = {
    "a negative eps": ({"eps": -0.1}, "eps"),
    "an eps string": ({"eps": "8/255"}, "eps"),
    "an unknown norm": ({"norm": "L3"}, "norm"),
    "a text n": ({"n": "twenty"}, "n"),
    "a dataset string": ({"dataset": "synthetic"}, "dataset"),
    "a nan accuracy": ({"source_accuracy": float("nan")}, "source_accuracy"),
}


@pytest.mark.parametrize("edit", SIDECAR_EDITS, ids=list(SIDECAR_EDITS))
def test_a_hand_edited_sidecar_is_one_line(edit, run, tmp_path, capsys, monkeypatch):
    changes, needle = SIDECAR_EDITS[edit]
    path = _examples(tmp_path)
    _, meta_path = adversarial_io.sibling_paths(path)
    meta = json.loads(meta_path.read_text())
    meta_path.write_text(json.dumps({**meta, **changes}))  # Python's json writes NaN, as a hand-edit could
    assert_one_line(["attack", run, "--adv-from", path, "--device", "cpu"], capsys, monkeypatch, needle)


def test_a_sidecar_that_is_not_an_object_is_one_line(run, tmp_path, capsys, monkeypatch):
    path = _examples(tmp_path)
    adversarial_io.sibling_paths(path)[1].write_text("[1, 2]")
    assert_one_line(
        ["attack", run, "--adv-from", path, "--device", "cpu"], capsys, monkeypatch, "not an object"
    )


@pytest.mark.parametrize("defect", ["nan", "above one", "negative label", "label 10"])
def test_defective_float_examples_are_one_line(defect, run, tmp_path, capsys, monkeypatch):
    images, labels = torch.rand(4, 3, 32, 32), torch.zeros(4, dtype=torch.int64)
    if defect == "nan":
        images[0, 0, 0, 0] = float("nan")
    elif defect == "above one":
        images[1] += 1
    elif defect == "negative label":
        labels[2] = -1
    else:
        labels[3] = 10
    path = tmp_path / "adv.pt"
    torch.save({"images": images, "labels": labels, "meta": {"attack": "pgd", "eps": 0.03}}, path)
    assert_one_line(["attack", run, "--adv-from", path, "--device", "cpu"], capsys, monkeypatch)


# --- 7. kill -9 of reproduce takes its children with it ---------------------------------------------


def _children(pid: int) -> list[int]:
    """PIDs whose parent is ``pid`` (Linux /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_kill_9_of_reproduce_kills_its_running_step(tmp_path):
    import signal
    import subprocess
    import time

    parent = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "specreg_cli",
            "reproduce",
            "--preset",
            "tiny",
            "--out",
            tmp_path / "r",
            "--jobs",
            "1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while not (children := _children(parent.pid)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert children, "reproduce started no step"
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        deadline = time.monotonic() + 30
        while any(Path(f"/proc/{c}").exists() and _state(c) != "Z" for c in children):
            assert time.monotonic() < deadline, "a step outlived its reproduce"
            time.sleep(0.05)
    finally:
        parent.kill()


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"
