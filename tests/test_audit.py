"""The audit end to end at a small size: results, uplift rows in input order, figures, clear errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

import recuplift
from recuplift import plots
from recuplift.causal import Audit, check_estimators
from recuplift.features import TabularEncoder
from recuplift.schema import DataError, Roles
from recuplift.simulate import simulate


@pytest.fixture(scope="module")
def audited(tmp_path_factory):
    sim = simulate(n_users=250, n_candidates=10, n_items=150, seed=5)
    out = tmp_path_factory.mktemp("audit")
    result = Audit(estimators=("naive", "ipw", "aipw", "linear_dml"), progress=False).fit(sim.data)
    result.write(out)
    return sim, result, out


@pytest.mark.slow
def test_results_json_has_the_documented_fields(audited):
    sim, result, out = audited
    info = json.loads((out / "results.json").read_text())
    assert info["n_rows"] == len(sim.data)
    versions = info["settings"].pop("versions")  # the library versions "same seed, same numbers" holds for
    assert versions["recuplift"] == recuplift.__version__ and versions["econml"] and versions["dowhy"]
    assert info["settings"] == {"estimators": ["naive", "ipw", "aipw", "linear_dml"], "estimator_params": {},
                                "n_folds": 3, "random_state": 0, "refuters": True}  # what reruns it
    for key in ("ate", "att"):
        assert {"estimate", "ci_low", "ci_high", "estimator", "adjustment"} <= set(info[key])
        assert info[key]["ci_low"] <= info[key]["estimate"] <= info[key]["ci_high"]
    rungs = {e["adjustment"] for e in info["estimates"]}
    assert rungs == {"none", "tabular", "tabular+text", "tabular+text+pair"}
    assert all({"estimator", "adjustment", "ate", "ci_low", "ci_high", "seconds"} <= set(e) for e in info["estimates"])
    names = {r["name"] for r in info["refutations"]}
    assert {"placebo_treatment", "random_common_cause", "data_subset", "unobserved_common_cause", "e_value"} <= names
    assert all(isinstance(r["passed"], bool) and r["detail"] for r in info["refutations"])
    for r in info["refutations"]:  # DoWhy's refuters start from their own refit: the detail says so, with its value
        if r["name"] != "e_value":
            assert f"DoWhy's LinearDML refit {r['estimate']:+.4f}" in r["detail"]
    truth = info["ground_truth"]
    assert truth["ate"] == pytest.approx(sim.truth["true_ate"]) and "pehe" in truth and "covered" in truth
    for row in info["estimates"]:  # every estimate scored against the truth, PEHE where it has per-row effects
        assert row["bias"] == pytest.approx(row["ate"] - sim.truth["true_ate"])
        assert row["covered"] == (row["ci_low"] <= sim.truth["true_ate"] <= row["ci_high"])
        assert (row["pehe"] is not None) == (row["estimator"] == "linear_dml")
    dml = next(r for r in info["estimates"] if r["estimator"] == "linear_dml")
    assert dml["pehe"] == pytest.approx(np.sqrt(np.mean((dml["ate"] - sim.data["true_uplift"]) ** 2)), rel=1e-6)
    assert info["recommended"]["estimator"] == "aipw"  # the log has a logged propensity
    for key in ("overlap", "balance", "nuisance", "uplift_validation"):
        assert key in info["diagnostics"]
    calibration = info["diagnostics"]["overlap"]["calibration"]  # the simulator logs the propensity it drew from
    assert calibration["source"] == "logged" and calibration["calibrated"] and len(calibration["bins"]) == 11


@pytest.mark.slow
def test_uplift_rows_follow_input_order_and_figures_exist(audited):
    sim, result, out = audited
    uplift = pd.read_parquet(out / "uplift.parquet")
    assert len(uplift) == len(sim.data)
    assert (uplift["user_id"].to_numpy() == sim.data["user_id"].to_numpy()).all()
    assert (uplift["item_id"].to_numpy() == sim.data["item_id"].to_numpy()).all()
    assert np.isfinite(uplift["uplift"]).all()
    with_interval = uplift["uplift_ci_low"].notna()  # rows whose fold's second stage was linear (not trees)
    assert with_interval.any() and with_interval.eq(uplift["uplift_ci_high"].notna()).all()
    inside = uplift[with_interval]
    assert ((inside["uplift_ci_low"] < inside["uplift"]) & (inside["uplift"] < inside["uplift_ci_high"])).all()
    for name in ("ladder", "overlap", "balance", "uplift_deciles", "qini", "groups", "drivers", "graph"):
        assert (out / "figures" / f"{name}.png").stat().st_size > 1000


def test_rows_missing_a_category_are_a_group_of_their_own():
    data = simulate(n_users=80, n_candidates=6, n_items=40, seed=4).data.drop(columns=["item_text", "user_text"])
    anonymous = data["user_id"].isin(data["user_id"].unique()[:30])  # users without a segment: 180 rows
    data = data.assign(category=data["category"].astype("category").where(~anonymous))
    result = Audit(estimators=("naive", "aipw"), run_refuters=False, progress=False).fit(data)
    missing = [row for row in result.heterogeneity["by_group"] if row["column"] == "category"
               and row["level"] == "(missing)"]
    assert len(missing) == 1 and missing[0]["rows"] == anonymous.sum()
    assert missing[0]["estimate"] == pytest.approx(result.uplift.loc[anonymous, "dr_score"].mean())
    labels = [label.get_text() for label in result.plot_groups().axes[0].get_yticklabels()]
    assert f"category = (missing) ({anonymous.sum():,})" in labels


def test_labels_from_the_data_are_drawn_as_written_not_as_maths(tmp_path):
    # a level or a column with '$…$' was read as mathtext: '$5-$10' lost its dollars, '$\\frac$' stopped the
    # figures — and with them the audit's write, after the whole run
    data = simulate(n_users=80, n_candidates=6, n_items=40, seed=4).data.drop(columns=["item_text", "user_text"])
    bands = {level: f"${i}-${i + 5} x$\\frac$" for i, level in enumerate(data["category"].unique())}
    data = data.assign(category=data["category"].map(bands).astype(str)).rename(columns={"price": "price_$\\frac$"})
    result = Audit(estimators=("naive", "aipw"), run_refuters=False, progress=False).fit(data)
    result.write(tmp_path / "audit")
    assert (tmp_path / "audit" / "figures" / "groups.png").stat().st_size > 1000
    labels = [label.get_text() for label in result.plot_groups().axes[0].get_yticklabels()]
    assert any(label.startswith("category = \\$0-\\$5 x\\$\\frac\\$") for label in labels)


def test_group_effects_are_drawn_level_by_level(audited):
    from recuplift import plots

    sim, result, _ = audited
    by_group = [row for row in result.heterogeneity["by_group"] if row["column"] == "category"]
    counts = sim.data["category"].value_counts()
    assert {row["level"] for row in by_group} == {str(level) for level in counts[counts >= 30].index}
    fig = result.plot_groups()  # computed for results.json, but no figure or report showed it
    labels = [label.get_text() for label in fig.axes[0].get_yticklabels()]
    assert {f"category = {row['level']} ({row['rows']:,})" for row in by_group} <= set(labels)
    empty = plots.group_effects([], 0.01)  # no categorical column: said, not an empty axis
    assert not empty.axes[0].axison and "no categorical column" in empty.axes[0].texts[0].get_text()


def test_the_drivers_figure_ranks_the_trees_features(audited):
    from recuplift import plots

    _, result, _ = audited
    importances = result.heterogeneity["drivers"]["importances"]
    fig = result.plot_drivers()
    labels = [label.get_text() for label in fig.axes[0].get_yticklabels()]
    assert labels[-1] == max(importances, key=importances.get) and len(labels) == len(importances)  # largest on top
    empty = plots.drivers({})  # a constant prediction: said, not an empty axis
    assert not empty.axes[0].axison and "no feature drives it" in empty.axes[0].texts[0].get_text()


@pytest.mark.slow
def test_adjustment_moves_the_estimate_toward_the_truth(audited):
    sim, result, _ = audited
    est = result.estimates.set_index(["estimator", "adjustment"])["ate"]
    truth = sim.truth["true_ate"]
    assert abs(est[("aipw", "tabular+text+pair")] - truth) < abs(est[("naive", "none")] - truth)
    assert result.summary().shape[1] == 6 and "ate" in result.to_dict()


def test_without_a_logged_propensity_the_recommended_estimate_is_aipw_on_the_richest_rung():
    data = simulate(n_users=150, n_candidates=8, n_items=80, seed=2).data.drop(columns=["propensity", "item_text",
                                                                                          "user_text"])
    result = Audit(estimators=("naive", "aipw", "linear_dml"), run_refuters=False, progress=False).fit(data)
    assert result.recommended["estimator"] == "aipw" and result.recommended["adjustment"] == "tabular"
    assert "no logged propensity" in result.recommended["reason"]
    assert result.ate["estimator"] == "aipw"


def test_the_overlap_figure_draws_the_propensitys_calibration_beside_the_histograms(audited):
    _, result, _ = audited
    assert len(result.plot_overlap().axes) == 2
    title = result.plot_overlap().axes[1].get_title()
    assert title == "Calibration: it matches who was exposed"
    before = {k: v for k, v in result.diagnostics["overlap"].items() if k != "calibration"}  # an older audit folder
    assert len(plots.overlap(before).axes) == 1


def test_a_logged_propensity_that_does_not_match_the_exposures_is_named_in_the_recommendation():
    log = _tabular_log(0.5, n_users=600).assign(propensity=lambda d: 1 / (1 + np.exp(-d["x"])))
    kept = (log["exposed"] == 0) | (np.random.default_rng(1).random(len(log)) >= 0.3)  # lost 30% of its exposed rows
    roles = Roles(covariates=("x",))
    for data, matches in ((log, True), (log[kept], False)):
        result = Audit(roles, estimators="aipw", run_refuters=False, progress=False).fit(data)
        assert result.recommended["reason"].startswith("the log has a logged propensity")
        assert ("does not match who was exposed" in result.recommended["reason"]) is not matches
        assert any("does not match who was exposed" in w for w in result.diagnostics["warnings"]) is not matches


def test_the_uplift_table_keeps_the_input_index_so_joining_it_back_aligns():
    data = simulate(n_users=150, n_candidates=8, n_items=80, seed=2).data.drop(columns=["item_text", "user_text"])
    shuffled = data.sample(frac=1.0, random_state=0).iloc[::2]  # a filtered, reordered log: its index has gaps
    result = Audit(estimators=("naive", "aipw"), run_refuters=False, progress=False).fit(shuffled)
    assert result.uplift.index.equals(shuffled.index)  # was 0..n-1: shuffled.join(result.uplift) paired wrong rows
    joined = shuffled.join(result.uplift, rsuffix="_audit")
    assert (joined["user_id"] == joined["user_id_audit"]).all() and (joined["item_id"] == joined["item_id_audit"]).all()
    assert result.uplift["row"].tolist() == list(range(len(shuffled)))  # the position, as uplift.parquet has it
    # printed, the result says what it found in a line (the dataclass's repr printed every table, kilobytes)
    ate = result.ate
    assert repr(result).startswith(f"AuditResult(n_rows={len(shuffled):,}, ATE {ate['estimate']:+.4f}")
    assert len(repr(result)) < 300 and "effect of showing (ATE)" in result._repr_html_()


def test_missing_numeric_covariates_are_imputed_with_an_indicator_not_passed_on_as_nan():
    data = simulate(n_users=150, n_candidates=8, n_items=80, seed=3).data.drop(columns=["propensity", "item_text",
                                                                                          "user_text"])
    tenure = data["user_tenure_days"].astype(float)
    tenure[::7] = np.nan
    data["user_tenure_days"] = tenure
    result = Audit(estimators=("naive", "aipw", "linear_dml", "neural"), run_refuters=False, progress=False,
                   estimator_params={"neural": dict(n_ensemble=1, epochs=20, width=32, head_width=16)}).fit(data)
    estimates = result.estimates.set_index(["estimator", "adjustment"])
    assert np.isfinite(estimates.loc[("linear_dml", "tabular"), "ate"])
    assert np.isfinite(estimates.loc[("neural", "tabular"), "ate"])

    encoder = TabularEncoder(("user_tenure_days", "price")).fit(data)
    fresh = data.head(3).assign(price=np.nan)  # a column complete at fit time gets its median, no new column
    encoded = encoder.transform(fresh)
    assert list(encoded.columns) == ["user_tenure_days", "user_tenure_days_missing", "price"]
    assert encoded["price"].eq(data["price"].median()).all() and not encoded.isna().any().any()
    assert encoder.transform(data)["user_tenure_days_missing"].sum() == tenure.isna().sum()


def test_progress_false_keeps_the_text_encoders_bar_quiet_too(tmp_path, monkeypatch, capfd):
    monkeypatch.setenv("RECUPLIFT_CACHE_DIR", str(tmp_path))  # a cold cache: every text is encoded
    data = simulate(n_users=100, n_candidates=3, n_items=30, seed=1).data
    assert data["user_text"].nunique() > 64  # more than one batch: the bar would show
    naive_only = Audit(estimators=("naive",), run_refuters=False, progress=False).fit(data)
    assert "encoding texts" not in capfd.readouterr().err
    assert naive_only.recommended["adjustment"] == "none" and "keeps any confounding" in naive_only.recommended["reason"]
    assert naive_only.ate["estimate"] == naive_only.estimates["ate"].iloc[0]


def test_a_treatment_the_covariates_decide_fails_the_overlap_check():
    """Clipped at the bounds, such propensities sat exactly on 0.01 and 0.99 and the check passed."""
    data = simulate(n_users=150, n_candidates=20, n_items=200, seed=3).data.drop(columns=["propensity"])
    decided = data.assign(exposed=(data["price"] > data["price"].median()).astype(int))
    roles = Roles(text=(), covariates=("price", "category"))
    result = Audit(roles, estimators=("naive", "aipw"), run_refuters=False, progress=False).fit(decided)
    overlap = result.diagnostics["overlap"]
    assert not overlap["passed"] and overlap["share_outside"] > 0.5
    assert any(w.startswith("overlap: ") for w in result.diagnostics["warnings"])
    headline = result.headline().set_index("question")["answer"]
    assert headline["overlap"].startswith("WARN") and "randomized test" in headline["next step"]
    small = simulate(n_users=80, n_candidates=10, n_items=60, seed=3).data.drop(columns=["propensity"])
    small = small.assign(exposed=(small["price"] > small["price"].median()).astype(int))  # propensities stay inside
    on_small = Audit(roles, estimators=("naive", "aipw"), run_refuters=False, progress=False).fit(small)
    small_overlap = on_small.diagnostics["overlap"]  # the bounds alone miss it on 800 rows; the separation does not
    assert small_overlap["share_outside"] <= 0.05 and small_overlap["separation_auc"] >= 0.99 and not small_overlap["passed"]
    assert any("separates exposed from unexposed rows almost perfectly" in w for w in on_small.diagnostics["warnings"])
    shuffled = data.assign(exposed=np.random.default_rng(0).permutation(decided["exposed"].to_numpy()))
    fine = Audit(roles, estimators=("naive", "aipw"), run_refuters=False, progress=False).fit(shuffled)
    assert fine.diagnostics["overlap"]["passed"]
    assert not any(w.startswith("overlap: ") for w in fine.diagnostics["warnings"])


def test_bad_roles_fail_before_any_work():
    df = simulate(n_users=30, n_candidates=5, n_items=20, seed=1).data
    with pytest.raises(DataError, match="missing column"):
        Audit(Roles(treatment="shown"), progress=False).fit(df)
    with pytest.raises(ValueError, match=r"unknown estimator 'bogus'; choose from naive"):
        Audit(estimators=("naive", "bogus"), progress=False).fit(df)
    with pytest.raises(ValueError, match="no estimator given"):
        Audit(estimators=(), progress=False).fit(df)
    with pytest.raises(ValueError, match=r"estimator\(s\) \['aipw'\] listed more than once"):  # was two equal rows
        Audit(estimators=("aipw", "naive", "aipw"), progress=False).fit(df)
    with pytest.raises(ValueError, match=r"random_state \(--seed\) must be a whole number in \[0, 2147483647\]; got -1"):
        Audit(random_state=-1, progress=False).fit(df)  # scikit-learn's PCA raised it from inside the text features
    with pytest.raises(ValueError, match="n_folds must be a whole number ≥ 2"):
        Audit(n_folds=1, progress=False).fit(df)
    two_users = df[df["user_id"].isin(df["user_id"].unique()[:2])]  # scikit-learn's splitter would raise deep inside
    with pytest.raises(DataError, match=r"column 'user_id': the log has 2 distinct user\(s\).* 3 folds"):
        Audit(progress=False).fit(two_users)
    with pytest.raises(DataError, match=r"column 'user_id'.* 4 folds"):  # the audit's own folds are what counts
        Audit(n_folds=4, progress=False).fit(df[df["user_id"].isin(df["user_id"].unique()[:3])])



def test_the_verbs_run_in_order_and_estimators_may_be_a_comma_separated_string():
    from sklearn.exceptions import NotFittedError

    df = simulate(n_users=60, n_candidates=6, n_items=40, seed=3).data.drop(columns=["item_text", "user_text"])
    for verb, needs in (("identify", r"model\(df\)"), ("estimate", r"identify\(\)"), ("refute", r"estimate\(\)")):
        with pytest.raises(NotFittedError, match=f"{verb}\\(\\) needs {needs} first"):  # were AttributeErrors
            getattr(Audit(progress=False), verb)()
    modelled = Audit(progress=False).model(df)
    with pytest.raises(NotFittedError, match=r"refute\(\) needs estimate\(\) first"):
        modelled.refute()
    with pytest.raises(ValueError, match=r"concepts \(premium\) are scored on the text columns, and the audit has none"):
        Audit(concepts={"premium": "an expensive luxury product"}, progress=False).fit(df)  # were dropped silently
    # the CLI's and the notebooks' spelling; a bare string was iterated letter by letter ('n', 'a', 'i', …)
    result = Audit(estimators="naive, aipw", run_refuters=False, progress=False).fit(df)
    assert set(result.estimates["estimator"]) == {"naive", "aipw"}
    assert result.to_dict()["settings"]["estimators"] == ["naive", "aipw"]


def test_a_log_too_big_for_an_estimator_fails_before_the_work_it_would_waste(monkeypatch):
    never = lambda *a, **k: pytest.fail("work started before the size check")  # noqa: E731
    big = simulate(n_users=400, n_candidates=20, n_items=100, seed=1).data  # ~5,600 unexposed rows
    monkeypatch.setattr("recuplift.causal.build_adjustment_sets", never)
    with pytest.raises(DataError, match=r"column 'exposed': gaussian_process .* over its limit of 512 MiB.*"
                                        r"leave gaussian_process out of the estimators"):
        Audit(estimators=("aipw", "gaussian_process"), progress=False).fit(big)
    with pytest.raises(DataError, match="limit of 512 MiB"):  # an ensemble holding the GP fails the same way
        Audit(estimators=("ensemble",), progress=False).fit(big)
    monkeypatch.undo()
    # ~4,200 unexposed rows pass on the rows alone, not with the covariates: refused before any estimate
    smaller = simulate(n_users=300, n_candidates=20, n_items=100, seed=1).data
    monkeypatch.setattr("recuplift.causal.cross_fit", never)
    roles = Roles(text=(), covariates=("category", "price", "user_tenure_days"))
    with pytest.raises(DataError, match=r"rows in the larger arm × \d+ feature\(s\)"):
        Audit(roles, estimators=("aipw", "gaussian_process"), run_refuters=False, progress=False).fit(smaller)


def test_an_audit_replaces_only_a_folder_that_holds_nothing_else(tmp_path):
    from recuplift.causal import check_audit_folder

    log = tmp_path / "log.parquet"
    simulate(n_users=30, n_candidates=5, n_items=20, seed=1).data.to_parquet(log)
    check_audit_folder(tmp_path / "new")  # new, empty and a previous audit's folder are fine
    (tmp_path / "empty").mkdir()
    check_audit_folder(tmp_path / "empty")
    (tmp_path / "old" / "figures").mkdir(parents=True)
    (tmp_path / "old" / "results.json").write_text("{}")
    check_audit_folder(tmp_path / "old")
    with pytest.raises(ValueError, match=r"holds empty, log.parquet, old, which an audit did not write"):
        check_audit_folder(tmp_path)
    with pytest.raises(ValueError, match="is a file"):
        check_audit_folder(log)
    # `--out .` beside the log deleted the log (and everything else there) once the audit had run
    result = subprocess.run([sys.executable, "-m", "recuplift.cli", "audit", "log.parquet", "--out", "."],
                            capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 2 and "Invalid value for --out" in result.stderr and "audit:" not in result.stderr
    assert log.exists() and (tmp_path / "old" / "results.json").exists()


def test_cli_audit_bad_roles_exit_2(tmp_path):
    path = tmp_path / "log.parquet"
    simulate(n_users=30, n_candidates=5, n_items=20, seed=1).data.to_parquet(path)
    result = subprocess.run([sys.executable, "-m", "recuplift.cli", "audit", str(path), "--out", str(tmp_path / "o"),
                             "--outcome", "bought"], capture_output=True, text=True)
    assert result.returncode == 2 and "'bought'" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "o").exists()
    # a wrong option is named as the option, not reported as a problem in the data
    result = subprocess.run([sys.executable, "-m", "recuplift.cli", "audit", str(path), "--out", str(tmp_path / "o"),
                             "--estimators", "aipw,bogus"], capture_output=True, text=True)
    assert result.returncode == 2 and "--estimators" in result.stderr and "'bogus'" in result.stderr
    assert "problem in the data" not in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "o").exists()
    for setting, named in (("aipw.epochs=5", "aipw does not take ['epochs']; it has no settings of its own"),
                           ("neural.epochs=5", "'neural'"),
                           ("aipw.n_estimators=50", "the audit's own")):
        result = subprocess.run([sys.executable, "-m", "recuplift.cli", "audit", str(path), "--out",
                                 str(tmp_path / "o"), "--estimators", "naive,aipw", "--estimator-param", setting],
                                capture_output=True, text=True)
        message = " ".join(result.stderr.split())  # typer's box wraps long messages
        assert result.returncode == 2 and "--estimator-param" in message and named in message, result.stderr
        assert "Traceback" not in result.stderr and not (tmp_path / "o").exists()


def test_estimator_settings_reach_the_estimator_and_wrong_ones_fail_before_any_work():
    data = simulate(n_users=60, n_candidates=6, n_items=40, seed=2).data.drop(columns=["item_text", "user_text"])
    tiny = dict(n_ensemble=1, width=8, head_width=4)

    def neural_ate(**settings) -> float:
        result = Audit(estimators=("naive", "neural"), run_refuters=False, progress=False,
                       estimator_params={"neural": {**tiny, **settings}}).fit(data)
        assert result.to_dict()["settings"]["estimator_params"] == {"neural": {**tiny, **settings}}
        return float(result.estimates.set_index(["estimator", "adjustment"]).loc[("neural", "tabular"), "ate"])

    assert neural_ate(epochs=2) == neural_ate(epochs=2)
    assert neural_ate(epochs=2) != neural_ate(epochs=6)
    from recuplift.estimators import make_estimator

    objects = Audit(estimators=("ensemble",), estimator_params={"ensemble": {"members": (make_estimator("s_learner"),)}})
    recorded = json.loads(json.dumps(objects._settings()))  # an estimator object as a setting is kept as its repr
    assert recorded["estimator_params"] == {"ensemble": {"members": "(SLearner(),)"}}
    with pytest.raises(ValueError, match=r"neural does not take \['epoch'\]; did you mean 'epochs'\? it takes .*epochs"):
        Audit(estimators=("naive", "neural"), estimator_params={"neural": {"epoch": 2}}, progress=False).fit(data)
    with pytest.raises(ValueError, match="settings given for 'neural', which is not among the estimators"):
        Audit(estimators=("naive", "aipw"), estimator_params={"neural": {"epochs": 2}}, progress=False).fit(data)
    # values out of range: epochs=0 fitted untrained networks and reported their effect; a negative width or
    # n_ensemble=0 failed deep inside torch or numpy; a member without per-row effects failed mid-audit
    for name, settings, named in (("neural", {"epochs": 0}, "'epochs' parameter of NeuralDragonnet"),
                                  ("neural", {"width": -1}, "'width' parameter"),
                                  ("neural", {"n_ensemble": 0}, "'n_ensemble' parameter"),
                                  ("gaussian_process", {"max_kernel_mib": 0}, "'max_kernel_mib' parameter"),
                                  ("ensemble", {"members": ("neural", "naive")}, r"members \['naive'\] give no")):
        with pytest.raises(ValueError, match=named):
            check_estimators(("naive", name), {name: settings})


@pytest.mark.slow
def test_failed_write_leaves_no_partial_output(audited, tmp_path, monkeypatch):
    _, result, _ = audited
    import recuplift.causal as causal

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(causal, "write_json", broken)
    with pytest.raises(OSError):
        result.write(tmp_path / "out")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_refutations_repeat_across_processes(tmp_path):
    """Same seed, same numbers — in a new process too, where Python hashes strings differently (DoWhy hands back
    its adjustment set in set order)."""
    path = tmp_path / "log.parquet"
    simulate(n_users=120, n_candidates=8, n_items=60, seed=4).data.to_parquet(path)
    script = ("import sys, json, pandas as pd; from recuplift.causal import Audit; "
              "r = Audit(estimators=('aipw',), progress=False).fit(pd.read_parquet(sys.argv[1])); "
              "print(json.dumps([x.get('new_effect') for x in r.refutations] + [r.refutations[0]['estimate']]))")
    runs = [subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True,
                           env={**os.environ, "PYTHONHASHSEED": seed}) for seed in ("1", "2")]
    assert all(run.returncode == 0 for run in runs), runs[0].stderr[-2000:]
    first, second = (json.loads(run.stdout.strip().splitlines()[-1]) for run in runs)
    assert first == second


@pytest.mark.slow
def test_sensitivity_checks_read_a_continuous_outcome_the_same_in_any_units():
    """Minutes or hours from another origin: the unobserved-confounder refuter moves the estimate by the same share
    and the E-value does not change (a fixed outcome shift, or a ratio of means, would depend on the units)."""
    data = simulate(n_users=150, n_candidates=8, n_items=80, seed=6).data.drop(columns=["item_text", "user_text"])
    rng = np.random.default_rng(0)
    data["outcome"] = 20 * data["outcome"] + rng.gamma(2.0, 5.0, len(data))  # watch minutes
    checks = {}
    for units, scale, origin in (("minutes", 1.0, 0.0), ("hours", 1 / 60, -2.0)):
        log = data.assign(outcome=origin + scale * data["outcome"])
        result = Audit(estimators=("aipw",), progress=False).fit(log)
        checks[units] = {r["name"]: r for r in result.refutations}
    minutes, hours = checks["minutes"]["unobserved_common_cause"], checks["hours"]["unobserved_common_cause"]
    assert minutes["estimate"] > 0 and minutes["new_effect"] / minutes["estimate"] == pytest.approx(
        hours["new_effect"] / hours["estimate"], rel=0.02)
    assert hours["outcome_shift"] == pytest.approx(minutes["outcome_shift"] / 60)
    assert checks["minutes"]["e_value"]["scale"] == "standardized difference"
    assert checks["minutes"]["e_value"]["e_value"] == pytest.approx(checks["hours"]["e_value"]["e_value"], rel=0.02)


def _tabular_log(effect: float, seed: int = 0, n_users: int = 300, per_user: int = 8) -> pd.DataFrame:
    """A confounded log with no text: x moves exposure and the click; showing adds ``effect`` on the logit."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n_users * per_user)
    exposed = (rng.random(len(x)) < 1 / (1 + np.exp(-x))).astype(int)
    outcome = (rng.random(len(x)) < 1 / (1 + np.exp(1 - x - effect * exposed))).astype(int)
    return pd.DataFrame({"user_id": np.repeat(np.arange(n_users), per_user), "item_id": rng.integers(0, 50, len(x)),
                         "exposed": exposed, "outcome": outcome, "x": x})


