"""spatter against the reference (make_cifar_c.py) given its normals, and each OpenCV step it mirrors alone.

The reference's function is run per image with np.random.normal replaced by the seeded normals the
corruption documents, through the reference's libraries (OpenCV < 4.11, scikit-image, scipy).
"""

import numpy as np
import pytest
import torch

from corruptions import corrupt
from corruptions.gaussian_filter import gaussian_filter
from corruptions.normal import normals
from corruptions.opencv_canny import canny
from corruptions.opencv_distance import chamfer_distance
from corruptions.opencv_filters import box_blur_float, box_blur_uint8, equalize_hist, filter2d_uint8
from corruptions.seeding import stream_key
from corruptions.spatter import EMBOSS, PARAMETERS

SEVERITIES = (1, 2, 3, 4, 5)


def spatter_reference(x: np.ndarray, c: tuple, z: np.ndarray) -> np.ndarray:
    """make_cifar_c.py's spatter on one image, np.random.normal(loc, scale) = loc + scale * z."""
    cv2 = pytest.importorskip("cv2")
    from skimage.filters import gaussian

    x = np.array(x, dtype=np.float32) / 255.0
    liquid_layer = c[0] + c[1] * z.reshape(32, 32)
    liquid_layer = gaussian(liquid_layer, sigma=c[2])
    liquid_layer[liquid_layer < c[3]] = 0
    if c[5] == 0:
        liquid_layer = (liquid_layer * 255).astype(np.uint8)
        dist = 255 - cv2.Canny(liquid_layer, 50, 150)
        dist = cv2.distanceTransform(dist, cv2.DIST_L2, 5)
        _, dist = cv2.threshold(dist, 20, 20, cv2.THRESH_TRUNC)
        dist = cv2.blur(dist, (3, 3)).astype(np.uint8)
        dist = cv2.equalizeHist(dist)
        ker = np.array([[-2, -1, 0], [-1, 1, 1], [0, 1, 2]])
        dist = cv2.filter2D(dist, cv2.CV_8U, ker)
        dist = cv2.blur(dist, (3, 3)).astype(np.float32)
        m = cv2.cvtColor(liquid_layer * dist, cv2.COLOR_GRAY2BGRA)
        m /= np.max(m, axis=(0, 1))
        m *= c[4]
        ones = np.ones_like(m[..., :1])
        color = np.concatenate((175 / 255.0 * ones, 238 / 255.0 * ones, 238 / 255.0 * ones), axis=2)
        color = cv2.cvtColor(color, cv2.COLOR_BGR2BGRA)
        x = cv2.cvtColor(x, cv2.COLOR_BGR2BGRA)
        return np.uint8(cv2.cvtColor(np.clip(x + m * color, 0, 1), cv2.COLOR_BGRA2BGR) * 255)
    m = np.where(liquid_layer > c[3], 1, 0)
    m = gaussian(m.astype(np.float32), sigma=c[4])
    m[m < 0.8] = 0
    ones = np.ones_like(x[..., :1])
    color = np.concatenate((63 / 255.0 * ones, 42 / 255.0 * ones, 20 / 255.0 * ones), axis=2)
    color *= m[..., np.newaxis]
    x *= 1 - m[..., np.newaxis]
    return np.uint8(np.clip(x + color, 0, 1) * 255)


@pytest.mark.parametrize("severity", SEVERITIES)
def test_spatter_is_bit_identical_to_the_reference_given_the_normals(severity):
    images = np.random.default_rng(50 + severity).integers(0, 256, (120, 32, 32, 3), dtype=np.uint8)
    got = corrupt(images, "spatter", severity, seed=3, start_index=1000)
    z = normals(stream_key(3, "spatter", severity), torch.arange(1000, 1120), 1024).numpy()
    with np.errstate(invalid="ignore", divide="ignore"):  # the reference's 0/0 where no liquid is left
        expected = np.stack(
            [spatter_reference(i, PARAMETERS[severity - 1], zz) for i, zz in zip(images, z, strict=True)]
        )
    mismatched = np.flatnonzero((got != expected).any(axis=(1, 2, 3)))
    assert mismatched.size == 0, f"{mismatched.size} images differ, first {mismatched[:5]}"
    assert (got != images).any(axis=(1, 2, 3)).mean() > 0.5  # most images get some spatter


def liquid_levels(n: int, seed: int) -> np.ndarray:
    """uint8 liquid layers like spatter's water step makes (blurred normals, thresholded)."""
    rng = np.random.default_rng(seed)
    layers = []
    for loc, scale, sigma, threshold, *_ in PARAMETERS[:3]:
        smooth = gaussian_filter(torch.from_numpy(rng.normal(loc, scale, (n, 32, 32))), sigma).numpy()
        smooth[smooth < threshold] = 0
        layers.append((smooth * 255).astype(np.uint8))
    return np.concatenate(layers + [rng.integers(0, 256, (n, 32, 32), dtype=np.uint8)])


def test_opencv_steps_alone_are_bit_identical():
    cv2 = pytest.importorskip("cv2")
    levels = liquid_levels(60, 0)  # 240 images: the three water severities and noise
    edges = canny(torch.from_numpy(levels), 50, 150).numpy()
    assert np.array_equal(edges, np.stack([cv2.Canny(i, 50, 150) for i in levels]))
    assert 0.05 < (edges > 0).mean() < 0.6
    src = 255 - edges
    src[:3] = 255  # no source at all
    src[3:6] = 0  # all sources
    dist = chamfer_distance(torch.from_numpy(src)).clamp(max=20).numpy()
    assert np.array_equal(
        dist, np.stack([np.minimum(cv2.distanceTransform(s, cv2.DIST_L2, 5), 20) for s in src])
    )
    assert (dist[6:] > 5).any() and (dist[6:] == 20).any() and (dist[:3] == 20).all()
    blurred = box_blur_float(torch.from_numpy(dist)).numpy()
    assert np.array_equal(blurred, np.stack([cv2.blur(d, (3, 3)) for d in dist]))
    small = blurred.astype(np.uint8)
    for sample in (small, levels, np.full((2, 32, 32), 9, dtype=np.uint8)):  # incl. one-valued images
        assert np.array_equal(
            equalize_hist(torch.from_numpy(sample)).numpy(), np.stack([cv2.equalizeHist(s) for s in sample])
        )
    kernel = np.array(EMBOSS)
    embossed = filter2d_uint8(torch.from_numpy(levels), EMBOSS).numpy()
    assert np.array_equal(embossed, np.stack([cv2.filter2D(s, cv2.CV_8U, kernel) for s in levels]))
    assert np.array_equal(
        box_blur_uint8(torch.from_numpy(levels)).numpy(), np.stack([cv2.blur(s, (3, 3)) for s in levels])
    )


def test_water_and_mud_look_like_water_and_mud():
    grey = np.full((40, 32, 32, 3), 100, dtype=np.uint8)
    water = corrupt(grey, "spatter", 3, seed=0).astype(int) - 100
    touched = (water != 0).any(axis=3)
    assert touched.mean() > 0.02
    # turquoise: green and blue rise together, more than red (175 vs 238 of 255)
    assert (water[..., 1][touched] >= water[..., 0][touched]).all() and (water[..., 1] == water[..., 2]).all()
    mud = corrupt(grey, "spatter", 5, seed=0).astype(int)
    stained = (mud != 100).any(axis=3)
    assert stained.mean() > 0.01 and (mud[stained][:, 0] <= 100).all()  # brown darkens a light grey
    assert (mud[stained][:, 0] >= mud[stained][:, 2]).all()  # red >= blue, as (63, 42, 20)
