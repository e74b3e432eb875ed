"""A/B test planning: sample size, power and MDE in raw units, variance reduction, runtime, SRM.

The analyst gives what they know — a baseline rate or mean, a standard deviation, the lift they hope for —
never a standardized effect size. Proportions use the two-sample z-test with the pooled variance under
the null and the unpooled one under the alternative (as ``statsmodels.stats.proportion``); means use the
two-sample t-test (as ``statsmodels.stats.power.TTestIndPower``). Because a proportion's variance moves
with the lift, the minimum detectable effect is solved in the metric's own units, not rescaled from a
standardized one.

Variance reduction (CUPED, CUPAC) multiplies every variance by ``1 − ρ²``. A sequential test that may stop
at any look replaces the fixed-horizon critical value by the boundary of a normal-mixture confidence
sequence (Robbins; Howard et al. 2021), tuned to be tightest at the planned horizon.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import optimize, stats

from .inference import interval_from_influence

Alternative = Literal["two-sided", "one-sided"]
Correction = Literal["bonferroni", "holm"]


@dataclass(frozen=True)
class Metric:
    """What the test measures. ``kind="proportion"``: ``baseline`` is the control rate. ``kind="mean"``:
    ``baseline`` is the control mean (needed only for relative lifts) and ``sd`` the per-unit standard
    deviation."""

    kind: Literal["proportion", "mean"]
    baseline: float
    sd: float | None = None

    def __post_init__(self) -> None:
        if self.kind == "proportion" and not 0 < self.baseline < 1:
            raise ValueError(f"a proportion's baseline must lie in (0, 1); got {self.baseline:g}"
                             + (" (for a mean metric give its per-unit standard deviation, --sd)"
                                if self.baseline >= 1 else ""))
        if self.kind == "mean" and (self.sd is None or not self.sd > 0):
            raise ValueError("a mean metric needs its per-unit standard deviation sd > 0")
        if self.kind not in ("proportion", "mean"):
            raise ValueError(f"kind must be 'proportion' or 'mean'; got {self.kind!r}")

    def max_effect(self) -> float:
        """The largest absolute lift the metric allows (a rate cannot exceed 1)."""
        return 1.0 - self.baseline - 1e-9 if self.kind == "proportion" else 1e6 * float(self.sd)

    def variances(self, effect: float, ratio: float) -> tuple[float, float, float]:
        """Per-unit variances (control, treatment, pooled-under-the-null) when treatment = control + effect."""
        if self.kind == "mean":
            v = float(self.sd) ** 2
            return v, v, v
        p0, p1 = self.baseline, self.baseline + effect
        pooled = (p0 + ratio * p1) / (1 + ratio)
        return p0 * (1 - p0), p1 * (1 - p1), pooled * (1 - pooled)


def ratio_metric(numerator: np.ndarray, denominator: np.ndarray) -> Metric:
    """A ratio metric (e.g. clicks per impression when users are randomized) as a per-user mean metric.

    By the delta method ``Var(R̂) ≈ (Var(N) − 2R·Cov(N, D) + R²·Var(D)) / (μ_D² · n_users)``; the returned
    metric's ``sd`` is the square root of that numerator over ``μ_D²``, so the usual formulas apply.
    """
    num, den = np.asarray(numerator, float), np.asarray(denominator, float)
    if num.shape != den.shape or num.ndim != 1 or len(num) < 2:
        raise ValueError("numerator and denominator need one value per randomized unit (same length ≥ 2)")
    mu_d = den.mean()
    if mu_d <= 0:
        raise ValueError("the denominator's mean must be positive")
    r = num.mean() / mu_d
    cov = np.cov(num, den)
    var = (cov[0, 0] - 2 * r * cov[0, 1] + r**2 * cov[1, 1]) / mu_d**2
    return Metric("mean", baseline=float(r), sd=float(np.sqrt(max(var, 1e-300))))


@dataclass(frozen=True)
class Design:
    """How the test is run and analysed."""

    alpha: float = 0.05
    power: float = 0.8
    alternative: Alternative = "two-sided"
    treated_share: float = 0.5     # with two arms: the share of units in the treatment arm
    arms: int = 2                  # control plus (arms − 1) treatments, equal sizes when arms > 2
    correction: Correction = "bonferroni"
    variance_reduction: float = 0.0  # ρ² of a CUPED/CUPAC covariate; variances scale by 1 − ρ²
    sequential: bool = False

    def __post_init__(self) -> None:
        checks = [(0 < self.alpha < 1, "alpha must lie in (0, 1)"), (0 < self.power < 1, "power must lie in (0, 1)"),
                  (0 < self.treated_share < 1, "the treated share (split) must lie in (0, 1)"),
                  (self.arms >= 2, "a test needs at least 2 arms"),
                  (0 <= self.variance_reduction < 1, "variance reduction ρ² must lie in [0, 1)"),
                  (self.alternative in ("two-sided", "one-sided"), "alternative must be 'two-sided' or 'one-sided'"),
                  (self.correction in ("bonferroni", "holm"), "correction must be 'bonferroni' or 'holm'"),
                  (self.arms == 2 or self.treated_share == 0.5, "an unequal split is supported with 2 arms only"),
                  # with no data at all a test rejects α of the time: no sample size reaches a power below it
                  (not 0 < self.power <= self.alpha < 1,
                   f"power ({self.power:g}) must exceed alpha ({self.alpha:g}): a test with no data already rejects "
                   f"alpha of the time; the usual power is 0.8")]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)

    @property
    def comparisons(self) -> int:
        return self.arms - 1

    @property
    def ratio(self) -> float:
        """Units per treatment arm over units in control."""
        return self.treated_share / (1 - self.treated_share)

    @property
    def level(self) -> float:
        """Per-comparison significance level. Holm's first step rejects at α/m like Bonferroni, so a plan
        that guarantees the power of every comparison needs the same n under both (Holm gains at analysis)."""
        return self.alpha / self.comparisons

    def critical_value(self, n_control: float, n_planned: float | None = None) -> float:
        """z (or sequential boundary) the standardized difference must cross at ``n_control``."""
        tail = self.level / 2 if self.alternative == "two-sided" else self.level
        if not self.sequential:
            return float(stats.norm.ppf(1 - tail))
        x_opt = _mixture_tuning(self.level)
        x = x_opt * (n_planned / n_control if n_planned else 1.0)
        return float(math.sqrt((1 + x) * math.log((1 + x) / (x * self.level**2))))


def _mixture_tuning(level: float) -> float:
    """ρ/V that minimizes the two-sided normal-mixture boundary at the planned horizon."""
    res = optimize.minimize_scalar(lambda x: (1 + x) * math.log((1 + x) / (x * level**2)),
                                   bounds=(1e-6, 10.0), method="bounded")
    return float(res.x)


def power(metric: Metric, effect: float, n_control: float, design: Design = Design(),
          n_planned: float | None = None) -> float:
    """Power to detect an absolute ``effect`` with ``n_control`` units in control (and ``ratio`` times as
    many in each treatment arm)."""
    if effect == 0:
        return design.level
    r = design.ratio
    v0, v1, v_null = metric.variances(effect, r)
    shrink = 1.0 - design.variance_reduction
    n1 = r * n_control
    sd_null = math.sqrt(shrink * v_null * (1 / n_control + 1 / n1))
    sd_alt = math.sqrt(shrink * (v0 / n_control + v1 / n1))
    crit = design.critical_value(n_control, n_planned)
    if metric.kind == "mean" and not design.sequential:
        df = max(n_control + n1 - 2, 1.0)
        tail = design.level / 2 if design.alternative == "two-sided" else design.level
        t_crit = stats.t.ppf(1 - tail, df)
        nc = abs(effect) / sd_alt
        upper = stats.nct.sf(t_crit, df, nc)
        lower = stats.nct.cdf(-t_crit, df, nc) if design.alternative == "two-sided" else 0.0
        # SciPy's noncentral t gives NaN far out in a tail (df 9,998, nc 26.6, the lower one): there the normal
        # it tends to is exact enough, and a NaN stopped every runtime table of a mean metric at that size
        upper = upper if np.isfinite(upper) else stats.norm.sf(t_crit - nc)
        lower = lower if np.isfinite(lower) else stats.norm.cdf(-t_crit - nc)
        return float(upper + lower)
    out = stats.norm.cdf((abs(effect) - crit * sd_null) / sd_alt)
    if design.alternative == "two-sided":
        out += stats.norm.cdf((-abs(effect) - crit * sd_null) / sd_alt)
    return float(out)


def control_sample_size(metric: Metric, effect: float, design: Design = Design()) -> float:
    """Units needed in control (unrounded) for the design's power at an absolute ``effect``."""
    if effect == 0:
        raise ValueError("a lift of 0 cannot be detected at any sample size")
    target = design.power

    def gap(n: float) -> float:
        return power(metric, effect, n, design, n_planned=n) - target

    lo, hi = 2.0, 4.0
    while gap(hi) < 0:
        hi *= 4
        if hi > 1e13:
            raise ValueError("the lift is too small to detect with any practical sample")
    return float(optimize.brentq(gap, lo, hi, xtol=1e-6))


