"""A predictive uplift model: learned on one log, it scores candidates of users it has never seen.

The audit's per-row uplift is predicted out of fold for the rows it audited; ranking fresh users (the
feedback loop, a production reranker) needs a model that carries the featurization with it. This one
builds the audit's richest adjustment features (tabular + text + pair), cross-fits the nuisances, and
fits the outcome model of each arm (relevance is the outcome if shown) and uplift (a DR-learner on the doubly
robust scores: XGBoost, a ridge, or a ridge calibrating the outcome models' predictions alone, by held-out loss).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.linear_model import Ridge, RidgeCV
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler
from sklearn.utils.validation import check_is_fitted

from .adjustment import AdjustmentSets, build_adjustment_sets
from .inference import cluster_covariance, cluster_se, critical_value
from .nuisance import (ArmOutcome, check_fold_settings, cross_fit, dr_scores, folds, regression_model,
                       rounds_on_held_out_users)
from .schema import Roles, check_frame, validate
from .text import TextEncoder


UPLIFT_VALIDATION_SHARE = 0.2
RIDGE_ALPHAS = np.logspace(-2, 8, 21)  # on standardized features; leave-one-out picks one
PLUG_IN_COLUMNS = 3  # what plug_in_features returns


def plug_in_features(mu0: np.ndarray, mu1: np.ndarray) -> np.ndarray:
    """The outcome models' own predictions as second-stage features: μ̂0, μ̂1 and the plug-in effect μ̂1 − μ̂0.

    The DR scores are mostly noise, and a ridge over a hundred and more text components spends its penalty
    fitting that noise; these three columns carry what the outcome models already learned from every row,
    and the second stage calibrates them (an effect that grows with the outcome's level is one line in them).
    Pass out-of-fold predictions when fitting. Exploratory, simulator seeds 200-207 at 20,000 rows: the audit's
    out-of-fold uplift's top-5 lists earned 0.173 → 0.186 true incremental outcomes per user (better on 7
    seeds, equal on 1); rank correlation with the true uplift 0.18 → 0.23."""
    return np.column_stack([mu0, mu1, mu1 - mu0])


def _last_columns(X: np.ndarray, n: int) -> np.ndarray:
    return np.asarray(X)[:, -n:]


def _ridge_by_leave_one_out(X: np.ndarray, y: np.ndarray) -> Ridge:
    """An unfitted ridge whose penalty leave-one-out chose on standardized ``X``."""
    return Ridge(alpha=make_pipeline(StandardScaler(), RidgeCV(alphas=RIDGE_ALPHAS)).fit(X, y)[-1].alpha_)


def fit_uplift_regressor(F: np.ndarray, dr: np.ndarray, groups: np.ndarray | None, random_state: int,
                         n_plug_in: int = 0):
    """The second stage of the DR-learner: a regression of the doubly robust scores on the features.

    Candidates: shallow XGBoost with as many trees as keep improving held-out users' squared error, and a
    ridge regression (penalty by leave-one-out), both on every column; and, when the last ``n_plug_in`` columns
    of ``F`` are the outcome models' predictions (:func:`plug_in_features`), a ridge on those columns alone —
    a calibration of what the outcome models learned, with three coefficients to estimate instead of a hundred.
    Each is scored by its squared error on the scores of users it was not fitted on (grouped cross-validation) —
    a valid loss for the effect, since E[(DR − τ̂)²] = E[(τ − τ̂)²] + a constant — and the winner is refitted on
    all rows. DR scores are mostly noise (weights up to 1/e): a fixed 200 trees learned that noise and
    predicted worse than a constant (√PEHE 0.085 against 0.040, 10 simulator seeds), and a ridge over every
    text component spends its few degrees of freedom on that noise too. Where the effect is a line in the
    covariates the full ridge wins; where it is not (a threshold in one feature, tests/test_upliftmodel.py) the
    trees do; where it follows the outcome's level the calibration does.

    With the calibration among the candidates, the one-standard-error rule decides: the calibration is kept
    unless a richer candidate's held-out loss is lower by more than one (user-clustered) standard error of
    the paired difference. The differences are tiny beside the scores' noise, and picking the plain minimum
    flipped between candidates from one cross-fitting fold to the next on the same log."""
    trees = regression_model(random_state, 500).set_params(max_depth=3, min_child_weight=50, learning_rate=0.05)
    rounds = rounds_on_held_out_users(trees, F, dr, groups, random_state, UPLIFT_VALIDATION_SHARE, patience=40)
    if rounds is None:  # too few users to hold any out: a short, fixed schedule
        return trees.set_params(n_estimators=50).fit(F, dr)
    trees.set_params(n_estimators=rounds)
    ridge = make_pipeline(StandardScaler(), _ridge_by_leave_one_out(F, dr))
    splits = folds(len(dr), groups, 3, random_state)

    def held_out_errors(model) -> np.ndarray:
        errors = np.empty(len(dr))
        for train, test in splits:
            errors[test] = (dr[test] - clone(model).fit(F[train], dr[train]).predict(F[test])) ** 2
        return errors

    best, best_errors = min(((model, held_out_errors(model)) for model in (trees, ridge)),
                            key=lambda pair: pair[1].mean())
    if not n_plug_in:
        return best.fit(F, dr)
    calibration = make_pipeline(FunctionTransformer(_last_columns, kw_args={"n": n_plug_in}), StandardScaler(),
                                _ridge_by_leave_one_out(F[:, -n_plug_in:], dr))
    gain = held_out_errors(calibration) - best_errors  # > 0 where the richer candidate predicts better
    clearly_better = gain.mean() > cluster_se(gain - gain.mean(), groups)
    return (best if clearly_better else calibration).fit(F, dr)


def linear_stage_covariance(model: object, F: np.ndarray, dr: np.ndarray,
                            groups: np.ndarray | None) -> np.ndarray | None:
    """Covariance of a ridge second stage's coefficients (intercept first), clustered by user; None for trees.

    A regression of doubly robust scores on features estimates the best linear predictor of the effect given
    those features, and sandwich inference on it is valid with cross-fitted nuisances (Semenova & Chernozhukov
    2021): intervals from it are for that linear predictor at each row, not for the row's own effect where the
    effect is not linear in the features. The ridge's penalty enters the bread, (ZᵀZ + P)⁻¹ with the intercept
    unpenalized, which is the problem scikit-learn's Ridge solves after centering."""
    if not (isinstance(model, Pipeline) and isinstance(model[-1], Ridge)):
        return None
    Z = _stage_design(model, F)
    bread = np.linalg.pinv(Z.T @ Z + np.diag([0.0] + [float(model[-1].alpha)] * (Z.shape[1] - 1)))
    residuals = np.asarray(dr, float) - model.predict(F)
    return bread @ cluster_covariance(Z * residuals[:, None], groups) @ bread


