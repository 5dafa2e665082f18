"""`specreg report`: Table 2 numbers equal the records they come from, seeds aggregate, mixing is refused,
output is deterministic, plots are PNGs. Records are written with results.write_results, run directories
by hand."""

import io
import json
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

from specreg_cli import report as rep
from specreg_cli.checkpoint import build_model, make_meta, save_checkpoint
from specreg_cli.cli import app, main
from specreg_cli.errors import SpecregError
from specreg_cli.results import Record, provenance, write_results

runner = CliRunner()
SHA = "a1" * 32  # dataset sha256 of "the" test set
PGD = {"alpha": 2 / 255, "steps": 10, "random_start": True, "norm": "Linf"}
# fog accuracy per severity 1..5 of run "natural-s0"; its mean is 0.7
FOG = [0.9, 0.8, 0.7, 0.6, 0.5]


def corruption_records(run, method, clean, fog, n=200, arch="resnet20"):
    rows = [Record(run, method, arch, "synthetic", "clean", None, "accuracy", clean, n)]
    rows += [
        Record(run, method, arch, "synthetic", "fog", s, "accuracy", v, n)
        for s, v in zip(range(1, 6), fog, strict=False)
    ]
    return rows


def attack_records(run, method, robust, n=100, clean=0.5, params=PGD):
    rows = [Record(run, method, "resnet20", "synthetic", "clean", None, "accuracy", clean, n)]
    rows += [
        Record(run, method, "resnet20", "synthetic", "pgd", None, "accuracy", v, n, {**params, "eps": eps})
        for eps, v in robust.items()
    ]
    rows.append(
        Record(
            run,
            method,
            "resnet20",
            "synthetic",
            "noise",
            None,
            "accuracy",
            0.99,
            n,
            {"eps": 8 / 255, "norm": "Linf"},
        )
    )
    return rows


def write(path, records, command="eval-corruptions", sha=SHA, seed=0):
    runs = sorted({r.run for r in records})
    checkpoints = {run: {"path": f"/runs/{run}/model.pt", "sha256": f"{run}-sha"} for run in runs}
    dataset = {"name": "synthetic", "split": "test", "n": 200, "sha256": sha}
    return write_results(path, records, provenance(command, {}, seed, dataset, checkpoints))


def markdown_rows(text, heading):
    """The pipe table under the section whose title starts with ``heading``, as {header: cell} dicts."""
    after = text.split(heading, 1)[1].splitlines()[1:]
    start = next(i for i, line in enumerate(after) if line.startswith("|"))
    end = next((i for i, line in enumerate(after[start:], start) if not line.startswith("|")), len(after))
    cells = [[c.strip() for c in line.strip().strip("|").split("|")] for line in after[start:end]]
    return [dict(zip(cells[0], row, strict=True)) for row in cells[2:]]


def table2(text):
    return {row["method"]: row for row in markdown_rows(text, "## Table 2")}


@pytest.fixture
def four_methods(tmp_path):
    """One run per method; natural's fog values are FOG, the others' a constant per method."""
    folder = tmp_path / "results"
    constants = {"gauss": 0.6, "adversarial": 0.4, "masked": 0.65}
    write(folder / "natural.json", corruption_records("natural-s0", "natural", 0.8, FOG))
    for method, value in constants.items():  # written in a scrambled order on purpose
        write(folder / f"{method}.json", corruption_records(f"{method}-s0", method, value + 0.2, [value] * 5))
    robust = {"natural": 0.1, "gauss": 0.2, "adversarial": 0.35, "masked": 0.15}  # at 8/255; +0.1 at 2/255
    records = [
        r
        for m, v in robust.items()
        for r in attack_records(f"{m}-s0", m, {0.0: 0.5, 2 / 255: v + 0.1, 8 / 255: v})
    ]
    write(folder / "pgd.json", records, command="attack")
    return folder


