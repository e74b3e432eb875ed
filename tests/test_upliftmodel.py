"""The DR-learner's second stage picks the regression that predicts held-out users' scores best."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer
from xgboost import XGBRegressor

from recuplift.schema import DataError
from recuplift.upliftmodel import PLUG_IN_COLUMNS, UpliftModel, fit_uplift_regressor, plug_in_features


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


def test_an_effect_that_follows_the_outcome_level_gets_the_calibrated_plug_in():
    """Among many noisy features, an effect that is a line in the outcome models' predictions is learned best
    by a ridge on the plug-in columns alone, and held-out users choose it; an effect carried by one ordinary
    feature does not choose it."""
    rng = np.random.default_rng(5)
    n = 8000
    noise_features = rng.normal(size=(n, 60))
    mu0 = np.exp(rng.normal(-3, 0.6, n))
    mu1 = mu0 * 1.8
    F = np.column_stack([noise_features, plug_in_features(mu0, mu1)])
    users = np.repeat(np.arange(n // 10), 10)
    tau = mu1 - mu0
    dr = tau + rng.normal(0, 0.25, n)
    chosen = fit_uplift_regressor(F, dr, users, random_state=0, n_plug_in=PLUG_IN_COLUMNS)
    assert isinstance(chosen, Pipeline) and isinstance(chosen[0], FunctionTransformer)
    full = fit_uplift_regressor(F, dr, users, random_state=0)  # without the candidate: the full ridge or trees
    assert np.corrcoef(chosen.predict(F), tau)[0, 1] > np.corrcoef(full.predict(F), tau)[0, 1] + 0.05
    other = 0.05 * np.sign(noise_features[:, 0])
    elsewhere = fit_uplift_regressor(F, other + rng.normal(0, 0.25, n), users, random_state=0,
                                     n_plug_in=PLUG_IN_COLUMNS)
    assert not (isinstance(elsewhere, Pipeline) and isinstance(elsewhere[0], FunctionTransformer))


def _level_proportional_log(seed: int, n_users: int) -> tuple[pd.DataFrame, np.ndarray]:
    """A tabular log whose effect is half the untreated outcome, a bumpy function of the covariates."""
    rng = np.random.default_rng(seed)
    n = n_users * 8
    X = rng.normal(size=(n, 4))
    mu0 = 1 + np.sin(2 * X[:, 0]) * X[:, 1] + X[:, 2] ** 2
    t = (rng.random(n) < expit(0.5 * X[:, 3])).astype(int)
    y = mu0 + t * 0.5 * mu0 + rng.normal(0, 1, n)
    frame = pd.DataFrame(X, columns=[f"x{j}" for j in range(4)])
    return frame.assign(exposed=t, outcome=y, user_id=np.repeat(np.arange(n_users), 8)), 0.5 * mu0


def test_the_uplift_model_calibrates_the_outcome_models_predictions_on_unseen_users():
    """The second stage sees μ̂0, μ̂1 and μ̂1 − μ̂0: an effect proportional to the outcome's level is one line
    in them. From the covariates alone the same second stage reached a correlation of 0.82–0.88 with the true
    effect on fresh users (4 seeds); with the plug-in columns 0.95–0.97."""
    train, _ = _level_proportional_log(0, 1000)
    fresh, tau = _level_proportional_log(100, 300)
    model = UpliftModel().fit(train)
    scores = model.predict(fresh)
    assert np.corrcoef(scores["uplift"], tau)[0, 1] > 0.93
    assert np.corrcoef(scores["relevance"], 3 * tau)[0, 1] > 0.9  # relevance: the outcome if shown, 1.5 μ0
    assert model.uplift_interval_ is not None  # the calibration (linear) wins here: an interval at every row
    assert ((scores["uplift_ci_low"] < scores["uplift"]) & (scores["uplift"] < scores["uplift_ci_high"])).all()
    # rows it cannot score fail naming the column, not with a KeyError, nor silently turned into the median
    with pytest.raises(DataError, match=r"column 'x1': missing column \(the model was fitted on it\)"):
        model.predict(fresh.drop(columns=["x1"]))
    typo = fresh.head(4).astype({"x2": object}).assign(x2=[0.5, "1,2", None, 0.1])
    with pytest.raises(DataError, match=r"column 'x2': was numeric when fitted .* \(rows 1\)"):
        model.predict(typo)
    assert model.predict(typo.assign(x2=[0.5, np.nan, None, 0.1])).notna().all().all()  # missing stays allowed
    assert model.predict(fresh.head(0)).shape == (0, 4)


def test_a_linear_second_stages_intervals_cover_a_linear_effect_when_clustered_by_user():
    """Where the effect is linear in the features, the ridge stage's interval at a row covers it at the nominal
    rate, and so does the interval of a weighted sum of rows (a list's total); with the noise shared within
    users, row-level (unclustered) errors undercover."""
    from scipy import stats
    from sklearn.linear_model import Ridge
    from sklearn.preprocessing import StandardScaler

    from recuplift.upliftmodel import LinearStageInterval, linear_stage_covariance, linear_stage_se

    rng = np.random.default_rng(0)
    users = np.repeat(np.arange(200), 10)
    at = np.array([[1.0, -0.5, 0.3], [0.0, 0.0, 0.0], [-1.0, 1.0, 2.0]])  # rows to predict
    beta = np.array([0.2, -0.1, 0.05])
    t = stats.t.ppf(0.975, 199)
    weights = np.array([[0.5, 0.25, 0.25], [3.0, 0.0, 1.0]])  # two totals of the rows' predictions
    covered = {"users": [], "rows": [], "sums": []}
    for _ in range(300):
        X = rng.normal(size=(2000, 3)) + rng.normal(size=(200, 3))[users]  # features shared within a user, too
        dr = 0.1 + X @ beta + rng.normal(0, 1.0, 200)[users] + rng.normal(0, 1.0, 2000)
        model = make_pipeline(StandardScaler(), Ridge(alpha=1.0)).fit(X, dr)
        truth = 0.1 + at @ beta
        for key, groups in (("users", users), ("rows", None)):
            se = linear_stage_se(model, linear_stage_covariance(model, X, dr, groups), at)
            covered[key].append(np.abs(model.predict(at) - truth) <= t * se)
        sums = LinearStageInterval(model, linear_stage_covariance(model, X, dr, users), t)
        covered["sums"].append(np.abs(weights @ model.predict(at) - weights @ truth) <= sums.sum_half_width(at, weights))
        single = sums.sum_half_width(at, np.eye(3))  # a "sum" of one row is that row's interval
        np.testing.assert_allclose(single, sums.half_width(at))
    by_users, by_rows = np.mean(covered["users"]), np.mean(covered["rows"])
    assert 0.92 <= by_users <= 0.98 and by_rows < 0.85
    assert 0.92 <= np.mean(covered["sums"]) <= 0.98
    trees = XGBRegressor(n_estimators=5).fit(X, dr)
    assert linear_stage_covariance(trees, X, dr, users) is None  # trees give no interval


def test_scoring_rows_whose_texts_are_all_missing_and_wrong_settings():
    from sklearn.exceptions import NotFittedError

    from recuplift.simulate import simulate

    log = simulate(n_users=80, n_candidates=6, n_items=40, seed=5).data
    with pytest.raises(NotFittedError):  # was an AttributeError naming sets_
        UpliftModel().predict(log.head(3))
    for settings, named in (({"n_folds": 1}, "n_folds"), ({"random_state": -1}, "random_state")):
        with pytest.raises(ValueError, match=f"{named} .*must be a whole number"):  # was scikit-learn's error
            UpliftModel(**settings).fit(log)
    model = UpliftModel().fit(log)
    no_text = log.head(4).assign(item_text=None)  # every row without its text: PCA used to get 0 rows
    alone = model.predict(no_text)
    mixed = model.predict(pd.concat([no_text, log.iloc[10:14]]))
    assert np.isfinite(alone["uplift"]).all()
    np.testing.assert_allclose(alone["uplift"], mixed["uplift"].iloc[:4])  # scored as the same rows among others
    with pytest.raises(DataError, match="expected a pandas DataFrame, got ndarray"):  # was an AttributeError
        model.predict(log.head(3).to_numpy())