def linear_stage_se(model: object, covariance: np.ndarray, F_new: np.ndarray) -> np.ndarray:
    """Standard errors of the stage's predictions at ``F_new`` from :func:`linear_stage_covariance`."""
    Z_new = _stage_design(model, F_new)
    return np.sqrt(np.maximum(np.einsum("ij,jk,ik->i", Z_new, covariance, Z_new), 0.0))


def _stage_design(model: Pipeline, F: np.ndarray) -> np.ndarray:
    """The ridge's own inputs (after the pipeline's column choice and scaling) with an intercept column."""
    return np.column_stack([np.ones(len(F)), model[:-1].transform(F)])


@dataclass(frozen=True)
class LinearStageInterval:
    """What a per-row uplift interval needs from a fitted linear second stage: its coefficient covariance and
    the t quantile for the users it was fitted on. The audit builds one per fold, :class:`UpliftModel` one at
    fit time for the users it scores later."""

    model: Pipeline
    covariance: np.ndarray
    critical: float

    @classmethod
    def fit(cls, model: object, F: np.ndarray, dr: np.ndarray,
            groups: np.ndarray | None) -> "LinearStageInterval | None":
        """None where the stage is not linear (trees): those rows get no interval."""
        covariance = linear_stage_covariance(model, F, dr, groups)
        if covariance is None:
            return None
        clusters = len(np.unique(groups)) if groups is not None else len(dr)
        return cls(model, covariance, critical_value(clusters))

    def half_width(self, F_new: np.ndarray) -> np.ndarray:
        """Half the width of the 95% interval of the stage's prediction at each row of ``F_new``."""
        return self.critical * linear_stage_se(self.model, self.covariance, F_new)

    def sum_half_width(self, F_new: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """Half the width of the 95% interval of each weighted sum ``weights @ prediction`` (one row of weights
        per sum): a list's predicted total is linear in the coefficients, so its variance is zᵀΣz with z the
        weighted sum of the rows' design, not the sum of the rows' variances."""
        z = np.atleast_2d(weights) @ _stage_design(self.model, F_new)
        return self.critical * np.sqrt(np.maximum(np.einsum("ij,jk,ik->i", z, self.covariance, z), 0.0))


class SelectedUpliftRegressor(RegressorMixin, BaseEstimator):
    """:func:`fit_uplift_regressor` as a scikit-learn regressor, for EconML's DRLearner ``model_final``. EconML
    hands its final stage no user ids, so the held-out rows that choose the candidate are not grouped by user.
    On Nie & Wager's setups (benchmarks/cate_designs.py) it replaced a fixed 200-tree XGBoost final stage that
    learned the pseudo-outcomes' noise."""

    def __init__(self, random_state: int = 0):
        self.random_state = random_state

    def fit(self, X: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None = None) -> "SelectedUpliftRegressor":
        if sample_weight is not None:
            raise ValueError("the selected uplift regressor takes no sample weights")
        self.model_ = fit_uplift_regressor(np.asarray(X, float), np.asarray(y, float), None, self.random_state)
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.model_.predict(np.asarray(X, float))


class UpliftModel(BaseEstimator):
    """``UpliftModel(roles).fit(log).predict(candidates)`` → ``uplift`` (with an interval where the second stage
    is linear, see :func:`linear_stage_covariance`) and ``relevance`` per row. ``held_out_`` keeps, per log row
    in the log's order, what the audit's table holds: exposure, outcome, the propensity the weights use, the
    uplift of a second stage fitted without that row's user, the out-of-fold outcome models and the doubly robust
    score — so the model's lists can be valued on the log off policy, as ``recuplift rank`` values an audit's."""

    def __init__(self, roles: Roles | None = None, encoder: TextEncoder | None = None, n_folds: int = 3,
                 random_state: int = 0):
        self.roles = roles
        self.encoder = encoder
        self.n_folds = n_folds
        self.random_state = random_state

    def _features(self, sets: AdjustmentSets, mu0: np.ndarray, mu1: np.ndarray) -> np.ndarray:
        """The second stage's inputs: the richest rung, the modifiers and the plug-in columns."""
        frame = pd.concat([sets.frame(self.rung_), sets.modifiers], axis=1)
        return np.column_stack([frame.to_numpy(float), plug_in_features(mu0, mu1)])

    def fit(self, df: pd.DataFrame) -> "UpliftModel":
        check_fold_settings(self.n_folds, self.random_state)
        report = validate(df, self.roles, n_folds=self.n_folds)
        roles = report.roles
        self.warnings_ = [str(w) for w in report.warnings]  # the log's data warnings, as the audit prints them
        data = df.reset_index(drop=True)
        y = data[roles.outcome].to_numpy(float)
        t = data[roles.treatment].to_numpy().astype(int)
        groups = data[roles.user_id].to_numpy() if roles.user_id else None
        propensity = data[roles.propensity].to_numpy(float) if roles.propensity else None
        self.sets_ = build_adjustment_sets(data, roles, encoder=self.encoder, random_state=self.random_state)
        self.rung_ = self.sets_.rungs()[-1]
        W = self._confounders(self.sets_)
        nuisances = cross_fit(y, t, W, groups, propensity, self.n_folds, self.random_state)
        binary = bool(np.isin(y, (0, 1)).all())
        # unseen users get plug-in predictions from each arm's model fitted on every row (out of fold while fitting)
        self.arm_models_ = [ArmOutcome.fit(binary, W[t == arm], y[t == arm], self.random_state,
                                           None if groups is None else groups[t == arm]) for arm in (0, 1)]
        F = self._features(self.sets_, nuisances.mu0, nuisances.mu1)
        dr = dr_scores(y, t, nuisances)
        self.uplift_model_ = fit_uplift_regressor(F, dr, groups, self.random_state, n_plug_in=PLUG_IN_COLUMNS)
        self.uplift_interval_ = LinearStageInterval.fit(self.uplift_model_, F, dr, groups)  # None: trees
        # the log's rows scored by the chosen second stage refitted without their users: lists chosen by them
        # can be valued from the DR scores, beside what the model predicted for them (how far it shrinks)
        held_out = np.empty(len(dr))
        for train, test in folds(len(dr), groups, self.n_folds, self.random_state):
            held_out[test] = clone(self.uplift_model_).fit(F[train], dr[train]).predict(F[test])
        self.held_out_ = pd.DataFrame({  # the audit's per-row table (causal.AuditResult.uplift), ranking's input
            "exposed": t, "outcome": y, "propensity": nuisances.clipped_propensity(), "uplift": held_out,
            "outcome_if_shown": nuisances.mu1, "outcome_if_not_shown": nuisances.mu0, "dr_score": dr})
        return self

    def _confounders(self, sets: AdjustmentSets) -> np.ndarray:
        W = sets.matrix(self.rung_)
        return W if W.shape[1] else np.zeros((len(W), 1))

    def _stage_inputs(self, df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """The second stage's inputs for new rows, and their predicted outcome if shown."""
        sets = self.sets_.transform(df.reset_index(drop=True))
        mu0, mu1 = (model.predict(self._confounders(sets)) for model in self.arm_models_)
        return self._features(sets, mu0, mu1), mu1

    def predict(self, df: pd.DataFrame) -> pd.DataFrame:
        check_is_fitted(self, "uplift_model_")
        check_frame(df)
        if len(df) == 0:
            return pd.DataFrame(columns=["uplift", "uplift_ci_low", "uplift_ci_high", "relevance"], index=df.index,
                                dtype=float)
        F, mu1 = self._stage_inputs(df)
        uplift = self.uplift_model_.predict(F)
        half_width = (np.full(len(F), np.nan) if self.uplift_interval_ is None else
                      self.uplift_interval_.half_width(F))
        return pd.DataFrame({"uplift": uplift, "uplift_ci_low": uplift - half_width, "uplift_ci_high": uplift + half_width,
                             "relevance": mu1}, index=df.index)

    def predict_sums(self, df: pd.DataFrame, weights: np.ndarray) -> pd.DataFrame:
        """``weights @ uplift`` for each row of ``weights`` (e.g. a list's items over its users), with a 95%
        interval where the second stage is linear — for the best linear predictor of the effect, as the per-row
        intervals are; NaN bounds for trees."""
        check_is_fitted(self, "uplift_model_")
        weights = np.atleast_2d(np.asarray(weights, float))
        if weights.shape[1] != len(df):
            raise ValueError(f"weights have {weights.shape[1]} columns for {len(df)} rows")
        F, _ = self._stage_inputs(df)
        total = weights @ self.uplift_model_.predict(F)
        half_width = (np.full(len(total), np.nan) if self.uplift_interval_ is None else
                      self.uplift_interval_.sum_half_width(F, weights))
        return pd.DataFrame({"estimate": total, "ci_low": total - half_width, "ci_high": total + half_width})
