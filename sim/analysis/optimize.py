"""Many-objective search over lever combinations (NSGA-II, pymoo) on common random numbers, resumable by generation.

An optimisation file is an experiment file (``[experiment]``, the levers as ``[[parameters]]`` with
``values`` or a ``range``) with an ``[optimize]`` table: the objectives to minimise (outputs, and
``cost``), the posture cost per lever, the population, generations and search seeds, and the levels a
range is searched on. Every candidate posture runs the same runs on the same posterior draws (the
experiment's seed on the sweeps' shared stream, resolved by :mod:`sim.engines.resolve`), so two
candidates differ by their levers alone and the Monte Carlo noise cannot pick the front. A candidate
is its levers' levels, and each distinct one is simulated once (a cache over generations and seeds).

The results directory holds ``manifest.json`` and one ``generations/SSSS_GGGG.json`` per finished
generation (written atomically): the candidates asked and their outputs. A rerun replays the search
from them (pymoo's seeded search asks the same candidates) and simulates only what is missing; the
directory is tied to what a posture's numbers depend on (scenario, levers, runs, seed, posterior), so
more generations or seeds, another population or other costs reuse every posture simulated.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import numpy as np
from pydantic import Field
from tqdm.auto import tqdm

from sim.analysis.experiment import OUTPUTS, ExperimentMeta, Parameter, _point_scenario
from sim.core.errors import InputError, problem
from sim.core.files import atomic_write, claim_dir, versions
from sim.engines.draws import Stream, make_root
from sim.engines.parallel import map_in_order
from sim.engines.resolve import Resolved, resolve
from sim.model.compile import compile_scenario
from sim.model.scenario import ScenarioFile, read_input_file
from sim.model.schema import StrictTable

COST = "cost"


class OptimizeSpec(StrictTable):
    """The ``[optimize]`` table."""

    objectives: Annotated[list[str], Field(min_length=2)] = ["p_miscalculation", "p_crisis_perfect_perception",
                                                            "p_war", COST]
    cost: dict[str, float] = {}  # lever name -> cost per unit of change from its baseline (a switch: 1)
    population: Annotated[int, Field(ge=4)] = 16
    generations: Annotated[int, Field(ge=1)] = 10
    seeds: Annotated[list[Annotated[int, Field(ge=0)]], Field(min_length=1)] = [1, 2, 3]
    steps: Annotated[int, Field(ge=2)] = 11  # levels a range is searched on, unless the lever sets steps


class RobustSpec(StrictTable):
    """The ``[robustness]`` table: the Pareto policies over posterior draws x samples of the assumptions."""

    uncertainty: str  # an experiment file whose ranged parameters are the unpinned assumptions
    futures: Annotated[int, Field(ge=2)] = 16  # Latin-hypercube samples of the assumptions
    draws: Annotated[int, Field(ge=2)] = 8  # posterior draws in each sample
    runs_per_draw: Annotated[int, Field(ge=2)] = 256
    threshold: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.1  # satisficing: P(miscalculation) at most this
    policies: Annotated[int, Field(ge=1)] = 12  # at most this many Pareto policies, spread over the front
    bootstrap: Annotated[int, Field(ge=100)] = 2000
    # bootstrap resamples of the futures for the value of information's intervals (sim.analysis.evppi)
    evppi_resamples: Annotated[int, Field(ge=100, le=20000)] = 500


class OptimizeFile(StrictTable):
    experiment: ExperimentMeta
    parameters: Annotated[list[Parameter], Field(min_length=1)]
    optimize: OptimizeSpec
    robustness: RobustSpec | None = None


@dataclass(frozen=True)
class Plan:
    """A validated optimisation: the levers' levels, the base resolution every candidate varies."""

    source: str
    spec: OptimizeFile
    scenario: ScenarioFile
    levels: list[list]  # per lever, the values searched
    runs: int
    resolution: Resolved
    fingerprint: str

    @property
    def levers(self) -> list[Parameter]:
        return self.spec.parameters

    @property
    def outputs(self) -> list[str]:
        """The outputs each candidate reports: the objectives' and the experiment's."""
        return list(dict.fromkeys(o for o in [*self.spec.optimize.objectives, *self.spec.experiment.outputs]
                                  if o != COST))

    def values(self, key: tuple[int, ...]) -> dict:
        return {p.column: lv[i] for p, lv, i in zip(self.levers, self.levels, key)}

    def overrides(self, values: dict) -> dict:
        return {k: values[p.column] for p in self.levers for k in p.keys}

    def cost(self, values: dict) -> float:
        """The posture's cost: per lever, its cost per unit times its change from the baseline."""
        return round(float(sum(c * _change(values[name], _baseline(p)) for name, c in self.spec.optimize.cost.items()
                               for p in self.levers if p.column == name)), 9)


