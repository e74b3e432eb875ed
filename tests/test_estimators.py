"""Each registered estimator recovers a known effect on a small confounded design; errors are clear."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit

from recuplift.estimators import estimator_names, make_estimator
from recuplift.nuisance import cross_fit, propensity_floor


@pytest.fixture(scope="module")
def confounded():
    rng = np.random.default_rng(0)
    n = 3000
    W = rng.normal(size=(n, 4))
    propensity = expit(1.2 * W[:, 0] - 0.8 * W[:, 1])
    t = (rng.random(n) < propensity).astype(int)
    tau = 1.0 + 0.5 * W[:, 2]
    y = 2.0 * W[:, 0] + 1.0 * W[:, 1] + tau * t + rng.normal(0, 1, n)
    groups = np.repeat(np.arange(n // 5), 5)
    return y, t, W, groups, propensity, tau


def test_naive_is_biased(confounded):
    y, t, W, groups, _, tau = confounded
    est = make_estimator("naive").fit(y, t, W, groups=groups)
    assert est.ate_.estimate - tau.mean() > 0.8


# the Gaussian process (and the ensemble holding it) have their own small-study tests below
@pytest.mark.parametrize("name", [n for n in estimator_names() if n not in ("naive", "gaussian_process", "ensemble")])
def test_adjusted_estimators_recover_the_ate(confounded, name):
    y, t, W, groups, _, tau = confounded
    params = dict(n_estimators=100, random_state=0)
    if name == "neural":  # one scale and two networks: the scale choice and the averaging have tests of their own
        params.update(epochs=60, n_ensemble=2, outcome_scale="identity")
    est = make_estimator(name, **params).fit(y, t, W, groups=groups)
    assert abs(est.ate_.estimate - tau.mean()) < 0.25, (name, est.ate_)
    assert est.ate_.ci_low < est.ate_.estimate < est.ate_.ci_high
    assert est.att_.ci_low < est.att_.estimate < est.att_.ci_high
    if est.gives_cate:
        assert est.cate_.shape == (len(y),)


def test_aipw_targets_the_ate_where_constant_effect_dml_targets_the_overlap_weighted_one():
    """Why the audit recommends AIPW without a logged propensity: when the effect grows with the propensity,
    LinearDML without modifiers estimates the e(1 − e)-weighted average effect, not the ATE."""
    rng = np.random.default_rng(0)
    n = 4000
    W = rng.normal(size=(n, 3))
    e = expit(1.5 * W[:, 0] - 1.0)
    t = (rng.random(n) < e).astype(int)
    tau = 1.0 + W[:, 0]
    y = W[:, 0] + W[:, 1] + tau * t + rng.normal(0, 1, n)
    groups = np.repeat(np.arange(n // 4), 4)
    overlap_weighted = np.sum(e * (1 - e) * tau) / np.sum(e * (1 - e))
    assert overlap_weighted - tau.mean() > 0.25  # the two estimands really differ here
    aipw = make_estimator("aipw").fit(y, t, W, groups=groups).ate_
    dml = make_estimator("linear_dml", n_estimators=100).fit(y, t, W, groups=groups).ate_
    assert aipw.ci_low < tau.mean() < aipw.ci_high
    assert not dml.ci_low < tau.mean() < dml.ci_high
    assert abs(dml.estimate - overlap_weighted) < abs(dml.estimate - tau.mean())


def test_logged_propensity_is_used_by_ipw(confounded):
    y, t, W, groups, propensity, tau = confounded
    est = make_estimator("ipw").fit(y, t, np.zeros((len(y), 1)), groups=groups, propensity=propensity)
    assert "propensity: logged" in est.notes_
    assert abs(est.ate_.estimate - tau.mean()) < 0.3


def test_estimated_propensities_are_clipped_and_logged_ones_used_as_logged_both_reported(confounded):
    y, t, W, groups, propensity, _ = confounded
    extreme = np.clip(propensity ** 4, 1e-4, 1 - 1e-4)
    logged = make_estimator("aipw", clip=0.05).fit(y, t, W, groups=groups, propensity=extreme)
    np.testing.assert_array_equal(logged.nuisances_.clipped_propensity(), extreme)
    assert any("logged propensities lie outside [0.05, 0.95]; used as logged, unclipped" in n for n in logged.notes_)
    estimated = make_estimator("aipw", clip=0.05).fit(y, t, W, groups=groups)
    assert estimated.nuisances_.clipped_propensity().min() >= 0.05
    assert any("estimated propensities clipped to [0.05, 0.95]" in n for n in estimated.notes_)


def test_estimated_propensities_are_clipped_less_as_the_log_grows():
    assert propensity_floor(500) == 0.01  # small logs keep the old bound
    assert propensity_floor(10_000) == pytest.approx(5 / (100 * np.log(10_000)))
    assert propensity_floor(200_000) < propensity_floor(40_000) < propensity_floor(10_000) < 0.01


def _sparse_exposure_log(seed: int, n: int = 40_000):
    """A logger that shows few candidates (a third of the propensities below 0.01), and the rarely shown are the
    likeliest to click anyway: clipping their propensities shrinks exactly the weights that matter."""
    rng = np.random.default_rng(seed)
    W = rng.normal(size=(n, 2))
    propensity = expit(-4.0 + 1.5 * W[:, 0] + 0.5 * W[:, 1])
    t = (rng.random(n) < propensity).astype(int)
    base = -1.5 - 0.8 * W[:, 0]
    p0, p1 = expit(base), expit(base + 0.8 - 0.4 * W[:, 0])
    y = (rng.random(n) < np.where(t == 1, p1, p0)).astype(float)
    return y, t, W, propensity, p1 - p0


@pytest.mark.slow
def test_small_logging_propensities_are_not_clipped_into_bias():
    y, t, W, propensity, tau = _sparse_exposure_log(0)
    assert (propensity < 0.01).mean() > 0.3
    logged = make_estimator("aipw").fit(y, t, W, propensity=propensity).ate_
    assert logged.ci_low < tau.mean() < logged.ci_high and abs(logged.estimate - tau.mean()) < 0.03
    # estimated propensities: the floor that falls with the log's size leaves far less bias than a fixed 0.01
    adaptive = make_estimator("aipw").fit(y, t, W).ate_
    fixed = make_estimator("aipw", clip=0.01).fit(y, t, W).ate_
    assert fixed.ci_high < tau.mean()  # measured: bias −0.09, the interval misses
    assert adaptive.ci_low < tau.mean() < adaptive.ci_high
    assert abs(adaptive.estimate - tau.mean()) < abs(fixed.estimate - tau.mean()) - 0.03


def test_n_estimators_sizes_the_propensity_model(confounded):
    y, t, W, groups, _, _ = (column[:1000] for column in confounded)
    few, default = (make_estimator("ipw", n_estimators=n).fit(y, t, W, groups=groups) for n in (5, 300))
    assert few.nuisances_.scores["propensity_log_loss"] > default.nuisances_.scores["propensity_log_loss"] + 0.01


def test_cate_learners_find_heterogeneity(confounded):
    y, t, W, groups, _, tau = confounded
    est = make_estimator("t_learner", n_estimators=100).fit(y, t, W, groups=groups)
    assert np.corrcoef(est.cate_, tau)[0, 1] > 0.5


def test_same_seed_same_numbers(confounded):
    y, t, W, groups, _, _ = (column[:1000] for column in confounded)
    a = make_estimator("linear_dml", n_estimators=50, random_state=3).fit(y, t, W, groups=groups)
    b = make_estimator("linear_dml", n_estimators=50, random_state=3).fit(y, t, W, groups=groups)
    assert a.ate_.estimate == b.ate_.estimate


def test_linear_dml_with_a_categorical_modifier_keeps_econmls_invalid_inference_warning_to_itself(confounded):
    """Every level of a category beside the intercept is a rank-deficient final stage: EconML warned that its own
    inference was invalid, on every audit with a categorical modifier, though the intervals are ours."""
    import warnings

    y, t, W, groups, _, _ = (column[:1500] for column in confounded)
    level = (W[:, 2] > 0).astype(float)
    X = np.column_stack([level, 1 - level, np.zeros(len(y))])  # the encoder's levels and its empty 'other'
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        est = make_estimator("linear_dml", n_estimators=50).fit(y, t, W, X=X, groups=groups)
    assert not any("underdetermined" in str(w.message) for w in caught)
    low, high = est.cate_[level == 0].mean(), est.cate_[level == 1].mean()  # the effect by level is still found
    assert high - low > 0.4 and np.all(np.isfinite(est.cate_interval_))


def test_unknown_estimator_and_ate_only_effect():
    with pytest.raises(ValueError, match="unknown estimator 'magic'"):
        make_estimator("magic")
    est = make_estimator("aipw")
    with pytest.raises(TypeError, match="average effect only"):
        est.effect(np.zeros((2, 2)))


def test_neural_ensemble_averages_its_seeded_networks(confounded):
    """The ensemble's effect is the mean of the single networks it is made of, and the same seed repeats it."""
    y, t, W, groups, _, _ = confounded
    common = dict(epochs=5, width=16, head_width=8, outcome_scale="identity")  # "auto" picks one scale for all
    fit = dict(groups=groups, nuisances=cross_fit(y, t, W, groups))  # only the per-row effects are compared
    both = make_estimator("neural", n_ensemble=2, random_state=3, **common).fit(y, t, W, **fit)
    singles = [make_estimator("neural", n_ensemble=1, random_state=seed, **common).fit(y, t, W, **fit)
               for seed in (3, 3 + 7919)]
    np.testing.assert_allclose(both.cate_, (singles[0].cate_ + singles[1].cate_) / 2, rtol=1e-5, atol=1e-6)
    assert not np.allclose(singles[0].cate_, singles[1].cate_)
    again = make_estimator("neural", n_ensemble=2, random_state=3, **common).fit(y, t, W, **fit)
    np.testing.assert_array_equal(again.cate_, both.cate_)


