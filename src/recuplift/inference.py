"""Cluster-robust inference: a user's rows are not independent, so standard errors sum influence by user.

Every estimator in the registry reduces to a mean of per-row influence values ψ_i; the variance of that
mean is estimated from per-user sums (the CR1 small-sample correction G/(G-1) included). Row-level i.i.d.
formulas — what the libraries give — understate the error when the same user appears in many rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class Interval:
    estimate: float
    se: float
    ci_low: float
    ci_high: float

    def to_dict(self) -> dict[str, float]:
        return {"estimate": self.estimate, "se": self.se, "ci_low": self.ci_low, "ci_high": self.ci_high}


def cluster_se(centered_influence: np.ndarray, groups: np.ndarray | None) -> float:
    """Standard error of a mean whose centered per-row influence is given, clustered by ``groups``.

    With ``groups=None`` each row is its own cluster (the ordinary robust standard error).
    """
    psi = np.asarray(centered_influence, dtype=float)
    n = len(psi)
    if groups is None:
        sums = psi
    else:
        _, codes = np.unique(groups, return_inverse=True)
        sums = np.bincount(codes, weights=psi)
    g = len(sums)
    if g < 2:
        return float("nan")
    return float(np.sqrt(g / (g - 1) * np.sum(sums**2)) / n)


def interval_from_influence(estimate: float, centered_influence: np.ndarray, groups: np.ndarray | None,
                            alpha: float = 0.05) -> Interval:
    """Normal-approximation interval ``estimate ± z·SE`` with a cluster-robust SE."""
    se = cluster_se(centered_influence, groups)
    z = stats.norm.ppf(1 - alpha / 2)
    return Interval(float(estimate), se, float(estimate - z * se), float(estimate + z * se))


def mean_interval(values: np.ndarray, groups: np.ndarray | None, alpha: float = 0.05) -> Interval:
    """Interval for the mean of ``values`` (e.g. doubly robust scores), clustered by ``groups``."""
    values = np.asarray(values, dtype=float)
    estimate = float(values.mean())
    return interval_from_influence(estimate, values - estimate, groups, alpha)
