"""Bayesian calibration on the record: reference-table ABC over the hindcast's years, and the coverage check that proves it.

A calibration file names a hindcast (:mod:`sim.data.hindcast`: the template scenario, the years
2011-2021 with their exercise calendars, and the record), the priors of the parameters to infer
(dotted key paths of :mod:`sim.engines.run_values`, each uniform or log-uniform on a range, with the reason
for it), and the method's settings. The summary statistics are those of the record over the period:

- ``mean_provocation_days`` and ``variance_provocation_days``: mean and variance (ddof 1) over the
  years of the actor's provocation days;
- ``log_rate_ratio``: log of the provocation-day rate inside exercise windows over the rate outside,
  pooled over the years (counts + 1/2, so a history without any stays finite);
- ``clash_years`` and ``clashes``: years with a clash, and clashes, over the period;
- ``max_provocation_days``: the most provocation days in any one year (20 in the record, 2016),
  which tells a history with one explosive threat spiral from one of steady, overdispersed years
  that mean and variance alone may not;
- ``lag1_autocorrelation``: of the yearly provocation days (0.09 in the record): it identifies the
  regime's persistence;
- ``largest_month``, ``active_months`` and ``windows_answered``, from the days of the provocations
  (:func:`sim.data.predictive.year_patterns`): the most in one calendar month, the months with any,
  and the share of exercise windows with a provocation within 30 days of their start.

The method (:mod:`sim.data.abc`): a *reference table* of ``table`` parameter vectors drawn from the prior,
each with one simulated 11-year history, is simulated once; the posterior keeps the ``samples``
histories nearest the record (Euclidean distance on :func:`distance_scale`'s statistics, each over its
median absolute deviation in the table), weighs them with the Epanechnikov kernel and moves them by
local-linear regression to the record's statistics. The table is simulated in batches of
``batch_size`` vectors, which is what the ensemble engine does best: a batch is one ensemble of B
runs per year, run k carrying vector k (per-run parameters), so each vector gets one history.

The **coverage check**: ``coverage`` parameter vectors theta* drawn from the prior each simulate one
history through the hindcast's own path (:func:`sim.data.hindcast.simulate_years` with a whole-number
seed, as ``escsim hindcast`` and the posterior predictive check run it), and each gets its posterior
from the table. A calibrated posterior puts theta* inside its central 50% and 90% intervals 50% and
90% of the time within binomial error, and its rank of theta* is uniform. The table and these data
sets come through different stream paths, so a calibration whose simulator drifts from the model the
rest of the tool runs (as when every year of a calibration history drew one stream) fails it.

Streams (:mod:`sim.engines.draws`): table batch b on the root ``(seed, CALIBRATION, b)``, whose ``PRIOR``
child draws the batch's parameter vectors and whose ``YEAR`` children simulate its histories; the
coverage check's theta* and its data's seed from the ``PRIOR`` child of the root ``(seed,
CALIBRATION)``, the data on that seed's ``HINDCAST`` root. Nothing depends on the number of workers.
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

from sim.data import abc
from sim.data.record import rate_ratio
from sim.model.compile import compile_scenario
from sim.engines.draws import Stream, child, make_root
from sim.core.errors import InputError, problem
from sim.data.hindcast import YEAR_FIELDS, Hindcast, load_hindcast, record_arrays, simulate_years, year_arrays  # noqa: F401
from sim.data.predictive import lag1_autocorrelation
from sim.engines.run_values import check_keys
from sim.engines.posterior import Posterior, posterior_summary, write_posterior  # noqa: F401 (re-exported)
from sim.model.scenario import read_input_file
from sim.model.schema import StrictTable

STATISTICS = ("mean_provocation_days", "variance_provocation_days", "log_rate_ratio", "clash_years", "clashes",
              "max_provocation_days", "lag1_autocorrelation", "largest_month", "active_months", "windows_answered")
METHOD = "reference-table ABC: rejection with an Epanechnikov kernel, local-linear regression adjustment"


class Prior(StrictTable):
    key: str
    distribution: Literal["uniform", "loguniform"] = "uniform"
    range: Annotated[tuple[float, float], Field(strict=False)]
    why: str = ""


class CalibrationMeta(StrictTable):
    name: str
    description: str = ""
    hindcast: str
    table: Annotated[int, Field(ge=100)] = 131_072         # histories simulated from the prior
    samples: Annotated[int, Field(ge=10)] = 2_000           # nearest histories kept: the posterior sample
    adjustment: Literal["linear", "none"] = "linear"
    batch_size: Annotated[int, Field(ge=1)] = 4096
    seed: Annotated[int, Field(ge=0)] = 0
    statistics: Annotated[list[Literal[STATISTICS]], Field(min_length=1)] = list(STATISTICS)
    check_runs: Annotated[int, Field(ge=1)] = 4096
    coverage: Annotated[int, Field(ge=20)] = 1000          # data sets of the coverage check


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

    @property
    def box(self) -> abc.Box:
        """The priors as :class:`sim.data.abc.Box`."""
        return abc.Box(tuple(p.distribution for p in self.spec.priors), [p.range[0] for p in self.spec.priors],
                       [p.range[1] for p in self.spec.priors])


def load_calibration(path: str | Path) -> Calibration:
    """Read and check a calibration file and its hindcast; every problem is one line (InputError)."""
    path = Path(path)
    file = str(path)
    spec = read_input_file(path, CalibrationFile)
    problems = []
    meta = spec.calibration
    if meta.samples >= meta.table:
        problems.append(problem(file, "calibration.samples", f"{meta.samples}: needs fewer than the table's "
                                f"{meta.table} histories (calibration.table); a posterior keeps the nearest of them"))
    if len(set(meta.statistics)) != len(meta.statistics):
        problems.append(problem(file, "calibration.statistics", f"a statistic is named twice: {meta.statistics}"))
    for i, p in enumerate(spec.priors):
        lo, hi = p.range
        if not (np.isfinite(lo) and np.isfinite(hi)):
            problems.append(problem(file, f"priors[{i}].range", f"needs finite numbers; got {[lo, hi]}"))
        elif not lo < hi:
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
                       year_days: np.ndarray, largest_month: np.ndarray, active_months: np.ndarray,
                       answered: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """The summary statistics of histories. provocations, inside, onsets, largest_month, active_months,
    answered: (Y, R) per year and history (:func:`sim.data.predictive.year_patterns` for the last three);
    window_days, year_days, starts (exercise windows begun): (Y,). Returns (R, 10) in the order of
    STATISTICS: the yearly provocation days' mean, variance, largest and lag-1 autocorrelation, the log
    rate ratio inside/outside exercise windows, clash years and clashes, the most provocation days in
    one month, the months with any, and the share of exercise windows answered within 30 days."""
    ratio = rate_ratio(inside.sum(0), window_days.sum(), provocations.sum(0) - inside.sum(0),
                       (year_days - window_days).sum(), pseudo=0.5)
    return np.stack([provocations.mean(0), provocations.var(0, ddof=1), np.log(ratio),
                     (onsets > 0).sum(0), onsets.sum(0), provocations.max(0),
                     lag1_autocorrelation(provocations), largest_month.max(0), active_months.sum(0),
                     answered.sum(0) / max(int(np.sum(starts)), 1)], axis=1).astype(float)


def distance_scale(statistics: np.ndarray) -> np.ndarray:
    """The statistics as the ABC distance compares them: counts and the variance on a log scale
    (log1p), so that a history with ten times the record's provocations is far, but not so far that
    the distance is about nothing else; the log rate ratio, the clash years, the autocorrelation and the
    share of windows answered as they are."""
    x = np.array(statistics, dtype=float)
    for c in (0, 1, 4, 5, 7, 8):  # the counts and the variance
        x[..., c] = np.log1p(x[..., c])
    return x


def observed_statistics(hc: Hindcast) -> np.ndarray:
    """The record's summary statistics, (10,)."""
    return history_statistics(**record_arrays(hc))[0]


