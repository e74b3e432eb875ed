"""The audit's shared-confounding check on a log whose items carry a popularity nobody recorded.

A record shop's log, written for this check and sharing nothing with ``recuplift.simulate`` but the column
names. Each record has a genre stated in its description and a popularity stated nowhere; each listener states
the genre they like. Listeners are heavy-tailed: a few own a large share of the rows (Zipf, up to 600 rows), as
on real services. The logger shows a record more often when its genre is the listener's and when it is
popular; the organic purchase rate follows both; the effect of showing is larger on a genre match and varies
by listener. Three cases per seed:

* ``logged``: the logger's propensity is in the log — nothing for a shared confounder to bias; not computed;
* ``removed``: no propensity, popularity unrecorded — a confounder constant per item that texts cannot reveal;
  the check should name it and read about the bias the estimate has;
* ``recorded``: no propensity, popularity given as a column — nothing shared is missed; quiet again.

Per case: how often the check named a confounder shared by an item's (or a user's) rows, the bias it read
beside the bias the estimate actually had, and the audit's coverage. The audit runs ``naive, aipw`` without
refuters.

``python benchmarks/shared_confounding.py [N_SEEDS [FIRST_SEED]]`` (default 10).
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
from scipy.special import expit

from _harness import audit_record, report, seed_range, shared_confounding_summary
from recuplift.causal import Audit
from recuplift.schema import Roles

GENRES = ["jazz", "metal", "folk", "techno", "opera", "hip hop"]
ADJECTIVES = ["vintage", "live", "remastered", "rare", "new", "classic"]
HABITS = ["Weekend listener.", "Listens on the commute.", "Collects vinyl."]
N_USERS, N_ITEMS, MAX_ROWS = 500, 300, 600


def record_shop_log(seed: int) -> pd.DataFrame:
    """One log: rows of (listener, record) with exposure, purchase, the logger's propensity, the record's
    popularity (an observed column only in the ``recorded`` case) and the truth."""
    rng = np.random.default_rng(seed)
    rows = np.minimum(rng.zipf(1.6, N_USERS) * 4, MAX_ROWS)
    user = np.repeat(np.arange(N_USERS), rows)
    item = rng.integers(0, N_ITEMS, len(user))
    item_genre, popularity = rng.integers(0, len(GENRES), N_ITEMS), rng.normal(size=N_ITEMS)
    user_genre, user_shift = rng.integers(0, len(GENRES), N_USERS), rng.normal(0, 0.04, N_USERS)
    item_text = np.array([f"A {ADJECTIVES[rng.integers(len(ADJECTIVES))]} {GENRES[g]} record, "
                          f"{['short', 'long'][rng.integers(2)]} playtime." for g in item_genre])
    user_text = np.array([f"I mostly listen to {GENRES[g]}. {HABITS[rng.integers(len(HABITS))]}" for g in user_genre])
    match = (item_genre[item] == user_genre[user]).astype(float)
    propensity = np.clip(expit(-0.8 + 1.6 * match + 0.5 * popularity[item]), 0.05, 0.95)
    exposed = (rng.random(len(user)) < propensity).astype(int)
    p0 = expit(-2.2 + 1.2 * match + 0.4 * popularity[item])
    p1 = np.clip(p0 + np.clip(0.03 + 0.05 * match + user_shift[user], -0.05, 0.3), 0, 1)
    outcome = (rng.random(len(user)) < np.where(exposed == 1, p1, p0)).astype(int)
    return pd.DataFrame({"user_id": [f"listener{u}" for u in user], "item_id": [f"record{i}" for i in item],
                         "exposed": exposed, "outcome": outcome, "propensity": propensity,
                         "popularity": popularity[item], "item_text": item_text[item], "user_text": user_text[user],
                         "true_p0": p0, "true_p1": p1, "true_uplift": p1 - p0})


CASES = {"logged": dict(propensity="propensity", covariates=()),
         "removed": dict(propensity=None, covariates=()),
         "recorded": dict(propensity=None, covariates=("popularity",))}


def main(seeds: range = range(10)) -> None:
    started = time.perf_counter()
    runs = []
    for seed in seeds:
        log = record_shop_log(seed)
        for case, roles in CASES.items():
            data = log if roles["propensity"] else log.drop(columns="propensity")
            audit = Audit(Roles(propensity=roles["propensity"], covariates=roles["covariates"]),
                          estimators=("naive", "aipw"), run_refuters=False, random_state=seed, progress=False)
            t0 = time.perf_counter()
            result = audit.fit(data)
            record = audit_record(result, time.perf_counter() - t0, seed=seed, propensity=case, rows=len(log))
            runs.append(record)
            read = ", ".join(f"{name} {record[f'shared_{name}_bias']:+.4f}" for name in ("item", "user")
                             if record[f"shared_{name}_bias"] is not None) or "nothing (not computed)"
            print(f"seed {seed}, {case}: bias {record['bias']:+.4f}, check read {read}, named "
                  f"{record['shared_flagged']}, covered {record['covered']}", flush=True)
    per_run = pd.DataFrame(runs)
    rows = []
    for case, group in per_run.groupby("propensity", sort=False):
        rows.append({"propensity": case, "runs": len(group), "named": int(group["shared_flagged"].sum()),
                     "mean_item_bias_read": float(group["shared_item_bias"].mean()),
                     "mean_user_bias_read": float(group["shared_user_bias"].mean()),
                     "mean_bias": float(group["bias"].mean()), "coverage": float(group["covered"].mean()),
                     "mean_share_of_naive_bias_removed": float(group["removed"].mean()),
                     "seconds": float(group["seconds"].mean())})
    summary = {**shared_confounding_summary(per_run),
               "target (ours)": "named in most 'removed' runs and in few 'recorded' runs",
               "pass": bool((per_run.loc[per_run["propensity"] == "removed", "shared_flagged"].mean() >= 0.8)
                            and per_run.loc[per_run["propensity"] == "recorded", "shared_flagged"].mean() <= 0.1),
               "runs": runs}
    report("shared_confounding", rows, summary, started)


if __name__ == "__main__":
    main(seed_range(10))
