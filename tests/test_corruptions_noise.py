"""gaussian_noise, shot_noise, speckle_noise against the reference (make_cifar_c.py) and their distributions.

Bit-exact given the noise (gaussian, speckle: the reference formula in numpy on our normals); the
normals equal scipy's quantile function and are N(0, 1) in distribution; shot noise's counts have the
Poisson distribution of every byte's mean (chi-square against scipy.stats.poisson). Thresholds are
set so that a correct sampler fails with probability below 1e-6 and a wrong one (sigma off by 3%, a
wrong mean, correlated values) fails surely at these sample sizes.
"""

import numpy as np
import pytest
import torch
from scipy import special, stats

from corruptions.gaussian_noise import SIGMAS as GAUSS_SIGMAS
from corruptions.gaussian_noise import gaussian_noise
from corruptions.normal import log_exact_ops, normal_quantile, normals
from corruptions.seeding import stream_key
from corruptions.shot_noise import RATES, cdf_thresholds, shot_noise
from corruptions.speckle_noise import SIGMAS as SPECKLE_SIGMAS
from corruptions.speckle_noise import speckle_noise

SEVERITIES = (1, 2, 3, 4, 5)


def some_images(seed: int, n: int = 60) -> np.ndarray:
    rng = np.random.default_rng(seed)
    constant = np.repeat(np.linspace(0, 255, 16).astype(np.uint8), 32 * 32 * 3).reshape(16, 32, 32, 3)
    return np.concatenate([constant, rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)])


# ------------------------------------------------------------------------------------------ normals


def test_normal_quantile_equals_scipy():
    p = np.concatenate([np.linspace(2**-33, 1 - 2**-33, 200_001), np.geomspace(2**-33, 0.08, 5000)])
    p = np.concatenate([p, 1 - p])
    z = normal_quantile(torch.from_numpy(p)).numpy()
    assert np.abs(z - special.ndtri(p)).max() < 1e-14
    x = np.geomspace(2**-34, 1.0, 20_000)
    assert np.abs(log_exact_ops(torch.from_numpy(x)).numpy() - np.log(x)).max() < 1e-14


def test_normals_are_standard_normal_and_independent():
    z = normals(stream_key(5, "gaussian_noise", 3), torch.arange(200), 3072).numpy()  # 614,400 values
    n = z.size
    ks = stats.kstest(z.reshape(-1), "norm")
    assert ks.pvalue > 1e-6, ks
    assert abs(z.mean()) < 5.5 / n**0.5 and abs(z.var() - 1) < 5.5 * (2 / n) ** 0.5
    tail = (np.abs(z) > 3).mean()  # 0.0026998
    assert abs(tail - 0.0026998) < 5.5 * (0.0027 / n) ** 0.5
    for lag in (1, 3, 96):  # neighbouring channel, pixel, row
        r = np.corrcoef(z[:, :-lag].reshape(-1), z[:, lag:].reshape(-1))[0, 1]
        assert abs(r) < 5.5 / n**0.5, lag
    images = np.corrcoef(z[:-1].reshape(-1), z[1:].reshape(-1))[0, 1]  # image i vs image i + 1
    assert abs(images) < 5.5 / n**0.5


# ---------------------------------------------------------------------------- gaussian and speckle


@pytest.mark.parametrize("severity", SEVERITIES)
def test_gaussian_noise_is_the_reference_given_the_noise(severity):
    images = some_images(severity)
    idx = torch.arange(300, 300 + len(images))
    got = gaussian_noise(torch.from_numpy(images), severity, seed=2, indices=idx).numpy()
    z = normals(stream_key(2, "gaussian_noise", severity), idx, 3072).numpy().reshape(images.shape)
    c = GAUSS_SIGMAS[severity - 1]
    expected = np.uint8(np.clip(images / 255.0 + c * z, 0, 1) * 255)  # the reference, noise = c * z
    assert np.array_equal(got, expected)


