"""Issue 4: per-row effect accuracy on designs we did not write — Nie & Wager's (2021) setups A–D.

IHDP is one response surface family; a CATE learner chosen on it may just fit its quirks. These four
published designs vary what is hard: A a complicated baseline with confounding and a simple effect, B a
randomized trial with a non-smooth baseline, C strong confounding and a constant effect, D unrelated arms
(the effect is the difference of two hinge functions). Each seed draws 500 training rows (6 covariates, noise
sd 1) and 1,000 fresh rows to score on; we report out-of-sample √PEHE per learner, mean ± standard error
over seeds, and per setup which learner wins. The ``neural`` and ``gaussian_process`` rows are the
ensemble's two members, scored from the fits the ensemble made.

``python benchmarks/cate_designs.py [N_SEEDS [FIRST_SEED]]`` (default 5).
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from _harness import report, seed_range
from recuplift.estimators import fitted_members, make_estimator

SETUPS = "ABCD"
ESTIMATORS = ("t_learner", "dr_learner", "ensemble")
N_TRAIN, N_TEST, N_FEATURES = 500, 1000, 6


def draw(setup: str, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``X, t, y, tau`` of one Nie & Wager setup: y = b(X) + (t − 0.5)·τ(X) + N(0, 1), t ~ Bernoulli(e(X))."""
    if setup == "A":
        X = rng.random((n, N_FEATURES))
        b = np.sin(np.pi * X[:, 0] * X[:, 1]) + 2 * (X[:, 2] - 0.5) ** 2 + X[:, 3] + 0.5 * X[:, 4]
        e = np.clip(np.sin(np.pi * X[:, 0] * X[:, 1]), 0.1, 0.9)
        tau = (X[:, 0] + X[:, 1]) / 2
    else:
        X = rng.normal(size=(n, N_FEATURES))
        hinge_a, hinge_b = np.maximum(0, X[:, 0] + X[:, 1] + X[:, 2]), np.maximum(0, X[:, 3] + X[:, 4])
        if setup == "B":
            b = np.maximum.reduce([np.zeros(n), X[:, 0] + X[:, 1], X[:, 2]]) + hinge_b
            e, tau = np.full(n, 0.5), X[:, 0] + np.log1p(np.exp(X[:, 1]))
        elif setup == "C":
            b = 2 * np.log1p(np.exp(X[:, 0] + X[:, 1] + X[:, 2]))
            e, tau = 1 / (1 + np.exp(X[:, 1] + X[:, 2])), np.ones(n)
        else:
            b = (hinge_a + hinge_b) / 2
            e, tau = 1 / (1 + np.exp(-X[:, 0]) + np.exp(-X[:, 1])), hinge_a - hinge_b
    t = (rng.random(n) < e).astype(int)
    return X, t, b + (t - 0.5) * tau + rng.normal(0, 1, n), tau


def main(seeds: range = range(5)) -> None:
    started = time.perf_counter()
    runs = []
    for setup in SETUPS:
        for seed in seeds:
            rng = np.random.default_rng(seed)
            X, t, y, _ = draw(setup, N_TRAIN, rng)
            X_test, _, _, tau_test = draw(setup, N_TEST, rng)
            for name in ESTIMATORS:
                fitted = make_estimator(name, random_state=seed).fit(y, t, X)
                for label, est in [(name, fitted), *fitted_members(fitted).items()]:
                    pehe = float(np.sqrt(np.mean((est.effect(X_test) - tau_test) ** 2)))
                    runs.append({"setup": setup, "seed": seed, "estimator": label, "pehe_out": pehe,
                                 "seconds": est.seconds_})
            print(f"setup {setup}, seed {seed} done", flush=True)
    per_run = pd.DataFrame(runs)
    rows = (per_run.groupby(["setup", "estimator"], sort=False)
            .agg(pehe_out=("pehe_out", "mean"), pehe_out_se=("pehe_out", lambda v: float(v.std(ddof=1) / np.sqrt(len(v)))),
                 seconds=("seconds", "mean"))
            .reset_index())
    summary: dict[str, object] = {}
    for setup, group in rows.groupby("setup", sort=False):
        best = group.loc[group["pehe_out"].idxmin()]
        summary[f"setup {setup}: best"] = f"{best['estimator']} {best['pehe_out']:.3f}"
    pivot = per_run.pivot_table(index=["setup", "seed"], columns="estimator", values="pehe_out")
    for member in ("neural", "gaussian_process"):
        summary[f"ensemble below {member} (runs)"] = f"{int((pivot['ensemble'] < pivot[member]).sum())} of {len(pivot)}"
    summary["mean over setups"] = {name: round(float(pivot[name].mean()), 3) for name in pivot.columns}
    report("cate_designs", rows.to_dict(orient="records"), summary, started)


if __name__ == "__main__":
    main(seed_range(5))
