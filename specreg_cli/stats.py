"""Statistics over seeds: mean, sample std, Student-t 95% confidence intervals and paired differences.

Why paired: two methods trained with the same seed are evaluated on the same test images and the same
corruption bytes, so the per-seed difference cancels what the seeds share (the test set, the corruption
draw); its interval is much narrower than the two methods' intervals side by side. A difference is
called significant only when its 95% interval excludes 0. With one seed there is no interval (n = 1
is an anecdote, not a result): ``ci_low``/``ci_high`` are NaN.

Pure Python (no torch, numpy or scipy): the t quantile is computed from the regularised incomplete
beta function (Numerical Recipes' continued fraction) and bisection.

Example::

    >>> s = summarize([93.1, 94.0, 93.4])
    >>> round(s.mean, 2), round(s.half_width, 2), s.n
    (93.5, 1.14, 3)
    >>> paired_difference({0: 95.0, 1: 96.0}, {0: 93.0, 1: 93.5}).mean
    2.25
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

CONFIDENCE = 0.95


@dataclass(frozen=True)
class Summary:
    """Values over seeds: mean, sample std (ddof 1), n and the two-sided 95% Student-t interval."""

    mean: float
    std: float  # NaN for n = 1
    n: int
    ci_low: float  # NaN for n = 1
    ci_high: float

    @property
    def half_width(self) -> float:
        return (self.ci_high - self.ci_low) / 2

    @property
    def significant(self) -> bool:
        """The interval excludes 0 (only meaningful for differences)."""
        return self.n > 1 and (self.ci_low > 0 or self.ci_high < 0)


def summarize(values: Sequence[float], confidence: float = CONFIDENCE) -> Summary:
    """Mean, std and the t interval of ``values`` (finite numbers, at least one)."""
    values = [float(v) for v in values]
    if not values or not all(math.isfinite(v) for v in values):
        raise ValueError(f"summarize needs finite values, got {values}")
    n, mean = len(values), math.fsum(values) / len(values)
    if n == 1:
        return Summary(mean, math.nan, 1, math.nan, math.nan)
    std = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1))
    half = t_quantile(0.5 + confidence / 2, n - 1) * std / math.sqrt(n)
    return Summary(mean, std, n, mean - half, mean + half)


def paired_difference(
    treated: Mapping[object, float], baseline: Mapping[object, float], confidence: float = CONFIDENCE
) -> Summary:
    """``treated - baseline`` per key (a seed) over the keys both have, summarised; raises ValueError when
    they share no key."""
    common = sorted(set(treated) & set(baseline), key=str)
    if not common:
        raise ValueError("no seed in common: a paired difference needs runs of the same seeds")
    return summarize([treated[k] - baseline[k] for k in common], confidence)


def t_quantile(p: float, df: int) -> float:
    """The p-quantile of Student's t with ``df`` degrees of freedom (p in (0, 1)), to about 1e-10."""
    if not 0 < p < 1 or df < 1:
        raise ValueError(f"t_quantile needs 0 < p < 1 and df >= 1, got p={p}, df={df}")
    if p < 0.5:
        return -t_quantile(1 - p, df)
    low, high = 0.0, 1.0
    while t_cdf(high, df) < p:
        high *= 2
    for _ in range(200):
        mid = (low + high) / 2
        low, high = (mid, high) if t_cdf(mid, df) < p else (low, mid)
        if high - low < 1e-12 * max(1.0, high):
            break
    return (low + high) / 2


def t_cdf(t: float, df: int) -> float:
    """P(T <= t) for Student's t: 1 - I_x(df/2, 1/2) / 2 with x = df / (df + t^2), for t >= 0."""
    x = df / (df + t * t)
    tail = 0.5 * _incomplete_beta(df / 2, 0.5, x)
    return 1 - tail if t >= 0 else tail


def _incomplete_beta(a: float, b: float, x: float) -> float:
    """The regularised incomplete beta function I_x(a, b)."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    if x < (a + 1) / (a + b + 2):  # the continued fraction converges fast here; else use the symmetry
        return math.exp(log_front) * _beta_fraction(a, b, x) / a
    return 1 - math.exp(log_front) * _beta_fraction(b, a, 1 - x) / b


def _beta_fraction(a: float, b: float, x: float) -> float:
    """Lentz's evaluation of the incomplete beta continued fraction."""
    tiny = 1e-300
    c, d = 1.0, 1 - (a + b) * x / (a + 1)
    d = 1 / (d if abs(d) > tiny else tiny)
    result = d
    for m in range(1, 500):
        for numerator in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1 + numerator * d
            d = 1 / (d if abs(d) > tiny else tiny)
            c = 1 + numerator / c
            c = c if abs(c) > tiny else tiny
            result *= c * d
        if abs(c * d - 1) < 1e-15:
            break
    return result
