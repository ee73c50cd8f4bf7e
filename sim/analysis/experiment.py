"""Experiment files: which scenario parameters to vary, how to sample them, and the planned points.

An experiment is planned in full before anything runs: every point's scenario is built with its
overrides and validated, so a bad key path or an out-of-range value is reported (file, key, what is
allowed) before a single file is written.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
from pydantic import Field

from sim.model.compile import CompiledScenario, compile_scenario
from sim.engines.draws import Stream, describe_seed, make_root
from sim.core.errors import InputError, problem
from sim.engines.resolve import Resolved, resolve
from sim.model.scenario import ScenarioFile, read_input_file
from sim.model.schema import Scenario, StrictTable

SAMPLERS = ("grid", "lhs", "sobol", "oat", "pairs", "saltelli")
BASELINE_SAMPLERS = ("oat", "pairs")  # the samplers whose points are changes from a baseline point
OUTPUTS = ("p_miscalculation", "p_crisis", "p_war", "p_crisis_perfect_perception", "p_crisis_after_misreading",
           "p_misperception_driven_escalation")
MAX_POINTS = 100_000
Value = bool | int | float | str


class Parameter(StrictTable):
    """One varied parameter: a key path (or several set together) and its values or range."""

    key: str | Annotated[list[str], Field(min_length=1)]
    name: str | None = None
    values: Annotated[list[Value], Field(min_length=1)] | None = None
    range: Annotated[tuple[float, float], Field(strict=False)] | None = None
    steps: Annotated[int, Field(ge=2)] | None = None
    integer: bool = False
    baseline: Value | None = None

    @property
    def keys(self) -> list[str]:
        return [self.key] if isinstance(self.key, str) else list(self.key)

    @property
    def column(self) -> str:
        return self.name or self.keys[0]

    def levels(self) -> list[Value]:
        """The values a grid or one-at-a-time design takes."""
        if self.values is not None:
            return list(self.values)
        lo, hi = self.range
        return [self.cast(v) for v in np.linspace(lo, hi, self.steps)]

    def scale(self, unit: np.ndarray) -> list[Value]:
        """Map points of [0, 1) onto the range (for lhs, sobol, saltelli designs).

        An integer parameter takes each whole number of [lo, hi] on an equal share of [0, 1)
        (rounding a continuous draw would give the two end values half the weight of the others).
        """
        lo, hi = self.range
        if self.integer:
            first, last = math.ceil(lo), math.floor(hi)
            return [min(last, first + int(u * (last - first + 1))) for u in unit]
        return [self.cast(lo + u * (hi - lo)) for u in unit]

    def cast(self, x: float) -> Value:
        # 12 significant digits: a grid step of 0.1 gives 0.3, not 0.30000000000000004
        return int(math.floor(x + 0.5)) if self.integer else float(f"{x:.12g}")


class ExperimentMeta(StrictTable):
    name: str
    description: str = ""
    question: str = ""
    scenario: str
    runs: Annotated[int, Field(ge=1)] = 10_000
    seed: Annotated[int, Field(ge=0)] = 0
    sampler: Literal[SAMPLERS] = "grid"
    points: Annotated[int, Field(ge=1)] | None = None
    common_random_numbers: bool = False
    target_half_width: Annotated[float, Field(gt=0.0, lt=0.5)] | None = None
    posterior: Literal["scenario", "none"] = "scenario"
    outputs: Annotated[list[Literal[OUTPUTS]], Field(min_length=1)] = ["p_miscalculation", "p_crisis", "p_war"]


class ExperimentFile(StrictTable):
    experiment: ExperimentMeta
    parameters: Annotated[list[Parameter], Field(min_length=1)]


@dataclass(frozen=True)
class Point:
    """One planned point: its index, parameter values by column, overrides, seed and scenario."""

    index: int
    values: dict[str, Value]
    overrides: dict[str, Value]
    seed: np.random.SeedSequence  # the point's root stream (sim.engines.draws)
    scenario: CompiledScenario
    built: Scenario  # the scenario as built with the point's overrides, before compiling


@dataclass(frozen=True)
class Experiment:
    """A validated experiment with every point planned. Build it with :func:`load_experiment`."""

    source: str
    spec: ExperimentFile
    base: Scenario
    points: list[Point]
    runs: int
    fingerprint: str
    resolution: Resolved  # the base scenario resolved: the posterior draws every point's runs take

    @property
    def meta(self) -> ExperimentMeta:
        return self.spec.experiment

    def point_resolved(self, point: Point) -> Resolved:
        """What ``point``'s runs take (:meth:`sim.engines.resolve.Resolved.varied`): the experiment's posterior
        draws (the same at every point, so that points differ by their values alone), less any drawn
        key the point sets itself, on the point's stream."""
        return self.resolution.varied(point.built, point.scenario, point.overrides, point.seed)

    @property
    def runs_per_draw(self) -> int | None:
        """Runs that share a posterior draw, or None at the scenario's point values."""
        return self.resolution.draws.runs_per_draw if self.resolution.draws else None

    @property
    def parameters(self) -> list[Parameter]:
        return self.spec.parameters

    def resolved(self) -> dict:
        """The experiment as it will run: file contents, runs, the base scenario, and every point."""
        return {
            "experiment": self.spec.model_dump(mode="json"),
            "runs_per_point": self.runs,
            "scenario": self.base.model_dump(mode="json"),
            "points": [{"point": p.index, "values": p.values, **describe_seed(p.seed)} for p in self.points],
            "posterior": self.resolution.draws.identity() if self.resolution.draws else None,
        }


