"""Off-policy evaluation: what a new ranking or policy would have earned, estimated from a logged one.

Every estimator here reduces a log to four per-row terms (:class:`LoggedTerms`): the observed reward r, the
importance weight w = π_e(logged action) / π_b(logged action), the reward model's value of the target policy
on that row (``model_value`` = Σ_a π_e(a)·q̂(a)) and the model's prediction for the logged action
(``model_logged``). Two kinds of logs map onto them:

- **slate logs** (Open Bandit Dataset): a row is one item shown at one position; positions are treated as
  independent (the value of a slate is the sum over positions), the default of Open Bandit Pipeline;
- **candidate-exposure logs** (our data contract): a row is a user–candidate pair shown with probability p;
  the target policy shows it with probability q, so the "actions" are shown / not shown and
  w = Z·q/p + (1 − Z)(1 − q)/(1 − p). Candidates are treated as independent (no interference).

Estimators: IPS, SNIPS, DM, DR, switch-DR (DM where w > τ) and DR with optimistic shrinkage
(w̃ = λw/(w² + λ), Su et al. 2020). Intervals: percentile bootstrap over users (rows when no user id).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .choices import unknown_choice

ESTIMATORS = ("ips", "snips", "dm", "dr", "switch_dr", "dr_shrinkage")
SWITCH_TAU = 10.0      # switch-DR: rows whose weight exceeds τ get the model's value only
SHRINKAGE_LAMBDA = 10.0  # DR shrinkage: w̃ = λw/(w² + λ), λ on the weights' own scale
MIN_BOOTSTRAP = 20  # fewer resamples leave the 2.5% and 97.5% percentiles to one draw or none


@dataclass(frozen=True)
class LoggedTerms:
    """Per-row ingredients of every estimator; ``units`` turns sums over rows into values per unit (e.g.
    candidates per user, so the value reads 'outcomes per user'); ``clusters`` are the bootstrap's units."""

    reward: np.ndarray
    weight: np.ndarray
    model_value: np.ndarray
    model_logged: np.ndarray
    clusters: np.ndarray | None = None
    rows_per_unit: float = 1.0
    n_clipped: int = 0
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        arrays = [np.asarray(a, float) for a in (self.reward, self.weight, self.model_value, self.model_logged)]
        if len({len(a) for a in arrays}) != 1 or len(arrays[0]) == 0:
            raise ValueError("reward, weight, model_value and model_logged need the same, non-zero length")
        for name, a in zip(("reward", "weight", "model_value", "model_logged"), arrays):
            if not np.isfinite(a).all():
                raise ValueError(f"{name} has NaN or infinite values (e.g. a propensity of 0 or 1 on a logged action)")
        if (arrays[1] < 0).any():
            raise ValueError("importance weights must be ≥ 0")



def _row_values(terms: LoggedTerms, estimator: str) -> np.ndarray | None:
    """Per-row contributions whose mean is the estimate (None for the ratio estimator SNIPS)."""
    r, w, dm, ql = terms.reward, terms.weight, terms.model_value, terms.model_logged
    if estimator == "ips":
        return w * r
    if estimator == "dm":
        return dm
    if estimator == "dr":
        return dm + w * (r - ql)
    if estimator == "switch_dr":
        return dm + np.where(w <= SWITCH_TAU, w, 0.0) * (r - ql)
    if estimator == "dr_shrinkage":
        return dm + SHRINKAGE_LAMBDA * w / (w**2 + SHRINKAGE_LAMBDA) * (r - ql)
    if estimator == "snips":
        return None
    raise ValueError(unknown_choice("estimator", estimator, ESTIMATORS))


def estimate_value(terms: LoggedTerms, estimator: str) -> float:
    """The estimated value per unit (per row × rows per unit)."""
    rows = _row_values(terms, estimator)
    if rows is None:  # SNIPS: Σ w r / Σ w, scaled to a per-row mean
        total = terms.weight.sum()
        mean = float((terms.weight * terms.reward).sum() / total) if total > 0 else 0.0
    else:
        mean = float(rows.mean())
    return mean * terms.rows_per_unit


