"""Calibration: fit scenario parameters to yearly counts in data by simulation (scipy.optimize).

A calibration file names a scenario, a CSV of yearly counts (one row a year), the actor whose
provocation days the counts are, the parameters to fit with their ranges and starting values, and
the statistics to match (mean and variance of the yearly count). Each evaluation runs an ensemble on
the same seed (common random numbers), so the objective is piecewise constant in the parameters:
the optimiser is derivative-free (Nelder-Mead within the ranges, by default).
"""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
from pydantic import Field
from scipy.optimize import minimize

from .compile import compile_scenario
from .draws import Stream, ensemble_root
from .ensemble import run_ensemble
from .errors import InputError, problem
from .scenario import ScenarioFile, StrictTable, read_input_file

STATISTICS = ("mean", "variance")


class FitParameter(StrictTable):
    key: str
    range: Annotated[tuple[float, float], Field(strict=False)]
    start: float


class CalibrationMeta(StrictTable):
    name: str
    description: str = ""
    scenario: str
    data: str
    column: str
    actor: str
    targets: Annotated[list[Literal[STATISTICS]], Field(min_length=1)] = ["mean", "variance"]
    runs: Annotated[int, Field(ge=1)] = 4096
    seed: Annotated[int, Field(ge=0)] = 0
    method: Literal["Nelder-Mead", "Powell"] = "Nelder-Mead"
    max_evaluations: Annotated[int, Field(ge=1)] = 80


class CalibrationFile(StrictTable):
    calibration: CalibrationMeta
    parameters: Annotated[list[FitParameter], Field(min_length=1)]


def load_calibration(path: str | Path) -> tuple[CalibrationFile, np.ndarray, ScenarioFile, Path]:
    """Validate a calibration file; return it, the data column, the base scenario file and its path."""
    path = Path(path)
    file = str(path)
    spec = read_input_file(path, CalibrationFile)
    meta = spec.calibration
    for i, p in enumerate(spec.parameters):
        lo, hi = p.range
        if not lo < hi:
            raise InputError(problem(file, f"parameters[{i}].range", f"needs low < high; got {[lo, hi]}"))
        if not lo <= p.start <= hi:
            raise InputError(problem(file, f"parameters[{i}].start", f"must lie in the range {[lo, hi]}; got {p.start}"))
    scenario_path = Path(os.path.normpath(path.parent / meta.scenario))
    if not scenario_path.exists():
        raise InputError(problem(file, "calibration.scenario", f"scenario file {scenario_path} not found"))
    data_path = Path(os.path.normpath(path.parent / meta.data))
    try:
        with open(data_path, newline="") as f:
            rows = list(csv.DictReader(f))
    except FileNotFoundError:
        raise InputError(problem(file, "calibration.data", f"data file {data_path} not found")) from None
    if not rows or meta.column not in rows[0]:
        have = ", ".join(rows[0]) if rows else "no columns"
        raise InputError(problem(file, "calibration.column", f"no column {meta.column!r} in {data_path}; it has {have}"))
    try:
        data = np.array([float(r[meta.column]) for r in rows])
    except ValueError as exc:
        raise InputError(problem(file, "calibration.column", f"{data_path} has a non-number in {meta.column!r}: {exc}")) from None
    source = ScenarioFile.read(scenario_path)
    base = source.build()
    if meta.actor not in base.actors:
        raise InputError(problem(file, "calibration.actor", f"unknown actor {meta.actor!r}; actors: {', '.join(base.actors)}"))
    _scenario_at(spec, source, file, [p.start for p in spec.parameters])  # key paths and values
    return spec, data, source, scenario_path


def _scenario_at(spec, source: ScenarioFile, file: str, values):
    """The scenario with the fitted parameters set to ``values``."""
    index = {p.key: i for i, p in enumerate(spec.parameters)}
    return source.build({p.key: float(v) for p, v in zip(spec.parameters, values)},
                        origin=lambda key: f"{file} (parameters[{index[key]}])",
                        where=lambda key: f"{file}: parameters[{index[key]}].key")


def simulated_statistics(scenario, actor: int, runs: int, seed: int, workers: int | None = None) -> dict:
    """Mean and variance (across runs) of one actor's provocation days over the horizon."""
    totals, _, _ = run_ensemble(scenario, runs, ensemble_root(seed, Stream.CALIBRATION), workers=workers)
    mean, var = (float(m[actor]) for m in totals.provocation_moments())
    return {"mean": mean, "variance": var, "mean_se": float(np.sqrt(var / runs))}


def calibrate(path: str | Path, runs: int | None = None, workers: int | None = None, progress=None) -> dict:
    """Fit the file's parameters; return the fit, the statistics it reaches and their residuals."""
    spec, data, source, scenario_path = load_calibration(path)
    meta = spec.calibration
    file = str(path)
    n_runs = runs or meta.runs
    target = {"mean": float(data.mean()), "variance": float(data.var(ddof=1))}
    lo = np.array([p.range[0] for p in spec.parameters])
    hi = np.array([p.range[1] for p in spec.parameters])
    history = []

    def evaluate(x):
        sc = compile_scenario(_scenario_at(spec, source, file, x))
        stats = simulated_statistics(sc, sc.actor_ids.index(meta.actor), n_runs, meta.seed, workers)
        loss = sum(((stats[t] - target[t]) / target[t]) ** 2 for t in meta.targets)
        history.append({"x": [float(v) for v in x], "loss": loss, **stats})
        if progress:
            progress(len(history), x, stats, loss)
        return loss

    x0 = np.array([p.start for p in spec.parameters])
    res = minimize(evaluate, x0, method=meta.method, bounds=list(zip(lo, hi)),
                   options={"maxfev": meta.max_evaluations, "xatol": 1e-4, "fatol": 1e-5})
    best = min(history, key=lambda h: h["loss"])
    return {
        "calibration": meta.name,
        "scenario": str(scenario_path),
        "data": {"file": os.path.normpath(Path(path).parent / meta.data), "column": meta.column, "years": len(data),
                 **target},
        "runs_per_evaluation": n_runs,
        "seed": meta.seed,
        "method": meta.method,
        "evaluations": len(history),
        "converged": bool(res.success),
        "fitted": {p.key: best["x"][i] for i, p in enumerate(spec.parameters)},
        "simulated": {"mean": best["mean"], "variance": best["variance"], "mean_se": best["mean_se"]},
        "residuals": {t: best[t] - target[t] for t in STATISTICS},
        "relative_residuals": {t: (best[t] - target[t]) / target[t] for t in STATISTICS},
        "loss": best["loss"],
    }
