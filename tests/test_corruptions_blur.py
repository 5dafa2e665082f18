"""gaussian_blur, glass_blur, defocus_blur against the reference (make_cifar_c.py) with its own libraries.

The reference's routines are scipy.ndimage (skimage's gaussian calls it) and OpenCV; the deterministic
corruptions are compared bit for bit with a float64 numpy/scipy evaluation of the reference formula,
glass blur bit for bit given its offsets (the reference's loop, run with them) and in distribution.
"""

import numpy as np
import pytest
import torch
from scipy import ndimage, stats

from corruptions.defocus_blur import PARAMETERS as DEFOCUS
from corruptions.defocus_blur import defocus_blur, disk_kernel
from corruptions.gaussian_blur import SIGMAS, gaussian_blur
from corruptions.glass_blur import PARAMETERS as GLASS
from corruptions.glass_blur import glass_blur, jitter_sources
from corruptions.seeding import stream_key

SEVERITIES = (1, 2, 3, 4, 5)


def some_images(seed: int, n: int = 40) -> np.ndarray:
    """Random images, smooth ones (where blurs land near level boundaries less by chance), constants."""
    rng = np.random.default_rng(seed)
    noise = rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
    ramps = (np.add.outer(np.arange(32), np.arange(32)) * rng.integers(1, 5, (n // 2, 1, 1)) % 256).astype(
        np.uint8
    )
    smooth = np.repeat(ramps[..., None], 3, axis=3)
    constant = np.repeat(np.arange(0, 256, 15, dtype=np.uint8), 32 * 32 * 3).reshape(-1, 32, 32, 3)
    return np.concatenate([noise, smooth, constant])


def skimage_gaussian(u: np.ndarray, sigma: float) -> np.ndarray:
    """skimage.filters.gaussian(u, sigma, multichannel=True) on one float64 HWC image: what it calls."""
    return ndimage.gaussian_filter(u, (sigma, sigma, 0), mode="nearest", truncate=4.0)


# ------------------------------------------------------------------------------------ gaussian_blur


@pytest.mark.parametrize("severity", SEVERITIES)
def test_gaussian_blur_is_bit_identical_to_the_reference(severity):
    images = some_images(severity)
    got = gaussian_blur(torch.from_numpy(images), severity).numpy()
    c = SIGMAS[severity - 1]
    expected = np.stack([np.uint8(np.clip(skimage_gaussian(img / 255.0, c), 0, 1) * 255) for img in images])
    assert np.array_equal(got, expected)


# ------------------------------------------------------------------------------------- defocus_blur


def test_disk_kernel_is_opencvs():
    cv2 = pytest.importorskip("cv2")

    def reference_disk(radius, alias_blur):  # make_cifar_c.py's disk()
        grid = np.arange(-8, 8 + 1)
        xx, yy = np.meshgrid(grid, grid)
        aliased_disk = np.array((xx**2 + yy**2) <= radius**2, dtype=np.float32)
        aliased_disk /= np.sum(aliased_disk)
        return cv2.GaussianBlur(aliased_disk, ksize=(3, 3), sigmaX=alias_blur)

    for radius, alias in DEFOCUS:
        ours, theirs = disk_kernel(radius, alias), reference_disk(radius, alias)
        assert ours.dtype == theirs.dtype == np.float32 and np.array_equal(ours, theirs), (radius, alias)
    # radii below 1 are one pixel (the kernel is a 3x3 Gaussian), radius 1 a plus sign, 1.5 a 3x3 square
    assert [np.count_nonzero(disk_kernel(r, a)) for r, a in DEFOCUS] == [9, 9, 9, 21, 25]


@pytest.mark.parametrize("severity", SEVERITIES)
def test_defocus_blur_is_the_float64_formula_with_reflect_101(severity):
    images = some_images(10 + severity)
    got = defocus_blur(torch.from_numpy(images), severity).numpy()
    kernel = disk_kernel(*DEFOCUS[severity - 1]).astype(np.float64)
    expected = np.stack(
        [
            np.uint8(
                np.clip(
                    np.stack(
                        [ndimage.correlate(img[..., ch] / 255.0, kernel, mode="mirror") for ch in range(3)],
                        -1,
                    ),
                    0,
                    1,
                )
                * 255
            )
            for img in images
        ]
    )
    assert np.array_equal(got, expected)


@pytest.mark.parametrize("severity", SEVERITIES)
def test_defocus_blur_agrees_with_opencv_filter2d(severity):
    # OpenCV (the reference's call) filters a 17x17 kernel through the DFT: equal up to its rounding
    cv2 = pytest.importorskip("cv2")
    images = some_images(20 + severity)
    got = defocus_blur(torch.from_numpy(images), severity).numpy().astype(int)
    kernel = disk_kernel(*DEFOCUS[severity - 1])
    expected = np.stack(
        [
            np.uint8(
                np.clip(
                    np.stack([cv2.filter2D(img[..., ch] / 255.0, -1, kernel) for ch in range(3)], -1), 0, 1
                )
                * 255
            )
            for img in images
        ]
    ).astype(int)
    assert np.abs(got - expected).max() <= 1 and (got != expected).mean() < 1e-3


# --------------------------------------------------------------------------------------- glass_blur


def glass_reference(img: np.ndarray, sigma: float, iterations: int, offsets: np.ndarray) -> np.ndarray:
    """make_cifar_c.py's glass_blur on one image, its np.random.randint draws replaced by ``offsets``
    ((iterations, 30, 30, 2) of -1/0: (dx, dy) of pixel (h, w) at [t, h - 2, w - 2])."""
    x = np.uint8(skimage_gaussian(np.array(img) / 255.0, sigma) * 255)
    for i in range(iterations):
        for h in range(32 - 1, 1, -1):
            for w in range(32 - 1, 1, -1):
                dx, dy = offsets[i, h - 2, w - 2]
                h_prime, w_prime = h + dy, w + dx
                x[h, w], x[h_prime, w_prime] = x[h_prime, w_prime], x[h, w]  # the reference's "swap"
    return np.uint8(np.clip(skimage_gaussian(x / 255.0, sigma), 0, 1) * 255)


def _offsets(sources: np.ndarray) -> np.ndarray:
    """(dx, dy) per moved pixel, read back from the flat sources of jitter_sources."""
    h, w = np.meshgrid(np.arange(32), np.arange(32), indexing="ij")
    src = sources.reshape(-1, 32, 32)
    dy, dx = src // 32 - h, src % 32 - w
    return np.stack([dx, dy], -1)[:, 2:, 2:]


@pytest.mark.parametrize("severity", SEVERITIES)
def test_glass_blur_is_the_reference_loop_given_the_offsets(severity):
    images = some_images(30 + severity, n=4)[::3]  # the Python loop is slow: a few images
    idx = torch.arange(50, 50 + len(images))
    sigma, _, iterations = GLASS[severity - 1]
    got = glass_blur(torch.from_numpy(images), severity, seed=5, indices=idx).numpy()
    sources = jitter_sources(stream_key(5, "glass_blur", severity), idx, iterations).numpy()
    for k, img in enumerate(images):
        offsets = _offsets(sources[k])
        assert set(np.unique(offsets)) <= {-1, 0}
        assert np.array_equal(got[k], glass_reference(img, sigma, iterations, offsets)), k


def test_glass_blur_offsets_are_fair_independent_and_spare_rows_0_and_1():
    sources = jitter_sources(stream_key(0, "glass_blur", 4), torch.arange(300), 2).numpy()  # (300, 2, 1024)
    flat = np.arange(1024)
    grid = sources.reshape(300, 2, 32, 32)
    assert (grid[:, :, :2, :] == flat.reshape(32, 32)[:2]).all() and (
        grid[:, :, :, :2] == flat.reshape(32, 32)[:, :2]
    ).all()
    offsets = np.stack([_offsets(s) for s in sources.reshape(600, 1024)])  # (600, 30, 30, 2)
    counts = np.array(
        [((offsets[..., 0] == a) & (offsets[..., 1] == b)).sum() for a in (-1, 0) for b in (-1, 0)]
    )
    chi2 = ((counts - counts.sum() / 4) ** 2 / (counts.sum() / 4)).sum()  # four (dx, dy) pairs, 1/4 each
    assert stats.chi2.sf(chi2, 3) > 1e-6, counts
    first, second = offsets[0::2].reshape(-1), offsets[1::2].reshape(-1)  # iteration 1 vs iteration 2
    assert abs(np.corrcoef(first, second)[0, 1]) < 5.5 / first.size**0.5
