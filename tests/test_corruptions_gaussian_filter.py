"""corruptions.gaussian_filter against scipy.ndimage.gaussian_filter (the reference's routine), bitwise."""

import numpy as np
import pytest
import torch
from scipy import ndimage

from corruptions.gaussian_filter import MODES, extended_indices, gaussian_filter, gaussian_weights

# the sigmas the corruptions use (gaussian_blur, glass_blur, elastic_transform), plus edge cases:
# a radius of 0 (0.05), kernels of 8+ taps (numpy's pairwise sum of the weights), radii past the image
SIGMAS = (0.05, 0.4, 0.6, 0.7, 0.8, 1.0, 1.5, 1.92, 2.5, 6.4, 12.0)


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    rng = np.random.default_rng(0)
    smooth = rng.integers(0, 256, (6, 32, 32, 3)) / 255.0  # the values the corruptions filter: k / 255
    return np.concatenate([smooth, rng.random((6, 32, 32, 3))])


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("sigma", SIGMAS)
def test_equals_scipy_bit_for_bit_hwc(images, sigma, mode):
    truncate = 3.0 if sigma > 5 else 4.0
    got = gaussian_filter(torch.from_numpy(images), sigma, mode=mode, truncate=truncate).numpy()
    expected = np.stack(
        [ndimage.gaussian_filter(img, (sigma, sigma, 0), mode=mode, truncate=truncate) for img in images]
    )
    assert np.array_equal(got, expected)


@pytest.mark.parametrize("mode", MODES)
def test_equals_scipy_on_grey_and_odd_shapes(mode):
    rng = np.random.default_rng(1)
    for shape in ((3, 32, 32), (2, 7, 5), (2, 1, 9)):
        x = rng.random(shape)
        for sigma in (0.6, 3.0):
            got = gaussian_filter(torch.from_numpy(x), sigma, mode=mode).numpy()
            expected = np.stack([ndimage.gaussian_filter(img, sigma, mode=mode) for img in x])
            assert np.array_equal(got, expected), (shape, sigma)


def test_truncation_at_four_sigma_and_identity():
    # radius int(4 sigma + 0.5): 0.12 -> 0 (one tap), 0.125 -> 1, 0.4 -> 2, 1.0 -> 4; scipy's weights
    assert [len(gaussian_weights(s)) for s in (0.05, 0.12, 0.125, 0.4, 1.0)] == [1, 1, 3, 5, 9]
    assert np.array_equal(gaussian_weights(1.0), ndimage._filters._gaussian_kernel1d(1.0, 0, 4))
    impulse = torch.zeros(1, 32, 32, dtype=torch.float64)
    impulse[0, 16, 16] = 1
    support = gaussian_filter(impulse, 1.0)[0] != 0
    rows, cols = torch.nonzero(support, as_tuple=True)
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (12, 20, 12, 20)
    x = torch.rand(2, 32, 32, 3, dtype=torch.float64)
    assert torch.equal(gaussian_filter(x, 0.05), x) and torch.equal(gaussian_filter(x, 0.0), x)


def test_boundary_index_maps():
    assert extended_indices(4, 2, "nearest").tolist() == [0, 0, 0, 1, 2, 3, 3, 3]
    assert extended_indices(4, 2, "wrap").tolist() == [2, 3, 0, 1, 2, 3, 0, 1]
    assert extended_indices(3, 5, "reflect").tolist() == [1, 2, 2, 1, 0, 0, 1, 2, 2, 1, 0, 0, 1]
    assert extended_indices(3, 4, "mirror").tolist() == [0, 1, 2, 1, 0, 1, 2, 1, 0, 1, 2]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"sigma": -1.0}, "sigma"),
        ({"sigma": float("nan")}, "sigma"),
        ({"sigma": 1.0, "mode": "constant"}, "mode"),
        ({"sigma": 1.0, "truncate": 0.0}, "truncate"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        gaussian_filter(torch.zeros(1, 4, 4, dtype=torch.float64), **kwargs)
    with pytest.raises(ValueError, match="float64"):
        gaussian_filter(torch.zeros(1, 4, 4), 1.0)
