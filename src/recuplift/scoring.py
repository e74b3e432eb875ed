"""Fresh candidates ranked by a model learned on a logged history: lists for requests the log never saw.

``recuplift rank`` reranks the log an audit read and estimates each list's value off policy from that log's
outcomes. Tomorrow's candidates have no outcomes yet: here an :class:`~recuplift.upliftmodel.UpliftModel` fitted
on the log scores them, the same rerankers build the lists, and what a list would cause is the model's
prediction — a number to rank by, not a measurement. Where simulated candidates carry ``true_uplift``, the truth
says how good that prediction was; elsewhere an A/B test does.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from .features import TabularEncoder
from .io import atomic_paths, to_json_safe, write_json, write_table
from .ranking import (causal_ranking_metrics, check_policy_settings, dr_row, evaluate_rankings, exclusion_counts,
                      list_keys, recommended_mask, rerank, score_column, share_listing_everything, shared_with)
from .schema import DataError, Problem, Roles, check_frame, offending_rows
from .text import TextEncoder
from .upliftmodel import UpliftModel

IN_SAMPLE_WARNING_SHARE = 0.05  # candidate pairs already in the log above which their scores are called in-sample
SCORES_FILES = ("scores.parquet", "ranking.parquet", "scores.json", "figures/policies.png")
LOG_CHECK_FILES = ("log_check/ranking.json", "log_check/ranking.parquet")


@dataclass(frozen=True)
class CandidateScores:
    """Per-row scores of the candidates, each policy's top-k lists and what the model predicts they cause."""

    scores: pd.DataFrame  # one row per candidate row, in input order: ids, uplift (+ interval), relevance
    rankings: pd.DataFrame  # policy, user_id, [request,] item_id, rank, score
    report: dict[str, Any] = field(default_factory=dict)
    log_check: dict[str, Any] | None = None  # the same lists on the log's users, held out: a ranking report
    log_rankings: pd.DataFrame | None = None  # those lists

    def summary(self) -> pd.DataFrame:
        """One row per policy: predicted incremental outcomes per 1,000 users (95% interval where the model's
        second stage is linear), outcomes from the list per 1,000 users; on the log's own users, lists chosen the
        same way by held-out scores: their incremental outcomes measured from the DR scores (95% interval) and
        predicted by the model, and their measured gain over the current ranking; and the simulated truth's
        incremental outcomes where the candidates carry it."""
        rows = {}
        for name, entry in self.report["policies"].items():
            row = {"predicted_incremental_per_1000_users": entry["predicted_incremental_per_1000_users"],
                   "ci_low": entry["predicted_incremental_ci_low"], "ci_high": entry["predicted_incremental_ci_high"],
                   "predicted_outcomes_per_1000_users": entry["predicted_outcomes_per_1000_users"]}
            check = entry["log_check"] or {}
            row.update({"log_measured_per_1000_users": check.get("estimate"), "log_ci_low": check.get("ci_low"),
                        "log_ci_high": check.get("ci_high"), "log_predicted_per_1000_users": check.get("predicted"),
                        "log_gain_over_logging": check.get("gain_over_logging")})
            if "truth" in entry:
                row["true_incremental_per_1000_users"] = entry["truth"]["incremental_per_1000_users"]
            rows[name] = row
        return pd.DataFrame.from_dict(rows, orient="index").rename_axis("policy")

    def to_dict(self) -> dict[str, Any]:
        return to_json_safe(self.report)

    def plot_policies(self):  # noqa: ANN201 - matplotlib Figure
        from .plots import predicted_incremental

        return predicted_incremental(self.report)

    def next_step(self, folder: str | Path = "OUT") -> str:
        """What these predictions can and cannot say, and how to measure them (``folder``: where they were written)."""
        policies = self.report["policies"]
        best = max(policies, key=lambda name: policies[name]["predicted_incremental_per_1000_users"])
        line = (f"the model predicts the {best} lists cause the most ({_per_thousand(self.report, best)}); these are "
                f"predictions of a model learned on the log, not measurements — the candidates have no outcomes, and "
                f"the model assumes, as the audit does, that the log's covariates and texts carry every confounder. ")
        check = policies[best]["log_check"]
        if check is not None:
            line += (f"On the log's own users, held out, {best} lists chosen the same way caused "
                     f"{check['estimate']:+,.0f} [{check['ci_low']:+,.0f}, {check['ci_high']:+,.0f}] per 1,000 users "
                     f"(doubly robust) where the model predicted {check['predicted']:+,.0f}: for candidates like the "
                     f"log's, that measurement, not the prediction, is the number to plan a test with. ")
        share = self.report["candidates"]["pairs_in_log"]
        if share > IN_SAMPLE_WARNING_SHARE:
            line += (f"{share:.0%} of the candidate (user, item) pairs are rows of the log itself, scored in sample; "
                     f"for the log's own rows rank the audit's out-of-fold uplift instead (recuplift rank). ")
        if check is not None:
            return line + ("To measure a list, log it and audit it; to size its A/B test against the current "
                           f"ranking from that measurement: recuplift plan --from-ranking "
                           f"{Path(folder) / 'log_check'}")
        return line + ("To measure a list, log it and audit it; to size its A/B test against the current ranking, "
                       "rank the audited log (recuplift rank) and plan from that (recuplift plan --from-ranking).")

    def write(self, out_dir: str | Path) -> Path:
        """``scores.parquet``, ``ranking.parquet``, ``scores.json``, ``figures/policies.png`` and the log check as a
        ranking folder of its own (``log_check/ranking.json`` and ``ranking.parquet``, what ``recuplift plan
        --from-ranking`` and the ranking report read), replaced together or not at all: a failed run never leaves
        one run's lists beside another's scores, and a run without a log check removes an earlier one's."""
        import matplotlib.pyplot as plt

        out = Path(out_dir)
        checked = self.log_check is not None
        fig = self.plot_policies()
        names = [*SCORES_FILES, *(LOG_CHECK_FILES if checked else ())]
        with atomic_paths(*(out / name for name in names)) as paths:
            write_table(self.scores, paths[0])
            write_table(self.rankings, paths[1])
            write_json(self.to_dict(), paths[2])
            fig.savefig(paths[3], dpi=110, format="png")
            if checked:
                write_json(to_json_safe(self.log_check), paths[4])
                write_table(self.log_rankings, paths[5])
        plt.close(fig)
        if not checked:
            shutil.rmtree(out / "log_check", ignore_errors=True)
        return out