def simulate_statistics(cal: Calibration, values: Mapping[str, np.ndarray], seed, workers: int | None = None,
                        ) -> np.ndarray:
    """One simulated history per parameter vector: (R, 10) statistics, R the length of the values.
    ``seed`` is a whole number (the hindcast's stream of it) or a root (a table batch's)."""

    R = len(next(iter(values.values())))
    years = simulate_years(cal.hindcast, R, seed, workers, run_values=values, compiled=cal.years)
    return history_statistics(**year_arrays(years), year_days=np.array([cal.years[y].horizon for y in years]))


# ---------------------------------------------------------------- the reference table and the coverage check


@dataclass(frozen=True)
class Table:
    """A reference table: ``theta`` (N, d) drawn from the priors, in the order of the file's keys, and
    ``statistics`` (N, 10) of each one's simulated history, in the order of STATISTICS; ``seconds`` to
    simulate it."""

    theta: np.ndarray
    statistics: np.ndarray
    seed: int
    batch_size: int
    seconds: float


def build_table(cal: Calibration, size: int | None = None, *, seed: int | None = None, workers: int | None = None,
                log=None) -> Table:
    """Simulate the reference table: ``size`` histories (default the file's ``table``) in batches of
    ``batch_size``; batch b draws its parameter vectors on ``(seed, CALIBRATION, b, PRIOR)`` and
    simulates them as one ensemble per year on the YEAR children of ``(seed, CALIBRATION, b)``."""
    meta = cal.meta
    size = size or meta.table
    seed = meta.seed if seed is None else seed
    box, keys, B = cal.box, cal.keys, meta.batch_size
    theta, stats = [], []
    started = time.perf_counter()
    for b, first in enumerate(range(0, size, B)):
        n = min(B, size - first)
        root = make_root(seed, Stream.CALIBRATION, b)
        draws = box.sample(np.random.default_rng(child(root, Stream.PRIOR)), n)
        theta.append(draws)
        stats.append(simulate_statistics(cal, dict(zip(keys, draws.T)), root, workers))
        if log:
            done = first + n
            elapsed = time.perf_counter() - started
            log(f"table: {done:,} of {size:,} histories, {elapsed:.0f} s"
                + (f" (about {elapsed * (size - done) / done:.0f} s to go)" if done < size else ""))
    return Table(np.concatenate(theta), np.concatenate(stats), seed, B, time.perf_counter() - started)


