"""elastic_transform against the reference (make_cifar_c.py), given the seeded uniforms.

The reference's own steps (float32, cv2.getAffineTransform / cv2.warpAffine, skimage's gaussian,
scipy's map_coordinates) are run per image on the uniforms the corruption documents, and compared
bit for bit; then the uniforms are checked to be what the docstring says.
"""

import numpy as np
import pytest
import torch

from corruptions import corrupt
from corruptions.elastic_transform import PARAMETERS, UNIFORMS_PER_IMAGE
from corruptions.map_coordinates import map_coordinates_reflect
from corruptions.opencv_affine import get_affine_transform, warp_affine_reflect101
from corruptions.seeding import stream_key, uniforms

SEVERITIES = (1, 2, 3, 4, 5)
ANCHORS = np.float32([[26, 26], [26, 6], [6, 6]])


def cv2_for_warps():
    cv2 = pytest.importorskip("cv2")
    major, minor = (int(v) for v in cv2.__version__.split(".")[:2])
    assert (major, minor) < (4, 11), "the test extra pins opencv < 4.11 (its warpAffine's 1/32-pixel grid)"
    return cv2


def elastic_reference(image: np.ndarray, c: tuple, u: np.ndarray) -> np.ndarray:
    """make_cifar_c.py's elastic_transform on one image, np.random.uniform replaced by ``u`` (2054,)."""
    cv2 = cv2_for_warps()
    from scipy.ndimage import map_coordinates
    from skimage.filters import gaussian

    def uniform(low, high, size, at):
        return low + (high - low) * u[at : at + int(np.prod(size))].reshape(size)

    image = np.array(image, dtype=np.float32) / 255.0
    shape = image.shape
    pts2 = ANCHORS + uniform(-c[2], c[2], ANCHORS.shape, 0).astype(np.float32)
    m = cv2.getAffineTransform(ANCHORS, pts2)
    image = cv2.warpAffine(image, m, shape[:2][::-1], borderMode=cv2.BORDER_REFLECT_101)
    dx = (gaussian(uniform(-1, 1, shape[:2], 6), c[1], mode="reflect", truncate=3) * c[0]).astype(np.float32)
    dy = (gaussian(uniform(-1, 1, shape[:2], 1030), c[1], mode="reflect", truncate=3) * c[0]).astype(
        np.float32
    )
    dx, dy = dx[..., np.newaxis], dy[..., np.newaxis]
    x, y, z = np.meshgrid(np.arange(shape[1]), np.arange(shape[0]), np.arange(shape[2]))
    indices = np.reshape(y + dy, (-1, 1)), np.reshape(x + dx, (-1, 1)), np.reshape(z, (-1, 1))
    out = np.clip(map_coordinates(image, indices, order=1, mode="reflect").reshape(shape), 0, 1) * 255
    return np.uint8(out)


@pytest.mark.parametrize("severity", SEVERITIES)
def test_elastic_is_bit_identical_to_the_reference_given_the_uniforms(severity):
    rng = np.random.default_rng(40 + severity)
    images = rng.integers(0, 256, (40, 32, 32, 3), dtype=np.uint8)
    images[:4] = np.arange(4, dtype=np.uint8)[:, None, None, None] * 85  # flat images: 0, 85, 170, 255
    idx = torch.arange(7, 47)
    got = corrupt(images, "elastic_transform", severity, seed=8, start_index=7)
    u = uniforms(stream_key(8, "elastic_transform", severity), idx, UNIFORMS_PER_IMAGE).numpy()
    expected = np.stack(
        [elastic_reference(img, PARAMETERS[severity - 1], row) for img, row in zip(images, u, strict=True)]
    )
    mismatched = np.flatnonzero((got != expected).any(axis=(1, 2, 3)))
    assert mismatched.size == 0, f"{mismatched.size} images differ, first {mismatched[:5]}"
    assert (got != images).mean() > 0.3  # it moved things


def test_the_opencv_and_scipy_steps_alone_are_bit_identical():
    cv2 = cv2_for_warps()
    from scipy.ndimage import map_coordinates

    rng = np.random.default_rng(0)
    n = 60
    img = rng.integers(0, 256, (n, 32, 32, 3)).astype(np.float32) / np.float32(255)
    pts2 = ANCHORS + rng.uniform(-5, 5, (n, 3, 2)).astype(np.float32)  # larger moves than any severity
    m = get_affine_transform(tuple(map(tuple, ANCHORS.tolist())), torch.from_numpy(pts2))
    assert np.array_equal(m.numpy(), np.stack([cv2.getAffineTransform(ANCHORS, p) for p in pts2]))
    warped = warp_affine_reflect101(torch.from_numpy(img), m).numpy()
    reference = [
        cv2.warpAffine(i, mm, (32, 32), borderMode=cv2.BORDER_REFLECT_101)
        for i, mm in zip(img, m.numpy(), strict=True)
    ]
    assert np.array_equal(warped, np.stack(reference))
    # displacements up to 8 pixels: the reflection at and beyond every border
    grid = np.arange(32.0)
    rows = grid[:, None] + rng.normal(0, 3, (n, 32, 32)).astype(np.float32)
    cols = grid[None, :] + rng.normal(0, 3, (n, 32, 32)).astype(np.float32)
    got = map_coordinates_reflect(torch.from_numpy(warped), torch.from_numpy(rows), torch.from_numpy(cols))
    z = np.broadcast_to(np.arange(3.0), (32, 32, 3))
    for k in range(n):
        coords = [
            np.broadcast_to(rows[k][..., None], (32, 32, 3)),
            np.broadcast_to(cols[k][..., None], (32, 32, 3)),
            z,
        ]
        expected = map_coordinates(warped[k], coords, order=1, mode="reflect")
        assert np.array_equal(got[k].numpy(), expected), k


def test_severity_1_is_the_affine_warp_alone_and_fields_grow_with_severity():
    images = np.random.default_rng(3).integers(0, 256, (30, 32, 32, 3), dtype=np.uint8)
    assert PARAMETERS[0][:2] == (0, 0)
    # a flat image survives every severity up to float32 rounding (the warp's weights sum to 1)
    flat = np.full((2, 32, 32, 3), 170, dtype=np.uint8)
    for severity in SEVERITIES:
        assert np.abs(corrupt(flat, "elastic_transform", severity).astype(int) - 170).max() <= 1
    changes = [
        np.abs(corrupt(images, "elastic_transform", s, seed=1).astype(int) - images).mean() for s in (1, 5)
    ]
    assert changes[0] > 5 and changes[1] > 5  # both move pixels by more than rounding
