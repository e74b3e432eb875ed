"""Uplift back into ranking: top-k lists by relevance, uplift, a blend or incremental value, and the
causal ranking metrics that judge them when the truth is known.

Relevance is the predicted outcome if shown; uplift is what showing changes. A list ranked by relevance
fills up with items people would have taken anyway; a list ranked by uplift shows what the recommendation
changes. Ties break by item id so the same input gives the same lists.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from .choices import did_you_mean, unknown_choice
from .io import output_file
from .ope import bootstrap_weights
from .schema import DataError, Problem, check_whole, offending_rows

Policy = Literal["relevance", "uplift", "blend", "value"]
POLICIES = ("relevance", "uplift", "blend", "value")


def _zscore(values: np.ndarray) -> np.ndarray:
    sd = values.std()
    return (values - values.mean()) / sd if sd > 0 else np.zeros_like(values)


def score_column(candidates: pd.DataFrame, column: str, role: str) -> np.ndarray:
    """A column a policy ranks by, as floats: missing values would sort last, or zero a blend's whole z-score."""
    if column not in candidates.columns:
        raise ValueError(f"{role} column '{column}' is not in the candidates; "
                         f"{did_you_mean(column, map(str, candidates.columns))}columns: "
                         f"{', '.join(map(str, candidates.columns))}")
    values = pd.to_numeric(candidates[column], errors="coerce")
    unusable = values.isna() | ~np.isfinite(values.astype(float))
    if unusable.any():
        rows = ", ".join(map(str, offending_rows(unusable)))
        raise ValueError(f"{role} column '{column}' must hold a finite number for every candidate; "
                         f"{int(unusable.sum()):,} do not (rows {rows}): fill them, e.g. with 0, or drop those rows")
    return values.to_numpy(float)


def policy_scores(candidates: pd.DataFrame, policy: Policy, blend: float = 0.5, value: str | None = None) -> np.ndarray:
    """The score each candidate is ranked by under ``policy``."""
    if policy == "relevance":
        return score_column(candidates, "relevance", "relevance")
    if policy == "uplift":
        return score_column(candidates, "uplift", "uplift")
    if policy == "blend":
        if not 0 <= blend <= 1:
            raise ValueError(f"blend λ must lie in [0, 1]; got {blend}")
        return ((1 - blend) * _zscore(score_column(candidates, "relevance", "relevance"))
                + blend * _zscore(score_column(candidates, "uplift", "uplift")))
    if policy == "value":
        if value is None:
            raise ValueError("the 'value' policy needs a per-item value column (e.g. price or margin)")
        return score_column(candidates, "uplift", "uplift") * score_column(candidates, value, "value")
    raise ValueError(unknown_choice("policy", policy, POLICIES))


def rerank(candidates: pd.DataFrame, policy: Policy = "uplift", k: int = 5, blend: float = 0.5,
           value: str | None = None, exclude: pd.DataFrame | None = None, category: str | None = None,
           max_per_category: int | None = None, user: str = "user_id", item: str = "item_id",
           per: str | None = None) -> pd.DataFrame:
    """Top-``k`` per user — or per request, with ``per`` naming the request column: one row per (list, rank)
    with ``policy, user_id, [per,] item_id, rank, score``. An item on several rows of one list's candidates
    (impressions logged twice) is listed once, scored by the mean of its rows.

    ``candidates`` needs ``user``, ``item``, ``relevance`` and/or ``uplift`` columns (as the audit writes
    them). ``exclude``: (user, item) pairs never to show (e.g. already bought), in any of the user's lists.
    ``max_per_category``: at most that many items of one ``category`` per list.
    """
    check_whole(k, "k", 1)
    keys = list_keys(user, per)
    missing = [c for c in (*keys, item) if c not in candidates.columns]
    if missing:
        raise ValueError(f"candidates lack {missing}")
    if per is not None and candidates[per].isna().any():  # a row without its request would be left out of every list
        rows = ", ".join(map(str, offending_rows(candidates[per].isna())))
        raise ValueError(f"request column '{per}' is missing on {int(candidates[per].isna().sum()):,} candidate rows "
                         f"(rows {rows}): every candidate needs the request it was a candidate for")
    _check_list_rules(candidates, exclude, category, max_per_category, user, item)
    frame = candidates.copy()
    frame["score"] = policy_scores(frame, policy, blend, value)
    if exclude is not None:
        excluded = pd.MultiIndex.from_frame(exclude[[user, item]])
        frame = frame[~pd.MultiIndex.from_frame(frame[[user, item]]).isin(excluded)]
    if frame.duplicated([*keys, item]).any():  # a pair logged on several rows is one item to list, scored by the
        # mean of its rows: its expected score per opportunity, favouring neither its best row nor its row count
        frame["score"] = frame.groupby([*keys, item], observed=True, dropna=False)["score"].transform("mean")
    frame = frame.sort_values([*keys, "score", item], ascending=[True] * len(keys) + [False, True], kind="stable")
    frame = frame.drop_duplicates([*keys, item])
    if max_per_category is not None:
        frame = frame[frame.groupby([*keys, category], observed=True, dropna=False).cumcount() < max_per_category]
    frame["rank"] = frame.groupby(keys, observed=True).cumcount() + 1
    top = frame[frame["rank"] <= k]
    return pd.DataFrame({"policy": policy, "user_id": top[user].to_numpy(),
                         **({per: top[per].to_numpy()} if per else {}), "item_id": top[item].to_numpy(),
                         "rank": top["rank"].to_numpy(), "score": top["score"].to_numpy()})