def minimum_detectable_effect(metric: Metric, n_control: float, design: Design = Design(),
                              n_planned: float | None = None) -> float:
    """The smallest positive absolute lift detected with the design's power at ``n_control`` per control arm."""
    upper = metric.max_effect()

    def gap(effect: float) -> float:
        return power(metric, effect, n_control, design, n_planned) - design.power

    if gap(upper) < 0:
        return float("nan")  # not even the largest possible lift is detectable this small
    return float(optimize.brentq(gap, 1e-12 * max(1.0, abs(metric.baseline)), upper, xtol=1e-12))


@dataclass(frozen=True)
class TestPlan:
    """The planned sample and runtime, with power and MDE by week. ``to_dict()`` is the CLI's ``--json``."""

    metric: Metric
    design: Design
    effect: float                 # absolute lift planned for
    relative_effect: float | None
    n_control: int
    n_treatment: int              # per treatment arm
    n_total: int
    weekly_units: float | None
    accumulation: float
    weeks: float | None           # exact (fractional) weeks to reach n_total
    by_week: pd.DataFrame = field(repr=False)
    notes: list[str] = field(default_factory=list)

    @property
    def n_per_arm(self) -> int | dict[str, int]:
        """One number when arms are equal; control and treatment sizes otherwise."""
        if self.n_control == self.n_treatment:
            return self.n_control
        return {"control": self.n_control, "treatment": self.n_treatment}

    def summary(self) -> pd.DataFrame:
        rows = {"metric": self.metric.kind, "baseline": self.metric.baseline, "lift (absolute)": self.effect,
                "lift (relative)": self.relative_effect, "alpha": self.design.alpha, "power": self.design.power,
                "arms": self.design.arms, "n control": self.n_control, "n per treatment arm": self.n_treatment,
                "n total": self.n_total}
        if self.weeks is not None:  # no weekly units, no runtime: a row reading None says nothing
            rows["weeks"] = self.weeks
        return pd.DataFrame({"value": rows}).rename_axis("quantity")

    def to_dict(self) -> dict[str, Any]:
        return {"n_per_arm": self.n_per_arm, "n_total": self.n_total, "n_control": self.n_control,
                "n_treatment": self.n_treatment, "effect": self.effect, "relative_effect": self.relative_effect,
                "weeks": self.weeks, "weekly_units": self.weekly_units, "accumulation": self.accumulation,
                "metric": asdict(self.metric), "design": asdict(self.design),
                "by_week": self.by_week.to_dict(orient="records"), "notes": self.notes}


