"""The CIFAR-10-C benchmark metrics: CE, relative CE, mCE and the mean error over the 15 equal hand-computed
values (Hendrycks & Dietterich's definitions); the extras never enter a mean; a mean over a subset is never
shown; the report gives mCE per arm with a 95% interval over seeds, against the baseline it is told."""

import math

import pandas as pd
import pytest
from test_report import make_run, markdown_rows, write

from corruptions import BENCHMARK_CORRUPTIONS, EXTRA_CORRUPTIONS, RELEASED_CORRUPTIONS
from specreg_cli import corruption_metrics as cm
from specreg_cli import report as rep
from specreg_cli.results import Record

T_975_2 = 4.302652729749464  # Student t quantile, 0.975, 2 degrees of freedom (published tables)


def test_ce_and_relative_ce_by_hand():
    run = cm.RunErrors.from_accuracies(0.9, {"fog": {1: 0.8, 2: 0.7}})
    base = cm.RunErrors.from_accuracies(0.8, {"fog": {1: 0.6, 2: 0.5}})
    assert cm.corruption_error(run, base, "fog")[0] == pytest.approx((0.2 + 0.3) / (0.4 + 0.5))
    assert cm.relative_corruption_error(run, base, "fog")[0] == pytest.approx((0.1 + 0.2) / (0.2 + 0.3))
    scores = cm.score(run, base)
    assert scores.mce is None and scores.mean_error is None  # one corruption of 15: no mean over 15
    assert set(scores.missing) == set(BENCHMARK_CORRUPTIONS) - {"fog"}
    assert "14 not evaluated" in cm.missing_note(scores.missing)


def test_undefined_ratios_are_left_out_with_a_reason():
    run = cm.RunErrors.from_accuracies(None, {"fog": {1: 0.8}, "contrast": {1: 0.5, 2: 0.4}})
    base = cm.RunErrors.from_accuracies(0.8, {"fog": {1: 1.0}, "contrast": {1: 0.5}})
    assert cm.corruption_error(run, base, "fog") == (None, cm.corruption_error(run, base, "fog")[1])
    assert "no error" in cm.corruption_error(run, base, "fog")[1]
    assert "other severities" in cm.corruption_error(run, base, "contrast")[1]
    assert "clean error" in cm.relative_corruption_error(run, base, "fog")[1]
    unhurt = cm.RunErrors.from_accuracies(0.5, {"fog": {1: 0.6}})  # error 0.4 below clean error 0.5
    assert "not above its clean error" in cm.relative_corruption_error(unhurt, unhurt, "fog")[1]


def _grid(factor: float) -> dict[str, dict[int, float]]:
    """Accuracies on all 19 released corruptions: the benchmark ones' errors are ``factor`` times a base
    error that differs per corruption and severity; the extras' errors are 0.9 (far from the rest)."""
    grid = {}
    for k, name in enumerate(BENCHMARK_CORRUPTIONS):
        grid[name] = {s: 1 - factor * (0.1 + 0.01 * s + 0.01 * k) for s in range(1, 6)}
    for name in EXTRA_CORRUPTIONS:
        grid[name] = dict.fromkeys(range(1, 6), 0.1)
    return grid


def test_mce_over_the_15_excludes_the_extras():
    base = cm.RunErrors.from_accuracies(0.95, _grid(1.0))
    run = cm.RunErrors.from_accuracies(0.97, _grid(0.5))
    scores = cm.score(run, base)
    assert scores.mce == pytest.approx(0.5) and scores.missing == ()
    assert set(scores.ce) == set(RELEASED_CORRUPTIONS) and scores.ce["saturate"] == pytest.approx(1.0)
    expected_mean = sum(0.5 * (0.1 + 0.01 * s + 0.01 * k) for k in range(15) for s in range(1, 6)) / 75
    assert scores.mean_error == pytest.approx(expected_mean)
    # relative CE of corruption k: sum_s (0.5 e_ks - 0.03) / sum_s (e_ks - 0.05), e_ks = 0.1 + 0.01 (s + k)
    k = 4
    numerator = sum(0.5 * (0.1 + 0.01 * s + 0.01 * k) - 0.03 for s in range(1, 6))
    denominator = sum(0.1 + 0.01 * s + 0.01 * k - 0.05 for s in range(1, 6))
    assert scores.relative_ce[BENCHMARK_CORRUPTIONS[k]] == pytest.approx(numerator / denominator)


def _records(run: str, method: str, clean: float, grid: dict, names=RELEASED_CORRUPTIONS) -> list[Record]:
    rows = [Record(run, method, "lenet", "synthetic", "clean", None, "accuracy", clean, 200)]
    rows += [
        Record(run, method, "lenet", "synthetic", name, s, "accuracy", grid[name][s], 200)
        for name in names
        for s in range(1, 6)
    ]
    return rows


@pytest.fixture(scope="module")
def three_seeds(tmp_path_factory):
    """natural and masked, seeds 0-2, all 19 corruptions; masked's errors are 0.5, 0.6, 0.7 times natural's
    on the benchmark corruptions, so its mCE is 0.5, 0.6, 0.7 per seed."""
    root = tmp_path_factory.mktemp("mce")
    for seed, factor in enumerate((0.5, 0.6, 0.7)):
        for method, f in (("natural", 1.0), ("masked", factor)):
            name = f"{method}-s{seed}"
            make_run(root / "runs" / name, name, method, seed=seed)
            write(root / "results" / f"{name}.json", _records(name, method, 0.95, _grid(f)))
    return root