def bootstrap_weights(clusters: np.ndarray | None, n: int, n_bootstrap: int, rng: np.random.Generator) -> np.ndarray:
    """(n_bootstrap, n) row weights of a bootstrap over clusters (users) — each draw counts how often every
    user was drawn — or over rows when there are no clusters. Weighted sums replace resampled copies."""
    if n_bootstrap < MIN_BOOTSTRAP:
        raise ValueError(f"a bootstrap interval needs at least {MIN_BOOTSTRAP} resamples (--bootstrap, n_bootstrap); "
                         f"got {n_bootstrap}; the default is 200")
    if clusters is None:
        return rng.multinomial(n, np.full(n, 1.0 / n), size=n_bootstrap).astype(float)
    _, codes = np.unique(clusters, return_inverse=True)
    g = int(codes.max()) + 1
    counts = rng.multinomial(g, np.full(g, 1.0 / g), size=n_bootstrap).astype(float)
    return counts[:, codes]


def _bootstrap_values(terms: LoggedTerms, estimators: tuple[str, ...], weights: np.ndarray) -> np.ndarray:
    """(n_bootstrap, n_estimators) estimates, each a weighted version of :func:`estimate_value`."""
    totals = weights.sum(axis=1)
    out = np.empty((len(weights), len(estimators)))
    for j, e in enumerate(estimators):
        rows = _row_values(terms, e)
        if rows is None:
            denom = weights @ terms.weight
            out[:, j] = np.divide(weights @ (terms.weight * terms.reward), denom, out=np.zeros(len(weights)),
                                  where=denom > 0)
        else:
            out[:, j] = weights @ rows / totals
    return out * terms.rows_per_unit


@dataclass(frozen=True)
class PolicyValue:
    """Estimates of one policy's value, one row per estimator, with bootstrap intervals."""

    table: pd.DataFrame
    recommended: str
    reason: str
    notes: list[str] = field(default_factory=list)

    def summary(self) -> pd.DataFrame:
        return self.table.set_index("estimator")

    def to_dict(self) -> dict[str, Any]:
        return {"recommended": self.recommended, "reason": self.reason, "notes": self.notes,
                "estimates": self.table.to_dict(orient="records")}

    def value(self, estimator: str | None = None) -> dict[str, float]:
        row = self.table.set_index("estimator").loc[estimator or self.recommended]
        return {"estimate": float(row["estimate"]), "ci_low": float(row["ci_low"]), "ci_high": float(row["ci_high"])}


def recommended_estimator(context_free: bool, estimators: tuple[str, ...] = ESTIMATORS) -> tuple[str, str]:
    """The rule: DR (unbiased when either the weights or the reward model is right) — unless neither the
    logging nor the target policy looks at the context, when the value is a weighted sum of per-(item,
    position) rates and the direct method on pooled estimates of those rates is unbiased up to its pooling,
    while importance weights would only add variance."""
    if context_free and "dm" in estimators:
        return "dm", ("neither policy uses the context: the value is Σ π(item, slot)·rate(item, slot), and pooled "
                      "per-(item, slot) rates estimate it with far less variance than importance weights")
    if "dr" in estimators:
        return "dr", "doubly robust: unbiased when either the logged propensities or the reward model is right"
    return estimators[0], "the first estimator requested (DR and DM were not)"