def units_after(weeks: np.ndarray | float, weekly_units: float, accumulation: float = 1.0) -> np.ndarray:
    """Unique units reached after ``weeks``: ``weekly_units · weeks^accumulation`` (1 = linear; below 1,
    returning users make each new week add fewer new ones)."""
    return weekly_units * np.power(np.asarray(weeks, float), accumulation)


FULL_WEEK_NOTE = ("the sample arrives within a week, but run the test a full week anyway: weekdays and weekends "
                  "behave differently, and a shorter test measures only some of them")


def runtime_text(weeks: float) -> str:
    """A runtime as people say it: days under a week, years beside the weeks past two years."""
    if weeks < 1:
        return f"{weeks * 7:.1f} days"
    if weeks < 104:
        return f"{weeks:.1f} weeks"
    return f"{weeks:,.0f} weeks (about {weeks / 52.18:,.0f} years)"


def check_weekly_units(weekly_units: float | None) -> None:
    """None means no runtime is wanted; zero or fewer units a week is a mistake, not 'no runtime'."""
    if weekly_units is not None and not weekly_units > 0:
        raise ValueError(f"weekly units (--weekly-users) must be positive; got {weekly_units:g}")


def plan_test(metric: Metric, lift: float, relative: bool = False, design: Design = Design(),
              weekly_units: float | None = None, accumulation: float = 1.0, max_weeks: int = 52) -> TestPlan:
    """Sample size for ``lift`` (absolute, or relative to the baseline when ``relative``), runtime from the
    weekly unique units, and power / MDE week by week."""
    if relative and metric.baseline == 0:
        raise ValueError("a relative lift needs a non-zero baseline")
    if not 0 < accumulation <= 1:
        raise ValueError("accumulation must lie in (0, 1]")
    effect = lift * metric.baseline if relative else lift
    if metric.kind == "proportion" and not 0 < metric.baseline + effect < 1:
        raise ValueError(f"baseline {metric.baseline} plus lift {effect:+g} leaves (0, 1)"
                         + (f"; lifts are proportions, not percentages: {lift:g}% is {lift / 100:g}"
                            if abs(lift) >= 1 else ""))
    n0_exact = control_sample_size(metric, effect, design)
    n0 = math.ceil(n0_exact - 1e-9)
    n1 = math.ceil(n0_exact * design.ratio - 1e-9)
    n_total = n0 + design.comparisons * n1
    weeks = None
    by_week = pd.DataFrame()
    check_weekly_units(weekly_units)
    if weekly_units is not None:
        weeks = float((n_total / weekly_units) ** (1 / accumulation))
        horizon = int(min(max_weeks, max(math.ceil(weeks) + 2, 4)))
        by_week = _by_week(metric, effect, design, weekly_units, accumulation, horizon, n0)
    notes = []
    if not relative and metric.kind == "proportion" and abs(effect) > metric.baseline:
        notes.append(f"the lift is absolute: {effect:+g} moves the rate from {metric.baseline:g} to "
                     f"{metric.baseline + effect:g} ({effect / metric.baseline:+.0%}); for a lift relative to the "
                     f"baseline pass relative=True (--relative)")
    if relative and abs(lift) >= 1:  # --lift 10 --relative meant +10%, not +1,000%
        notes.append(f"the lift is relative: {lift:g} moves the baseline {metric.baseline:g} by {lift:+,.0%}, to "
                     f"{metric.baseline + effect:g}; for {lift:g}% pass {lift / 100:g}")
    if weeks is not None and weeks < 1:
        notes.append(FULL_WEEK_NOTE)
    if weeks is not None and weeks > max_weeks and not by_week.empty:
        last = by_week.iloc[-1]
        notes.append(f"the test needs {runtime_text(weeks)} at {weekly_units:,.0f} units a week; the table stops at "
                     f"week {int(last['week'])}, where the smallest detectable lift is {last['mde']:+.4g}: test a "
                     f"larger lift, find more traffic or reduce the variance (CUPED)")
    if design.arms > 2:
        notes.append(f"{design.comparisons} comparisons with control at α/{design.comparisons} each "
                     f"({design.correction}); Holm's first step uses the same level, so n is the same")
    if design.sequential:
        notes.append("sequential: valid at every look (normal-mixture confidence sequence tuned to this horizon)")
    if design.variance_reduction:
        notes.append(f"variance reduced by ρ² = {design.variance_reduction:.3f} (CUPED/CUPAC)")
    return TestPlan(metric, design, effect, effect / metric.baseline if metric.baseline else None, n0, n1, n_total,
                    weekly_units, accumulation, weeks, by_week, notes)


