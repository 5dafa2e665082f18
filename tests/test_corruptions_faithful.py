"""The three corruptions against the reference (hendrycks/robustness make_cifar_c.py), in numpy float64.

Deterministic parts are compared bit for bit with a direct numpy evaluation of the reference formula,
one image at a time; the random parts (impulse noise, the fog map's uniforms) in distribution or,
for the fog map, driven by the same uniforms through a per-image numpy port of the reference.
"""

import numpy as np
import pytest
import torch

from corruptions import contrast, fog, impulse_noise, plasma_fractal
from corruptions.contrast import FACTORS
from corruptions.fog import PARAMETERS
from corruptions.impulse_noise import AMOUNTS
from corruptions.plasma import UNIFORMS_PER_MAP, plasma_from_uniforms
from corruptions.seeding import stream_key, uniforms

SEVERITIES = (1, 2, 3, 4, 5)


def awkward_images(rng: np.random.Generator, n_random: int) -> np.ndarray:
    """Random images plus the cases where truncation is most fragile: constant images (every level),
    two-valued images, sparse images and images whose channels have different ranges."""
    constant = np.repeat(np.arange(256, dtype=np.uint8), 32 * 32 * 3).reshape(256, 32, 32, 3)
    lo, hi = rng.integers(0, 256, (2, 200, 1, 1, 1))
    two_valued = np.where(rng.random((200, 32, 32, 3)) < rng.random((200, 1, 1, 1)), lo, hi).astype(np.uint8)
    sparse = (rng.random((100, 32, 32, 3)) < 0.01) * rng.integers(0, 256, (100, 32, 32, 3))
    ranges = rng.integers(1, 257, (n_random // 2, 1, 1, 3))  # per-channel maximum (exclusive)
    uneven = (rng.random((n_random // 2, 32, 32, 3)) * ranges).astype(np.uint8)
    uniform = rng.integers(0, 256, (n_random - n_random // 2, 32, 32, 3))
    return np.concatenate([constant, two_valued, sparse.astype(np.uint8), uneven, uniform.astype(np.uint8)])


# ----------------------------------------------------------------------------------------- contrast


def contrast_reference(img: np.ndarray, c: float) -> np.ndarray:
    """make_cifar_c.py's contrast on one (32, 32, 3) uint8 image."""
    x = np.array(img) / 255.0
    means = np.mean(x, axis=(0, 1), keepdims=True)
    return np.uint8(np.clip((x - means) * c + means, 0, 1) * 255)


@pytest.mark.parametrize("severity", SEVERITIES)
def test_contrast_is_bit_identical_to_the_reference(severity):
    images = awkward_images(np.random.default_rng(severity), n_random=2500)  # ~3,250 images
    got = contrast(torch.from_numpy(images), severity).numpy()
    expected = np.stack([contrast_reference(img, FACTORS[severity - 1]) for img in images])
    mismatched = np.flatnonzero((got != expected).any(axis=(1, 2, 3)))
    assert mismatched.size == 0, f"{mismatched.size} images differ, first {mismatched[:5]}"


def test_row_sums_numpy_and_loop_paths_agree():
    # the CPU uses numpy's reduction, other devices a loop: same order, so the same bits
    from corruptions.contrast import _sum_rows_loop, sum_rows_in_order

    # (numpy sums a single column pairwise: sum_rows_in_order must not hand it that case)
    gen = torch.Generator().manual_seed(0)
    for columns in (1, 2, 3, 192):
        for _ in range(5):
            u = torch.randint(0, 256, (1024, columns), generator=gen).double() / 255
            assert torch.equal(sum_rows_in_order(u), _sum_rows_loop(u))


def test_contrast_mean_is_per_channel_not_grey():
    img = np.zeros((1, 32, 32, 3), dtype=np.uint8)
    img[..., 0] = 200  # red constant 200, green and blue 0: a grey mean (66.7) would move every channel
    out = contrast(torch.from_numpy(img), 5).numpy()
    # 199, not 200: the float64 mean of 1,024 copies of 200/255 lands just below 200/255 (so does
    # the reference's, see the bit-exact test's constant images)
    assert (out[..., 0] == 199).all() and (out[..., 1:] == 0).all()


# ------------------------------------------------------------------------------------------- fog


def plasma_reference(u: np.ndarray, wibbledecay: float) -> np.ndarray:
    """make_cifar_c.py's plasma_fractal (mapsize 32), with np.random.uniform(-w, w, shape) replaced by
    ``-w + 2w * next uniforms`` (what numpy's uniform computes) taken from ``u`` (1023,) in order."""
    mapsize = 32
    maparray = np.empty((mapsize, mapsize), dtype=np.float64)
    maparray[0, 0] = 0
    stepsize = mapsize
    wibble = 100
    pos = [0]

    def wibbledmean(array):
        k = array.size
        r = u[pos[0] : pos[0] + k].reshape(array.shape)
        pos[0] += k
        return array / 4 + wibble * (-wibble + (wibble - -wibble) * r)

    def fillsquares():
        cornerref = maparray[0:mapsize:stepsize, 0:mapsize:stepsize]
        squareaccum = cornerref + np.roll(cornerref, shift=-1, axis=0)
        squareaccum += np.roll(squareaccum, shift=-1, axis=1)
        maparray[stepsize // 2 : mapsize : stepsize, stepsize // 2 : mapsize : stepsize] = wibbledmean(
            squareaccum
        )

    def filldiamonds():
        drgrid = maparray[stepsize // 2 : mapsize : stepsize, stepsize // 2 : mapsize : stepsize]
        ulgrid = maparray[0:mapsize:stepsize, 0:mapsize:stepsize]
        ldrsum = drgrid + np.roll(drgrid, 1, axis=0)
        lulsum = ulgrid + np.roll(ulgrid, -1, axis=1)
        ltsum = ldrsum + lulsum
        maparray[0:mapsize:stepsize, stepsize // 2 : mapsize : stepsize] = wibbledmean(ltsum)
        tdrsum = drgrid + np.roll(drgrid, 1, axis=1)
        tulsum = ulgrid + np.roll(ulgrid, -1, axis=0)
        ttsum = tdrsum + tulsum
        maparray[stepsize // 2 : mapsize : stepsize, 0:mapsize:stepsize] = wibbledmean(ttsum)

    while stepsize >= 2:
        fillsquares()
        filldiamonds()
        stepsize //= 2
        wibble /= wibbledecay
    assert pos[0] == 1023
    maparray -= maparray.min()
    return maparray / maparray.max()


@pytest.mark.parametrize("decay", sorted({d for _, d in PARAMETERS}))
def test_batched_plasma_equals_the_reference_algorithm(decay):
    u = torch.rand(40, UNIFORMS_PER_MAP, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    got = plasma_from_uniforms(u, decay).numpy()
    expected = np.stack([plasma_reference(row, decay) for row in u.numpy()])
    assert np.array_equal(got, expected)


def test_plasma_spans_exactly_zero_to_one():
    maps = plasma_fractal(seed=0, severity=4, indices=torch.arange(300))
    assert (maps.amin(dim=(1, 2)) == 0).all() and (maps.amax(dim=(1, 2)) == 1).all()


def _single_bump(position: int) -> np.ndarray:
    """The map when only uniform ``position`` carries noise (a uniform of 0.5 gives exactly 0)."""
    u = torch.full((1, UNIFORMS_PER_MAP), 0.5, dtype=torch.float64)
    u[0, position] = 0.9
    return plasma_from_uniforms(u, 2.0)[0].numpy()


def test_plasma_layout_and_wrap_around():
    # uniforms 0, 1, 2 are the first level's square (16, 16), diamond A (0, 16), diamond B (16, 0)
    for position, peak in ((0, (16, 16)), (1, (0, 16)), (2, (16, 0))):
        p = _single_bump(position)
        assert np.unravel_index(np.argmax(p), p.shape) == peak
        # on a torus the interpolation around a single bump is symmetric about it in both axes
        # (a wrong roll direction or a missing wrap-around breaks this)
        rows = (2 * peak[0] - np.arange(32)) % 32  # point reflection through the peak, modulo 32
        cols = (2 * peak[1] - np.arange(32)) % 32
        assert np.array_equal(p, p[rows][:, cols])
    bump = _single_bump(0)
    assert np.array_equal(bump, bump.T)  # the centre bump: diamonds A and B play symmetric roles


@pytest.mark.parametrize("severity", SEVERITIES)
def test_fog_map_is_the_seeded_reference_plasma_with_this_severity_decay(severity):
    idx = torch.tensor([0, 17, 49_999])
    maps = plasma_fractal(seed=9, severity=severity, indices=idx).numpy()
    u = uniforms(stream_key(9, "fog", severity), idx, UNIFORMS_PER_MAP).numpy()
    decay = PARAMETERS[severity - 1][1]
    for k in range(3):
        assert np.array_equal(maps[k], plasma_reference(u[k], decay))
        assert np.array_equal(maps[k], plasma_fractal(9, severity, [int(idx[k])])[0].numpy())  # on its own


def fog_reference(img: np.ndarray, t: float, plasma: np.ndarray) -> np.ndarray:
    """make_cifar_c.py's fog on one image, with the plasma map passed in."""
    x = np.array(img) / 255.0
    max_val = x.max()
    x += t * plasma[:32, :32][..., np.newaxis]
    return np.uint8(np.clip(x * max_val / (max_val + t), 0, 1) * 255)


@pytest.mark.parametrize("severity", SEVERITIES)
def test_fog_is_bit_identical_to_the_reference_given_the_map(severity):
    images = awkward_images(np.random.default_rng(10 + severity), n_random=500)
    idx = torch.arange(1000, 1000 + len(images))
    got = fog(torch.from_numpy(images), severity, seed=4, indices=idx).numpy()
    maps = plasma_fractal(4, severity, idx).numpy()
    t = PARAMETERS[severity - 1][0]
    expected = np.stack([fog_reference(img, t, m) for img, m in zip(images, maps, strict=False)])
    assert np.array_equal(got, expected)


def test_fog_uses_one_map_for_all_channels_and_one_scalar_max():
    rng = np.random.default_rng(0)
    grey = np.repeat(rng.integers(0, 256, (4, 32, 32, 1), dtype=np.uint8), 3, axis=3)
    out = fog(torch.from_numpy(grey), 3, seed=1).numpy()
    assert (out[..., 0] == out[..., 1]).all() and (out[..., 1] == out[..., 2]).all()
    # the blue channel's maximum scales the red channel too: raise it and red changes
    x = np.zeros((2, 32, 32, 3), dtype=np.uint8)
    x[:, :, :, 0] = 60
    x[1, 0, 0, 2] = 250
    out = fog(torch.from_numpy(x), 3, seed=1, indices=torch.tensor([5, 5])).numpy()
    assert (out[1, ..., 0].astype(int) > out[0, ..., 0]).mean() > 0.9


# ---------------------------------------------------------------------------------- impulse noise


@pytest.mark.parametrize("severity", SEVERITIES)
def test_impulse_noise_statistics(severity):
    c = AMOUNTS[severity - 1]
    rng = np.random.default_rng(severity)
    images = rng.integers(1, 255, (200, 32, 32, 3), dtype=np.uint8)  # never 0 or 255: flips are visible
    out = impulse_noise(torch.from_numpy(images), severity, seed=2).numpy()
    flipped = (out == 0) | (out == 255)
    assert np.array_equal(out[~flipped], images[~flipped])  # everything else unchanged
    n = flipped.size
    # flip rate within 6 binomial sigmas; adjacent severities are > 20 sigmas apart at this size
    assert abs(flipped.mean() - c) < 6 * (c * (1 - c) / n) ** 0.5
    k = flipped.sum()
    salt = (out == 255).sum() / k
    assert abs(salt - 0.5) < 6 * (0.25 / k) ** 0.5
    # channels are independent: a pixel has all three values replaced w.p. c**3 (not c)
    per_pixel = flipped.sum(axis=3)  # (N, 32, 32)
    for m, p in ((3, c**3), (1, 3 * c * (1 - c) ** 2)):
        expected = p * per_pixel.size
        assert abs((per_pixel == m).sum() - expected) < 6 * expected**0.5 + 1, (m, expected)


def test_impulse_float_round_trip_is_the_identity():
    # the reference computes np.uint8(clip(x / 255., 0, 1) * 255) for the values it keeps;
    # impulse_noise skips that because it returns every byte unchanged
    k = np.arange(256)
    assert np.array_equal(np.uint8(np.clip(k / 255.0, 0, 1) * 255), k)
