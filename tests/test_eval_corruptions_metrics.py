"""`specreg eval-corruptions` shows the benchmark's metrics: with --metric error the error rates per
corruption and severity (100 - accuracy), and per model the mean error over the 15, mCE and relative mCE
against --baseline, equal to the formulas computed here from the written records; a subset of the 15 gets
no mean, and says which are missing."""

from __future__ import annotations

import re
import sys

import numpy as np
import pytest
from test_eval_corruptions import MODEL_CONFIG, _lenet

from corruptions import BENCHMARK_CORRUPTIONS, RELEASED_CORRUPTIONS
from specreg_cli import corruption_metrics as cm
from specreg_cli.checkpoint import make_meta, save_checkpoint
from specreg_cli.cli import main
from specreg_cli.data.datasets import load_dataset
from specreg_cli.results import read_results

SPEC = "synthetic:train=512,test=32"


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """Two LeNets, natural SGD-trained (so its corrupted error is above its clean error and relative CE
    exists) and gauss untrained, and a released-layout folder of all 19 corruptions (random images, the
    test split's labels)."""
    root = tmp_path_factory.mktemp("metrics")
    train, test = load_dataset(SPEC, "train"), load_dataset(SPEC, "test")
    for seed, method in enumerate(("natural", "gauss")):
        model = _lenet(seed, train, epochs=3 if method == "natural" else 0)
        meta = make_meta(MODEL_CONFIG, method, train.identity, epoch=1, epochs=1, config={"dataset": SPEC})
        save_checkpoint(root / method / "model.pt", model, meta)
    folder = root / "c10c"
    folder.mkdir()
    rng = np.random.default_rng(0)
    np.save(folder / "labels.npy", np.tile(test.labels, 5).astype(np.uint8))
    for name in RELEASED_CORRUPTIONS:
        np.save(folder / f"{name}.npy", rng.integers(0, 256, (5 * len(test), 32, 32, 3), dtype=np.uint8))
    return root


def _cli(monkeypatch, capsys, *args):
    monkeypatch.setattr(sys, "argv", ["specreg", *map(str, args)])
    try:
        main()
        code = 0
    except SystemExit as exit_:
        code = exit_.code or 0
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _errors(frame, run):
    rows = frame[frame["run"] == run]
    clean = 1 - float(rows.loc[rows["condition"] == "clean", "value"].iloc[0])
    grid = {(r.condition, int(r.severity)): 1 - r.value for r in rows.itertuples() if r.condition != "clean"}
    return clean, grid


def _line_value(stdout: str, run: str, what: str) -> float:
    flat = " ".join(stdout.split())  # rich wraps long lines
    match = re.search(rf"{run}: mean error over the 15 [\d.]+%.*?{what} ([\d.]+)%", flat)
    assert match, flat
    return float(match[1])


def test_all_gives_error_rates_mean_over_15_and_mce(setup, tmp_path, monkeypatch, capsys):
    out = tmp_path / "r.json"
    args = ["eval-corruptions", setup / "natural", setup / "gauss", "--cifar10c-dir", setup / "c10c"]
    code, stdout, stderr = _cli(
        monkeypatch, capsys, *args, "--corruptions", "all", "--metric", "error", "--out", out
    )
    assert code == 0, stderr
    frame = read_results(out)
    nat_clean, nat = _errors(frame, "natural")
    gau_clean, gau = _errors(frame, "gauss")
    levels = range(1, 6)
    ce = [sum(gau[c, s] for s in levels) / sum(nat[c, s] for s in levels) for c in BENCHMARK_CORRUPTIONS]
    rel = [
        sum(gau[c, s] - gau_clean for s in levels) / sum(nat[c, s] - nat_clean for s in levels)
        for c in BENCHMARK_CORRUPTIONS
    ]
    mean_error = sum(gau[c, s] for c in BENCHMARK_CORRUPTIONS for s in levels) / 75
    assert _line_value(stdout, "gauss", "mCE") == pytest.approx(100 * sum(ce) / 15, abs=0.051)
    assert _line_value(stdout, "gauss", "relative mCE") == pytest.approx(100 * sum(rel) / 15, abs=0.051)
    assert _line_value(stdout, "natural", "mCE") == 100.0
    flat = " ".join(stdout.split())
    assert f"gauss: mean error over the 15 {100 * mean_error:.1f}%" in flat
    # --metric error: the fog row of gauss's table is its error per severity
    gauss_table = stdout[stdout.index("gauss (gauss") :]
    row = next(line for line in gauss_table.splitlines() if line.strip("│ ").startswith("fog "))
    cells = [c.strip() for c in row.strip().strip("│").split("│")]
    assert [float(c) for c in cells[1:6]] == [pytest.approx(100 * gau["fog", s], abs=0.051) for s in levels]
    assert "saturate (extra)" in flat or "saturate" in flat


