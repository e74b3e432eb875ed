"""`recuplift score` on a 100,000-row simulated log (5,000 users × 20 candidates, both text columns) and as many
fresh candidates (5,000 users the log never saw, the same catalog), as a user runs it: the CLI in a child process,
from a cold embedding cache. Reports wall seconds, seconds per stage (from scores.json) and the child's peak memory.

No target: the baseline is `recuplift audit` of the same log (default estimators and refuters, its own cold cache),
run right after on the same machine, so the ratio says what scoring costs in audits, the time users know.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _harness import report
from recuplift.simulate import simulate

USERS, CANDIDATES, SEED = 5_000, 20, 11
CLI = [sys.executable, "-m", "recuplift.cli"]


def timed(args: list[str], cache: Path) -> float:
    """Wall seconds of one CLI command from an empty embedding cache of its own."""
    t0 = time.perf_counter()
    run = subprocess.run([*CLI, *args], env={**os.environ, "RECUPLIFT_CACHE_DIR": str(cache)}, capture_output=True,
                         text=True)
    if run.returncode != 0:
        raise SystemExit(f"{args[0]} failed:\n{run.stderr[-3000:]}")
    return time.perf_counter() - t0


def main() -> None:
    started = time.perf_counter()
    size = dict(n_users=USERS, n_candidates=CANDIDATES, catalog_seed=SEED)
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        log = simulate(**size, seed=SEED).data
        log.drop(columns=[c for c in log.columns if c.startswith("true_")]).to_parquet(tmp_path / "log.parquet")
        fresh = simulate(**size, seed=SEED + 1).data
        fresh.assign(user_id="new-" + fresh["user_id"].astype(str)).drop(
            columns=["exposed", "outcome", "propensity"]).to_parquet(tmp_path / "fresh.parquet")
        score_wall = timed(["score", str(tmp_path / "log.parquet"), "--candidates", str(tmp_path / "fresh.parquet"),
                            "--out", str(tmp_path / "scores"), "--seed", str(SEED)], tmp_path / "cache-score")
        peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # the score child's, the first
        stages = json.loads((tmp_path / "scores" / "scores.json").read_text())["seconds"]
        audit_wall = timed(["audit", str(tmp_path / "log.parquet"), "--out", str(tmp_path / "audit"), "--seed",
                            str(SEED)], tmp_path / "cache-audit")
    stages = {k: round(v, 1) for k, v in stages.items()}
    rows = [{"log_rows": len(log), "candidate_rows": len(fresh), "score_wall_seconds": score_wall,
             "audit_wall_seconds": audit_wall, "score_over_audit": score_wall / audit_wall,
             "score_peak_memory_mib": peak_mib, **{f"score_{k}_seconds": v for k, v in stages.items()}}]
    summary = {"score wall": f"{score_wall:.0f} s ({score_wall / 60:.1f} min)", "seconds per stage": stages,
               "audit of the same log": f"{audit_wall:.0f} s", "score / audit": f"{score_wall / audit_wall:.2f}×",
               "score's peak memory": f"{peak_mib:,.0f} MiB"}
    report("score_speed", rows, summary, started)


if __name__ == "__main__":
    main()