def test_table2_equals_the_records(four_methods):
    report = rep.build_report(rep.load_inputs([four_methods]))
    text = rep.to_markdown(report)
    rows = table2(text)
    assert list(rows) == ["natural", "Gaussian augmentation", "adversarial training", "masked (spectral)"]
    assert rows["natural"]["fog"] == f"{100 * sum(FOG) / len(FOG):.2f}" == "70.00"
    assert rows["natural"]["clean"] == "80.00"  # the corruption evaluation's clean row, not the attack's 0.5
    assert rows["adversarial training"]["PGD-10 8/255"] == "35.00"
    assert rows["adversarial training"]["PGD-10 2/255"] == "45.00"
    assert rows["Gaussian augmentation"]["fog"] == "60.00"
    header = list(rows["natural"])
    assert header == ["method", "clean", "fog", "PGD-10 2/255", "PGD-10 8/255"]  # no eps-0 or noise column
    rows = markdown_rows(text, "## Accuracy (%) per corruption")
    per_severity = {(r["method"], r["corruption"]): r for r in rows}
    natural_fog = [per_severity[("natural", "fog")][f"s{s}"] for s in range(1, 6)]
    assert natural_fog == ["90.00", "80.00", "70.00", "60.00", "50.00"]
    assert per_severity[("natural", "fog")]["mean"] == "70.00"


def test_clean_accuracy_comes_from_the_corruption_evaluation_on_a_tie(tmp_path):
    write(tmp_path / "c.json", corruption_records("nat", "natural", 0.80, FOG, n=200))
    attack = attack_records("nat", "natural", {8 / 255: 0.1}, n=200, clean=0.79)  # same n, another value
    write(tmp_path / "a.json", attack, command="attack")
    rows = table2(rep.to_markdown(rep.build_report(rep.load_inputs([tmp_path]))))
    assert rows["natural"]["clean"] == "80.00"


def test_severity_selection(four_methods):
    report = rep.build_report(rep.load_inputs([four_methods]), severity="4")
    assert table2(rep.to_markdown(report))["natural"]["fog"] == "60.00"  # FOG[3]
    result = runner.invoke(app, ["report", str(four_methods), "--severity", "2"])
    assert result.exit_code == 0, result.output
    assert table2(result.output)["natural"]["fog"] == "80.00"
    with pytest.raises(SpecregError, match="--severity must be mean or one of 1..5"):
        rep.parse_severity("7")


def test_seed_aggregation_mean_std_and_count(tmp_path):
    write(tmp_path / "a.json", corruption_records("natural-s0", "natural", 0.80, FOG))
    write(tmp_path / "b.json", corruption_records("natural-s1", "natural", 0.90, [v - 0.1 for v in FOG]))
    write(tmp_path / "c.json", corruption_records("masked-s0", "masked", 0.70, FOG))
    report = rep.build_report(rep.load_inputs([tmp_path]))
    rows = table2(rep.to_markdown(report))
    std = pd.Series([0.80, 0.90]).std() * 100  # sample std, computed independently: 7.07
    assert rows["natural"]["clean"] == f"85.00 ± {std:.2f}"
    assert rows["natural"]["seeds"] == "2" and rows["masked (spectral)"]["seeds"] == "1"
    assert rows["natural"]["fog"] == f"65.00 ± {100 * 0.1 / 2**0.5:.2f}"
    assert rows["masked (spectral)"]["clean"] == "70.00"  # one seed: no ± part
    tables = {name: pd.read_csv(io.StringIO(text)) for name, text in rep.csv_tables(report).items()}
    t2 = tables["table2"]
    clean = t2[(t2["method"] == "natural") & (t2["column"] == "clean")].iloc[0]
    assert clean["n_seeds"] == 2 and clean["n_runs"] == 2
    assert clean["value"] == pytest.approx(0.85) and clean["std"] == pytest.approx(std / 100, abs=1e-6)
    members = tables["runs"]
    assert members.loc[members["method"] == "natural", "run"].tolist() == ["natural-s0", "natural-s1"]


