"""Bayesian calibration on the record: ABC-SMC (ELFI) over the hindcast's years, run with per-run parameters.

A calibration file names a hindcast (:mod:`sim.hindcast`: the template scenario, the years
2011-2021 with their exercise calendars, and the record), the priors of the parameters to infer
(dotted key paths of :mod:`sim.parameters`, each with a distribution, a range and the reason for it),
and the sampler's settings. The summary statistics are those of the record over the period:

- ``mean_provocation_days`` and ``variance_provocation_days``: mean and variance (ddof 1) over the
  years of the actor's provocation days;
- ``log_rate_ratio``: log of the provocation-day rate inside exercise windows over the rate outside,
  pooled over the years (counts + 1/2, so a history without any stays finite);
- ``clash_years`` and ``clashes``: years with a clash, and clashes, over the period;
- ``max_provocation_days``: the most provocation days in any one year (20 in the record, 2016),
  which tells a history with one explosive threat spiral from one of steady, overdispersed years
  that mean and variance alone may not.

The sampler is ELFI's adaptive-distance ABC-SMC (Prangle 2017, Bayesian Analysis 12: each round
reweights the statistics by their spread, so no hand-set scale decides the fit), on the statistics
with counts and the variance on a log scale (:func:`distance_scale`). ELFI's simulators
take batches, which is what the ensemble engine does best: a batch of B parameter vectors is one
ensemble of B runs per year, run k carrying vector k, so each vector gets one simulated 11-year
history, as ABC needs. The result is a weighted posterior sample, written with its diagnostics.

ELFI is an optional extra (``pip install 'escalation-sim[calibrate]'``): only this feature needs it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
from pydantic import Field

from .compile import compile_scenario
from .draws import Stream, make_root
from .errors import InputError, problem
from .hindcast import Hindcast, load_hindcast
from .parameters import check_keys
from .posterior import Posterior, posterior_summary, write_posterior  # noqa: F401 (re-exported)
from .scenario import StrictTable, read_input_file

STATISTICS = ("mean_provocation_days", "variance_provocation_days", "log_rate_ratio", "clash_years", "clashes",
              "max_provocation_days")


class Prior(StrictTable):
    key: str
    distribution: Literal["uniform", "loguniform"] = "uniform"
    range: Annotated[tuple[float, float], Field(strict=False)]
    why: str = ""


class CalibrationMeta(StrictTable):
    name: str
    description: str = ""
    hindcast: str
    samples: Annotated[int, Field(ge=10)] = 1000
    rounds: Annotated[int, Field(ge=1, le=50)] = 5
    quantile: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.5
    batch_size: Annotated[int, Field(ge=1)] = 1024
    seed: Annotated[int, Field(ge=0)] = 0
    statistics: Annotated[list[Literal[STATISTICS]], Field(min_length=1)] = list(STATISTICS)
    check_runs: Annotated[int, Field(ge=1)] = 4096


class CalibrationFile(StrictTable):
    calibration: CalibrationMeta
    priors: Annotated[list[Prior], Field(min_length=1)]


@dataclass(frozen=True)
class Calibration:
    """A validated calibration: its file, the hindcast it fits, and the compiled year scenarios."""

    path: Path
    spec: CalibrationFile
    hindcast: Hindcast
    years: Mapping[int, object]  # year -> CompiledScenario

    @property
    def meta(self) -> CalibrationMeta:
        return self.spec.calibration

    @property
    def keys(self) -> list[str]:
        return [p.key for p in self.spec.priors]


def load_calibration(path: str | Path) -> Calibration:
    """Read and check a calibration file and its hindcast; every problem is one line (InputError)."""
    path = Path(path)
    file = str(path)
    spec = read_input_file(path, CalibrationFile)
    problems = []
    for i, p in enumerate(spec.priors):
        lo, hi = p.range
        if not lo < hi:
            problems.append(problem(file, f"priors[{i}].range", f"needs low < high; got {[lo, hi]}"))
        elif p.distribution == "loguniform" and lo <= 0:
            problems.append(problem(file, f"priors[{i}].range", f"a loguniform prior needs low > 0; got {lo}"))
    keys = [p.key for p in spec.priors]
    if len(set(keys)) != len(keys):
        problems.append(problem(file, "priors", f"a key has two priors: {keys}"))
    if problems:
        raise InputError(problems)
    hindcast_path = Path(os.path.normpath(path.parent / spec.calibration.hindcast))
    if not hindcast_path.exists():
        raise InputError(problem(file, "calibration.hindcast", f"hindcast file {hindcast_path} not found "
                                 "(the path is relative to the calibration file)"))
    hc = load_hindcast(hindcast_path)
    years = {y: compile_scenario(s) for y, s in hc.scenarios.items()}
    try:
        check_keys(next(iter(years.values())), keys, file)
    except InputError as exc:
        raise InputError([line.replace(f"{file}: ", f"{file}: priors: ", 1) for line in exc.problems]) from None
    return Calibration(path, spec, hc, years)


# ---------------------------------------------------------------- the statistics


def history_statistics(provocations: np.ndarray, inside: np.ndarray, onsets: np.ndarray, window_days: np.ndarray,
                       year_days: np.ndarray) -> np.ndarray:
    """The summary statistics of histories. provocations, inside, onsets: (Y, R) counts per year and
    history; window_days, year_days: (Y,). Returns (R, 6) in the order of STATISTICS."""
    days_in, days_out = window_days.sum(), (year_days - window_days).sum()
    rate_in = (inside.sum(0) + 0.5) / days_in
    rate_out = (provocations.sum(0) - inside.sum(0) + 0.5) / days_out
    return np.stack([provocations.mean(0), provocations.var(0, ddof=1), np.log(rate_in / rate_out),
                     (onsets > 0).sum(0), onsets.sum(0), provocations.max(0)], axis=1).astype(float)


def distance_scale(statistics: np.ndarray) -> np.ndarray:
    """The statistics as the ABC distance compares them: counts and the variance on a log scale
    (log1p), so that a history with ten times the record's provocations is far, but not so far that
    the distance is about nothing else; the log rate ratio and the clash years as they are."""
    x = np.array(statistics, dtype=float)
    for c in (0, 1, 4, 5):
        x[..., c] = np.log1p(x[..., c])
    return x


def observed_statistics(hc: Hindcast) -> np.ndarray:
    """The record's summary statistics, (6,)."""
    rec = [hc.record[y] for y in hc.years]
    col = np.array
    return history_statistics(col([[r.provocation_days] for r in rec]), col([[r.provocation_days_in_windows] for r in rec]),
                              col([[r.core_clashes] for r in rec]), col([r.window_days for r in rec]),
                              col([r.days for r in rec]))[0]


