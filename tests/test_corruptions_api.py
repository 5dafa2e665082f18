"""corruptions' public API: registry, argument errors, reproducibility across batches, devices, types."""

import random

import numpy as np
import pytest
import torch

import corruptions
from corruptions import REGISTRY, corrupt

RANDOM_CORRUPTIONS = (
    "impulse_noise",
    "fog",
    "gaussian_noise",
    "shot_noise",
    "speckle_noise",
    "glass_blur",
    "motion_blur",
    "snow",
)


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (100, 32, 32, 3), dtype=np.uint8)


def test_public_constants():
    assert corruptions.CORRUPTIONS[:3] == ("impulse_noise", "fog", "contrast")  # the paper's Table 2 first
    assert len(set(corruptions.CORRUPTIONS)) == len(corruptions.CORRUPTIONS)
    assert corruptions.SEVERITIES == (1, 2, 3, 4, 5)
    released = corruptions.RELEASED_CORRUPTIONS
    assert len(released) == len(set(released)) == 19
    assert set(corruptions.CORRUPTIONS) <= set(released)
    assert released[:15][-1] == "jpeg_compression" and released[15:] == (
        "speckle_noise",
        "gaussian_blur",
        "spatter",
        "saturate",
    )


@pytest.mark.parametrize("name", list(REGISTRY))
def test_registry_entry_is_documented_with_its_severity_table(name):
    fn = REGISTRY[name]
    assert fn.__name__ == name
    first_line = fn.__doc__.strip().splitlines()[0]
    assert "severity 1..5" in first_line and first_line.count(",") >= 4  # five parameters listed


@pytest.mark.parametrize("name", list(REGISTRY))
def test_same_bytes_whatever_the_batching(name, images):
    whole = corrupt(images, name, 3, seed=7)
    assert whole.dtype == np.uint8 and whole.shape == images.shape
    singles = np.concatenate([corrupt(images[i : i + 1], name, 3, seed=7, start_index=i) for i in range(100)])
    sevens = np.concatenate(
        [corrupt(images[i : i + 7], name, 3, seed=7, start_index=i) for i in range(0, 100, 7)]
    )
    assert np.array_equal(whole, singles) and np.array_equal(whole, sevens)
    # permuted batch with matching indices, through the registry function
    perm = torch.randperm(100, generator=torch.Generator().manual_seed(1))
    permuted = REGISTRY[name](torch.from_numpy(images)[perm], 3, 7, perm).numpy()
    assert np.array_equal(permuted, whole[perm.numpy()])


@pytest.mark.parametrize("name", list(REGISTRY))
def test_numpy_and_tensor_inputs_agree_and_inputs_are_untouched(name, images):
    before = images.copy()
    as_numpy = corrupt(images, name, 2, seed=3)
    tensor = torch.from_numpy(images.copy())
    as_tensor = corrupt(tensor, name, 2, seed=3)
    assert isinstance(as_numpy, np.ndarray) and isinstance(as_tensor, torch.Tensor)
    assert as_tensor.dtype == torch.uint8 and as_tensor.device == tensor.device
    assert np.array_equal(as_numpy, as_tensor.numpy())
    assert np.array_equal(images, before) and np.array_equal(tensor.numpy(), before)
    # non-contiguous and read-only inputs are fine too
    strided = torch.from_numpy(images).permute(0, 2, 1, 3).contiguous().permute(0, 2, 1, 3)
    assert np.array_equal(corrupt(strided, name, 2, seed=3).numpy(), as_numpy)
    readonly = images.copy()
    readonly.flags.writeable = False
    assert np.array_equal(corrupt(readonly, name, 2, seed=3), as_numpy)


@pytest.mark.parametrize("name", RANDOM_CORRUPTIONS)
def test_seeds_and_severities_give_different_bytes(name, images):
    a = corrupt(images[:10], name, 3, seed=0)
    assert np.array_equal(a, corrupt(images[:10], name, 3, seed=0))
    assert not np.array_equal(a, corrupt(images[:10], name, 3, seed=1))
    assert not np.array_equal(a, corrupt(images[:10], name, 3, seed=0, start_index=10))
    # each image gets its own noise: image 0 and image 1 don't share a pattern
    same = np.repeat(images[:1], 2, axis=0)
    b = corrupt(same, name, 3, seed=0)
    assert not np.array_equal(b[0], b[1])


