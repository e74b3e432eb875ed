"""Scoring fresh candidates (``recuplift score``): does a model learned on one log rank users it never saw?

Per seed and generator, the uplift model is fitted on a log and scores a second, independent draw of users (and,
off our simulator, of items) that carries no exposure or outcome. Reported on those fresh candidates: the
correlation of predicted and true uplift, the true incremental outcomes per user of the relevance and uplift
lists (k = 5) and of the oracle lists, the uplift list's predicted incremental outcomes per user beside the truth,
and whether the model's 95% interval of that prediction covers it (an interval for the best linear predictor of
the effect, from the second stage's cluster-robust sandwich; it says nothing about confounding the log's
columns miss, which is where our simulator's audits are biased, see audit_accuracy); and the log check:
lists chosen the same way for the log's own users by held-out scores, valued from the doubly robust scores,
and whether its interval covers the fresh users' truth (the same population, other users).

Generators: ``recuplift.simulate`` (2,000 users × 20 candidates, text, a fixed catalog) and the persuadables
generator of ranking_generalization.py (1,000 users × 20, no text), both with the logged propensity.

``python benchmarks/ranking_fresh.py [N_SEEDS [FIRST_SEED]]`` (default 10 per generator).
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from _harness import covariate_roles, report, seed_range
from ranking_generalization import K, oracle_incremental, persuadables_log
from recuplift.schema import Roles
from recuplift.scoring import score_candidates
from recuplift.simulate import simulate
from recuplift.text import TextEncoder

TRUTH = ("true_propensity", "true_p0", "true_p1", "true_uplift")
FRESH = 500  # seed offset of the fresh draw


def simulator_pair(seed: int) -> tuple[pd.DataFrame, pd.DataFrame, Roles | None]:
    size = dict(n_users=2000, n_candidates=20, catalog_seed=10_000 + seed)
    return simulate(**size, seed=seed).data, simulate(**size, seed=seed + FRESH).data, None


def persuadables_pair(seed: int) -> tuple[pd.DataFrame, pd.DataFrame, Roles | None]:
    return persuadables_log(seed), persuadables_log(seed + FRESH), covariate_roles(logged_propensity=True)


GENERATORS = {"simulator": simulator_pair, "persuadables": persuadables_pair}


def main(seeds: range = range(5)) -> None:
    started = time.perf_counter()
    encoder = TextEncoder(progress=False)
    runs = []
    for generator, pair in GENERATORS.items():
        for seed in seeds:
            log, fresh, roles = pair(seed)
            observed = log.drop(columns=[c for c in TRUTH if c in log.columns])
            fresh = fresh.drop(columns=["exposed", "outcome", "propensity"]).assign(
                user_id=lambda f: "new-" + f["user_id"].astype(str))
            t0 = time.perf_counter()
            result = score_candidates(observed, fresh, roles, k=K, policies=("relevance", "uplift"), encoder=encoder,
                                      random_state=seed)
            seconds = time.perf_counter() - t0
            joined = result.scores.merge(fresh[["user_id", "item_id", "true_uplift"]].drop_duplicates(
                ["user_id", "item_id"]), on=["user_id", "item_id"])
            policies = result.report["policies"]
            truth = {p: policies[p]["truth"]["incremental_per_1000_users"] / 1000 for p in policies}
            uplift = policies["uplift"]
            low, high = uplift["predicted_incremental_ci_low"], uplift["predicted_incremental_ci_high"]
            runs.append({"generator": generator, "seed": seed,
                         "correlation": float(np.corrcoef(joined["uplift"], joined["true_uplift"])[0, 1]),
                         "relevance_incremental": truth["relevance"], "uplift_incremental": truth["uplift"],
                         "oracle_relevance": oracle_incremental(fresh, "true_p1"),
                         "oracle_uplift": oracle_incremental(fresh, "true_uplift"),
                         "ratio": truth["uplift"] / truth["relevance"],
                         "predicted": uplift["predicted_incremental_per_1000_users"] / 1000,
                         "interval": low is not None,
                         "covered": low is not None and low <= 1000 * truth["uplift"] <= high,
                         "interval_width": None if low is None else (high - low) / 1000,
                         "log_measured": uplift["log_check"]["estimate"] / 1000,
                         "log_covered": uplift["log_check"]["ci_low"] <= 1000 * truth["uplift"]
                         <= uplift["log_check"]["ci_high"], "seconds": seconds})
            print(f"{generator} seed {seed}: correlation {runs[-1]['correlation']:.2f}, uplift / relevance "
                  f"{runs[-1]['ratio']:.2f}×, predicted {runs[-1]['predicted']:.3f} vs true "
                  f"{truth['uplift']:.3f}", flush=True)
    per_run = pd.DataFrame(runs)
    rows = [{"generator": generator, "runs": len(group), "correlation": group["correlation"].mean(),
             "relevance": group["relevance_incremental"].mean(), "uplift": group["uplift_incremental"].mean(),
             "oracle_relevance": group["oracle_relevance"].mean(), "oracle_uplift": group["oracle_uplift"].mean(),
             "ratio_mean": group["ratio"].mean(), "predicted_uplift_list": group["predicted"].mean(),
             "intervals_given": f"{int(group['interval'].sum())}/{len(group)}",
             "covered": f"{int(group['covered'].sum())}/{int(group['interval'].sum())}",
             "interval_width": group["interval_width"].mean(), "log_measured": group["log_measured"].mean(),
             "log_covered": f"{int(group['log_covered'].sum())}/{len(group)}", "seconds": group["seconds"].mean()}
            for generator, group in per_run.groupby("generator", sort=False)]
    summary = {generator: f"uplift / relevance {row['ratio_mean']:.2f}× on fresh users (oracle "
                          f"{row['oracle_uplift'] / row['oracle_relevance']:.2f}×); the uplift list's predicted "
                          f"total {row['predicted_uplift_list']:.3f} per user against a true {row['uplift']:.3f}, its "
                          f"interval covering the truth {row['covered']}; the same lists measured on the log's users "
                          f"(held out, DR) {row['log_measured']:.3f}, covering the fresh truth {row['log_covered']}"
               for generator, row in zip(GENERATORS, rows)}
    report("ranking_fresh", rows, {**summary, "runs": runs}, started)


if __name__ == "__main__":
    main(seed_range(10))
