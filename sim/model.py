"""EscalationModel: the Mesa engine, one run of a scenario with one StateAgent per state."""

from __future__ import annotations

import inspect
from pathlib import Path

import mesa
import numpy as np

from . import kernel
from .agents import StateAgent
from .compile import CompiledScenario, compile_scenario
from .draws import BLOCK_SIZE, RunDraws, Seed
from .outcomes import OutcomeTracker
from .parameters import with_run_parameters
from .scenario import Scenario, load_scenario


def as_compiled(scenario: CompiledScenario | Scenario | str | Path) -> CompiledScenario:
    """Accept a compiled scenario, a validated one, or a path to a scenario file."""
    if isinstance(scenario, CompiledScenario):
        return scenario
    if isinstance(scenario, Scenario):
        return compile_scenario(scenario)
    return compile_scenario(load_scenario(scenario))


class EscalationModel(mesa.Model):
    """One run of a scenario, stepped day by day (MODEL.md section 4).

    Parameters
    ----------
    scenario : CompiledScenario, Scenario or path
        What to run. A path is loaded and validated.
    rng : seed, SeedSequence or Generator, optional
        Mesa's ``rng``; the step draws come from ``self.rng`` unless ``draws`` is given.
    draws : RunDraws or FixedDraws, optional
        Where the step's random numbers come from: pass ``RunDraws.from_block(...)`` to replay an
        ensemble run, or ``FixedDraws`` for hand-worked cases.
    perfect_perception : bool
        Run the twin of MODEL.md section 6 (p = a: no noise, bias or drill ambiguity).

    The compiled scenario is ``self.compiled`` (Mesa 3.5 reserves ``model.scenario`` for its own).
    After each step, ``history`` holds the paths (intended, realised, perceived, levels, threat,
    tags) and ``outcomes`` the run's outcomes so far; the DataCollector records level and threat
    per agent and the day's top realised rung.
    """

    def __init__(self, scenario="scenarios/korea_baseline.toml", rng=None, draws=None,
                 perfect_perception: bool = False):
        super().__init__(rng=rng)
        sc = as_compiled(scenario)
        self.compiled = sc.perfect_perception() if perfect_perception else sc
        self.t = 0
        self._draws = draws if draws is not None else RunDraws(self.rng, sc.n_actors)
        # the run's provocation regime: a multiplier on each base rate, fixed for the whole run
        self.regime = kernel.regime_multiplier(self._draws.regime, sc.regime_dispersion)
        self.draws = None
        self.now: dict[str, np.ndarray] = {}
        self.state_agents = [StateAgent(self, i) for i in range(sc.n_actors)]
        self.outcomes = OutcomeTracker.for_scenario(sc, 1)
        T, N = sc.horizon, sc.n_actors
        self.history = {
            "intended": np.zeros((T, N), dtype=np.int64),
            "realised": np.zeros((T, N), dtype=np.int64),
            "perceived": np.zeros((T, N, N)),
            "hostile_level": np.zeros((T, N)),
            "mde": np.zeros((T, N), dtype=bool),
            "provoked": np.zeros((T, N), dtype=bool),
            "contact": np.zeros((T, N), dtype=bool),
            "misperceived": np.zeros((T, N, N), dtype=bool),
            "level": np.zeros((T + 1, N), dtype=np.int64),
            "threat": np.zeros((T + 1, N)),
        }
        self.history["level"][0] = self.actions("level")[0]
        self.datacollector = mesa.DataCollector(
            model_reporters={"top_realised_rung": lambda m: int(m.actions("realised").max()) if m.t else 0},
            # Mesa indexes agent rows by its own AgentID (a number); "actor" labels each row with the
            # scenario's actor id, e.g. get_agent_vars_dataframe().reset_index().set_index(["Step", "actor"]).
            agent_reporters={"actor": "actor_id", "level": "level", "threat": "threat", "realised": "realised"},
        )

    @classmethod
    def replay(cls, scenario, seed: Seed, run: int, perfect_perception: bool = False,
               parameters=None) -> EscalationModel:
        """A model that replays run ``run`` of the ensemble engine's ensemble seeded ``seed``.

        ``seed`` is what the ensemble was given: an int, or a root stream (a sweep point's, read back
        from a manifest with :func:`sim.draws.root_from`).

        It is fed the exact draws that run saw (row run % 1024 of block run // 1024), so stepping it
        gives the ensemble run's paths and tags, step for step. ``parameters`` are the ensemble's
        per-run parameters (:mod:`sim.parameters`; key -> one value per run): the replay takes run
        ``run``'s values.
        """
        sc = as_compiled(scenario)
        if parameters:
            sc = with_run_parameters(sc, {k: np.asarray(v, dtype=float)[run:run + 1] for k, v in parameters.items()})
        block, index = divmod(run, BLOCK_SIZE)
        return cls(sc, draws=RunDraws.from_block(seed, block, index, sc.n_actors),
                   perfect_perception=perfect_perception)

    def actions(self, attribute: str) -> np.ndarray:
        """One attribute of every state, as a (1, N) array (a batch of one run)."""
        return np.array([[getattr(a, attribute) for a in self.state_agents]])

    def share(self, *attributes: str) -> None:
        """Publish every state's ``attributes`` in ``self.now`` for the next phase to read.

        Moves are simultaneous: a phase reads what all states did in the phases before it, never
        what another state is doing in the same phase.
        """
        for name in attributes:
            self.now[name] = self.actions(name)

    def step(self) -> None:
        """One day: the phases of MODEL.md section 4, in order, all states moving at once."""
        self.draws = self._draws.next()
        self.share("level", "threat")
        self.agents.do("intend")
        self.share("intended")
        self.agents.do("execute")
        self.exchange_fire()
        self.share("intended", "realised")
        self.agents.do("perceive")
        self.agents.do("update_threat")
        self.agents.do("decide")
        self.open_backchannels()
        self.record()
        self.agents.do("advance")
        self.t += 1
        self.datacollector.collect(self)
        if self.t >= self.compiled.horizon:
            self.running = False

    def exchange_fire(self) -> None:
        """Phase 2b: contact incidents answered in kind the same day become exchanges of fire."""
        realised, intended, _ = kernel.exchange_phase(self.compiled, self.actions("realised"), self.actions("intended"),
                                                      self.actions("contact"), self.draws)
        for agent, a, x in zip(self.state_agents, realised[0], intended[0]):
            agent.realised, agent.intended = int(a), int(x)

    def open_backchannels(self) -> None:
        """Phase 7: backchannels between pairs lower both ends' next rung on a success."""
        next_level = kernel.backchannel_phase(self.compiled, self.t, self.actions("decided"), self.now["level"],
                                              self.draws)
        for agent, lvl in zip(self.state_agents, next_level[0]):
            agent.next_level = int(lvl)

    def record(self) -> None:
        """Write today's paths and tags and fold them into the run's outcomes."""
        h, t = self.history, self.t
        realised = self.now["realised"]
        misread = np.array([[a.misread for a in self.state_agents]])
        mde = self.actions("escalated_by_misperception")
        h["intended"][t] = self.actions("intended")[0]
        h["realised"][t] = realised[0]
        h["perceived"][t] = [a.perceived for a in self.state_agents]
        h["hostile_level"][t] = self.actions("hostile_level")[0]
        h["mde"][t] = mde[0]
        h["misperceived"][t] = misread[0]
        h["level"][t + 1] = self.actions("next_level")[0]
        h["threat"][t + 1] = self.actions("next_threat")[0]
        h["provoked"][t] = self.actions("provoked")[0]
        h["contact"][t] = self.actions("contact")[0]
        self.outcomes.record(t, realised, misread, mde, self.actions("source"), self.actions("provoked"),
                             self.actions("contact"))

    def run(self) -> EscalationModel:
        """Step to the horizon; returns self for chaining."""
        while self.running:
            self.step()
        return self


def batch_run(scenario, seeds, **kwargs) -> list[dict]:
    """``mesa.batch_run`` over ``seeds``, one run each, on Mesa 3.3 and 3.5 alike.

    Mesa 3.5 takes the seeds as ``batch_run(rng=...)``; Mesa 3.3 has no such argument and passes
    ``rng`` through ``parameters``. Either way run i gets ``EscalationModel(scenario, rng=seeds[i])``.
    ``kwargs`` go to ``mesa.batch_run`` (``max_steps`` defaults to the horizon).
    """
    compiled = as_compiled(scenario)
    kwargs.setdefault("max_steps", compiled.horizon)
    kwargs.setdefault("display_progress", False)
    seeds = list(seeds)
    if "rng" in inspect.signature(mesa.batch_run).parameters:
        return mesa.batch_run(EscalationModel, {"scenario": compiled}, rng=seeds, **kwargs)
    return mesa.batch_run(EscalationModel, {"scenario": compiled, "rng": seeds}, iterations=1, **kwargs)