@pytest.fixture(scope="module")
def skewed():
    """A continuous outcome with an exponential control surface (as in IHDP's), and a 0/1 outcome."""
    rng = np.random.default_rng(1)
    n = 1200
    W = rng.normal(size=(n, 3))
    t = (rng.random(n) < expit(0.8 * W[:, 0])).astype(int)
    y = np.where(t == 1, 3.0 + W[:, 1], np.exp(1.2 * W[:, 0] + 0.6 * W[:, 1])) + rng.normal(0, 0.3, n)
    return y, t, W


def test_neural_keeps_the_outcome_scale_its_held_out_users_prefer(skewed):
    """With ``outcome_scale="auto"`` the ensemble is trained on the scale with the smaller held-out factual
    error; the same seed trains the same candidates, so forcing each scale reproduces them."""
    y, t, W = skewed
    common = dict(epochs=40, width=32, head_width=16, n_ensemble=1, random_state=5)
    nuisances = cross_fit(y, t, W)  # shared: only the networks differ
    auto = make_estimator("neural", **common).fit(y, t, W, nuisances=nuisances)
    forced = {s: make_estimator("neural", outcome_scale=s, **common).fit(y, t, W, nuisances=nuisances)
              for s in ("identity", "yeo-johnson")}
    errors = {s: est.members_[0].validation_mse for s, est in forced.items()}
    chosen = min(errors, key=errors.get)
    assert auto.outcome_scales_ == [chosen]
    np.testing.assert_allclose(auto.cate_, forced[chosen].cate_)
    assert not np.allclose(forced["identity"].cate_, forced["yeo-johnson"].cate_)


