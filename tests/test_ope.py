"""Off-policy estimators: hand-computed cases, unbiasedness with known propensities, degenerate inputs, OBD."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from recuplift.ope import (ESTIMATORS, ItemPositionRates, LoggedTerms, bootstrap_weights, estimate_value, evaluate,
                           exposure_terms, incremental_value, slate_terms, summarize_runs)

# three logged rows: reward, weight π_e/π_b, model value of the target, model prediction for the logged action
TERMS = LoggedTerms(reward=np.array([1.0, 0.0, 1.0]), weight=np.array([2.0, 0.5, 20.0]),
                    model_value=np.array([0.4, 0.2, 0.6]), model_logged=np.array([0.5, 0.1, 0.3]))


@pytest.mark.parametrize("estimator,expected", [
    ("ips", (2 + 0 + 20) / 3),
    ("snips", 22 / 22.5),
    ("dm", 1.2 / 3),
    ("dr", (0.4 + 2 * 0.5 + 0.2 + 0.5 * -0.1 + 0.6 + 20 * 0.7) / 3),
    ("switch_dr", (0.4 + 2 * 0.5 + 0.2 + 0.5 * -0.1 + 0.6) / 3),           # τ = 10 drops the weight-20 row's correction
    ("dr_shrinkage", (0.4 + 10 * 2 / 14 * 0.5 + 0.2 + 10 * 0.5 / 10.25 * -0.1 + 0.6 + 200 / 410 * 0.7) / 3),
])
def test_estimators_by_hand(estimator, expected):
    assert estimate_value(TERMS, estimator) == pytest.approx(expected)


def test_exposure_terms_by_hand():
    # a shown row with p = 0.5 under a target that shows it: weight 2; an unshown row with p = 0.2, target shows
    # it with q = 0.5: weight (1 − 0.5)/(1 − 0.2)
    terms = exposure_terms(exposed=[1, 0], outcome=[1, 0], propensity=[0.5, 0.2], target=[1.0, 0.5],
                           outcome_if_shown=[0.6, 0.3], outcome_if_not_shown=[0.2, 0.1], users=["a", "a"])
    assert terms.weight.tolist() == pytest.approx([2.0, 0.625])
    assert terms.model_value.tolist() == pytest.approx([0.6, 0.2])
    assert terms.rows_per_unit == 2  # values are per user: both rows belong to user a
    assert estimate_value(terms, "ips") == pytest.approx(2.0)


def test_ips_and_dr_are_unbiased_with_known_propensities():
    """A simulator with known exposure probabilities: averaged over many logs, IPS and DR (with a deliberately
    wrong reward model) hit the target policy's true value; DM with that model does not."""
    rng = np.random.default_rng(0)
    n_users, k = 400, 10
    x = rng.normal(size=(n_users, k))
    p = 1 / (1 + np.exp(-(x - 0.5)))             # the logger favours high-x candidates
    p0, p1 = 1 / (1 + np.exp(-(x - 2))), 1 / (1 + np.exp(-(x - 1)))
    target = (x > np.quantile(x, 0.7, axis=1, keepdims=True)).astype(float)  # a top-3 list
    truth = float((target * p1 + (1 - target) * p0).sum() / n_users)
    wrong_mu1, wrong_mu0 = np.full(x.shape, p1.mean()), np.full(x.shape, p0.mean())
    users = np.repeat(np.arange(n_users), k)
    estimates = {"ips": [], "dr": [], "dm": []}
    for _ in range(300):
        z = rng.random(x.shape) < p
        y = rng.random(x.shape) < np.where(z, p1, p0)
        terms = exposure_terms(z.ravel(), y.ravel(), p.ravel(), target.ravel(), wrong_mu1.ravel(), wrong_mu0.ravel(), users)
        for e in estimates:
            estimates[e].append(estimate_value(terms, e))
    for e in ("ips", "dr"):
        se = np.std(estimates[e]) / np.sqrt(300)
        assert abs(np.mean(estimates[e]) - truth) < 3 * se + 1e-3
    assert abs(np.mean(estimates["dm"]) - truth) > 0.1