def test_report_gives_mce_with_an_interval_over_seeds(three_seeds):
    report = rep.build_report(rep.load_inputs([three_seeds / "results", three_seeds / "runs"]))
    frame = report.benchmark.set_index(["group", "metric", "corruption", "severity"])
    mce = frame.loc[("masked", "mce", "", "")]
    half = T_975_2 * 0.1 / math.sqrt(3)  # std of (0.5, 0.6, 0.7) is 0.1
    assert mce["mean"] == pytest.approx(0.6) and mce["n"] == 3
    assert (mce["ci_low"], mce["ci_high"]) == (pytest.approx(0.6 - half), pytest.approx(0.6 + half))
    assert frame.loc[("natural", "mce", "", "")]["mean"] == pytest.approx(1.0)  # the baseline itself
    error = frame.loc[("natural", "error", "fog", "3")]  # fog is benchmark corruption 9
    assert error["mean"] == pytest.approx(0.1 + 0.03 + 0.09) and error["n"] == 3
    assert frame.loc[("masked", "ce", "saturate", "")]["mean"] == pytest.approx(1.0)
    assert (report.benchmark.loc[report.benchmark["corruption"] == "saturate", "set"] == "extra").all()
    markdown = rep.to_markdown(report)
    headline = {r["method"]: r for r in markdown_rows(markdown, "## CIFAR-10-C metrics")}
    assert (
        headline["masked (spectral)"]["mCE"] == f"60.00 [{100 * (0.6 - half):.2f}, {100 * (0.6 + half):.2f}]"
    )
    assert headline["natural"]["mCE"].startswith("100.00")
    assert "saturate (extra)" in markdown


def test_baseline_option_changes_the_normaliser(three_seeds):
    report = rep.build_report(
        rep.load_inputs([three_seeds / "results", three_seeds / "runs"]), baseline="masked"
    )
    frame = report.benchmark.set_index(["group", "metric", "corruption", "severity"])
    expected = sum(1 / f for f in (0.5, 0.6, 0.7)) / 3  # natural against masked of the same seed
    assert frame.loc[("natural", "mce", "", "")]["mean"] == pytest.approx(expected)
    assert "mCE against masked" in rep.to_markdown(report)


def test_csv_has_the_benchmark_table(three_seeds, tmp_path):
    report = rep.build_report(rep.load_inputs([three_seeds / "results", three_seeds / "runs"]))
    paths = rep.write_csv(report, tmp_path / "table.csv")
    table = pd.read_csv(next(p for p in paths if p.name == "table.benchmark.csv"), keep_default_na=False)
    row = table[(table["group"] == "masked") & (table["metric"] == "mce")]
    assert len(row) == 1 and float(row["mean"].iloc[0]) == pytest.approx(0.6)


def test_a_subset_of_the_15_gives_no_mean_and_names_what_is_missing(tmp_path):
    paper = ("impulse_noise", "fog", "contrast")
    for method, f in (("natural", 1.0), ("gauss", 0.8)):
        write(tmp_path / f"{method}.json", _records(method, method, 0.95, _grid(f), names=paper))
    report = rep.build_report(rep.load_inputs([tmp_path]))
    frame = report.benchmark.set_index(["group", "metric", "corruption", "severity"])
    for metric in ("mce", "relative_mce", "mean_error"):
        row = frame.loc[("gauss", metric, "", "")]
        assert math.isnan(row["mean"]) and row["n"] == 0
        assert "12 not evaluated: gaussian_noise, shot_noise, defocus_blur" in row["note"]
    assert frame.loc[("gauss", "ce", "fog", "")]["mean"] == pytest.approx(
        0.8
    )  # per-corruption CE still shown
    markdown = rep.to_markdown(report)
    headline = {r["method"]: r for r in markdown_rows(markdown, "## CIFAR-10-C metrics")}
    assert headline["Gaussian augmentation"]["mCE"] == "–"
    assert "12 not evaluated" in markdown


def test_no_baseline_group_says_so(tmp_path):
    write(tmp_path / "gauss.json", _records("gauss", "gauss", 0.95, _grid(0.8)))
    write(tmp_path / "adv.json", _records("adversarial", "adversarial", 0.9, {}, names=()))  # clean only
    report = rep.build_report(rep.load_inputs([tmp_path]))
    row = report.benchmark.set_index(["group", "metric", "corruption", "severity"]).loc[
        ("gauss", "mce", "", "")
    ]
    assert math.isnan(row["mean"]) and "no group 'natural'" in row["note"]
    assert set(report.benchmark["group"]) == {"gauss"}  # a run without corruption results has no row
    mean_error = report.benchmark.set_index(["group", "metric"]).loc[("gauss", "mean_error")]
    assert mean_error["mean"].item() == pytest.approx(
        sum(0.8 * (0.1 + 0.01 * s + 0.01 * k) for k in range(15) for s in range(1, 6)) / 75
    )