def test_neural_back_transform_stays_finite_far_outside_the_data(skewed):
    y, t, W = skewed
    heavy = np.exp(2.5 * np.abs(y - np.median(y)))  # right-skewed enough for a negative Yeo-Johnson power
    est = make_estimator("neural", outcome_scale="yeo-johnson", epochs=5, width=16, head_width=8,
                         n_ensemble=1).fit(heavy, t, W)
    assert est.members_[0].scale.transform[0].lambdas_[0] < 0
    assert np.isfinite(est.effect(W * 50)).all()


def test_neural_leaves_a_binary_outcome_on_its_own_scale(skewed):
    _, t, W = skewed
    clicks = (np.random.default_rng(2).random(len(t)) < expit(W[:, 0] + 0.5 * t)).astype(float)
    est = make_estimator("neural", epochs=5, width=16, head_width=8, n_ensemble=2).fit(clicks, t, W)
    assert est.outcome_scales_ == ["identity", "identity"]
    with pytest.raises(ValueError, match="'outcome_scale' parameter of NeuralDragonnet must be a str among"):
        make_estimator("neural", outcome_scale="log").fit(clicks, t, W)


def test_neural_balance_penalty_pulls_the_arms_representations_together(confounded):
    """The CFR-style penalty: the treated and control rows' mean representations move closer, relative to
    the representation's own spread, than without it."""
    import torch

    y, t, W, groups, _, _ = confounded
    common = dict(epochs=30, width=16, head_width=8, n_ensemble=1, outcome_scale="identity", random_state=0)

    def relative_gap(est) -> float:
        with torch.no_grad():
            z = est.members_[0].net.representation(est._scale(W)).numpy()
        return float(np.sum((z[t == 1].mean(0) - z[t == 0].mean(0)) ** 2) / np.sum(z.var(0)))

    fit = dict(groups=groups, nuisances=cross_fit(y, t, W, groups))  # shared: only the penalty differs
    plain = make_estimator("neural", balance_weight=0.0, **common).fit(y, t, W, **fit)
    balanced = make_estimator("neural", balance_weight=1.0, **common).fit(y, t, W, **fit)
    assert relative_gap(balanced) < 0.5 * relative_gap(plain)