def evaluate(terms: LoggedTerms, estimators: tuple[str, ...] = ESTIMATORS, n_bootstrap: int = 200,
             alpha: float = 0.05, random_state: int = 0, context_free: bool = False) -> PolicyValue:
    """Every estimator with a percentile bootstrap interval over users; the recommended one by
    :func:`recommended_estimator`."""
    rng = np.random.default_rng(random_state)
    point = {e: estimate_value(terms, e) for e in estimators}
    draws = _bootstrap_values(terms, estimators, bootstrap_weights(terms.clusters, len(terms.reward), n_bootstrap, rng))
    lo, hi = np.quantile(draws, [alpha / 2, 1 - alpha / 2], axis=0)
    table = pd.DataFrame({"estimator": list(estimators), "estimate": [point[e] for e in estimators],
                          "ci_low": lo, "ci_high": hi, "se": draws.std(axis=0, ddof=1)})
    recommended, reason = recommended_estimator(context_free, estimators)
    notes = list(terms.notes)
    weights = terms.weight
    ess = float(weights.sum() ** 2 / max((weights**2).sum(), 1e-300))
    notes.append(f"importance weights: max {weights.max():.1f}, effective sample size {ess:,.0f} of {len(weights):,} rows")
    if "dm" in estimators:
        notes.append("intervals hold the reward model fixed: DM's reflects the sampling of users, not the model's error")
    if terms.n_clipped:
        notes.append(f"{terms.n_clipped:,} propensities clipped before weighting")
    if not terms.reward.any():
        notes.append("no positive rewards in the log: IPS, SNIPS and the weighted corrections are 0; only the model speaks")
    return PolicyValue(table, recommended, reason, notes)


# -- candidate-exposure logs (the data contract) -----------------------------------------------------------

