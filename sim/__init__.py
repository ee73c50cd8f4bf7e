"""escalation-sim: how likely is miscalculation when states answer each other's drills and provocations."""

from sim.model.compile import CompiledScenario, compile_scenario
from sim.core.errors import InputError
from sim.engines.model import EscalationModel
from sim.model.rules import get_rule, register_rule, registered_rules
from sim.engines.resolve import Resolved, resolve
from sim.model.scenario import load_scenario
from sim.model.schema import Scenario
from sim.engines.simulate import EnsembleResult, simulate
from sim.ui.api import RunResult, SweepResult, compare, levers, run, sweep

__version__ = "0.1.0"

__all__ = [
    "CompiledScenario",
    "EnsembleResult",
    "EscalationModel",
    "InputError",
    "Resolved",
    "RunResult",
    "SweepResult",
    "Scenario",
    "compare",
    "compile_scenario",
    "get_rule",
    "levers",
    "load_scenario",
    "register_rule",
    "registered_rules",
    "resolve",
    "run",
    "simulate",
    "sweep",
]
