"""corruptions.corrupt takes what imagecorruptions users pass: one HWC image, float images in [0, 1]."""

import numpy as np
import pytest
import torch

import corruptions
from corruptions import corrupt

NAMES = ("impulse_noise", "contrast", "brightness")  # a random, a per-image and a per-pixel corruption


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    return np.random.default_rng(5).integers(0, 256, (6, 32, 32, 3), dtype=np.uint8)


@pytest.mark.parametrize("name", NAMES)
def test_one_hwc_image_is_image_i_of_a_batch(name, images):
    batch = corrupt(images, name, 4, seed=2, start_index=10)
    for i in (0, 3):
        single = corrupt(images[i], name, 4, seed=2, start_index=10 + i)
        assert single.shape == (32, 32, 3) and single.dtype == np.uint8
        assert np.array_equal(single, batch[i])
        as_tensor = corrupt(torch.from_numpy(images[i]), name, 4, seed=2, start_index=10 + i)
        assert isinstance(as_tensor, torch.Tensor) and torch.equal(as_tensor, torch.from_numpy(batch[i]))


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
@pytest.mark.parametrize("name", NAMES)
def test_float_images_in_0_1_come_back_as_the_same_dtype(name, dtype, images):
    expected = corrupt(images, name, 3, seed=1)
    floats = (images / 255).astype(dtype)  # the k / 255 levels, as ToTensor() and skimage give them
    got = corrupt(floats, name, 3, seed=1)
    assert got.dtype == dtype and got.shape == images.shape
    assert np.array_equal(np.round(got.astype(np.float64) * 255), expected)  # the uint8 result, / 255
    assert (got >= 0).all() and (got <= 1).all()
    single = corrupt(floats[2], name, 3, seed=1, start_index=2)
    assert single.dtype == dtype and np.array_equal(single, got[2])


def test_float_tensors_keep_dtype_and_device_and_levels_are_rounded(images):
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float().div(255).permute(0, 2, 3, 1)  # strided view
    out = corrupt(x, "contrast", 2)
    assert out.dtype == torch.float32 and out.device == x.device and out.shape == x.shape
    assert torch.equal(out, torch.from_numpy(corrupt(images, "contrast", 2)).float() / 255)
    # values between levels are rounded to the nearest of the 256 levels the reference sees
    levels = torch.from_numpy(images).double()
    nudged = (levels + torch.where(levels < 255, 0.4, -0.4)) / 255  # still in [0, 1]
    assert torch.equal(
        corrupt(nudged, "contrast", 2), torch.from_numpy(corrupt(images, "contrast", 2)).double() / 255
    )


def test_inputs_are_not_modified(images):
    floats = images / 255
    before = floats.copy()
    corrupt(floats, "brightness", 5)
    corrupt(floats[0], "impulse_noise", 5)
    assert np.array_equal(floats, before)


@pytest.mark.parametrize("shape", [(224, 224, 3), (2, 28, 28, 3), (64, 32, 3)])
def test_other_sizes_get_one_line_saying_the_parameters_are_cifars(shape):
    with pytest.raises(ValueError, match=r"must be 32x32: these are CIFAR-10-C's parameters") as err:
        corrupt(np.zeros(shape, dtype=np.uint8), "fog", 1)
    assert "\n" not in str(err.value) and "imagecorruptions" in str(err.value)


@pytest.mark.parametrize("value", [-0.1, np.nan, np.inf, 2.0])
def test_floats_outside_0_1_are_refused(value):
    bad = np.full((32, 32, 3), 0.5)
    bad[3, 4, 1] = value
    with pytest.raises(ValueError, match=r"float images must lie in \[0, 1\].*pass uint8 for 0\.\.255"):
        corrupt(bad, "contrast", 1)


def test_unknown_options_are_refused(images):
    with pytest.raises(
        ValueError, match="corruption 'contrast' has no option 'frost_dir'; it takes no options"
    ):
        corrupt(images, "contrast", 1, frost_dir="/nowhere")
    assert corruptions.corrupt(images[:0], "contrast", 1).shape == (0, 32, 32, 3)
