"""escalation-sim: how likely is miscalculation when states answer each other's drills and provocations."""

from .compile import CompiledScenario, compile_scenario
from .errors import InputError
from .model import EscalationModel
from .rules import get_rule, register_rule, registered_rules
from .resolve import Resolved, resolve
from .scenario import Scenario, load_scenario
from .simulate import EnsembleResult, run, simulate

__version__ = "0.1.0"

__all__ = [
    "CompiledScenario",
    "EnsembleResult",
    "EscalationModel",
    "InputError",
    "Resolved",
    "Scenario",
    "compile_scenario",
    "get_rule",
    "load_scenario",
    "register_rule",
    "registered_rules",
    "resolve",
    "run",
    "simulate",
]