def test_arm_outcome_models_stop_early_on_held_out_users_and_beat_the_fixed_schedule():
    from sklearn.metrics import log_loss

    from recuplift.nuisance import ArmOutcome, outcome_model

    rng = np.random.default_rng(0)
    n_users, per_user = 1500, 10
    groups = np.repeat(np.arange(n_users), per_user)
    user_effect = rng.normal(0, 0.5, n_users)[groups]
    W = rng.normal(size=(n_users * per_user, 40))  # two signals among 38 noise columns, as with text components
    p = expit(-2.3 + 0.8 * W[:, 0] - 0.6 * W[:, 1] + user_effect)
    y = (rng.random(len(p)) < p).astype(float)
    train = groups < 1000
    held = ~train
    arm = ArmOutcome.fit(True, W[train], y[train], random_state=0, groups=groups[train])
    fixed = outcome_model(True, random_state=0).fit(W[train], y[train])
    assert arm.model.n_estimators < 1000  # stopped before the cap
    ours = log_loss(y[held], arm.predict(W[held]))
    theirs = log_loss(y[held], fixed.predict_proba(W[held])[:, 1])
    assert ours < theirs - 0.003, (ours, theirs)
    assert np.corrcoef(arm.predict(W[held]), p[held])[0, 1] > np.corrcoef(fixed.predict_proba(W[held])[:, 1], p[held])[0, 1]
    # without user ids the held-out rows are single rows; one class only falls back to the mean
    assert ArmOutcome.fit(True, W[:500], y[:500], random_state=0).predict(W[:3]).shape == (3,)
    assert ArmOutcome.fit(True, W[:50], np.zeros(50), random_state=0).model is None