def load_experiment(path: str | Path, runs: int | None = None) -> Experiment:
    """Read, validate and plan an experiment file; ``runs`` overrides its runs per point."""
    path = Path(path)
    file = str(path)
    spec = read_input_file(path, ExperimentFile)
    _check_parameters(spec, file)
    scenario_path = path.parent / spec.experiment.scenario
    if not scenario_path.exists():
        raise InputError(problem(file, "experiment.scenario", f"scenario file {scenario_path} not found "
                                 "(the path is relative to the experiment file)"))
    source = ScenarioFile.read(scenario_path)
    base = source.build()
    points = []
    for index, values in enumerate(design(spec)):
        overrides = {key: values[p.column] for p in spec.parameters for key in p.keys}
        seed = (make_root(spec.experiment.seed, Stream.SWEEP_SHARED) if spec.experiment.common_random_numbers
                else make_root(spec.experiment.seed, Stream.SWEEP_POINT, index))
        scenario = _point_scenario(source, overrides, file, spec, values)
        points.append(Point(index, values, overrides, seed, compile_scenario(scenario), scenario))
    n_runs = runs if runs is not None else spec.experiment.runs
    # one set of posterior draws for every point, on the experiment's shared stream
    shared = make_root(spec.experiment.seed, Stream.SWEEP_SHARED)
    base_resolved = resolve(base, posterior="scenario" if spec.experiment.posterior == "scenario" else None,
                            seed=shared, runs=n_runs)
    for p in points:  # a point that sets part of a drawn key is refused before anything runs
        try:
            base_resolved.varied(p.built, p.scenario, p.overrides, p.seed)
        except InputError as exc:
            raise InputError([f"{file}: {line.replace('--set ', 'parameter ')}" for line in exc.problems]) from None
    exp = Experiment(file, spec, base, points, n_runs, "", base_resolved)
    digest = hashlib.sha256(json.dumps(exp.resolved(), sort_keys=True).encode()).hexdigest()
    return Experiment(file, spec, base, points, n_runs, digest, base_resolved)


def _point_scenario(source: ScenarioFile, overrides: dict, file: str, spec, values) -> Scenario:
    """The scenario at one point, validated; errors name the experiment's parameter, not the scenario."""
    def where(key):
        return f"{file}: {_parameter_key(spec, key)}"

    try:
        return source.build(overrides, origin=lambda key: f"{file} ({_parameter_key(spec, key)})", where=where)
    except InputError as exc:
        if len(exc.problems) == 1 and exc.problems[0].startswith(f"{file}: parameters"):
            raise
        shown = ", ".join(f"{k} = {v!r}" for k, v in values.items())
        raise InputError([f"{file}: at the point {shown}: {line}" for line in exc.problems]) from None


def _parameter_key(spec: ExperimentFile, key: str) -> str:
    for i, p in enumerate(spec.parameters):
        if key in p.keys:
            return f"parameters[{i}].key"
    return "parameters"


