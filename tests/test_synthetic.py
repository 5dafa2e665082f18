"""The built-in synthetic dataset: format, determinism, balance, argument checks, and its design
(classes differ in coarse shape and in fine texture)."""

from __future__ import annotations

import numpy as np
import pytest

from specreg_cli.data.synthetic import SHAPES, SYNTHETIC_CLASSES, TEXTURES, make_synthetic


@pytest.fixture(scope="module")
def sample() -> tuple[np.ndarray, np.ndarray]:
    return make_synthetic(1000, seed=0, split="train")


def test_shapes_dtypes_and_range(sample):
    images, labels = sample
    assert images.shape == (1000, 32, 32, 3) and images.dtype == np.uint8
    assert labels.shape == (1000,) and labels.dtype == np.int64
    assert labels.min() >= 0 and labels.max() < len(SYNTHETIC_CLASSES)
    assert images.min() < 40 and images.max() > 215  # uses the dynamic range, not a constant image


def test_class_names():
    assert len(SYNTHETIC_CLASSES) == 10 == len(set(SYNTHETIC_CLASSES))
    assert all(isinstance(name, str) and name for name in SYNTHETIC_CLASSES)


def test_same_seed_same_bytes(sample):
    images, labels = make_synthetic(1000, seed=0, split="train")
    assert images.tobytes() == sample[0].tobytes() and np.array_equal(labels, sample[1])


def test_different_seeds_and_splits_differ():
    train0, _ = make_synthetic(50, seed=0, split="train")
    train1, _ = make_synthetic(50, seed=1, split="train")
    test0, _ = make_synthetic(50, seed=0, split="test")
    test1, _ = make_synthetic(50, seed=1, split="test")
    draws = [train0, train1, test0, test1]
    for i in range(len(draws)):
        for j in range(i + 1, len(draws)):
            assert not np.array_equal(draws[i], draws[j]), (i, j)
    # no image of the test split appears in the train split of the same seed
    assert not set(map(bytes, train0)) & set(map(bytes, test0))


def test_balanced_and_shuffled(sample):
    _, labels = sample
    assert np.bincount(labels, minlength=10).tolist() == [100] * 10
    assert not np.array_equal(labels, np.arange(1000) % 10)  # shuffled, not cyclic
    counts = np.bincount(make_synthetic(1003, seed=5)[1], minlength=10)
    assert counts.min() >= 100 and counts.max() <= 101


def test_small_draw_has_every_class():
    _, labels = make_synthetic(20, seed=3, split="test")
    assert set(labels.tolist()) == set(range(10))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"n": 0},
        {"n": -5},
        {"n": 2.5},
        {"n": 10, "split": "val"},
        {"n": 10, "seed": -1},
    ],
)
def test_bad_arguments_raise_value_error(kwargs):
    with pytest.raises(ValueError):
        make_synthetic(**kwargs)


def _spectra(images: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Spectra (N, H, W) complex of the mean-removed grey images, and frequency grids (H, 1), (1, W)."""
    grey = images.astype(np.float64).mean(axis=3)  # (N, H, W)
    spectrum = np.fft.fft2(grey - grey.mean(axis=(1, 2), keepdims=True))  # (N, H, W) complex
    f = np.fft.fftfreq(grey.shape[1])  # cycles per pixel
    return spectrum, f[:, None], f[None, :]


def test_texture_is_fine_detail_and_shape_is_coarse_layout(sample):
    """The design: texture (label % 2) lives at high spatial frequencies, shape (label // 2) at low ones."""
    images, labels = sample
    spectrum, fy, fx = _spectra(images)
    power = np.abs(spectrum) ** 2  # (N, H, W)
    radius = np.hypot(fy, fx)  # (H, W)

    # High-pass (periods < 6 px): stripes are 1-D, so their energy sits on the spectrum's axes; the
    # checker is 2-D, so its energy sits off the axes. Shape edges add some axis energy for both.
    high = radius > 1 / 6
    on_axis = high & ((np.abs(fy) < 1.5 / 32) | (np.abs(fx) < 1.5 / 32))
    axis_share = (power * on_axis).sum(axis=(1, 2)) / (power * high).sum(axis=(1, 2))  # (N,)

    # Low-pass (periods > 8 px, texture periods are 3-5 px): only the silhouette is left. A horizontal bar
    # has long horizontal edges, so its vertical gradient dominates; disk, ring and cross are isotropic.
    coarse = np.real(np.fft.ifft2(spectrum * (radius < 1 / 8)))  # (N, H, W)
    anisotropy = np.log(
        (np.diff(coarse, axis=1) ** 2).sum(axis=(1, 2)) / (np.diff(coarse, axis=2) ** 2).sum(axis=(1, 2))
    )  # (N,) log(vertical / horizontal)

    for s, shape in enumerate(SHAPES):
        striped = labels == s * len(TEXTURES) + TEXTURES.index("striped")
        checkered = labels == s * len(TEXTURES) + TEXTURES.index("checkered")
        assert np.median(axis_share[striped]) > 0.45 > 0.3 > np.median(axis_share[checkered]), shape
        # texture is invisible after the low-pass: both textures of a shape look alike there
        assert abs(np.median(anisotropy[striped]) - np.median(anisotropy[checkered])) < 0.15, shape
    by_shape = {shape: np.median(anisotropy[labels // len(TEXTURES) == s]) for s, shape in enumerate(SHAPES)}
    assert by_shape["bar"] > 0.7
    assert all(abs(by_shape[shape]) < 0.15 for shape in ("disk", "ring", "cross"))