def _per_thousand(report: dict[str, Any], policy: str) -> str:
    entry = report["policies"][policy]
    interval = ("" if entry["predicted_incremental_ci_low"] is None else
                f" [{entry['predicted_incremental_ci_low']:+,.0f}, {entry['predicted_incremental_ci_high']:+,.0f}]")
    return f"{entry['predicted_incremental_per_1000_users']:+,.0f}{interval} incremental outcomes per 1,000 users"


def _candidate_frame(candidates: pd.DataFrame, roles: Roles, columns: list[str]) -> pd.DataFrame:
    """The candidates' id columns under the contract's names (user_id, item_id, request_id), plus ``columns``.

    Checked before the model is fitted: a candidate table lacking a column the model reads fails now, not after
    minutes of fitting."""
    ids = {"user_id": roles.user_id, "item_id": roles.item_id, "request_id": roles.request_id}
    if roles.user_id is None or roles.item_id is None:
        raise DataError(Problem(None, "lists need user and item ids, and the log was read without one",
                                hint="name them with --user-id and --item-id"))
    features = [*(roles.covariates or ()), *(roles.text or ()), *roles.modifiers]
    problems = [Problem(column, f"missing column (the log's {role.replace('_', ' ')})",
                        hint="give the candidates the log's id columns")
                for role, column in ids.items() if column is not None and column not in candidates.columns]
    problems += [Problem(column, "missing column (the model learns from it in the log)",
                         hint="give the candidates every covariate and text column of the log")
                 for column in dict.fromkeys(features) if column not in candidates.columns]
    for role, column in ids.items():
        if column is not None and column in candidates.columns and candidates[column].isna().any():
            problems.append(Problem(column, f"missing {role.replace('_', ' ')}",
                                    offending_rows(candidates[column].isna()),
                                    "every candidate needs the user (and request) it is a candidate for"))
    if problems:
        raise DataError(problems)
    frame = pd.DataFrame({role: candidates[column].to_numpy() for role, column in ids.items() if column is not None})
    for column in columns:
        frame[column] = candidates[column].to_numpy()
    return frame


def _novelty(log: pd.DataFrame, frame: pd.DataFrame, roles: Roles) -> dict[str, float]:
    """How much of the candidates the log has seen: shares of distinct users and items, and of candidate rows whose
    (user, item) pair the log has (scored in sample)."""
    pairs = pd.MultiIndex.from_arrays([frame["user_id"], frame["item_id"]])
    logged = pd.MultiIndex.from_arrays([log[roles.user_id], log[roles.item_id]])
    users, items = frame["user_id"].unique(), frame["item_id"].unique()
    return {"rows": len(frame), "users": len(users), "items": len(items),
            "users_in_log": float(np.isin(users, log[roles.user_id].unique()).mean()),
            "items_in_log": float(np.isin(items, log[roles.item_id].unique()).mean()),
            "pairs_in_log": float(pairs.isin(logged).mean())}


