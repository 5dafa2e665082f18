"""`specreg corrupt` and the CIFAR-10-C writer: layout, bytes, atomicity, one-line errors."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
import torch

import corruptions
from specreg_cli import cifar10c_writer as writer_module
from specreg_cli.cifar10c_writer import write_cifar10c
from specreg_cli.cli import main
from specreg_cli.data import load_dataset
from specreg_cli.data.cifar10c import Cifar10CFolder

SPEC = "synthetic:train=16,test=40,seed=3"  # 40 test images: batch 16 leaves a partial last batch
NAMES = ("impulse_noise", "fog", "contrast")


def _exit_code(entry_point) -> int:
    try:
        entry_point()
    except SystemExit as exit_:
        return exit_.code or 0
    return 0


@pytest.fixture
def cli(monkeypatch, capsys):
    """``cli(*args) -> (exit code, stdout, stderr)`` through the real entry point and its error handling."""

    def run(*args):
        monkeypatch.setattr(sys, "argv", ["specreg", *map(str, args)])
        code = _exit_code(main)
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


@pytest.fixture(scope="module")
def test_split():
    return load_dataset(SPEC, "test")


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """A folder written by the CLI (seed 5, batch 16)."""
    out = tmp_path_factory.mktemp("c10c") / "CIFAR-10-C"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(
            sys,
            "argv",
            ["specreg", "corrupt", "--dataset", SPEC, "--out", str(out), "--seed", "5", "--batch-size", "16"],
        )
        assert _exit_code(main) == 0
    return out


def test_layout_shapes_dtypes_and_label_tiling(written, test_split):
    n = len(test_split)
    for name in NAMES:
        array = np.load(written / f"{name}.npy", allow_pickle=False)
        assert array.dtype == np.uint8 and array.shape == (5 * n, 32, 32, 3)
    labels = np.load(written / "labels.npy", allow_pickle=False)
    assert labels.dtype == np.uint8 and labels.shape == (5 * n,)
    assert np.array_equal(labels, np.tile(test_split.labels, 5))
    assert sorted(p.name for p in written.iterdir()) == sorted(
        [*(f"{n}.npy" for n in NAMES), "labels.npy", "corrupt.json"]
    )  # no temp files left


def test_blocks_are_the_severities_in_order_and_batch_independent(written, test_split):
    """Block s of the file (written in batches of 16) = all 40 images corrupted at once at severity s."""
    n = len(test_split)
    for name in NAMES:
        array = np.load(written / f"{name}.npy", mmap_mode="r")
        for severity in (1, 2, 3, 4, 5):
            expected = corruptions.corrupt(test_split.images, name, severity, seed=5)
            assert np.array_equal(array[(severity - 1) * n : severity * n], expected), (name, severity)
        # the severities differ from each other and from the clean images (the blocks are not copies)
        assert not np.array_equal(array[:n], array[4 * n :])
        assert not np.array_equal(array[4 * n :], test_split.images)


def test_folder_reader_and_sidecar(written, test_split):
    folder = Cifar10CFolder(written)
    assert folder.n == len(test_split)
    assert folder.available() == [n for n in corruptions.RELEASED_CORRUPTIONS if n in NAMES]
    images, labels = folder.block("fog", 3)
    assert images.shape == (len(test_split), 32, 32, 3) and np.array_equal(labels, test_split.labels)
    sidecar = json.loads((written / "corrupt.json").read_text())
    assert sidecar["seed"] == 5 and sidecar["n"] == len(test_split)
    assert sidecar["dataset"]["sha256"] == test_split.identity["sha256"]
    assert sidecar["specreg_version"] and sidecar["corruptions"] == list(NAMES)


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path, test_split):
    images, labels = test_split.images[:8], test_split.labels[:8]
    write_cifar10c(tmp_path / "a", images, labels, ["impulse_noise"], seed=1, batch_size=3)
    write_cifar10c(tmp_path / "b", images, labels, ["impulse_noise"], seed=1, batch_size=8)
    write_cifar10c(tmp_path / "c", images, labels, ["impulse_noise"], seed=2, batch_size=8)
    a, b, c = (np.load(tmp_path / d / "impulse_noise.npy") for d in "abc")
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_interrupted_write_leaves_no_file(tmp_path, test_split, monkeypatch):
    calls = {"n": 0}
    real = corruptions.corrupt

    def failing(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("interrupted")
        return real(*args, **kwargs)

    monkeypatch.setattr(corruptions, "corrupt", failing)
    with pytest.raises(RuntimeError):
        write_cifar10c(tmp_path / "out", test_split.images, test_split.labels, ["fog"], batch_size=16)
    assert list((tmp_path / "out").iterdir()) == []  # neither fog.npy nor a temp file nor labels.npy


@pytest.mark.parametrize(
    "args, expected",
    [
        (["--severities", "1-3"], "all five"),
        (["--severities", "0-5"], "valid severities: 1, 2, 3, 4, 5"),
        (["--corruptions", "fog,snowfall"], "valid choices: impulse_noise, fog, contrast"),
        (["--dataset", "imagenet"], "valid choices: synthetic, cifar10"),
    ],
)
def test_bad_options_one_line_exit_1_nothing_written(tmp_path, cli, args, expected):
    out = tmp_path / "out"
    code, _, stderr = cli("corrupt", "--dataset", SPEC, "--out", out, *args)
    assert code == 1
    assert len(stderr.strip().splitlines()) == 1 and expected in stderr and "Traceback" not in stderr
    assert not out.exists()


def test_cli_prints_what_it_wrote(tmp_path, cli):
    out = tmp_path / "c"
    code, stdout, _ = cli(
        "corrupt", "--dataset", "synthetic:train=4,test=6", "--out", out, "--corruptions", "contrast"
    )
    assert code == 0 and "contrast.npy" in stdout and "labels.npy" in stdout
    assert np.load(out / "contrast.npy").shape == (30, 32, 32, 3)
    assert not (out / "fog.npy").exists()


@pytest.fixture
def restore_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_threads_is_applied_while_writing_and_recorded(tmp_path, cli, monkeypatch, restore_threads):
    import specreg_cli.cifar10c_writer as writer

    seen, real = [], writer.write_cifar10c

    def spy(*args, **kwargs):
        seen.append(torch.get_num_threads())
        return real(*args, **kwargs)

    monkeypatch.setattr(writer, "write_cifar10c", spy)
    target = 2 if torch.get_num_threads() != 2 else 1
    out = tmp_path / "c"
    code, _, stderr = cli(
        "corrupt", "--dataset", "synthetic:train=4,test=6", "--out", out, "--corruptions", "contrast",
        "--threads", target,
    )  # fmt: skip
    assert code == 0, stderr
    assert seen == [target]
    assert json.loads((out / "corrupt.json").read_text())["arguments"]["threads"] == target


def test_paths_in_the_sidecar_are_absolute(tmp_path, cli, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = ["--dataset", "synthetic:train=4,test=6", "--corruptions", "contrast", "--data-dir", "data"]
    code, _, stderr = cli("corrupt", "--out", "c", *args)
    assert code == 0, stderr
    arguments = json.loads((tmp_path / "c" / "corrupt.json").read_text())["arguments"]
    assert arguments["out"] == str(tmp_path / "c") and arguments["data_dir"] == str(tmp_path / "data")


def test_one_severity_tuple():
    """The reader, the writer and the corruptions share corruptions.SEVERITIES (no copy to drift)."""
    import specreg_cli.cifar10c_writer as writer
    import specreg_cli.data.cifar10c as reader

    assert writer.SEVERITIES is corruptions.SEVERITIES and reader.SEVERITIES is corruptions.SEVERITIES


def test_all_writes_the_19_or_leaves_frost_out_with_a_note(tmp_path, cli, monkeypatch, fake_frost_photos):
    from corruptions.frost_photos import ENV_VAR

    monkeypatch.delenv(ENV_VAR)
    spec = "synthetic:train=4,test=3"
    code, _, stderr = cli("corrupt", "--dataset", spec, "--corruptions", "all", "--out", tmp_path / "a")
    assert code == 0, stderr
    assert "frost left out of all" in " ".join(stderr.split())
    every = set(corruptions.CORRUPTIONS) | {"labels"}
    assert {p.stem for p in (tmp_path / "a").glob("*.npy")} == every - {"frost"}
    code, _, stderr = cli("corrupt", "--dataset", spec, "--corruptions", "frost", "--out", tmp_path / "b")
    assert code == 1 and len(stderr.strip().splitlines()) == 1 and "--frost-dir" in stderr
    assert not (tmp_path / "b").exists()
    args = ("--corruptions", "all", "--frost-dir", fake_frost_photos, "--out", tmp_path / "c")
    code, _, stderr = cli("corrupt", "--dataset", spec, *args)
    assert code == 0 and "left out" not in stderr
    assert {p.stem for p in (tmp_path / "c").glob("*.npy")} == every
    assert np.load(tmp_path / "c" / "frost.npy").shape == (15, 32, 32, 3)


def test_worker_processes_write_the_same_bytes(tmp_path, test_split):
    """--jobs 2: chunks corrupted in two spawned workers, streamed in order into the same files."""
    names = ["impulse_noise", "glass_blur", "contrast"]  # random, the slowest, deterministic
    images, labels = test_split.images, test_split.labels
    write_cifar10c(tmp_path / "one", images, labels, names, seed=4, batch_size=16)
    seen = []
    write_cifar10c(
        tmp_path / "two", images, labels, names, seed=4, batch_size=4, jobs=2,
        progress=lambda done, total, status: seen.append((done, total)),
    )  # fmt: skip
    for name in [*names, "labels"]:
        assert np.array_equal(
            np.load(tmp_path / "one" / f"{name}.npy"), np.load(tmp_path / "two" / f"{name}.npy")
        )
    chunks = len(names) * 5 * -(-len(images) // (4 * writer_module.CHUNK_BATCHES))
    assert seen == [(i, chunks) for i in range(1, chunks + 1)]


def test_a_failing_worker_leaves_no_half_written_file(tmp_path, test_split):
    with pytest.raises(ValueError, match="no_such_corruption"):
        write_cifar10c(tmp_path / "out", test_split.images, test_split.labels, ["no_such_corruption"], jobs=2)
    assert list((tmp_path / "out").iterdir()) == []  # no .npy, no temp file, no labels.npy


def test_jobs_default_to_the_cores_only_for_big_jobs(monkeypatch):
    monkeypatch.setattr(writer_module, "available_cores", lambda: 3)
    assert writer_module.default_jobs(writer_module.PARALLEL_FROM - 1) == 1
    assert writer_module.default_jobs(writer_module.PARALLEL_FROM) == 3


def test_cli_jobs_is_applied_and_recorded(tmp_path, cli):
    out = tmp_path / "c"
    code, _, stderr = cli(
        "corrupt", "--dataset", SPEC, "--out", out, "--corruptions", "contrast", "--jobs", 2
    )
    assert code == 0, stderr
    assert json.loads((out / "corrupt.json").read_text())["arguments"]["jobs"] == 2
    assert np.load(out / "contrast.npy").shape == (200, 32, 32, 3)
    code, _, stderr = cli("corrupt", "--dataset", SPEC, "--out", tmp_path / "d", "--jobs", 0)
    assert code != 0 and "Traceback" not in stderr and not (tmp_path / "d").exists()
