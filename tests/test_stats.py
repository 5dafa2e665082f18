"""Seed statistics: the t quantile against published values, intervals, paired differences."""

import math

import pytest

from specreg_cli.stats import paired_difference, summarize, t_cdf, t_quantile

# two-sided 95% critical values t_{0.975, df} (any statistics table; scipy.stats.t.ppf(0.975, df))
T975 = {1: 12.7062047362, 2: 4.3026527297, 3: 3.1824463053, 4: 2.7764451052, 9: 2.2621571628}
T975 |= {30: 2.0422724563, 1000: 1.9623390808}


@pytest.mark.parametrize("df,expected", sorted(T975.items()))
def test_t_quantile_matches_the_tables(df, expected):
    assert t_quantile(0.975, df) == pytest.approx(expected, abs=1e-8)
    assert t_quantile(0.025, df) == pytest.approx(-expected, abs=1e-8)


def test_t_cdf_is_a_distribution_function():
    assert t_cdf(0.0, 5) == pytest.approx(0.5)
    assert t_cdf(1.0, 1) == pytest.approx(0.75)  # Cauchy: 1/2 + atan(1)/pi
    values = [t_cdf(t / 4, 3) for t in range(-20, 21)]
    assert values == sorted(values)


def test_summarize_gives_the_t_interval():
    s = summarize([1.0, 2.0, 3.0, 4.0])
    assert s.mean == 2.5 and s.std == pytest.approx(math.sqrt(5 / 3)) and s.n == 4
    half = 3.1824463053 * math.sqrt(5 / 3) / 2
    assert (s.ci_low, s.ci_high) == (pytest.approx(2.5 - half), pytest.approx(2.5 + half))


def test_one_seed_has_no_interval():
    s = summarize([93.5])
    assert s.mean == 93.5 and s.n == 1 and math.isnan(s.std) and math.isnan(s.ci_low)
    assert not s.significant


def test_paired_difference_uses_common_seeds_and_calls_significance():
    treated = {0: 95.0, 1: 96.0, 2: 95.5, 3: 99.0}
    baseline = {0: 93.0, 1: 94.1, 2: 93.4}
    d = paired_difference(treated, baseline)
    assert d.n == 3 and d.mean == pytest.approx((2.0 + 1.9 + 2.1) / 3)
    assert d.significant  # consistent +2 points: the interval excludes 0
    noisy = paired_difference({0: 95.0, 1: 90.0, 2: 96.0}, {0: 93.0, 1: 94.0, 2: 93.0})
    assert not noisy.significant and noisy.ci_low < 0 < noisy.ci_high
    with pytest.raises(ValueError, match="no seed in common"):
        paired_difference({0: 1.0}, {1: 1.0})


def test_non_finite_values_are_refused():
    with pytest.raises(ValueError):
        summarize([1.0, float("nan")])
    with pytest.raises(ValueError):
        summarize([])
