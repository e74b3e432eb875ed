"""A/B planning: agreement with statsmodels, Monte Carlo power, variance reduction, SRM, sequential validity."""

from __future__ import annotations

import numpy as np
import pytest
from statsmodels.stats.power import TTestIndPower
from statsmodels.stats.proportion import samplesize_proportions_2indep_onetail

from recuplift.planning import (Design, Metric, analyze_test, control_sample_size, cupac_covariate, cuped,
                                minimum_detectable_effect, plan_test, power, ratio_metric, runtime_text,
                                sample_ratio_mismatch, simulated_power, units_after)


def test_the_headline_case_is_about_31200_per_arm():
    plan = plan_test(Metric("proportion", 0.05), 0.10, relative=True)
    assert plan.n_per_arm == pytest.approx(31_200, rel=0.01)
    assert plan.n_total == 2 * plan.n_per_arm
    assert plan.to_dict()["n_per_arm"] == plan.n_per_arm


@pytest.mark.parametrize("baseline", [0.02, 0.05, 0.3])
@pytest.mark.parametrize("relative_lift", [0.05, 0.2])
@pytest.mark.parametrize("treated_share", [0.5, 0.3, 0.7])
def test_proportions_agree_with_statsmodels(baseline, relative_lift, treated_share):
    design = Design(treated_share=treated_share)
    effect = baseline * relative_lift
    n_control = control_sample_size(Metric("proportion", baseline), effect, design)
    # statsmodels: nobs1 is the arm with prop1 = prop2 + diff (our treatment), nobs2 = ratio · nobs1
    n_treated_sm = samplesize_proportions_2indep_onetail(diff=effect, prop2=baseline, power=0.8,
                                                         ratio=1 / design.ratio, alpha=0.05)
    assert n_control * design.ratio == pytest.approx(n_treated_sm, rel=0.01)


@pytest.mark.parametrize("sd,effect", [(1.0, 0.1), (2.0, 0.5), (5.0, 0.3)])
@pytest.mark.parametrize("treated_share", [0.5, 0.25])
@pytest.mark.parametrize("target", [0.8, 0.9])
def test_means_agree_with_statsmodels(sd, effect, treated_share, target):
    design = Design(treated_share=treated_share, power=target)
    n_control = control_sample_size(Metric("mean", 10.0, sd), effect, design)
    n_sm = TTestIndPower().solve_power(effect_size=effect / sd, power=target, alpha=0.05, ratio=design.ratio)
    assert n_control == pytest.approx(n_sm, rel=0.01)


def test_relative_mde_is_solved_in_the_metrics_own_units():
    metric = Metric("proportion", 0.05)
    plan = plan_test(metric, 0.10, relative=True)
    mde = minimum_detectable_effect(metric, plan.n_control)
    assert mde / 0.05 == pytest.approx(0.10, rel=0.002)  # the plan's own lift is its MDE
    # scaling a standardized effect would ignore that p(1-p) grows with the lift; an exact solve does not
    assert power(metric, mde, plan.n_control) == pytest.approx(0.8, abs=1e-6)


def test_one_sided_and_more_arms_change_n_the_right_way():
    metric = Metric("proportion", 0.1)
    base = plan_test(metric, 0.01).n_control
    assert plan_test(metric, 0.01, design=Design(alternative="one-sided")).n_control < base
    three = plan_test(metric, 0.01, design=Design(arms=3))
    assert three.n_control > base and three.n_total == 3 * three.n_control
    holm = plan_test(metric, 0.01, design=Design(arms=3, correction="holm"))
    assert holm.n_control == three.n_control and holm.notes


def test_variance_reduction_scales_n_by_one_minus_rho2():
    metric = Metric("mean", 0.0, 1.0)
    plain = control_sample_size(metric, 0.05)
    reduced = control_sample_size(metric, 0.05, Design(variance_reduction=0.4))
    assert reduced / plain == pytest.approx(0.6, rel=0.002)


@pytest.mark.parametrize("case", [
    (Metric("proportion", 0.05), 0.005, Design(power=0.8)),
    (Metric("proportion", 0.2), 0.03, Design(power=0.9, treated_share=0.3)),
    (Metric("mean", 1.0, 1.0), 0.1, Design(power=0.8)),
    (Metric("mean", 1.0, 1.0), 0.1, Design(power=0.8, variance_reduction=0.5)),  # CUPED-adjusted analysis
    (Metric("mean", 1.0, 2.0), 0.3, Design(power=0.7, variance_reduction=0.3, treated_share=0.4)),
])
def test_monte_carlo_power_matches_the_plan(case):
    metric, effect, design = case
    plan = plan_test(metric, effect, design=design)
    empirical = simulated_power(metric, effect, plan.n_control, design, n_sims=4000, seed=7)
    assert abs(empirical - design.power) <= 0.02