def _list_weights(frame: pd.DataFrame, ranking: pd.DataFrame, per: str | None, scale: float) -> np.ndarray:
    """Each candidate row's weight in a list's total: ``scale`` per listed item, split evenly over the rows of a
    pair logged on several rows (the list scores it by their mean)."""
    keys = [*list_keys("user_id", per), "item_id"]
    rows_per_pair = frame.groupby(keys, observed=True, dropna=False)["item_id"].transform("size").to_numpy(float)
    return recommended_mask(frame, ranking, per=per) * scale / rows_per_pair


def _log_check(log: pd.DataFrame, model: UpliftModel, roles: Roles, policies: tuple[str, ...], k: int,
               blend: float, value: str | None, category: str | None, max_per_category: int | None,
               per: str | None, n_bootstrap: int,
               random_state: int) -> tuple[dict | None, dict[str, dict | None], pd.DataFrame | None]:
    """Lists chosen the same way for the log's own users, from second stages that did not see them, valued off
    policy as ``recuplift rank`` values an audit's (:func:`~recuplift.ranking.evaluate_rankings`, doubly robust,
    bootstrap over users): a measurement beside the prediction. Returns that ranking report; per policy its DR
    incremental outcomes and gain over the current ranking per 1,000 users, with what the model predicted for the
    same lists (how far its predictions run from the measurement); and the lists. A value or category column the
    log lacks: no check of the value policy, no cap on the log; a request column it lacks: no check at all
    (per-user lists on the log are not the candidates' per-request lists)."""
    source = roles.request_id if per == "request_id" else per  # lists per request where the log has them too
    log_per = per if source is not None and source in log.columns else None
    if per is not None and log_per is None:
        return None, dict.fromkeys(policies), None
    frame = pd.DataFrame({"user_id": log[roles.user_id].to_numpy(), "item_id": log[roles.item_id].to_numpy()})
    if log_per is not None:
        frame[log_per] = log[source].to_numpy()
    for column in (value, category):
        if column is not None and column in log.columns:
            frame[column] = log[column].to_numpy()
    frame = frame.join(model.held_out_)
    run = tuple(p for p in policies if p != "value" or value in frame.columns)
    cap = category if category in frame.columns else None
    rankings, report = evaluate_rankings(frame, k=k, policies=run, blend=blend, value=value if "value" in run else None,
                                         n_bootstrap=n_bootstrap, random_state=random_state, category=cap,
                                         max_per_category=max_per_category if cap else None, per=log_per)
    report["warnings"] = [*model.warnings_, *report["warnings"]]  # valued on the log: its data warnings carry over
    scale = 1000 / frame["user_id"].nunique()
    checks: dict[str, dict | None] = dict.fromkeys(policies)
    for policy in run:
        measured = dr_row(report["policies"][policy]["incremental_per_user"])
        gain = dr_row(report["policies"][policy]["gain_over_logging"])
        weights = _list_weights(frame, rankings[rankings["policy"] == policy], log_per, scale)
        checks[policy] = {"estimate": 1000 * measured["estimate"], "ci_low": 1000 * measured["ci_low"],
                          "ci_high": 1000 * measured["ci_high"],
                          "predicted": float(weights @ frame["uplift"].to_numpy(float)),
                          "gain_over_logging": 1000 * gain["estimate"], "gain_ci_low": 1000 * gain["ci_low"],
                          "gain_ci_high": 1000 * gain["ci_high"]}
    return report, checks, rankings


def _number(value: float) -> float | None:
    """A bound, or None where the model gives none (a tree second stage)."""
    return None if np.isnan(value) else float(value)


