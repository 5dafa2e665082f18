import pickle

import pytest
import torch

from specreg_cli.checkpoint import (
    CHECKPOINT_NAME,
    build_model,
    load_checkpoint,
    load_model,
    make_meta,
    save_checkpoint,
)
from specreg_cli.errors import SpecregError

LENET = {"arch": "lenet", "num_classes": 10, "spectral": None}


def save_lenet(path, seed=0):
    torch.manual_seed(seed)
    model = build_model(LENET)
    meta = make_meta(
        LENET,
        "natural",
        {"name": "synthetic", "sha256": "ab"},
        epoch=2,
        epochs=2,
        config={"lr": 0.1},
        resume={"optimizer": torch.optim.SGD(model.parameters(), 0.1).state_dict()},
    )
    save_checkpoint(path, model, meta)
    return model


def test_round_trip(tmp_path):
    model = save_lenet(tmp_path / "run" / CHECKPOINT_NAME)
    loaded, checkpoint = load_model(tmp_path / "run")  # a run directory means its CHECKPOINT_NAME
    x = torch.rand(3, 3, 32, 32)
    assert torch.equal(model.eval()(x), loaded(x))
    assert not loaded.training
    assert checkpoint.meta["method"] == "natural" and checkpoint.meta["epoch"] == 2
    assert checkpoint.run_name == "run" and len(checkpoint.sha256) == 64
    assert checkpoint.meta["normalization"]["mean"][0] == pytest.approx(0.4914)
    assert [p.name for p in (tmp_path / "run").iterdir()] == [CHECKPOINT_NAME]  # no temp file left behind


def test_missing(tmp_path):
    with pytest.raises(SpecregError, match="not found"):
        load_checkpoint(tmp_path / "nope.pt")


class Evil:  # anything that needs arbitrary unpickling
    pass


def test_arbitrary_pickle_refused(tmp_path):
    torch.save({"format": "specreg-checkpoint", "obj": Evil()}, tmp_path / "evil.pt")
    with pytest.raises(SpecregError, match="arbitrary unpickling"):
        load_checkpoint(tmp_path / "evil.pt")


def test_truncated(tmp_path):
    save_lenet(tmp_path / CHECKPOINT_NAME)
    data = (tmp_path / CHECKPOINT_NAME).read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(SpecregError, match="truncated"):
        load_checkpoint(tmp_path / "cut.pt")
    (tmp_path / "text.pt").write_text("hello")
    with pytest.raises(SpecregError, match="truncated or not a PyTorch file"):
        load_checkpoint(tmp_path / "text.pt")


def test_not_a_specreg_checkpoint(tmp_path):
    torch.save(build_model(LENET).state_dict(), tmp_path / "plain.pt")
    with pytest.raises(SpecregError, match="not a specreg checkpoint"):
        load_checkpoint(tmp_path / "plain.pt")


def test_other_architecture(tmp_path):
    save_lenet(tmp_path / CHECKPOINT_NAME)
    with pytest.raises(SpecregError, match="holds a lenet model, expected resnet20"):
        load_checkpoint(tmp_path / CHECKPOINT_NAME, expected_arch="resnet20")


def test_state_dict_that_does_not_match_its_model(tmp_path):
    save_lenet(tmp_path / CHECKPOINT_NAME)
    payload = torch.load(tmp_path / CHECKPOINT_NAME, weights_only=True)
    payload["meta"]["model"] = {"arch": "resnet20", "num_classes": 10, "spectral": None}
    torch.save(payload, tmp_path / CHECKPOINT_NAME)
    with pytest.raises(SpecregError, match="does not match its declared model"):
        load_model(tmp_path / CHECKPOINT_NAME)


def test_pickle_module_is_not_used_for_loading(tmp_path, monkeypatch):
    save_lenet(tmp_path / CHECKPOINT_NAME)
    monkeypatch.setattr(pickle, "load", lambda *a, **k: pytest.fail("full unpickling used"))
    load_checkpoint(tmp_path / CHECKPOINT_NAME)


def test_test_set_warnings(tmp_path):
    from specreg_cli.checkpoint import test_set_warnings

    save_lenet(tmp_path / "run" / CHECKPOINT_NAME)
    payload = torch.load(tmp_path / "run" / CHECKPOINT_NAME, weights_only=True)
    payload["meta"]["test_dataset"] = {"name": "synthetic", "sha256": "aaaa"}
    torch.save(payload, tmp_path / "run" / CHECKPOINT_NAME)
    checkpoint = load_checkpoint(tmp_path / "run")
    assert test_set_warnings([checkpoint], {"sha256": "aaaa"}) == []
    (line,) = test_set_warnings([checkpoint], {"sha256": "bbbb"})
    assert "run" in line and "aaaa" in line and "bbbb" in line


def test_identical_models_give_identical_checkpoint_bytes(tmp_path):
    save_lenet(tmp_path / "a" / CHECKPOINT_NAME)
    save_lenet(tmp_path / "b" / CHECKPOINT_NAME)
    assert (tmp_path / "a" / CHECKPOINT_NAME).read_bytes() == (tmp_path / "b" / CHECKPOINT_NAME).read_bytes()
