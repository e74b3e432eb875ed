"""recuplift: what did showing a recommendation cause?"""

import os

# XGBoost's and torch's OpenMP threads spin while they wait at barriers. On a small shared machine a second
# busy process then starves the thread everyone waits for: in an exploratory run, 672-row XGBoost fits took
# 40–120 s instead of 2 s. Sleeping waiters cost nothing measurable on large fits. Read once, when OpenMP loads, so
# it is set before anything imports xgboost or torch; an explicit setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from .schema import DataError, Problem, Roles, validate
from .simulate import Simulation, SimulationParams, simulate

# The heavy entry points, imported on first use so that `import recuplift` (and the CLI's start) stays light:
# `from recuplift import Audit` works without loading DoWhy, EconML and torch until then.
_LAZY = {"Audit": "causal", "AuditResult": "causal", "UpliftModel": "upliftmodel", "TextEncoder": "text",
         "evaluate_rankings": "ranking", "rerank": "ranking", "score_candidates": "scoring", "plan_test": "planning",
         "plan_targeted_tests": "targeting", "plan_list_test": "listtest", "load_open_bandit": "openbandit"}

__all__ = ["DataError", "Problem", "Roles", "validate", "Simulation", "SimulationParams", "simulate", "versions",
           *_LAZY]
__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'recuplift' has no attribute {name!r}")

NUMERIC_STACK = ("dowhy", "econml", "xgboost", "scikit-learn", "torch", "transformers", "numpy", "pandas")


def versions() -> dict[str, str | None]:
    """recuplift's version and those of the libraries its numbers come from ("same seed, same numbers" holds
    for the same versions), read from the installed metadata without importing them; None when absent."""
    from importlib.metadata import PackageNotFoundError, version

    found: dict[str, str | None] = {"recuplift": __version__}
    for name in NUMERIC_STACK:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = None
    return found
