"""Shared plumbing for benchmarks: a table on stdout and the same rows as JSON under benchmarks/results/."""

from __future__ import annotations

import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

from recuplift.inference import mean_interval  # noqa: E402
from recuplift.io import write_json  # noqa: E402
from recuplift.nuisance import Nuisances, dr_scores  # noqa: E402
from recuplift.schema import Roles  # noqa: E402

COVARIATES = ("u0", "u1", "u2", "i0", "i1", "i2")  # the off-simulator generators' observed columns

RESULTS = Path(__file__).resolve().parent / "results"


def seed_range(default_n: int, default_first: int = 0) -> range:
    """The seeds a benchmark runs, from its command line ``[N_SEEDS [FIRST_SEED]]``: a re-check on seeds we did
    not tune on is one argument away (``python benchmarks/audit_accuracy.py 10 100``)."""
    args = sys.argv[1:]
    try:
        n, first = (int(args[0]) if args else default_n), (int(args[1]) if len(args) > 1 else default_first)
    except ValueError:
        sys.exit(f"usage: python {Path(sys.argv[0]).name} [N_SEEDS [FIRST_SEED]] (whole numbers); got {' '.join(args)}")
    if n < 1 or first < 0 or len(args) > 2:
        sys.exit(f"usage: python {Path(sys.argv[0]).name} [N_SEEDS [FIRST_SEED]]: N_SEEDS ≥ 1, FIRST_SEED ≥ 0")
    return range(first, first + n)


def report(name: str, rows: list[dict[str, Any]], summary: dict[str, Any], started: float) -> None:
    """Print the table and the pass/fail summary; write ``results/<name>.json`` atomically."""
    table = pd.DataFrame(rows)
    with pd.option_context("display.width", 200, "display.max_columns", 30, "display.float_format", "{:.4f}".format):
        print(table.to_string(index=False))
    print()
    for key, value in summary.items():
        print(f"{key}: {value}")
    write_json({"benchmark": name, "rows": rows, "summary": summary,
                "seconds": time.perf_counter() - started, "python": sys.version.split()[0],
                "machine": platform.machine(), "cpus": os.cpu_count()}, RESULTS / f"{name}.json")
    print(f"wrote {RESULTS / f'{name}.json'}")


def user_item_draws(rng: np.random.Generator, n_users: int, per_user: int, n_items: int,
                    random_effect_sd: float) -> tuple[np.ndarray, ...]:
    """The skeleton of the off-simulator generators: each user's rows, an item drawn per row, three observed
    covariates per user and per item (``xu``, ``xi``, aligned with the rows) and an unobserved user random
    effect (aligned with the rows)."""
    user = np.repeat(np.arange(n_users), per_user)
    item = rng.integers(0, n_items, len(user))
    xu, xi = rng.normal(size=(n_users, 3))[user], rng.normal(size=(n_items, 3))[item]
    return user, item, xu, xi, rng.normal(0, random_effect_sd, n_users)[user]


def covariate_roles(logged_propensity: bool) -> Roles:
    """Roles of an off-simulator log: no text, :data:`COVARIATES` as confounders, the propensity if logged."""
    return Roles.from_mapping(dict(treatment="exposed", outcome="outcome",
                                   propensity="propensity" if logged_propensity else None,
                                   user_id="user_id", item_id="item_id", text=None, covariates=",".join(COVARIATES)))


def true_nuisance_covers(outcome: np.ndarray, exposed: np.ndarray, propensity: np.ndarray, mu0: np.ndarray,
                         mu1: np.ndarray, users: np.ndarray, true_uplift: np.ndarray) -> bool:
    """The reference for an audit's intervals: does AIPW with the generator's *true* propensity and outcome
    means (nothing estimated; the efficient influence function, clustered by user) cover the true sample ATE?"""
    truth = Nuisances(propensity=np.asarray(propensity, float), mu0=np.asarray(mu0, float),
                      mu1=np.asarray(mu1, float), propensity_source="true", n_clipped=0, clip=0.0)
    interval = mean_interval(dr_scores(np.asarray(outcome, float), np.asarray(exposed, float), truth), users)
    return bool(interval.ci_low <= np.mean(true_uplift) <= interval.ci_high)