def _popularity_log(seed: int, n_users: int = 300, per_user: int = 20, n_items: int = 120) -> pd.DataFrame:
    """A log whose items carry an unrecorded popularity that raises both exposure and the click; x is recorded;
    ``propensity`` is the logger's own."""
    rng = np.random.default_rng(seed)
    n = n_users * per_user
    item = rng.integers(0, n_items, n)
    popularity = rng.normal(size=n_items)[item]
    x = rng.normal(size=n)
    propensity = 1 / (1 + np.exp(-(x + 1.2 * popularity)))
    exposed = (rng.random(n) < propensity).astype(int)
    outcome = (rng.random(n) < 1 / (1 + np.exp(1.5 - x - popularity - 0.5 * exposed))).astype(int)
    return pd.DataFrame({"user_id": np.repeat(np.arange(n_users), per_user), "item_id": item, "exposed": exposed,
                         "outcome": outcome, "x": x, "propensity": propensity})


def test_an_unrecorded_item_popularity_is_named_and_a_logged_propensity_clears_it():
    log = _popularity_log(0)
    roles = Roles(covariates=("x",), text=None)
    missed, logged = (Audit(roles, estimators=("aipw",), run_refuters=False, progress=False).fit(data)
                      for data in (log.drop(columns="propensity"), log))
    shared = missed.diagnostics["shared_confounding"]
    assert shared["item"]["flagged"] and not shared["user"]["flagged"]
    missed_by = missed.ate["uncorrected"]["estimate"] - logged.ate["estimate"]
    assert shared["item"]["bias"] >= missed_by - 3 * shared["item"]["se"] > 0
    warning = next(w for w in missed.diagnostics["warnings"] if w.startswith("confounding shared by each item's"))
    assert f"about {shared['item']['bias']:+.4f}" in warning and "popularity" in warning
    # the recommended estimate has the named read subtracted
    aipw = missed.estimates.set_index("estimator").loc["aipw"]
    before = missed.ate["uncorrected"]
    assert "item" in missed.ate["subtracted"] and before["estimate"] == aipw["ate"]
    assert missed.ate["estimate"] == pytest.approx(before["estimate"] - sum(missed.ate["subtracted"].values()))
    assert missed.ate["ci_high"] - missed.ate["ci_low"] > before["ci_high"] - before["ci_low"]
    assert f"by item {missed.ate['subtracted']['item']:+.4f}" in missed.recommended["reason"]
    assert "the recommended estimate has it subtracted" in warning
    # it lands nearer what the logged propensity gives than the estimate that missed popularity; the ATT too
    assert abs(missed.ate["estimate"] - logged.ate["estimate"]) < 0.5 * abs(missed_by)
    assert missed.att["subtracted"].keys() == missed.ate["subtracted"].keys()
    # the ATT's interval adds the read's variance to the estimator's own ATT standard error
    att_se, att_read_se = aipw["att_se"], shared["item"]["att"]["se"]
    critical = (before["ci_high"] - before["estimate"]) / before["se"]
    assert missed.att["ci_high"] - missed.att["estimate"] == pytest.approx(critical * np.hypot(att_se, att_read_se))
    assert aipw["att_ci_high"] - aipw["att"] == pytest.approx(critical * att_se)
    assert abs(missed.att["estimate"] - logged.att["estimate"]) \
        < 0.5 * abs(missed.att["uncorrected"]["estimate"] - logged.att["estimate"])
    headline = missed.headline().set_index("question")["answer"]
    answer = headline["confounding shared by an item's or a user's rows"]
    assert answer.startswith("WARN: ") and "subtracted from the estimate" in answer
    assert f"before subtracting, the effect read {before['estimate']:+.4f}" in answer
    assert headline["next step"].startswith("a confounder constant per item is missing")
    # the ladder figure ends with the headline estimate; without a subtraction it shows the estimates alone
    ladders = {name: [label.get_text() for label in result.plot_ladder().axes[0].get_yticklabels()]
               for name, result in (("missed", missed), ("logged", logged))}
    assert len(ladders["missed"]) == len(missed.estimates) + 1 and len(ladders["logged"]) == len(logged.estimates)
    assert "less shared bias (item" in ladders["missed"][-1]
    plt.close("all")
    table = missed.shared_confounding().set_index("rows shared by")
    assert table.loc["each item", "named"] and table.loc["each item", "bias it implies"] == shared["item"]["bias"]
    # with the logged propensity there is nothing for it to bias: not computed, and said so
    assert logged.diagnostics["shared_confounding"] == {} and logged.shared_confounding().empty
    assert logged.ate["subtracted"] == {} and logged.ate["estimate"] == logged.estimates.set_index("estimator").loc["aipw", "ate"]
    assert not any(w.startswith("confounding shared") for w in logged.diagnostics["warnings"])
    assert logged.headline().set_index("question")["answer"]["confounding shared by an item's or a user's rows"] \
        .startswith("not needed: with the logged propensity")


