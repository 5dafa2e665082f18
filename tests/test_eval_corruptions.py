"""`specreg eval-corruptions` and specreg_cli.corruption_eval: files = on the fly, shared images, errors."""

from __future__ import annotations

import json
import sys

import numpy as np
import pandas as pd
import pytest
import torch

import corruptions
from specreg_cli import corruption_eval as ce
from specreg_cli.checkpoint import CHECKPOINT_NAME, build_model, load_model, make_meta, save_checkpoint
from specreg_cli.cifar10c_writer import write_cifar10c
from specreg_cli.cli import main
from specreg_cli.data import BatchLoader, images_to_tensor, load_dataset, to_float
from specreg_cli.data.cifar10c import Cifar10CFolder
from specreg_cli.evaluate import accuracy
from specreg_cli.results import read_results

SPEC = "synthetic:train=512,test=128"
MODEL_CONFIG = {"arch": "lenet", "num_classes": 10, "spectral": None}
NAMES = ("impulse_noise", "fog", "contrast")


@pytest.fixture
def cli(monkeypatch, capsys):
    """``cli(*args) -> (exit code, stdout, stderr)`` through the real entry point and its error handling."""

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


def _lenet(seed: int, train=None, epochs: int = 0):
    """A LeNet initialised from ``seed`` (global RNG forked, so other tests are unaffected), SGD-trained."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = build_model(MODEL_CONFIG)
    if epochs:
        loader = BatchLoader(train.images, train.labels, batch_size=64, device="cpu", train=True, seed=seed)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        for epoch in range(epochs):  # 8 steps per epoch
            loader.set_epoch(epoch)
            for x, y in loader:
                optimizer.zero_grad()
                torch.nn.functional.cross_entropy(model(x), y).backward()
                optimizer.step()
    return model.eval()


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A trained run directory ``natural/`` (24 SGD steps) and an untrained loose checkpoint ``other.pt``."""
    root = tmp_path_factory.mktemp("runs")
    train = load_dataset(SPEC, "train")
    for path, model, method in [
        (root / "natural" / CHECKPOINT_NAME, _lenet(0, train, 3), "natural"),
        (root / "other.pt", _lenet(1), "gauss"),
    ]:
        meta = make_meta(MODEL_CONFIG, method, train.identity, epoch=3, epochs=3, config={"dataset": SPEC})
        save_checkpoint(path, model, meta)
    return root


@pytest.fixture(scope="module")
def natural(runs):
    return runs / "natural"


@pytest.fixture(scope="module")
def test_split():
    return load_dataset(SPEC, "test")


def _values(frame):
    """{(condition, severity): accuracy} of one results frame with one run."""
    return {
        (r.condition, None if pd.isna(r.severity) else int(r.severity)): r.value for r in frame.itertuples()
    }


def test_files_give_the_same_accuracies_as_on_the_fly(natural, tmp_path, cli):
    folder, files, fly = tmp_path / "c10c", tmp_path / "files.json", tmp_path / "fly.json"
    assert cli("corrupt", "--dataset", SPEC, "--out", folder, "--seed", "7")[0] == 0
    code, stdout, _ = cli(
        "eval-corruptions",
        natural,
        "--cifar10c-dir",
        folder,
        "--batch-size",
        "128",
        "--device",
        "cpu",
        "--out",
        files,
    )
    assert code == 0 and "reading files" in stdout, stdout
    code, stdout, _ = cli(
        "eval-corruptions", natural, "--seed", "7", "--batch-size", "50", "--device", "cpu", "--out", fly
    )
    assert code == 0 and "generating corruptions" in stdout, stdout
    files, fly = read_results(files), read_results(fly)
    assert len(fly) == 1 + 3 * 5 and set(fly["n"]) == {128}
    assert _values(files) == _values(fly)
    assert ("clean", None) in _values(files)
    # corrupted images really were evaluated: severity 5 changes the accuracy of every corruption
    values = _values(fly)
    assert all(values[(name, 5)] != values[("clean", None)] for name in NAMES)


def test_matches_an_independent_accuracy_reference(natural, test_split):
    model, checkpoint = load_model(natural)
    models = [ce.EvalModel.from_checkpoint(model, checkpoint)]
    result = ce.evaluate_corruptions(
        models, ["impulse_noise", "fog"], [2, 5], clean=test_split, seed=3, batch_size=40
    )
    got = {(r.condition, r.severity): r.value for r in result.records}
    for name in ("impulse_noise", "fog"):
        for severity in (2, 5):

            def transform(batch, start, name=name, severity=severity):
                return corruptions.corrupt(batch, name, severity, seed=3, start_index=start)

            want, _ = accuracy(model, test_split.images, test_split.labels, 128, transform=transform)
            assert got[(name, severity)] == pytest.approx(want, abs=1e-12), (name, severity)
    assert got[("clean", None)] == pytest.approx(accuracy(model, test_split.images, test_split.labels)[0])


