"""Targeted tests from an audit, and checking an audit against a test.

An audit predicts who gains most from exposure; the cheapest confirmation tests only that segment. For the
top share q of predicted uplift this module gives the segment's expected effect (the mean of its doubly
robust scores: unbiased for the segment because the ranking was predicted out of fold), the sample the
test needs, its runtime and the incremental outcomes that rolling out to the segment would bring.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .inference import mean_interval
from .io import output_file, output_folder, read_table
from .planning import Design, Metric, analyze_test, check_weekly_units, plan_test, runtime_text
from .schema import DataError, Problem, offending_rows

REQUIRED = ("uplift", "dr_score", "outcome_if_not_shown", "exposed", "outcome")
DEFAULT_SEGMENTS = (0.1, 0.2, 0.5, 1.0)


def read_audit_uplift(source: str | Path | pd.DataFrame) -> pd.DataFrame:
    """The per-row table an audit wrote (``AUDIT_DIR`` or its ``uplift.parquet``), checked for what planning needs."""
    if isinstance(source, pd.DataFrame):
        frame = source
    else:
        path = output_file(source, "uplift.parquet")
        if not path.exists():
            raise DataError(Problem(None, f"no audit output at {path}",
                                    hint="run `recuplift audit DATA --out DIR` and pass DIR"))
        frame = read_table(path)
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise DataError(Problem(None, f"the audit table lacks {missing}",
                                hint="re-run `recuplift audit` with this version of recuplift"))
    return frame


def check_log_matches_audit(log: pd.DataFrame, table: pd.DataFrame, roles: dict[str, Any] | None = None) -> None:
    """Raise unless ``log`` holds the audit's rows in the audit's order.

    Columns taken from the log (``true_*``, item values) are joined to the audit's table by position, so a
    different or reordered log of the same length would pair every row with another row's truth. ``roles`` is
    the audit's role mapping (``results.json``), naming the log's own id, exposure and outcome columns."""
    if len(log) != len(table):
        raise DataError(Problem(None, f"the log has {len(log):,} rows but the audit table {len(table):,}",
                                hint="pass the same log the audit read"))
    problems = []
    for column, role in (("user_id", "user_id"), ("item_id", "item_id"), ("exposed", "treatment"),
                         ("outcome", "outcome")):
        log_column = (roles or {}).get(role) or column
        if log_column not in log.columns or column not in table.columns:
            continue
        ours, theirs = log[log_column].reset_index(drop=True), table[column].reset_index(drop=True)
        if pd.api.types.is_numeric_dtype(theirs) and pd.api.types.is_numeric_dtype(ours):
            differ = ~np.isclose(ours.to_numpy(float), theirs.to_numpy(float), equal_nan=True)
        else:
            differ = (ours.astype(str) != theirs.astype(str)).to_numpy()
        if differ.any():
            problems.append(Problem(log_column, f"differs from the audit's {column} in {int(differ.sum()):,} rows",
                                    offending_rows(differ),
                                    "pass the same log the audit read, in the same row order"))
    if problems:
        raise DataError(problems)


def read_audit_results(source: str | Path) -> dict[str, Any] | None:
    """The ``results.json`` beside an audit's ``uplift.parquet`` (None when absent)."""
    results = output_folder(source) / "results.json"
    return json.loads(results.read_text()) if results.exists() else None


def read_audit_roles(source: str | Path) -> dict[str, Any] | None:
    """The role mapping in the ``results.json`` beside an audit's ``uplift.parquet`` (None when absent)."""
    return (read_audit_results(source) or {}).get("roles")


def logged_propensity_mismatch(source: str | Path) -> str | None:
    """A warning when the audit beside ``uplift.parquet`` found that the logged propensity it used does not match
    who was exposed: the off-policy values of lists built from that table weight the log by it."""
    calibration = (((read_audit_results(source) or {}).get("diagnostics") or {}).get("overlap") or {}).get(
        "calibration") or {}
    if calibration.get("source") != "logged" or calibration.get("calibrated", True):
        return None
    return ("the audit found that the logged propensity does not match who was exposed (see its warnings); these "
            "off-policy values weight the log by it, so they inherit the problem: if the log was filtered after it "
            "was written, audit it without the propensity and rank that audit")


