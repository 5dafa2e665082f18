"""Standard normal draws from the counter-based words, with the same bits on every device and kernel path.

``torch.randn`` can't be used (it is a sequential generator, and its vectorised Box-Muller differs in
the last bits between ATen's kernel paths), nor can ``torch.log`` / ``torch.erfinv`` (their vectorised
implementations differ between kernel paths too). So a normal is the inverse normal CDF of one
random word, computed from IEEE-exact operations only (+, -, *, /, sqrt, frexp: each correctly
rounded, so the same bits everywhere):

    p = (w + 1/2) / 2**32              w: one 32-bit word of corruptions.seeding.random_words
    z = Phi^-1(p)                      Wichura's AS 241 (PPND16), relative error about 1e-16

``p`` lies in ``[2**-33, 1 - 2**-33]``, so ``|z| < 6.24``: the tail beyond (probability 1e-9 per value)
is not drawn. One word per value (not two): the quantisation of ``p`` at ``2**-32`` is far below
anything an image truncated to 256 levels can show, and it halves the hashing, which is the hot loop.
The log that the tail branch needs is computed by :func:`log_exact_ops` (frexp, then an atanh series).

Example:
    >>> from corruptions.seeding import stream_key
    >>> z = normals(stream_key(0, "gaussian_noise", 1), torch.arange(3), 3072)   # (3, 3072) float64
"""

from __future__ import annotations

import math

import torch

from corruptions.seeding import random_words

# AS 241 (Wichura 1988, Applied Statistics 37, 477-484), PPND16: coefficients of x^0 .. x^7
_SPLIT = 0.425  # |p - 1/2| up to this: the central rational function
_CENTRAL_CONST = 0.180625  # 0.425 ** 2
_A = (
    3.3871328727963666080e0,
    1.3314166789178437745e2,
    1.9715909503065514427e3,
    1.3731693765509461125e4,
    4.5921953931549871457e4,
    6.7265770927008700853e4,
    3.3430575583588128105e4,
    2.5090809287301226727e3,
)
_B = (
    1.0,
    4.2313330701600911252e1,
    6.8718700749205790830e2,
    5.3941960214247511077e3,
    2.1213794301586595867e4,
    3.9307895800092710610e4,
    2.8729085735721942674e4,
    5.2264952788528544610e3,
)
_TAIL_CONST = 1.6  # tail branch: r = sqrt(-log(min(p, 1 - p))) - 1.6, for r <= 5 (all p drawn here)
_C = (
    1.42343711074968357734e0,
    4.63033784615654529590e0,
    5.76949722146069140550e0,
    3.64784832476320460504e0,
    1.27045825245236838258e0,
    2.41780725177450611770e-1,
    2.27238449892691845833e-2,
    7.74545014278341407640e-4,
)
_D = (
    1.0,
    2.05319162663775882187e0,
    1.67638483018380384940e0,
    6.89767334985100004550e-1,
    1.48103976427480074590e-1,
    1.51986665636164571966e-2,
    5.47593808499534494600e-4,
    1.05075007164441684324e-9,
)
# (AS 241's far-tail branch, r > 5, needs p < 1.4e-11: below the smallest p drawn here, 1.2e-10)
QUANTILE_DOMAIN = 1.4e-11  # normal_quantile's p lies in [QUANTILE_DOMAIN, 1 - QUANTILE_DOMAIN]

_LN2 = math.log(2.0)
_SQRT_HALF = math.sqrt(0.5)
_ATANH_TERMS = 12  # log(m) = 2 atanh(s), |s| <= 0.172: s**2**12 / 25 is below 1e-19


def normals(key: tuple[int, int], indices: torch.Tensor, count: int) -> torch.Tensor:
    """``count`` standard normal doubles per image, value ``e`` from word ``e`` of the image's stream.

    Args:
        key: ``(k0, k1)`` from :func:`corruptions.seeding.stream_key`.
        indices: (N,) integer tensor of dataset indices; the result is computed on its device.
        count: values per image, ``1 <= count <= 2**16``.
    Returns:
        (N, count) float64; row ``i`` depends only on ``(key, indices[i])``.
    """
    words = random_words(key, indices, count)  # (N, count) int64 in [0, 2**32)
    p = words.to(torch.float64).add_(0.5).mul_(2.0**-32)  # exact: 33 significant bits at most
    return normal_quantile(p)


def normal_quantile(p: torch.Tensor) -> torch.Tensor:
    """The standard normal quantile ``Phi^-1(p)`` for float64 ``p`` in ``[1.4e-11, 1 - 1.4e-11]`` (AS 241).

    Example:
        >>> normal_quantile(torch.tensor([0.5, 0.975], dtype=torch.float64)).tolist()[0]
        0.0
    """
    q = p - 0.5
    r = q * q
    torch.sub(_CENTRAL_CONST, r, out=r)
    z = q * _horner(r, _A)
    z.div_(_horner(r, _B))
    flat = q.reshape(-1)
    tail = torch.nonzero(flat.abs() > _SPLIT).view(-1)  # about 15% of the values
    if tail.numel():
        flat_q = flat[tail]
        smaller = torch.where(flat_q < 0, p.reshape(-1)[tail], 0.5 - flat_q)  # min(p, 1 - p)
        t = log_exact_ops(smaller).neg_().sqrt_().sub_(_TAIL_CONST)
        zt = _horner(t, _C).div_(_horner(t, _D))
        z.view(-1)[tail] = torch.where(flat_q < 0, -zt, zt)
    return z


def log_exact_ops(x: torch.Tensor) -> torch.Tensor:
    """Natural log of positive finite float64 ``x`` from IEEE-exact operations (within 2 ulp of math.log).

    ``x = m * 2**e`` (frexp, exact), ``m`` moved into ``[sqrt(1/2), sqrt(2))``; then
    ``log x = e * ln 2 + 2 atanh(s)`` with ``s = (m - 1) / (m + 1)`` and the atanh series in ``s**2``.
    """
    m, e = torch.frexp(x)  # m in [0.5, 1)
    low = m < _SQRT_HALF
    m = torch.where(low, m * 2.0, m)  # exact
    e = (e - low.to(e.dtype)).to(torch.float64)
    s = (m - 1.0).div_(m + 1.0)
    s2 = s * s
    series = torch.full_like(s2, 1.0 / (2 * _ATANH_TERMS - 1))
    for k in range(_ATANH_TERMS - 2, -1, -1):  # Horner: sum_k s2**k / (2k + 1)
        series.mul_(s2).add_(1.0 / (2 * k + 1))
    return series.mul_(s).mul_(2.0).add_(e.mul_(_LN2))


def _horner(x: torch.Tensor, coefficients: tuple[float, ...]) -> torch.Tensor:
    """sum_k c_k x**k by Horner's rule, one multiply and one add per step (never fused)."""
    acc = torch.full_like(x, coefficients[-1])
    for c in coefficients[-2::-1]:
        acc.mul_(x).add_(c)
    return acc