def _check_parameters(spec: ExperimentFile, file: str) -> None:
    """What each sampler needs of the parameters, before any point is built."""
    out = []
    meta, params = spec.experiment, spec.parameters
    continuous = meta.sampler in ("lhs", "sobol", "saltelli")
    columns = [p.column for p in params]
    for i, p in enumerate(params):
        key = f"parameters[{i}]"
        if p.values is not None and p.range is not None:
            out.append(problem(file, key, "give either values or range, not both"))
        elif p.values is None and p.range is None:
            out.append(problem(file, key, "needs values = [...] or range = [low, high]"))
        if p.range is not None and not p.range[0] < p.range[1]:
            out.append(problem(file, f"{key}.range", f"needs low < high; got {list(p.range)}"))
        elif p.range is not None and p.integer and math.ceil(p.range[0]) > math.floor(p.range[1]):
            out.append(problem(file, f"{key}.range", f"an integer parameter needs a whole number in its range; "
                               f"got {list(p.range)}"))
        if continuous and p.range is None:
            out.append(problem(file, f"{key}.range", f"sampler {meta.sampler!r} draws from ranges: give "
                               "range = [low, high] (values lists go with the grid and oat samplers)"))
        if not continuous and p.range is not None and p.steps is None:
            out.append(problem(file, f"{key}.steps", f"sampler {meta.sampler!r} needs steps (>= 2) to grid a range"))
        if p.baseline is not None and meta.sampler not in BASELINE_SAMPLERS:
            out.append(problem(file, f"{key}.baseline", "only the oat and pairs samplers use a baseline"))
    if len(set(columns)) != len(columns):
        out.append(problem(file, "parameters", f"two parameters share a column name: {columns}; set name ="))
    keys = [k for p in params for k in p.keys]
    if len(set(keys)) != len(keys):
        out.append(problem(file, "parameters", "a key path is varied twice"))
    if continuous and meta.points is None:
        out.append(problem(file, "experiment.points", f"sampler {meta.sampler!r} needs points (how many to draw)"))
    if meta.sampler in ("sobol", "saltelli") and meta.points is not None and meta.points & (meta.points - 1):
        out.append(problem(file, "experiment.points", f"sampler {meta.sampler!r} needs a power of two; got "
                           f"{meta.points} (try {1 << max(1, meta.points.bit_length() - 1)})"))
    if meta.sampler == "saltelli" and len(params) < 2:
        out.append(problem(file, "parameters", "sampler 'saltelli' (Sobol indices) needs at least 2 parameters; "
                           f"got {len(params)}"))
    if meta.sampler == "sobol" and len(params) > 21201:
        out.append(problem(file, "parameters", "sampler 'sobol' takes at most 21201 parameters"))
    if meta.sampler in ("lhs", "sobol") and meta.points is not None and meta.points < 2:
        out.append(problem(file, "experiment.points", "needs at least 2 points"))
    if meta.sampler == "grid" and not out:
        total = math.prod(len(p.levels()) for p in params)
        if total > MAX_POINTS:
            out.append(problem(file, "parameters", f"the grid has {total:,} points; at most {MAX_POINTS:,}"))
    if out:
        raise InputError(out)


def design(spec: ExperimentFile) -> list[dict[str, Value]]:
    """The points of the experiment's sampler, as {column: value} in point order."""
    from scipy.stats import qmc

    meta, params = spec.experiment, spec.parameters
    d = len(params)
    if meta.sampler == "grid":
        return [dict(zip([p.column for p in params], combo)) for combo in itertools.product(*(p.levels() for p in params))]
    if meta.sampler == "oat":
        return _one_at_a_time(params)
    if meta.sampler == "pairs":
        return _alone_and_in_pairs(params)
    if meta.sampler == "lhs":
        unit = qmc.LatinHypercube(d=d, rng=np.random.default_rng(meta.seed)).random(meta.points)
    elif meta.sampler == "sobol":
        unit = qmc.Sobol(d=d, scramble=True, rng=np.random.default_rng(meta.seed)).random_base2(
            int(math.log2(meta.points)))
    else:  # saltelli: SALib's own design for its Sobol-index estimators
        from SALib.sample import sobol as saltelli

        unit_problem = {**salib_problem(params), "bounds": [[0.0, 1.0]] * d}
        unit = saltelli.sample(unit_problem, meta.points, calc_second_order=False, seed=meta.seed)
    return [{p.column: v for p, v in zip(params, values)} for values in zip(*(p.scale(unit[:, k])
                                                                             for k, p in enumerate(params)))]


def salib_problem(params: list[Parameter]) -> dict:
    """The parameter description SALib's samplers and analysers take."""
    return {"num_vars": len(params), "names": [p.column for p in params], "bounds": [list(p.range) for p in params]}


def _baseline(params: list[Parameter]) -> dict[str, Value]:
    """Each parameter's baseline: its own, or its middle level."""
    return {p.column: p.baseline if p.baseline is not None else p.levels()[len(p.levels()) // 2] for p in params}


def _one_at_a_time(params: list[Parameter]) -> list[dict[str, Value]]:
    """The baseline point, then each parameter through its levels with the others at baseline."""
    base = _baseline(params)
    points = [dict(base)]
    for p in params:
        for v in p.levels():
            if v != base[p.column]:
                points.append({**base, p.column: v})
    return points


def _alone_and_in_pairs(params: list[Parameter]) -> list[dict[str, Value]]:
    """The one-at-a-time points, then every two parameters changed together, at every combination of
    their levels other than the baseline: a posture is a combination of levers, and two levers can add
    up, overlap or undo each other."""
    base = _baseline(params)
    points = _one_at_a_time(params)
    for p, q in itertools.combinations(params, 2):
        for v, w in itertools.product(*([x for x in r.levels() if x != base[r.column]] for r in (p, q))):
            points.append({**base, p.column: v, q.column: w})
    return points