def _by_week(metric: Metric, effect: float, design: Design, weekly_units: float, accumulation: float,
             horizon: int, n_planned: int) -> pd.DataFrame:
    rows = []
    per_control = 1.0 / (1.0 + design.comparisons * design.ratio)
    for week in range(1, horizon + 1):
        total = float(units_after(week, weekly_units, accumulation))
        n0 = total * per_control
        if n0 < 2:
            continue
        mde = minimum_detectable_effect(metric, n0, design, n_planned)
        rows.append({"week": week, "units": int(total), "power": power(metric, effect, n0, design, n_planned),
                     "mde": mde, "mde_relative": mde / metric.baseline if metric.baseline else float("nan")})
    return pd.DataFrame(rows)


# -- variance reduction ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Cuped:
    """θ and ρ² of a pre-period covariate; ``adjust`` removes the part of the outcome it predicts."""

    theta: float
    rho2: float
    covariate_mean: float

    def adjust(self, y: np.ndarray, covariate: np.ndarray) -> np.ndarray:
        return np.asarray(y, float) - self.theta * (np.asarray(covariate, float) - self.covariate_mean)


def cuped(y: np.ndarray, covariate: np.ndarray) -> Cuped:
    """θ = Cov(Y, X) / Var(X) and ρ² = Corr(Y, X)², pooled over arms (treatment cannot move a pre-period X)."""
    y, x = np.asarray(y, float), np.asarray(covariate, float)
    if y.shape != x.shape or len(y) < 3:
        raise ValueError("outcome and covariate need one value per unit (same length ≥ 3)")
    if not (np.isfinite(y).all() and np.isfinite(x).all()):  # θ and ρ² came out NaN, and every adjusted y with them
        raise ValueError("outcome and covariate must be finite: fill a missing pre-period value (e.g. with its "
                         "mean, adding an indicator) before CUPED")
    vx = x.var()
    if vx == 0:
        return Cuped(0.0, 0.0, float(x.mean()))
    cov = float(np.mean((x - x.mean()) * (y - y.mean())))
    rho2 = cov**2 / (vx * y.var()) if y.var() > 0 else 0.0
    return Cuped(cov / vx, float(rho2), float(x.mean()))


