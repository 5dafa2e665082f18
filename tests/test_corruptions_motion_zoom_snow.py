"""zoom_blur, motion_blur and snow against the reference (make_cifar_c.py) and its libraries.

zoom_blur and clipped_zoom bit for bit against scipy.ndimage.zoom; the ImageMagick motion blur (not
installable here) against a per-image port of IM6's MotionBlurImage written from its C source, and by
its properties (kernel, offsets, angle 0 = a hand-computed one-sided blur); motion_blur and snow bit
for bit given their noise and angles (snow with OpenCV's cvtColor and scipy's zoom), their angles
uniform in distribution.
"""

import math

import numpy as np
import pytest
import torch
from scipy import stats
from scipy.ndimage import zoom as scizoom

from corruptions.clipped_zoom import clipped_zoom
from corruptions.imagemagick_motion import motion_blur_q16, motion_offsets, motion_weights
from corruptions.motion_blur import PARAMETERS as MOTION
from corruptions.motion_blur import motion_angles, motion_blur
from corruptions.normal import normals
from corruptions.seeding import stream_key, uniforms
from corruptions.snow import PARAMETERS as SNOW
from corruptions.snow import grey, snow, snow_layer
from corruptions.zoom_blur import FACTORS, zoom_blur

SEVERITIES = (1, 2, 3, 4, 5)


def some_images(seed: int, n: int = 12) -> np.ndarray:
    rng = np.random.default_rng(seed)
    noise = rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
    ramps = (np.add.outer(np.arange(32), 3 * np.arange(32)) % 256).astype(np.uint8)
    smooth = np.repeat(np.repeat(ramps[None, ..., None], 3, axis=3), 2, axis=0)
    constant = np.repeat(np.array([0, 1, 128, 254, 255], dtype=np.uint8), 32 * 32 * 3).reshape(5, 32, 32, 3)
    return np.concatenate([noise, smooth, constant])


def reference_clipped_zoom(img: np.ndarray, zoom_factor: float) -> np.ndarray:
    """make_cifar_c.py's clipped_zoom."""
    h = img.shape[0]
    ch = int(np.ceil(h / zoom_factor))
    top = (h - ch) // 2
    img = scizoom(img[top : top + ch, top : top + ch], (zoom_factor, zoom_factor, 1), order=1)
    trim_top = (img.shape[0] - h) // 2
    return img[trim_top : trim_top + h, trim_top : trim_top + h]


# --------------------------------------------------------------------------------------- zoom blur


def test_zoom_factors_are_the_references():
    assert [len(f) for f in FACTORS] == [7, 12, 16, 21, 26]
    assert all(f[0] == 1.0 for f in FACTORS) and abs(FACTORS[4][-1] - 1.25) < 1e-12


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_clipped_zoom_is_scipys_bit_for_bit(dtype):
    x = np.random.default_rng(0).random((6, 32, 32, 3)).astype(dtype)
    for z in sorted(set(FACTORS[4]) | {s[2] for s in SNOW}):
        got = clipped_zoom(torch.from_numpy(x.astype(np.float64)), z).numpy().astype(dtype)
        expected = np.stack([reference_clipped_zoom(img, z) for img in x])
        assert np.array_equal(got, expected), z


@pytest.mark.parametrize("severity", SEVERITIES)
def test_zoom_blur_is_bit_identical_to_the_reference(severity):
    images = some_images(severity)
    got = zoom_blur(torch.from_numpy(images), severity).numpy()
    c = np.arange(1, (1.06, 1.11, 1.16, 1.21, 1.26)[severity - 1], 0.01)
    expected = []
    for img in images:
        x = (np.array(img) / 255.0).astype(np.float32)
        out = np.zeros_like(x)
        for zoom_factor in c:
            out += reference_clipped_zoom(x, zoom_factor)
        expected.append(np.uint8(np.clip((x + out) / (len(c) + 1), 0, 1) * 255))
    assert np.array_equal(got, np.stack(expected))


# ------------------------------------------------------------------------------ ImageMagick kernel