def read_exclusions(source: str, table: pd.DataFrame, roles: dict[str, Any] | None = None) -> pd.DataFrame:
    """(user, item) pairs never to show, read from ``source`` with the log's own id columns (``roles``, the
    audit's role mapping) or ``user_id, item_id``, and cast to the audit table's id types — ids read from a CSV
    as numbers would otherwise match no string id, silently."""
    frame = read_table(source)
    names = {(roles or {}).get(column) or column: column for column in ("user_id", "item_id")}  # log's name → ours
    frame = frame.rename(columns={k: v for k, v in names.items() if k in frame.columns and v not in frame.columns})
    missing = [log_name for log_name, column in names.items() if column not in frame.columns]
    if missing:
        raise DataError(Problem(None, f"the exclusions at {source} lack column(s) {missing}",
                                hint=f"give one row per (user, item) pair never to show, with columns "
                                     f"{', '.join(names)}"))
    pairs = frame[["user_id", "item_id"]]
    for column in pairs.columns:
        if column not in table.columns:  # an audit without that id: the ranking refuses it, naming the flag
            continue
        if pd.api.types.is_numeric_dtype(table[column]) == pd.api.types.is_numeric_dtype(pairs[column]):
            continue
        if pd.api.types.is_numeric_dtype(table[column]):
            cast = pd.to_numeric(pairs[column], errors="coerce")
            if cast.isna().any():
                log_name = next(name for name, ours in names.items() if ours == column)
                raise DataError(Problem(log_name, "exclusion ids are not numbers, but the log's ids are",
                                        offending_rows(cast.isna()), "pass the log's own ids"))
            pairs = pairs.assign(**{column: cast})
        else:
            pairs = pairs.assign(**{column: pairs[column].astype(str)})
    return pairs.dropna().reset_index(drop=True)


def top_share(uplift: np.ndarray, q: float) -> np.ndarray:
    """Mask of the top share ``q`` of rows by predicted uplift (ties broken by row order)."""
    if not 0 < q <= 1:
        raise ValueError(f"a segment share must lie in (0, 1]; got {q}")
    order = np.argsort(-np.asarray(uplift, float), kind="stable")
    mask = np.zeros(len(order), bool)
    mask[order[: max(1, int(round(q * len(order))))]] = True
    return mask


def _segment_metric(frame: pd.DataFrame, mask: np.ndarray) -> Metric:
    """The segment's control-arm metric: its predicted rate without exposure (binary outcomes), or its
    unexposed rows' mean and standard deviation."""
    y = frame["outcome"].to_numpy(float)
    if np.isin(y, (0, 1)).all():
        rate = float(np.clip(frame["outcome_if_not_shown"].to_numpy(float)[mask].mean(), 1e-6, 1 - 1e-6))
        return Metric("proportion", rate)
    control = y[mask & (frame["exposed"].to_numpy() == 0)]
    control = control if len(control) >= 2 else y[mask]
    return Metric("mean", float(control.mean()), float(max(control.std(ddof=1), 1e-12)))


@dataclass(frozen=True)
class TargetedPlan:
    """One row per segment share q: expected effect with interval, sample, runtime, incremental outcomes."""

    segments: pd.DataFrame
    design: Design
    weekly_units: float | None
    notes: list[str] = field(default_factory=list)

    @property
    def fastest(self) -> float | None:
        """The share q with the shortest runtime (or smallest sample without a weekly rate)."""
        ok = self.segments.dropna(subset=["n_total"])
        if ok.empty:
            return None
        key = "weeks" if self.weekly_units else "n_total"
        return float(ok.loc[ok[key].idxmin(), "share"])

    @property
    def most_incremental(self) -> float | None:
        """The share q whose roll-out brings the most incremental outcomes."""
        best = self.segments.loc[self.segments["incremental_per_1000_units"].idxmax()]
        return float(best["share"]) if best["incremental_per_1000_units"] > 0 else None

    def summary(self) -> pd.DataFrame:
        return self.segments.set_index("share")

    def next_step(self) -> str:
        """What to do with this plan, in one sentence for the report's reader."""
        q = self.fastest
        if q is None:
            return ("No segment has a predicted positive effect that a test could confirm: size a test for the "
                    "smallest lift worth shipping instead of targeting.")
        row = self.segments.set_index("share").loc[q]
        runtime = f" — about {runtime_text(row['weeks'])}" if self.weekly_units else ""
        if self.weekly_units and row["weeks"] < 1:
            runtime += " (run it a full week anyway, so every weekday is in it)"
        step = (f"Run the targeted test on the top {q:.0%} of predicted uplift: {int(row['n_total']):,} units in "
                f"total{runtime}, expecting {row['effect']:+.4f} [{row['ci_low']:+.4f}, {row['ci_high']:+.4f}].")
        if row["ci_low"] <= 0:  # the sample is sized for the point estimate, which the audit cannot tell from 0
            step += (" Its interval includes zero, so the test may well find nothing: size it for the smallest lift "
                     "worth shipping if that is what a null result must rule out.")
        wider = self.most_incremental
        if wider is not None and wider != q:
            step += f" If it confirms, the most incremental roll-out is the top {wider:.0%}."
        return step

    def to_dict(self) -> dict[str, Any]:
        return {"segments": self.segments.to_dict(orient="records"), "fastest_share": self.fastest,
                "most_incremental_share": self.most_incremental, "weekly_units": self.weekly_units,
                "design": asdict(self.design), "notes": self.notes}


