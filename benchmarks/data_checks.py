"""The data checks that catch what the contract cannot state, on logs whose answer is known.

1. A logged propensity that does not match who was exposed (``diagnostics.propensity_calibration``): false
   alarms on logs of our five generators, whose propensity is the one exposure was drawn from; detection on the
   same simulator's logs after a share of their exposed rows was dropped (a join or a filter after logging), at
   three sizes.
2. An outcome that never happens unexposed, and a covariate recorded only for shown items: on every generator's
   log, as logged (no warning expected) and with a click that only exposure allows and a dwell time that is 0 for
   every unexposed row added (a warning expected).

``python benchmarks/data_checks.py [N_SEEDS [FIRST_SEED]]`` (default 5 seeds from 0).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import pandas as pd
from _harness import report, seed_range
from audit_generalization import LOGGERS, interaction_log
from audit_revenue_generalization import revenue_log
from audit_text_generalization import film_log
from ranking_generalization import persuadables_log

from recuplift.diagnostics import propensity_calibration
from recuplift.schema import Roles, validate
from recuplift.simulate import simulate

DROPPED_SHARES = (0.1, 0.2, 0.3)
SIZES = (300, 1000, 3000)  # users of the simulator's logs (20 candidates each)


def generators() -> dict[str, Callable[[int], pd.DataFrame]]:
    """Each generator's log under the contract's column names."""
    revenue_names = {"p_show": "propensity", "shown": "exposed", "uid": "user_id", "sku": "item_id",
                     "revenue": "outcome"}
    return {
        "simulator": lambda seed: simulate(n_users=2000, seed=seed).data,
        "simulator, confounding ×2": lambda seed: simulate(n_users=2000, seed=seed, confounding=2.0).data,
        **{f"interaction ({logger})": (lambda seed, lg=logger: interaction_log(seed, logger=lg)) for logger in LOGGERS},
        "revenue and queries": lambda seed: revenue_log(seed).rename(columns=revenue_names),
        "persuadables": persuadables_log,
        "films": film_log,
    }


def calibration_rows(seeds: range) -> list[dict]:
    rows = []
    for name, make in generators().items():
        for seed in seeds:
            log = make(seed)
            check = propensity_calibration(log["propensity"], log["exposed"], log["user_id"])
            rows.append({"check": "calibration", "log": name, "seed": seed, "dropped": 0.0, "users": None,
                         "flagged": not check["calibrated"], "max_abs_z": max(abs(b["z"]) for b in check["bins"])})
    for users in SIZES:
        for seed in seeds:
            log = simulate(n_users=users, seed=seed).data
            draw = np.random.default_rng(seed).random(len(log))
            for share in DROPPED_SHARES:
                kept = log[(log["exposed"] == 0) | (draw >= share)]
                check = propensity_calibration(kept["propensity"], kept["exposed"], kept["user_id"])
                rows.append({"check": "calibration", "log": "simulator, exposed rows dropped", "seed": seed,
                             "dropped": share, "users": users, "flagged": not check["calibrated"],
                             "max_abs_z": max(abs(b["z"]) for b in check["bins"])})
    return rows


def exposure_only_rows(seeds: range) -> list[dict]:
    rows = []
    for name, make in generators().items():
        for seed in seeds:
            log = make(seed)
            rng = np.random.default_rng(seed)
            shown = log["exposed"].to_numpy() == 1
            planted = log.assign(outcome=(shown & (rng.random(len(log)) < 0.05)).astype(int),
                                 dwell_seconds=np.where(shown, rng.exponential(30, len(log)), 0.0))
            for variant, data in (("as logged", log), ("click and dwell time only when shown", planted)):
                covariates = tuple(c for c in ("price", "category", "dwell_seconds") if c in data.columns)
                warnings = validate(data, Roles(covariates=covariates, text=())).warnings
                rows.append({"check": "exposure only", "log": name, "seed": seed, "variant": variant,
                             "outcome_flagged": any("never happens without exposure" in w.rule for w in warnings),
                             "dwell_flagged": any(w.column == "dwell_seconds" and "after exposure" in w.rule
                                                  for w in warnings)})
    return rows


def main() -> None:
    started = time.perf_counter()
    seeds = seed_range(5)
    calibration = calibration_rows(seeds)
    exposure = exposure_only_rows(seeds)
    frame = pd.DataFrame(calibration)
    clean = frame[frame["dropped"] == 0]
    summary = {"calibration: false alarms on logs whose propensity drew the exposures": (
        f"{int(clean['flagged'].sum())} of {len(clean)} ({clean['log'].nunique()} generators × {len(seeds)} seeds; "
        f"largest |z| {clean['max_abs_z'].max():.2f}, the flag needs 4)")}
    dropped = frame[frame["dropped"] > 0]
    for (share, users), group in dropped.groupby(["dropped", "users"]):
        summary[f"calibration: {share:.0%} of exposed rows dropped, {int(users):,} users"] = (
            f"flagged in {int(group['flagged'].sum())} of {len(group)}")
    table = pd.DataFrame(exposure)
    for variant, group in table.groupby("variant", sort=False):
        summary[f"exposure only, {variant}: outcome flagged / dwell time flagged"] = (
            f"{int(group['outcome_flagged'].sum())} / {int(group['dwell_flagged'].sum())} of {len(group)} logs")
    report("data_checks", calibration + exposure, summary, started)


if __name__ == "__main__":
    main()
