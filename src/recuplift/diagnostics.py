"""Diagnostics that say whether an estimate can be trusted: overlap, balance, nuisance quality, uplift
validation on held-out folds, confounding shared by an item's or a user's rows, and sensitivity (E-value)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import statsmodels.api as sm

from .metrics import auuc

OVERLAP_BOUNDS = (0.01, 0.99)
OVERLAP_MAX_OUTSIDE = 0.05
SEPARATION_AUC = 0.99  # the propensity's AUC from which the arms barely overlap (our simulator's logs: 0.56-0.58)
SMD_THRESHOLD = 0.1
# how many standard errors from 0 the shared-confounding bias must lie to be reported. 4 while the read took IPW
# means of residuals (weighted by 1/e², heavy-tailed: |z| reached 3.7 on generators without a shared confounder);
# with Hájek means, on 230 reads of 115 audits of such generators (exploratory, fresh seeds included) |z| reached
# 3.5 and two reads under sparse loggers were named, moving estimates that still covered away from the truth,
# while on our simulator the user-shared bias (z 1.7 to 5.2) was named in 6 of 10 runs and coverage rose to 10 of 10
SHARED_CONFOUNDING_Z = 3.0


def overlap(propensity: np.ndarray, t: np.ndarray) -> dict[str, Any]:
    """Share of rows whose propensity sits outside [0.01, 0.99], how well it separates the arms (AUC), and a
    histogram by arm. It passes when at most 5% lie outside and the AUC stays below 0.99: on a small log a
    covariate that decides exposure keeps its estimated propensities inside the bounds (800 rows: 0.019 and
    0.987), yet ranks every exposed row above every unexposed one."""
    from sklearn.metrics import roc_auc_score

    e, t = np.asarray(propensity, float), np.asarray(t)
    lo, hi = OVERLAP_BOUNDS
    outside = float(((e < lo) | (e > hi)).mean())
    separation = float(roc_auc_score(t, e)) if len(np.unique(t)) == 2 else float("nan")
    edges = np.linspace(0, 1, 21)
    return {"share_outside": outside, "separation_auc": separation,
            "passed": outside <= OVERLAP_MAX_OUTSIDE and not separation >= SEPARATION_AUC, "bounds": [lo, hi],
            "min": float(e.min()), "max": float(e.max()), "edges": edges.tolist(),
            "exposed": np.histogram(e[t == 1], edges)[0].tolist(),
            "unexposed": np.histogram(e[t == 0], edges)[0].tolist()}


CALIBRATION_Z = 4.0           # a bin's exposure rate this many cluster-robust SEs from its mean propensity…
CALIBRATION_RATIO = (0.9, 1 / 0.9)  # …and off by over a tenth either way: the logged propensity is not the logger's
CALIBRATION_MIN_UNITS = 30    # users (or rows) a bin needs before its standard error is trusted


def propensity_calibration(propensity: np.ndarray, t: np.ndarray, groups: np.ndarray | None = None,
                           bins: int = 10) -> dict[str, Any]:
    """Does a logged propensity match who was exposed? Over all rows and within each decile of the propensity,
    the exposure rate against the mean propensity, with a z-score clustered by user (a user's exposures are not
    independent: a top-k list shows exactly k) whose variance is never taken below the binomial one. A log
    filtered after it was written (impressions dropped, a join), or a score logged in place of the logger's
    probability, fails; AIPW and IPW trust the column as given.
    ``calibrated`` is False when some bin is both clearly (|z| ≥ 4) and materially (by over a tenth) off."""
    e, t = np.asarray(propensity, float), np.asarray(t, float)
    units = np.arange(len(e)) if groups is None else pd.factorize(np.asarray(groups))[0]
    edges = np.unique(np.quantile(e, np.linspace(0, 1, bins + 1)))
    if len(edges) == 1:  # one propensity for every row (a randomized slot): a single bin
        edges = np.repeat(edges, 2)
    which = np.clip(np.searchsorted(edges, e, side="right") - 1, 0, len(edges) - 2)
    rows = []
    for label, mask in [("all rows", np.ones(len(e), bool))] + [
            (f"{edges[b]:.3g}–{edges[b + 1]:.3g}" if edges[b] < edges[b + 1] else f"{edges[b]:.3g}", which == b)
            for b in range(len(edges) - 1)]:
        if not mask.any():
            continue
        per_unit = np.bincount(units[mask], weights=t[mask] - e[mask])
        n_units = int(np.count_nonzero(np.bincount(units[mask])))
        # the clustered variance, but never below the binomial one the propensity itself implies: a bin of rare
        # exposures that holds none has residuals too alike to estimate it (20 SEs off for 4 missing exposures)
        total = float(per_unit.sum())
        se = float(np.sqrt(max(np.sum(per_unit ** 2), np.sum(e[mask] * (1 - e[mask])))))
        exact = abs(total) <= 1e-9 * mask.sum()  # e.g. a top-k list's k exposures against propensities k / n
        z = total / se if not exact and n_units >= CALIBRATION_MIN_UNITS else 0.0
        rows.append({"propensity": label, "rows": int(mask.sum()), "exposure_rate": float(t[mask].mean()),
                     "mean_propensity": float(e[mask].mean()), "z": z})
    off = [r for r in rows if abs(r["z"]) >= CALIBRATION_Z
           and not CALIBRATION_RATIO[0] <= r["exposure_rate"] / r["mean_propensity"] <= CALIBRATION_RATIO[1]]
    return {"calibrated": not off, "worst": max(off, key=lambda r: abs(r["z"])) if off else None, "bins": rows}


def standardized_mean_differences(X: pd.DataFrame, t: np.ndarray, weights: np.ndarray | None = None) -> pd.Series:
    """|mean(exposed) − mean(unexposed)| / pooled SD per column, optionally weighted."""
    values = X.to_numpy(dtype=float)
    w = np.ones(len(t)) if weights is None else np.asarray(weights, float)
    out = {}
    for j, col in enumerate(X.columns):
        x = values[:, j]
        ok = np.isfinite(x)
        m1 = np.average(x[ok & (t == 1)], weights=w[ok & (t == 1)])
        m0 = np.average(x[ok & (t == 0)], weights=w[ok & (t == 0)])
        sd = np.sqrt((np.var(x[ok & (t == 1)]) + np.var(x[ok & (t == 0)])) / 2)
        out[col] = abs(m1 - m0) / sd if sd > 0 else 0.0
    return pd.Series(out)


def balance(X: pd.DataFrame, t: np.ndarray, propensity: np.ndarray) -> pd.DataFrame:
    """SMD before and after inverse propensity weighting, for every confounder column."""
    e = np.asarray(propensity, float)
    weights = np.where(t == 1, 1 / e, 1 / (1 - e))
    table = pd.DataFrame({"before": standardized_mean_differences(X, t),
                          "after": standardized_mean_differences(X, t, weights)})
    return table.sort_values("before", ascending=False)


def balance_summary(table: pd.DataFrame) -> dict[str, Any]:
    return {"columns": int(len(table)), "max_smd_before": float(table["before"].max()) if len(table) else 0.0,
            "max_smd_after": float(table["after"].max()) if len(table) else 0.0,
            "share_above_0.1_after": float((table["after"] > SMD_THRESHOLD).mean()) if len(table) else 0.0,
            "passed": bool(len(table) == 0 or (table["after"] > SMD_THRESHOLD).mean() <= 0.05),
            "worst_after": table["after"].sort_values(ascending=False).head(10).to_dict()}


def best_linear_predictor(uplift: np.ndarray, dr: np.ndarray, groups: np.ndarray | None) -> dict[str, Any]:
    """BLP test of heterogeneity (Chernozhukov et al.): regress DR scores on the centered predicted uplift.

    A slope near 1 that is significantly above 0 says the predicted uplift captures real heterogeneity."""
    centered = uplift - uplift.mean()
    design = sm.add_constant(np.column_stack([centered]))
    kwargs = {"cov_type": "cluster", "cov_kwds": {"groups": pd.factorize(groups)[0]}} if groups is not None else {
        "cov_type": "HC1"}
    fit = sm.OLS(dr, design).fit(**kwargs)
    slope, se = float(fit.params[1]), float(fit.bse[1])
    return {"mean_effect": float(fit.params[0]), "heterogeneity_slope": slope, "slope_se": se,
            "slope_p_value": float(fit.pvalues[1]), "heterogeneity_detected": bool(fit.pvalues[1] < 0.05 and slope > 0)}


def uplift_validation(uplift_out_of_fold: np.ndarray, dr: np.ndarray, groups: np.ndarray | None) -> dict[str, Any]:
    """Qini/AUUC of held-out uplift predictions against DR scores, plus the BLP test."""
    return {"auuc": auuc(uplift_out_of_fold, dr), **best_linear_predictor(uplift_out_of_fold, dr, groups)}


def shared_confounding(exposed: np.ndarray, outcome: np.ndarray, propensity: np.ndarray, mu0: np.ndarray,
                       mu1: np.ndarray, groups: np.ndarray, across: np.ndarray | None = None,
                       estimand: str = "ate") -> dict[str, Any] | None:
    """The bias a doubly robust estimate takes from a confounder that the adjustment missed and that every row of
    a group shares — an item's popularity, a user's activity —, estimated from out-of-fold residuals.

    AIPW's bias is the mean over rows of δe·(δμ1/ê + δμ0/(1 − ê)), where δe = e − ê is what the propensity model
    misses and δμ what the outcome models miss. When a missed confounder is constant within a group, each group's
    rows reveal both: exposure residuals ``T − ê`` (over ê, or 1 − ê) estimate δe/ê, and each arm's outcome
    residuals, weighted by 1/ê (1/(1 − ê)) and divided by the sum of those weights — a Hájek mean — estimate δμ1
    (δμ0). The two are multiplied over pairs of a group's rows from different ``across`` units (other users for an
    item, other items for a user) — never a row with itself, nor two rows a unit shares, so a row's own noise and
    the other grouping's shared part stay out — then averaged over groups weighted by their rows. Groups whose
    other units' rows lack an arm the read needs are left out. Zero in expectation when nothing shared was missed,
    as with a logged propensity that is who was exposed. None when no group is left.

    Normalizing by the weights matters: an arm's residuals are seen with probability e, not ê, so an IPW mean of
    them (dividing by the group's row count) reads δμ1·e/ê, a third-order error that grows as propensities shrink
    and that a group's miss δe makes move with the read itself; the Hájek mean divides it out. Measured against
    the IPW mean on five generators (exploratory), it reads the user-shared bias our simulator leaves at +0.006
    where the IPW mean read +0.004, and under the film generator's sparse logger, whose AIPW is biased by −0.005,
    item reads of +0.004 on average where the IPW mean read +0.013.

    ``estimand="att"`` reads the doubly robust ATT's bias instead, mean(δe·δμ0/(1 − ê)) / P(exposed): the
    unexposed arm's term alone, over the share exposed.

    Groups are taken as independent for the standard error. An item's users also see other items, but a bootstrap
    that reweights users and items together (each row by its user's weight times its item's) read standard errors
    2 to 3.7 times these on our simulator and the interaction generator, with one-way reweighting of groups
    agreeing with them within 15%: for a product of residuals summed over pairs, whose variance is mostly each
    pair's own noise, that two-way bootstrap counts the noise once per grouping, so it was not adopted."""
    if estimand not in ("ate", "att"):
        raise ValueError(f"estimand must be 'ate' or 'att', not {estimand!r}")
    t = np.asarray(exposed, float)
    e = np.asarray(propensity, float)
    y = np.asarray(outcome, float)
    arms = {"untreated": (1 - t, 1 - e, y - np.asarray(mu0, float))}
    if estimand == "ate":
        arms["treated"] = (t, e, y - np.asarray(mu1, float))
    units = np.arange(len(t)) if across is None else np.asarray(across)
    columns = {"row": np.ones_like(t)}
    for arm, (in_arm, chance, residual) in arms.items():
        columns |= {f"{arm}_miss": (t - e) / chance, f"{arm}_residual": in_arm * residual / chance,
                    f"{arm}_weight": in_arm / chance}
    frame = pd.DataFrame({"group": pd.factorize(np.asarray(groups))[0], "unit": pd.factorize(units)[0], **columns})
    by_group = frame.groupby("group")[list(columns)].sum()
    by_unit = frame.groupby(["group", "unit"])[list(columns)].sum()

    def across_units(first: str, second: str) -> pd.Series:
        """Sum over each group's pairs of rows from different units of first × second."""
        return by_group[first] * by_group[second] - (by_unit[first] * by_unit[second]).groupby(level="group").sum()

    rows = by_group["row"]
    per_group = pd.Series(0.0, index=rows.index)
    usable = across_units("row", "row") > 0
    for arm in arms:
        weights = across_units(f"{arm}_weight", "row")
        usable &= weights > 0
        per_group += across_units(f"{arm}_miss", f"{arm}_residual") / weights.where(weights > 0)
    if not usable.any():
        return None
    per_group = per_group[usable].to_numpy() / (t.mean() if estimand == "att" else 1.0)
    weight = rows[usable].to_numpy(float)
    weight = weight / weight.sum()
    bias = float(weight @ per_group)
    k = len(per_group)
    se = float(np.sqrt(k / (k - 1) * np.sum(weight ** 2 * (per_group - bias) ** 2))) if k > 1 else float("nan")
    z = bias / se if se > 0 else float("nan")
    return {"bias": bias, "se": se, "z": float(z), "groups": int(k), "rows": int(rows[usable].sum())}


def subtract_shared_bias(interval: dict[str, Any], reads: dict[str, dict[str, Any]], critical: float) -> dict[str, Any]:
    """The doubly robust ``interval`` (``estimate``, ``se``) less each of ``reads``' bias (``bias``, ``se``), their
    variances added (the errors taken as independent), the interval ``± critical · se``. ``subtracted`` says what
    was taken off; ``uncorrected`` keeps the input."""
    estimate = float(interval["estimate"] - sum(read["bias"] for read in reads.values()))
    se = float(np.sqrt(interval["se"] ** 2 + sum(read["se"] ** 2 for read in reads.values())))
    return {**interval, "estimate": estimate, "se": se, "ci_low": estimate - critical * se,
            "ci_high": estimate + critical * se, "subtracted": {name: read["bias"] for name, read in reads.items()},
            "uncorrected": {key: interval[key] for key in ("estimate", "se", "ci_low", "ci_high")}}


def e_value(estimate: float, ci_low: float, ci_high: float, outcome: np.ndarray, exposed: np.ndarray) -> dict[str, Any]:
    """E-value (VanderWeele & Ding 2017): how strong an unobserved confounder would have to be, on the risk-ratio
    scale with both exposure and outcome, to explain the effect away.

    A 0/1 outcome converts the effect to a risk ratio against the unexposed rate. Any other outcome (minutes,
    revenue) has no risk to divide by, and a ratio of means would change when the outcome is shifted by a
    constant, so the effect is standardized by the outcome's pooled within-arm standard deviation, d, and turned
    into an approximate risk ratio exp(0.91 · d), as VanderWeele & Ding recommend for continuous outcomes."""
    y, t = np.asarray(outcome, float), np.asarray(exposed)

    def ev(rr: float) -> float:
        rr = max(rr, 1e-9)
        rr = rr if rr >= 1 else 1 / rr
        return float(rr + np.sqrt(rr * (rr - 1)))

    bound = ci_low if estimate > 0 else ci_high
    crosses_null = ci_low <= 0 <= ci_high
    if np.isin(y, (0.0, 1.0)).all():
        baseline = float(y[t == 0].mean())
        if baseline <= 0:
            return {"scale": "risk ratio", "e_value": float("nan"), "e_value_ci": float("nan"),
                    "undefined": "no outcome among the unexposed rows, so there is no risk to compare against"}
        rr, rr_bound = (baseline + estimate) / baseline, (baseline + bound) / baseline
        scale = "risk ratio"
    else:
        arms = [y[t == arm] for arm in (0, 1)]
        sd = float(np.sqrt(sum((len(a) - 1) * a.var(ddof=1) for a in arms) / (len(y) - 2)))
        if not sd > 0:
            return {"scale": "standardized difference", "e_value": float("nan"), "e_value_ci": float("nan"),
                    "undefined": "the outcome does not vary within the arms"}
        rr, rr_bound = float(np.exp(0.91 * estimate / sd)), float(np.exp(0.91 * bound / sd))
        scale = "standardized difference"
    return {"scale": scale, "risk_ratio": float(rr), "e_value": ev(rr), "e_value_ci": 1.0 if crosses_null else ev(rr_bound)}
