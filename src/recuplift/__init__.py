"""recuplift: what did showing a recommendation cause?"""

import os

# XGBoost's and torch's OpenMP threads spin while they wait at barriers. On a small shared machine a second
# busy process then starves the thread everyone waits for: in an exploratory run, 672-row XGBoost fits took
# 40–120 s instead of 2 s. Sleeping waiters cost nothing measurable on large fits. Read once, when OpenMP loads, so
# it is set before anything imports xgboost or torch; an explicit setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from .schema import DataError, Problem, Roles, validate
from .simulate import Simulation, SimulationParams, simulate

__all__ = ["DataError", "Problem", "Roles", "validate", "Simulation", "SimulationParams", "simulate"]
__version__ = "0.1.0"
