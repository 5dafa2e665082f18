"""External models (``--model MODULE:FACTORY --weights FILE``): parsing, every refusal of the code or the
weights file in one line, and a torchvision ResNet-18 through eval-corruptions, attack and report."""

from __future__ import annotations

import hashlib
import json
import pickle
import re
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from specreg_cli.checkpoint import CHECKPOINT_NAME, build_model, make_meta, save_checkpoint
from specreg_cli.cli import main
from specreg_cli.data import load_dataset
from specreg_cli.errors import SpecregError
from specreg_cli.external_model import (
    EXTERNAL_METHOD,
    ExternalSpec,
    from_options,
    load_external,
    parse_channels,
    parse_kwargs,
)
from specreg_cli.models.normalize import Normalize
from specreg_cli.results import read_results

SPEC = "synthetic:train=100,test=20"  # 20 test images: ResNet-18 on a loaded 2-core CPU
MEAN, STD = (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)
R18 = "torchvision.models:resnet18"
NET_PY = """
import torch
from torch import nn


class Net(nn.Module):
    def __init__(self, width=4, num_classes=10):
        super().__init__()
        self.conv = nn.Conv2d(3, width, 3, padding=1)
        self.fc = nn.Linear(width, num_classes)

    def forward(self, x):
        return self.fc(self.conv(x).mean(dim=(2, 3)))
"""


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


# --- parsing ------------------------------------------------------------------------------------------


def test_kwargs_channels_and_targets_parse_or_fail_in_one_line():
    assert parse_kwargs("num_classes=10,weights=null,norm=bn,p=0.5") == {
        "num_classes": 10,
        "weights": None,
        "norm": "bn",
        "p": 0.5,
    }
    assert parse_kwargs('{"num_classes": 10, "widths": [1, 2]}') == {"num_classes": 10, "widths": [1, 2]}
    assert parse_kwargs(None) == {} and parse_kwargs(" ") == {}
    assert parse_channels("0.5,0.25,1", "--mean", positive=False) == (0.5, 0.25, 1.0)
    for bad, expected in [
        (lambda: parse_kwargs("num_classes"), "not key=value"),
        (lambda: parse_kwargs("{num_classes: 10}"), "not valid JSON"),
        (lambda: parse_kwargs("1x=3"), "not a Python name"),
        (lambda: parse_kwargs('{"a b": 1}'), "not a Python name"),
        (lambda: parse_channels("0.2,0,0.2", "--std", positive=True), "> 0"),
        (lambda: parse_channels("a,b", "--mean", positive=False), "comma-separated numbers"),
        (lambda: ExternalSpec("torchvision.models"), "not MODULE:FACTORY"),
        (lambda: ExternalSpec("m:not-a-name"), "not MODULE:FACTORY"),
        (lambda: ExternalSpec(R18, mean=MEAN), "--mean and --std go together"),
        (lambda: ExternalSpec(R18, mean=MEAN, std=(0.2,)), "--mean has 3 values"),
        (lambda: from_options(None, mean="0.5"), "only apply with --model"),
    ]:
        with pytest.raises(SpecregError, match=expected) as info:
            bad()
        assert "\n" not in info.value.message
    assert ExternalSpec("nets/net.py:Net").arch == "net.py:Net"
    assert from_options(None) is None


# --- refusals -------------------------------------------------------------------------------------------


@pytest.fixture
def net_py(tmp_path):
    """A tiny model in a .py file (``--model path/net.py:Net``) and its good weights."""
    path = tmp_path / "net.py"
    path.write_text(NET_PY)
    module = {}
    exec(compile(NET_PY, str(path), "exec"), module)
    torch.manual_seed(0)
    weights = tmp_path / "tiny.pt"
    torch.save(module["Net"]().state_dict(), weights)
    return path, weights


class Trap:
    """Unpickling this would run code: torch.load(weights_only=True) must refuse it first."""

    def __reduce__(self):
        return (Path.touch, (Path(TRAP_TARGET),))


TRAP_TARGET = ""


def _write(path: Path, payload) -> Path:
    torch.save(payload, path)
    return path