def list_keys(user: str = "user_id", per: str | None = None) -> list[str]:
    """The columns that name one list: the user's, or one per request of the user's."""
    return [user] if per in (None, user) else [user, per]


def _check_list_rules(candidates: pd.DataFrame, exclude: pd.DataFrame | None, category: str | None,
                      max_per_category: int | None, user: str, item: str) -> None:
    """Exclusions name (user, item) pairs; a category cap needs a whole number ≥ 1 and a category column."""
    if exclude is not None:
        missing = [c for c in (user, item) if c not in exclude.columns]
        if missing:
            raise ValueError(f"the exclusions lack column(s) {missing}: they need one row per (user, item) pair "
                             f"never to show, with columns {user!r} and {item!r}")
    if max_per_category is None:
        if category is not None:
            raise ValueError(f"a category ({category!r}) was given without a cap: give max_per_category too")
        return
    check_whole(max_per_category, "max_per_category", 1)
    if category is None or category not in candidates.columns:
        raise ValueError(f"a per-category cap needs the category column; {category!r} is not among the candidates' "
                         f"columns ({', '.join(map(str, candidates.columns))})")


def recommended_mask(candidates: pd.DataFrame, ranking: pd.DataFrame, user: str = "user_id",
                     item: str = "item_id", per: str | None = None) -> np.ndarray:
    """Which candidate rows a ranking shows (1) or not (0), in the candidates' order."""
    keys = [*list_keys("user_id", per), "item_id"]
    shown = pd.MultiIndex.from_frame(ranking[keys].rename(columns={"user_id": user, "item_id": item}))
    return pd.MultiIndex.from_frame(candidates[[*list_keys(user, per), item]]).isin(shown).astype(float)


def shared_with(ranking: pd.DataFrame, reference: pd.DataFrame, per: str | None = None) -> float:
    """Mean over lists of the share of a ranking's listed items that ``reference`` also lists. An uplift list
    that shares nearly everything with the relevance list changes little, whatever its scores say — the
    first thing to check before planning a test of it."""
    keys = list_keys("user_id", per)
    listed = ranking.groupby(keys).size()
    common = ranking.merge(reference[[*keys, "item_id"]], on=[*keys, "item_id"]).groupby(keys).size()
    return float((common.reindex(listed.index, fill_value=0) / listed).mean()) if len(listed) else float("nan")


def causal_ranking_metrics(ranking: pd.DataFrame, true_uplift: pd.DataFrame, k: int,
                           n_bootstrap: int = 200, random_state: int = 0, per: str | None = None) -> dict[str, float]:
    """Judge a ranking against the true uplift (``user_id, item_id, true_uplift``), with bootstrap intervals
    over users for the incremental outcomes.

    - causal precision@k: mean true uplift of the listed items (Sato et al. 2020);
    - CDCG@k: Σ uplift / log2(1 + rank), a discounted causal gain;
    - incremental outcomes per 1,000 users: 1000 × mean over users of the listed items' total uplift (over all
      of a user's lists when there is one per request).
    """
    keys = [*list_keys("user_id", per), "item_id"]
    per_pair = true_uplift.groupby(keys, as_index=False, observed=True)["true_uplift"].mean()
    joined = ranking[ranking["rank"] <= k].merge(per_pair, on=keys, how="left")  # a pair on several rows
    # (impressions) is one listed item
    if joined["true_uplift"].isna().any():
        raise ValueError("some ranked pairs have no true uplift")
    tau = joined["true_uplift"].to_numpy(float)
    per_user = joined.groupby("user_id")["true_uplift"].sum()
    cdcg = (tau / np.log2(1 + joined["rank"].to_numpy(float))).sum() / per_user.size
    rng = np.random.default_rng(random_state)
    values = per_user.to_numpy()
    draws = [values[rng.integers(0, len(values), len(values))].mean() for _ in range(n_bootstrap)]
    lo, hi = np.quantile(draws, [0.025, 0.975])
    return {"causal_precision_at_k": float(tau.mean()), "cdcg_at_k": float(cdcg),
            "incremental_per_1000_users": float(1000 * values.mean()),
            "incremental_per_1000_users_ci_low": float(1000 * lo),
            "incremental_per_1000_users_ci_high": float(1000 * hi)}