def coverage_data(cal: Calibration, data_sets: int, seed: int, workers: int | None = None
                  ) -> tuple[np.ndarray, np.ndarray, int]:
    """The coverage check's data: ``data_sets`` parameter vectors theta* (M, d) drawn from the priors
    on ``(seed, CALIBRATION, PRIOR)``, the statistics (M, 6) of one history each, and the whole-number
    seed those histories ran on: :func:`sim.data.hindcast.simulate_years` with an int seed, the hindcast's
    own path, not the table's."""
    rng = np.random.default_rng(child(make_root(seed, Stream.CALIBRATION), Stream.PRIOR))
    truths = cal.box.sample(rng, data_sets)
    data_seed = int(rng.integers(2**31))
    return truths, simulate_statistics(cal, dict(zip(cal.keys, truths.T)), data_seed, workers), data_seed


def calibrate(path: str | Path | Calibration, *, samples: int | None = None, workers: int | None = None, log=None,
              observed: np.ndarray | None = None, seed: int | None = None, table: Table | None = None,
              coverage: bool = True) -> dict:
    """Fit the file's priors to the record by reference-table ABC, and check its coverage; returns the
    posterior and its diagnostics.

    ``path`` is a calibration file or one already read by :func:`load_calibration`. ``samples`` and
    ``seed`` override the file's. ``log(text)`` reports progress. ``observed`` (10,), in the order of
    STATISTICS, replaces the record's statistics (tests of recovery use data the model itself made).
    ``table`` reuses a table :func:`build_table` made for this file and seed. ``coverage=False`` skips
    the coverage check (its entry is then None).
    """
    cal = path if isinstance(path, Calibration) else load_calibration(path)
    meta = cal.meta
    seed = meta.seed if seed is None else seed
    k = samples or meta.samples
    if table is None:
        table = build_table(cal, seed=seed, workers=workers, log=log)
    elif table.seed != seed or table.theta.shape[1] != len(cal.keys):
        raise ValueError("the table was built for another seed or other priors")
    started = time.perf_counter()
    if k >= len(table.theta):
        raise InputError(f"--samples {k}: needs fewer than the table's {len(table.theta):,} histories "
                         "(calibration.table)")
    observed = observed_statistics(cal.hindcast) if observed is None else np.asarray(observed, dtype=float)
    chosen, scale, scaled = _scaled_table(cal, table)
    adjust = meta.adjustment == "linear"
    fit = abc.posterior(table.theta, scaled, distance_scale(observed)[chosen] / scale, cal.box, k, adjust)
    fitted = time.perf_counter()
    check = ranks = None
    if coverage:
        check, ranks = _coverage_check(cal, table, chosen, scale, scaled, k, seed, workers, log)
    return _report(cal, table, observed, fit, scale, k, seed, check, ranks, started, fitted, coverage)