def test_a_file_module_loads_and_records_its_code(net_py):
    path, weights = net_py
    model, source = load_external(ExternalSpec(f"{path}:Net"), weights, "cpu")
    assert not model.training and source.run_name == "tiny" and source.meta["method"] == EXTERNAL_METHOD
    assert source.meta["model"]["arch"] == "net.py:Net"
    prov = source.provenance()
    assert prov["weights_sha256"] == hashlib.sha256(weights.read_bytes()).hexdigest()
    assert prov["code"]["file_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert prov["mean"] is None and "none added" in prov["normalization"]
    normalized, _ = load_external(ExternalSpec(f"{path}:Net", mean=MEAN, std=STD), weights, "cpu")
    assert isinstance(normalized[0], Normalize)  # Normalize first, then the model's own weights
    x = torch.rand(2, 3, 32, 32)
    torch.testing.assert_close(normalized(x), model((x - 0.5) / 0.25))


@pytest.mark.parametrize(
    "case, expected",
    [
        ("nan", "non-finite weights (NaN or inf) in conv.weight"),
        ("missing", "keys 1 missing (fc.bias)"),
        ("unexpected", "keys 1 unexpected (head.weight)"),
        ("prefixed", "keys 4 missing (conv.weight, conv.bias, fc.weight, ... 1 more); 4 unexpected"),
        ("shape", "fc.weight is (3, 4) in the file, (10, 4) in the model"),
        ("tensor", "is not a state_dict (a Tensor)"),
        ("nested", "entry 'epoch' is a int, not a tensor"),
        ("specreg", "is a specreg checkpoint, not a state_dict"),
        ("pickle", "needs arbitrary unpickling"),
        ("kwargs", "Net(**{'depth': 3}) failed (TypeError"),
        ("outputs", "returns (1, 5) for one image, expected (1, 10) logits"),
        ("factory", "has no callable 'Nett'"),
        ("module", "cannot import no_such_module_xyz (ModuleNotFoundError"),
        ("weights", "weights file"),
    ],
)
def test_every_wrong_code_or_weights_is_one_line(net_py, tmp_path, case, expected):
    global TRAP_TARGET
    path, good = net_py
    state = torch.load(good, weights_only=True)
    target, kwargs, weights = f"{path}:Net", {}, good
    if case == "nan":
        weights = _write(tmp_path / "w.pt", {**state, "conv.weight": state["conv.weight"] * float("nan")})
    elif case == "missing":
        weights = _write(tmp_path / "w.pt", {k: v for k, v in state.items() if k != "fc.bias"})
    elif case == "unexpected":
        weights = _write(tmp_path / "w.pt", {**state, "head.weight": torch.zeros(1)})
    elif case == "prefixed":  # saved from DataParallel
        weights = _write(tmp_path / "w.pt", {f"module.{k}": v for k, v in state.items()})
    elif case == "shape":
        weights = _write(tmp_path / "w.pt", {**state, "fc.weight": torch.zeros(3, 4)})
    elif case == "tensor":
        weights = _write(tmp_path / "w.pt", torch.zeros(3))
    elif case == "nested":
        weights = _write(tmp_path / "w.pt", {"epoch": 3, **state})
    elif case == "specreg":
        meta = make_meta({"arch": "lenet", "num_classes": 10, "spectral": None}, "natural", {}, 0, 0, {})
        save_checkpoint(tmp_path / "w.pt", build_model({"arch": "lenet"}), meta)
        weights = tmp_path / "w.pt"
    elif case == "pickle":
        TRAP_TARGET = str(tmp_path / "ran")
        weights = tmp_path / "w.pt"
        with weights.open("wb") as fh:
            pickle.dump({"conv.weight": Trap()}, fh, protocol=2)
    elif case == "kwargs":
        kwargs = {"depth": 3}
    elif case == "outputs":
        kwargs, weights = {"num_classes": 5}, _write(tmp_path / "w.pt", {**state, **_fc(5)})
    elif case == "factory":
        target = f"{path}:Nett"
    elif case == "module":
        target = "no_such_module_xyz:Net"
    elif case == "weights":
        weights = tmp_path / "absent.pt"
    with pytest.raises(SpecregError) as info:
        load_external(ExternalSpec(target, kwargs), weights, "cpu")
    assert expected in info.value.message and "\n" not in info.value.message
    assert not (tmp_path / "ran").exists()  # the trap never ran


def _fc(classes: int) -> dict:
    return {"fc.weight": torch.zeros(classes, 4), "fc.bias": torch.zeros(classes)}


# --- a torchvision ResNet-18 through the commands --------------------------------------------------------


def _float(images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255


@pytest.fixture(scope="module")
def resnet18(tmp_path_factory):
    """A torchvision ResNet-18 whose head is fitted (LBFGS on frozen random features of 100 synthetic
    training images: a second, where training the whole net would take minutes here), as a state_dict."""
    import torchvision

    root = tmp_path_factory.mktemp("external")
    train = load_dataset(SPEC, "train")
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = torchvision.models.resnet18(num_classes=10).eval()
    head, model.fc = model.fc, torch.nn.Identity()
    with torch.no_grad():
        features = model(Normalize(MEAN, STD)(_float(train.images)))
    labels = torch.from_numpy(train.labels)
    optimizer = torch.optim.LBFGS(head.parameters(), max_iter=50)

    def closure():
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(head(features), labels)
        loss.backward()
        return loss

    optimizer.step(closure)
    model.fc = head
    weights = root / "r18.pt"
    torch.save(model.state_dict(), weights)
    lenet = {"arch": "lenet", "num_classes": 10, "spectral": None}
    meta = make_meta(lenet, "natural", train.identity, epoch=0, epochs=0, config={"dataset": SPEC})
    save_checkpoint(root / "natural" / CHECKPOINT_NAME, build_model(lenet), meta)
    return root, weights, model


def _model_options(weights: Path) -> list[str]:
    return ["--model", R18, "--model-kwargs", "num_classes=10", "--weights", str(weights)]


def test_resnet18_through_eval_corruptions_attack_and_report(resnet18, cli):
    root, weights, model = resnet18
    normalisation = ["--mean", ",".join(map(str, MEAN)), "--std", ",".join(map(str, STD))]
    corruptions = root / "corruptions.json"
    # next to a specreg run: its recorded split is the one both are evaluated on (no --dataset)
    code, out, err = cli(
        "eval-corruptions", root / "natural", *_model_options(weights), *normalisation,
        "--corruptions", "fog", "--severities", "3", "--out", corruptions,
    )  # fmt: skip
    assert code == 0, err
    assert "input normalisation added by specreg" in out.replace("\n", " ")
    frame = read_results(corruptions)
    mine = frame[frame["run"] == "r18"]
    assert set(mine["method"]) == {EXTERNAL_METHOD} and set(mine["arch"]) == {R18}
    assert set(mine["condition"]) == {"clean", "fog"} and set(mine["n"]) == {20}
    test = load_dataset(SPEC, "test")
    with torch.no_grad():  # an independent clean accuracy: Normalize, then the ResNet-18
        expected = (model(Normalize(MEAN, STD)(_float(test.images))).argmax(1).numpy() == test.labels).mean()
    assert mine.loc[mine["condition"] == "clean", "value"].item() == pytest.approx(expected)
    prov = json.loads(corruptions.read_text())["provenance"]
    external = prov["checkpoints"]["r18"]["external"]
    assert external["weights_sha256"] == hashlib.sha256(weights.read_bytes()).hexdigest()
    assert (external["model"], external["kwargs"], external["mean"]) == (R18, {"num_classes": 10}, list(MEAN))
    assert external["code"]["package"].startswith("torchvision ")
    assert prov["arguments"]["model"] == R18 and "external" not in prov["checkpoints"]["natural"]

    attack = root / "pgd.json"
    args = ["attack", *_model_options(weights), *normalisation, "--eps", "0,8/255", "--steps", "2"]
    code, _, err = cli(*args, "--out", attack)
    assert code == 1 and "records no dataset" in err and "--dataset" in err  # alone, the split is named
    code, out, err = cli(*args, "--dataset", SPEC, "--out", attack)
    assert code == 0, err
    robust = read_results(attack)
    accuracy = robust[(robust["condition"] == "pgd") & (robust["metric"] == "accuracy")]
    at = accuracy.set_index("param_eps")["value"]
    assert at[0.0] == pytest.approx(expected) and at[8 / 255] <= at[0.0]
    assert set(robust["method"]) == {EXTERNAL_METHOD}

    code, table, err = cli("report", corruptions, attack, "--format", "md")
    assert code == 0, err
    rows = [line for line in table.splitlines() if line.startswith("| natural") or "external" in line]
    assert rows[0].startswith("| natural") and rows[1].startswith(f"| external: r18 ({R18})")
    assert f"external model r18: {R18}(num_classes=10) [torchvision " in table


def test_weights_without_model_and_nothing_to_evaluate_are_one_line(resnet18, cli):
    _, weights, _ = resnet18
    for args, expected in [
        (["--weights", weights, "--dataset", SPEC], "--weights needs --model"),
        (["--model", R18, "--dataset", SPEC], "needs --weights FILE"),
        (["--dataset", SPEC], "no model to evaluate"),
    ]:
        code, _, err = cli("attack", *args)
        assert code == 1 and expected in err, err


def test_report_gives_each_external_model_its_row_after_the_methods(tmp_path):
    from specreg_cli import report as rep
    from specreg_cli.results import Record, provenance, write_results

    def records(run, method, arch, clean, fog):
        return [
            Record(run, method, arch, "synthetic", "clean", None, "accuracy", clean, 50),
            Record(run, method, arch, "synthetic", "fog", 3, "accuracy", fog, 50),
        ]

    dataset = {"name": "synthetic", "split": "test", "n": 50, "sha256": "d" * 64}
    for seed in (0, 1):  # two seeds of natural: one row, mean over them
        run = f"natural-s{seed}"
        checkpoints = {run: {"path": f"/runs/{run}/model.pt", "sha256": f"{run}-sha"}}
        prov = provenance("eval-corruptions", {}, 0, dataset, checkpoints)
        write_results(
            tmp_path / f"{run}.json", records(run, "natural", "resnet20", 0.8 + seed / 10, 0.5), prov
        )
    for run, clean in (("theirs-b", 0.7), ("theirs-a", 0.6)):  # two models of one factory: two rows
        external = {
            "model": R18,
            "kwargs": {"num_classes": 10},
            "weights_sha256": "e" * 64,
            "code": {"package": "torchvision 0.0"},
            "normalization": "none added by specreg",
        }
        checkpoints = {run: {"path": f"/w/{run}.pt", "sha256": "e" * 64, "external": external}}
        prov = provenance("eval-corruptions", {}, 0, dataset, checkpoints)
        write_results(tmp_path / f"{run}.json", records(run, EXTERNAL_METHOD, R18, clean, 0.3), prov)
    text = rep.to_markdown(rep.build_report(rep.load_inputs([tmp_path])))
    rows = [line.split("|")[1].strip() for line in text.split("## Table 2", 1)[1].splitlines() if "|" in line]
    labels = [label for label in rows[2:] if label][:3]
    assert labels == ["natural (resnet20)", f"external: theirs-a ({R18})", f"external: theirs-b ({R18})"]
    assert f"external model theirs-a: {R18}(num_classes=10) [torchvision 0.0], weights sha256 eeee" in text


def test_transfer_examples_evaluated_on_an_external_model(net_py, tmp_path, cli):
    path, weights = net_py
    lenet = {"arch": "lenet", "num_classes": 10, "spectral": None}
    train = load_dataset(SPEC, "train")
    meta = make_meta(lenet, "natural", train.identity, epoch=0, epochs=0, config={"dataset": SPEC})
    save_checkpoint(tmp_path / "natural" / CHECKPOINT_NAME, build_model(lenet), meta)
    adv = tmp_path / "adv.npy"
    code, _, err = cli(
        "attack", tmp_path / "natural", "--attack", "fgsm", "--eps", "8/255", "--save-adv", adv
    )
    assert code == 0, err
    out = tmp_path / "transfer.json"
    code, _, err = cli(
        "attack", "--model", f"{path}:Net", "--weights", weights, "--adv-from", adv, "--out", out
    )
    assert code == 0, err
    frame = read_results(out)
    assert set(frame["run"]) == {"tiny"} and "transfer" in set(frame["condition"])
    assert (
        json.loads(out.read_text())["provenance"]["checkpoints"]["tiny"]["external"]["model"] == f"{path}:Net"
    )


FAKE_ROBUSTBENCH = """
from pathlib import Path

import torch
from torch import nn


class Tiny(nn.Module):  # normalises inside, as RobustBench models do
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 10)

    def forward(self, x):
        return self.fc((x - 0.5).mean(dim=(2, 3)))


def load_model(model_name, model_dir="./models", dataset="cifar10", threat_model="Linf"):
    if model_name != "Tiny2024":
        raise ValueError(f"Model {model_name} not found")
    path = Path(model_dir) / dataset / threat_model / f"{model_name}.pt"  # what the real one downloads
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    model = Tiny()
    torch.save(model.state_dict(), path)
    return model.eval()
"""


def test_robustbench_names_through_a_stand_in_package(tmp_path, monkeypatch):
    # the real package downloads from the internet, which the tests cannot reach: a stand-in with its API
    from specreg_cli.model_set import load_model_set

    package = tmp_path / "site" / "robustbench"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "utils.py").write_text(FAKE_ROBUSTBENCH)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    for name in ("robustbench", "robustbench.utils"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    spec = ExternalSpec("robustbench:Tiny2024", {"model_dir": str(tmp_path / "zoo")})
    models = load_model_set([], "cpu", spec)
    [(model, source)] = models
    weights = tmp_path / "zoo" / "cifar10" / "Linf" / "Tiny2024.pt"
    assert source.run_name == "Tiny2024" and source.path == weights
    assert source.sha256 == hashlib.sha256(weights.read_bytes()).hexdigest()
    assert model(torch.rand(2, 3, 32, 32)).shape == (2, 10)
    for bad, expected in [
        (
            lambda: load_model_set([], "cpu", ExternalSpec("robustbench:Nope")),
            "could not load Nope (ValueError",
        ),
        (lambda: load_model_set([], "cpu", spec, [weights]), "brings its own weights"),
        (lambda: load_model_set([], "cpu", ExternalSpec("robustbench:T", {"depth": 2})), "not depth"),
    ]:
        with pytest.raises(SpecregError, match=re.escape(expected)):
            bad()


def test_robustbench_missing_is_one_line(monkeypatch):
    import importlib.util

    from specreg_cli.model_set import load_model_set

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "robustbench" else real(name, *a)
    )
    with pytest.raises(SpecregError, match="needs the robustbench package") as info:
        load_model_set([], "cpu", ExternalSpec("robustbench:Carmon2019Unlabeled"))
    assert "specreg[robustbench]" in info.value.hint