def audit_record(result: Any, seconds: float, **keys: Any) -> dict[str, Any]:
    """One audit of an off-simulator benchmark: its recommended estimate scored against the truth."""
    truth = result.ground_truth
    return {**keys, "recommended": f"{result.ate['estimator']} on {result.ate['adjustment']}",
            "ate": result.ate["estimate"], "true_ate": truth["ate"], "bias": truth["bias"],
            "naive_bias": truth["naive_bias"], "se": result.ate["se"], "covered": truth["covered"],
            "removed": 1 - truth["bias"] / truth["naive_bias"], **shared_confounding_fields(result),
            "seconds": seconds}


def shared_confounding_fields(result: Any) -> dict[str, Any]:
    """What the audit's shared-confounding check read (per item and per user: the doubly robust bias a confounder
    shared by their rows implies, its standard error), whether it named one, what the recommended estimate
    subtracted, and that estimate before the subtraction with whether it covered the truth."""
    shared = result.diagnostics["shared_confounding"]
    fields: dict[str, Any] = {}
    for name in ("item", "user"):
        check = shared.get(name) or {}
        fields[f"shared_{name}_bias"], fields[f"shared_{name}_se"] = check.get("bias"), check.get("se")
    fields["shared_flagged"] = any(check["flagged"] for check in shared.values())
    taken = result.ate.get("subtracted", {})
    fields["shared_subtracted"] = ",".join(taken)
    before = result.ate.get("uncorrected", result.ate)
    truth = result.ground_truth["ate"]
    fields["uncorrected_ate"] = before["estimate"]
    fields["uncorrected_covered"] = bool(before["ci_low"] <= truth <= before["ci_high"])
    return fields


def shared_confounding_summary(runs: pd.DataFrame) -> dict[str, str]:
    """Per propensity case: how often the check named a shared confounder, the bias it read beside the bias the
    estimate would have had without it, how often the recommended estimate subtracted it, and coverage before and
    after."""
    out = {}
    for case, group in runs.groupby("propensity", sort=False):
        if group[["shared_item_bias", "shared_user_bias"]].isna().all(axis=None):
            out[f"shared-confounding check ({case})"] = "not computed (a logged propensity leaves it nothing to bias)"
            continue
        read = group["shared_item_bias"].fillna(0) + group["shared_user_bias"].fillna(0)
        taken = {name: int(group["shared_subtracted"].str.contains(name).sum()) for name in ("item", "user")}
        out[f"shared-confounding check ({case})"] = (
            f"named in {int(group['shared_flagged'].sum())} of {len(group)} runs; bias it read (item + user) "
            f"{read.mean():+.4f} on average, the estimate's bias before subtracting "
            f"{(group['uncorrected_ate'] - group['true_ate']).mean():+.4f}; subtracted by item in {taken['item']}, "
            f"by user in {taken['user']}; coverage before subtracting {group['uncorrected_covered'].mean():.0%}, "
            f"as reported {group['covered'].mean():.0%}")
    return out


def audit_summary(runs: list[dict[str, Any]], mean_columns: tuple[str, ...] = ()) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Rows per (logger, propensity) case — coverage, bias, its spread against the standard error, the share of
    the naive bias removed, the means of ``mean_columns`` — and the pass/fail summary under issue 4's targets."""
    per_run = pd.DataFrame(runs)
    rows = []
    for (logger, case), group in per_run.groupby(["logger", "propensity"], sort=False):
        z = group["bias"] / group["se"]
        rows.append({"logger": logger, "propensity": case, "recommended": "/".join(sorted(group["recommended"].unique())),
                     "runs": len(group), "coverage": float(group["covered"].mean()),
                     "mean_bias": float(group["bias"].mean()), "sd_bias": float(group["bias"].std()),
                     "mean_se": float(group["se"].mean()), "rms_z": float(np.sqrt(np.mean(z ** 2))),
                     "mean_share_of_naive_bias_removed": float(group["removed"].mean()),
                     **{f"mean_{c}": float(group[c].mean()) for c in mean_columns},
                     "seconds": float(group["seconds"].mean())})
    coverage, removed = float(per_run["covered"].mean()), float(per_run["removed"].mean())
    summary = {"mean true ATE": f"{per_run['true_ate'].mean():+.4f}",
               "mean naive bias": f"{per_run['naive_bias'].mean():+.4f}",
               "all runs: coverage": f"{coverage:.0%}",
               "all runs: mean share of naive bias removed": f"{removed:.0%}",
               "target (issue 4's, applied to this generator)": "≥ 90% coverage and ≥ 90% of the naive bias removed",
               "pass": bool(coverage >= 0.9 and removed >= 0.9),
               **shared_confounding_summary(per_run),
               "runs": runs}
    return rows, summary
