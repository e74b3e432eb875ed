"""recuplift: what did showing a recommendation cause?"""

from .schema import DataError, Problem, Roles, validate
from .simulate import Simulation, SimulationParams, simulate

__all__ = ["DataError", "Problem", "Roles", "validate", "Simulation", "SimulationParams", "simulate"]
__version__ = "0.1.0"