def test_contrast_ignores_the_seed(images):
    assert np.array_equal(corrupt(images, "contrast", 4, seed=0), corrupt(images, "contrast", 4, seed=99))


def test_global_random_state_is_untouched(images):
    states = torch.get_rng_state(), np.random.get_state(), random.getstate()
    for name in REGISTRY:
        corrupt(images[:5], name, 5, seed=123)
    after = torch.get_rng_state(), np.random.get_state(), random.getstate()
    assert torch.equal(states[0], after[0])
    assert all(np.array_equal(x, y) for x, y in zip(states[1], after[1], strict=False))
    assert states[2] == after[2]


def test_empty_batch_and_large_seed(images):
    for name in REGISTRY:
        empty = corrupt(images[:0], name, 1, seed=2**64 - 1)
        assert empty.shape == (0, 32, 32, 3) and empty.dtype == np.uint8
        assert corrupt(images[:2], name, 1, seed=2**64 - 1, start_index=2**62 - 2).shape == (2, 32, 32, 3)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("name", list(REGISTRY))
def test_cuda_gives_the_cpu_bytes(name, images):
    on_gpu = corrupt(torch.from_numpy(images).cuda(), name, 5, seed=11, start_index=40)
    assert on_gpu.device.type == "cuda"
    assert np.array_equal(on_gpu.cpu().numpy(), corrupt(images, name, 5, seed=11, start_index=40))


# ------------------------------------------------------------------------------------------ errors


@pytest.mark.parametrize(
    "name, match",
    [
        ("Fog", "unknown corruption 'Fog'; choose one of: impulse_noise, fog, contrast"),
        (None, "choose one of: impulse_noise, fog, contrast"),
    ],
)
def test_unknown_names(name, match, images):
    with pytest.raises(ValueError, match=match):
        corrupt(images, name, 1)


def test_released_but_not_generated_names_say_so(images):
    missing = [name for name in corruptions.RELEASED_CORRUPTIONS if name not in REGISTRY]
    if not missing:
        pytest.skip("every released corruption is generated here")
    with pytest.raises(ValueError, match="not implemented here; choose one of: impulse_noise, fog, contrast"):
        corrupt(images, missing[0], 1)


@pytest.mark.parametrize("severity", [0, 6, -1, 2.0, True, "3", None])
def test_bad_severities(severity, images):
    with pytest.raises(ValueError, match=r"severity must be one of 1, 2, 3, 4, 5"):
        corrupt(images, "fog", severity)


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros((2, 32, 32, 3), dtype=np.int64),
        np.zeros((2, 3, 32, 32), dtype=np.uint8),
        np.zeros((2, 28, 28, 1), dtype=np.uint8),
        np.zeros((2, 32, 32, 3), dtype=bool),
        np.full((2, 32, 32, 3), 1.5, dtype=np.float32),
        torch.zeros(2, 32, 32, 3, dtype=torch.int32),
        torch.zeros(2, 3, 32, 32, dtype=torch.uint8),
        torch.zeros(32, 32, dtype=torch.uint8),
        [[0]],
    ],
)
def test_bad_images(bad):
    with pytest.raises(ValueError, match=r"images must (be|lie)"):
        corrupt(bad, "contrast", 1)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"seed": -1}, "seed"),
        ({"seed": 2**64}, "seed"),
        ({"seed": 0.5}, "seed"),
        ({"start_index": -1}, "start_index"),
        ({"start_index": 1.0}, "start_index"),
    ],
)
def test_bad_seed_or_start_index(kwargs, match, images):
    with pytest.raises(ValueError, match=match):
        corrupt(images, "impulse_noise", 1, **kwargs)


def test_plasma_fractal_is_exposed_and_checks_severity():
    maps = corruptions.plasma_fractal(0, 1, [3, 4])
    assert maps.shape == (2, 32, 32) and maps.dtype == torch.float64
    with pytest.raises(ValueError, match="severity"):
        corruptions.plasma_fractal(0, 6, [0])
