"""Cluster-robust intervals cover at the nominal rate on a clustered design; row-level ones do not."""

from __future__ import annotations

import numpy as np

from recuplift.estimators import make_estimator
from recuplift.inference import cluster_se, mean_interval


def clustered_design(rng, n_users=200, rows_per_user=20, effect=0.3):
    users = np.repeat(np.arange(n_users), rows_per_user)
    user_shift = rng.normal(0, 1.0, n_users)[users]  # strong within-user correlation
    user_exposure = rng.random(n_users)[users]  # exposure also clusters by user
    t = (rng.random(len(users)) < 0.2 + 0.6 * user_exposure).astype(int)
    y = user_shift + effect * t + rng.normal(0, 0.5, len(users))
    return y, t, users, effect


def test_cluster_se_reduces_to_robust_se_without_groups():
    x = np.random.default_rng(0).normal(size=1000)
    centered = x - x.mean()
    assert abs(cluster_se(centered, None) - x.std(ddof=1) / np.sqrt(len(x))) < 1e-3


def test_cluster_robust_intervals_cover_and_iid_ones_do_not():
    rng = np.random.default_rng(1)
    cover_cluster, cover_iid = [], []
    for _ in range(200):
        y, t, users, _ = clustered_design(rng)
        truth = 0.0  # the population mean of the user shifts
        shifted = y - 0.3 * t
        cover_cluster.append(mean_interval(shifted, users).ci_low <= truth <= mean_interval(shifted, users).ci_high)
        iid = mean_interval(shifted, None)
        cover_iid.append(iid.ci_low <= truth <= iid.ci_high)
    assert np.mean(cover_cluster) >= 0.9
    assert np.mean(cover_iid) < 0.6


def test_estimator_intervals_are_clustered_by_user():
    rng = np.random.default_rng(2)
    widths = []
    for _ in range(60):
        y, t, users, _ = clustered_design(rng, n_users=150, rows_per_user=10)
        W = np.zeros((len(y), 1))
        clustered = make_estimator("naive").fit(y, t, W, groups=users)
        iid = make_estimator("naive").fit(y, t, W)
        widths.append((clustered.ate_.ci_high - clustered.ate_.ci_low) / (iid.ate_.ci_high - iid.ate_.ci_low))
    assert np.median(widths) > 1.3, "clustered intervals must be wider when exposure clusters by user"


def test_with_few_users_intervals_read_student_t_and_still_cover():
    """Ten users: the CR1 standard error against a normal quantile covers about 91%; against t with 9 degrees of
    freedom, 95%. The p-value uses the same reference, so it agrees with the interval."""
    rng = np.random.default_rng(3)
    covered = []
    for _ in range(3000):
        users = np.repeat(np.arange(10), 50)
        values = 0.7 * rng.normal(size=10)[users] + rng.normal(size=len(users))
        interval = mean_interval(values, users)
        covered.append(interval.ci_low <= 0 <= interval.ci_high)
        assert (interval.p_value() < 0.05) == (not covered[-1])
    assert interval.df == 9
    assert np.mean(covered) >= 0.935