def _baseline(p: Parameter):
    if p.baseline is not None:
        return p.baseline
    return p.values[0] if p.values is not None else p.range[0]


def _change(value, baseline) -> float:
    return abs(float(value) - float(baseline))


def load_plan(path: str | Path, runs: int | None = None) -> Plan:
    """Read and check an optimisation file: every problem one line (file, key, what is allowed)."""
    path = Path(path)
    file = str(path)
    spec = read_input_file(path, OptimizeFile)
    scenario_path = path.parent / spec.experiment.scenario
    if not scenario_path.exists():
        raise InputError(problem(file, "experiment.scenario", f"scenario file {scenario_path} not found"))
    _check(spec, file)
    source = ScenarioFile.read(scenario_path)
    levels = [p.levels() if p.values is not None or p.steps else
              [p.cast(v) for v in np.linspace(*p.range, spec.optimize.steps)] for p in spec.parameters]
    base = {p.column: _baseline(p) for p in spec.parameters}
    plan = Plan(file, spec, source, levels, runs or spec.experiment.runs, None, "")
    # the scenario at the baseline and at every level of each lever, the others at baseline: a key the
    # scenario lacks or a value it refuses is one line before anything runs
    for p, lv in zip(spec.parameters, levels):
        for v in dict.fromkeys([base[p.column], *lv]):
            values = {**base, p.column: v}
            _point_scenario(source, plan.overrides(values), file, spec, values)
    built = _point_scenario(source, plan.overrides(base), file, spec, base)
    root = make_root(spec.experiment.seed, Stream.SWEEP_SHARED)
    resolution = resolve(built, overrides=plan.overrides(base), seed=root, runs=plan.runs,
                         posterior="scenario" if spec.experiment.posterior == "scenario" else None)
    # what a posture's numbers depend on: a rerun with other generations, seeds, population or costs
    # reuses every posture already simulated
    identity = {"experiment": spec.experiment.model_dump(mode="json"),
                "parameters": [p.model_dump(mode="json") for p in spec.parameters],
                "runs": plan.runs, "scenario": built.model_dump(mode="json"),
                "posterior": resolution.draws.identity() if resolution.draws else None, "levels": levels}
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()
    return Plan(file, spec, source, levels, plan.runs, resolution, digest)


def _check(spec: OptimizeFile, file: str) -> None:
    """What the search needs of the file beyond its types: one line per problem."""
    out, opt, meta = [], spec.optimize, spec.experiment
    names = [p.column for p in spec.parameters]
    for i, o in enumerate(opt.objectives):
        if o != COST and o not in OUTPUTS:
            out.append(problem(file, f"optimize.objectives[{i}]", f"{o!r} is not an output; choose from "
                               f"{', '.join(OUTPUTS)}, {COST}"))
    if len(set(opt.objectives)) != len(opt.objectives):
        out.append(problem(file, "optimize.objectives", "an objective is named twice"))
    for name, c in opt.cost.items():
        if name not in names:
            out.append(problem(file, f"optimize.cost.{name}", f"not a lever; the levers are {', '.join(names)}"))
        elif not c >= 0:
            out.append(problem(file, f"optimize.cost.{name}", f"{c}: a cost per unit of change from the baseline "
                               "is >= 0 (a lever that saves money is one whose baseline costs more)"))
    if COST in opt.objectives and not any(c != 0 for c in opt.cost.values()):
        out.append(problem(file, "optimize.cost", "the objective 'cost' needs a cost > 0 for at least one lever"))
    for i, p in enumerate(spec.parameters):
        if (p.values is None) == (p.range is None):
            out.append(problem(file, f"parameters[{i}]", "needs values = [...] or range = [low, high], not both"))
        elif p.range is not None and not p.range[0] < p.range[1]:
            out.append(problem(file, f"parameters[{i}].range", f"needs low < high; got {list(p.range)}"))
        if p.values is not None and p.baseline is not None and p.baseline not in p.values:
            out.append(problem(file, f"parameters[{i}].baseline", f"{p.baseline!r} is not one of its values"))
    if len(set(names)) != len(names):
        out.append(problem(file, "parameters", f"two levers share a name: {names}; set name ="))
    if meta.sampler != "grid" or meta.points is not None or meta.target_half_width is not None:
        out.append(problem(file, "experiment", "sampler, points and target_half_width are a sweep's; the search "
                           "picks its own candidates (remove them)"))
    if not meta.common_random_numbers:
        out.append(problem(file, "experiment.common_random_numbers", "needs true: every candidate runs the same "
                           "runs and posterior draws, so the noise cannot pick the front"))
    if out:
        raise InputError(out)


