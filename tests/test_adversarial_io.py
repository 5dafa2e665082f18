"""Saved adversarial examples: uint8 re-projection into the eps ball, .npy/.pt round trips, naming, errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from specreg_cli.adversarial_io import (
    load_adversarial,
    save_adversarial,
    sibling_paths,
    sweep_paths,
    to_uint8_in_ball,
)
from specreg_cli.errors import SpecregError
from specreg_cli.evaluate import uint8_batches


def _clean_and_adv(eps: float, overshoot: float, seed: int = 0):
    """uint8 clean (16, 3, 8, 8) and float adv = clean + U(-eps-overshoot, eps+overshoot), in [0, 1]."""
    g = torch.Generator().manual_seed(seed)
    clean = torch.randint(0, 256, (16, 3, 8, 8), generator=g, dtype=torch.uint8)
    delta = (torch.rand(clean.shape, generator=g) * 2 - 1) * (eps + overshoot)
    return clean, (clean.float() / 255 + delta).clamp(0, 1)


@pytest.mark.parametrize("eps", [8 / 255, 2 / 255, 0.0313725, 0.02, 0.0])
def test_uint8_linf_stays_inside_the_ball_exactly(eps):
    clean, adv = _clean_and_adv(eps, overshoot=3 / 255)  # deliberately outside: the projection must act
    stored = to_uint8_in_ball(adv, clean, eps, "Linf")
    assert stored.dtype == torch.uint8 and stored.shape == clean.shape
    gap = (stored.int() - clean.int()).abs()
    expected_bound = {8 / 255: 8, 2 / 255: 2, 0.0313725: 7, 0.02: 5, 0.0: 0}[eps]  # 0.0313725 < 8/255: 7
    assert gap.max().item() == expected_bound  # whole levels inside the ball, and the whole ball is used
    assert (gap.double() / 255 <= eps + 1e-15).all()
    inside = ((adv * 255).round() - clean.float()).abs() <= expected_bound
    assert torch.equal(stored.float()[inside], (adv * 255).round()[inside])  # in-ball pixels are just rounded


def test_uint8_l2_stays_inside_the_ball():
    eps = 0.5
    g = torch.Generator().manual_seed(1)
    clean = torch.randint(40, 216, (8, 3, 32, 32), generator=g, dtype=torch.uint8)
    delta = torch.randn(clean.shape, generator=g)
    delta *= eps / delta.flatten(1).norm(dim=1).view(
        -1, 1, 1, 1
    )  # exactly on the sphere: rounding overshoots
    stored = to_uint8_in_ball((clean.float() / 255 + delta).clamp(0, 1), clean, eps, "L2")
    norms = (stored.double() - clean.double()).flatten(1).norm(dim=1) / 255
    assert (norms <= eps).all()
    assert (norms > 0.8 * eps).all()  # still a real perturbation, not collapsed to the clean image


def test_npy_round_trip(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (5, 32, 32, 3), dtype=np.uint8)
    labels = np.arange(5, dtype=np.int64)
    files = save_adversarial(tmp_path / "adv.npy", images, labels, {"attack": "pgd", "eps": 8 / 255})
    assert [f.name for f in files] == ["adv.npy", "adv_labels.npy", "adv_meta.json"]
    assert np.load(tmp_path / "adv.npy").dtype == np.uint8  # CIFAR-10-C layout, plain np.load
    assert json.loads((tmp_path / "adv_meta.json").read_text())["n"] == 5
    loaded = load_adversarial(tmp_path / "adv.npy")
    assert np.array_equal(loaded.images, images) and np.array_equal(loaded.labels, labels)
    assert loaded.meta["eps"] == 8 / 255 and loaded.storage == "uint8"
    x, _ = next(loaded.batches(4, "cpu"))
    assert x.dtype == torch.float32 and x.shape == (4, 3, 32, 32)
    assert torch.equal(x[1], torch.from_numpy(images[1]).permute(2, 0, 1).float() / 255)
    assert not list(tmp_path.glob(".*tmp"))  # atomic writes leave no temporary files


def test_npy_batches_copy_out_of_the_file(tmp_path):
    """Saved uint8 examples batch like any uint8 evaluation: every image once, in order, never aliased."""
    images = np.random.default_rng(1).integers(0, 256, (5, 32, 32, 3), dtype=np.uint8)
    save_adversarial(tmp_path / "adv.npy", images, np.arange(5), {})
    loaded = load_adversarial(tmp_path / "adv.npy")  # a read-only memmap
    batches = list(loaded.batches(2, "cpu"))
    assert [len(y) for _, y in batches] == [2, 2, 1]
    x = torch.cat([x for x, _ in batches])  # (5, 3, 32, 32)
    assert torch.equal(x, torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255)
    assert torch.equal(torch.cat([y for _, y in batches]), torch.arange(5))
    # the shared batching copies numpy batches out: a transform that writes in place leaves the source alone
    source = images.copy()
    list(uint8_batches(source, np.arange(5), 2, "cpu", transform=lambda batch, start: batch.zero_()))
    assert np.array_equal(source, images)


def test_pt_round_trip_is_weights_only(tmp_path):
    images = torch.rand(3, 3, 32, 32)
    labels = np.array([1, 2, 3])
    save_adversarial(tmp_path / "adv.pt", images, labels, {"attack": "pgd", "eps": 0.03})
    raw = torch.load(tmp_path / "adv.pt", weights_only=True)
    assert raw["images"].dtype == torch.float32 and raw["labels"].dtype == torch.int64
    loaded = load_adversarial(tmp_path / "adv.pt")
    assert torch.equal(loaded.images, images) and loaded.meta["storage"] == "float32"


def test_bad_files_are_user_errors(tmp_path):
    with pytest.raises(SpecregError, match=r"\.npy .*\.pt"):
        save_adversarial(tmp_path / "adv.png", np.zeros((1, 32, 32, 3), np.uint8), [0], {})
    with pytest.raises(SpecregError, match="expected uint8"):
        save_adversarial(tmp_path / "adv.npy", np.zeros((1, 32, 32, 3), np.float32), [0], {})
    with pytest.raises(SpecregError, match="not found"):
        load_adversarial(tmp_path / "missing.npy")
    np.save(tmp_path / "lonely.npy", np.zeros((2, 32, 32, 3), np.uint8))
    with pytest.raises(SpecregError, match="no labels file"):
        load_adversarial(tmp_path / "lonely.npy")
    np.save(sibling_paths(tmp_path / "lonely.npy")[0], np.zeros(3, np.int64))  # 3 labels for 2 images
    with pytest.raises(SpecregError, match="3 labels"):
        load_adversarial(tmp_path / "lonely.npy")


def test_sweep_paths_name_one_file_per_run_and_eps(tmp_path):
    base = tmp_path / "adv.npy"
    assert sweep_paths(base, ["natural"], [8 / 255]) == {("natural", 8 / 255): base}
    names = {k: p.name for k, p in sweep_paths(base, ["natural", "masked"], [2 / 255, 0.5]).items()}
    assert names[("masked", 2 / 255)] == "adv-masked-eps2-255.npy"
    assert names[("natural", 0.5)] == "adv-natural-eps0.5.npy"
    assert len(set(names.values())) == 4
