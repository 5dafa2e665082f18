"""The paper's parts of the report: Table 1 (LeNet arms and their switches), Table 3 with the paper's
ResNet-18 layer names, Figure 2's three arms and Figure 3's activation maps (``--cam-images``)."""

import pandas as pd
from test_report import FOG, corruption_records, make_run, markdown_rows, write
from typer.testing import CliRunner

from specreg_cli.cli import app
from specreg_cli.report import build_report, load_inputs
from specreg_cli.report.figure2 import arms, figure2, role
from specreg_cli.report.table1 import PAPER_NOTE

runner = CliRunner()


def report_md(tmp_path, *extra):
    out = tmp_path / "report" / "table.md"
    args = ["report", str(tmp_path / "results"), str(tmp_path / "runs"), "--out", str(out), *extra]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return out.read_text()


def table1_runs(tmp_path):
    runs = tmp_path / "runs"
    bare = {"normalize": False, "crop": False, "flip": False, "weight_decay": 0.0, "dropout": 0.0}
    for seed in (0, 1):
        make_run(runs / f"t1-none-s{seed}", "", "natural", seed=seed, group="t1-none", **bare)
    make_run(runs / "t1-norm-s0", "", "natural", group="t1-norm", **(bare | {"normalize": True}))
    drop = bare | {"mask": {"random_drop": 0.2}}
    make_run(runs / "t1-ours-drop-s0", "", "masked", group="t1-ours-drop", **drop)
    make_run(runs / "r20", "", "natural", arch="resnet20")  # another network: not a Table 1 row
    names = ["t1-none-s0", "t1-none-s1", "t1-norm-s0", "t1-ours-drop-s0", "r20"]
    records = [
        r for n in names for r in corruption_records(n, "masked" if "ours" in n else "natural", 0.4, FOG)
    ]
    write(tmp_path / "results" / "c.json", records)


def test_table1_rows_are_the_lenet_arms_with_their_switches(tmp_path):
    table1_runs(tmp_path)
    frame = build_report(load_inputs([tmp_path / "results", tmp_path / "runs"])).table1
    assert list(frame["group"]) == ["t1-none", "t1-norm", "t1-ours-drop"]  # method order, then switches on
    none = frame.iloc[0]
    assert (none["normalize"], none["crop"], none["n_seeds"], none["runs"]) == (
        False,
        False,
        2,
        "t1-none-s0;t1-none-s1",
    )
    assert none["train_acc"] == 0.5 and none["test_acc"] == 0.4 and abs(none["gap"] - 0.1) < 1e-12
    assert frame.iloc[1]["normalize"] and frame.iloc[2]["mask_random_drop"] == 0.2
    assert pd.isna(none["mask_random_drop"])  # natural runs have no random drop to show
    text = report_md(tmp_path)
    rows = {r["arm"]: r for r in markdown_rows(text, "## Table 1")}
    assert rows["t1-none"]["normalisation"] == "off" and rows["t1-norm"]["normalisation"] == "on"
    assert rows["t1-ours-drop"]["random drop"] == "0.2" and rows["t1-none"]["gap"] == "10.00 ± 0.00"
    assert PAPER_NOTE in text
    csv = tmp_path / "report" / "table.csv"
    assert (
        runner.invoke(
            app, ["report", str(tmp_path / "results"), str(tmp_path / "runs"), "--out", str(csv)]
        ).exit_code
        == 0
    )
    assert list(pd.read_csv(tmp_path / "report" / "table.table1.csv")["group"]) == list(frame["group"])


def test_table3_uses_the_papers_layer_names_for_resnet18(tmp_path):
    run = make_run(tmp_path / "runs" / "r18-sketch", "", "masked", arch="resnet18")
    layers = ["layer1.0.conv1", "layer1.0.conv2", "layer1.1.conv1", "layer4.1.conv2"]
    lines = ["epoch,layer,masked_fraction"] + [f"2,{name},{0.1 * (i + 1)}" for i, name in enumerate(layers)]
    (run / "mask_fractions.csv").write_text("\n".join(lines) + "\n")
    write(
        tmp_path / "results" / "c.json", corruption_records("r18-sketch", "masked", 0.5, FOG, arch="resnet18")
    )
    text = report_md(tmp_path)
    rows = markdown_rows(text, "## Table 3 on ResNet-18")
    assert [r["layer (paper)"] for r in rows] == [
        "layer1conv1.1",
        "layer1conv2.1",
        "layer1conv1.2",
        "layer4conv2.2",
    ]
    assert [r["specreg module"] for r in rows] == layers and rows[-1]["r18-sketch"] == "40.00"
    assert "not in the issue or in this repository" in text