def cupac_covariate(features: np.ndarray | pd.DataFrame, y: np.ndarray, groups: np.ndarray | None = None,
                    n_folds: int = 5, random_state: int = 0) -> tuple[np.ndarray, float]:
    """CUPAC: an out-of-fold XGBoost prediction of the outcome from pre-exposure features (tabular columns and
    text embeddings alike) — used as the CUPED covariate. Returns the prediction and its ρ² with the outcome."""
    from .nuisance import folds, regression_model

    X = features.to_numpy(float) if isinstance(features, pd.DataFrame) else np.asarray(features, float)
    y = np.asarray(y, float)
    if len(X) != len(y):
        raise ValueError("features and outcome need the same number of rows")
    prediction = np.empty(len(y))
    for k, (train, test) in enumerate(folds(len(y), groups, n_folds, random_state)):
        model = regression_model(random_state + k, 200).set_params(max_depth=4)
        prediction[test] = model.fit(X[train], y[train]).predict(X[test])
    return prediction, cuped(y, prediction).rho2


def pre_exposure_features(history: pd.DataFrame, covariates: tuple[str, ...] = (), text: tuple[str, ...] = (),
                          encoder: Any = None, random_state: int = 0) -> pd.DataFrame:
    """CUPAC's inputs from a pre-period table: tabular covariates (one-hot for categories) and, for each text
    column, its embedding components — the same featurization the audit adjusts with."""
    from .features import TabularEncoder
    from .textfeatures import TextFeatures

    missing = [c for c in (*covariates, *text) if c not in history.columns]
    if missing:
        raise ValueError(f"the history lacks column(s) {missing}")
    parts = [TabularEncoder(tuple(covariates)).fit_transform(history)]
    if text:
        parts.append(TextFeatures(columns=tuple(text), encoder=encoder, random_state=random_state).fit_transform(history))
    return pd.concat(parts, axis=1)


# -- analysing a test --------------------------------------------------------------------------------------

def analyze_test(y: np.ndarray, treated: np.ndarray, covariate: np.ndarray | None = None,
                 groups: np.ndarray | None = None, alpha: float = 0.05) -> dict[str, float]:
    """Difference in means (CUPED-adjusted when a covariate is given) with a cluster-robust interval and a
    two-sided p-value. ``groups`` clusters rows by user when the unit of randomization is coarser than a row."""
    y, treated = np.asarray(y, float), np.asarray(treated)
    if len(y) != len(treated):
        raise ValueError(f"y has {len(y):,} rows but treated {len(treated):,}")
    if not np.isin(treated, (0, 1)).all():  # a 2 counted twice as treated and once as negative control
        raise ValueError("treated must hold 0 (control) and 1 (treatment) only")
    if not np.isfinite(y).all():  # a missing outcome made every figure NaN
        raise ValueError(f"{int((~np.isfinite(y)).sum()):,} outcomes are missing or infinite; drop those units "
                         f"or fill them")
    t = treated.astype(int)
    if covariate is not None:
        y = cuped(y, covariate).adjust(y, covariate)
    n1, n0 = int(t.sum()), int((1 - t).sum())
    if n1 < 2 or n0 < 2:
        raise ValueError("each arm needs at least 2 units")
    m1, m0 = y[t == 1].mean(), y[t == 0].mean()
    n = len(y)
    influence = n * np.where(t == 1, (y - m1) / n1, -(y - m0) / n0)
    ci = interval_from_influence(m1 - m0, influence, groups, alpha)
    return {**ci.to_dict(), "p_value": ci.p_value(), "n_treated": n1, "n_control": n0}


