"""Shared plumbing for benchmarks: a table on stdout and the same rows as JSON under benchmarks/results/."""

from __future__ import annotations

import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

from recuplift.io import write_json  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


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
