"""Forecasts of a year from the record through an origin: ABC on the years up to the origin, then the year simulated under that posterior.

What is conditioned on what (docs/model.md, section "Forecasts"):

1. **The table** (:func:`build_year_table`): the calibration's reference table, kept year by year.
   Parameter vectors theta are drawn from the calibration file's priors and each simulates one history
   of every hindcast year (2011-2021) under that year's exercise calendar, on the same streams as
   :func:`sim.data.calibrate.build_table` (batch b on ``(seed, CALIBRATION, b)``), so with the file's
   table size and seed its statistics over all years are the shipped calibration's.
2. **Conditioning on the record through origin T** (:func:`condition`): the calibration's summary
   statistics (:func:`sim.data.calibrate.history_statistics`) computed on the years first..T only, of
   the record and of every table row (the row's years after T are ignored), and the same ABC
   (:func:`sim.data.abc.posterior`: nearest ``samples`` rows, Epanechnikov weights, local-linear
   adjustment). The result approximates p(theta | record first..T). Nothing after T enters it.
3. **The forecast of year Y > T** (:func:`forecast_year`): year Y's scenario (the hindcast's template
   with Y's rows of the exercise windows file as drills, built as the hindcast builds its years)
   simulated with parameters drawn from that posterior through :func:`sim.engines.resolve.resolve`
   (``draws`` draws of ``runs_per_draw`` runs), on the stream ``(seed, FORECAST, T, Y)``. Its runs
   are the posterior predictive of year Y given the record through T. The year's regime is drawn
   afresh, as the model draws every year's; a persistent regime would condition the first day of Y
   on the kept rows' regime at the end of T (each draw's table row is ``posterior.meta["rows"]``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from sim.core.errors import InputError, problem
from sim.core.stats import mean_interval
from sim.data import abc
from sim.data.calibrate import Calibration, Table, _scaled_table, distance_scale, history_statistics
from sim.data.hindcast import Hindcast, _year_raw, simulate_years
from sim.engines.draws import Stream, child, make_root
from sim.engines.posterior import Posterior
from sim.engines.resolve import Resolved, resolve
from sim.engines.simulate import simulate_resolved
from sim.io.summary import summarise
from sim.model.scenario import ScenarioFile, validate_scenario
from sim.model.schema import Scenario

DEFAULT_TABLE = 32_768   # histories: about 50 s on 2 cores
DEFAULT_SAMPLES = 500    # the nearest kept: 1.5% of the table, the shipped calibration's acceptance
DEFAULT_DRAWS = 500      # posterior draws of a forecast
DEFAULT_RUNS_PER_DRAW = 8


@dataclass(frozen=True)
class YearTable:
    """A reference table kept year by year: ``theta`` (N, d) in the calibration's key order, and per
    hindcast year (rows of the (Y, N) arrays, ``years`` in order) each history's provocation days,
    those inside exercise windows, and crisis onsets; the years' window days and days (Y,)."""

    theta: np.ndarray
    years: tuple[int, ...]
    provocations: np.ndarray
    inside: np.ndarray
    onsets: np.ndarray
    window_days: np.ndarray
    year_days: np.ndarray
    seed: int
    seconds: float

    def statistics(self, through: int) -> np.ndarray:
        """Every history's summary statistics (N, 6) over the years up to ``through``."""
        k = self.years.index(through) + 1
        return history_statistics(self.provocations[:k], self.inside[:k], self.onsets[:k], self.window_days[:k],
                                  self.year_days[:k])


