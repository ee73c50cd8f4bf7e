"""Robustness of Pareto policies over deep uncertainty: regret and satisficing over posterior draws x samples of the unpinned assumptions.

A future is one Latin-hypercube sample of the assumptions the record does not pin down (the ranged
parameters of an uncertainty experiment, e.g. ``experiments/uncertainty.toml``) and one posterior
draw. Every policy runs in every sample on the same runs and the same posterior draws (common random
numbers; the policy's levers win over an assumption that sets the same key), and P(miscalculation)
in a future is the share of that draw's runs with a miscalculation. A policy's regret in a future is
its P(miscalculation) less the lowest any policy reached there. Reported per policy: the largest
regret (minimax), its 90th percentile, and the share of futures with P(miscalculation) at most the
threshold (satisficing), each with a 95% percentile-bootstrap interval over futures (resampled
whole, the policies together). Each future's probability rests on ``runs_per_draw`` runs, so its
Monte Carlo noise adds to the regret (less than it would without common random numbers); a
bootstrap interval of a maximum cannot reach above the largest regret seen.

Each future's values (the assumptions' sample, and each calibrated parameter's value in the posterior
draw, unless the sample sets it) are kept beside the probabilities: the value of information
(:mod:`sim.analysis.evppi`) regresses each policy's P(miscalculation) on them, and :func:`failure_boxes`
finds by PRIM the futures in which a policy fails (P(miscalculation) above the threshold).
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from sim.analysis.experiment import ExperimentFile, Parameter
from sim.analysis.pairing import unpack_flags
from sim.core.errors import InputError, problem
from sim.core.files import atomic_write
from sim.engines.draws import Stream, make_root
from sim.engines.parallel import map_in_order
from sim.engines.resolve import resolve
from sim.model.scenario import read_input_file

MEASURES = ("minimax_regret", "regret_p90", "satisficing")


@dataclass
class Robustness:
    """Per policy (the order given): each measure with its interval, and the futures' probabilities."""

    assumptions: list[str]
    futures: int
    threshold: float
    p: np.ndarray  # (policies, futures) P(miscalculation)
    rows: list[dict]  # per policy: measure -> (estimate, low, high)
    interval: str
    values: dict[str, np.ndarray] = field(default_factory=dict)  # name -> (futures,) each future's value
    ranges: dict[str, tuple[float, float]] = field(default_factory=dict)  # each assumption's whole range
    calibrated: list[str] = field(default_factory=list)  # names in ``values`` drawn from the posterior

    def best(self) -> int:
        """The most robust policy: the lowest minimax regret, then the highest satisficing share."""
        return min(range(len(self.rows)), key=lambda i: (self.rows[i]["minimax_regret"][0],
                                                          -self.rows[i]["satisficing"][0]))


def assumptions(path: str | Path, file: str) -> list[Parameter]:
    """The uncertainty experiment's ranged parameters (the unpinned assumptions)."""
    unc = Path(path)
    if not unc.exists():
        raise InputError(problem(file, "robustness.uncertainty", f"{unc} not found (the path is relative to "
                                 "the optimisation file)"))
    params = [p for p in read_input_file(unc, ExperimentFile).parameters if p.range is not None]
    if not params:
        raise InputError(problem(file, "robustness.uncertainty", f"{unc} has no parameter with a range"))
    return params


def futures(params: list[Parameter], n: int, seed: int) -> list[dict]:
    """``n`` Latin-hypercube samples of the assumptions: key -> value overrides."""
    from scipy.stats import qmc

    unit = qmc.LatinHypercube(d=len(params), rng=np.random.default_rng(seed)).random(n)
    cols = [p.scale(unit[:, k]) for k, p in enumerate(params)]
    return [{key: cols[k][j] for k, p in enumerate(params) for key in p.keys} for j in range(n)]


def miscalculation_flags(compiled, seed, parameters, *, runs: int, runs_per_draw: int | None) -> np.ndarray:
    """One (policy, sample)'s runs: the share of each posterior draw's runs with a miscalculation."""
    from sim.analysis.sweep import run_point

    s = run_point(compiled, seed, parameters, runs=runs, outcome_bits=("p_miscalculation",),
                  runs_per_draw=runs_per_draw)
    flags = unpack_flags(s["outcome_bits"]["p_miscalculation"], runs)
    return flags.reshape(-1, runs_per_draw or runs).mean(axis=1)


def evaluate_policies(plan, policies: list[dict], workers: int | None = None, progress: bool = False,
                      cache: Path | None = None) -> Robustness:
    """Every policy (lever values) in every future of ``plan``'s ``[robustness]`` table; see the module
    docstring. The futures' probabilities are kept in ``cache`` (an .npz file) and reused while the
    postures, the policies and the futures are the same."""
    spec = plan.spec.robustness
    params = assumptions(Path(plan.source).parent / spec.uncertainty, plan.source)
    samples = futures(params, spec.futures, plan.spec.experiment.seed)
    root = make_root(plan.spec.experiment.seed, Stream.SWEEP_SHARED)
    runs = spec.draws * spec.runs_per_draw
    posterior = "scenario" if plan.spec.experiment.posterior == "scenario" else None
    saved = _saved(cache, key := _key(plan, policies, samples))
    if saved is not None:
        p = saved
    else:
        p = _simulate(plan, policies, samples, root, runs, posterior, workers, progress)
        if cache is not None:
            buf = io.BytesIO()
            np.savez_compressed(buf, key=key, p=p)
            atomic_write(cache, buf.getvalue())
    rows = measures(p, spec.threshold, spec.bootstrap, plan.spec.experiment.seed)
    values, calibrated = future_values(plan, params, samples, policies[0], root, runs)
    return Robustness([a.column for a in params], p.shape[1], spec.threshold, p, rows,
                      f"95% percentile bootstrap over the {p.shape[1]} futures ({spec.bootstrap} resamples)",
                      values, {a.column: (float(a.range[0]), float(a.range[1])) for a in params}, calibrated)