def plan_targeted_tests(audit: str | Path | pd.DataFrame, segments: tuple[float, ...] = DEFAULT_SEGMENTS,
                        design: Design = Design(), weekly_units: float | None = None) -> TargetedPlan:
    """A test plan for each top share of predicted uplift. Units are the audit's rows (user–item
    opportunities); ``weekly_units`` is how many of them arise each week, of which a share q is eligible."""
    check_weekly_units(weekly_units)
    if not segments:
        raise ValueError("give at least one top share of predicted uplift to plan for, e.g. 0.1,0.2,1.0")
    frame = read_audit_uplift(audit)
    groups = frame["user_id"].to_numpy() if "user_id" in frame.columns else None
    dr = frame["dr_score"].to_numpy(float)
    rows = []
    for q in sorted(set(segments)):
        mask = top_share(frame["uplift"].to_numpy(float), q)
        effect = mean_interval(dr[mask], None if groups is None else groups[mask])
        metric = _segment_metric(frame, mask)
        row: dict[str, Any] = {"share": q, "rows": int(mask.sum()), "baseline": metric.baseline,
                               "effect": effect.estimate, "ci_low": effect.ci_low, "ci_high": effect.ci_high,
                               "relative_effect": effect.estimate / metric.baseline if metric.baseline else np.nan,
                               "n_per_arm": np.nan, "n_total": np.nan, "weeks": np.nan,
                               "incremental_per_1000_units": 1000 * q * effect.estimate}
        testable = effect.estimate > 0 and (metric.kind == "mean" or metric.baseline + effect.estimate < 1)
        if testable:
            plan = plan_test(metric, effect.estimate, design=design)
            row.update(n_per_arm=plan.n_control, n_total=plan.n_total)
            if weekly_units is not None:
                row["weeks"] = plan.n_total / (weekly_units * q)
                row["incremental_per_week"] = weekly_units * q * effect.estimate
        rows.append(row)
    table = pd.DataFrame(rows)
    notes = []
    if table["n_total"].isna().any():
        untestable = ", ".join(f"{q:.0%}" for q in table.loc[table["n_total"].isna(), "share"])
        notes.append(f"top {untestable}: a predicted effect ≤ 0 (or a rate that would pass 1) cannot be planned "
                     f"for a positive lift, so its sample size is left empty")
    if weekly_units is None:
        notes.append("weeks are left empty without a weekly number of units (--weekly-users)")
    return TargetedPlan(table, design, weekly_units, notes)


def compare_with_test(audit: str | Path | pd.DataFrame, test_log: pd.DataFrame,
                      segments: tuple[float, ...] = DEFAULT_SEGMENTS, treatment: str = "exposed",
                      outcome: str = "outcome", keys: tuple[str, ...] = ("user_id", "item_id")) -> pd.DataFrame:
    """The audit's predicted effect per top-q segment beside what a randomized test measured on the same
    user–item pairs. ``agrees``: the difference lies within its 95% interval (both errors combined)."""
    frame = read_audit_uplift(audit)
    missing = [k for k in keys if k not in frame.columns or k not in test_log.columns]
    if missing:
        raise DataError(Problem(None, f"cannot match the test to the audit: key column(s) {missing} missing",
                                hint="both the audit and the test log need user_id and item_id"))
    absent = [c for c in (treatment, outcome) if c not in test_log.columns]
    if absent:  # was a pandas KeyError
        raise DataError([Problem(c, "missing from the test log", hint="name the test's exposure and outcome columns "
                                                                      "(treatment=, outcome=)") for c in absent])
    test = test_log[[*keys, treatment, outcome]].rename(columns={treatment: "test_exposed", outcome: "test_outcome"})
    joined = frame.merge(test, on=list(keys), how="inner")
    if len(joined) < 0.5 * len(frame):
        raise DataError(Problem(None, f"only {len(joined):,} of {len(frame):,} audited pairs appear in the test log",
                                hint="compare on a test run over the same users and candidate items"))
    groups = joined["user_id"].to_numpy() if "user_id" in joined.columns else None
    rows = []
    for q in sorted(set(segments)):
        mask = top_share(joined["uplift"].to_numpy(float), q)
        g = None if groups is None else groups[mask]
        predicted = mean_interval(joined["dr_score"].to_numpy(float)[mask], g)
        measured = analyze_test(joined["test_outcome"].to_numpy(float)[mask],
                                joined["test_exposed"].to_numpy()[mask], groups=g)
        gap_se = float(np.hypot(predicted.se, measured["se"]))
        rows.append({"share": q, "rows": int(mask.sum()), "predicted": predicted.estimate,
                     "predicted_ci_low": predicted.ci_low, "predicted_ci_high": predicted.ci_high,
                     "measured": measured["estimate"], "measured_ci_low": measured["ci_low"],
                     "measured_ci_high": measured["ci_high"],
                     "agrees": bool(abs(predicted.estimate - measured["estimate"]) <= 1.96 * gap_se)})
    return pd.DataFrame(rows)