def _scaled_table(cal: Calibration, table: Table):
    """The statistics the distance compares (their columns), the scale of each (MAD over the table),
    and the table's statistics in those units; a statistic the same in every history is refused."""
    meta = cal.meta
    chosen = [STATISTICS.index(s) for s in meta.statistics]
    transformed = distance_scale(table.statistics)[:, chosen]
    try:
        scale = abc.statistic_scale(transformed)
    except ValueError:
        raise InputError(f"{cal.path}: calibration.statistics: "
                         f"{', '.join(meta.statistics[i] for i in np.flatnonzero(transformed.std(0) == 0))} "
                         "is the same in every simulated history; it cannot tell parameters apart") from None
    return chosen, scale, transformed / scale


def _coverage_check(cal: Calibration, table: Table, chosen, scale, scaled, k: int, seed: int, workers, log):
    """The coverage check's summary and ranks (M, d): each data set's posterior from the table."""
    started = time.perf_counter()
    truths, data, data_seed = coverage_data(cal, cal.meta.coverage, seed, workers)
    if log:
        log(f"coverage: {cal.meta.coverage:,} data sets simulated at prior draws, {time.perf_counter() - started:.0f} s")
    ranks = abc.coverage_ranks(table.theta, scaled, truths, distance_scale(data)[:, chosen] / scale, cal.box, k,
                               cal.meta.adjustment == "linear", log=log)
    check = abc.coverage_summary(ranks, cal.keys)
    return check | {"data_seed": data_seed, "seconds": time.perf_counter() - started}, ranks


def _report(cal: Calibration, table: Table, observed, fit, scale, k: int, seed: int, check, ranks, started: float,
            fitted: float, coverage: bool) -> dict:
    """The calibration's report: what :func:`calibrate` returns (see it)."""
    meta = cal.meta
    method = {"name": METHOD, "table": len(table.theta), "samples": k, "acceptance": k / len(table.theta),
              "kernel": "epanechnikov", "adjustment": meta.adjustment, "bandwidth": fit.bandwidth,
              "distance": "Euclidean on distance_scale(statistics), each over its MAD x 1.4826 in the table",
              "scale": dict(zip(meta.statistics, scale.tolist())), "batch_size": table.batch_size,
              "free_scale": "logit of the prior CDF (log position for log-uniform priors)"}
    return {
        "calibration": meta.name,
        "file": str(cal.path),
        "hindcast": str(cal.hindcast.path),
        "template": str(cal.hindcast.template),
        "scenario": cal.hindcast.scenarios[cal.hindcast.years[0]].scenario.name.rsplit("_", 1)[0],
        "keys": cal.keys,
        "priors": [p.model_dump(mode="json") for p in cal.spec.priors],
        "statistics": list(meta.statistics),
        "observed": dict(zip(STATISTICS, observed.tolist())),
        "samples": fit.theta,
        "weights": fit.weights,
        "effective_sample_size": fit.effective_sample_size,
        "method": method,
        "simulations": len(table.theta) + (meta.coverage if coverage else 0),
        "seconds": table.seconds + time.perf_counter() - started,
        "timing": {"table": table.seconds, "posterior": fitted - started,
                   "coverage": check["seconds"] if check else None},
        "seed": seed,
        "streams": {"table": f"batch b: ({seed}, CALIBRATION, b, PRIOR) draws theta, the YEAR children of "
                    f"({seed}, CALIBRATION, b) simulate", "coverage": f"({seed}, CALIBRATION, PRIOR) draws theta* and "
                    "the data seed; the data on (data_seed, HINDCAST)'s YEAR children"},
        "coverage": check,
        "coverage_ranks": ranks,  # (M, d): for figures and tests, not for the JSON
    }
