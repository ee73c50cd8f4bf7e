"""Forecasts of a year from the record through an origin: ABC on the years up to the origin, then the year simulated under that posterior.

What is conditioned on what (docs/model.md, section "Forecasts"):

1. **The table** (:func:`build_year_table`): the calibration's reference table, kept year by year.
   Parameter vectors theta are drawn from the calibration file's priors and each simulates one history
   of every hindcast year (2011-2021) under that year's exercise calendar, on the same streams as
   :func:`sim.data.calibrate.build_table` (batch b on ``(seed, CALIBRATION, b)``), so with the file's
   table size and seed its statistics over all years are the shipped calibration's.
2. **Conditioning on the record through origin T** (:func:`condition`): the calibration's summary
   statistics (:func:`sim.data.calibrate.history_statistics`) computed on the years first..T only, of
   the record and of every table row (the row's years after T are ignored), and year T's own count,
   in the same ABC (:func:`sim.data.abc.posterior`: nearest ``samples`` rows, Epanechnikov weights,
   local-linear adjustment). The kept rows' regime scores of year T come along as the posterior's
   column ``regime_last_year``: the result approximates p(theta, z_T | record first..T). Nothing
   after T enters it.
3. **The forecast of year Y > T** (:func:`forecast_year`): year Y's scenario (the hindcast's template
   with Y's rows of the exercise windows file as drills, built as the hindcast builds its years)
   simulated with parameters drawn from that posterior through :func:`sim.engines.resolve.resolve`
   (``draws`` draws of ``runs_per_draw`` runs), on the stream ``(seed, FORECAST, T, Y)``, each draw's
   regime of Y following from its z_T by the persistence (carried over the years between by
   :func:`carry_regime`). Its runs are the posterior predictive of year Y given the record through T.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from sim.core.errors import InputError, problem
from sim.core.stats import mean_interval
from sim.data import abc
from sim.data.calibrate import (YEAR_FIELDS, Calibration, Table, _scaled_table, distance_scale, history_statistics,
                                record_arrays, year_arrays)
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
    """A reference table kept year by year: ``theta`` (N, d) in the calibration's key order; ``counts``
    per field of :data:`sim.data.calibrate.YEAR_FIELDS` a (Y, N) array (rows: ``years`` in order), each
    history's per-year counts; ``window_days``, ``year_days`` and ``starts`` (Y,); ``regime`` (Y, N)
    each history's regime score of the actor per year."""

    theta: np.ndarray
    years: tuple[int, ...]
    counts: dict[str, np.ndarray]
    window_days: np.ndarray
    year_days: np.ndarray
    starts: np.ndarray
    regime: np.ndarray
    seed: int
    seconds: float

    @property
    def provocations(self) -> np.ndarray:
        return self.counts["provocations"]

    def statistics(self, through: int) -> np.ndarray:
        """Every history's summary statistics (N, 10) over the years up to ``through``."""
        k = self.years.index(through) + 1
        return history_statistics(**{name: a[:k] for name, a in self.counts.items()},
                                  window_days=self.window_days[:k], year_days=self.year_days[:k],
                                  starts=self.starts[:k])

    def replace_after(self, through: int, value: int = 0) -> YearTable:
        """A copy whose histories' counts after ``through`` are all ``value`` (tests: nothing later counts)."""
        k = self.years.index(through) + 1
        counts = {name: a.copy() for name, a in self.counts.items()}
        for a in counts.values():
            a[k:] = value
        return YearTable(self.theta, self.years, counts, self.window_days, self.year_days, self.starts,
                         self.regime, self.seed, self.seconds)


def build_year_table(cal: Calibration, size: int = DEFAULT_TABLE, *, seed: int | None = None,
                     workers: int | None = None, log=None) -> YearTable:
    """Simulate ``size`` histories from the priors, batch b on ``(seed, CALIBRATION, b)`` as
    :func:`sim.data.calibrate.build_table` does, keeping each year's counts."""
    seed = cal.meta.seed if seed is None else seed
    B, started = cal.meta.batch_size, time.perf_counter()
    theta, parts, regime, fixed = [], [], [], None
    for b, first in enumerate(range(0, size, B)):
        n = min(B, size - first)
        root = make_root(seed, Stream.CALIBRATION, b)
        draws = cal.box.sample(np.random.default_rng(child(root, Stream.PRIOR)), n)
        years = simulate_years(cal.hindcast, n, root, workers, run_values=dict(zip(cal.keys, draws.T)),
                               compiled=cal.years)
        theta.append(draws)
        arrays = year_arrays(years)
        fixed = {k: arrays.pop(k) for k in ("window_days", "starts")}
        parts.append(arrays)
        regime.append(np.array([r.regime_score for r in years.values()]))
        if log:
            log(f"table: {first + n:,} of {size:,} histories, {time.perf_counter() - started:.0f} s")
    years = tuple(cal.years)
    counts = {name: np.concatenate([p[name] for p in parts], axis=1) for name in YEAR_FIELDS}
    return YearTable(np.concatenate(theta), years, counts, fixed["window_days"],
                     np.array([cal.years[y].horizon for y in years]), fixed["starts"],
                     np.concatenate(regime, axis=1), seed, time.perf_counter() - started)