def _weighted_auuc(order: np.ndarray, dr: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """AUUC (area between the Qini curve and the random line) for each row of ``weights``, rows taken in
    ``order``; with unit weights it is :func:`recuplift.metrics.auuc` on a per-row grid."""
    w = np.atleast_2d(weights)[:, order]
    total_w = w.sum(axis=1, keepdims=True)
    share = np.hstack([np.zeros((len(w), 1)), np.cumsum(w, axis=1) / total_w])
    gain = np.hstack([np.zeros((len(w), 1)), np.cumsum(w * dr[order], axis=1) / total_w])
    gap = gain - share * gain[:, -1:]
    return np.sum((gap[:, 1:] + gap[:, :-1]) / 2 * np.diff(share, axis=1), axis=1)


def uplift_at_k(candidates: pd.DataFrame, ranking: pd.DataFrame, scores: np.ndarray, dr_score: str = "dr_score",
                n_bootstrap: int = 200, random_state: int = 0, per: str | None = None) -> dict[str, float]:
    """Without truth: the mean doubly robust score of the listed rows (their estimated effect) and the AUUC
    of the policy's ``scores`` over all candidates, both with bootstrap intervals over users."""
    shown = (recommended_mask(candidates, ranking, per=per) > 0).astype(float)
    dr = candidates[dr_score].to_numpy(float)
    weights = bootstrap_weights(candidates["user_id"].to_numpy(), len(dr), n_bootstrap, np.random.default_rng(random_state))
    at_k = weights @ (shown * dr) / (weights @ shown)
    order = np.argsort(-np.asarray(scores, float), kind="stable")
    areas = np.concatenate([_weighted_auuc(order, dr, chunk) for chunk in np.array_split(weights, max(1, n_bootstrap // 20))])
    lo, hi = np.quantile(np.column_stack([at_k, areas]), [0.025, 0.975], axis=0)
    return {"uplift_at_k": float(dr[shown > 0].mean()), "uplift_at_k_ci_low": float(lo[0]),
            "uplift_at_k_ci_high": float(hi[0]), "auuc": float(_weighted_auuc(order, dr, np.ones(len(dr)))[0]),
            "auuc_ci_low": float(lo[1]), "auuc_ci_high": float(hi[1])}


def evaluate_rankings(candidates: pd.DataFrame, k: int = 5, policies: tuple[str, ...] = ("relevance", "uplift", "blend"),
                      blend: float = 0.5, value: str | None = None, n_bootstrap: int = 200,
                      random_state: int = 0, exclude: pd.DataFrame | None = None, category: str | None = None,
                      max_per_category: int | None = None, per: str | None = None,
                      progress: bool = False) -> tuple[pd.DataFrame, dict]:
    """Rank the audited candidates under each policy and estimate, off policy, what each list would earn.

    ``candidates``: the audit's per-row table (``user_id, item_id, exposed, outcome, propensity, uplift,
    outcome_if_shown, outcome_if_not_shown, dr_score``), plus ``true_*`` columns when known. Returns the
    rankings (``policy, user_id, item_id, rank, score``) and a report with, per policy: value per user (all
    estimators, DR recommended) and incremental outcomes per user, with intervals; the logging policy too;
    for each list, the share of its items the relevance list also shows (``shared_with_relevance``, when
    relevance is among the policies); and truth-based metrics when ``true_uplift`` is present (the lists' true
    values too when the outcome unshown is known, see :func:`true_outcome_if_not_shown`). ``exclude``,
    ``category`` and ``max_per_category`` are :func:`rerank`'s list rules, applied to every policy's list;
    ``per`` names a request column when each request gets its own list (values stay per user). ``progress`` shows
    a bar of the lists valued (each bootstrapped: about 20 s for five on 200,000 rows).
    """
    from .ope import evaluate, exposure_terms, incremental_value

    check_policy_settings(policies, blend, value)
    missing = [c for c in ("user_id", "item_id") if c not in candidates.columns]
    if missing:  # an audit run with --user-id '' or --item-id '' has no lists to build
        raise ValueError(f"ranking needs user and item ids, and the audit's table has no {', '.join(missing)}: "
                         f"re-run the audit naming them (--user-id, --item-id)")
    frame = candidates.rename(columns={"outcome_if_shown": "relevance"})
    args = dict(exposed=frame["exposed"].to_numpy(), outcome=frame["outcome"].to_numpy(float),
                propensity=frame["propensity"].to_numpy(float))
    models = dict(outcome_if_shown=frame["relevance"].to_numpy(float),
                  outcome_if_not_shown=frame["outcome_if_not_shown"].to_numpy(float))
    users = frame["user_id"].to_numpy()
    has_truth = "true_uplift" in frame.columns
    true_unexposed = true_outcome_if_not_shown(frame)
    report: dict = {"k": k, "policies": {},  # the settings that rebuild these lists and intervals
                    "settings": {"policies": list(policies), "blend": blend, "value": value, "category": category,
                                 "max_per_category": max_per_category, "per": per, "n_bootstrap": n_bootstrap,
                                 "random_state": random_state}}
    rankings = {policy: rerank(frame, policy, k=k, blend=blend, value=value, exclude=exclude, category=category,
                               max_per_category=max_per_category, per=per) for policy in policies}
    report["lists_showing_every_candidate"] = share_listing_everything(frame, k, per)
    # what the report's readers (its notebook, a plan sized from it) should know; callers add their own
    report["warnings"] = [w for w in [listing_everything_warning(k, report["lists_showing_every_candidate"])] if w]
    if exclude is not None:
        report["exclusions"] = exclusion_counts(frame, exclude)
    logging = frame["propensity"].to_numpy(float)
    targets = {"logging": logging,
               **{policy: recommended_mask(frame, ranking, per=per) for policy, ranking in rankings.items()}}
    # the current ranking's list length: a gain over it partly measures showing more or fewer items than k
    report["logging_items_per_list"] = float(logging.sum() / frame.groupby(list_keys("user_id", per),
                                                                           observed=True).ngroups)
    # what a test of a list against it varies by: the spread of a user's outcomes under the current ranking
    report["outcome_per_user_sd"] = float(frame.groupby("user_id", observed=True)["outcome"].sum().std(ddof=1))
    for name, target in tqdm(targets.items(), desc="valuing lists", total=len(targets), disable=not progress):
        value_est = evaluate(exposure_terms(**args, target=target, **models, users=users),
                             n_bootstrap=n_bootstrap, random_state=random_state)
        incremental = incremental_value(**args, recommended=target, **models, users=users, n_bootstrap=n_bootstrap,
                                        random_state=random_state)
        entry = {"value_per_user": value_est.to_dict(), "incremental_per_user": incremental.to_dict(orient="records")}
        if name != "logging":  # what an A/B test of this list against the current ranking would measure
            entry["gain_over_logging"] = incremental_value(
                **args, recommended=target, baseline=logging, **models, users=users, n_bootstrap=n_bootstrap,
                random_state=random_state).to_dict(orient="records")
            scores = policy_scores(frame, name, blend, value)
            entry["uplift_validation"] = uplift_at_k(frame, rankings[name], scores, n_bootstrap=n_bootstrap,
                                                     random_state=random_state, per=per)
            entry["tied_lists"] = _share_tied(frame, scores, per)
            if "relevance" in rankings:
                entry["shared_with_relevance"] = shared_with(rankings[name], rankings["relevance"], per)
        if has_truth:
            n_users = len(np.unique(users))
            true_incremental = float((target * frame["true_uplift"]).sum() / n_users)
            dr_inc = incremental.set_index("estimator").loc["dr"]
            entry["truth"] = {"incremental_per_user": true_incremental,
                              "incremental_covered": bool(dr_inc["ci_low"] <= true_incremental <= dr_inc["ci_high"])}
            if true_unexposed is not None:  # a list's value: every candidate's outcome unshown, plus what showing adds
                true_value = float((true_unexposed + target * frame["true_uplift"]).sum() / n_users)
                chosen = value_est.value()
                entry["truth"].update(value_per_user=true_value,
                                      value_covered=bool(chosen["ci_low"] <= true_value <= chosen["ci_high"]))
            if name != "logging":
                true_gain = float(((target - logging) * frame["true_uplift"]).sum() / n_users)
                gain = dr_row(entry["gain_over_logging"])
                entry["truth"].update(gain_over_logging=true_gain,
                                      gain_covered=bool(gain["ci_low"] <= true_gain <= gain["ci_high"]))
                entry["truth"].update(causal_ranking_metrics(rankings[name], frame, k, n_bootstrap, random_state, per))
        report["policies"][name] = entry
    return pd.concat(rankings.values(), ignore_index=True), report


def true_outcome_if_not_shown(frame: pd.DataFrame) -> pd.Series | None:
    """The simulator's expected outcome of each row unshown: ``true_p0``, or ``true_p1 − true_uplift`` from a
    generator that logs the other two; None when the truth gives only the uplift (values then go unjudged)."""
    if "true_p0" in frame.columns:
        return frame["true_p0"].astype(float)
    if {"true_p1", "true_uplift"} <= set(frame.columns):
        return frame["true_p1"].astype(float) - frame["true_uplift"].astype(float)
    return None


def _share_tied(candidates: pd.DataFrame, scores: np.ndarray, per: str | None = None) -> float:
    """The share of lists whose candidates all score the same: their order is the tie-break, not the policy."""
    keyed = candidates[list_keys("user_id", per)].assign(_score=scores)
    return float((keyed.groupby(list_keys("user_id", per), observed=True)["_score"].nunique() <= 1).mean())


def share_listing_everything(candidates: pd.DataFrame, k: int, per: str | None = None) -> float:
    """The share of lists with at most ``k`` distinct candidate items: each shows all of them; warned about above
    half, since the policies' lists then hold the same items."""
    share = float((candidates.groupby(list_keys("user_id", per), observed=True)["item_id"].nunique() <= k).mean())
    message = listing_everything_warning(k, share)
    if message:
        warnings.warn(message, stacklevel=3)
    return share


def listing_everything_warning(k: int, share: float) -> str | None:
    """The warning for ``share`` of lists showing every candidate at this ``k``; None at half or less."""
    if share <= 0.5:
        return None
    return (f"k={k} is at least the number of candidates of {share:.0%} of lists: they show every candidate "
            f"whatever the policy, so there the policies cannot differ; choose a k below the candidates per list")


def exclusion_counts(candidates: pd.DataFrame, exclude: pd.DataFrame) -> dict[str, int]:
    """How many distinct (user, item) pairs were given to exclude and how many candidate rows they removed: none
    removed usually means ids that do not match the candidates'."""
    pairs = exclude[["user_id", "item_id"]].drop_duplicates()
    removed = pd.MultiIndex.from_frame(candidates[["user_id", "item_id"]]).isin(pd.MultiIndex.from_frame(pairs))
    return {"pairs": len(pairs), "candidate_rows_removed": int(removed.sum())}


def check_policy_settings(policies: tuple[str, ...], blend: float, value: str | None) -> None:
    """Policy names and their settings, checked before anything is fitted or ranked."""
    if not policies:
        raise ValueError(f"no policy given; choose from {', '.join(POLICIES)}")
    for policy in policies:
        if policy not in POLICIES:
            raise ValueError(unknown_choice("policy", policy, POLICIES))
    if "value" in policies and value is None:
        raise ValueError("the 'value' policy needs a per-item value column (e.g. price or margin; --value)")
    if not 0 <= blend <= 1:
        raise ValueError(f"blend λ must lie in [0, 1]; got {blend}")
    for setting, given, policy in (("value", value is not None, "value"), ("blend", blend != 0.5, "blend")):
        if given and policy not in policies:  # a setting of a policy not run was dropped without a word
            raise ValueError(f"{setting} (--{setting}) sets the '{policy}' policy, which the policies "
                             f"({', '.join(policies)}) leave out: add {policy} to them (--policies)")


def read_ranking_report(folder: str | Path) -> dict:
    """The report ``recuplift rank`` wrote (``DIR`` or its ``ranking.json``), for the ranking report to show."""
    path = output_file(folder, "ranking.json")
    if not path.exists():
        raise DataError(Problem(None, f"no ranking output at {path}",
                                hint="run `recuplift rank DATA --uplift AUDIT_DIR --out DIR` and pass DIR"))
    try:
        report = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DataError(Problem(None, f"{path} is not a ranking report: {err}")) from None
    if not isinstance(report, dict) or not {"k", "policies"} <= set(report):
        raise DataError(Problem(None, f"{path} is not a ranking report (no 'k' and 'policies')",
                                hint="pass the folder `recuplift rank` wrote"))
    return report


NEARLY_RELEVANCE = 0.9  # an uplift list sharing this share of its items with the relevance list barely differs


def dr_row(rows: list[dict]) -> dict:
    """The doubly robust row of a report's estimator rows."""
    return next(r for r in rows if r["estimator"] == "dr")


def recommended_row(value: dict) -> dict:
    """The row of a report's value estimates (``{"estimates": [...], "recommended": name}``) it recommends."""
    return next(r for r in value["estimates"] if r["estimator"] == value["recommended"])


def per_thousand(row: dict) -> str:
    """An estimate and its interval, per user, said per 1,000 users."""
    return f"{1000 * row['estimate']:+,.1f} [{1000 * row['ci_low']:+,.1f}, {1000 * row['ci_high']:+,.1f}] per 1,000 users"


def best_policy(report: dict) -> str | None:
    """The evaluated policy whose lists cause the most incremental outcomes (DR); None when none was evaluated."""
    dr = {name: dr_row(entry["incremental_per_user"])["estimate"] for name, entry in report["policies"].items()
          if name != "logging"}
    return max(dr, key=dr.__getitem__) if dr else None


def ranking_next_step(report: dict) -> str:
    """One sentence for the ranking report's reader: which list to test next, judged by its doubly robust
    incremental outcomes per user and by its gain over the current ranking, each with its interval — and a second
    when the lists differ in length from the current one, or when the uplift list is nearly the relevance list,
    since then testing one is testing the other."""
    best = best_policy(report)
    if best is None:
        return "No ranking policy was evaluated."
    own = dr_row(report["policies"][best]["incremental_per_user"])
    interval = per_thousand(own)
    gain_rows = report["policies"][best].get("gain_over_logging")  # absent from rankings written before it was
    gain = dr_row(gain_rows) if gain_rows else None
    current = report["policies"].get("logging")
    if own["ci_low"] <= 0:
        advice = (f"No list is distinguishable from zero incremental effect (best: {best}, {interval}); gather more "
                  f"randomized exposure before shipping a reranker.")
    elif gain is None or gain["ci_low"] > 0:
        over = f", {per_thousand(gain)} more than the current ranking" if gain else ""
        advice = (f"A/B test the {best} list against the current ranking: off policy it causes {interval} "
                  f"incremental outcomes{over}; `recuplift plan --from-ranking RANK_DIR` sizes the test.")
    else:
        now = f"the current ranking causes {per_thousand(dr_row(current['incremental_per_user']))}; " if current else ""
        if gain["ci_high"] < 0:
            advice = (f"The best list, {best}, causes {interval}, fewer than the current ranking ({now}the gain: "
                      f"{per_thousand(gain)}): keep the current ranking.")
        else:
            advice = (f"The best list, {best}, causes {interval}, but this log cannot tell it from the current ranking "
                      f"({now}the gain: {per_thousand(gain)}): A/B test it only if sized for the smallest gain "
                      f"worth shipping (`recuplift plan --from-ranking RANK_DIR --lift`).")
    items = report.get("logging_items_per_list")
    if gain is not None and items is not None and abs(items - report["k"]) >= 0.5:
        advice += (f" The current ranking shows {items:.1f} items per list and these lists {report['k']}: part of "
                   f"the difference is list length; rank with --k {max(1, round(items))} to compare at equal length.")
    shared = report["policies"].get("uplift", {}).get("shared_with_relevance")
    tied = report["policies"].get("uplift", {}).get("tied_lists", 0.0)
    if report.get("lists_showing_every_candidate", 0.0) >= 1.0:
        advice += (f" Every list shows all of its candidates (k = {report['k']} is at least the candidates per list), "
                   f"so the lists hold the same items: choose a smaller k.")
    elif tied >= 0.5:
        advice += (f" Predicted uplift is the same for every candidate of {tied:.0%} of lists (the audit's models "
                   f"found no per-row signal; see its warnings), so those uplift lists are tie-breaks, not rankings.")
    elif shared is not None and shared >= NEARLY_RELEVANCE:
        advice += (f" The uplift list shows {shared:.0%} of the relevance list's items: on this log predicted uplift "
                   f"ranks almost as relevance does.")
    return advice
