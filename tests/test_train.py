"""The training loop on tiny synthetic data: every method, run-directory files, resume, divergence,
overwrite."""

import csv
import json

import pytest
import torch

from specreg_cli.checkpoint import load_checkpoint, load_model
from specreg_cli.errors import SpecregError
from specreg_cli.methods import METHODS, TrainingMethod
from specreg_cli.train import Trainer, TrainingDiverged, lr_factor, train
from specreg_cli.train_config import TrainConfig

TINY = "synthetic:train=96,test=32,seed=0"


def tiny(method="natural", epochs=2, **overrides):
    return TrainConfig(
        method=method,
        arch="lenet",
        dataset=TINY,
        epochs=epochs,
        batch_size=32,
        lr=0.05,
        device="cpu",
        adv_steps=2,
        **overrides,
    )


@pytest.mark.parametrize("method", list(METHODS))
def test_every_method_writes_a_complete_run(tmp_path, method):
    result = train(tiny(method), tmp_path / "run")
    run = tmp_path / "run"
    state = json.loads((run / "config.json").read_text())
    assert state["status"] == "finished" and state["epochs_done"] == 2 and state["config"]["method"] == method
    rows = list(csv.DictReader((run / "metrics.csv").open()))
    assert [int(r["epoch"]) for r in rows] == [1, 2]
    for r in rows:
        assert 0 <= float(r["train_acc"]) <= 1 and 0 <= float(r["test_acc"]) <= 1
        assert float(r["gap"]) == pytest.approx(float(r["train_acc"]) - float(r["test_acc"]))
        assert float(r["images_per_s"]) > 0
    checkpoint = load_checkpoint(run)
    assert checkpoint.meta["method"] == method and checkpoint.meta["epoch"] == 2
    assert (run / "mask_fractions.csv").exists() == (method == "masked")
    assert len(result.metrics) == 2


def test_masked_run_moves_masks_and_keeps_them_in_range(tmp_path):
    config = tiny("masked", epochs=2)
    config.mask_lr_mult = 20.0  # tiny data and few steps: make the masks move visibly
    result = train(config, tmp_path / "run")
    model, checkpoint = load_model(tmp_path / "run")
    masks = [p for name, p in model.named_parameters() if name.endswith("spectral_mask")]
    assert masks and all(float(m.detach().min()) >= 0 and float(m.detach().max()) <= 1 for m in masks)
    initial = Trainer(tiny("masked", epochs=2), tmp_path / "other").build_state().model
    init_masks = [p for name, p in initial.named_parameters() if name.endswith("spectral_mask")]
    assert any(not torch.equal(a, b) for a, b in zip(masks, init_masks, strict=False))
    layers = {r["layer"] for r in result.mask_fractions}
    assert layers == {"conv1", "conv2"}


NOISY_MASKS = {"stochastic": True, "random_drop": 0.2}  # masks that draw training noise every step


@pytest.mark.parametrize(
    "method,overrides",
    [
        ("gauss", {}),
        ("masked", {}),
        ("masked", {"mask": NOISY_MASKS, "mask_lr_mult": 20.0}),
        ("masked", {"mask": NOISY_MASKS, "mask_lr_mult": 20.0, "seed": 1}),  # a resume rebuilds the model
    ],
)
def test_resume_gives_the_same_weights_as_an_uninterrupted_run(tmp_path, method, overrides):
    straight = train(tiny(method, epochs=3, **overrides), tmp_path / "a")
    train(tiny(method, epochs=1, **overrides), tmp_path / "b")
    # pretend the 1-epoch run was the first epoch of a 3-epoch run that was interrupted
    state = json.loads((tmp_path / "b" / "config.json").read_text())
    state["config"]["epochs"], state["status"] = 3, "running"
    (tmp_path / "b" / "config.json").write_text(json.dumps(state))
    resumed = train(tiny(method, epochs=3, **overrides), tmp_path / "b", resume=True)
    a = load_checkpoint(tmp_path / "a").state_dict
    b = load_checkpoint(tmp_path / "b").state_dict
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a), method
    assert [r["test_acc"] for r in straight.metrics] == [r["test_acc"] for r in resumed.metrics]


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tmp_path, monkeypatch):
    calls = {"n": 0}

    def poison_second_epoch(method, config, model):
        def perturb(x, y):
            calls["n"] += 1
            return x * float("nan") if calls["n"] > 3 else x  # 3 steps per epoch: epoch 2 diverges

        return perturb

    monkeypatch.setattr(TrainingMethod, "perturbation", poison_second_epoch)
    with pytest.raises(TrainingDiverged, match="epoch 2") as info:
        train(tiny(epochs=3), tmp_path / "run")
    assert "epoch 1" in info.value.message
    assert load_checkpoint(tmp_path / "run").meta["epoch"] == 1
    assert json.loads((tmp_path / "run" / "config.json").read_text())["status"] == "running"