def build_year_table(cal: Calibration, size: int = DEFAULT_TABLE, *, seed: int | None = None,
                     workers: int | None = None, log=None) -> YearTable:
    """Simulate ``size`` histories from the priors, batch b on ``(seed, CALIBRATION, b)`` as
    :func:`sim.data.calibrate.build_table` does, keeping each year's counts."""
    seed = cal.meta.seed if seed is None else seed
    B, started = cal.meta.batch_size, time.perf_counter()
    theta, per_year, window_days = [], [], None
    for b, first in enumerate(range(0, size, B)):
        n = min(B, size - first)
        root = make_root(seed, Stream.CALIBRATION, b)
        draws = cal.box.sample(np.random.default_rng(child(root, Stream.PRIOR)), n)
        years = simulate_years(cal.hindcast, n, root, workers, run_values=dict(zip(cal.keys, draws.T)),
                               compiled=cal.years)
        theta.append(draws)
        window_days = [r.window_days for r in years.values()]
        per_year.append(np.stack([[r.provocation_days, r.provocation_days_in_windows, r.crisis_onsets]
                                  for r in years.values()]))  # (Y, 3, n)
        if log:
            log(f"table: {first + n:,} of {size:,} histories, {time.perf_counter() - started:.0f} s")
    counts = np.concatenate(per_year, axis=2)
    years = tuple(cal.years)
    return YearTable(np.concatenate(theta), years, counts[:, 0], counts[:, 1], counts[:, 2],
                     np.array(window_days), np.array([cal.years[y].horizon for y in years]),
                     seed, time.perf_counter() - started)


def observed_through(hc: Hindcast, origin: int) -> np.ndarray:
    """The record's summary statistics (6,) over the hindcast's years up to ``origin``."""
    rec = [hc.record[y] for y in hc.years if y <= origin]
    col = np.array
    return history_statistics(col([[r.provocation_days] for r in rec]), col([[r.provocation_days_in_windows] for r in rec]),
                              col([[r.core_clashes] for r in rec]), col([r.window_days for r in rec]),
                              col([r.days for r in rec]))[0]


def check_origin(cal: Calibration, origin: int, year: int | None = None) -> None:
    """Refuse an origin outside the record (it needs two years for a variance) or a year not after it."""
    years = cal.hindcast.years
    if not years[1] <= origin <= years[-1]:
        raise InputError(problem(str(cal.hindcast.path), "origin", f"{origin} is outside the record; allowed: "
                                 f"{years[1]} to {years[-1]} (the hindcast's years, from the second)"))
    if year is not None and year <= origin:
        raise InputError(f"--year {year}: must come after the origin {origin}")


def check_table(size: int, samples: int | None) -> None:
    """Refuse a table too small for the histories the ABC keeps (before the table is simulated)."""
    if (samples or DEFAULT_SAMPLES) >= size:
        raise InputError(f"--samples {samples or DEFAULT_SAMPLES}: needs fewer than the table's {size:,} histories "
                         "(--table)")


def condition(cal: Calibration, table: YearTable, origin: int, samples: int = DEFAULT_SAMPLES,
              observed: np.ndarray | None = None) -> Posterior:
    """The ABC posterior given the record through ``origin`` (see the module docstring), in memory.
    ``observed`` (6,) replaces the record's statistics through ``origin`` (tests use data the model made)."""
    check_origin(cal, origin)
    check_table(len(table.theta), samples)
    sub = Table(table.theta, table.statistics(origin), table.seed, cal.meta.batch_size, table.seconds)
    chosen, scale, scaled = _scaled_table(cal, sub)
    observed = observed_through(cal.hindcast, origin) if observed is None else observed
    fit = abc.posterior(table.theta, scaled, distance_scale(observed)[chosen] / scale, cal.box, samples,
                        cal.meta.adjustment == "linear")
    meta = {"conditioned_on": f"the record {table.years[0]}-{origin}", "origin": origin, "rows": fit.rows,
            "table": len(table.theta), "samples": samples, "effective_sample_size": fit.effective_sample_size}
    return Posterior(cal.keys, fit.theta, fit.weights, meta)


def year_scenario(hc: Hindcast, year: int) -> Scenario:
    """Year ``year``'s scenario: the hindcast's own, or built the same way from the template and the
    year's rows of the exercise windows file (a year after the record)."""
    if year in hc.scenarios:
        return hc.scenarios[year]
    rows = [e for e in hc.record.exercises if e.year == year]
    if not rows:
        found = sorted({e.year for e in hc.record.exercises})
        raise InputError(problem(hc.record.files["exercises"], "year", f"{year} has no exercise calendar (no row); "
                                 f"allowed: {found[0]} to {found[-1]}"))
    source = ScenarioFile.read(hc.template)
    raw, origins = _year_raw(source.raw, source.origins, year, hc.record, hc.settings, str(hc.path))
    return validate_scenario(raw, str(hc.path), origins)