def test_several_models_share_generated_images(runs, test_split, monkeypatch):
    calls = []
    real = corruptions.corrupt

    def counting(images, name, severity, seed=0, start_index=0):
        calls.append((name, severity, start_index))
        return real(images, name, severity, seed=seed, start_index=start_index)

    monkeypatch.setattr(corruptions, "corrupt", counting)
    models = [
        ce.EvalModel.from_checkpoint(*load_model(runs / "natural")),
        ce.EvalModel.from_checkpoint(*load_model(runs / "other.pt")),
    ]
    one = ce.evaluate_corruptions(models[:1], ["fog", "contrast"], [1, 4], clean=test_split, batch_size=50)
    one_calls, calls[:] = list(calls), []
    two = ce.evaluate_corruptions(models, ["fog", "contrast"], [1, 4], clean=test_split, batch_size=50)
    assert len(one_calls) == len(calls) == 2 * 2 * 3  # corruptions x severities x ceil(128 / 50) batches
    assert len(set(calls)) == len(calls)  # each batch generated once, not once per model
    assert [r for r in two.records if r.run == "natural"] == one.records
    assert {r.run for r in two.records} == {"natural", "other"}
    assert two.timing.generate_s > 0 and two.timing.model_s > 0 and 0 < two.timing.generate_share < 1


def test_default_outputs_one_file_per_model_and_tables(runs, cli):
    code, stdout, _ = cli(
        "eval-corruptions",
        runs / "natural",
        runs / "other.pt",
        "--corruptions",
        "contrast",
        "--severities",
        "1,5",
        "--device",
        "cpu",
    )
    assert code == 0
    outputs = [(runs / "natural" / "corruptions.json", "natural"), (runs / "other.corruptions.json", "other")]
    for path, run in outputs:
        document = json.loads(path.read_text())
        assert {r["run"] for r in document["records"]} == {run}
        assert [(r["condition"], r["severity"]) for r in document["records"]] == [
            ("clean", None),
            ("contrast", 1),
            ("contrast", 5),
        ]
        assert list(document["provenance"]["checkpoints"]) == [run]
        assert document["provenance"]["dataset"]["sha256"] == load_dataset(SPEC, "test").identity["sha256"]
        assert document["provenance"]["timing"]["model_s"] > 0
        assert run in stdout
    assert "s1" in stdout and "s5" in stdout and "clean" in stdout


@pytest.mark.parametrize(
    "args, expected",
    [
        (["--corruptions", "fog,snowfall"], "valid choices: impulse_noise, fog, contrast"),
        (["--severities", "6"], "valid severities: 1, 2, 3, 4, 5"),
        (["--severities", "2-7"], "valid severities: 1, 2, 3, 4, 5"),
        (["--dataset", "mnist"], "valid choices: synthetic, cifar10"),
    ],
)
def test_bad_names_or_severities_one_line_nothing_written(runs, tmp_path, cli, args, expected):
    before = sorted(p.name for p in runs.rglob("*"))
    out = tmp_path / "r.json"
    code, _, stderr = cli("eval-corruptions", runs / "natural", "--out", out, *args)
    assert code == 1 and len(stderr.strip().splitlines()) == 1 and expected in stderr
    assert not out.exists() and sorted(p.name for p in runs.rglob("*")) == before


@pytest.mark.parametrize(
    "args, expected",
    [
        (["{natural}", "{natural}"], "share the run name"),
        (["{natural}", "--out", "{tmp}"], "is a folder"),
    ],
)
def test_outputs_checked_before_work(natural, tmp_path, cli, args, expected):
    code, _, stderr = cli("eval-corruptions", *[a.format(natural=natural, tmp=tmp_path) for a in args])
    assert code == 1 and expected in stderr and len(stderr.strip().splitlines()) == 1
    assert "eval-corruptions" not in stderr  # refused before the progress bar started


def _bad_folder(kind: str, root, test_split):
    folder = root / kind
    write_cifar10c(folder, test_split.images[:10], test_split.labels[:10], ["contrast"])
    if kind == "no-labels":
        (folder / "labels.npy").unlink()
    elif kind == "wrong-shape":
        np.save(folder / "contrast.npy", np.zeros((50, 32, 32, 1), np.uint8))
    elif kind == "not-npy":
        (folder / "contrast.npy").write_bytes(b"not a numpy file")
    return folder


