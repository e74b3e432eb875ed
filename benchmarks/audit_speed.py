"""Issue 4: `recuplift audit` on a 200,000-row simulated log (10,000 users × 20 candidates, both text columns)
from a cold embedding cache, exactly as a user runs it: the CLI in a child process, default estimators and
refuters. Reports wall seconds, seconds per stage (from results.json) and the child's peak memory.
Target: ≤ 10 minutes on the 2-core machine.
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

USERS, SEED, LIMIT_SECONDS = 10_000, 7, 600


def main() -> None:
    started = time.perf_counter()
    cli = [sys.executable, "-m", "recuplift.cli"]
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        subprocess.run([*cli, "simulate", "--out", str(tmp_path / "sim"), "--users", str(USERS), "--seed", str(SEED)],
                       check=True, capture_output=True)
        env = {**os.environ, "RECUPLIFT_CACHE_DIR": str(tmp_path / "cold-cache")}  # nothing embedded yet
        t0 = time.perf_counter()
        run = subprocess.run([*cli, "audit", str(tmp_path / "sim" / "impressions.parquet"), "--out",
                              str(tmp_path / "audit"), "--seed", str(SEED)], env=env, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if run.returncode != 0:
            raise SystemExit(f"audit failed:\n{run.stderr[-3000:]}")
        peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        results = json.loads((tmp_path / "audit" / "results.json").read_text())
    stages = {k: round(v, 1) for k, v in results["seconds"].items()}
    rows = [{"rows": results["n_rows"], "users": USERS, "wall_seconds": wall, "peak_memory_mib": peak_mib,
             **{f"{k}_seconds": v for k, v in stages.items()}}]
    summary = {"wall": f"{wall:.0f} s ({wall / 60:.1f} min)", "seconds per stage": stages,
               "peak memory": f"{peak_mib:,.0f} MiB", "target": f"≤ {LIMIT_SECONDS} s from a cold cache",
               "pass": bool(wall <= LIMIT_SECONDS)}
    report("audit_speed", rows, summary, started)


if __name__ == "__main__":
    main()
