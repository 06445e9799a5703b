"""ethicskit.privacy.mechanisms: Laplace/Gaussian mechanisms, noisy statistics, accountant."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from ethicskit.privacy import (
    BudgetExceeded,
    PrivacyAccountant,
    gaussian_mechanism,
    gaussian_sigma,
    laplace_mechanism,
    noisy_count,
    noisy_histogram,
    noisy_mean,
)


def test_laplace_noise_has_the_right_distribution():
    draws = laplace_mechanism(np.full(5000, 10.0), sensitivity=2.0, epsilon=0.5, random_state=7)
    assert stats.kstest(draws, "laplace", args=(10.0, 4.0)).pvalue > 0.01
    assert stats.kstest(draws, "laplace", args=(10.0, 2.0)).pvalue < 1e-6


def test_laplace_is_seeded_and_validates():
    assert laplace_mechanism(3.0, sensitivity=1, epsilon=1, random_state=1) == laplace_mechanism(
        3.0, sensitivity=1, epsilon=1, random_state=1
    )
    assert isinstance(laplace_mechanism(3.0, sensitivity=1, epsilon=1, random_state=1), float)
    with pytest.raises(ValueError, match="epsilon must be a finite number > 0"):
        laplace_mechanism(1.0, sensitivity=1, epsilon=-1)
    with pytest.raises(ValueError, match="sensitivity"):
        laplace_mechanism(1.0, sensitivity=0, epsilon=1)
    with pytest.raises(ValueError, match="NaN"):
        laplace_mechanism(float("nan"), sensitivity=1, epsilon=1)


def test_gaussian_sigma_meets_delta_and_beats_classic_bound():
    sigma = gaussian_sigma(sensitivity=1.0, epsilon=0.5, delta=1e-5)
    classic = math.sqrt(2 * math.log(1.25 / 1e-5)) / 0.5
    assert 0.5 * classic < sigma < classic
    a, b = 1 / (2 * sigma), 0.5 * sigma
    achieved = stats.norm.cdf(a - b) - math.exp(0.5) * stats.norm.cdf(-a - b)
    assert achieved == pytest.approx(1e-5, rel=1e-3)
    assert gaussian_sigma(sensitivity=1.0, epsilon=2.0, delta=1e-5) < sigma  # works for epsilon > 1 too
    draws = gaussian_mechanism(np.zeros(4000), sensitivity=1.0, epsilon=0.5, delta=1e-5, random_state=0)
    assert np.std(draws) == pytest.approx(sigma, rel=0.05)
    with pytest.raises(ValueError, match="delta"):
        gaussian_sigma(sensitivity=1.0, epsilon=1.0, delta=0.0)


def test_noisy_statistics():
    mask = np.arange(1000) < 300
    counts = [noisy_count(mask, epsilon=1.0, random_state=s) for s in range(200)]
    assert np.mean(counts) == pytest.approx(300, abs=0.5)
    assert np.std(counts) == pytest.approx(math.sqrt(2), rel=0.2)
    hist = noisy_histogram(["a"] * 50 + ["b"] * 20, epsilon=1.0, categories=["a", "b", "c"], random_state=0)
    assert list(hist.index) == ["a", "b", "c"] and (hist >= 0).all()
    assert hist["a"] == pytest.approx(50, abs=10)
    ages = np.random.default_rng(0).integers(20, 70, 5000)
    mean = noisy_mean(ages, lower=0, upper=100, epsilon=1.0, random_state=0)
    assert mean == pytest.approx(ages.mean(), abs=1.0)
    assert 0 <= noisy_mean([1e9, -1e9], lower=0, upper=1, epsilon=0.1, random_state=0) <= 1
    with pytest.raises(ValueError, match="lower < upper"):
        noisy_mean(ages, lower=5, upper=5, epsilon=1.0)


def test_accountant_refuses_queries_past_the_budget():
    acc = PrivacyAccountant(total_epsilon=1.0, total_delta=1e-5)
    assert acc.spend(0.4, label="count") == pytest.approx(0.6)
    assert acc.spend(0.6, 1e-5, label="mean") == pytest.approx(0.0)
    with pytest.raises(BudgetExceeded, match="exceed the budget"):
        acc.spend(0.01)
    assert len(acc.ledger) == 2 and acc.spent_epsilon == pytest.approx(1.0)
    assert list(acc.to_frame()["label"]) == ["count", "mean"]
    other = PrivacyAccountant(total_epsilon=1.0)
    with pytest.raises(BudgetExceeded):
        other.spend(0.1, delta=1e-6)  # no delta budget
    with pytest.raises(ValueError, match="total_epsilon"):
        PrivacyAccountant(total_epsilon=-1)
    with pytest.raises(ValueError, match="epsilon"):
        other.spend(-0.1)


def test_mechanisms_refuse_what_would_silently_mean_nothing():
    """#21: NaN/-inf epsilons, inf values and negative accounting steps are errors, not 1.0 or -2682."""
    from ethicskit.privacy import dp_advantage_bound, epsilon_from_history, gaussian_sigma, laplace_mechanism

    for bad in (math.nan, -math.inf):
        with pytest.raises(ValueError, match="epsilon"):
            dp_advantage_bound(bad)
    assert dp_advantage_bound(math.inf) == 1.0 and dp_advantage_bound(1000.0) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="value"):
        laplace_mechanism(math.inf, sensitivity=1.0, epsilon=1.0)
    assert 0 < gaussian_sigma(sensitivity=1.0, epsilon=1000.0, delta=1e-5) < 0.1  # no OverflowError
    with pytest.raises(ValueError, match="steps"):
        epsilon_from_history([(1.0, 0.01, -100)], delta=1e-5)


def test_plot_privacy_tradeoff_draws_the_private_runs_and_the_baselines():
    import matplotlib

    matplotlib.use("Agg")
    from ethicskit.privacy import plot_privacy_tradeoff

    table = pd.DataFrame({"epsilon": [4.0, 0.5, float("inf")], "accuracy": [0.82, 0.80, 0.84]})
    ax = plot_privacy_tradeoff(table, chance=0.76)
    line = ax.get_lines()[0]
    assert list(line.get_xdata()) == [0.5, 4.0] and list(line.get_ydata()) == [0.80, 0.82]
    assert {h.get_ydata()[0] for h in ax.get_lines()[1:]} == {0.84, 0.76}
    with pytest.raises(ValueError, match="finite epsilon"):
        plot_privacy_tradeoff(table.iloc[2:])
