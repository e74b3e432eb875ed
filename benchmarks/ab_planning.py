"""A/B planning checked two ways (issue #6).

1. Sample sizes against statsmodels on a grid (proportions and means, equal and unequal splits): |Δn| ≤ 1%.
2. Monte Carlo: for each grid point, simulate 10,000 tests at the planned n, analysed as planned (plain, and
   CUPED-adjusted with θ estimated per test); the empirical power must lie within ±0.02 of the plan.
3. On simulator output: plan targeted tests from an audit and compare each segment's predicted effect with
   a randomized test simulated on the same user–item pairs, over several seeds.
"""

from __future__ import annotations

import itertools
import sys
import time

import numpy as np
from _harness import report
from statsmodels.stats.power import TTestIndPower
from statsmodels.stats.proportion import samplesize_proportions_2indep_onetail

from recuplift.causal import Audit
from recuplift.planning import Design, Metric, control_sample_size, plan_test, simulated_power
from recuplift.simulate import simulate
from recuplift.targeting import compare_with_test, plan_targeted_tests, top_share

N_SIMS = 10_000
AUDIT_SEEDS = (200, 201, 202)  # shared with ranking_ope.py, so text embeddings are cached


def statsmodels_grid() -> list[dict]:
    rows = []
    for baseline, lift, share in itertools.product((0.01, 0.05, 0.2, 0.5), (0.05, 0.1, 0.3), (0.5, 0.3, 0.7)):
        design = Design(treated_share=share)
        ours = control_sample_size(Metric("proportion", baseline), baseline * lift, design) * design.ratio
        theirs = samplesize_proportions_2indep_onetail(diff=baseline * lift, prop2=baseline, power=0.8,
                                                       ratio=1 / design.ratio, alpha=0.05)
        rows.append({"check": "statsmodels", "metric": "proportion", "baseline": baseline, "lift": lift,
                     "split": share, "ours": ours, "statsmodels": theirs, "rel_diff": ours / theirs - 1})
    for sd, effect, share, target in itertools.product((1.0, 3.0), (0.1, 0.5), (0.5, 0.25), (0.8, 0.9)):
        design = Design(treated_share=share, power=target)
        ours = control_sample_size(Metric("mean", 0.0, sd), effect, design)
        theirs = TTestIndPower().solve_power(effect_size=effect / sd, power=target, alpha=0.05, ratio=design.ratio)
        rows.append({"check": "statsmodels", "metric": "mean", "baseline": sd, "lift": effect, "split": share,
                     "ours": ours, "statsmodels": theirs, "rel_diff": ours / theirs - 1})
    return rows


def monte_carlo_grid() -> list[dict]:
    points = []
    for baseline, lift, target, share in itertools.product((0.03, 0.2), (0.1, 0.25), (0.5, 0.8, 0.9), (0.5, 0.3)):
        points.append((Metric("proportion", baseline), baseline * lift, Design(power=target, treated_share=share)))
    for sd, effect, target, rho2 in itertools.product((1.0,), (0.1, 0.2), (0.5, 0.8, 0.9), (0.0, 0.3, 0.6)):
        points.append((Metric("mean", 0.0, sd), effect, Design(power=target, variance_reduction=rho2)))
    rows = []
    for i, (metric, effect, design) in enumerate(points):
        plan = plan_test(metric, effect, design=design)
        empirical = simulated_power(metric, effect, plan.n_control, design, n_sims=N_SIMS, seed=1000 + i)
        rows.append({"check": "monte_carlo", "metric": metric.kind, "analysis": "cuped" if design.variance_reduction else "plain",
                     "baseline": metric.baseline if metric.kind == "proportion" else metric.sd, "lift": effect,
                     "split": design.treated_share, "rho2": design.variance_reduction, "n_control": plan.n_control,
                     "planned_power": design.power, "empirical_power": empirical,
                     "gap": empirical - design.power})
    return rows


def targeted_vs_rct() -> list[dict]:
    rows = []
    for seed in AUDIT_SEEDS:
        params = dict(n_users=1000, seed=seed)
        sim = simulate(**params)
        observed = sim.data.drop(columns=[c for c in sim.data.columns if c.startswith("true_")])
        for propensity in (True, False):
            frame = observed if propensity else observed.drop(columns=["propensity"])
            result = Audit(estimators=("aipw",), run_refuters=False, progress=False,
                           random_state=seed).fit(frame)
            plan = plan_targeted_tests(result.uplift, weekly_units=100_000).segments.set_index("share")
            table = compare_with_test(result.uplift, simulate(**params, rct=True).data)
            for _, row in table.iterrows():
                truth = float(sim.data["true_uplift"].to_numpy()[top_share(result.uplift["uplift"].to_numpy(), row["share"])].mean())
                rows.append({"check": "targeted_vs_rct", "seed": seed, "logged_propensity": propensity,
                             "share": row["share"], "predicted": row["predicted"], "measured": row["measured"],
                             "true_segment_effect": truth, "agrees": bool(row["agrees"]),
                             "predicted_covers_truth": bool(row["predicted_ci_low"] <= truth <= row["predicted_ci_high"]),
                             "n_per_arm": plan.loc[row["share"], "n_per_arm"]})
    return rows


def main() -> int:
    started = time.perf_counter()
    sm_rows = statsmodels_grid()
    mc_rows = monte_carlo_grid()
    seg_rows = targeted_vs_rct()
    worst_n = max(abs(r["rel_diff"]) for r in sm_rows)
    worst_power = max(abs(r["gap"]) for r in mc_rows)
    agree = np.mean([r["agrees"] for r in seg_rows])
    covers = np.mean([r["predicted_covers_truth"] for r in seg_rows])
    summary = {
        "statsmodels points": len(sm_rows),
        "largest |n / statsmodels − 1|": f"{worst_n:.5f} (target ≤ 0.01) {'PASS' if worst_n <= 0.01 else 'FAIL'}",
        "monte carlo points × tests": f"{len(mc_rows)} × {N_SIMS:,}",
        "largest |empirical − planned power|": f"{worst_power:.4f} (target ≤ 0.02) {'PASS' if worst_power <= 0.02 else 'FAIL'}",
        "targeted segments agreeing with the RCT": f"{agree:.0%} of {len(seg_rows)} (seeds {AUDIT_SEEDS}, with and without logged propensity)",
        "predicted segment interval covers the true segment effect": f"{covers:.0%}",
    }
    report("ab_planning", sm_rows + mc_rows + seg_rows, summary, started)
    return 0 if worst_n <= 0.01 and worst_power <= 0.02 and agree >= 0.9 else 1


if __name__ == "__main__":
    sys.exit(main())