@dataclass(frozen=True)
class Forecast:
    """Year ``year`` forecast from the record through ``origin``: the posterior, the resolved runs,
    their summary (:func:`sim.io.summary.summarise`), and per run (R,) the actor's provocation days
    and the crisis onsets (the record's clashes)."""

    origin: int
    year: int
    posterior: Posterior
    resolved: Resolved
    summary: dict
    provocation_days: np.ndarray
    clashes: np.ndarray
    seconds: float

    def counts(self, band: float = 0.9) -> dict:
        """Per count: the predictive median and central ``band``, and the expected count with its 95%
        interval over the posterior draws (each draw's mean is one independent value)."""
        out = {}
        M = self.resolved.draws.runs_per_draw
        for name, x in (("provocation_days", self.provocation_days), ("clashes", self.clashes)):
            lo, med, hi = np.quantile(x, [(1 - band) / 2, 0.5, (1 + band) / 2], method="inverted_cdf")
            whole = x[: len(x) // M * M].reshape(-1, M).mean(axis=1)
            mean, m_lo, m_hi = mean_interval(whole)
            out[name] = {"median": float(med), "low": float(lo), "high": float(hi), "band": band,
                         "mean": float(mean), "mean_low": float(m_lo), "mean_high": float(m_hi)}
        return out


def forecast_year(cal: Calibration, table: YearTable, origin: int, year: int, *, samples: int = DEFAULT_SAMPLES,
                  draws: int = DEFAULT_DRAWS, runs_per_draw: int = DEFAULT_RUNS_PER_DRAW, seed: int = 0,
                  workers: int | None = None, observed: np.ndarray | None = None) -> Forecast:
    """Forecast ``year`` from the record through ``origin`` (see the module docstring); ``observed`` as
    for :func:`condition`."""
    started = time.perf_counter()
    check_origin(cal, origin, year)
    scenario = year_scenario(cal.hindcast, year)
    post = condition(cal, table, origin, samples, observed)
    resolved = resolve(scenario, posterior=post, seed=make_root(seed, Stream.FORECAST, origin, year),
                       runs=draws * runs_per_draw, runs_per_draw=runs_per_draw)
    result = simulate_resolved(resolved, workers=workers)
    i = resolved.compiled.actor_ids.index(cal.hindcast.actor)
    return Forecast(origin, year, post, resolved, summarise(result), result.per_run[f"provocations_{i}"],
                    result.per_run["crisis_onsets"], time.perf_counter() - started)


def format_forecast(fc: Forecast, hc: Hindcast) -> str:
    """What `escsim forecast` prints: the counts' predictive bands and expected values, and the
    probabilities with their intervals over the posterior draws; the record's counts when it has the year."""
    m, d = fc.posterior.meta, fc.resolved.draws
    lines = [f"forecast of {fc.year} from {m['conditioned_on']}: posterior of the {m['samples']:,} of {m['table']:,} "
             f"table histories nearest it (effective sample size {m['effective_sample_size']:.0f}); "
             f"{d.count} draws x {d.runs_per_draw} runs, {fc.seconds:.1f} s"]
    observed = {"provocation_days": "provocation_days", "clashes": "core_clashes"}
    for name, c in fc.counts().items():
        seen = (f"   observed {getattr(hc.record[fc.year], observed[name])}" if fc.year in hc.record.years else "")
        lines.append(f"  {name:18} median {c['median']:g}, {c['band']:.0%} band [{c['low']:g}, {c['high']:g}]; "
                     f"expected {c['mean']:.2f} (95% over draws [{c['mean_low']:.2f}, {c['mean_high']:.2f}]){seen}")
    for key in ("p_crisis", "p_war", "p_miscalculation"):
        e = fc.summary[key]
        lines.append(f"  {key:18} {e['estimate']:.3f} (95% [{e['ci_low']:.3f}, {e['ci_high']:.3f}], {e['interval']})")
    return "\n".join(lines)
