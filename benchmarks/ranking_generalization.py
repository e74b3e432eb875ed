"""Issue 5's ranking check, off our simulator: does ranking by predicted uplift pay where it should?

On ``recuplift.simulate`` the effect of showing an item grows with how likely the user is to buy it anyway,
so even the true uplift earns only ~1.08× what the true relevance earns at k = 5 (benchmarks/ranking_ope.py):
that simulator cannot tell a good uplift model from a relevance model. This generator shares nothing with it
but the column names, and separates the two on purpose: the organic click rate follows an item's popularity
and one user × item fit, while the effect of showing is *smaller* for popular items (people find them anyway)
and follows a second user × item fit the organic rate ignores. The logger shows what it expects to be
clicked from the covariates (confounding through the organic rate), so every confounder is observed and the
audit is identified with or without the logged propensity; an unobserved user random effect moves the click.

Per seed the audit (AIPW, no refuters) runs as logged and with the propensity column removed; its per-row
uplift and outcome-if-shown rank each user's 20 candidates (k = 5). Reported: the true incremental outcomes
per user of the relevance and uplift lists and of the two oracle lists (true relevance, true uplift), the
share of the oracle's gain over relevance the uplift lists capture, the share of the uplift lists' items the
relevance lists also show, and whether the doubly robust intervals of each list's value and incremental value
cover the truth.

``python benchmarks/ranking_generalization.py [N_SEEDS [FIRST_SEED]]`` (default 10).
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
from scipy.special import expit

from _harness import COVARIATES, covariate_roles, report, seed_range, user_item_draws
from recuplift.causal import Audit
from recuplift.ranking import evaluate_rankings

TRUTH = ("true_p0", "true_p1", "true_uplift")
K = 5


def persuadables_log(seed: int, n_users: int = 1000, per_user: int = 20, n_items: int = 400) -> pd.DataFrame:
    """A log whose effect of showing diverges from the organic click rate."""
    rng = np.random.default_rng(seed)
    user, item, xu, xi, random_effect = user_item_draws(rng, n_users, per_user, n_items, random_effect_sd=0.5)
    expected = 0.8 * xi[:, 0] + 0.6 * xu[:, 0] * xi[:, 1]  # what the logger predicts from the covariates
    organic = -2.5 + expected + random_effect
    effect = 0.4 - 0.4 * xi[:, 0] + 0.8 * np.tanh(xu[:, 1] * xi[:, 2])
    propensity = np.clip(expit(-0.8 + 0.9 * expected), 0.03, 0.97)
    exposed = (rng.random(len(user)) < propensity).astype(int)
    p0, p1 = expit(organic), expit(organic + effect)
    outcome = (rng.random(len(user)) < np.where(exposed == 1, p1, p0)).astype(int)
    return pd.DataFrame({"user_id": user, "item_id": item, "exposed": exposed, "outcome": outcome,
                         "propensity": propensity, **dict(zip(COVARIATES, [*xu.T, *xi.T])),
                         "true_p0": p0, "true_p1": p1, "true_uplift": p1 - p0})


def oracle_incremental(log: pd.DataFrame, column: str) -> float:
    """True incremental outcomes per user of the top-k lists ranked by a true column."""
    top = log.sort_values(["user_id", column, "item_id"], ascending=[True, False, True]).groupby("user_id").head(K)
    return float(top["true_uplift"].sum() / log["user_id"].nunique())


def main(seeds: range = range(10)) -> None:
    started = time.perf_counter()
    runs = []
    for seed in seeds:
        log = persuadables_log(seed)
        oracles = {"oracle relevance": oracle_incremental(log, "true_p1"),
                   "oracle uplift": oracle_incremental(log, "true_uplift")}
        for case in ("logged", "removed"):
            roles = covariate_roles(logged_propensity=case == "logged")
            observed = log.drop(columns=[*TRUTH, *(() if case == "logged" else ("propensity",))])
            t0 = time.perf_counter()
            result = Audit(roles, estimators=("aipw",), run_refuters=False, random_state=seed,
                           progress=False).fit(observed)
            # without a logged propensity the lists are evaluated with the audit's estimate, as a user would be
            candidates = result.uplift.join(log[list(TRUTH)])
            _, rep = evaluate_rankings(candidates, k=K, policies=("relevance", "uplift"), random_state=seed)
            truth = {p: rep["policies"][p]["truth"] for p in ("relevance", "uplift")}
            gain = oracles["oracle uplift"] - truth["relevance"]["incremental_per_user"]
            runs.append({"seed": seed, "propensity": case,
                         **{f"{p}_incremental": truth[p]["incremental_per_user"] for p in truth},
                         **{k.replace(" ", "_") + "_incremental": v for k, v in oracles.items()},
                         "ratio": truth["uplift"]["incremental_per_user"] / truth["relevance"]["incremental_per_user"],
                         "share_of_oracle_gain": (truth["uplift"]["incremental_per_user"]
                                                  - truth["relevance"]["incremental_per_user"]) / gain,
                         "shared_with_relevance": rep["policies"]["uplift"]["shared_with_relevance"],
                         "intervals_covered": sum(truth[p][c] for p in truth
                                                  for c in ("value_covered", "incremental_covered")),
                         "gains_covered": sum(truth[p]["gain_covered"] for p in truth),
                         "seconds": time.perf_counter() - t0})
            print(f"seed {seed}, propensity {case}: uplift / relevance {runs[-1]['ratio']:.2f}×", flush=True)
    per_run = pd.DataFrame(runs)
    rows = [{"propensity": case, "runs": len(group),
             "relevance": group["relevance_incremental"].mean(), "uplift": group["uplift_incremental"].mean(),
             "oracle_relevance": group["oracle_relevance_incremental"].mean(),
             "oracle_uplift": group["oracle_uplift_incremental"].mean(),
             "ratio_mean": group["ratio"].mean(), "ratio_min": group["ratio"].min(),
             "share_of_oracle_gain": group["share_of_oracle_gain"].mean(),
             "shared_with_relevance": group["shared_with_relevance"].mean(),
             "intervals_covered": f"{group['intervals_covered'].sum()}/{4 * len(group)}",
             "gains_covered": f"{group['gains_covered'].sum()}/{2 * len(group)}",
             "seconds": group["seconds"].mean()}
            for case, group in per_run.groupby("propensity", sort=False)]
    ratio = float(per_run["ratio"].mean())
    coverage = float(per_run["intervals_covered"].sum() / (4 * len(per_run)))
    headroom = float((per_run["oracle_uplift_incremental"] / per_run["oracle_relevance_incremental"]).mean())
    summary = {"headroom: true-uplift lists / true-relevance lists": f"{headroom:.2f}×",
               "all runs: uplift / relevance true incremental at k=5":
                   f"{ratio:.2f}× mean (min {per_run['ratio'].min():.2f}; issue 5's target ≥ 1.3)",
               "all runs: off-policy intervals covering the truth": f"{coverage:.0%} (target ≥ 90%)",
               "all runs: intervals of each list's gain over the logging policy covering the truth":
                   f"{per_run['gains_covered'].sum() / (2 * len(per_run)):.0%} (paired over users; no target)",
               "pass": bool(ratio >= 1.3 and coverage >= 0.9), "runs": runs}
    report("ranking_generalization", rows, summary, started)


if __name__ == "__main__":
    main(seed_range(10))