def test_a_wrong_plan_is_caught_by_the_monte_carlo():
    metric, design = Metric("mean", 1.0, 1.0), Design(variance_reduction=0.5)
    n_plain = plan_test(metric, 0.1).n_control
    # analysing without the covariate a test sized for CUPED falls well short of its power
    assert simulated_power(metric, 0.1, n_plain // 2, Design(), n_sims=2000, seed=3) < 0.6
    assert simulated_power(metric, 0.1, n_plain // 2, design, n_sims=2000, seed=3) > 0.75


def test_sequential_boundary_keeps_type_one_error_under_continuous_peeking():
    design = Design(sequential=True)
    n_planned = 2000
    rng = np.random.default_rng(0)
    looks = np.arange(50, n_planned + 1, 50)
    sums = np.cumsum(rng.standard_normal((4000, n_planned)), axis=1)[:, looks - 1]
    crit = np.array([design.critical_value(n, n_planned) for n in looks])
    false_alarm = (np.abs(sums) / np.sqrt(looks) > crit).any(axis=1).mean()
    naive = (np.abs(sums) / np.sqrt(looks) > 1.96).any(axis=1).mean()
    assert false_alarm <= 0.05 and naive > 0.15
    assert plan_test(Metric("mean", 0, 1), 0.1, design=design).n_control > plan_test(Metric("mean", 0, 1), 0.1).n_control


def test_runtime_and_by_week_table():
    plan = plan_test(Metric("proportion", 0.05), 0.10, relative=True, weekly_units=20_000)
    assert plan.weeks == pytest.approx(plan.n_total / 20_000)
    table = plan.by_week
    assert (np.diff(table["power"]) > 0).all() and (np.diff(table["mde"]) < 0).all()
    week = int(np.ceil(plan.weeks))
    assert table.set_index("week").loc[week, "power"] >= 0.8 > table.set_index("week").loc[week - 1, "power"]
    slower = plan_test(Metric("proportion", 0.05), 0.10, relative=True, weekly_units=20_000, accumulation=0.8)
    assert slower.weeks > plan.weeks
    assert units_after(4, 1000, 0.5) == pytest.approx(2000)


def test_a_mean_metrics_runtime_table_at_large_samples():
    """SciPy's noncentral t is NaN far in its lower tail (df 9,998, nc 26.6): the week-by-week MDE of a mean
    metric stopped the whole plan with a root finder's error once a week held 10,000 users."""
    plan = plan_test(Metric("mean", 2.18, 1.5), 0.14, weekly_units=5000)
    table = plan.by_week
    assert np.isfinite(table[["power", "mde"]].to_numpy()).all() and (np.diff(table["mde"]) < 0).all()
    assert table["power"].iloc[-1] > 0.9999 and plan.n_control == 1803
    week = table.set_index("week")  # the MDE at a week's sample is the lift planned at that size
    assert power(Metric("mean", 2.18, 1.5), week.loc[2, "mde"], 5000) == pytest.approx(0.8, abs=1e-6)


def test_a_runtime_past_the_table_and_a_lift_past_the_baseline_are_said():
    slow = plan_test(Metric("proportion", 0.05), 0.001, weekly_units=1000)
    assert slow.weeks > 1000 and slow.by_week["week"].max() == 52
    note = next(n for n in slow.notes if "table stops at week 52" in n)
    assert f"{slow.by_week['mde'].iloc[-1]:+.4g}" in note and "years" in note
    assert "weeks" not in plan_test(Metric("proportion", 0.05), 0.01).summary().index  # no weekly units, no row
    doubling = plan_test(Metric("proportion", 0.05), 0.1)
    assert any("absolute" in n and "+200%" in n for n in doubling.notes)
    doubled = plan_test(Metric("proportion", 0.05), 1.0, relative=True)
    assert not any("absolute" in n for n in doubled.notes)
    assert any("the lift is relative: 1 moves the baseline 0.05 by +100%, to 0.1; for 1% pass 0.01" in n
               for n in doubled.notes)  # --lift 10 --relative meant +10% more often than ×11
    assert not any("is relative" in n for n in plan_test(Metric("proportion", 0.05), 0.1, relative=True).notes)
    with pytest.raises(ValueError, match="not percentages: 5% is 0.05"):
        plan_test(Metric("proportion", 0.05), 5)
    swift = plan_test(Metric("proportion", 0.05), 0.01, weekly_units=1_000_000)
    assert swift.weeks < 1 and any("run the test a full week anyway" in n for n in swift.notes)
    assert not any("full week" in n for n in slow.notes)
    assert (runtime_text(0.5), runtime_text(3.25), runtime_text(520)) == ("3.5 days", "3.2 weeks",
                                                                          "520 weeks (about 10 years)")


def test_ratio_metric_delta_method_matches_simulation():
    rng = np.random.default_rng(1)
    impressions = rng.poisson(8, 200_000) + 1
    clicks = rng.binomial(impressions, rng.beta(2, 30, 200_000))
    metric = ratio_metric(clicks, impressions)
    # the spread of per-sample ratios over many samples of 500 users matches sd / sqrt(500)
    idx = rng.integers(0, 200_000, (2000, 500))
    ratios = clicks[idx].sum(1) / impressions[idx].sum(1)
    assert ratios.std() == pytest.approx(metric.sd / np.sqrt(500), rel=0.05)


def test_cuped_and_cupac_estimate_rho2():
    rng = np.random.default_rng(2)
    x = rng.standard_normal(20_000)
    y = 0.6 * x + 0.8 * rng.standard_normal(20_000)
    fit = cuped(y, x)
    assert fit.theta == pytest.approx(0.6, abs=0.02) and fit.rho2 == pytest.approx(0.36, abs=0.02)
    assert fit.adjust(y, x).var() == pytest.approx(y.var() * (1 - fit.rho2), rel=1e-6)
    features = np.column_stack([x, rng.standard_normal(20_000)])
    y_nonlinear = np.abs(x) + 0.5 * rng.standard_normal(20_000)
    prediction, rho2 = cupac_covariate(features, y_nonlinear, n_folds=3)
    assert rho2 > 0.3 > cuped(y_nonlinear, x).rho2  # the learned covariate captures what a linear one misses
    with pytest.raises(ValueError, match="must be finite"):  # a missing pre-period value made θ and ρ² NaN
        cuped(y, np.where(np.arange(len(x)) == 7, np.nan, x))


def test_sample_ratio_mismatch():
    assert not sample_ratio_mismatch([50_100, 49_900])["mismatch"]
    assert sample_ratio_mismatch([51_000, 49_000])["mismatch"]
    assert not sample_ratio_mismatch([30_050, 69_950], shares=[0.3, 0.7])["mismatch"]
    with pytest.raises(ValueError, match="shares"):
        sample_ratio_mismatch([10, 10], shares=[0.5, 0.6])


@pytest.mark.parametrize("bad,match", [
    (lambda: Metric("proportion", 1.2), "baseline"), (lambda: Metric("mean", 1.0), "sd"),
    (lambda: Design(power=1.0), "power"), (lambda: Design(arms=3, treated_share=0.3), "unequal split"),
    (lambda: plan_test(Metric("proportion", 0.9), 0.2), "leaves"),
    (lambda: control_sample_size(Metric("mean", 0, 1), 0.0), "lift of 0"),
    (lambda: Metric("proportion", 5.0), r"--sd"), (lambda: Metric("proportion", 0.0), r"\(0, 1\); got 0$"),
    (lambda: plan_test(Metric("proportion", 0.05), 0.01, weekly_units=0), "weekly units .* positive; got 0"),
    (lambda: plan_test(Metric("proportion", 0.05), 0.01, weekly_units=-5), "positive; got -5"),
    # a root finder's "f(a) and f(b) must have different signs" was all these said: no n reaches such a power
    (lambda: Design(power=0.05), r"power \(0.05\) must exceed alpha \(0.05\)"),
    (lambda: Design(alpha=0.9, power=0.5), r"power \(0.5\) must exceed alpha \(0.9\)"),
])
def test_bad_plans_fail_clearly(bad, match):
    with pytest.raises(ValueError, match=match):
        bad()


@pytest.mark.slow
def test_cupac_with_text_embeddings_beats_tabular_only(small_sim):
    from recuplift.planning import pre_exposure_features

    history = small_sim.data
    y = history.groupby("user_id")["outcome"].transform("mean").to_numpy()  # a user's rate: partly in their text
    tabular = pre_exposure_features(history, covariates=("user_tenure_days",))
    with_text = pre_exposure_features(history, covariates=("user_tenure_days",), text=("user_text",))
    assert with_text.shape[1] > tabular.shape[1]
    groups = history["user_id"].to_numpy()
    _, rho2_tabular = cupac_covariate(tabular, y, groups, n_folds=3)
    _, rho2_text = cupac_covariate(with_text, y, groups, n_folds=3)
    assert rho2_text > rho2_tabular
    with pytest.raises(ValueError, match="lacks"):
        pre_exposure_features(history, covariates=("nope",))


def test_analyze_test_by_hand_and_its_bad_inputs():
    y, t = np.array([1.0, 0, 1, 1, 0, 0]), np.array([1, 1, 1, 0, 0, 0])
    result = analyze_test(y, t)
    assert result["estimate"] == pytest.approx(2 / 3 - 1 / 3) and result["n_treated"] == result["n_control"] == 3
    assert result["ci_low"] < result["estimate"] < result["ci_high"] and 0 < result["p_value"] < 1
    with pytest.raises(ValueError, match="treated must hold 0 .* and 1 .* only"):  # a 2 was counted twice
        analyze_test(y, t * 2)
    with pytest.raises(ValueError, match="1 outcomes are missing or infinite"):  # every figure was NaN
        analyze_test(np.where(np.arange(6) == 2, np.nan, y), t)
    with pytest.raises(ValueError, match="y has 6 rows but treated 5"):
        analyze_test(y, t[:5])