def _exposure_arrays(exposed: np.ndarray, outcome: np.ndarray, propensity: np.ndarray, target: np.ndarray,
                     target_name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Exposure, outcome, propensity and the target's probabilities of showing, checked: a NaN outcome or a
    2 in the exposure column made every estimate NaN or wrong without a word."""
    arrays = {"exposed": np.asarray(exposed, float), "outcome": np.asarray(outcome, float),
              "propensity": np.asarray(propensity, float), target_name: np.asarray(target, float)}
    if len({a.shape for a in arrays.values()}) != 1 or arrays["outcome"].ndim != 1:
        raise ValueError("exposed, outcome, propensity and " + target_name + " need one value per row each; got "
                         + ", ".join(f"{name} {a.shape}" for name, a in arrays.items()))
    rules = {"exposed": (np.isin(arrays["exposed"], (0, 1)), "must be 0 or 1"),
             "outcome": (np.isfinite(arrays["outcome"]), "must be a finite number"),
             "propensity": ((arrays["propensity"] > 0) & (arrays["propensity"] < 1),
                            "must lie strictly in (0, 1): a candidate always or never shown carries no information "
                            "about the other choice"),
             target_name: ((arrays[target_name] >= 0) & (arrays[target_name] <= 1),
                           "must be a probability of showing, in [0, 1]")}
    for name, (ok, rule) in rules.items():
        if not ok.all():
            rows = ", ".join(map(str, np.flatnonzero(~ok)[:5]))
            raise ValueError(f"{name} {rule}; {int((~ok).sum()):,} row(s) are not (rows {rows})")
    return (arrays["exposed"].astype(int), arrays["outcome"], arrays["propensity"], arrays[target_name])


def exposure_terms(exposed: np.ndarray, outcome: np.ndarray, propensity: np.ndarray, target: np.ndarray,
                   outcome_if_shown: np.ndarray, outcome_if_not_shown: np.ndarray, users: np.ndarray | None = None,
                   clip: float = 1e-3) -> LoggedTerms:
    """Terms for a policy that shows each candidate with probability ``target`` (0/1 for a top-k ranking),
    evaluated on a log that showed it with probability ``propensity``. Value = outcomes per user."""
    z, y, p_raw, q = _exposure_arrays(exposed, outcome, propensity, target, "target")
    p = np.clip(p_raw, clip, 1 - clip)
    weight = z * q / p + (1 - z) * (1 - q) / (1 - p)
    mu1, mu0 = np.asarray(outcome_if_shown, float), np.asarray(outcome_if_not_shown, float)
    model_value = q * mu1 + (1 - q) * mu0
    model_logged = np.where(z == 1, mu1, mu0)
    rows_per_unit = len(y) / len(np.unique(users)) if users is not None else 1.0
    return LoggedTerms(y, weight, model_value, model_logged, None if users is None else np.asarray(users),
                       rows_per_unit, n_clipped=int((p != p_raw).sum()))


def incremental_value(exposed: np.ndarray, outcome: np.ndarray, propensity: np.ndarray, recommended: np.ndarray,
                      outcome_if_shown: np.ndarray, outcome_if_not_shown: np.ndarray, users: np.ndarray | None = None,
                      n_bootstrap: int = 200, alpha: float = 0.05, random_state: int = 0,
                      clip: float = 1e-3, baseline: np.ndarray | None = None) -> pd.DataFrame:
    """Incremental outcomes per user of showing the recommended candidates rather than not showing them
    (Sato et al. 2019), with bootstrap intervals over users. Only recommended rows differ between the two
    policies; on them IPS is Y·(Z/p − (1 − Z)/(1 − p)), DM is μ1 − μ0 and DR adds the weighted residuals.
    ``recommended`` may be a probability of showing (a stochastic policy such as the logger itself).

    ``baseline``: another policy's probabilities of showing; the result is then the gain of ``recommended``
    over it. The estimate is the difference of the two policies' estimates, and the interval is paired, drawn from the
    same resampled users, which is what an A/B test of one list against the other compares."""
    z, y, p, rec = _exposure_arrays(exposed, outcome, propensity, recommended, "recommended")
    if baseline is not None:  # linear in the showing probabilities: the gain weighs each row by their difference
        rec = rec - _exposure_arrays(exposed, outcome, propensity, baseline, "baseline")[3]
    p = np.clip(p, clip, 1 - clip)  # rec: 0/1 for a list, a probability for a stochastic policy
    mu1, mu0 = np.asarray(outcome_if_shown, float), np.asarray(outcome_if_not_shown, float)
    rows = {"ips": rec * y * (z / p - (1 - z) / (1 - p)),
            "dm": rec * (mu1 - mu0),
            "dr": rec * (mu1 - mu0 + z * (y - mu1) / p - (1 - z) * (y - mu0) / (1 - p))}
    users = np.arange(len(y)) if users is None else np.asarray(users)
    n_users = len(np.unique(users))
    weights = bootstrap_weights(users, len(y), n_bootstrap, np.random.default_rng(random_state))
    out = []
    for name, values in rows.items():
        lo, hi = np.quantile(weights @ values / n_users, [alpha / 2, 1 - alpha / 2])
        out.append({"estimator": name, "estimate": float(values.sum() / n_users), "ci_low": float(lo), "ci_high": float(hi)})
    return pd.DataFrame(out)


# -- slate logs (Open Bandit Dataset) ----------------------------------------------------------------------

class ItemPositionRates:
    """Reward model for slate logs: click rate = position rate × item multiplier, the item multiplier pooled
    toward 1 by empirical Bayes (gamma–Poisson, concentration by marginal likelihood), so items with a
    handful of impressions borrow strength from the rest. Context-free by design."""

    def __init__(self, n_items: int, n_positions: int, prior_rows: float = 200.0):
        self.n_items = n_items
        self.n_positions = n_positions
        self.prior_rows = prior_rows

    def fit(self, item: np.ndarray, position: np.ndarray, reward: np.ndarray,
            distinct: np.ndarray | None = None) -> "ItemPositionRates":
        """``distinct``: on a bootstrap resample, True on the first copy of each logged row. The pooling is then
        judged on those rows alone: the marginal likelihood assumes independent impressions, and a resample's
        copies make every click look repeated, so items seemed to differ far more than on the log itself (the
        Open Bandit Dataset's random log: concentration 9.7 on the log, a median of 0.35 over resamples)."""
        item, position, reward = np.asarray(item), np.asarray(position), np.asarray(reward, float)
        overall = reward.mean()
        shown = np.bincount(position, minlength=self.n_positions)
        clicks = np.bincount(position, weights=reward, minlength=self.n_positions)
        self.position_rate_ = (clicks + overall * self.prior_rows) / (shown + self.prior_rows)
        expected = np.bincount(item, weights=self.position_rate_[position], minlength=self.n_items)
        observed = np.bincount(item, weights=reward, minlength=self.n_items)
        keep = np.ones(len(item), bool) if distinct is None else np.asarray(distinct, bool)
        self.concentration_ = self._concentration(
            np.bincount(item[keep], weights=reward[keep], minlength=self.n_items),
            np.bincount(item[keep], weights=self.position_rate_[position[keep]], minlength=self.n_items))
        k = self.concentration_
        self.item_multiplier_ = np.ones(self.n_items) if np.isinf(k) else (observed + k) / (expected + k)
        return self

    @staticmethod
    def _concentration(observed: np.ndarray, expected: np.ndarray) -> float:
        """The gamma prior's concentration maximizing the items' marginal likelihood (∞: no clicks to judge by)."""
        from scipy import optimize, special

        if observed.sum() == 0:
            return float("inf")

        def negative_log_likelihood(log_k: float) -> float:
            k = np.exp(log_k)
            return -float(np.sum(special.gammaln(observed + k) - special.gammaln(k) + k * np.log(k / (k + expected))
                                 + observed * np.log(np.maximum(expected, 1e-12) / (k + expected))))

        return float(np.exp(optimize.minimize_scalar(negative_log_likelihood, bounds=(-5, 12), method="bounded").x))

    def predict(self) -> np.ndarray:
        """(n_items, n_positions) click rates."""
        return self.item_multiplier_[:, None] * self.position_rate_[None, :]


def slate_terms(item: np.ndarray, position: np.ndarray, reward: np.ndarray, pscore: np.ndarray,
                target: np.ndarray, rates: np.ndarray, clusters: np.ndarray | None = None) -> LoggedTerms:
    """Terms for a slate log evaluated under a target policy ``target`` — (n_items, n_positions) when it is
    the same on every row, or (n_rows, n_items, n_positions). ``position`` is 0-based here."""
    item, position = np.asarray(item), np.asarray(position)
    pscore = np.asarray(pscore, float)
    if ((pscore <= 0) | (pscore > 1)).any():
        raise ValueError("logged propensity scores must lie in (0, 1]")
    per_row = target.ndim == 3
    pi_logged = target[np.arange(len(item)), item, position] if per_row else target[item, position]
    value_by_position = (target * rates[None] if per_row else target * rates).sum(axis=-2)
    model_value = value_by_position[np.arange(len(item)), position] if per_row else value_by_position[position]
    notes = []
    seen = np.zeros(target.shape[-2], bool)
    seen[np.unique(item)] = True
    unsupported = float((target if not per_row else target.mean(0))[~seen].sum() / target.shape[-1])
    if unsupported > 0:
        notes.append(f"{unsupported:.1%} of the target policy's mass is on items the log never showed: IPS and "
                     f"SNIPS cannot see it (biased low); DM and DR cover it through the reward model")
    return LoggedTerms(np.asarray(reward, float), pi_logged / pscore, model_value, rates[item, position], clusters,
                       notes=tuple(notes))


def summarize_runs(estimates: dict[str, list[float]], truth: float | None = None) -> dict[str, dict[str, float]]:
    """Per estimator, its mean over bootstrap runs and the runs' 2.5–97.5% range; with a known ``truth``, also the
    mean and standard deviation of the relative error |V̂ − V| / V."""
    if truth == 0:
        raise ValueError("the true value is 0: relative error is undefined")
    out = {}
    for name, values in estimates.items():
        runs = np.asarray(values, float)
        low, high = np.percentile(runs, [2.5, 97.5])
        out[name] = {"estimate": float(runs.mean()), "ci_low": float(low), "ci_high": float(high)}
        if truth is not None:
            errors = np.abs(runs - truth) / abs(truth)
            out[name] |= {"relative_error_mean": float(errors.mean()),
                          "relative_error_sd": float(errors.std(ddof=1)) if len(errors) > 1 else 0.0}
    return out

