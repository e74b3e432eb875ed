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
