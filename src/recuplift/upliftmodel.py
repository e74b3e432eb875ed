"""A predictive uplift model: learned on one log, it scores candidates of users it has never seen.

The audit's per-row uplift is predicted out of fold for the rows it audited; ranking fresh users (the
feedback loop, a production reranker) needs a model that carries the featurization with it. This one
builds the audit's richest adjustment features (tabular + text + pair), cross-fits the nuisances, and
fits two models: relevance (XGBoost, the outcome if shown) and uplift (a DR-learner on the doubly robust
scores, ridge or XGBoost by held-out loss).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.linear_model import Ridge, RidgeCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from .adjustment import AdjustmentSets, build_adjustment_sets
from .nuisance import cross_fit, dr_scores, folds, held_out_rows, outcome_model, regression_model
from .schema import Roles, validate
from .text import TextEncoder


UPLIFT_VALIDATION_SHARE = 0.2
RIDGE_ALPHAS = np.logspace(-2, 8, 21)  # on standardized features; leave-one-out picks one


def fit_uplift_regressor(F: np.ndarray, dr: np.ndarray, groups: np.ndarray | None, random_state: int):
    """The second stage of the DR-learner: a regression of the doubly robust scores on the features.

    Two candidates: shallow XGBoost with as many trees as keep improving held-out users' squared error, and a
    ridge regression (penalty by leave-one-out). The one with the smaller squared error on the scores of users
    it was not fitted on (grouped cross-validation) is refitted on all rows — a valid loss for the effect, since
    E[(DR − τ̂)²] = E[(τ − τ̂)²] + a constant. DR scores are mostly noise (weights up to 1/e): a fixed 200 trees
    learned that noise and predicted worse than a constant (√PEHE 0.085 against 0.040, 10 simulator seeds).
    With text components as features the effect is close to linear and the ridge tends to win; where it is
    not (a threshold in one feature, tests/test_upliftmodel.py) the trees do."""
    held = held_out_rows(groups, len(dr), UPLIFT_VALIDATION_SHARE, np.random.default_rng(random_state))
    trees = regression_model(random_state, 500).set_params(max_depth=3, min_child_weight=50, learning_rate=0.05)
    if held.all() or not held.any():  # too few users to hold any out: a short, fixed schedule
        return trees.set_params(n_estimators=50).fit(F, dr)
    stopped = clone(trees).set_params(early_stopping_rounds=40).fit(F[~held], dr[~held],
                                                                    eval_set=[(F[held], dr[held])], verbose=False)
    trees.set_params(n_estimators=stopped.best_iteration + 1)
    alpha = make_pipeline(StandardScaler(), RidgeCV(alphas=RIDGE_ALPHAS)).fit(F, dr)[-1].alpha_
    ridge = make_pipeline(StandardScaler(), Ridge(alpha=alpha))
    splits = folds(len(dr), groups, 3, random_state)

    def cv_error(model) -> float:
        return sum(float(np.sum((dr[test] - clone(model).fit(F[train], dr[train]).predict(F[test])) ** 2))
                   for train, test in splits)

    return min((trees, ridge), key=cv_error).fit(F, dr)


class UpliftModel:
    """``UpliftModel(roles).fit(log).predict(candidates)`` → ``uplift`` and ``relevance`` per row."""

    def __init__(self, roles: Roles | None = None, encoder: TextEncoder | None = None, n_folds: int = 3,
                 random_state: int = 0):
        self.roles = roles
        self.encoder = encoder
        self.n_folds = n_folds
        self.random_state = random_state

    def _features(self, sets: AdjustmentSets) -> np.ndarray:
        frame = pd.concat([sets.frame(self.rung_), sets.modifiers], axis=1)
        return frame.to_numpy(float) if frame.shape[1] else np.zeros((len(frame), 1))

    def fit(self, df: pd.DataFrame) -> "UpliftModel":
        roles = validate(df, self.roles).roles
        data = df.reset_index(drop=True)
        y = data[roles.outcome].to_numpy(float)
        t = data[roles.treatment].to_numpy().astype(int)
        groups = data[roles.user_id].to_numpy() if roles.user_id else None
        propensity = data[roles.propensity].to_numpy(float) if roles.propensity else None
        self.sets_ = build_adjustment_sets(data, roles, encoder=self.encoder, random_state=self.random_state)
        self.rung_ = self.sets_.rungs()[-1]
        W = self.sets_.matrix(self.rung_)
        nuisances = cross_fit(y, t, W if W.shape[1] else np.zeros((len(y), 1)), groups, propensity, self.n_folds,
                              self.random_state)
        F = self._features(self.sets_)
        self.uplift_model_ = fit_uplift_regressor(F, dr_scores(y, t, nuisances), groups, self.random_state)
        binary = bool(np.isin(y, (0, 1)).all())
        shown = t == 1
        self.relevance_model_ = outcome_model(binary, self.random_state).fit(F[shown], y[shown])
        self.binary_ = binary
        return self

    def predict(self, df: pd.DataFrame) -> pd.DataFrame:
        F = self._features(self.sets_.transform(df.reset_index(drop=True)))
        relevance = (self.relevance_model_.predict_proba(F)[:, 1] if self.binary_
                     else self.relevance_model_.predict(F))
        return pd.DataFrame({"uplift": self.uplift_model_.predict(F), "relevance": relevance}, index=df.index)
