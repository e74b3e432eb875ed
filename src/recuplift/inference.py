"""Cluster-robust inference: a user's rows are not independent, so standard errors sum influence by user.

Every estimator in the registry reduces to a mean of per-row influence values ψ_i; the variance of that
mean is estimated from per-user sums (the CR1 small-sample correction G/(G-1) included). Row-level i.i.d.
formulas — what the libraries give — understate the error when the same user appears in many rows.
Intervals and p-values read the SE against Student's t with G − 1 degrees of freedom (Cameron & Miller 2015):
with a few dozen users a normal quantile undercovers (about 91.5% for a nominal 95% with 10 users, 93.6% with
20), and with thousands the two agree to 0.1%.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse, stats


@dataclass(frozen=True)
class Interval:
    estimate: float
    se: float
    ci_low: float
    ci_high: float
    df: float = float("inf")  # degrees of freedom of the t reference: clusters − 1

    def to_dict(self) -> dict[str, float]:
        return {"estimate": self.estimate, "se": self.se, "ci_low": self.ci_low, "ci_high": self.ci_high}

    def p_value(self) -> float:
        """Two-sided p-value of no effect, on the same t reference as the interval."""
        if not self.se > 0:
            return 1.0 if self.estimate == 0 else 0.0
        return float(2 * stats.t.sf(abs(self.estimate / self.se), self.df))


def _cluster_sums(psi: np.ndarray, groups: np.ndarray | None) -> np.ndarray:
    """Per-cluster sums of per-row values (a vector) or of per-row score vectors (rows of a matrix)."""
    if groups is None:
        return psi
    _, codes = np.unique(groups, return_inverse=True)
    if psi.ndim == 1:
        return np.bincount(codes, weights=psi)
    codes = codes.reshape(-1)
    indicator = sparse.csr_matrix((np.ones(len(codes)), (codes, np.arange(len(codes)))))  # cluster × row
    return np.asarray(indicator @ psi)


def _se_from_sums(sums: np.ndarray, n: int) -> float:
    g = len(sums)
    if g < 2:
        return float("nan")
    return float(np.sqrt(g / (g - 1) * np.sum(sums**2)) / n)


def cluster_se(centered_influence: np.ndarray, groups: np.ndarray | None) -> float:
    """Standard error of a mean whose centered per-row influence is given, clustered by ``groups``.

    With ``groups=None`` each row is its own cluster (the ordinary robust standard error).
    """
    psi = np.asarray(centered_influence, dtype=float)
    return _se_from_sums(_cluster_sums(psi, groups), len(psi))


def cluster_covariance(scores: np.ndarray, groups: np.ndarray | None) -> np.ndarray:
    """The meat of a cluster-robust sandwich: Σ_g s_g s_gᵀ over per-cluster sums s_g of per-row score vectors
    (for a regression, row × residual), with the CR1 factor G/(G−1)."""
    sums = _cluster_sums(np.asarray(scores, dtype=float), groups)
    g = len(sums)
    return g / max(g - 1, 1) * sums.T @ sums


def critical_value(n_clusters: int, alpha: float = 0.05) -> float:
    """The two-sided Student's t quantile with (clusters − 1) degrees of freedom that every interval here uses."""
    return float(stats.t.ppf(1 - alpha / 2, max(n_clusters - 1, 1)))


def interval_from_influence(estimate: float, centered_influence: np.ndarray, groups: np.ndarray | None,
                            alpha: float = 0.05) -> Interval:
    """``estimate ± t·SE`` with a cluster-robust SE and t from Student's t with (clusters − 1) degrees of freedom.
    ``estimate`` need not be the mean the influence belongs to (a mean CATE with its doubly robust scores' SE)."""
    psi = np.asarray(centered_influence, dtype=float)
    sums = _cluster_sums(psi, groups)
    se, df = _se_from_sums(sums, len(psi)), float(max(len(sums) - 1, 1))
    t = critical_value(len(sums), alpha)
    return Interval(float(estimate), se, float(estimate - t * se), float(estimate + t * se), df)


def mean_interval(values: np.ndarray, groups: np.ndarray | None, alpha: float = 0.05) -> Interval:
    """Interval for the mean of ``values`` (e.g. doubly robust scores), clustered by ``groups``."""
    values = np.asarray(values, dtype=float)
    estimate = float(values.mean())
    return interval_from_influence(estimate, values - estimate, groups, alpha)