@pytest.mark.slow
def test_refuters_pass_a_strong_effect_and_the_sensitivity_checks_fail_a_null_one():
    roles = Roles(covariates=("x",), text=None)
    strong, null = (Audit(roles, estimators=("aipw",), progress=False).fit(_tabular_log(effect))
                    for effect in (1.5, 0.0))
    checks = {r["name"]: r for r in strong.refutations}
    assert all(r["passed"] for r in checks.values()), [r["detail"] for r in checks.values() if not r["passed"]]
    assert abs(checks["placebo_treatment"]["new_effect"]) < 0.2 * checks["placebo_treatment"]["estimate"]
    assert checks["e_value"]["e_value_ci"] > 1.25 and checks["e_value"]["scale"] == "risk ratio"
    null_checks = {r["name"]: r for r in null.refutations}
    assert null.ate["ci_low"] <= 0 <= null.ate["ci_high"]
    assert not null_checks["e_value"]["passed"] and null_checks["e_value"]["e_value_ci"] == 1.0


def test_an_unchanged_estimate_from_flat_outcome_models_is_not_read_as_text_changing_nothing(audited_log):
    import dataclasses

    _, result, _ = audited_log
    rec = result.recommended
    estimates = result.estimates.copy()
    same = (estimates["estimator"] == rec["estimator"]) & estimates["adjustment"].isin(["tabular", rec["adjustment"]])
    estimates.loc[same, "ate"] = result.ate["estimate"]  # the two rungs agree to the last digit
    flat = {rung: {**scores, "outcome_flat_exposed": 1.0, "outcome_flat_unexposed": 1.0}
            for rung, scores in result.diagnostics["nuisance"].items()}

    def text_row(**changes):
        return dataclasses.replace(result, estimates=estimates, **changes).headline().set_index("question").loc[
            "what text changed", "answer"]

    assert "(+0.0000)" in text_row() and "learnt nothing" not in text_row()  # models that learnt: a real zero
    assert "learnt nothing on either rung" in text_row(diagnostics={**result.diagnostics, "nuisance": flat})


def test_the_headline_says_whether_the_interval_covers_the_simulated_truth_in_words(audited_log):
    import dataclasses

    _, result, _ = audited_log
    for covered, said in ((True, "the interval covers it"), (False, "the interval misses it")):
        truth = {"ate": 0.0123, "bias": 0.0, "covered": covered, "pehe": 0.1}
        row = dataclasses.replace(result, ground_truth=truth).headline().set_index("question").loc["simulated truth"]
        assert row["answer"] == f"ATE +0.0123; {said}"
