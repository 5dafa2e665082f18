"""brightness, saturate, jpeg_compression, pixelate against the reference (make_cifar_c.py).

brightness and saturate are compared bit for bit with scikit-image's HSV conversion (the reference's
library) one image at a time; jpeg_compression and pixelate with the reference's own Pillow calls.
"""

import io

import numpy as np
import pytest
import torch
from PIL import Image, JpegImagePlugin

from corruptions import corrupt
from corruptions.brightness import SHIFTS
from corruptions.hsv import hsv_to_rgb, rgb_to_hsv
from corruptions.jpeg_compression import QUALITIES
from corruptions.pixelate import SIZES
from corruptions.saturate import PARAMETERS

SEVERITIES = (1, 2, 3, 4, 5)


def awkward_colour_images(rng: np.random.Generator, n_random: int) -> np.ndarray:
    """Random images plus the pixels where HSV is most fragile: greys of every level, ties between the
    maximum channels (the red/green/blue precedence), one-level steps, pure and saturated hues."""
    levels = np.array([0, 1, 2, 3, 63, 64, 127, 128, 129, 191, 253, 254, 255])
    triples = np.stack(np.meshgrid(levels, levels, levels, indexing="ij"), -1).reshape(-1, 3)  # 2,197
    greys = np.repeat(np.arange(256), 3).reshape(256, 3)
    pixels = np.concatenate([triples, greys, rng.integers(0, 256, (4 * 1024 - len(triples) - 256, 3))])
    structured = pixels.reshape(4, 32, 32, 3)
    lo, hi = rng.integers(0, 256, (2, n_random // 2, 1, 1, 3))  # two-colour images
    two = np.where(rng.random((n_random // 2, 32, 32, 1)) < 0.5, lo, hi)
    uniform = rng.integers(0, 256, (n_random - n_random // 2, 32, 32, 3))
    return np.concatenate([structured, two, uniform]).astype(np.uint8)


# --------------------------------------------------------------------------------- HSV corruptions


def brightness_reference(img: np.ndarray, c: float) -> np.ndarray:
    """make_cifar_c.py's brightness on one (32, 32, 3) uint8 image."""
    skcolor = pytest.importorskip("skimage.color")
    x = np.array(img) / 255.0
    x = skcolor.rgb2hsv(x)
    x[:, :, 2] = np.clip(x[:, :, 2] + c, 0, 1)
    return np.uint8(np.clip(skcolor.hsv2rgb(x), 0, 1) * 255)


def saturate_reference(img: np.ndarray, c: tuple) -> np.ndarray:
    """make_cifar_c.py's saturate on one (32, 32, 3) uint8 image."""
    skcolor = pytest.importorskip("skimage.color")
    x = np.array(img) / 255.0
    x = skcolor.rgb2hsv(x)
    x[:, :, 1] = np.clip(x[:, :, 1] * c[0] + c[1], 0, 1)
    return np.uint8(np.clip(skcolor.hsv2rgb(x), 0, 1) * 255)


@pytest.mark.parametrize("severity", SEVERITIES)
@pytest.mark.parametrize(
    "name, reference, table",
    [("brightness", brightness_reference, SHIFTS), ("saturate", saturate_reference, PARAMETERS)],
)
def test_hsv_corruptions_are_bit_identical_to_the_reference(name, reference, table, severity):
    images = awkward_colour_images(np.random.default_rng(severity), n_random=150)
    got = corrupt(images, name, severity)
    expected = np.stack([reference(img, table[severity - 1]) for img in images])
    mismatched = np.flatnonzero((got != expected).any(axis=(1, 2, 3)))
    assert mismatched.size == 0, f"{mismatched.size} images differ, first {mismatched[:5]}"


def test_hsv_conversions_equal_skimage_in_every_bit():
    skcolor = pytest.importorskip("skimage.color")
    u = awkward_colour_images(np.random.default_rng(0), n_random=20) / 255.0  # (24, 32, 32, 3)
    hsv = torch.stack(rgb_to_hsv(*torch.from_numpy(u).unbind(-1)), -1).numpy()
    assert np.array_equal(hsv, skcolor.rgb2hsv(u))
    # hsv2rgb on arbitrary HSV values, hue 1.0 included (its sector 6 wraps to 0)
    rng = np.random.default_rng(1)
    h = np.concatenate([rng.random(5000), [0.0, 1.0, 1 / 6, 0.5, 5 / 6, np.nextafter(1, 0)]])
    arbitrary = np.stack([h, rng.random(h.size), rng.random(h.size)], -1)
    rgb = torch.stack(hsv_to_rgb(*torch.from_numpy(arbitrary).unbind(-1)), -1).numpy()
    assert np.array_equal(rgb, skcolor.hsv2rgb(arbitrary))


def test_hsv_corruptions_do_what_their_names_say():
    x = np.zeros((1, 32, 32, 3), dtype=np.uint8)
    x[0, :, :16] = (200, 100, 50)  # orange: V = 200/255, S = 0.75
    x[0, :, 16:] = 90  # grey
    bright = corrupt(x, "brightness", 5)  # V + 0.3 -> clipped at 1: the max channel goes to 255
    assert bright[0, 0, 0, 0] == 255 and bright[0, 0, 16].tolist() == [166, 166, 166]
    pale = corrupt(x, "saturate", 2)  # S * 0.1: nearly grey, V kept
    assert pale[0, 0, 0, 0] == 200 and pale[0, 0, 0, 2] > 180
    assert corrupt(x, "saturate", 5)[0, 0, 16].tolist() == [90, 72, 72]  # shift .2 tints grey red (H = 0)


# --------------------------------------------------------------------------------------- Pillow


def jpeg_reference(img: np.ndarray, quality: int) -> np.ndarray:
    """make_cifar_c.py's jpeg_compression: PIL's save with only a quality, then PIL.Image.open."""
    output = io.BytesIO()
    Image.fromarray(img).save(output, "JPEG", quality=quality)
    return np.uint8(Image.open(output))


@pytest.mark.parametrize("severity", SEVERITIES)
def test_jpeg_is_the_reference_pillow_round_trip(severity):
    images = awkward_colour_images(np.random.default_rng(20 + severity), n_random=100)
    got = corrupt(images, "jpeg_compression", severity)
    quality = QUALITIES[severity - 1]
    expected = np.stack([jpeg_reference(img, quality) for img in images])
    assert np.array_equal(got, expected)
    assert (got != images).mean() > 0.2  # it did compress (lossy at these qualities)


def test_jpeg_uses_4_2_0_chroma_subsampling():
    # the coded luma keeps detail that chroma loses: a one-pixel red/green checkerboard turns brown
    board = (np.indices((32, 32)).sum(0) % 2).astype(bool)
    x = np.where(board[..., None], [255, 0, 0], [0, 160, 0]).astype(np.uint8)[None]
    out = corrupt(x, "jpeg_compression", 1).astype(int)
    assert abs(out[0, ..., 0].mean() - out[0, ..., 0][board].mean()) < 20  # red is no longer where it was
    buffer = io.BytesIO()
    Image.fromarray(x[0]).save(buffer, "JPEG", quality=80, subsampling="4:2:0")
    assert JpegImagePlugin.get_sampling(Image.open(buffer)) == 2  # Pillow's code for 4:2:0


def pixelate_reference(img: np.ndarray, c: float) -> np.ndarray:
    """make_cifar_c.py's pixelate on one image (c = the severity's scale)."""
    x = Image.fromarray(img)
    x = x.resize((int(32 * c), int(32 * c)), Image.BOX)
    return np.uint8(x.resize((32, 32), Image.BOX))


@pytest.mark.parametrize("severity", SEVERITIES)
def test_pixelate_is_the_reference_pillow_box_resize(severity):
    from corruptions.pixelate import SCALES

    images = awkward_colour_images(np.random.default_rng(30 + severity), n_random=100)
    got = corrupt(images, "pixelate", severity)
    expected = np.stack([pixelate_reference(img, SCALES[severity - 1]) for img in images])
    assert np.array_equal(got, expected)
    assert SIZES == (30, 28, 27, 24, 20)


def test_pixelate_is_a_box_filter():
    # a box filter averages: a constant image stays constant, and a fine checkerboard goes grey
    flat = np.full((1, 32, 32, 3), 123, dtype=np.uint8)
    assert np.array_equal(corrupt(flat, "pixelate", 4), flat)
    board = ((np.indices((32, 32)).sum(0) % 2) * 255).astype(np.uint8)
    grey = corrupt(np.repeat(board[None, ..., None], 3, axis=3), "pixelate", 4)  # 32 -> 24 -> 32
    assert (grey[:, 1:-1, 1:-1] == 128).mean() > 0.5  # most of the inside is mid-grey