def test_a_subset_names_the_missing_and_baseline_is_chosen(setup, tmp_path, monkeypatch, capsys):
    args = ["eval-corruptions", setup / "natural", setup / "gauss", "--cifar10c-dir", setup / "c10c"]
    args += ["--corruptions", "impulse_noise,fog,contrast", "--out", tmp_path / "r.json"]
    code, stdout, _ = _cli(monkeypatch, capsys, *args, "--baseline", "gauss")
    flat = " ".join(stdout.split())
    assert code == 0 and "12 not evaluated: gaussian_noise, shot_noise, defocus_blur" in flat
    assert "mCE" not in flat.replace("mean error, mCE and relative mCE are over", "")  # no mean of 3
    args[-3] = "all"
    code, stdout, _ = _cli(monkeypatch, capsys, *args, "--baseline", "gauss")
    assert code == 0 and _line_value(stdout, "gauss", "mCE") == 100.0  # the baseline is 100 by definition
    assert _line_value(stdout, "natural", "mCE") != 100.0


def test_pick_baseline():
    methods = {"natural-s0": "natural", "natural-s1": "natural", "gauss-s0": "gauss"}
    assert cm.pick_baseline(methods, "natural-s1") == ("natural-s1", None)
    assert cm.pick_baseline(methods, "gauss") == ("gauss-s0", None)
    assert "several natural runs (natural-s0, natural-s1)" in cm.pick_baseline(methods, "natural")[1]
    assert "no adversarial run among these models" in cm.pick_baseline(methods, "adversarial")[1]


def test_generated_all_leaves_frost_out_with_a_note_when_its_photographs_are_missing(
    setup, tmp_path, monkeypatch, capsys, fake_frost_photos
):
    from corruptions import CORRUPTIONS
    from corruptions.frost_photos import ENV_VAR

    monkeypatch.delenv(ENV_VAR)
    base = ["eval-corruptions", setup / "natural", "--severities", "1", "--n-examples", "8"]
    out = tmp_path / "all.json"
    code, _, stderr = _cli(monkeypatch, capsys, *base, "--corruptions", "all", "--out", out)
    assert code == 0, stderr
    assert "frost left out of all" in " ".join(stderr.split())
    conditions = set(read_results(out)["condition"]) - {"clean"}
    assert conditions == set(CORRUPTIONS) - {"frost"} and len(conditions) == 18
    # named explicitly, a corruption that cannot run is one line before any work, nothing written
    out = tmp_path / "frost.json"
    code, _, stderr = _cli(monkeypatch, capsys, *base, "--corruptions", "fog,frost", "--out", out)
    assert code == 1 and len(stderr.strip().splitlines()) == 1 and "--frost-dir" in stderr
    assert "Traceback" not in stderr and not out.exists()
    # --frost-dir gives the photographs
    args = (*base, "--corruptions", "frost", "--frost-dir", fake_frost_photos, "--out", out)
    code, _, stderr = _cli(monkeypatch, capsys, *args)
    assert code == 0, stderr
    assert set(read_results(out)["condition"]) == {"clean", "frost"}