def test_outcome_models_that_learn_nothing_are_flagged_in_the_audit_warnings(confounded):
    from recuplift.causal import _nuisance_warnings

    y, t, W, groups, _, _ = confounded
    learned = cross_fit(y, t, W, groups)  # a continuous outcome driven by W: every fold's models split
    assert learned.scores["outcome_flat_exposed"] == learned.scores["outcome_flat_unexposed"] == 0.0
    assert _nuisance_warnings(learned, t) == []
    rng = np.random.default_rng(1)
    rare = (rng.random(len(y)) < 0.05).astype(float)  # a rare click on 3,000 rows: no leaf reaches its minimum mass
    flat = cross_fit(rare, t, W, groups)
    assert flat.scores["outcome_flat_exposed"] == flat.scores["outcome_flat_unexposed"] == 1.0
    assert np.ptp(flat.mu1) < 0.05  # only the folds' arm means differ
    (warning,) = _nuisance_warnings(flat, t)
    assert "same estimate on every rung" in warning and f"{int(t.sum()):,} exposed rows" in warning
    one_arm = cross_fit(np.where(t == 1, rare, W[:, 0] > 0), t, W, groups)  # only the exposed arm has nothing to learn
    (warning,) = _nuisance_warnings(one_arm, t)
    assert warning.startswith("outcome models: the exposed arm's model") and "propensity alone" in warning


def test_a_fold_without_an_arm_to_learn_from_is_a_data_error():
    from recuplift.schema import DataError

    groups = np.repeat([0, 1, 2], 4)  # the only two exposed rows are users 0's and 1's; user 2 is all unexposed
    t = np.array([1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])
    t[4] = 1
    y, W = np.arange(12.0) % 2, np.zeros((12, 1))
    with pytest.raises(DataError, match=r"fold \d of 2 has no training row with treatment=1"):
        cross_fit(y, t, W, groups, n_folds=2, random_state=3)  # users 0 and 1 share a fold: it was a NaN error


def test_user_folds_are_the_same_on_string_ids_and_on_their_codes():
    from recuplift.nuisance import folds, group_codes

    rng = np.random.default_rng(3)
    ids = np.array([f"u{i:06d}" for i in rng.integers(0, 400, 3000)], dtype=object)
    codes = group_codes(ids)
    assert codes.min() == 0 and codes.max() == len(np.unique(ids)) - 1
    assert np.all(np.diff(codes[np.argsort(ids, kind="stable")]) >= 0)  # sorted id order is kept
    for (train_a, test_a), (train_b, test_b) in zip(folds(3000, ids, 3, 7), folds(3000, codes, 3, 7)):
        assert np.array_equal(train_a, train_b) and np.array_equal(test_a, test_b)
        assert not set(ids[train_a]) & set(ids[test_a])  # a user's rows stay on one side


@pytest.fixture(scope="module")
def smooth():
    """A small study with a smooth, heterogeneous effect: where a Gaussian process belongs."""
    rng = np.random.default_rng(1)
    n = 400
    W = rng.normal(size=(n, 3))
    t = (rng.random(n) < expit(0.8 * W[:, 0])).astype(int)
    tau = 1.0 + np.sin(1.5 * W[:, 1])
    y = W[:, 0] + 0.5 * W[:, 2] ** 2 + tau * t + rng.normal(0, 0.3, n)
    return y, t, W, tau


def test_gaussian_process_recovers_a_smooth_heterogeneous_effect(smooth):
    y, t, W, tau = smooth
    est = make_estimator("gaussian_process", n_estimators=50).fit(y, t, W)
    assert np.corrcoef(est.cate_, tau)[0, 1] > 0.8
    assert np.sqrt(np.mean((est.cate_ - tau) ** 2)) < 0.35
    assert est.ate_.ci_low < tau.mean() < est.ate_.ci_high
    np.testing.assert_allclose(est.effect(W[:5]), est.cate_[:5], rtol=1e-6, atol=1e-8)