def im6_motion_blur(img: np.ndarray, radius: float, sigma: float, angle: float) -> np.ndarray:
    """IM6 MotionBlurImage on one (H, W, C) uint8 image, written from its C source (Q16, non-HDRI): the
    kernel and offsets in Python floats, each pixel's taps added in order; then the 8-bit PNG value."""
    width = int(2.0 * math.ceil(radius) + 1.0)
    kernel = [
        math.exp(-float(i * i) / (2.0 * sigma * sigma))
        / (2.50662827463100024161235523934010416269302368164062 * sigma)
        for i in range(width)
    ]
    normalize = 0.0
    for k in kernel:
        normalize += k
    kernel = [k / normalize for k in kernel]
    px = width * math.sin(math.pi * angle / 180.0)
    py = width * math.cos(math.pi * angle / 180.0)
    offsets = [
        (math.ceil(i * py / math.hypot(px, py) - 0.5), math.ceil(i * px / math.hypot(px, py) - 0.5))
        for i in range(width)
    ]
    h, w, _ = img.shape
    q = np.zeros(img.shape)  # the per-pixel loop's sums, all pixels at once (the same additions in order)
    for k, (ox, oy) in zip(kernel, offsets, strict=True):
        rows = np.clip(np.arange(h) + oy, 0, h - 1)  # edge virtual pixels
        cols = np.clip(np.arange(w) + ox, 0, w - 1)
        q += k * (257.0 * img[rows][:, cols].astype(np.float64))
    quantum = np.where(q <= 0, 0, np.where(q >= 65535, 65535, (q + 0.5).astype(np.int64)))  # ClampToQuantum
    out = (((quantum + 128) - ((quantum + 128) >> 8)) >> 8).astype(np.uint8)  # ScaleQuantumToChar
    return out


def test_motion_kernel_weights_and_offsets():
    for radius, sigma in MOTION + ((14, 12.0),):
        k = np.array(motion_weights(radius, sigma))
        assert len(k) == 2 * math.ceil(radius) + 1 and abs(k.sum() - 1) < 1e-15
        assert (np.diff(k) < 0).all()  # one-sided: largest at the pixel itself
        gauss = np.exp(-(np.arange(len(k)) ** 2) / (2 * sigma**2))
        assert np.allclose(k, gauss / gauss.sum(), rtol=1e-14, atol=0)
    angles = torch.tensor([0.0, 90.0, 45.0, -45.0, -90.0, 30.0], dtype=torch.float64)
    cols, rows = motion_offsets(angles, 5)
    i = np.arange(5)
    assert cols[0].tolist() == i.tolist() and rows[0].tolist() == [0] * 5  # angle 0: along the row
    assert rows[1].tolist() == i.tolist() and cols[1].tolist() == [0] * 5  # 90: down the column
    diagonal = np.ceil(i * math.cos(math.pi / 4) - 0.5).astype(int).tolist()  # [0, 1, 1, 2, 3]
    assert cols[2].tolist() == rows[2].tolist() == diagonal
    assert cols[3].tolist() == diagonal and rows[3].tolist() == [-d for d in diagonal]
    assert rows[4].tolist() == (-i).tolist()
    assert cols[5].tolist() == np.ceil(i * math.cos(math.pi / 6) - 0.5).astype(int).tolist()


def test_angle_zero_is_a_one_sided_row_blur_by_hand():
    img = np.random.default_rng(3).integers(0, 256, (1, 32, 32, 3), dtype=np.uint8)
    k = motion_weights(6, 1.5)
    got = motion_blur_q16(torch.from_numpy(img), 6, 1.5, torch.zeros(1, dtype=torch.float64)).numpy()[0]
    for x in (0, 10, 25, 31):  # columns near and far from the right edge (where the last pixel repeats)
        q = np.zeros((32, 3))
        for i, w in enumerate(k):
            q += w * (257.0 * img[0, :, min(x + i, 31)].astype(float))
        quantum = np.floor(np.clip(q, 0, 65535) + 0.5).astype(int)
        assert np.array_equal(got[:, x], ((quantum + 128) - ((quantum + 128) >> 8)) >> 8), x


def test_motion_blur_q16_equals_the_im6_port():
    images = some_images(4, n=2)[[0, 1, 2, 6]]
    angles = [-44.9, 12.3, 33.0, 0.0]
    for radius, sigma in ((6, 1.0), (9, 2.5), (14, 12.0)):
        got = motion_blur_q16(
            torch.from_numpy(images), radius, sigma, torch.tensor(angles, dtype=torch.float64)
        )
        for k, angle in enumerate(angles):
            assert np.array_equal(got[k].numpy(), im6_motion_blur(images[k], radius, sigma, angle)), (
                radius,
                k,
            )


@pytest.mark.parametrize("severity", SEVERITIES)
def test_motion_blur_is_the_im6_blur_at_its_seeded_angle(severity):
    images = some_images(10 + severity, n=2)[[0, 1, 3]]
    idx = torch.tensor([5, 6, 70_000])
    got = motion_blur(torch.from_numpy(images), severity, seed=8, indices=idx).numpy()
    angles = motion_angles(8, severity, idx).tolist()
    u = uniforms(stream_key(8, "motion_blur", severity), idx, 1)[:, 0].numpy()
    assert np.array_equal(angles, -45 + 90 * u)
    radius, sigma = MOTION[severity - 1]
    for k in range(3):
        assert np.array_equal(got[k], im6_motion_blur(images[k], radius, sigma, angles[k])), k


