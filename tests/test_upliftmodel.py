"""The DR-learner's second stage picks the regression that predicts held-out users' scores best."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.pipeline import Pipeline
from xgboost import XGBRegressor

from recuplift.upliftmodel import fit_uplift_regressor


def _scores(effect, seed: int = 0):
    """Noisy pseudo-outcomes around a known effect, 8 rows per user (DR scores are mostly noise)."""
    rng = np.random.default_rng(seed)
    F = rng.normal(size=(6000, 6))
    tau = effect(F)
    return F, tau + rng.normal(0, 2.0, len(tau)), np.repeat(np.arange(750), 8), tau


@pytest.mark.parametrize("seed", [0, 1])
def test_a_linear_effect_gets_the_ridge_and_a_threshold_gets_the_trees(seed):
    F, dr, groups, tau = _scores(lambda F: 0.6 * F[:, 0] - 0.4 * F[:, 1], seed)
    linear = fit_uplift_regressor(F, dr, groups, random_state=seed)
    assert isinstance(linear, Pipeline)
    assert np.corrcoef(linear.predict(F), tau)[0, 1] > 0.9
    F, dr, groups, tau = _scores(lambda F: 1.5 * ((F[:, 0] > 0.5) & (F[:, 1] > 0)), seed)
    threshold = fit_uplift_regressor(F, dr, groups, random_state=seed)
    assert isinstance(threshold, XGBRegressor)
    assert np.corrcoef(threshold.predict(F), tau)[0, 1] > 0.7


def test_same_seed_same_model():
    F, dr, groups, _ = _scores(lambda F: 0.6 * F[:, 0])
    a, b = (fit_uplift_regressor(F, dr, groups, random_state=3).predict(F) for _ in range(2))
    assert np.array_equal(a, b)


def test_uplift_second_stage_learns_signal_and_ignores_noise():
    """Held-out users decide the DR-learner's second stage (how many trees, or the ridge): noisy scores without signal
    give a near-constant prediction; scores carrying a real effect are learned."""
    rng = np.random.default_rng(3)
    n = 6000
    F = rng.normal(size=(n, 5))
    users = np.repeat(np.arange(n // 10), 10)
    noise = rng.normal(0, 3.0, n)  # DR scores are this noisy
    flat = fit_uplift_regressor(F, 0.2 + noise, users, random_state=0).predict(F)
    assert flat.std() < 0.1 and abs(flat.mean() - 0.2) < 0.15
    tau = np.where(F[:, 0] > 0, 1.0, -1.0)
    learned = fit_uplift_regressor(F, tau + noise, users, random_state=0).predict(F)
    assert np.corrcoef(learned, tau)[0, 1] > 0.8