def evaluate_candidate(compiled, seed, parameters, *, runs: int, runs_per_draw: int | None,
                       outputs: tuple[str, ...]) -> dict:
    """One candidate's ensemble (one process): each output's estimate and 95% interval."""
    from sim.analysis.sweep import run_point

    s = run_point(compiled, seed, parameters, runs=runs, runs_per_draw=runs_per_draw)
    return {o: [s[o]["estimate"], s[o]["ci_low"], s[o]["ci_high"]] for o in outputs}


def simulator(plan: Plan, workers: int | None = None) -> Callable[[list[dict]], list[dict]]:
    """The evaluator of candidates' lever values: every one on the plan's runs and posterior draws."""
    def run(candidates: list[dict]) -> list[dict]:
        tasks = []
        for values in candidates:
            ov = plan.overrides(values)
            built = _point_scenario(plan.scenario, ov, plan.source, plan.spec, values)
            r = plan.resolution.varied(built, compile_scenario(built), ov, plan.resolution.seed)
            tasks.append((r.compiled, r.seed, r.run_values))
        return list(map_in_order(evaluate_candidate, tasks, workers, runs=plan.runs,
                                 runs_per_draw=plan.resolution.draws.runs_per_draw if plan.resolution.draws else None,
                                 outputs=tuple(plan.outputs)))
    return run


@dataclass
class Search:
    """What the search found: every candidate evaluated (key -> outputs), each seed's generations (the
    keys asked), and the objectives' order."""

    objectives: list[str]
    evaluated: dict[tuple, dict]
    generations: dict[int, list[list[tuple]]]
    simulated: int = 0  # candidates simulated in this call (the rest came from the directory)

    def asked(self) -> list[tuple]:
        """The postures this search asked for, in order (a directory may hold others, of another search)."""
        return list(dict.fromkeys(k for gens in self.generations.values() for keys in gens for k in keys))

    def objective(self, key: tuple) -> np.ndarray:
        e = self.evaluated[key]
        return np.array([e[COST] if o == COST else e[o][0] for o in self.objectives], dtype=float)


