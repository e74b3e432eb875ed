"""Targeted tests from an audit and the audit checked against a randomized test on the same pairs."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recuplift.schema import DataError
from recuplift.targeting import (check_log_matches_audit, compare_with_test, logged_propensity_mismatch,
                                 plan_targeted_tests, read_audit_roles, read_audit_uplift, read_exclusions, top_share)


def test_top_share_takes_the_highest_predictions_with_stable_ties():
    scores = np.array([0.1, 0.5, 0.5, -0.2, 0.3])
    assert top_share(scores, 0.4).tolist() == [False, True, True, False, False]
    assert top_share(scores, 1.0).all()
    with pytest.raises(ValueError, match="share"):
        top_share(scores, 0.0)


@pytest.mark.slow
def test_targeted_plan_rows_and_choices(audited_log):
    _, result, _ = audited_log
    plan = plan_targeted_tests(result.uplift, segments=(0.1, 0.2, 0.5, 1.0), weekly_units=50_000)
    table = plan.segments
    assert table["share"].tolist() == [0.1, 0.2, 0.5, 1.0]
    assert (table["ci_low"] <= table["effect"]).all() and (table["effect"] <= table["ci_high"]).all()
    full = table.iloc[-1]
    assert full["effect"] == pytest.approx(result.uplift["dr_score"].mean())  # q = 1 is the audit's AIPW ATE
    assert full["effect"] == pytest.approx(result.ate["estimate"], rel=1e-9)
    testable = table.dropna(subset=["n_total"])
    assert (testable["weeks"] == testable["n_total"] / (50_000 * testable["share"])).all()
    assert plan.fastest in set(testable["share"]) and plan.to_dict()["segments"]
    fastest = table.set_index("share").loc[plan.fastest]
    step = plan.next_step()
    assert f"top {plan.fastest:.0%}" in step and f"{int(fastest['n_total']):,} units" in step
    assert ("may well find nothing" in step) == (fastest["ci_low"] <= 0)
    assert ("run it a full week anyway" in step) == (fastest["weeks"] < 1)
    swift = replace(plan, weekly_units=1e9, segments=table.assign(weeks=table["weeks"] * 50_000 / 1e9))
    assert "run it a full week anyway" in swift.next_step()  # a sample that arrives in hours still spans a week
    for low, said in ((-0.01, True), (0.001, False)):  # an expected effect the audit cannot tell from zero is said
        shifted = replace(plan, segments=table.assign(ci_low=np.where(table["share"] == plan.fastest, low,
                                                                      table["ci_low"])))
        assert ("Its interval includes zero" in shifted.next_step()) == said
    hopeless = replace(plan, segments=table.assign(n_total=np.nan, effect=-abs(table["effect"]),
                                                   incremental_per_1000_units=-1.0))
    assert hopeless.fastest is None and "smallest lift worth shipping" in hopeless.next_step()
    # notes say why a cell is empty, and only when one is
    negative = result.uplift.assign(dr_score=np.where(top_share(result.uplift["uplift"].to_numpy(float), 0.1),
                                                      -1.0, result.uplift["dr_score"]))
    unplanned = plan_targeted_tests(negative, segments=(0.1, 1.0))
    assert np.isnan(unplanned.segments.set_index("share").loc[0.1, "n_total"])
    assert any(note.startswith("top 10%") and "a predicted effect ≤ 0" in note for note in unplanned.notes)
    assert any("--weekly-users" in note for note in unplanned.notes) and not any("--weekly-users" in n for n in plan.notes)
    with pytest.raises(ValueError, match="must be positive; got 0"):  # zero is a mistake, not "no runtime wanted"
        plan_targeted_tests(result.uplift, weekly_units=0)


@pytest.mark.slow
def test_predicted_segment_effects_agree_with_a_randomized_test(audited_log):
    sim, result, rct = audited_log
    table = compare_with_test(result.uplift, rct.data)
    assert table["agrees"].all()
    # a wrong audit is caught: shift every predicted effect by +0.1 (the effects themselves are ≈ 0.04). The top
    # 10% is 600 rows a side, whose combined 95% margin (≈ 0.09 on this log) leaves a 0.1 shift at the edge of
    # what it can resolve; every larger segment must flag it.
    wrong = compare_with_test(result.uplift.assign(dr_score=result.uplift["dr_score"] + 0.1), rct.data)
    assert not wrong.loc[wrong["share"] > 0.1, "agrees"].any()
    # twice that shift is beyond every segment's margin, the top 10% included
    wronger = compare_with_test(result.uplift.assign(dr_score=result.uplift["dr_score"] + 0.2), rct.data)
    assert not wronger["agrees"].any()


def test_audit_table_errors_are_clear(tmp_path):
    with pytest.raises(DataError, match="no audit output"):
        read_audit_uplift(tmp_path)
    with pytest.raises(DataError, match="lacks"):
        read_audit_uplift(pd.DataFrame({"uplift": [0.1]}))
    table = pd.DataFrame({"user_id": ["a"], "uplift": [0.1], "dr_score": [0.1], "outcome_if_not_shown": [0.1],
                          "exposed": [1], "outcome": [1]})
    with pytest.raises(DataError, match="column 'shown': missing from the test log"):  # was a KeyError
        compare_with_test(table.assign(item_id="x"), pd.DataFrame({"user_id": ["a"], "item_id": ["x"], "outcome": [0]}),
                          treatment="shown")
    with pytest.raises(DataError, match="appear in the test log"):
        compare_with_test(table, pd.DataFrame({"user_id": ["b"], "item_id": ["x"], "exposed": [1], "outcome": [0]}),
                          keys=("user_id",))


def test_a_log_is_checked_row_by_row_against_the_audit_it_is_joined_to(tmp_path):
    table = pd.DataFrame({"user_id": ["a", "a", "b", "c"], "item_id": ["x", "y", "x", "z"], "exposed": [1, 0, 1, 0],
                          "outcome": [1.0, 0.0, 0.0, 0.0], "uplift": [0.1, 0.2, 0.3, 0.4]})
    roles = {"user_id": "uid", "item_id": "sku", "treatment": "shown", "outcome": "bought"}
    log = table.rename(columns={"user_id": "uid", "item_id": "sku", "exposed": "shown", "outcome": "bought"})
    check_log_matches_audit(log, table, roles)  # the audit's own column names, read from its roles
    with pytest.raises(DataError) as info:  # the same rows in another order would pair rows with others' truth
        check_log_matches_audit(log.iloc[::-1], table, roles)
    assert {p.column for p in info.value.problems} == {"uid", "sku", "shown", "bought"}
    with pytest.raises(DataError, match=r"column 'bought': differs from the audit's outcome in 1 rows \(rows 2\)"):
        check_log_matches_audit(log.assign(bought=[1.0, 0.0, 1.0, 0.0]), table, roles)
    with pytest.raises(DataError, match="4 rows but the audit table 3"):
        check_log_matches_audit(log, table.head(3), roles)
    assert read_audit_roles(tmp_path) is None
    (tmp_path / "results.json").write_text('{"roles": {"user_id": "uid"}}')
    assert read_audit_roles(tmp_path / "uplift.parquet") == {"user_id": "uid"} == read_audit_roles(tmp_path)


def test_ranking_an_audit_whose_logged_propensity_missed_the_exposures_is_warned_about(tmp_path):
    def audit_with(calibration: dict | None) -> Path:
        folder = tmp_path / str(len(list(tmp_path.iterdir())))
        folder.mkdir()
        overlap = {} if calibration is None else {"calibration": calibration}
        (folder / "results.json").write_text(json.dumps({"diagnostics": {"overlap": overlap}}))
        return folder / "uplift.parquet"

    warning = logged_propensity_mismatch(audit_with({"source": "logged", "calibrated": False}))
    assert warning and "does not match who was exposed" in warning and "without the propensity" in warning
    assert logged_propensity_mismatch(audit_with({"source": "logged", "calibrated": True})) is None
    assert logged_propensity_mismatch(audit_with({"source": "estimated", "calibrated": False})) is None  # not logged
    assert logged_propensity_mismatch(audit_with(None)) is None  # an audit written before the check
    assert logged_propensity_mismatch(tmp_path / "nothing" / "uplift.parquet") is None


def test_exclusions_are_read_under_the_logs_id_names_and_the_audits_id_types(tmp_path):
    table = pd.DataFrame({"user_id": ["1", "2"], "item_id": [10, 20]})  # string users, numeric items
    roles = {"user_id": "uid", "item_id": "sku"}
    pd.DataFrame({"uid": [1, 2], "sku": ["10", "30"]}).to_csv(tmp_path / "ex.csv", index=False)
    pairs = read_exclusions(str(tmp_path / "ex.csv"), table, roles)
    assert pairs.to_dict("list") == {"user_id": ["1", "2"], "item_id": [10, 30]}  # each cast to the audit's type
    assert pd.MultiIndex.from_frame(table).isin(pd.MultiIndex.from_frame(pairs)).tolist() == [True, False]
    pd.DataFrame({"user_id": [1], "item_id": ["10"]}).to_csv(tmp_path / "plain.csv", index=False)
    assert len(read_exclusions(str(tmp_path / "plain.csv"), table, roles)) == 1  # the canonical names also do
    pd.DataFrame({"uid": [1], "product": [10]}).to_csv(tmp_path / "wrong.csv", index=False)
    with pytest.raises(DataError, match=r"lack column\(s\) \['sku'\].*columns uid, sku"):
        read_exclusions(str(tmp_path / "wrong.csv"), table, roles)
    pd.DataFrame({"uid": [1], "sku": ["ten"]}).to_csv(tmp_path / "text.csv", index=False)
    with pytest.raises(DataError, match="column 'sku': exclusion ids are not numbers"):
        read_exclusions(str(tmp_path / "text.csv"), table, roles)