def test_incremental_ips_matches_sato_formula_by_hand():
    table = incremental_value(exposed=[1, 0, 1], outcome=[1, 1, 0], propensity=[0.5, 0.25, 0.5], recommended=[1, 1, 0],
                              outcome_if_shown=[0.5, 0.5, 0.5], outcome_if_not_shown=[0.2, 0.2, 0.2],
                              users=["a", "a", "b"], n_bootstrap=50).set_index("estimator")
    # Y·(Z/p − (1 − Z)/(1 − p)) on the recommended rows, per user: (1·2 + 1·(−4/3)) / 2 users
    assert table.loc["ips", "estimate"] == pytest.approx((2 - 4 / 3) / 2)
    assert table.loc["dm", "estimate"] == pytest.approx(2 * 0.3 / 2)


def _logged(rng: np.random.Generator, n: int, p_range: tuple[float, float], base: float,
            effect: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Propensities, exposures and 0/1 outcomes of a log with a known effect of exposure."""
    p = rng.uniform(*p_range, n)
    z = (rng.random(n) < p).astype(int)
    return p, z, (rng.random(n) < base + effect * z).astype(float)


def test_the_gain_of_one_list_over_another_is_their_difference_with_a_paired_interval():
    rng = np.random.default_rng(3)
    n = 4000
    p, z, y = _logged(rng, n, (0.2, 0.8), 0.2, 0.1)
    common = dict(exposed=z, outcome=y, propensity=p, outcome_if_shown=np.full(n, 0.3),
                  outcome_if_not_shown=np.full(n, 0.2), users=np.arange(n) // 10, n_bootstrap=200)
    shown = (rng.random(n) < 0.5).astype(float)
    mostly_the_same = np.where(rng.random(n) < 0.9, shown, 1 - shown)  # differs from it on 10% of rows
    one = incremental_value(recommended=mostly_the_same, **common).set_index("estimator")
    other = incremental_value(recommended=shown, **common).set_index("estimator")
    gain = incremental_value(recommended=mostly_the_same, baseline=shown, **common).set_index("estimator")
    assert gain["estimate"].to_numpy() == pytest.approx((one["estimate"] - other["estimate"]).to_numpy())
    # paired: the rows both lists show cancel in every resample, so the gain is much surer than either list
    width, alone = gain["ci_high"] - gain["ci_low"], one["ci_high"] - one["ci_low"]
    assert (width < alone).all() and width["dr"] < alone["dr"] / 2 and width["ips"] < alone["ips"] / 2
    with pytest.raises(ValueError, match="baseline must be a probability of showing"):
        incremental_value(recommended=shown, baseline=shown + 1, **common)


def test_bootstrap_weights_resample_whole_users():
    users = np.array(["a", "a", "b", "c", "c", "c"])
    w = bootstrap_weights(users, 6, 100, np.random.default_rng(0))
    assert (w[:, 0] == w[:, 1]).all() and (w[:, 3] == w[:, 5]).all()   # a user's rows move together
    assert np.allclose(w[:, [0, 2, 3]].sum(axis=1), 3)                  # three users drawn each time
    with pytest.raises(ValueError, match="at least 20 resamples .* got 1;"):  # a 95% interval from one draw
        bootstrap_weights(users, 6, 1, np.random.default_rng(0))


def test_evaluate_intervals_and_recommendation():
    n = 5000
    p, z, y = _logged(np.random.default_rng(1), n, (0.1, 0.9), 0.3, 0.2)
    terms = exposure_terms(z, y, p, np.ones(n), np.full(n, 0.5), np.full(n, 0.3), users=np.arange(n) // 5)
    result = evaluate(terms, n_bootstrap=200)
    table = result.summary()
    assert result.recommended == "dr" and set(table.index) == set(ESTIMATORS)
    weighted = table.drop(index="dm")  # a constant reward model gives DM no sampling spread
    assert (weighted["ci_low"] < weighted["estimate"]).all() and (weighted["estimate"] < weighted["ci_high"]).all()
    assert table.loc["dr", "ci_low"] < 0.5 * 5 < table.loc["dr", "ci_high"]  # 5 candidates per user, rate 0.5
    assert any("effective sample size" in note for note in result.notes)


def test_degenerate_inputs_are_clear():
    with pytest.raises(ValueError, match=r"strictly in \(0, 1\)"):
        exposure_terms([1, 0], [1, 0], [1.0, 0.5], [1, 1], [0.5, 0.5], [0.2, 0.2])
    with pytest.raises(ValueError, match="NaN"):
        LoggedTerms(np.array([1.0]), np.array([np.inf]), np.array([0.0]), np.array([0.0]))
    models = dict(outcome_if_shown=[0.5, 0.5], outcome_if_not_shown=[0.2, 0.2])
    for args, message in (((([1, 0], [np.nan, 0], [0.5, 0.5], [1, 1])), r"outcome must be a finite number.*rows 0"),
                          ((([1, 2], [1, 0], [0.5, 0.5], [1, 1])), r"exposed must be 0 or 1.*rows 1"),
                          ((([1, 0], [1, 0], [0.5, 0.0], [1, 1])), r"propensity must lie strictly in \(0, 1\).*rows 1"),
                          ((([1, 0], [1, 0], [0.5, 0.5], [1])), r"one value per row")):
        # each made incremental_value's estimates NaN, or counted a 2 as shown, without a word
        with pytest.raises(ValueError, match=message):
            incremental_value(*args, **models, n_bootstrap=20)
    with pytest.raises(ValueError, match=r"target must be a probability of showing, in \[0, 1\].*rows 0"):
        exposure_terms([1, 0], [1, 0], [0.5, 0.5], [1.5, 1], **models)
    with pytest.raises(ValueError, match=r"recommended must be a probability of showing"):
        incremental_value([1, 0], [1, 0], [0.5, 0.5], [-1, 1], **models, n_bootstrap=20)
    no_clicks = exposure_terms([1, 0, 1, 0], [0, 0, 0, 0], [0.5] * 4, [1, 1, 0, 0], [0.1] * 4, [0.05] * 4)
    result = evaluate(no_clicks, n_bootstrap=20)
    assert result.value("ips")["estimate"] == 0 and result.value("snips")["estimate"] == 0
    assert any("no positive rewards" in note for note in result.notes)
    assert np.isfinite(result.table[["estimate", "ci_low", "ci_high"]].to_numpy()).all()
    with pytest.raises(ValueError, match="undefined"):
        summarize_runs({"dm": [0.1]}, 0.0)


def test_bootstrap_runs_are_summarized_with_their_range_and_against_a_known_truth():
    runs = {"dm": [0.1, 0.2, 0.3], "ips": [0.2, 0.2, 0.2]}
    known = summarize_runs(runs, truth=0.2)
    assert known["dm"]["estimate"] == pytest.approx(0.2)
    assert known["dm"]["relative_error_mean"] == pytest.approx(1 / 3)  # |−0.5|, 0, 0.5
    assert known["dm"]["relative_error_sd"] == pytest.approx(np.std([0.5, 0, 0.5], ddof=1))
    assert (known["dm"]["ci_low"], known["dm"]["ci_high"]) == pytest.approx((0.105, 0.295))  # 2.5% and 97.5%
    assert known["ips"]["relative_error_mean"] == 0 and known["ips"]["ci_low"] == known["ips"]["ci_high"] == 0.2
    unknown = summarize_runs(runs)  # a policy with no log of its own: no error to report, only the range
    assert set(unknown["dm"]) == {"estimate", "ci_low", "ci_high"}
    assert unknown["dm"]["ci_low"] == known["dm"]["ci_low"]


def test_slate_terms_and_unsupported_mass():
    rates = ItemPositionRates(n_items=3, n_positions=2).fit(np.array([0, 1, 0, 1]), np.array([0, 0, 1, 1]),
                                                           np.array([1.0, 0.0, 0.0, 1.0])).predict()
    assert rates.shape == (3, 2) and (rates > 0).all()
    target = np.array([[0.0, 0.0], [0.0, 0.0], [1.0, 1.0]])  # all mass on item 2, which the log never showed
    terms = slate_terms(np.array([0, 1, 0, 1]), np.array([0, 0, 1, 1]), np.array([1.0, 0.0, 0.0, 1.0]),
                        np.full(4, 0.5), target, rates)
    assert estimate_value(terms, "ips") == 0 and estimate_value(terms, "dm") == pytest.approx(rates[2].mean())
    assert any("never showed" in note for note in terms.notes)


def test_item_position_rates_pool_sparse_items_toward_the_mean():
    rng = np.random.default_rng(3)
    item = rng.integers(0, 50, 20_000)
    position = rng.integers(0, 3, 20_000)
    reward = (rng.random(20_000) < 0.01).astype(float)  # every item has the same true rate
    model = ItemPositionRates(50, 3).fit(item, position, reward)
    raw = np.bincount(item, weights=reward, minlength=50) / np.bincount(item, minlength=50)
    assert model.item_multiplier_.std() < (raw / raw.mean()).std() / 2
    assert model.predict().mean() == pytest.approx(0.01, rel=0.2)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_bootstrap_resample_is_pooled_as_the_log_itself_would_be(seed):
    rng = np.random.default_rng(seed)
    n = 20_000
    item, position = rng.integers(0, 50, n), rng.integers(0, 3, n)
    reward = (rng.random(n) < 0.01 * rng.gamma(20, 1 / 20, 50)[item]).astype(float)  # items differ a little
    on_the_log = ItemPositionRates(50, 3).fit(item, position, reward).concentration_
    with_copies, first_copies_only = [], []
    for _ in range(5):
        drawn = rng.integers(0, n, n)
        first = ~pd.Index(drawn).duplicated()
        with_copies.append(ItemPositionRates(50, 3).fit(item[drawn], position[drawn], reward[drawn]).concentration_)
        first_copies_only.append(
            ItemPositionRates(50, 3).fit(item[drawn], position[drawn], reward[drawn], first).concentration_)
    # copies make each click look repeated: items seem to differ far more than on the log (less pooling)
    assert np.median(with_copies) < on_the_log / 3
    assert np.median(first_copies_only) > 3 * np.median(with_copies)


@pytest.mark.slow
def test_open_bandit_protocol_runs_and_beats_ips_in_both_directions():
    from recuplift.openbandit import load_open_bandit, off_policy_benchmark, policy_by_name

    random_log, bts_log = load_open_bandit("random"), load_open_bandit("bts")
    assert len(random_log.data) == 10_000 and random_log.n_items == 80 and random_log.len_list == 3
    assert random_log.data["position"].between(0, 2).all()
    for log, policy, truth in ((bts_log, "uniform", random_log), (random_log, "bts", bts_log)):
        result = off_policy_benchmark(log, policy_by_name(policy, log), truth.on_policy_value, runs=10, seed=1)
        errors = {k: v["relative_error_mean"] for k, v in result["estimators"].items()}
        assert result["recommended"] == "dm" and errors["dm"] < errors["ips"]


def test_the_noise_floor_is_how_far_resampling_moves_the_logs_click_rate():
    from scipy import stats

    from recuplift.openbandit import OpenBanditLog, off_policy_benchmark, uniform_policy

    n, clicks = 2_000, 4  # a resample's clicks are about Poisson(4): E|X − 4| / 4 = 0.391
    rng = np.random.default_rng(0)
    data = pd.DataFrame({"item_id": rng.integers(0, 10, n), "position": rng.integers(0, 2, n),
                         "click": np.r_[np.ones(clicks), np.zeros(n - clicks)], "propensity_score": 0.1})
    log = OpenBanditLog("random", "all", data, n_items=10, len_list=2)
    result = off_policy_benchmark(log, uniform_policy(10, 2), truth=None, runs=400, seed=3)
    x = np.arange(40)
    expected = float(np.sum(stats.poisson.pmf(x, clicks) * np.abs(x - clicks)) / clicks)
    assert result["noise_floor"] == pytest.approx(expected, abs=0.05)
    dense = data.assign(click=(np.arange(n) % 2).astype(float))  # 1,000 clicks: resampling barely moves the rate
    assert off_policy_benchmark(OpenBanditLog("random", "all", dense, 10, 2), uniform_policy(10, 2), None,
                                runs=50, seed=3)["noise_floor"] < 0.05


def test_open_bandit_errors_are_clear():
    from recuplift.openbandit import load_open_bandit, off_policy_benchmark, policy_by_name

    with pytest.raises(ValueError, match="unknown behavior 'greedy'; choose from random, bts"):
        load_open_bandit("greedy")
    with pytest.raises(ValueError, match="unknown campaign 'kids'"):
        load_open_bandit("random", "kids")
    log = load_open_bandit("random", "men")
    with pytest.raises(ValueError, match="unknown policy 'greedy'"):
        policy_by_name("greedy", log)
    assert np.array_equal(policy_by_name("random", log), policy_by_name("uniform", log))
    with pytest.raises(ValueError, match="at least 2 \\(--runs\\); got 1"):  # the sd of one run is no spread
        off_policy_benchmark(log, policy_by_name("uniform", log), 0.005, runs=1)


def test_bts_policy_is_a_distribution_per_slot():
    from recuplift.openbandit import bernoulli_ts_policy

    dist = bernoulli_ts_policy("all", n_sim=20_000)
    assert dist.shape == (80, 3) and np.allclose(dist.sum(axis=0), 1)
    assert dist.max() > 0.1  # Thompson sampling concentrates on a few items


def test_policy_table_must_sum_to_one_per_slot():
    from recuplift.openbandit import load_open_bandit, policy_from_table
    from recuplift.schema import DataError

    log = load_open_bandit("random")
    table = pd.DataFrame({"item_id": [0, 1, 0], "position": [1, 1, 2], "probability": [0.5, 0.5, 0.7]})
    with pytest.raises(DataError, match="sum to 1"):
        policy_from_table(table, log)
    # each of these used to index past the table (an IndexError), wrap around silently (-1, position 0), let the
    # last of two rows win, or pass a negative probability whose slot still summed to 1
    cases = {"item_id": ([-1, 80, 2.5, "x"], "item ids must be whole numbers in [0, 79]"),
             "position": ([0, 4, 1.5, None], "positions must be whole numbers in [1, 3]"),
             "probability": ([-0.5, 1.5, None, "p"], "probabilities must lie in [0, 1]")}
    good = pd.DataFrame({"item_id": [0, 1, 2, 3], "position": [1, 1, 2, 3], "probability": [0.5] * 4})
    for column, (values, rule) in cases.items():
        for bad in values:
            with pytest.raises(DataError, match=fr"column '{column}': {re.escape(rule)}.*\(rows 1\)"):
                policy_from_table(good.astype(object).assign(**{column: [good[column][0], bad, *good[column][2:]]}),
                                  log)
    obp_style = pd.DataFrame({"item_id": np.repeat(np.arange(80), 3), "position": np.tile([0, 1, 2], 80),
                              "probability": 1 / 80})  # slots counted from 0, as obp's arrays do
    with pytest.raises(DataError, match=r"whole numbers in \[1, 3\].*add 1 \(df\['position'\] \+ 1\)"):
        policy_from_table(obp_style, log)
    with pytest.raises(DataError) as one_off:  # a slot 3 as well: not the 0-based convention, no such hint
        policy_from_table(obp_style.assign(position=[0, 1, 3] * 80), log)
    assert "add 1" not in str(one_off.value)
    assert policy_from_table(obp_style.assign(position=obp_style["position"] + 1), log).sum(axis=0) == \
        pytest.approx([1, 1, 1])
    with pytest.raises(DataError, match=r"appears more than once \(rows 0, 1\)"):
        policy_from_table(pd.DataFrame({"item_id": [0, 0], "position": [1, 1], "probability": [0.5, 0.5]}), log)