def search(plan: Plan, evaluate: Callable[[list[dict]], list[dict]], out: Path, progress: bool = False) -> Search:
    """NSGA-II over the levers' levels for each seed, generation by generation; see the module docstring.

    A genome is one number in [0, 1) per lever, decoded to the lever's level; pymoo breeds genomes, the
    cache maps each decoded posture to its outputs, so a posture is simulated once whatever asks for it."""
    from pymoo.algorithms.moo.nsga2 import NSGA2
    from pymoo.core.problem import Problem

    opt = plan.spec.optimize
    out = Path(out)
    _claim(out, plan)
    found = Search(list(opt.objectives), {}, {})
    stored = _stored(out)
    for gen in stored.values():  # the cost as the file says now
        found.evaluated |= {tuple(c["key"]): {**c["outputs"], COST: plan.cost(plan.values(tuple(c["key"])))}
                            for c in gen["candidates"]}
    total = len(opt.seeds) * opt.generations
    with tqdm(total=total, desc=plan.spec.experiment.name, unit="generation", disable=not progress, leave=False) as bar:
        for seed in opt.seeds:
            algo = NSGA2(pop_size=opt.population)
            algo.setup(Problem(n_var=len(plan.levers), n_obj=len(opt.objectives), xl=0.0, xu=1.0), seed=seed)
            found.generations[seed] = []
            for g in range(opt.generations):
                pop = algo.ask()
                keys = [_decode(x, plan.levels) for x in pop.get("X")]
                new = list(dict.fromkeys(k for k in keys if k not in found.evaluated))
                if new:
                    for k, o in zip(new, evaluate([plan.values(k) for k in new])):
                        found.evaluated[k] = {**o, COST: plan.cost(plan.values(k))}
                    found.simulated += len(new)
                if stored.get((seed, g), {}).get("asked") != [list(k) for k in keys]:
                    _write_generation(out, plan, seed, g, keys, found)
                pop.set("F", np.array([found.objective(k) for k in keys]))
                algo.tell(infills=pop)
                found.generations[seed].append(keys)
                bar.update(1)
    return found


def _decode(x: np.ndarray, levels: list[list]) -> tuple[int, ...]:
    return tuple(min(len(lv) - 1, int(u * len(lv))) for u, lv in zip(x, levels))


def _write_generation(out: Path, plan: Plan, seed: int, g: int, keys: list[tuple], found: Search) -> None:
    cands = [{"key": list(k), "values": plan.values(k), "outputs": found.evaluated[k]} for k in dict.fromkeys(keys)]
    atomic_write(out / "generations" / f"{seed:04d}_{g:04d}.json",
                 json.dumps({"seed": seed, "generation": g, "asked": [list(k) for k in keys], "candidates": cands},
                            default=str) + "\n")


def _stored(out: Path) -> dict[tuple[int, int], dict]:
    done = {}
    for path in sorted((out / "generations").glob("*.json")):
        gen = json.loads(path.read_text())
        done[(gen["seed"], gen["generation"])] = gen
    return done


def _claim(out: Path, plan: Plan) -> None:
    """Make ``out`` this optimisation's directory, or refuse one that holds another's results."""
    claim_dir(out, "an optimisation's directory", "generations", lambda: {
        "file": plan.source, "fingerprint": plan.fingerprint, "runs": plan.runs,
        "spec": plan.spec.model_dump(mode="json"), "levels": plan.levels, "versions": versions()},
        lambda theirs: None if theirs.get("fingerprint") == plan.fingerprint else
        "holds the results of another optimisation (or of this one with other levers, runs or seed)")


def pareto_keys(found: Search, keys=None) -> list[tuple]:
    """The non-dominated candidates among ``keys`` (default: all the search asked for), sorted by the
    first objective."""
    keys = found.asked() if keys is None else list(dict.fromkeys(keys))
    F = np.array([found.objective(k) for k in keys])
    keep = [i for i in range(len(keys))
            if not np.any(np.all(F <= F[i], axis=1) & np.any(F < F[i], axis=1))]
    first = list(dict.fromkeys(tuple(F[i]) for i in keep))  # equal objectives: the first posture found
    keep = [next(i for i in keep if tuple(F[i]) == f) for f in first]
    return sorted((keys[i] for i in keep), key=lambda k: tuple(found.objective(k)))


def hypervolumes(found: Search) -> dict[int, list[float]]:
    """Per seed, the hypervolume of the front found by each generation (all candidates evaluated by then),
    in objectives scaled to [0, 1] between the best and worst values any seed asked for, against the point
    1.1 in each: 0 finds nothing, about 1.2 would dominate everything."""
    from pymoo.indicators.hv import HV

    F = np.array([found.objective(k) for k in found.asked()])
    low, high = F.min(axis=0), F.max(axis=0)
    span = np.where(high > low, high - low, 1.0)
    hv = HV(ref_point=np.full(F.shape[1], 1.1))
    out = {}
    for seed, gens in found.generations.items():
        seen, out[seed] = [], []
        for keys in gens:
            seen += keys
            front = np.array([(found.objective(k) - low) / span for k in pareto_keys(found, seen)])
            out[seed].append(float(hv(front)))
    return out