def future_values(plan, params: list[Parameter], samples: list[dict], policy: dict, root, runs: int
                  ) -> tuple[dict[str, np.ndarray], list[str]]:
    """Each future's values, in the futures' order (sample-major, draw-minor): every assumption's, and
    every calibrated parameter's in the future's posterior draw (the value the sample sets where it sets
    that key; a key every sample sets is an assumption, not listed). Also the calibrated names."""
    from sim.analysis.experiment import _point_scenario

    spec = plan.spec.robustness
    per = spec.draws
    values = {a.column: np.repeat(np.array([float(s[a.keys[0]]) for s in samples]), per) for a in params}
    if plan.spec.experiment.posterior != "scenario":
        return values, []
    # the draws every task took: resolved as the simulation resolves them (the same seed picks them)
    ov = {**samples[0], **plan.overrides(policy)}
    built = _point_scenario(plan.scenario, ov, plan.source, plan.spec, policy)
    r = resolve(built, overrides=ov, seed=root, runs=runs, runs_per_draw=spec.runs_per_draw, posterior="scenario")
    if r.draws is None:
        return values, []
    post, index = r.draws.posterior, r.draws.index
    calibrated = []
    for j, key in enumerate(post.keys):
        if all(key in s for s in samples):
            continue
        values[key] = np.concatenate([np.full(per, float(s[key])) if key in s else post.samples[index, j]
                                      for s in samples])
        calibrated.append(key)
    return values, calibrated


def failure_boxes(rob: Robustness, policy: int, density: float = 0.8, boxes: int = 2) -> dict:
    """Where policy ``policy`` (its row in ``rob.p``) fails: PRIM boxes (:func:`sim.analysis.discover.find_boxes`)
    of the futures' values in which its P(miscalculation) is above the threshold. Returns the futures that
    fail and the boxes (each: limits, coverage, density, mass, points, high points); no boxes when it fails
    in no future or in every one. Needs the discover extra (InputError otherwise)."""
    from sim.analysis.discover import find_boxes

    fails = rob.p[policy] > rob.threshold
    out = {"fails": int(fails.sum()), "futures": int(fails.size), "boxes": []}
    varied = {k: v for k, v in rob.values.items() if np.ptp(v) > 0}
    if 0 < fails.sum() < fails.size and varied:
        ranges = {k: rob.ranges.get(k, (float(v.min()), float(v.max()))) for k, v in varied.items()}
        found = find_boxes(varied, fails, density=density, boxes=boxes, ranges=ranges)
        out["boxes"] = [{k: v for k, v in b.to_dict().items() if k not in ("trajectory", "chosen_step")}
                        for b in found]
    return out


def _key(plan, policies: list[dict], samples: list[dict]) -> str:
    """What the futures' probabilities depend on: the postures' numbers, the policies, the futures."""
    spec = plan.spec.robustness.model_dump(exclude={"threshold", "bootstrap", "evppi_resamples"})
    what = [plan.fingerprint, policies, samples, spec]
    return hashlib.sha256(json.dumps(what, sort_keys=True, default=str).encode()).hexdigest()


def _saved(cache: Path | None, key: str) -> np.ndarray | None:
    try:
        with np.load(cache) as f:
            return f["p"] if str(f["key"]) == key else None
    except (OSError, KeyError, ValueError, TypeError):
        return None


def _simulate(plan, policies, samples, root, runs, posterior, workers, progress) -> np.ndarray:
    """(policies, samples x draws) P(miscalculation), every policy in every sample on the same runs."""
    from sim.analysis.experiment import _point_scenario

    spec = plan.spec.robustness
    tasks = []
    for values in policies:
        for sample in samples:
            ov = {**sample, **plan.overrides(values)}  # the policy's levers win
            built = _point_scenario(plan.scenario, ov, plan.source, plan.spec, values)
            r = resolve(built, overrides=ov, seed=root, runs=runs, runs_per_draw=spec.runs_per_draw,
                        posterior=posterior)
            tasks.append((r.compiled, r.seed, r.run_values))
    results = map_in_order(miscalculation_flags, tasks, workers, runs=runs, runs_per_draw=spec.runs_per_draw)
    shares = list(tqdm(results, total=len(tasks), desc="robustness", disable=not progress, leave=False))
    return np.array(shares).reshape(len(policies), -1)


def measures(p: np.ndarray, threshold: float, resamples: int, seed: int) -> list[dict]:
    """Per policy: minimax regret, 90th-percentile regret and the satisficing share, each as
    (estimate, low, high) with the futures resampled together for all policies."""
    def of(q):
        regret = q - q.min(axis=0)
        return np.stack([regret.max(axis=1), np.quantile(regret, 0.9, axis=1), (q <= threshold).mean(axis=1)])

    point = of(p)
    rng = np.random.default_rng([seed, 7])
    boot = np.array([of(p[:, rng.integers(0, p.shape[1], p.shape[1])]) for _ in range(resamples)])
    low, high = np.quantile(boot, [0.025, 0.975], axis=0)
    return [{m: (float(point[j, i]), float(low[j, i]), float(high[j, i])) for j, m in enumerate(MEASURES)}
            for i in range(p.shape[0])]