@pytest.mark.parametrize(
    "kind, args, expected",
    [
        ("no-labels", [], "labels.npy is missing"),
        ("wrong-shape", ["--corruptions", "contrast"], "expected uint8"),
        ("not-npy", ["--corruptions", "contrast"], "not a readable .npy"),
        ("ok", ["--corruptions", "fog"], "this folder has: contrast"),
        ("ok", ["--corruptions", "smog"], "valid choices: gaussian_noise"),
        ("absent", [], "does not exist"),
    ],
)
def test_cifar10c_reader_errors_are_one_line(natural, tmp_path, test_split, cli, kind, args, expected):
    folder = tmp_path / "absent" if kind == "absent" else _bad_folder(kind, tmp_path, test_split)
    out = tmp_path / "r.json"
    code, _, stderr = cli("eval-corruptions", natural, "--cifar10c-dir", folder, "--out", out, *args)
    assert code == 1 and len(stderr.strip().splitlines()) == 1 and expected in stderr, stderr
    assert "Traceback" not in stderr and not out.exists()


def test_folder_all_and_clean_only_when_labels_match(natural, tmp_path, cli):
    """A folder made from other images: `all` = the files present; no clean row (a note says why), and
    an explicit --dataset whose labels don't match is an error."""
    other = load_dataset("synthetic:train=1,test=128,seed=9", "test")
    assert not np.array_equal(other.labels, load_dataset(SPEC, "test").labels)
    folder, out = tmp_path / "other-c", tmp_path / "r.json"
    write_cifar10c(folder, other.images, other.labels, ["contrast", "fog"])
    code, stdout, _ = cli(
        "eval-corruptions",
        natural,
        "--cifar10c-dir",
        folder,
        "--corruptions",
        "all",
        "--n-examples",
        "100",
        "--out",
        out,
    )
    assert code == 0 and "no clean accuracy" in stdout
    frame = read_results(out)
    assert set(frame["condition"]) == {"fog", "contrast"} and len(frame) == 10 and set(frame["n"]) == {100}
    code, _, stderr = cli(
        "eval-corruptions",
        natural,
        "--cifar10c-dir",
        folder,
        "--dataset",
        SPEC,
        "--corruptions",
        "all",
        "--out",
        tmp_path / "r2.json",
    )
    assert code == 1 and "labels" in stderr and not (tmp_path / "r2.json").exists()


# --- benchmark mean, default names, threads, provenance paths --------------------------------------


def test_registry_split_15_benchmark_and_4_extra():
    assert len(ce.BENCHMARK_CORRUPTIONS) == 15 and len(ce.EXTRA_CORRUPTIONS) == 4
    assert set(ce.BENCHMARK_CORRUPTIONS) | set(ce.EXTRA_CORRUPTIONS) == set(corruptions.RELEASED_CORRUPTIONS)
    assert set(ce.EXTRA_CORRUPTIONS) == {"gaussian_blur", "saturate", "spatter", "speckle_noise"}


def _folder_with_an_extra(root, test_split, model=None):
    """contrast and fog written by specreg, plus saturate.npy (an extra corruption): with ``model``, for each
    image a test image that ``model`` gets wrong for its label (so saturate's accuracy is 0, clearly apart
    from the two others'), else the clean images."""
    folder = root / "c10c"
    write_cifar10c(folder, test_split.images, test_split.labels, ["contrast", "fog"])
    images = test_split.images
    if model is not None:
        with torch.no_grad():
            predicted = model(to_float(images_to_tensor(images))).argmax(1).numpy()  # (N,)
        wrong = [int(np.flatnonzero(predicted != label)[0]) for label in test_split.labels]
        images = images[wrong]
    np.save(folder / "saturate.npy", np.tile(images, (5, 1, 1, 1)))
    return folder


def _table_row(stdout: str, first_cell: str) -> list[float]:
    """The numbers of the rendered table row whose first cell is ``first_cell``."""
    for line in stdout.splitlines():
        cells = [c.strip() for c in line.strip().strip("│|").split("│")]
        if cells and cells[0] == first_cell:
            return [float(c) for c in cells[1:]]
    raise AssertionError(f"no row {first_cell!r} in:\n{stdout}")