def score_candidates(log: pd.DataFrame, candidates: pd.DataFrame, roles: Roles | None = None, k: int = 5,
                     policies: tuple[str, ...] | None = None, blend: float = 0.5,
                     value: str | None = None, exclude: pd.DataFrame | None = None, category: str | None = None,
                     max_per_category: int | None = None, per: str | None = None,
                     encoder: TextEncoder | None = None, n_bootstrap: int = 200,
                     random_state: int = 0, progress: bool = True) -> CandidateScores:
    """Learn uplift and relevance from ``log`` (roles as the audit reads them), score ``candidates`` (the log's
    id, covariate and text columns; no exposure or outcome needed) and build each policy's top-``k`` lists
    (default: relevance, uplift and blend, and value with ``value``).

    ``exclude``, ``category``, ``max_per_category`` and ``per`` are :func:`~recuplift.ranking.rerank`'s list rules
    (``exclude`` with the contract's names ``user_id, item_id``; ``value``, ``category`` and ``per`` name candidate
    columns, ``per`` defaulting to the log's request role, so one list per request). The
    report has, per policy, the predicted incremental outcomes and outcomes from the list per 1,000 users and,
    when the candidates carry ``true_uplift``, the causal ranking metrics against it; ``seconds`` times the stages
    (the log check's includes the truth's metrics). ``progress`` shows a bar naming the stage (fitting on the log
    takes most of the time); ``False`` quiets the text encoder's bar too, unless the caller gives an encoder.
    """
    if policies is None:  # a value column asks for the policy that ranks by it
        policies = ("relevance", "uplift", "blend", *(("value",) if value is not None else ()))
    check_policy_settings(policies, blend, value)
    check_frame(candidates)
    if candidates.empty:  # no lists to build; found before minutes of fitting, not as a division by zero after
        raise DataError(Problem(None, "the candidates table is empty", hint="give one row per candidate to rank"))
    fitted = (roles or Roles()).bind(log)  # the columns the model will read, resolved as the fit resolves them
    if per is None and fitted.request_id is not None or per is not None and per == fitted.request_id:
        per = "request_id"  # the log's requests (the contract's name in the lists): one list per request
    extra = [c for c in (value, category, None if per == "request_id" else per) if c is not None]
    missing = [c for c in extra if c not in candidates.columns]
    if missing:
        raise DataError([Problem(c, "not a column of the candidates", hint="name a column the candidates carry")
                         for c in missing])
    has_truth = "true_uplift" in candidates.columns
    frame = _candidate_frame(candidates, fitted, [*dict.fromkeys(extra), *(["true_uplift"] if has_truth else [])])
    if value is not None:
        score_column(frame, value, "value")
    # a column the log holds as numbers must hold numbers in the candidates: said now, not after the fit
    TabularEncoder(tuple(dict.fromkeys([*(fitted.covariates or ()), *fitted.modifiers]))).fit(log).transform(candidates)
    if encoder is None and not progress:
        encoder = TextEncoder(progress=False)
    with tqdm(total=3, desc="score", disable=not progress, postfix=f"fitting on the log's {len(log):,} rows") as stages:
        started = time.perf_counter()
        model = UpliftModel(roles, encoder=encoder, random_state=random_state).fit(log)
        seconds = {"fit": time.perf_counter() - started}
        stages.update()
        stages.set_postfix_str(f"scoring {len(candidates):,} candidates and building their lists")
        predicted = model.predict(candidates.reset_index(drop=True))
        scores = pd.concat([frame[[c for c in ("user_id", "item_id", "request_id") if c in frame.columns]],
                            predicted.reset_index(drop=True)], axis=1)
        frame = frame.join(predicted[["uplift", "relevance"]].reset_index(drop=True))
        rankings = {policy: rerank(frame, policy, k=k, blend=blend, value=value, exclude=exclude, category=category,
                                   max_per_category=max_per_category, per=per) for policy in policies}
        n_users = frame["user_id"].nunique()
        weights = np.vstack([_list_weights(frame, ranking, per, 1000 / n_users) for ranking in rankings.values()])
        sums = model.predict_sums(candidates.reset_index(drop=True), weights)
        outcomes = weights @ frame["relevance"].to_numpy(float)
        report: dict[str, Any] = {
            "k": k, "log_rows": len(log), "candidates": _novelty(log, frame, fitted), "warnings": model.warnings_,
            "lists_showing_every_candidate": share_listing_everything(frame, k, per),
            "settings": {"policies": list(policies), "blend": blend, "value": value, "category": category,
                         "max_per_category": max_per_category, "per": per, "random_state": random_state},
            "policies": {}}
        if exclude is not None:
            report["exclusions"] = exclusion_counts(frame, exclude)
        seconds["scores_and_lists"] = time.perf_counter() - started - seconds["fit"]
        stages.update()
        stages.set_postfix_str(f"checking the lists on the log ({n_bootstrap} bootstrap resamples)")
        log_report, checks, log_rankings = _log_check(log, model, fitted, policies, k, blend, value, category,
                                                      max_per_category, per, n_bootstrap, random_state)
        for i, (name, ranking) in enumerate(rankings.items()):
            entry: dict[str, Any] = {
                "predicted_incremental_per_1000_users": float(sums.loc[i, "estimate"]),
                "predicted_incremental_ci_low": _number(sums.loc[i, "ci_low"]),
                "predicted_incremental_ci_high": _number(sums.loc[i, "ci_high"]),
                "predicted_outcomes_per_1000_users": float(outcomes[i]), "log_check": checks[name]}
            if "relevance" in rankings and name != "relevance":
                entry["shared_with_relevance"] = shared_with(ranking, rankings["relevance"], per)
            if has_truth:
                entry["truth"] = causal_ranking_metrics(ranking, frame, k, n_bootstrap, random_state, per)
            report["policies"][name] = entry
        seconds["log_check"] = time.perf_counter() - started - sum(seconds.values())
        report["seconds"] = seconds
        stages.update()
    return CandidateScores(scores, pd.concat(rankings.values(), ignore_index=True), report, log_report, log_rankings)