def observed_through(hc: Hindcast, origin: int) -> np.ndarray:
    """The record's summary statistics (10,) over the hindcast's years up to ``origin``."""
    return history_statistics(**record_arrays(hc, origin))[0]


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
              observed: np.ndarray | None = None, latest: int | None = None) -> Posterior:
    """The ABC posterior given the record through ``origin`` (see the module docstring), in memory.
    ``observed`` (10,) and ``latest`` (the origin year's provocation days) replace the record's (tests
    use data the model made).

    Beside the calibration's statistics of the years through the origin, the distance compares the
    origin year's own count (log1p, scaled by its MAD over the table, as the others are): the kept
    histories are those whose last year looks like the record's, so their regime at the origin is a
    draw of the record's given the data. The posterior carries it as the column :func:`regime_key`
    (each kept history's regime score of the origin year, as simulated; not regression-adjusted)."""
    check_origin(cal, origin)
    check_table(len(table.theta), samples)
    sub = Table(table.theta, table.statistics(origin), table.seed, cal.meta.batch_size, table.seconds)
    chosen, scale, scaled = _scaled_table(cal, sub)
    observed = observed_through(cal.hindcast, origin) if observed is None else observed
    k = table.years.index(origin)
    latest = cal.hindcast.record[origin].provocation_days if latest is None else latest
    last = np.log1p(table.provocations[k].astype(float))
    last_scale = abc.statistic_scale(last[:, None])
    scaled = np.column_stack([scaled, last / last_scale[0]])
    target = np.append(distance_scale(observed)[chosen] / scale, np.log1p(latest) / last_scale[0])
    fit = abc.posterior(table.theta, scaled, target, cal.box, samples, cal.meta.adjustment == "linear")
    keys = [*cal.keys, regime_key(cal)]
    theta = np.column_stack([fit.theta, table.regime[k][fit.rows]])
    meta = {"conditioned_on": f"the record {table.years[0]}-{origin}", "origin": origin, "rows": fit.rows,
            "table": len(table.theta), "samples": samples, "effective_sample_size": fit.effective_sample_size,
            "latest": int(latest)}
    return Posterior(keys, theta, fit.weights, meta)


def regime_key(cal: Calibration) -> str:
    """The run-value key of the hindcast actor's previous-year regime score."""
    return f"actors.{cal.hindcast.actor}.provocation.regime_last_year"


def carry_regime(post: Posterior, cal: Calibration, scenario: Scenario, years: int, rng: np.random.Generator
                 ) -> Posterior:
    """``post`` with its regime column (the origin year's scores) carried ``years`` years on: the
    previous-year score of year origin + years + 1 is rho^years z + sqrt(1 - rho^2years) e, e standard
    normal, rho each sample's persistence (its column, or the scenario's value). ``years`` 0 returns
    ``post``; a posterior without the column is returned as it is."""
    key = regime_key(cal)
    if years == 0 or key not in post.keys:
        return post
    rho_key = key.replace("regime_last_year", "regime_persistence")
    rho = (post.samples[:, post.keys.index(rho_key)] if rho_key in post.keys
           else np.full(len(post.samples), scenario.actors[cal.hindcast.actor].provocation.regime_persistence))
    theta = post.samples.copy()
    z = theta[:, post.keys.index(key)]
    theta[:, post.keys.index(key)] = rho**years * z + np.sqrt(1 - rho**(2 * years)) * rng.standard_normal(len(z))
    return Posterior(post.keys, theta, post.weights, post.meta)


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
                  workers: int | None = None, observed: np.ndarray | None = None,
                  latest: int | None = None) -> Forecast:
    """Forecast ``year`` from the record through ``origin`` (see the module docstring); ``observed`` and
    ``latest`` as for :func:`condition`."""
    started = time.perf_counter()
    check_origin(cal, origin, year)
    scenario = year_scenario(cal.hindcast, year)
    post = condition(cal, table, origin, samples, observed, latest)
    post = carry_regime(post, cal, scenario, year - origin - 1,
                        np.random.default_rng(child(make_root(seed, Stream.FORECAST, origin, year), Stream.REGIME)))
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