def test_all_from_a_folder_averages_the_benchmark_corruptions_only(natural, tmp_path, test_split, cli):
    model, checkpoint = load_model(natural)
    folder, out = _folder_with_an_extra(tmp_path, test_split, model), tmp_path / "r.json"
    code, stdout, stderr = cli(
        "eval-corruptions", natural, "--cifar10c-dir", folder, "--corruptions", "all", "--out", out
    )
    assert code == 0, stderr
    records = [r for r in read_results(out).itertuples() if r.condition != "clean"]
    assert {r.condition for r in records} == {"contrast", "fog", "saturate"}  # the extra one is evaluated
    benchmark = [r.value for r in records if r.condition in ("contrast", "fog")]
    with_extra = [r.value for r in records]
    mean = sum(benchmark) / len(benchmark)
    assert abs(mean - sum(with_extra) / len(with_extra)) > 0.01  # the test can tell the two means apart
    assert _table_row(stdout, "mean")[-1] == pytest.approx(100 * mean, abs=0.051)
    assert "saturate (extra)" in stdout
    # the library's table says the same
    result = ce.evaluate_corruptions(
        [ce.EvalModel.from_checkpoint(model, checkpoint)],
        ["contrast", "fog", "saturate"],
        folder=Cifar10CFolder(folder),
    )
    table = ce.accuracy_table(result.records, "natural")
    assert list(table.benchmark) == ["contrast", "fog"] and list(table.extra) == ["saturate"]
    assert table.mean == pytest.approx(mean)


def test_generated_and_folder_results_have_distinct_default_files(natural, tmp_path, test_split, cli):
    run = tmp_path / "run"
    run.mkdir()
    (run / CHECKPOINT_NAME).write_bytes((natural / CHECKPOINT_NAME).read_bytes())
    folder = _folder_with_an_extra(tmp_path, test_split)
    args = ["--corruptions", "contrast", "--severities", "1", "--device", "cpu"]
    assert cli("eval-corruptions", run, *args)[0] == 0
    assert cli("eval-corruptions", run, "--cifar10c-dir", folder, *args)[0] == 0
    generated = json.loads((run / ce.RESULTS_NAME).read_text())
    from_files = json.loads((run / ce.CIFAR10C_RESULTS_NAME).read_text())
    assert ce.RESULTS_NAME != ce.CIFAR10C_RESULTS_NAME
    assert generated["provenance"]["arguments"]["cifar10c_dir"] is None
    assert from_files["provenance"]["arguments"]["cifar10c_dir"] == str(folder)
    loose = tmp_path / "loose.pt"
    loose.write_bytes((natural / CHECKPOINT_NAME).read_bytes())
    checkpoint = load_model(loose)[1]
    assert ce.default_output(checkpoint).name == f"loose.{ce.RESULTS_NAME}"
    assert ce.default_output(checkpoint, cifar10c=True).name == f"loose.{ce.CIFAR10C_RESULTS_NAME}"


def test_help_names_both_default_files():
    import typer.main

    from specreg_cli.cli import app

    command = typer.main.get_command(app).commands["eval-corruptions"]
    out_help = next(p.help for p in command.params if p.name == "out")
    assert ce.RESULTS_NAME in out_help and ce.CIFAR10C_RESULTS_NAME in out_help
    assert "Example:" in command.help


@pytest.fixture
def restore_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_threads_is_applied_during_the_evaluation_and_recorded(
    natural, tmp_path, cli, monkeypatch, restore_threads
):
    seen, real = [], ce.evaluate_corruptions

    def spy(*args, **kwargs):
        seen.append(torch.get_num_threads())
        return real(*args, **kwargs)

    monkeypatch.setattr(ce, "evaluate_corruptions", spy)
    target = 2 if torch.get_num_threads() != 2 else 1
    out = tmp_path / "r.json"
    args = ["--corruptions", "contrast", "--severities", "1", "--device", "cpu", "--out", out]
    code, _, stderr = cli("eval-corruptions", natural, "--threads", target, *args)
    assert code == 0, stderr
    assert seen == [target]
    assert json.loads(out.read_text())["provenance"]["arguments"]["threads"] == target


def test_paths_in_provenance_are_absolute(natural, tmp_path, test_split, cli, monkeypatch):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / CHECKPOINT_NAME).write_bytes((natural / CHECKPOINT_NAME).read_bytes())
    _folder_with_an_extra(tmp_path, test_split)
    monkeypatch.chdir(tmp_path)
    args = ["--corruptions", "contrast", "--severities", "1", "--data-dir", "data", "--out", "r.json"]
    code, _, stderr = cli("eval-corruptions", "run", "--cifar10c-dir", "c10c", *args)
    assert code == 0, stderr
    arguments = json.loads((tmp_path / "r.json").read_text())["provenance"]["arguments"]
    assert arguments["checkpoints"] == [str(tmp_path / "run" / CHECKPOINT_NAME)]
    assert arguments["cifar10c_dir"] == str(tmp_path / "c10c")
    assert arguments["data_dir"] == str(tmp_path / "data")
    assert arguments["out"] == str(tmp_path / "r.json")