def test_figure2_arms_come_from_the_registry_not_names(tmp_path):
    runs = tmp_path / "runs"
    make_run(runs / "a", "", "natural", group="base")
    make_run(runs / "b", "", "masked", group="scratch")
    make_run(runs / "c", "", "masked", group="tuned", init_from=str(runs / "a"))
    make_run(runs / "d", "", "gauss")
    assert role({"method": "adversarial"}) is None and role({"method": "unknown"}) is None
    found = arms(load_inputs_runs(tmp_path))
    assert list(found) == [("original", "base"), ("sketch", "scratch"), ("ourMethod", "tuned")]
    path = figure2(load_inputs_runs(tmp_path), tmp_path / "f2.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert figure2([r for r in load_inputs_runs(tmp_path) if r.name == "d"], tmp_path / "none.png") is None


def load_inputs_runs(tmp_path):
    from specreg_cli.report import find_runs

    return find_runs([tmp_path / "runs"])


def test_report_draws_figure3_only_when_asked(tmp_path):
    runs = tmp_path / "runs"
    make_run(runs / "natural-s0", "", "natural", dataset="synthetic:train=8,test=4")
    make_run(runs / "masked-s0", "", "masked", dataset="synthetic:train=8,test=4")
    records = corruption_records("natural-s0", "natural", 0.5, FOG) + corruption_records(
        "masked-s0", "masked", 0.5, FOG
    )
    write(tmp_path / "results" / "c.json", records)
    plots = tmp_path / "report" / "plots"
    refused = runner.invoke(app, ["report", str(tmp_path / "results"), str(runs), "--cam-images", "2"])
    assert refused.exit_code == 1 and "--plots" in str(refused.exception)
    text = report_md(tmp_path, "--plots", str(plots), "--cam-images", "2")
    assert (plots / "figure3_cam.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "](plots/figure3_cam.png)" in text and "](plots/figure2.png)" in text
    # off by default: the same report without --cam-images draws everything else, and no maps
    (plots / "figure3_cam.png").unlink()
    report_md(tmp_path, "--plots", str(plots))
    assert (plots / "figure2.png").exists() and not (plots / "figure3_cam.png").exists()


def test_mask_dynamics_averages_an_arms_seeds_per_epoch_and_layer_in_model_order(tmp_path):
    from specreg_cli.report.mask_dynamics import arm_fractions, mask_dynamics

    runs = tmp_path / "runs"
    layers = ["layer1.0.conv1", "layer1.0.conv2", "layer3.2.conv2"]  # model order, not alphabetical below
    for seed, shift in ((0, 0.0), (1, 0.2)):
        run = make_run(runs / f"dyn-s{seed}", "", "masked", seed=seed, group="dyn")
        lines = ["epoch,layer,masked_fraction"]
        lines += [
            f"{e},{name},{0.1 * e + 0.01 * k + shift}" for e in (1, 2, 3) for k, name in enumerate(layers)
        ]
        (run / "mask_fractions.csv").write_text("\n".join(lines) + "\n")
    one = make_run(runs / "short", "", "masked", group="short")  # one epoch: no dynamics to draw
    (one / "mask_fractions.csv").write_text("epoch,layer,masked_fraction\n1,layer1.0.conv1,0.3\n")
    found = arm_fractions(load_inputs_runs(tmp_path))
    assert list(found) == ["dyn"] and list(found["dyn"].columns) == layers
    assert list(found["dyn"].index) == [1, 2, 3]
    assert abs(found["dyn"].loc[2, "layer1.0.conv2"] - (0.2 + 0.01 + 0.1)) < 1e-12  # mean of the seeds
    path = mask_dynamics(load_inputs_runs(tmp_path), tmp_path / "md.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (
        mask_dynamics([r for r in load_inputs_runs(tmp_path) if r.name == "short"], tmp_path / "x.png")
        is None
    )
