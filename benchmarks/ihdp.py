"""Issue 4: IHDP (Hill 2011, NPCI setting A), 50 realizations, the standard CFR held-out rows.

For each CATE estimator: sqrt(PEHE) and eps_ATE within-sample (the 672 training rows) and out-of-sample
(the 75 held-out rows), averaged over realizations with standard errors. Data are read from
../shared/data/ihdp (not copied into the repository).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from _harness import report
from recuplift.estimators import make_estimator
from recuplift.metrics import pehe

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "ihdp"
ESTIMATORS = ("t_learner", "s_learner", "x_learner", "causal_forest", "linear_dml", "neural")
PUBLISHED = "BART 2.3/0.34, causal forest 3.8/0.40, TARNet 0.95/0.28, CFR-WASS 0.76/0.27 (out-of-sample sqrt(PEHE)/eps_ATE)"


def load(realization: int, test_rows: pd.DataFrame) -> tuple[np.ndarray, ...]:
    raw = pd.read_csv(DATA / f"ihdp_npci_{realization}.csv", header=None).to_numpy()
    held_out = np.zeros(len(raw), dtype=bool)
    held_out[test_rows.loc[test_rows["realization"] == realization, "row"].to_numpy()] = True
    return raw[:, 0].astype(int), raw[:, 1], raw[:, 4] - raw[:, 3], raw[:, 5:], held_out


def main(n_realizations: int = 50) -> None:
    started = time.perf_counter()
    if not DATA.exists():
        raise SystemExit(f"IHDP data not found at {DATA}")
    test_rows = pd.read_csv(DATA / "test_rows.csv")
    per_run = []
    for r in range(1, n_realizations + 1):
        t, y, tau, X, held = load(r, test_rows)
        for name in ESTIMATORS:
            est = make_estimator(name, random_state=r).fit(y[~held], t[~held], X[~held])
            inside, outside = est.cate_, est.effect(X[held])
            per_run.append({"realization": r, "estimator": name, "seconds": est.seconds_,
                            "pehe_in": pehe(inside, tau[~held]), "ate_in": abs(inside.mean() - tau[~held].mean()),
                            "pehe_out": pehe(outside, tau[held]), "ate_out": abs(outside.mean() - tau[held].mean())})
        print(f"realization {r} done", flush=True)
    frame = pd.DataFrame(per_run)
    rows = []
    for name, group in frame.groupby("estimator", sort=False):
        row = {"estimator": name, "realizations": len(group)}
        for col in ("pehe_in", "ate_in", "pehe_out", "ate_out"):
            row[col] = float(group[col].mean())
            row[f"{col}_se"] = float(group[col].std(ddof=1) / np.sqrt(len(group)))
        row["seconds"] = float(group["seconds"].mean())
        rows.append(row)
    best = min(rows, key=lambda r: r["pehe_out"])
    summary = {"best out-of-sample": f"{best['estimator']}: sqrt(PEHE) {best['pehe_out']:.2f} ± {best['pehe_out_se']:.2f}, "
                                     f"eps_ATE {best['ate_out']:.2f} ± {best['ate_out_se']:.2f}",
               "target": "out-of-sample sqrt(PEHE) ≤ 1.0 and eps_ATE ≤ 0.25", "published": PUBLISHED,
               "pass": bool(best["pehe_out"] <= 1.0 and best["ate_out"] <= 0.25)}
    report("ihdp", rows, summary, started)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 50)