@pytest.mark.parametrize("severity", SEVERITIES)
def test_speckle_noise_is_the_reference_given_the_noise(severity):
    images = some_images(10 + severity)
    idx = torch.arange(len(images))
    got = speckle_noise(torch.from_numpy(images), severity, seed=2, indices=idx).numpy()
    z = normals(stream_key(2, "speckle_noise", severity), idx, 3072).numpy().reshape(images.shape)
    x = images / 255.0
    expected = np.uint8(np.clip(x + x * (SPECKLE_SIGMAS[severity - 1] * z), 0, 1) * 255)
    assert np.array_equal(got, expected)


@pytest.mark.parametrize(
    "name, fn, sigmas", [("g", gaussian_noise, GAUSS_SIGMAS), ("s", speckle_noise, SPECKLE_SIGMAS)]
)
def test_noise_strength_per_severity(name, fn, sigmas):
    # mid-grey 128 (u = 0.502): no clipping at these sigmas; the spread of the output is sigma * 255
    # (times u for speckle) up to the truncation's uniform rounding (variance 1/12 level**2)
    x = torch.full((40, 32, 32, 3), 128, dtype=torch.uint8)
    for severity, sigma in zip(SEVERITIES, sigmas, strict=True):
        y = fn(x, severity, seed=0).double()
        scale = sigma * 255 * (128 / 255 if name == "s" else 1)
        expected_var = scale**2 + 1 / 12
        n = y.numel()
        assert abs(y.var().item() - expected_var) < 5.5 * expected_var * (2 / n) ** 0.5, severity
        assert abs(y.mean().item() - (128 - 0.5)) < 5.5 * (expected_var / n) ** 0.5, severity


# ------------------------------------------------------------------------------------------- shot


@pytest.mark.parametrize("c", RATES)
def test_shot_noise_thresholds_are_the_poisson_cdf(c):
    lam = np.arange(256) / 255.0 * c
    exact = stats.poisson.cdf(np.arange(c)[None, :], lam[:, None]) * 2.0**32
    assert np.abs(cdf_thresholds(c) - exact).max() <= 1.0  # within one unit of 2**-32


@pytest.mark.parametrize("severity", SEVERITIES)
def test_shot_noise_counts_are_poisson(severity):
    c = RATES[severity - 1]
    for k in (0, 1, 37, 128, 255):
        x = torch.full((20, 32, 32, 3), k, dtype=torch.uint8)
        y = shot_noise(x, severity, seed=1, indices=torch.arange(20) + 100 * k).numpy().reshape(-1)
        # bytes back to counts: byte = uint8(clip(X / c, 0, 1) * 255), a function of X, injective below c
        counts = np.arange(c + 1)
        byte_of = np.uint8(np.clip(counts / c, 0, 1) * 255)
        assert np.isin(y, byte_of).all()
        lam = k / 255.0 * c
        pmf = stats.poisson.pmf(counts, lam)
        pmf[-1] = stats.poisson.sf(c - 1, lam)  # the last byte (255) is X >= c
        expected = np.bincount(byte_of, weights=pmf, minlength=256) * y.size
        observed = np.bincount(y, minlength=256)
        keep = expected >= 5  # pool the sparse tails into one cell
        obs = np.append(observed[keep], observed[~keep].sum())
        exp = np.append(expected[keep], expected[~keep].sum())
        if exp[-1] < 5:
            obs, exp = obs[:-1], exp[:-1]
            assert observed[~keep].sum() <= 5
        if len(exp) < 2:
            assert observed[byte_of[0]] == y.size  # degenerate: mean 0
            continue
        chi2 = ((obs - exp) ** 2 / exp).sum()
        assert stats.chi2.sf(chi2, len(exp) - 1) > 1e-6, (k, chi2, len(exp))


def test_shot_noise_values_and_pixels_are_independent():
    x = torch.full((100, 32, 32, 3), 128, dtype=torch.uint8)
    y = shot_noise(x, 4, seed=3).double().view(100, -1).numpy()
    n = y[:, 1:].size
    for lag in (1, 3, 96):
        assert abs(np.corrcoef(y[:, :-lag].reshape(-1), y[:, lag:].reshape(-1))[0, 1]) < 5.5 / n**0.5
