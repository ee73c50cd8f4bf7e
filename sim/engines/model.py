"""EscalationModel: the Mesa engine, one run of a scenario with one StateAgent per state."""

from __future__ import annotations

import inspect
from dataclasses import replace
from pathlib import Path

import mesa
import numpy as np

from sim.model import kernel
from sim.engines.agents import StateAgent
from sim.model.compile import CompiledScenario, compile_scenario
from sim.engines.draws import BLOCK_SIZE, RunDraws, Seed
from sim.model.outcomes import OutcomeTracker
from sim.engines.run_values import PER_ACTOR, PER_DRILL_DAY, with_run_values
from sim.model.scenario import load_scenario
from sim.model.schema import Scenario


def as_compiled(scenario: CompiledScenario | Scenario | str | Path) -> CompiledScenario:
    """Accept a compiled scenario, a validated one, or a path to a scenario file."""
    if isinstance(scenario, CompiledScenario):
        return scenario
    if isinstance(scenario, Scenario):
        return compile_scenario(scenario)
    return compile_scenario(load_scenario(scenario))


def one_run(sc: CompiledScenario) -> CompiledScenario:
    """``sc`` in the per-run form of :mod:`sim.engines.run_values` for a batch of one run: every parameter that
    may vary by run gets a run axis of length 1 ((N,) -> (1, N), (T, N) -> (T, 1, N), rule
    parameters (1,)), holding the same values.

    The kernel computes exactly the same numbers either way (the per-run form is what replays of
    runs with per-run parameters use); but NumPy broadcasts an (N,) array against a (1, N) one in
    about twice the time of an operation between equal shapes, and on arrays this small that time
    is the whole cost.
    """
    out = {name: getattr(sc, name)[None, :] for name in PER_ACTOR if getattr(sc, name).ndim == 1}
    out |= {name: getattr(sc, name)[:, None, :] for name in PER_DRILL_DAY if getattr(sc, name).ndim == 2}
    rules = tuple({k: v if np.ndim(v) else np.array([v]) for k, v in p.items()} for p in sc.rule_params)
    return replace(sc, rule_params=rules, **out)


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

    Each phase is one kernel call for all states (every row of a batch of one run, as the ensemble
    engine calls it for many runs); its results are published in ``now`` (name -> (1, N) array,
    (1, N, N) for readings) for the phases after it, and in ``today`` (name -> one Python value per
    state) for the agents, whose phase methods, called through the AgentSet, take their own row.
    """

    def __init__(self, scenario="scenarios/korea_baseline.toml", rng=None, draws=None,
                 perfect_perception: bool = False):
        super().__init__(rng=rng)
        sc = as_compiled(scenario)
        self.compiled = sc.perfect_perception() if perfect_perception else sc
        self._one_run = one_run(self.compiled)  # what the kernel is called with: same values, faster shapes
        self.t = 0
        self._draws = draws if draws is not None else RunDraws(self.rng, sc.n_actors)
        # the run's provocation regime: a multiplier on each base rate, fixed for the whole run
        self.regime = kernel.run_regimes(sc, self._draws.regime)
        self.draws = None
        self.now: dict[str, np.ndarray] = {"level": sc.baseline[None, :].astype(np.int64),
                                           "threat": np.zeros((1, sc.n_actors))}
        self.today: dict[str, list] = {}
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
        self.history["level"][0] = self.now["level"][0]
        self.datacollector = mesa.DataCollector(
            model_reporters={"top_realised_rung": lambda m: max(m.today["realised"]) if m.t else 0},
            # Mesa indexes agent rows by its own AgentID (a number); "actor" labels each row with the
            # scenario's actor id, e.g. get_agent_vars_dataframe().reset_index().set_index(["Step", "actor"]).
            agent_reporters={"actor": "actor_id", "level": "level", "threat": "threat", "realised": "realised"},
        )

    @classmethod
    def replay(cls, scenario, seed: Seed, run: int, perfect_perception: bool = False,
               run_values=None) -> EscalationModel:
        """A model that replays run ``run`` of the ensemble engine's ensemble seeded ``seed``.

        ``seed`` is what the ensemble was given: an int, or a root stream (a sweep point's, read back
        from a manifest with :func:`sim.engines.draws.root_from`).

        It is fed the exact draws that run saw (row run % 1024 of block run // 1024), so stepping it
        gives the ensemble run's paths and tags, step for step. ``run_values`` are the ensemble's
        per-run parameters (:mod:`sim.engines.run_values`; key -> one value per run): the replay takes run
        ``run``'s values.
        """
        sc = as_compiled(scenario)
        if run_values:
            sc = with_run_values(sc, {k: np.asarray(v, dtype=float)[run:run + 1] for k, v in run_values.items()})
        block, index = divmod(run, BLOCK_SIZE)
        return cls(sc, draws=RunDraws.from_block(seed, block, index, sc.n_actors),
                   perfect_perception=perfect_perception)

    def publish(self, **arrays: np.ndarray) -> None:
        """Publish a phase's results for every state: the (1, N...) arrays in ``now``, for the phases
        after it, and each state's value in ``today``, for its agent to take.

        Moves are simultaneous: a phase reads what all states did in the phases before it, never
        what another state is doing in the same phase.
        """
        self.now.update(arrays)
        for name, array in arrays.items():
            if array.ndim == 2:  # a number per state; readings (1, N, N) the agents take as rows
                self.today[name] = array[0].tolist()

    def step(self) -> None:
        """One day: the phases of MODEL.md section 4, in order, all states moving at once."""
        self.draws = self._draws.next()
        self.intend()
        self.execute()
        self.exchange_fire()
        self.perceive()
        self.update_threat()
        self.decide()
        self.open_backchannels()
        self.tally_outcomes()
        self.agents.do("advance")
        self.now["level"], self.now["threat"] = self.now["next_level"], self.now["next_threat"]
        self.t += 1
        self.datacollector.collect(self)
        if self.t >= self.compiled.horizon:
            self.running = False

    # -- phases: each one kernel call for all states, then each agent takes its row -------------

    def intend(self) -> None:
        """Phase 1: intended actions, provocations and contact incidents."""
        now = self.now
        intended, provoked, contact = kernel.intend_phase(self._one_run, self.t, now["level"], now["threat"],
                                                          self.draws, self.regime)
        self.publish(intended=intended, provoked=provoked, contact=contact)
        self.agents.do("intend")

    def execute(self) -> None:
        """Phase 2: realised actions and accidents."""
        realised, accident = kernel.execute_phase(self._one_run, self.now["intended"], self.draws)
        self.publish(realised=realised, accident=accident)
        self.agents.do("execute")

    def exchange_fire(self) -> None:
        """Phase 2b: contact incidents answered in kind the same day become exchanges of fire."""
        now = self.now
        realised, intended, _ = kernel.exchange_phase(self._one_run, now["realised"], now["intended"], now["contact"],
                                                      self.draws)
        if realised is now["realised"] and intended is now["intended"]:  # handed back: nobody fired today
            return
        self.publish(realised=realised, intended=intended)
        for agent, a, x in zip(self.state_agents, self.today["realised"], self.today["intended"]):
            agent.realised, agent.intended = a, x

    def perceive(self) -> None:
        """Phase 3: every state's reading of every actor, and its misreadings."""
        now = self.now
        perceived, misread, q = kernel.perceive_phase(self._one_run, self.t, now["level"], now["realised"],
                                                      self.draws)
        self.publish(perceived=perceived, misread=misread, hostile_level=q)
        self.agents.do("perceive")

    def update_threat(self) -> None:
        """Phase 4: threat after today's update and summit relief."""
        next_threat = kernel.threat_phase(self._one_run, self.t, self.now["threat"], self.now["perceived"])
        self.publish(next_threat=next_threat)
        self.agents.do("update_threat")

    def decide(self) -> None:
        """Phases 5-6: decisions, and the MDE tags with what drove them."""
        now = self.now
        decided, mde, source = kernel.decide_phase(self._one_run, now["level"], now["intended"], now["perceived"],
                                                   now["hostile_level"], now["next_threat"], self.draws)
        self.publish(decided=decided, mde=mde, source=source)
        self.agents.do("decide")

    def open_backchannels(self) -> None:
        """Phase 7: backchannels between pairs lower both ends' next rung on a success."""
        next_level = kernel.backchannel_phase(self._one_run, self.t, self.now["decided"], self.now["level"], self.draws)
        self.publish(next_level=next_level)
        for agent, level in zip(self.state_agents, self.today["next_level"]):
            agent.next_level = level

    def tally_outcomes(self) -> None:
        """Write today's paths and tags and fold them into the run's outcomes."""
        h, t, now = self.history, self.t, self.now
        for name, key in (("intended", "intended"), ("realised", "realised"), ("perceived", "perceived"),
                          ("hostile_level", "hostile_level"), ("mde", "mde"), ("misperceived", "misread"),
                          ("provoked", "provoked"), ("contact", "contact")):
            h[name][t] = now[key][0]
        h["level"][t + 1] = now["next_level"][0]
        h["threat"][t + 1] = now["next_threat"][0]
        self.outcomes.tally(t, now["realised"], now["misread"], now["mde"], now["source"], now["provoked"],
                             now["contact"])

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
