"""recuplift: what did showing a recommendation cause?"""

import os

# XGBoost's and torch's OpenMP threads spin while they wait at barriers. On a small shared machine a second
# busy process then starves the thread everyone waits for: in an exploratory run, 672-row XGBoost fits took
# 40–120 s instead of 2 s. Sleeping waiters cost nothing measurable on large fits. Read once, when OpenMP loads, so
# it is set before anything imports xgboost or torch; an explicit setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from .schema import DataError, Problem, Roles, validate
from .simulate import Simulation, SimulationParams, simulate

__all__ = ["DataError", "Problem", "Roles", "validate", "Simulation", "SimulationParams", "simulate", "versions"]
__version__ = "0.1.0"

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