def test_blur_angles_are_uniform():
    for fn, low, name in ((motion_angles, -45, "motion"), (None, -135, "snow")):
        if fn is None:
            a = -135 + 90 * uniforms(stream_key(1, "snow/angle", 2), torch.arange(5000), 1)[:, 0].numpy()
        else:
            a = fn(1, 2, torch.arange(5000)).numpy()
        assert stats.kstest(a, "uniform", args=(low, 90)).pvalue > 1e-6, name
    # different severities, seeds and images get different angles
    assert (
        len(
            {
                round(float(motion_angles(s, v, torch.tensor([i]))[0]), 9)
                for s in (0, 1)
                for v in (1, 2)
                for i in (0, 1)
            }
        )
        == 8
    )


# -------------------------------------------------------------------------------------------- snow


def opencv_with_fma():
    """cv2, where its cvtColor takes the AVX2/FMA code that :func:`corruptions.snow.grey` reproduces."""
    cv2 = pytest.importorskip("cv2")
    avx2, fma3 = getattr(cv2, "CPU_AVX2", 11), getattr(cv2, "CPU_FMA3", 12)  # CV_CPU_* of cvdef.h
    if not (cv2.checkHardwareSupport(avx2) and cv2.checkHardwareSupport(fma3)):
        pytest.skip("OpenCV's scalar cvtColor (no FMA on this CPU) rounds differently from the reference's")
    return cv2


def test_grey_is_opencvs():
    cv2 = opencv_with_fma()
    u = (np.random.default_rng(0).integers(0, 256, (200, 32, 32, 3)).astype(np.float32)) / 255.0
    expected = np.stack([cv2.cvtColor(img, cv2.COLOR_RGB2GRAY) for img in u])
    assert np.array_equal(grey(torch.from_numpy(u))[..., 0].numpy(), expected)


@pytest.mark.parametrize("severity", SEVERITIES)
def test_snow_is_the_reference_given_its_noise_and_angle(severity):
    cv2 = opencv_with_fma()
    images = some_images(20 + severity, n=4)
    idx = torch.arange(900, 900 + len(images))
    got = snow(torch.from_numpy(images), severity, seed=6, indices=idx).numpy()
    c = SNOW[severity - 1]
    z = normals(stream_key(6, "snow", severity), idx, 1024).numpy().reshape(-1, 32, 32)
    angles = -135 + 90 * uniforms(stream_key(6, "snow/angle", severity), idx, 1)[:, 0].numpy()
    layers = snow_layer(6, severity, idx).numpy()
    for k, img in enumerate(images):
        x = np.array(img, dtype=np.float32) / 255.0
        layer = c[0] + c[1] * z[k]  # np.random.normal(loc, scale): loc + scale * z
        layer = reference_clipped_zoom(layer[..., np.newaxis], c[2])
        layer[layer < c[3]] = 0
        flakes = (np.clip(layer.squeeze(), 0, 1) * 255).astype(np.uint8)
        blurred = im6_motion_blur(flakes[..., None], c[4], c[5], angles[k])[..., 0] / 255.0
        assert np.array_equal(blurred, layers[k])
        blurred = blurred[..., np.newaxis]
        x = c[6] * x + (1 - c[6]) * np.maximum(
            x, cv2.cvtColor(x, cv2.COLOR_RGB2GRAY).reshape(32, 32, 1) * 1.5 + 0.5
        )
        expected = np.uint8(np.clip(x + blurred + np.rot90(blurred, k=2), 0, 1) * 255)
        assert np.array_equal(got[k], expected), k


def test_snow_layer_statistics():
    # before the threshold the layer is N(mean, std) (zoom 1 at severity 1): the share of values kept
    # above the threshold is 1 - Phi((threshold - mean) / std) = P(z > 2.5) at severity 1
    z = normals(stream_key(0, "snow", 1), torch.arange(400), 1024).numpy()
    kept = ((0.1 + 0.2 * z) >= 0.6).mean()
    p = stats.norm.sf(2.5)
    assert abs(kept - p) < 5.5 * (p / z.size) ** 0.5
    layers = snow_layer(0, 5, torch.arange(50)).numpy()
    assert layers.min() >= 0 and layers.max() <= 1 and (layers > 0).mean() > 0.05