def test_finished_run_is_not_overwritten_without_force(tmp_path):
    train(tiny(epochs=1), tmp_path / "run")
    before = (tmp_path / "run" / "model.pt").read_bytes()
    with pytest.raises(SpecregError, match="already holds a finished run") as info:
        train(tiny(epochs=1), tmp_path / "run")
    assert "--force" in info.value.hint
    assert (tmp_path / "run" / "model.pt").read_bytes() == before
    train(tiny(epochs=1, seed=1), tmp_path / "run", force=True)
    assert (tmp_path / "run" / "model.pt").read_bytes() != before


def test_nothing_written_for_bad_input(tmp_path):
    with pytest.raises(SpecregError):
        train(tiny(epochs=0), tmp_path / "run")
    with pytest.raises(SpecregError, match="nothing to resume"):
        train(tiny(), tmp_path / "run", resume=True)
    with pytest.raises(SpecregError, match="not found"):
        train(tiny(init_from=str(tmp_path / "missing.pt")), tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_fine_tuning_starts_from_the_checkpoint_with_fine_tune_masks(tmp_path):
    train(tiny(epochs=1), tmp_path / "base")
    trainer = Trainer(tiny("masked", epochs=1, init_from=str(tmp_path / "base")), tmp_path / "ft")
    model = trainer.build_state().model
    base = load_checkpoint(tmp_path / "base").state_dict
    assert torch.equal(model.state_dict()["conv1.weight"], base["conv1.weight"])
    mask = model.conv1.spectral_mask
    assert trainer.model_cfg["spectral"]["init_mean"] == 0.6
    assert abs(float(mask.detach().mean()) - 0.6) < 0.05  # N(0.6, 0.1), not the from-scratch N(0.8, 0.2)


def test_lr_schedules():
    assert lr_factor("step", 0, 10, 4) == 1.0
    assert lr_factor("step", 20, 10, 4) == pytest.approx(0.1)  # epoch 2 of 4: 50%
    assert lr_factor("step", 30, 10, 4) == pytest.approx(0.01)  # epoch 3 of 4: 75%
    assert lr_factor("cosine", 0, 10, 4) == 1.0
    assert lr_factor("cosine", 20, 10, 4) == pytest.approx(0.5)


def test_train_accuracy_is_the_saved_models_on_clean_training_images(tmp_path):
    # adversarial batches are perturbed: the gap of Figure 2 must come from clean images in eval mode
    from specreg_cli.data import load_dataset
    from specreg_cli.evaluate import accuracy

    result = train(tiny("adversarial", epochs=1), tmp_path / "run")
    row = result.metrics[-1]
    model, _ = load_model(tmp_path / "run")
    images = load_dataset(TINY, "train")
    clean, _ = accuracy(model, images.images, images.labels, 500, "cpu")
    assert row["train_acc"] == pytest.approx(clean, abs=1e-12)
    assert row["gap"] == pytest.approx(row["train_acc"] - row["test_acc"])
    assert 0 <= row["batch_acc"] <= 1  # the running accuracy on the perturbed batches, kept apart
