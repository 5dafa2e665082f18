"""The notebook API (``import specreg``): torch-free import, the README's example run as written, the same
numbers and files as the CLI, documented names."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import specreg
from specreg_cli.checkpoint import CHECKPOINT_NAME, build_model, make_meta, save_checkpoint
from specreg_cli.data import load_dataset
from specreg_cli.errors import SpecregError

ROOT = Path(__file__).resolve().parents[1]
SPEC = "synthetic:train=64,test=24"
LENET = {"arch": "lenet", "num_classes": 10, "spectral": None}


def readme_example() -> str:
    """The Python block between README.md's ``<!-- api-example -->`` markers."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(r"<!-- api-example -->\s*```python\n(.*?)```\s*<!-- /api-example -->", text, re.S)
    assert found, "README.md has no <!-- api-example --> python block"
    return found.group(1)


def test_import_is_fast_and_loads_no_torch():
    code = "import sys, specreg; print(sorted(m for m in ('torch', 'pandas') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "[]"


def test_every_name_resolves_and_has_a_docstring_example():
    assert dir(specreg) == sorted(specreg.__all__)
    for name in specreg.__all__:
        value = getattr(specreg, name)
        if name != "__version__":
            assert "Example::" in (value.__doc__ or ""), name
    with pytest.raises(AttributeError):
        specreg.no_such_name  # noqa: B018


def test_the_api_imports_no_cli():
    for path in (ROOT / "specreg").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            names += [node.module] if isinstance(node, ast.ImportFrom) and node.module else []
            assert not any(n.startswith(("specreg_cli.cli", "specreg_cli.commands")) for n in names), path


def test_the_readme_example_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    exec(compile(readme_example(), "README.md:api-example", "exec"), {"__name__": "__readme__"})
    out = capsys.readouterr().out
    assert "| external: resnet18" in out  # Table 2's row for the model specreg did not train
    for name in ("corruptions.json", "pgd.json"):
        document = json.loads((tmp_path / "results" / name).read_text())
        assert document["provenance"]["checkpoints"]["resnet18"]["external"]["kwargs"] == {"num_classes": 10}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("api")
    train = load_dataset(SPEC, "train")
    with torch.random.fork_rng():
        torch.manual_seed(3)
        model = build_model(LENET)
    meta = make_meta(LENET, "natural", train.identity, epoch=0, epochs=0, config={"dataset": SPEC})
    save_checkpoint(root / "natural" / CHECKPOINT_NAME, model, meta)
    return root / "natural"


def test_same_numbers_and_files_as_the_cli(run, tmp_path, monkeypatch):
    from specreg_cli.cli import main
    from specreg_cli.results import read_results

    model = specreg.load_model(run)
    assert (model.run, model.method, model.arch) == ("natural", "natural", "lenet")
    api = specreg.evaluate_corruptions(model, ["fog", "contrast"], [1, 4], out=tmp_path / "api.json")
    attacked = specreg.robust_accuracy(model, "fgsm", eps=["0", 4 / 255], n_examples=16)
    for args in (
        [
            "eval-corruptions",
            run,
            "--corruptions",
            "fog,contrast",
            "--severities",
            "1,4",
            "--out",
            "cli.json",
        ],
        ["attack", run, "--attack", "fgsm", "--eps", "0,4/255", "--n-examples", "16", "--out", "atk.json"],
    ):
        monkeypatch.setattr(sys, "argv", ["specreg", *map(str, args[:-1]), str(tmp_path / args[-1])])
        with pytest.raises(SystemExit) as done:
            main()
        assert not done.value.code
    keys = ["run", "condition", "severity", "metric", "value", "n"]
    cli = read_results(tmp_path / "cli.json")[keys].sort_values(keys[:4]).reset_index(drop=True)
    assert api[keys].sort_values(keys[:4]).reset_index(drop=True).equals(cli)
    cli_attack = read_results(tmp_path / "atk.json")[keys + ["param_eps"]]
    assert (
        attacked[keys + ["param_eps"]]
        .sort_values(keys[:4] + ["param_eps"])
        .reset_index(drop=True)
        .equals(cli_attack.sort_values(keys[:4] + ["param_eps"]).reset_index(drop=True))
    )
    assert read_results(tmp_path / "api.json")["value"].tolist() == api["value"].tolist()  # out= wrote it
    text = specreg.write_report([tmp_path / "api.json"], tmp_path / "table.csv")
    assert text.startswith("label,") and (tmp_path / "table.csv").read_text() == text


def test_errors_are_specreg_errors(run, tmp_path):
    with pytest.raises(SpecregError, match="not found"):
        specreg.load_model(tmp_path / "missing")
    with pytest.raises(SpecregError, match="one specreg.Model"):
        specreg.evaluate_corruptions("runs/natural")
    model = specreg.load_model(run)
    with pytest.raises(SpecregError, match="unknown attack"):
        specreg.robust_accuracy(model, "nope")
    with pytest.raises(SpecregError, match="format must be md or csv"):
        specreg.write_report(tmp_path, format="html")
