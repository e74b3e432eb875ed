"""The A/B test that would confirm a reranked list: users randomized between the current ranking and the list.

`recuplift rank` estimates off policy how much more a list causes than the current (logging) ranking, with a
paired interval. This module turns that gain into a test plan: the unit is the user, the metric the outcomes per
user, the control mean the current ranking's value per user and the spread the log's per-user spread of outcomes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .choices import unknown_choice
from .planning import Design, Metric, TestPlan, plan_test, runtime_text
from .ranking import best_policy, dr_row, per_thousand, read_ranking_report, recommended_row
from .schema import DataError, Problem


@dataclass(frozen=True)
class ListTestPlan:
    """The plan for testing ``policy``'s lists against the current ranking, and the off-policy gain it rests on."""

    policy: str
    gain: dict[str, float]       # the list's DR gain over the current ranking per user, with its interval
    planned_lift: float          # the absolute lift per user the test is sized for
    plan: TestPlan
    notes: tuple[str, ...]

    def next_step(self) -> str:
        weeks = f", {runtime_text(self.plan.weeks)}" if self.plan.weeks is not None else ""
        return (f"A/B test the {self.policy} list against the current ranking, randomizing users: "
                f"{self.plan.n_control:,} per arm, {self.plan.n_total:,} in total{weeks}, to detect "
                f"{self.planned_lift:+.4g} outcomes per user over {self.plan.metric.baseline:.4g} (off policy the "
                f"list gains {per_thousand(self.gain)}).")

    def to_dict(self) -> dict[str, Any]:
        return {"policy": self.policy, "gain_per_user": self.gain, "planned_lift": self.planned_lift,
                "plan": self.plan.to_dict(), "notes": list(self.notes)}


def plan_list_test(ranking: str | Path | dict, policy: str | None = None, lift: float | None = None,
                   relative: bool = False, design: Design = Design(), weekly_units: float | None = None,
                   accumulation: float = 1.0) -> ListTestPlan:
    """Size the test of one policy's lists (default: the one the ranking's next step picks) against the current
    ranking. ``lift``: the gain per user to detect (absolute, or relative to the current value with
    ``relative``); by default the list's off-policy gain, which must then be positive."""
    if relative and lift is None:  # the estimated gain is absolute: read as relative it would be planned wrong
        raise ValueError("relative (--relative) reads a given lift (--lift) relative to the current value; the "
                         "list's estimated gain is absolute: give --lift, or leave --relative out")
    report = ranking if isinstance(ranking, dict) else read_ranking_report(ranking)
    policies = [name for name in report["policies"] if name != "logging"]
    policy = policy if policy is not None else best_policy(report)
    if policy not in policies:
        raise ValueError(unknown_choice("policy", policy, policies))
    spread, current = report.get("outcome_per_user_sd"), report["policies"].get("logging")
    gain_rows = report["policies"][policy].get("gain_over_logging")
    if spread is None or gain_rows is None or current is None:  # written before these were kept
        raise DataError(Problem(None, "this ranking report lacks the current ranking's value, its per-user spread "
                                      "or the lists' gain over it",
                                hint="re-run `recuplift rank` (its newer ranking.json keeps them)"))
    gain = dr_row(gain_rows)
    if lift is None and gain["estimate"] <= 0:
        raise ValueError(f"the {policy} list is not expected to beat the current ranking (gain "
                         f"{per_thousand(gain)}): nothing to size; give the smallest gain per user worth shipping "
                         f"(--lift) to size a test anyway")
    baseline = recommended_row(current["value_per_user"])["estimate"]
    plan = plan_test(Metric("mean", baseline, spread), gain["estimate"] if lift is None else lift, relative, design,
                     weekly_units, accumulation)
    notes = []
    if lift is None:  # sized on the ranking's own estimate: what it warned about carries over to the plan
        notes.extend(f"the ranking warned: {warning}" for warning in report.get("warnings", []))
    if lift is None and gain["ci_low"] <= 0:
        notes.append(f"sized for the list's estimated gain, whose interval {per_thousand(gain)} includes zero: if "
                     f"the real gain is smaller the test will miss it; size for the smallest gain worth shipping "
                     f"(--lift) instead")
    items = report.get("logging_items_per_list")
    if items is not None and abs(items - report["k"]) >= 0.5:
        notes.append(f"the current ranking shows {items:.1f} items per list and these lists {report['k']}: the test "
                     f"compares list lengths too")
    notes.append("units are users; the spread is that of outcomes per user under the current ranking")
    return ListTestPlan(policy, gain, plan.effect, plan, tuple(notes + plan.notes))
