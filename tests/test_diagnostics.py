"""Each diagnostic against a case whose answer is known: overlap, balance before and after weighting, the
best-linear-predictor heterogeneity test, confounding shared by a group's rows, and the E-value on 0/1 and
continuous outcomes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from recuplift import diagnostics


def test_overlap_counts_propensities_outside_the_bounds_and_histograms_each_arm():
    e = np.array([0.005, 0.5, 0.995, 0.3, 0.2, 0.6])
    t = np.array([0, 1, 1, 0, 1, 0])
    out = diagnostics.overlap(e, t)
    assert out["share_outside"] == pytest.approx(2 / 6) and not out["passed"]
    assert sum(out["exposed"]) == 3 and sum(out["unexposed"]) == 3
    assert out["exposed"][-1] == 1 and out["unexposed"][0] == 1  # 0.995 and 0.005 land in the end bins
    assert diagnostics.overlap(e[1:2].repeat(40), np.r_[np.ones(20), np.zeros(20)])["passed"]
    inside = np.r_[np.full(20, 0.98), np.full(20, 0.02)]  # within the bounds, yet the arms never mix
    separated = diagnostics.overlap(inside, np.r_[np.ones(20), np.zeros(20)])
    assert separated["share_outside"] == 0 and separated["separation_auc"] == 1 and not separated["passed"]


def test_weighting_by_the_true_propensity_balances_a_confounder_that_was_imbalanced():
    rng = np.random.default_rng(0)
    x = rng.normal(size=40_000)
    e = expit(1.2 * x)
    t = (rng.random(len(x)) < e).astype(int)
    noise = rng.normal(size=len(x))
    table = diagnostics.balance(pd.DataFrame({"x": x, "noise": noise}), t, e)
    assert table.loc["x", "before"] > 0.8  # exposure follows x
    assert table.loc["x", "after"] < 0.05
    assert table.loc["noise", "before"] < 0.05 and table.loc["noise", "after"] < 0.05
    wrong = diagnostics.balance(pd.DataFrame({"x": x}), t, 1 - e)  # weights inverted: worse, not better
    assert wrong.loc["x", "after"] > table.loc["x", "before"]
    summary = diagnostics.balance_summary(table)
    assert summary["passed"] and summary["max_smd_before"] == pytest.approx(table["before"].max())


def _bernoulli_log(seed: int, users: int = 1_000, per_user: int = 10) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    user = np.repeat(np.arange(users), per_user)
    e = expit(rng.normal(-0.8, 1.0, users * per_user) + rng.normal(0, 0.5, users)[user])
    return e, (rng.random(len(e)) < e).astype(int), user


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_a_logged_propensity_that_made_the_log_is_calibrated(seed):
    e, t, user = _bernoulli_log(seed)
    check = diagnostics.propensity_calibration(e, t, user)
    assert check["calibrated"] and check["worst"] is None
    assert check["bins"][0]["propensity"] == "all rows" and len(check["bins"]) == 11
    assert sum(b["rows"] for b in check["bins"][1:]) == len(e)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_a_log_that_lost_a_fifth_of_its_impressions_after_logging_is_not(seed):
    e, t, user = _bernoulli_log(seed)
    kept = (t == 0) | (np.random.default_rng(seed + 10).random(len(t)) >= 0.2)  # exposed rows dropped by a join
    check = diagnostics.propensity_calibration(e[kept], t[kept], user[kept])
    worst = check["worst"]
    assert not check["calibrated"] and worst["z"] <= -4 and worst["exposure_rate"] < 0.9 * worst["mean_propensity"]


def test_calibration_counts_a_users_list_as_one_unit():
    # a top-2-of-10 list: every user has exactly two exposures, so with p = 0.2 nothing is off, whatever the order
    user = np.repeat(np.arange(200), 10)
    t = np.tile(np.r_[1, 1, np.zeros(8)], 200)
    assert diagnostics.propensity_calibration(np.full(2_000, 0.2), t, user)["bins"][0]["z"] == 0
    # the same exposures against p = 0.3: off in every user, and over 30 users, so the z-score stands
    off = diagnostics.propensity_calibration(np.full(2_000, 0.3), t, user[::-1])
    assert not off["calibrated"] and off["worst"]["propensity"] == "all rows"
    few = diagnostics.propensity_calibration(np.full(200, 0.3), t[:200], user[:200])  # 20 users: no verdict
    assert few["calibrated"] and few["bins"][0]["z"] == 0
    # one propensity for every row (a randomized slot, 1/3): one bin beside all rows, and a figure that draws it
    assert [b["propensity"] for b in off["bins"]] == ["all rows", "0.3"]


def test_a_rare_propensity_whose_few_exposures_did_not_happen_is_chance_not_a_mismatch():
    # 2,000 rows at p = 0.002 expect 4 exposures; none is a 2% chance (binomial z ≈ −2). The clustered variance
    # alone, estimated from residuals that are all alike, made it z = −20 on seed 102 of the sparse logger
    user = np.repeat(np.arange(200), 10)
    check = diagnostics.propensity_calibration(np.full(2_000, 0.002), np.zeros(2_000), user)
    assert check["calibrated"] and check["bins"][0]["z"] == pytest.approx(-2.0, abs=0.01)


def test_best_linear_predictor_finds_real_heterogeneity_and_not_noise():
    rng = np.random.default_rng(1)
    n_users, per_user = 2000, 5
    groups = np.repeat(np.arange(n_users), per_user)
    tau = 0.1 + 0.2 * rng.normal(size=len(groups))
    dr = tau + rng.normal(0, 1.0, len(groups)) + rng.normal(0, 0.5, n_users)[groups]  # unbiased, noisy, clustered
    real = diagnostics.best_linear_predictor(tau, dr, groups)
    assert real["heterogeneity_detected"] and abs(real["heterogeneity_slope"] - 1) < 4 * real["slope_se"]
    assert real["mean_effect"] == pytest.approx(dr.mean(), abs=1e-9)
    unrelated = diagnostics.best_linear_predictor(rng.normal(size=len(groups)), dr, groups)
    assert not unrelated["heterogeneity_detected"]
    unclustered = diagnostics.best_linear_predictor(tau, dr, None)
    assert unclustered["slope_se"] < real["slope_se"]  # ignoring the users' shared noise understates the error


def test_e_value_on_a_zero_one_outcome_is_vanderweele_and_dings_risk_ratio_formula():
    y = np.r_[np.ones(10), np.zeros(90), np.ones(15), np.zeros(85)]  # unexposed rate 0.10
    t = np.r_[np.zeros(100), np.ones(100)]
    out = diagnostics.e_value(0.05, 0.02, 0.08, y, t)  # risk ratio 1.5, interval's lower end 1.2
    assert out["scale"] == "risk ratio" and out["risk_ratio"] == pytest.approx(1.5)
    assert out["e_value"] == pytest.approx(1.5 + np.sqrt(1.5 * 0.5))
    assert out["e_value_ci"] == pytest.approx(1.2 + np.sqrt(1.2 * 0.2))
    harmful = diagnostics.e_value(-0.05, -0.08, -0.02, y, t)  # risk ratio 0.5 reads as 2; the upper end 0.8 as 1.25
    assert harmful["e_value"] == pytest.approx(2 + np.sqrt(2)) and harmful["e_value_ci"] == pytest.approx(
        1.25 + np.sqrt(1.25 * 0.25))
    assert diagnostics.e_value(0.05, -0.01, 0.11, y, t)["e_value_ci"] == 1.0  # an interval across 0 explains away
    never = diagnostics.e_value(0.05, 0.02, 0.08, np.r_[np.zeros(100), np.ones(100)], t)
    assert np.isnan(never["e_value"]) and "unexposed" in never["undefined"]


def test_e_value_on_a_continuous_outcome_reads_the_standardized_difference_and_ignores_units():
    rng = np.random.default_rng(2)
    t = np.r_[np.zeros(500), np.ones(500)]
    minutes = 30 + 10 * rng.normal(size=1000) + 4 * t
    arms = [minutes[t == a] for a in (0, 1)]
    sd = np.sqrt((arms[0].var(ddof=1) * 499 + arms[1].var(ddof=1) * 499) / 998)
    out = diagnostics.e_value(4.0, 2.0, 6.0, minutes, t)
    rr = np.exp(0.91 * 4.0 / sd)
    assert out["scale"] == "standardized difference" and out["risk_ratio"] == pytest.approx(rr)
    assert out["e_value"] == pytest.approx(rr + np.sqrt(rr * (rr - 1)))
    # hours measured from a different origin: the same effect, so the same E-values (a ratio of means would not be)
    hours = (minutes - 100) / 60
    shifted = diagnostics.e_value(4.0 / 60, 2.0 / 60, 6.0 / 60, hours, t)
    assert shifted["e_value"] == pytest.approx(out["e_value"]) and shifted["e_value_ci"] == pytest.approx(
        out["e_value_ci"])


def _item_confounded(seed: int, items: int = 400, users_per_item: int = 60, rows_per_pair: int = 1,
                     shared_by: str = "item") -> dict[str, np.ndarray]:
    """Rows of (item, user) pairs where a confounder u, shared by every row of an item (or of a user), raises both
    exposure and the outcome; returns the rows with their true propensity and outcome means."""
    rng = np.random.default_rng(seed)
    item = np.repeat(np.arange(items), users_per_item * rows_per_pair)
    user = np.tile(np.repeat(np.arange(users_per_item), rows_per_pair), items) + rng.integers(0, 10**6, items)[item]
    u = rng.normal(size=items)[item] if shared_by == "item" else rng.normal(size=user.max() + 1)[user]
    e = expit(-0.5 + 0.8 * u)
    mu0 = np.clip(0.15 + 0.06 * u, 0.01, 0.99)
    mu1 = np.clip(mu0 + 0.05, 0.01, 0.99)
    t = (rng.random(len(e)) < e).astype(float)
    y = (rng.random(len(e)) < np.where(t == 1, mu1, mu0)).astype(float)
    return {"item": item, "user": user, "e": e, "mu0": mu0, "mu1": mu1, "t": t, "y": y}


def test_shared_confounding_measures_the_bias_an_item_level_confounder_gives_aipw():
    d = _item_confounded(0)
    # what models that never saw u learn: the exposure rate, and each arm's mean outcome
    e_hat = np.full_like(d["e"], d["t"].mean())
    mu1_hat = np.full_like(d["e"], d["y"][d["t"] == 1].mean())
    mu0_hat = np.full_like(d["e"], d["y"][d["t"] == 0].mean())
    expected = np.mean((d["e"] - e_hat) * ((d["mu1"] - mu1_hat) / e_hat + (d["mu0"] - mu0_hat) / (1 - e_hat)))
    aipw = np.mean(mu1_hat - mu0_hat + d["t"] * (d["y"] - mu1_hat) / e_hat
                   - (1 - d["t"]) * (d["y"] - mu0_hat) / (1 - e_hat)) - 0.05
    check = diagnostics.shared_confounding(d["t"], d["y"], e_hat, mu0_hat, mu1_hat, d["item"], d["user"])
    assert check["groups"] == 400 and check["rows"] == len(d["t"])
    assert expected > 0.02 and check["z"] > 5
    assert abs(check["bias"] - expected) < 3 * check["se"]
    assert abs(check["bias"] - aipw) < 0.25 * expected  # the bias AIPW took on this very log
    # models that knew u leave nothing shared
    known = diagnostics.shared_confounding(d["t"], d["y"], d["e"], d["mu0"], d["mu1"], d["item"], d["user"])
    assert abs(known["z"]) < 3 and abs(known["bias"]) < 0.1 * expected


def test_shared_confounding_reads_the_bias_of_the_doubly_robust_att_too():
    d = _item_confounded(2)
    e_hat = np.full_like(d["e"], d["t"].mean())
    mu0_hat = np.full_like(d["e"], d["y"][d["t"] == 0].mean())
    mu1_hat = np.full_like(d["e"], d["y"][d["t"] == 1].mean())
    share = d["t"].mean()
    bias = np.mean((d["e"] - e_hat) * (d["mu0"] - mu0_hat) / (1 - e_hat)) / share
    # the unexposed rows are seen with chance 1 − e, not 1 − ê: an IPW mean of their residuals would read only
    # this second-order part; the Hájek mean divides the chance out and reads the whole bias
    second_order = np.mean((d["e"] - e_hat) * (1 - d["e"]) * (d["mu0"] - mu0_hat) / (1 - e_hat) ** 2) / share
    true_att = np.sum(d["t"] * 0.05) / d["t"].sum()
    resid0 = d["y"] - mu0_hat
    dr_att = np.mean(d["t"] * resid0 - (1 - d["t"]) * e_hat / (1 - e_hat) * resid0) / share
    att = diagnostics.shared_confounding(d["t"], d["y"], e_hat, mu0_hat, mu1_hat, d["item"], d["user"], "att")
    ate = diagnostics.shared_confounding(d["t"], d["y"], e_hat, mu0_hat, mu1_hat, d["item"], d["user"])
    assert bias - second_order > 0.005 and att["z"] > 5
    assert abs(att["bias"] - bias) < 3 * att["se"]
    assert abs(att["bias"] - bias) < abs(att["bias"] - second_order)
    # subtracted, it takes the DR ATT at least halfway to the truth on this very log
    assert abs(dr_att - att["bias"] - true_att) < 0.5 * abs(dr_att - true_att) and dr_att - true_att > 0.8 * bias
    # the ATT's bias involves no exposed-arm model: knowing μ1 changes the ATE's read, not the ATT's
    known_mu1 = [diagnostics.shared_confounding(d["t"], d["y"], e_hat, mu0_hat, d["mu1"], d["item"], d["user"], estimand)
                 for estimand in ("att", "ate")]
    assert known_mu1[0]["bias"] == pytest.approx(att["bias"])
    assert abs(known_mu1[1]["bias"] - ate["bias"]) > 3 * ate["se"]
    with pytest.raises(ValueError, match="'ate' or 'att'"):
        diagnostics.shared_confounding(d["t"], d["y"], e_hat, mu0_hat, mu1_hat, d["item"], d["user"], "atc")


def test_shared_confounding_ignores_what_one_unit_shares_across_its_own_rows():
    """Users with ten rows on each item and a confounder of their own: pairs of one user's rows would show it in
    every item; pairs across users do not."""
    d = _item_confounded(1, items=800, users_per_item=4, rows_per_pair=10, shared_by="user")
    e_hat = np.full_like(d["e"], d["t"].mean())
    mu1_hat = np.full_like(d["e"], d["y"][d["t"] == 1].mean())
    mu0_hat = np.full_like(d["e"], d["y"][d["t"] == 0].mean())
    by_item = diagnostics.shared_confounding(d["t"], d["y"], e_hat, mu0_hat, mu1_hat, d["item"], d["user"])
    rows_as_units = diagnostics.shared_confounding(d["t"], d["y"], e_hat, mu0_hat, mu1_hat, d["item"])
    assert abs(by_item["z"]) < 3
    assert rows_as_units["z"] > 4  # counting one user's own pairs, their confounder looks like the item's


def test_shared_confounding_needs_a_group_seen_by_two_units():
    ones = np.ones(4)
    assert diagnostics.shared_confounding(np.array([1, 0, 1, 0]), ones, ones / 2, ones / 2, ones / 2,
                                          np.array([0, 0, 1, 1]), np.array([7, 7, 8, 8])) is None


def test_subtracting_the_shared_bias_moves_the_estimate_and_widens_its_interval_by_the_reads_errors():
    interval = {"estimate": 0.10, "se": 0.012, "ci_low": 0.0765, "ci_high": 0.1235, "estimator": "aipw"}
    reads = {"item": {"bias": 0.03, "se": 0.004}, "user": {"bias": -0.01, "se": 0.012}}
    out = diagnostics.subtract_shared_bias(interval, reads, critical=2.0)
    assert out["subtracted"] == {"item": 0.03, "user": -0.01}
    assert out["estimate"] == pytest.approx(0.08) and out["estimator"] == "aipw"
    assert out["se"] == pytest.approx(np.sqrt(0.012 ** 2 + 0.004 ** 2 + 0.012 ** 2))
    assert (out["ci_low"], out["ci_high"]) == pytest.approx((0.08 - 2 * out["se"], 0.08 + 2 * out["se"]))
    assert out["uncorrected"] == {"estimate": 0.10, "se": 0.012, "ci_low": 0.0765, "ci_high": 0.1235}
    nothing = diagnostics.subtract_shared_bias(interval, {}, critical=23.5 / 12)
    assert nothing["subtracted"] == {} and nothing["estimate"] == 0.10 and nothing["ci_high"] == pytest.approx(0.1235)
