"""Uplift metrics: Qini curve and AUUC from doubly robust scores, uplift by decile, PEHE.

With observational data the true uplift of a row is unknown; its doubly robust score is an unbiased
(noisy) stand-in, so ranking quality is judged by how much DR-scored uplift the top of a ranking collects.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def qini_curve(scores: np.ndarray, dr: np.ndarray, points: int = 101) -> pd.DataFrame:
    """Cumulative DR uplift collected by targeting the top share q of rows ranked by ``scores``.

    ``random`` is what targeting the same share at random collects (a straight line)."""
    order = np.argsort(-np.asarray(scores), kind="stable")
    cumulative = np.concatenate([[0.0], np.cumsum(np.asarray(dr)[order])]) / len(dr)
    shares = np.linspace(0, 1, points)
    idx = np.round(shares * len(dr)).astype(int)
    return pd.DataFrame({"share": shares, "uplift": cumulative[idx], "random": shares * cumulative[-1]})


def auuc(scores: np.ndarray, dr: np.ndarray) -> float:
    """Area between the Qini curve and the random line (positive: the ranking finds uplift)."""
    curve = qini_curve(scores, dr)
    gap = (curve["uplift"] - curve["random"]).to_numpy()
    return float(np.sum((gap[1:] + gap[:-1]) / 2 * np.diff(curve["share"].to_numpy())))


def uplift_by_quantile(scores: np.ndarray, dr: np.ndarray, groups: np.ndarray | None = None,
                       q: int = 10) -> pd.DataFrame:
    """Mean DR score (the group's effect) with a clustered 95% interval, per quantile of predicted uplift."""
    from .inference import mean_interval

    bins = pd.qcut(pd.Series(scores).rank(method="first"), q, labels=False).to_numpy()
    rows = []
    for b in range(q):
        mask = bins == b
        interval = mean_interval(dr[mask], None if groups is None else groups[mask])
        rows.append({"quantile": b + 1, "predicted": float(np.mean(np.asarray(scores)[mask])),
                     "effect": interval.estimate, "ci_low": interval.ci_low, "ci_high": interval.ci_high,
                     "rows": int(mask.sum())})
    return pd.DataFrame(rows)


def pehe(estimate: np.ndarray, truth: np.ndarray) -> float:
    """sqrt of the mean squared error of per-row effects (precision in estimating heterogeneous effects)."""
    return float(np.sqrt(np.mean((np.asarray(estimate) - np.asarray(truth)) ** 2)))