def test_gaussian_process_refuses_a_kernel_too_big_for_exact_inference(smooth):
    y, t, W, _ = smooth
    largest = int(max(t.sum(), (1 - t).sum()))
    limit = largest ** 2 * 4 * 8 / 2 ** 20  # room for rows² × (1 + 2) numbers, not for rows² × (3 + 2)
    est = make_estimator("gaussian_process", max_kernel_mib=limit)
    assert est.size_problem(t, n_features=1) is None
    assert f"{largest:,} rows in the larger arm × 3 feature(s)" in est.size_problem(t, n_features=3)
    with pytest.raises(ValueError, match=f"exact Gaussian process per arm.*limit of {limit:g} MiB.*use fewer features"):
        est.fit(y, t, W)
    assert make_estimator("gaussian_process").size_problem(t, n_features=3) is None


def test_ensemble_is_the_mean_of_members_identical_to_fitting_each_alone(smooth):
    y, t, W, _ = smooth
    network = make_estimator("neural", epochs=5, width=16, head_width=8, n_ensemble=1, random_state=3)
    ensemble = make_estimator("ensemble", members=(network, "gaussian_process"), random_state=3,
                              n_estimators=50).fit(y, t, W)
    alone = {"neural": make_estimator("neural", epochs=5, width=16, head_width=8, n_ensemble=1,
                                      random_state=3).fit(y, t, W),
             "gaussian_process": make_estimator("gaussian_process", random_state=3, n_estimators=50).fit(y, t, W)}
    assert list(ensemble.members_) == ["neural", "gaussian_process"]
    for name, est in alone.items():
        np.testing.assert_allclose(ensemble.members_[name].cate_, est.cate_, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(ensemble.cate_, (alone["neural"].cate_ + alone["gaussian_process"].cate_) / 2,
                               rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(ensemble.effect(W[:7]), ensemble.cate_[:7], rtol=1e-5, atol=1e-6)
    assert ensemble.ate_.estimate == pytest.approx(float(np.mean(ensemble.cate_)))
    assert not hasattr(network, "cate_")  # the instance was cloned, not fitted in place


def test_ensemble_members_must_be_distinct_cate_learners(smooth):
    y, t, W, _ = smooth
    with pytest.raises(ValueError, match=r"members \['aipw'\] give no per-row effects"):
        make_estimator("ensemble", members=("t_learner", "aipw")).fit(y, t, W)
    with pytest.raises(ValueError, match="must differ"):
        make_estimator("ensemble", members=("t_learner", "t_learner")).fit(y, t, W)
    assert "limit of 0.01 MiB" in make_estimator(
        "ensemble", members=(make_estimator("gaussian_process", max_kernel_mib=0.01), "t_learner")).size_problem(t)


def test_gaussian_process_notes_a_noise_level_at_its_bound_but_not_an_ignored_feature():
    rng = np.random.default_rng(0)
    n = 300
    W = rng.normal(size=(n, 4))  # the last two features play no part: their length scales run to the bound
    t = (rng.random(n) < 0.5).astype(int)
    signal = W[:, 0] + t * (1 + W[:, 1])
    noisy = make_estimator("gaussian_process").fit(signal + rng.normal(0, 0.3, n), t, W)
    assert noisy.notes_ == []
    noiseless = make_estimator("gaussian_process").fit(signal, t, W)
    assert any("noise level at its lower bound" in note for note in noiseless.notes_)


def test_dr_learner_final_stage_does_not_learn_the_pseudo_outcomes_noise():
    """A constant effect under noise: a fixed many-tree final stage chases the noise of the doubly robust
    pseudo-outcomes; the selected stage (early-stopped trees or a ridge) stays close to the constant."""
    rng = np.random.default_rng(5)
    n = 800
    W = rng.normal(size=(n, 4))
    t = (rng.random(n) < expit(W[:, 0])).astype(int)
    y = W[:, 0] + W[:, 1] + 1.0 * t + rng.normal(0, 1, n)
    est = make_estimator("dr_learner", random_state=0).fit(y, t, W)
    assert np.sqrt(np.mean((est.cate_ - 1.0) ** 2)) < 0.4