def simulate_statistics(cal: Calibration, values: Mapping[str, np.ndarray], seed, workers: int | None = None,
                        ) -> np.ndarray:
    """One simulated history per parameter vector: (R, 6) statistics, R the length of the values."""
    from .hindcast import simulate_years

    R = len(next(iter(values.values())))
    years = simulate_years(cal.hindcast, R, seed, workers, parameters=values, compiled=cal.years)
    per_year = [(r.provocation_days, r.provocation_days_in_windows, r.crisis_onsets, r.window_days,
                 cal.years[y].horizon) for y, r in years.items()]
    prov, inside, onsets, wdays, ydays = (np.array(x) for x in zip(*per_year))
    return history_statistics(prov, inside, onsets, wdays, ydays)


# ---------------------------------------------------------------- ABC-SMC


def calibrate(path: str | Path | Calibration, *, samples: int | None = None, rounds: int | None = None,
              workers: int | None = None, log=None, observed: np.ndarray | None = None,
              seed: int | None = None) -> dict:
    """Fit the file's priors to the record by ABC-SMC; returns the posterior and its diagnostics.

    ``path`` is a calibration file or one already read by :func:`load_calibration`. ``samples``,
    ``rounds`` and ``seed`` override the file's (a quick look). ``log(text)`` reports progress.
    ``observed`` (6,), in the order of STATISTICS, replaces the record's statistics (tests of recovery
    use data the model itself made).
    """
    cal = path if isinstance(path, Calibration) else load_calibration(path)
    try:
        import elfi
    except ImportError:
        raise InputError("calibration needs ELFI, an optional extra: pip install 'escalation-sim[calibrate]'") from None
    meta = cal.meta
    n, n_rounds = samples or meta.samples, rounds or meta.rounds
    keys = cal.keys
    chosen = [STATISTICS.index(s) for s in meta.statistics]
    observed = observed_statistics(cal.hindcast) if observed is None else np.asarray(observed, dtype=float)
    seed = meta.seed if seed is None else seed
    batches = [0]
    started = time.perf_counter()

    def simulator(*theta, batch_size=1, random_state=None):
        # Each batch draws from its own calibration stream, fixed by ELFI's seed and batch order.
        values = {k: np.broadcast_to(np.asarray(t, dtype=float), (batch_size,)).copy() for k, t in zip(keys, theta)}
        batches[0] += 1
        stream = make_root(int(random_state.randint(2**31)), Stream.CALIBRATION)
        out = simulate_statistics(cal, values, stream, workers)
        if log:
            log(f"batch {batches[0]}: {batch_size} histories, {time.perf_counter() - started:.0f} s")
        return out

    model = elfi.ElfiModel()
    priors = []
    for j, p in enumerate(cal.spec.priors):
        lo, hi = p.range
        args = (lo, hi - lo) if p.distribution == "uniform" else (lo, hi)
        priors.append(elfi.Prior(p.distribution, *args, model=model, name=f"theta{j}"))
    sim = elfi.Simulator(simulator, *priors, observed=observed[None, :], name="history")
    summaries = [elfi.Summary(lambda x, c=c: distance_scale(x)[:, c], sim, name=STATISTICS[c]) for c in chosen]
    distance = elfi.AdaptiveDistance(*summaries, name="distance")
    smc = elfi.AdaptiveDistanceSMC(distance, batch_size=meta.batch_size, seed=seed)
    result = smc.sample(n, n_rounds, quantile=meta.quantile)
    theta = np.column_stack([result.samples[f"theta{j}"] for j in range(len(keys))])
    weights = np.asarray(result.weights if result.weights is not None else np.ones(len(theta)), dtype=float)
    weights = weights / weights.sum()
    return {
        "calibration": meta.name,
        "file": str(cal.path),
        "hindcast": str(cal.hindcast.path),
        "template": str(cal.hindcast.template),
        "scenario": cal.hindcast.scenarios[cal.hindcast.years[0]].scenario.name.rsplit("_", 1)[0],
        "keys": keys,
        "priors": [p.model_dump(mode="json") for p in cal.spec.priors],
        "statistics": list(meta.statistics),
        "observed": dict(zip(STATISTICS, observed.tolist())),
        "samples": theta,
        "weights": weights,
        "effective_sample_size": float(1.0 / np.sum(weights**2)),
        "rounds": n_rounds,
        "thresholds": [float(pop.threshold) for pop in result.populations],
        "simulations": int(result.n_sim),
        "seconds": time.perf_counter() - started,
        "seed": seed,
    }
