"""Planning the A/B test of a reranked list against the current ranking, from a ranking report."""

from __future__ import annotations

import pytest

from recuplift.listtest import plan_list_test
from recuplift.planning import Design, Metric, plan_test
from recuplift.schema import DataError


def _rows(estimate: float, low: float, high: float) -> list[dict]:
    return [{"estimator": "dr", "estimate": estimate, "ci_low": low, "ci_high": high},
            {"estimator": "ips", "estimate": estimate + 1, "ci_low": low, "ci_high": high + 2}]


def _report(uplift_gain=(0.10, 0.04, 0.16), items=5.0) -> dict:
    logging_value = {"recommended": "ips", "estimates": [{"estimator": "ips", "estimate": 2.0},
                                                         {"estimator": "dr", "estimate": 2.5}]}
    return {"k": 5, "logging_items_per_list": items, "outcome_per_user_sd": 1.2, "policies": {
        "logging": {"value_per_user": logging_value, "incremental_per_user": _rows(0.5, 0.4, 0.6)},
        "relevance": {"incremental_per_user": _rows(0.55, 0.45, 0.65), "gain_over_logging": _rows(0.05, -0.01, 0.11)},
        "uplift": {"incremental_per_user": _rows(0.6, 0.5, 0.7), "gain_over_logging": _rows(*uplift_gain)}}}


def test_the_best_list_is_planned_for_its_gain_over_the_current_ranking():
    listed = plan_list_test(_report(), design=Design(power=0.9), weekly_units=1000)
    expected = plan_test(Metric("mean", 2.0, 1.2), 0.10, design=Design(power=0.9), weekly_units=1000)
    assert listed.policy == "uplift"  # the list causing the most, as the ranking's next step picks
    assert listed.plan.metric == Metric("mean", 2.0, 1.2)  # the current ranking's recommended value, the log's spread
    assert (listed.planned_lift, listed.plan.n_control, listed.plan.weeks) == (0.10, expected.n_control,
                                                                                expected.weeks)
    assert listed.next_step().startswith(f"A/B test the uplift list against the current ranking, randomizing "
                                         f"users: {expected.n_control:,} per arm")
    assert not any("includes zero" in n for n in listed.notes)


def test_a_named_list_an_explicit_lift_and_what_the_notes_warn_of():
    relevance = plan_list_test(_report(items=6.2), policy="relevance")
    assert relevance.planned_lift == 0.05 and relevance.gain["ci_low"] == -0.01
    assert any("includes zero" in n and "--lift" in n for n in relevance.notes)
    assert any("shows 6.2 items per list and these lists 5" in n for n in relevance.notes)
    smaller = plan_list_test(_report(), lift=0.1, relative=True)  # +10% of the current value per user
    assert smaller.planned_lift == pytest.approx(0.2) and not any("includes zero" in n for n in smaller.notes)
    with pytest.raises(ValueError, match="the list's estimated gain is absolute"):  # 0.10 was read as +10%
        plan_list_test(_report(), relative=True)


def test_a_list_not_expected_to_win_and_old_or_wrong_reports_fail_clearly():
    with pytest.raises(ValueError, match=r"not expected to beat the current ranking .* give the smallest gain"):
        plan_list_test(_report(uplift_gain=(-0.02, -0.08, 0.04)))
    assert plan_list_test(_report(uplift_gain=(-0.02, -0.08, 0.04)), lift=0.05).plan.n_control > 0
    with pytest.raises(ValueError, match="unknown policy 'upift'; did you mean 'uplift'"):
        plan_list_test(_report(), policy="upift")
    old = _report()
    del old["outcome_per_user_sd"]  # a ranking.json written before the spread was kept
    with pytest.raises(DataError, match="re-run `recuplift rank`"):
        plan_list_test(old)


def test_what_the_ranking_warned_of_is_carried_into_a_plan_sized_on_its_gain():
    warned = _report()
    warned["warnings"] = ["the audit found that the logged propensity does not match who was exposed"]
    notes = plan_list_test(warned).notes
    assert "the ranking warned: the audit found that the logged propensity does not match who was exposed" in notes
    assert not any("ranking warned" in n for n in plan_list_test(warned, lift=0.05).notes)  # sized on a given lift
    assert not any("ranking warned" in n for n in plan_list_test(_report()).notes)  # a report with no warnings
