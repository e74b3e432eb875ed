"""Issue 4, checked off our own simulator: the audit's recommended estimate on a log from another generator.

``recuplift.simulate`` shaped much of the audit, so its accuracy there may flatter us. This generator shares
nothing with it but the column names: no text; three user and three item covariates, all observed; a
confounder that is a user × item *interaction* (``u0 · i0`` moves both exposure and the click); an unobserved
user random effect on the click (so a user's rows are correlated and only user-clustered intervals are honest);
a heterogeneous effect on the logit scale. Every confounder is observed, so an estimator that generalizes should
be close to unbiased here with or without the logged propensity. Two loggers: ``balanced`` shows about 40% of
the candidates (propensities in [0.03, 0.97]); ``sparse`` shows about 8%, as a recommender that shows a few of
many candidates does, and a quarter of its propensities lie below 0.01 (down to 0.001).

Per seed and logger the audit with ``naive, aipw`` (no refuters) runs twice, as logged and with the propensity
column removed. Reported per case: coverage of the true sample ATE by the recommended estimate's 95% interval, mean
bias, the share of the naive bias removed, and the root mean square of bias / standard error (≈ 1 when the
intervals are as wide as the errors).

``python benchmarks/audit_generalization.py [N_SEEDS [FIRST_SEED]]`` (default 30).
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
from scipy.special import expit

from _harness import (COVARIATES, audit_record, audit_summary, covariate_roles, report, seed_range,
                      user_item_draws)
from recuplift.causal import Audit


# logger: (intercept, weight on u0, weight on i1, lowest propensity; the highest is 1 minus it)
LOGGERS = {"balanced": (-0.5, 0.8, 0.6, 0.03), "sparse": (-3.5, 1.2, 0.9, 0.001)}


def interaction_log(seed: int, n_users: int = 1500, per_user: int = 12, n_items: int = 400,
                    logger: str = "balanced") -> pd.DataFrame:
    """A log whose confounding runs through a user × item interaction, with a user random effect."""
    rng = np.random.default_rng(seed)
    user, item, xu, xi, random_effect = user_item_draws(rng, n_users, per_user, n_items, random_effect_sd=0.7)
    interaction = xu[:, 0] * xi[:, 0]
    intercept, on_user, on_item, bound = LOGGERS[logger]
    propensity = np.clip(expit(intercept + on_user * xu[:, 0] + on_item * xi[:, 1] + 0.7 * interaction),
                         bound, 1 - bound)
    exposed = (rng.random(len(user)) < propensity).astype(int)
    control_logit = -2 + 0.5 * xu[:, 0] + 0.4 * xi[:, 1] + 0.5 * interaction + random_effect
    p0, p1 = expit(control_logit), expit(control_logit + 0.3 + 0.3 * xu[:, 2])
    outcome = (rng.random(len(user)) < np.where(exposed == 1, p1, p0)).astype(int)
    return pd.DataFrame({"user_id": user, "item_id": item, "exposed": exposed, "outcome": outcome,
                         "propensity": propensity, **dict(zip(COVARIATES, [*xu.T, *xi.T])),
                         "true_uplift": p1 - p0})


def main(seeds: range = range(30)) -> None:
    started = time.perf_counter()
    runs = []
    for seed, logger in ((seed, logger) for logger in LOGGERS for seed in seeds):
        log = interaction_log(seed, logger=logger)
        for case in ("logged", "removed"):
            roles = covariate_roles(logged_propensity=case == "logged")
            data = log if case == "logged" else log.drop(columns=["propensity"])
            t0 = time.perf_counter()
            result = Audit(roles, estimators=("naive", "aipw"), run_refuters=False, random_state=seed,
                           progress=False).fit(data)
            runs.append(audit_record(result, time.perf_counter() - t0, seed=seed, logger=logger, propensity=case))
            print(f"{logger} logger, seed {seed}, propensity {case}: bias {runs[-1]['bias']:+.4f}, "
                  f"covered {runs[-1]['covered']}", flush=True)
    rows, summary = audit_summary(runs)
    report("audit_generalization", rows, summary, started)


if __name__ == "__main__":
    main(seed_range(30))