def test_csv_is_tidy_and_loads(four_methods):
    tables = rep.csv_tables(rep.build_report(rep.load_inputs([four_methods])))
    assert tuple(tables) == rep.TABLE_NAMES
    t2 = pd.read_csv(io.StringIO(tables["table2"]))
    assert len(t2) == 4 * 4  # methods x (clean, fog, PGD 2/255, PGD 8/255)
    pgd = t2[(t2["method"] == "masked") & (t2["column"] == "PGD-10 8/255")].iloc[0]
    assert pgd["value"] == pytest.approx(0.15) and pgd["eps"] == 8 / 255 and pgd["steps"] == 10
    assert pgd["n_images"] == 100 and pgd["kind"] == "attack"
    per = pd.read_csv(io.StringIO(tables["per_severity"]), dtype_backend="numpy_nullable")
    natural = per[per["method"] == "natural"]
    levels = natural[~natural["severity_mean"]].set_index("severity")["value"].to_dict()
    assert levels == pytest.approx({1: 0.9, 2: 0.8, 3: 0.7, 4: 0.6, 5: 0.5})
    (mean,) = natural.loc[natural["severity_mean"], "value"]
    assert mean == pytest.approx(0.7)


def test_csv_files_are_pandas_ready(four_methods, tmp_path):
    """Regression: severity mixed numbers and "mean" (it loaded as text), integer columns loaded as floats,
    runs were ";"-joined, and the training table and provenance were missing from the CSV output."""
    make_run(tmp_path / "runs" / "masked-s0", "masked-s0", "masked")
    out = tmp_path / "csv" / "table.csv"
    result = runner.invoke(app, ["report", str(four_methods), str(tmp_path / "runs"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    names = (
        "table",
        "table.per_severity",
        "table.table3",
        "table.training",
        "table.runs",
        "table.seeds",
        "table.benchmark",
        "table.provenance",
        "table.table1",
        "table.table3_paper",
    )
    assert sorted(p.name for p in out.parent.iterdir()) == sorted(f"{name}.csv" for name in names)
    plain = {name: pd.read_csv(out.parent / f"{name}.csv") for name in names}
    typed = {name: pd.read_csv(out.parent / f"{name}.csv", dtype_backend="numpy_nullable") for name in names}
    assert plain["table"]["n_seeds"].dtype == "int64" and plain["table"]["n_runs"].dtype == "int64"
    assert plain["table.table3"]["epoch"].dtype == "int64"
    assert plain["table.training"]["epochs_done"].dtype == "int64"
    assert (
        plain["table"]["mixed"].dtype == bool and plain["table.per_severity"]["severity_mean"].dtype == bool
    )
    for name, column in [("table", "severity"), ("table", "steps"), ("table", "n_images")] + [
        ("table.per_severity", "severity"),
        ("table.training", "seed"),
        ("table.training", "epochs"),
        ("table.training", "batch_size"),
    ]:
        assert str(typed[name][column].dtype) == "Int64", (name, column)
    for name, column in [("table", "value"), ("table", "eps"), ("table.per_severity", "value")]:
        assert pd.api.types.is_float_dtype(plain[name][column]), (name, column)
    assert not any(plain[n][c].astype(str).str.contains(";").any() for n in names[:2] for c in plain[n])
    per = typed["table.per_severity"]
    assert per.loc[per["severity_mean"], "severity"].isna().all()
    assert sorted(per.loc[~per["severity_mean"], "severity"].unique()) == [1, 2, 3, 4, 5]
    training = plain["table.training"].set_index("run")
    assert training.loc["masked-s0", "test_acc"] == pytest.approx(0.4)
    assert training.loc["masked-s0", "options"] == "masks per channel, mask lr x1"
    provenance = plain["table.provenance"]
    assert list(provenance.columns) == ["item", "text"] and "results_files" in set(provenance["item"])
    assert provenance["text"].str.startswith("results files: ").any()


def test_other_methods_come_last(tmp_path):
    write(
        tmp_path / "x.json",
        corruption_records("mine", "mixup", 0.5, FOG) + corruption_records("nat", "natural", 0.6, FOG),
    )
    rows = table2(rep.to_markdown(rep.build_report(rep.load_inputs([tmp_path]))))
    assert list(rows) == ["natural", "mixup"]


def test_several_eps_make_several_columns_in_eps_order(tmp_path):
    robust = {8 / 255: 0.1, 0.0: 0.5, 0.5 / 255: 0.45, 4 / 255: 0.3}  # recorded out of order on purpose
    write(tmp_path / "a.json", attack_records("nat", "natural", robust), command="attack")
    report = rep.build_report(rep.load_inputs([tmp_path]))
    row = table2(rep.to_markdown(report))["natural"]
    assert list(row) == ["method", "clean", "PGD-10 0.5/255", "PGD-10 4/255", "PGD-10 8/255"]  # no eps 0
    assert (row["PGD-10 0.5/255"], row["PGD-10 4/255"], row["PGD-10 8/255"]) == ("45.00", "30.00", "10.00")
    pgd = report.table2[report.table2["condition"] == "pgd"]
    assert pgd["eps"].tolist() == [0.5 / 255, 4 / 255, 8 / 255]


def test_transfer_columns_differ_by_source_attack(tmp_path):
    """PGD and FGSM examples made on the same model at the same eps and steps are two columns."""
    source = {
        "eps": 8 / 255,
        "steps": 1,
        "random_start": False,
        "norm": "Linf",
        "source_run": "nat",
        "source_method": "natural",
    }
    for attack, alpha, value in (("pgd", 2 / 255, 0.3), ("fgsm", 8 / 255, 0.4)):
        params = {**source, "source_attack": attack, "alpha": alpha}
        write(
            tmp_path / f"{attack}.json",
            [
                Record(
                    "gau", "gauss", "resnet20", "synthetic", "transfer", None, "accuracy", value, 100, params
                )
            ],
            command="attack",
        )
    report = rep.build_report(rep.load_inputs([tmp_path]))  # one merged column would mix their alphas
    row = table2(rep.to_markdown(report))["Gaussian augmentation"]
    assert row == {
        "method": "Gaussian augmentation",
        "transfer PGD-1 8/255 from nat": "30.00",
        "transfer FGSM 8/255 from nat": "40.00",
    }
    assert len({c.key for c in report.columns}) == 2


def test_unreadable_results_file_is_one_error_line(tmp_path):
    (tmp_path / "broken.json").write_text("{ not json")
    with pytest.raises(SpecregError, match="not a readable JSON results file"):
        rep.load_inputs([tmp_path / "broken.json"])
    (tmp_path / "list.json").write_text("[1, 2]")
    with pytest.raises(SpecregError, match="not a specreg results file"):
        rep.load_inputs([tmp_path / "list.json"])


def test_report_reads_each_results_file_once(tmp_path, monkeypatch):
    # Finding, validating and taking the provenance of a results file used to read it three times.
    nat = write(tmp_path / "results" / "nat.json", corruption_records("nat", "natural", 0.8, FOG))
    gau = write(tmp_path / "results" / "gau.json", corruption_records("gau", "gauss", 0.7, FOG))
    reads: dict[str, int] = {}
    read_text = Path.read_text

    def counting(self, *args, **kwargs):
        reads[self.name] = reads.get(self.name, 0) + 1
        return read_text(self, *args, **kwargs)

    monkeypatch.setattr(Path, "read_text", counting)
    # the folder and a file in it: the file is still one file, read once
    result = runner.invoke(app, ["report", str(tmp_path / "results"), str(gau)])
    assert result.exit_code == 0, result.output
    assert {name: reads.get(name) for name in (nat.name, gau.name)} == {"nat.json": 1, "gau.json": 1}
    assert table2(result.output)["natural"]["fog"] == "70.00"  # records and provenance from those reads
    assert "results files: results/gau.json, results/nat.json" in result.output


@pytest.mark.parametrize(
    "case, message",
    [
        ("dataset", "different test sets"),
        ("n", "different numbers of test images"),
        ("alpha", "different attack alpha"),
        ("duplicate", "has 2 different values"),
        ("severities", "different severities"),
        ("checkpoint", "different checkpoints"),
    ],
)
def test_incompatible_results_are_refused(tmp_path, case, message):
    write(
        tmp_path / "a.json",
        corruption_records("nat", "natural", 0.8, FOG) + attack_records("nat", "natural", {8 / 255: 0.1}),
    )
    other = {
        "dataset": lambda: write(
            tmp_path / "b.json", corruption_records("gau", "gauss", 0.8, FOG), sha="b2" * 32
        ),
        "n": lambda: write(tmp_path / "b.json", corruption_records("gau", "gauss", 0.8, FOG, n=150)),
        "alpha": lambda: write(
            tmp_path / "b.json",
            corruption_records("gau", "gauss", 0.8, FOG)
            + attack_records("gau", "gauss", {8 / 255: 0.1}, params={**PGD, "alpha": 1 / 255}),
        ),
        "duplicate": lambda: write(tmp_path / "b.json", corruption_records("nat", "natural", 0.8, [0.1] * 5)),
        "severities": lambda: write(tmp_path / "b.json", corruption_records("gau", "gauss", 0.8, FOG)[:4]),
        "checkpoint": lambda: write_results(
            tmp_path / "b.json",
            attack_records("nat", "natural", {2 / 255: 0.3}),
            provenance("attack", {}, 0, {"sha256": SHA}, {"nat": {"path": "/x", "sha256": "other"}}),
        ),
    }
    other[case]()
    with pytest.raises(SpecregError, match=message):
        rep.build_report(rep.load_inputs([tmp_path]))
    flagged = rep.to_markdown(rep.build_report(rep.load_inputs([tmp_path]), allow_mixed=True))
    assert rep.MIXED in flagged and message in flagged


def test_refusal_is_one_red_line_exit_1_and_allow_mixed_flags(tmp_path, monkeypatch, capsys):
    write(tmp_path / "a.json", corruption_records("nat", "natural", 0.8, FOG))
    write(tmp_path / "b.json", corruption_records("gau", "gauss", 0.8, FOG, n=150))
    monkeypatch.setattr(sys, "argv", ["specreg", "report", str(tmp_path)])
    with pytest.raises(SystemExit) as exit_info:
        main()
    err = capsys.readouterr().err
    assert exit_info.value.code == 1 and "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "numbers of test images" in lines[0] and "--allow-mixed" in lines[0]
    result = runner.invoke(app, ["report", str(tmp_path), "--allow-mixed"])
    assert result.exit_code == 0
    assert f"clean {rep.MIXED}" in result.output and "(150, 200)" in result.output


def make_run(folder, name, method, seed=0, masked_epochs=(1, 2), spectral=None, **config_changes):
    """A run directory as `specreg train` leaves it (LeNet; masked runs get masks, ``spectral`` their
    MaskConfig overrides, and mask_fractions.csv); ``config_changes`` go into its train config."""
    folder.mkdir(parents=True)
    spectral = {"per_channel": True, **(spectral or {})} if method == "masked" else None
    config = {
        "method": method,
        "arch": "lenet",
        "dataset": "synthetic",
        "seed": seed,
        "epochs": 2,
        "lr": 0.05,
        "schedule": "cosine",
        "batch_size": 64,
        "adv_steps": 3,
        "adv_eps": 8 / 255,
        "adv_alpha": 2 / 255,
        "mask": {},
        "mask_lr_mult": 1.0,
        **config_changes,
    }
    state = {"config": config, "status": "finished", "epochs_done": 2}
    (folder / "config.json").write_text(json.dumps(state))
    (folder / "metrics.csv").write_text(
        "epoch,lr,train_loss,train_acc,test_loss,test_acc,gap,seconds,images_per_s,masked_fraction\n"
        "1,0.05,2.0,0.30,2.1,0.25,0.05,1,100,\n"
        "2,0.02,1.5,0.50,1.8,0.40,0.10,1,100,\n"
    )
    model_config = {"arch": "lenet", "num_classes": 10, "spectral": spectral}
    model = build_model(model_config, generator=torch.Generator().manual_seed(seed))
    if method == "masked":
        lines = ["epoch,layer,masked_fraction"] + [
            f"{e},conv{i},{0.1 * e + 0.01 * i}" for e in masked_epochs for i in (1, 2)
        ]
        (folder / "mask_fractions.csv").write_text("\n".join(lines) + "\n")
    save_checkpoint(folder / "model.pt", model, make_meta(model_config, method, {}, 2, 2, config))
    return folder


def test_run_dirs_give_table3_training_and_plots(tmp_path):
    make_run(tmp_path / "runs" / "masked-s0", "masked-s0", "masked")
    make_run(tmp_path / "runs" / "adversarial-s0", "adversarial-s0", "adversarial")
    write(
        tmp_path / "results" / "c.json",
        corruption_records("masked-s0", "masked", 0.8, FOG)
        + corruption_records("adversarial-s0", "adversarial", 0.7, FOG),
    )
    out = tmp_path / "report" / "table.md"
    result = runner.invoke(
        app,
        [
            "report",
            str(tmp_path / "results"),
            str(tmp_path / "runs"),
            "--out",
            str(out),
            "--plots",
            str(tmp_path / "report" / "plots"),
        ],
    )
    assert result.exit_code == 0, result.output
    text = out.read_text()
    table3 = {r["layer"]: r["masked-s0"] for r in markdown_rows(text, "## Table 3")}
    assert table3 == {"conv1": "21.00", "conv2": "22.00", "mean over layers": "21.50"}  # the final epoch (2)
    training = {r["run"]: r for r in markdown_rows(text, "## Training runs")}
    assert training["adversarial-s0"]["method options"] == "PGD-3 eps 8/255 alpha 2/255"
    assert training["masked-s0"]["test acc"] == "40.00" and training["masked-s0"]["gap"] == "10.00"
    assert "Adversarial training: PGD-3 eps 8/255 alpha 2/255." in text
    pngs = sorted(p.name for p in (tmp_path / "report" / "plots").iterdir())
    assert pngs == [
        "accuracy_vs_severity.png",
        "figure2.png",
        "mask_dynamics.png",  # the masked run has two epochs of mask fractions
        "masks_masked-s0.png",
        "training_curves.png",
    ]
    for name in pngs:
        data = (tmp_path / "report" / "plots" / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
        assert f"](plots/{name})" in text  # linked relative to the report


def test_layer_masks_are_channel_means_of_the_binary_mask(tmp_path):
    run = rep.read_run(make_run(tmp_path / "m", "m", "masked"))
    from specreg_cli.plots import layer_masks

    state = torch.load(run.checkpoint, weights_only=True)["state_dict"]
    masks = layer_masks(run)
    raw = state["conv1.spectral_mask"]  # (C, H, W//2+1)
    expected = torch.fft.fftshift((raw >= 0.5).float().mean(0), dim=0)
    assert list(masks) == [k[: -len(".spectral_mask")] for k in state if k.endswith("spectral_mask")]
    assert torch.allclose(torch.as_tensor(masks["conv1"]), expected)
    # a run binarised at another threshold is drawn at its own
    strict = rep.read_run(make_run(tmp_path / "t", "t", "masked", spectral={"threshold": 0.9}))
    raw = torch.load(strict.checkpoint, weights_only=True)["state_dict"]["conv1.spectral_mask"]
    expected = torch.fft.fftshift((raw >= 0.9).float().mean(0), dim=0)
    assert torch.allclose(torch.as_tensor(layer_masks(strict)["conv1"]), expected)
    assert not torch.allclose(expected, torch.fft.fftshift((raw >= 0.5).float().mean(0), dim=0))


def test_seed_clash_is_refused(tmp_path):
    make_run(tmp_path / "runs" / "nat-a", "nat-a", "natural", seed=3)
    make_run(tmp_path / "runs" / "nat-b", "nat-b", "natural", seed=3)
    write(
        tmp_path / "r.json",
        corruption_records("nat-a", "natural", 0.8, FOG) + corruption_records("nat-b", "natural", 0.7, FOG),
    )
    with pytest.raises(SpecregError, match="share training seed 3"):
        rep.build_report(rep.load_inputs([tmp_path]))


def test_same_inputs_same_bytes(four_methods, tmp_path):
    make_run(tmp_path / "runs" / "masked-s0", "masked-s0", "masked")
    outputs = []
    for attempt, order in enumerate([[four_methods, tmp_path / "runs"], [tmp_path / "runs", four_methods]]):
        folder = tmp_path / f"out{attempt}"
        for fmt in ("md", "csv"):
            args = ["report", *map(str, order), "--format", fmt, "--out", str(folder / f"table.{fmt}")]
            result = runner.invoke(app, args + (["--plots", str(folder / "plots")] if fmt == "md" else []))
            assert result.exit_code == 0, result.output
        files = sorted(p for p in folder.rglob("*") if p.is_file())
        outputs.append({p.relative_to(folder).as_posix(): p.read_bytes() for p in files})
    assert outputs[0] == outputs[1]
    assert len(outputs[0]) == 16  # table.md, 10 CSV tables, 5 PNGs (figure2, mask_dynamics: the masked run)
    assert str(tmp_path) not in outputs[0]["table.md"].decode()  # no machine paths in the report


@pytest.mark.parametrize("source", ["/x/runs/natural", "/x/runs/natural/model.pt"])
def test_fine_tuned_runs_name_their_source_run(tmp_path, source):
    """Regression: --init-from RUN (a folder) was reported as "fine-tuned from runs", its parent folder."""
    make_run(tmp_path / "runs" / "masked-ft", "masked-ft", "masked", init_from=source)
    write(tmp_path / "results" / "c.json", corruption_records("masked-ft", "masked", 0.8, FOG))
    result = runner.invoke(app, ["report", str(tmp_path / "results"), str(tmp_path / "runs")])
    assert result.exit_code == 0, result.output
    (row,) = markdown_rows(result.output, "## Training runs")
    assert row["method options"] == "masks per channel, mask lr x1, fine-tuned from natural"


def two_folders_with_one_run_name(tmp_path, seeds=(0, 1)):
    """A/runs/masked and B/runs/masked, each evaluated into its own results folder."""
    for top, value, seed in zip(("A", "B"), (0.8, 0.7), seeds, strict=True):
        run = make_run(tmp_path / top / "runs" / "masked", "masked", "masked", seed=seed)
        checkpoints = {"masked": {"path": str(run / "model.pt"), "sha256": f"{top}-sha"}}
        dataset = {"name": "synthetic", "split": "test", "n": 200, "sha256": SHA}
        records = corruption_records("masked", "masked", value, FOG)
        write_results(
            tmp_path / top / "results" / "c.json",
            records,
            provenance("eval-corruptions", {}, 0, dataset, checkpoints),
        )
    return [str(tmp_path / top / kind) for kind in ("results", "runs") for top in ("A", "B")]


@pytest.mark.parametrize("seeds", [(0, 1), (0, 0)])
def test_two_runs_of_one_name_are_told_apart(tmp_path, seeds):
    """Regression: `report A/results B/results A/runs B/runs --allow-mixed` with two runs called "masked"
    ended in a traceback (Table 3 had two columns of one name)."""
    paths = two_folders_with_one_run_name(tmp_path, seeds)
    out = tmp_path / "report" / "table.md"
    args = ["report", *paths, "--allow-mixed", "--out", str(out), "--plots", str(out.parent / "plots")]
    result = runner.invoke(app, args)
    assert result.exception is None and result.exit_code == 0, result.output
    text = out.read_text()
    assert list(markdown_rows(text, "## Table 3")[0])[1:] == ["A/runs/masked", "B/runs/masked"]
    (row,) = table2(text).values()
    assert row["seeds"] == "2" and row["clean"] == "75.00 ± 7.07"  # each run's records kept their run
    assert "checkpoints (sha256): A/runs/masked A-sha, B/runs/masked B-sha" in text
    assert {r["run"] for r in markdown_rows(text, "## Training runs")} == {"A/runs/masked", "B/runs/masked"}
    pngs = {p.name for p in (out.parent / "plots").iterdir()}
    assert {"masks_A-runs-masked.png", "masks_B-runs-masked.png"} <= pngs
    assert (rep.MIXED in text) == (seeds[0] == seeds[1])  # one training seed twice: not two seeds


def test_rows_columns_and_labels_follow_the_registries(tmp_path):
    from specreg_cli.attacks import ATTACKS, COLUMN_ORDER, get_attack
    from specreg_cli.methods import METHODS, method_label

    records = []
    for method in reversed(METHODS):
        records += corruption_records(f"{method}-s0", method, 0.8, FOG)
        for name in reversed(ATTACKS):
            params = {**PGD, "eps": 8 / 255}
            records.append(
                Record(
                    f"{method}-s0", method, "resnet20", "synthetic", name, None, "accuracy", 0.2, 100, params
                )
            )
    write(tmp_path / "r.json", records, command="attack")
    report = rep.build_report(rep.load_inputs([tmp_path]))
    rows = table2(rep.to_markdown(report))
    assert list(rows) == [method_label(m) for m in METHODS]
    attack_columns = [c.label for c in report.columns if c.kind == "attack"]
    # the registry's column order: its headline attacks (AutoAttack) first, then the others in registry order
    assert attack_columns == [get_attack(name).column_label(10, "8/255") for name in COLUMN_ORDER]
    assert sorted(COLUMN_ORDER) == sorted(ATTACKS)


def test_report_help_has_an_example_and_flags():
    result = runner.invoke(app, ["report", "--help"], terminal_width=200)
    assert result.exit_code == 0
    assert "Example:" in result.output and "--allow-mixed" in result.output
    assert "--no-allow-mixed" not in result.output and "BOOLEAN" not in result.output.upper().replace("-", "")


def test_library_modules_import_neither_the_cli_nor_the_commands():
    import ast

    import specreg_cli

    library = Path(specreg_cli.__file__).parent
    files = [*(library / "report").glob("*.py"), library / "plots.py", *(library / "reproduce").glob("*.py")]
    assert len(files) > 8
    for path in files:
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            names += [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            assert not [n for n in names if n.startswith(("specreg_cli.cli", "specreg_cli.commands"))], path


def test_seeds_give_intervals_and_paired_differences(tmp_path):
    """Three seeds per arm; masked-x1 is consistently 5 points better than natural on fog (significant),
    masked-x100 is better on some seeds and worse on others (not significant). Hand-computed values."""
    fog = {"natural": [0.60, 0.62, 0.58], "masked-x1": [0.65, 0.67, 0.63], "masked-x100": [0.70, 0.55, 0.60]}
    for group, values in fog.items():
        method = "natural" if group == "natural" else "masked"
        for seed, value in enumerate(values):
            name = f"{group}-s{seed}"
            changes = {} if group == "natural" else {"group": group}
            make_run(tmp_path / "runs" / name, name, method, seed=seed, **changes)
            write(tmp_path / "results" / f"{name}.json", corruption_records(name, method, 0.9, [value] * 5))
    report = rep.build_report(rep.load_inputs([tmp_path / "results", tmp_path / "runs"]))
    labels = list(dict.fromkeys(report.table2["label"]))
    assert labels == ["natural", "masked (spectral): masked-x1", "masked (spectral): masked-x100"]
    seeds = report.seeds.set_index(["kind", "group", "column"])
    diff = seeds.loc[("difference", "masked-x1", "fog")]
    assert diff["mean"] == pytest.approx(0.05) and diff["n"] == 3 and bool(diff["significant"])
    noisy = seeds.loc[("difference", "masked-x100", "fog")]
    assert noisy["mean"] == pytest.approx(0.05 / 3) and not bool(noisy["significant"])
    acc = seeds.loc[("accuracy", "natural", "fog")]
    half = 4.302652729749464 * 0.02 / 3**0.5  # t(0.975, 2) * std / sqrt(n)
    assert (acc["ci_low"], acc["ci_high"]) == (pytest.approx(0.60 - half), pytest.approx(0.60 + half))
    relative = seeds.loc[("relative_robustness", "natural", "fog")]
    assert relative["mean"] == pytest.approx(0.60 / 0.9)
    rce = seeds.loc[("relative_ce", "masked-x1", "fog")]  # (0.9 - 0.65) / (0.9 - 0.60) on seed 0, ...
    expected = sum((0.9 - m) / (0.9 - n) for m, n in zip(fog["masked-x1"], fog["natural"], strict=True)) / 3
    assert rce["mean"] == pytest.approx(expected)
    markdown = rep.to_markdown(report)
    assert "paired difference against natural" in markdown and "+5.00 [" in markdown and "]*" in markdown
