"""The registry of effect estimators, all with XGBoost nuisance models and cluster-robust intervals.

Every estimator follows scikit-learn's contract (``__init__`` stores parameters, ``fit`` returns ``self``,
learned state ends in ``_``) and exposes, after ``fit``:

- ``ate_`` and ``att_``: :class:`~recuplift.inference.Interval` with 95% intervals clustered by user;
- ``cate_``: per-row effect on the fitted rows (``None`` for ATE-only estimators), and ``cate_interval_``
  where the method gives one;
- ``notes_``: what the analyst should know (clipping, fallbacks).

EconML does the heavy lifting for the orthogonal and meta-learners; this module adds what it lacks:
logged propensities, clustered intervals, and one interface. The point estimate of a CATE learner's ATE is
the mean of its CATE; its standard error comes from the clustered doubly robust (AIPW) scores — the
efficient influence function — computed with the shared cross-fitted nuisances.
"""

from __future__ import annotations

import time
import warnings
from numbers import Integral, Real
from typing import Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import Interval as Range  # .inference has an Interval of its own

from .choices import unknown_choice
from .inference import Interval, interval_from_influence
from .nuisance import (Nuisances, cross_fit, dr_scores, propensity_floor, propensity_model, regression_model,
                       treatment_model)
from .schema import MAX_SEED