def simulated_power(metric: Metric, effect: float, n_control: int, design: Design = Design(), n_sims: int = 2000,
                    seed: int = 0) -> float:
    """Monte Carlo check of a plan: the share of ``n_sims`` simulated tests that reject, analysed as planned
    (pooled z-test for proportions; Welch difference in means, CUPED-adjusted with θ estimated per test when
    the design has variance reduction, the covariate drawn with correlation ρ to the outcome)."""
    rng = np.random.default_rng(seed)
    n1 = int(math.ceil(n_control * design.ratio))
    tail = design.level / 2 if design.alternative == "two-sided" else design.level
    crit = stats.norm.ppf(1 - tail)
    if metric.kind == "proportion" and not design.variance_reduction:
        p0, p1 = metric.baseline, metric.baseline + effect
        c0, c1 = rng.binomial(n_control, p0, n_sims), rng.binomial(n1, p1, n_sims)
        pooled = (c0 + c1) / (n_control + n1)
        se = np.sqrt(pooled * (1 - pooled) * (1 / n_control + 1 / n1))
        z = np.divide(c1 / n1 - c0 / n_control, se, out=np.zeros(n_sims), where=se > 0)
    else:
        sd = float(metric.sd) if metric.kind == "mean" else math.sqrt(metric.baseline * (1 - metric.baseline))
        rho = math.sqrt(design.variance_reduction)
        z = np.empty(n_sims)
        for start in range(0, n_sims, 200):  # chunks bound memory
            m = min(200, n_sims - start)
            x0, x1 = rng.standard_normal((m, n_control)), rng.standard_normal((m, n1))
            y0 = sd * (rho * x0 + math.sqrt(1 - rho**2) * rng.standard_normal((m, n_control)))
            y1 = effect + sd * (rho * x1 + math.sqrt(1 - rho**2) * rng.standard_normal((m, n1)))
            if design.variance_reduction:
                x, y = np.hstack([x0, x1]), np.hstack([y0, y1])
                xc = x - x.mean(1, keepdims=True)
                theta = (xc * (y - y.mean(1, keepdims=True))).sum(1) / (xc**2).sum(1)
                y0 = y0 - theta[:, None] * xc[:, :n_control]
                y1 = y1 - theta[:, None] * xc[:, n_control:]
            se = np.sqrt(y0.var(1, ddof=1) / n_control + y1.var(1, ddof=1) / n1)
            z[start:start + m] = (y1.mean(1) - y0.mean(1)) / se
    rejected = np.abs(z) > crit if design.alternative == "two-sided" else np.sign(effect or 1) * z > crit
    return float(rejected.mean())


def sample_ratio_mismatch(counts: list[int] | np.ndarray, shares: list[float] | None = None,
                          threshold: float = 0.001) -> dict[str, Any]:
    """Chi-square test that a running test's arm counts match the planned split; flag when p < threshold."""
    observed = np.asarray(counts, float)
    if observed.ndim != 1 or len(observed) < 2 or (observed < 0).any() or observed.sum() == 0:
        raise ValueError("counts need one non-negative count per arm, at least 2 arms, not all zero")
    expected_share = np.full(len(observed), 1 / len(observed)) if shares is None else np.asarray(shares, float)
    if len(expected_share) != len(observed) or not np.isclose(expected_share.sum(), 1) or (expected_share <= 0).any():
        raise ValueError("shares need one positive share per arm, summing to 1")
    chi2, p = stats.chisquare(observed, expected_share * observed.sum())
    return {"chi2": float(chi2), "p_value": float(p), "mismatch": bool(p < threshold),
            "observed_share": (observed / observed.sum()).tolist(), "expected_share": expected_share.tolist()}


def with_variance_reduction(design: Design, rho2: float) -> Design:
    """The same design analysed with a CUPED/CUPAC covariate of the given ρ²."""
    return replace(design, variance_reduction=float(rho2))