class EffectEstimator(BaseEstimator):
    """Base class: the shared ``fit`` plumbing (nuisances, ATT, timing) around ``_estimate``.

    ``n_estimators``: boosting rounds of every nuisance model on a fixed schedule (the propensity model, and
    EconML's learners' models); the arm-wise outcome models of the doubly robust scores stop early instead.
    ``clip``: where estimated propensities are clipped (default: :func:`~recuplift.nuisance.propensity_floor`)."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    needs_nuisances: ClassVar[bool] = True
    gives_cate: ClassVar[bool] = False
    # scikit-learn's parameter validation: a wrong setting is named before any work, not met deep inside torch
    _parameter_constraints: ClassVar[dict] = {
        "n_folds": [Range(Integral, 2, None, closed="left")],
        "random_state": [Range(Integral, 0, MAX_SEED, closed="both")],
        "clip": [Range(Real, 0, 0.5, closed="neither"), None],
        "n_estimators": [Range(Integral, 1, None, closed="left")],
    }

    def __init__(self, n_folds: int = 3, random_state: int = 0, clip: float | None = None,
                 n_estimators: int = 300):
        self.n_folds = n_folds
        self.random_state = random_state
        self.clip = clip
        self.n_estimators = n_estimators

    def fit(self, y: np.ndarray, t: np.ndarray, W: np.ndarray, X: np.ndarray | None = None,
            groups: np.ndarray | None = None, propensity: np.ndarray | None = None,
            nuisances: Nuisances | None = None) -> "EffectEstimator":
        """Estimate effects of ``t`` on ``y`` adjusting for ``W``; ``X`` are effect modifiers (optional),
        ``groups`` the user ids for clustering and grouped cross-fitting, ``propensity`` the logged one."""
        self.check_settings()
        start = time.perf_counter()
        y = np.asarray(y, dtype=float)
        t = np.asarray(t, dtype=int)
        W = np.asarray(W, dtype=float) if W is not None else np.zeros((len(y), 0))
        if W.shape[1] == 0:
            W = np.zeros((len(y), 1))  # "no adjustment": a constant column keeps every learner valid
        self.notes_: list[str] = []
        self.clip_ = propensity_floor(len(y)) if self.clip is None else self.clip  # for estimated propensities
        if nuisances is None and self.needs_nuisances:
            nuisances = cross_fit(y, t, W, groups, propensity, self.n_folds, self.random_state, self.clip_,
                                  self.n_estimators)
        self.nuisances_ = nuisances
        if nuisances is not None:
            self.notes_.extend(_propensity_notes(nuisances))
        self.cate_: np.ndarray | None = None
        self.cate_interval_: np.ndarray | None = None
        self._estimate(y, t, W, X, groups, propensity)
        if not hasattr(self, "att_"):
            self.att_ = self._att_from_cate(y, t, groups)
        self.seconds_ = time.perf_counter() - start
        return self

    def check_settings(self) -> "EffectEstimator":
        """Raise ValueError for a setting this estimator cannot fit with, before any work."""
        self._validate_params()
        return self

    def _estimate(self, y: np.ndarray, t: np.ndarray, W: np.ndarray, X: np.ndarray | None,
                  groups: np.ndarray | None, propensity: np.ndarray | None) -> None:
        raise NotImplementedError

    def size_problem(self, t: np.ndarray, n_features: int = 1) -> str | None:
        """Why this estimator cannot fit these exposures with ``n_features`` features (None when it can): checked
        before any work starts, so a log too big for an estimator fails at once, not an hour into the fit."""
        return None

    def effect(self, W: np.ndarray, X: np.ndarray | None = None) -> np.ndarray:
        """Per-row effect on new rows (CATE learners only)."""
        raise TypeError(f"{self.name} estimates an average effect only; use a CATE estimator for per-row uplift")

    # -- shared pieces -------------------------------------------------------------------------------------
    def _ate_from_cate(self, cate: np.ndarray, y: np.ndarray, t: np.ndarray, groups: np.ndarray | None) -> Interval:
        """Mean CATE with the clustered SE of the doubly robust scores."""
        scores = dr_scores(y, t, self.nuisances_)
        return interval_from_influence(float(np.mean(cate)), scores - scores.mean(), groups)

    def _att_from_cate(self, y: np.ndarray, t: np.ndarray, groups: np.ndarray | None) -> Interval:
        """ATT: mean CATE over exposed rows when there is a CATE, else the doubly robust ATT."""
        att_dr, psi = _dr_att(y, t, self.nuisances_)
        if self.cate_ is None:
            return interval_from_influence(att_dr, psi, groups)
        return interval_from_influence(float(self.cate_[t == 1].mean()), psi, groups)

    def result(self, adjustment: str = "") -> dict[str, Any]:
        """One row of the estimates table (JSON-safe)."""
        return {"estimator": self.name, "adjustment": adjustment, "ate": self.ate_.estimate,
                "ci_low": self.ate_.ci_low, "ci_high": self.ate_.ci_high, "se": self.ate_.se,
                "att": self.att_.estimate, "att_ci_low": self.att_.ci_low, "att_ci_high": self.att_.ci_high,
                "att_se": self.att_.se, "seconds": self.seconds_, "notes": list(self.notes_)}


def _propensity_notes(nuisances: Nuisances) -> list[str]:
    """What the weights did with extreme propensities: clipped when estimated; used as they are when logged."""
    bounds = f"[{nuisances.clip:.4g}, {1 - nuisances.clip:.4g}]"
    if nuisances.n_clipped:
        return [f"{nuisances.n_clipped} estimated propensities clipped to {bounds}"]
    e = nuisances.propensity
    extreme = (e < nuisances.clip) | (e > 1 - nuisances.clip)
    if nuisances.propensity_source != "logged" or not extreme.any():
        return []
    largest = float(np.max(1 / np.minimum(e, 1 - e)))
    return [f"{int(extreme.sum())} logged propensities lie outside {bounds}; used as logged, unclipped (clipping a "
            f"known propensity only biases), so weights reach {largest:,.0f} and the interval widens"]


def _dr_att(y: np.ndarray, t: np.ndarray, nuisances: Nuisances) -> tuple[float, np.ndarray]:
    """Doubly robust ATT and its centered influence."""
    e = nuisances.clipped_propensity()
    share = t.mean()
    resid0 = y - nuisances.mu0
    numerator = t * resid0 - (1 - t) * e / (1 - e) * resid0
    att = float(numerator.mean() / share)
    return att, (numerator - t * att) / share


class NaiveDifference(EffectEstimator):
    name = "naive"
    description = "exposed minus unexposed mean; no adjustment (the number a dashboard shows)"
    needs_nuisances = False

    def _estimate(self, y, t, W, X, groups, propensity):
        share = t.mean()
        m1, m0 = y[t == 1].mean(), y[t == 0].mean()
        psi = t * (y - m1) / share - (1 - t) * (y - m0) / (1 - share)
        self.ate_ = interval_from_influence(m1 - m0, psi, groups)
        self.att_ = self.ate_


class IPW(EffectEstimator):
    name = "ipw"
    description = "inverse propensity weighting (normalized), logged propensity when the log has one"

    def _estimate(self, y, t, W, X, groups, propensity):
        e = self.nuisances_.clipped_propensity()
        w1, w0 = t / e, (1 - t) / (1 - e)
        m1 = np.sum(w1 * y) / np.sum(w1)
        m0 = np.sum(w0 * y) / np.sum(w0)
        psi = w1 * (y - m1) / w1.mean() - w0 * (y - m0) / w0.mean()
        self.ate_ = interval_from_influence(m1 - m0, psi, groups)
        share = t.mean()
        wa = (1 - t) * e / (1 - e)
        m1t = y[t == 1].mean()
        m0a = np.sum(wa * y) / np.sum(wa)
        psi_att = t * (y - m1t) / share - wa * (y - m0a) / wa.mean()
        self.att_ = interval_from_influence(m1t - m0a, psi_att, groups)
        self.notes_.append(f"propensity: {self.nuisances_.propensity_source}")


class AIPW(EffectEstimator):
    name = "aipw"
    description = "augmented IPW (doubly robust) with cross-fitted XGBoost outcome models"

    def _estimate(self, y, t, W, X, groups, propensity):
        scores = dr_scores(y, t, self.nuisances_)
        self.ate_ = interval_from_influence(scores.mean(), scores - scores.mean(), groups)
        self.notes_.append(f"propensity: {self.nuisances_.propensity_source}")


class LinearDML(EffectEstimator):
    name = "linear_dml"
    description = "EconML LinearDML: partialling out with XGBoost, effect linear in the modifiers"
    gives_cate = True

    def _estimate(self, y, t, W, X, groups, propensity):
        from econml.dml import LinearDML as EconLinearDML

        model = EconLinearDML(model_y=regression_model(self.random_state, self.n_estimators),
                              model_t=treatment_model(self.random_state, self.n_estimators),
                              discrete_treatment=True, cv=self.n_folds, random_state=self.random_state)
        with warnings.catch_warnings():
            # a categorical modifier's full set of levels beside the intercept leaves EconML's final-stage design
            # short of full rank, and it warns that its own inference is invalid; the intervals here are ours,
            # cluster-robust from the residuals below, and the effects are the same in every solution
            warnings.filterwarnings("ignore", message="Co-variance matrix is underdetermined", category=UserWarning)
            model.fit(y, t, X=X, W=W, groups=groups, cache_values=True)
        self.model_ = model
        y_res, t_res = (np.asarray(r, dtype=float).reshape(len(y), -1) for r in model.residuals_[:2])
        Z = np.ones((len(y), 1)) if X is None else np.column_stack([np.ones(len(y)), X])
        phi = t_res[:, :1] * Z
        bread = np.linalg.pinv(phi.T @ phi / len(y))
        beta = bread @ (phi.T @ y_res[:, 0]) / len(y)
        psi_beta = (phi * (y_res[:, 0] - phi @ beta)[:, None]) @ bread.T  # per-row influence on beta
        cate = Z @ beta
        ate = float(cate.mean())
        psi_ate = psi_beta @ Z.mean(axis=0) + (cate - ate)
        self.ate_ = interval_from_influence(ate, psi_ate, groups)
        self.cate_ = cate
        cov_beta = _cluster_cov(psi_beta, groups)
        half = 1.959964 * np.sqrt(np.einsum("ij,jk,ik->i", Z, cov_beta, Z))
        self.cate_interval_ = np.column_stack([cate - half, cate + half])
        self.beta_, self.cov_beta_ = beta, cov_beta

    def effect(self, W, X=None):
        Z = np.ones((len(W), 1)) if X is None else np.column_stack([np.ones(len(X)), X])
        return Z @ self.beta_


def _cluster_cov(psi: np.ndarray, groups: np.ndarray | None) -> np.ndarray:
    n = len(psi)
    if groups is None:
        sums = psi
    else:
        _, codes = np.unique(groups, return_inverse=True)
        sums = np.stack([np.bincount(codes, weights=psi[:, j]) for j in range(psi.shape[1])], axis=1)
    g = len(sums)
    return g / (g - 1) * (sums.T @ sums) / n**2


class _EconCATE(EffectEstimator):
    """EconML CATE learners: heterogeneity features are the modifiers when given, else the confounders."""

    gives_cate = True

    def _features(self, W: np.ndarray, X: np.ndarray | None) -> np.ndarray:
        return W if X is None else np.column_stack([X, W])

    def _make(self) -> Any:
        raise NotImplementedError

    def _fit_model(self, model, y, t, W, X, groups):
        model.fit(y, t, X=self._features(W, X))

    def _estimate(self, y, t, W, X, groups, propensity):
        model = self._make()
        self._fit_model(model, y, t, W, X, groups)
        self.model_ = model
        self.cate_ = np.asarray(self.effect(W, X), dtype=float).ravel()
        self.ate_ = self._ate_from_cate(self.cate_, y, t, groups)

    def effect(self, W, X=None):
        return np.asarray(self.model_.effect(self._features(np.asarray(W, float), X)), dtype=float).ravel()


class CausalForest(_EconCATE):
    name = "causal_forest"
    description = "EconML CausalForestDML: honest forest on XGBoost residuals, per-row intervals"

    def _features(self, W, X):
        return W if X is None else X

    def _make(self):
        from econml.dml import CausalForestDML

        return CausalForestDML(model_y=regression_model(self.random_state, self.n_estimators),
                               model_t=treatment_model(self.random_state, self.n_estimators),
                               discrete_treatment=True, cv=self.n_folds, n_estimators=200,
                               min_samples_leaf=20, max_depth=12, random_state=self.random_state, n_jobs=-1)

    def _fit_model(self, model, y, t, W, X, groups):
        model.fit(y, t, X=self._features(W, X), W=None if X is None else W, groups=groups)

    def _estimate(self, y, t, W, X, groups, propensity):
        super()._estimate(y, t, W, X, groups, propensity)
        low, high = self.model_.effect_interval(self._features(W, X), alpha=0.05)
        self.cate_interval_ = np.column_stack([np.ravel(low), np.ravel(high)])


class DRLearner(_EconCATE):
    """EconML's DRLearner with the audit's second stage (:class:`~recuplift.upliftmodel.SelectedUpliftRegressor`:
    early-stopped trees or a ridge, whichever predicts held-out pseudo-outcomes better). A fixed 200-tree XGBoost
    final stage learned the pseudo-outcomes' noise: on Nie & Wager's setups A–D (500 rows) its √PEHE was
    1.6–2.9, worse than a T-learner (benchmarks/cate_designs.py)."""

    name = "dr_learner"
    description = "EconML DRLearner: doubly robust pseudo-outcomes regressed on features, final stage by held-out loss"

    def _make(self):
        from econml.dr import DRLearner as EconDRLearner

        from .upliftmodel import SelectedUpliftRegressor

        return EconDRLearner(model_propensity=propensity_model(self.random_state, self.n_estimators),
                             model_regression=regression_model(self.random_state, self.n_estimators),
                             model_final=SelectedUpliftRegressor(self.random_state), cv=self.n_folds,
                             min_propensity=self.clip_, random_state=self.random_state)

    def _fit_model(self, model, y, t, W, X, groups):
        model.fit(y, t, X=self._features(W, X), groups=groups)


class TLearner(_EconCATE):
    name = "t_learner"
    description = "EconML TLearner: one XGBoost outcome model per arm"

    def _make(self):
        from econml.metalearners import TLearner as EconTLearner

        return EconTLearner(models=regression_model(self.random_state, self.n_estimators))


class SLearner(_EconCATE):
    name = "s_learner"
    description = "EconML SLearner: one XGBoost model with exposure as a feature"

    def _make(self):
        from econml.metalearners import SLearner as EconSLearner

        return EconSLearner(overall_model=regression_model(self.random_state, self.n_estimators))


class XLearner(_EconCATE):
    name = "x_learner"
    description = "EconML XLearner: imputed effects per arm blended by the propensity"

    def _make(self):
        from econml.metalearners import XLearner as EconXLearner

        return EconXLearner(models=regression_model(self.random_state, self.n_estimators),
                            propensity_model=propensity_model(self.random_state, self.n_estimators))


class GaussianProcessTLearner(_EconCATE):
    """EconML TLearner with an exact Gaussian process per arm: an RBF kernel with one length scale per feature
    (features standardized; initial length √d, the scale of distances between standardized points) plus white
    noise, hyperparameters by marginal likelihood, the outcome normalized. A smooth prior that extrapolates
    differently from trees and networks, for small tabular studies. Fitting the length scales holds the kernel's
    gradient, rows² × (features + 2) numbers, and each optimizer step costs as much; an arm whose gradient would
    exceed ``max_kernel_mib`` is refused rather than left running for hours."""

    name = "gaussian_process"
    description = "EconML TLearner: one Gaussian process (ARD RBF + noise) per arm; small studies only"

    _parameter_constraints: ClassVar[dict] = {**EffectEstimator._parameter_constraints,
                                              "max_kernel_mib": [Range(Real, 0, None, closed="neither")]}

    def __init__(self, n_folds: int = 3, random_state: int = 0, clip: float | None = None,
                 n_estimators: int = 300, max_kernel_mib: float = 512):
        super().__init__(n_folds, random_state, clip, n_estimators)
        self.max_kernel_mib = max_kernel_mib

    def size_problem(self, t: np.ndarray, n_features: int = 1) -> str | None:
        largest = int(max(np.sum(t == 1), np.sum(t == 0)))
        need = largest ** 2 * (n_features + 2) * 8 / 2 ** 20
        if need <= self.max_kernel_mib:
            return None
        return (f"gaussian_process fits an exact Gaussian process per arm, whose kernel gradient holds rows² × "
                f"(features + 2) numbers: {largest:,} rows in the larger arm × {n_features:,} feature(s) need "
                f"{need:,.0f} MiB, over its limit of {self.max_kernel_mib:,g} MiB; use fewer features, or neural or "
                f"dr_learner for a log this size")

    def _make(self):
        from econml.metalearners import TLearner as EconTLearner
        from sklearn.gaussian_process import GaussianProcessRegressor
        from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        d = self.n_features_
        kernel = (ConstantKernel(1.0) * RBF(length_scale=np.full(d, np.sqrt(d)), length_scale_bounds=(1e-2, 1e3))
                  + WhiteKernel(0.1, noise_level_bounds=(1e-5, 10.0)))
        gp = GaussianProcessRegressor(kernel, normalize_y=True, random_state=self.random_state)
        return EconTLearner(models=make_pipeline(StandardScaler(), gp))

    def _estimate(self, y, t, W, X, groups, propensity):
        self.n_features_ = self._features(W, X).shape[1]
        problem = self.size_problem(t, self.n_features_)
        if problem:
            raise ValueError(problem)
        from sklearn.exceptions import ConvergenceWarning

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            super()._estimate(y, t, W, X, groups, propensity)
        edges = set()
        for w in caught:
            text = str(w.message)
            if not issubclass(w.category, ConvergenceWarning):
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
            elif not ("length_scale" in text and "upper bound" in text):  # a length scale at its upper bound is
                # how the kernel ignores a feature the arm's outcome does not use: not worth a note
                what = ("noise level" if "noise_level" in text else "amplitude" if "constant_value" in text
                        else "a feature's length scale")
                edges.add(f"{what} at its {'lower' if 'lower bound' in text else 'upper'} bound")
        if edges:
            self.notes_.append(f"Gaussian process {', '.join(sorted(edges))}: the fit may interpolate the outcome's "
                               f"noise or miss its scale; compare its effects with neural's")


class CateEnsemble(EffectEstimator):
    """The mean of several CATE learners' per-row effects (default: the neural network and the Gaussian
    process). Learners of different families err in different places — a network and a GP extrapolate
    differently — so their average is rarely far from the better one and often beats both (benchmarks/ihdp.py,
    benchmarks/cate_designs.py). Members share the cross-fitted nuisances (for the interval) and the seed; each
    fitted member stays in ``members_``, the same fit as that member alone with the same seed.
    ``members``: registered names, or estimator instances (cloned, their parameters kept)."""

    name = "ensemble"
    description = "mean per-row effect of several CATE learners (default: neural + gaussian_process)"
    gives_cate = True

    _parameter_constraints: ClassVar[dict] = {**EffectEstimator._parameter_constraints, "members": [tuple, list]}

    def __init__(self, members: tuple[Any, ...] = ("neural", "gaussian_process"), n_folds: int = 3,
                 random_state: int = 0, clip: float | None = None, n_estimators: int = 300):
        super().__init__(n_folds, random_state, clip, n_estimators)
        self.members = members

    def check_settings(self) -> "CateEnsemble":
        super().check_settings()
        for member in self._unfitted_members():  # a member that gives no per-row effect, or a wrong member setting
            member.check_settings()
        return self

    def _unfitted_members(self) -> list[EffectEstimator]:
        from sklearn.base import clone

        out = [make_estimator(m, n_folds=self.n_folds, random_state=self.random_state, clip=self.clip,
                              n_estimators=self.n_estimators) if isinstance(m, str) else clone(m)
               for m in self.members]
        names = [est.name for est in out]
        if not out:
            raise ValueError("an ensemble needs at least one member")
        if len(set(names)) < len(names):
            raise ValueError(f"ensemble members must differ; got {names}")
        flat = [name for name, est in zip(names, out) if not est.gives_cate]
        if flat:
            raise ValueError(f"ensemble members {flat} give no per-row effects; choose CATE learners "
                             f"({', '.join(n for n in estimator_names() if make_estimator(n).gives_cate)})")
        return out

    def size_problem(self, t: np.ndarray, n_features: int = 1) -> str | None:
        problems = [p for est in self._unfitted_members() if (p := est.size_problem(t, n_features))]
        return "; ".join(problems) or None

    def _estimate(self, y, t, W, X, groups, propensity):
        self.members_: dict[str, EffectEstimator] = {}
        for est in self._unfitted_members():
            est.fit(y, t, W, X, groups=groups, propensity=propensity, nuisances=self.nuisances_)
            self.members_[est.name] = est
            self.notes_ += [f"{est.name}: {note}" for note in est.notes_ if note not in self.notes_]
        self.cate_ = np.mean([est.cate_ for est in self.members_.values()], axis=0)
        self.ate_ = self._ate_from_cate(self.cate_, y, t, groups)

    def effect(self, W, X=None):
        return np.mean([est.effect(W, X) for est in self.members_.values()], axis=0)


def fitted_members(est: EffectEstimator) -> dict[str, EffectEstimator]:
    """An ensemble's fitted members by name (empty for any other estimator), to score each beside the whole."""
    return dict(est.members_) if isinstance(est, CateEnsemble) else {}


def _neural_class() -> type[EffectEstimator]:
    from .neural import NeuralDragonnet

    return NeuralDragonnet


REGISTRY: dict[str, type[EffectEstimator]] = {
    cls.name: cls for cls in (NaiveDifference, IPW, AIPW, LinearDML, CausalForest, DRLearner,
                              TLearner, SLearner, XLearner, GaussianProcessTLearner, CateEnsemble)
}


def estimator_names() -> list[str]:
    return [*REGISTRY, "neural"]


def make_estimator(name: str, **params: Any) -> EffectEstimator:
    """Build a registered estimator by name; unknown names get a clear error listing the known ones."""
    if name == "neural":
        return _neural_class()(**params)
    if name not in REGISTRY:
        raise ValueError(unknown_choice("estimator", name, estimator_names()))
    return REGISTRY[name](**params)
