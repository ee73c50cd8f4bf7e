"""Predictive statistics of simulated years held against the record: bands, years inside them, the period's checks.

:func:`predict_year` turns one simulated year's per-run counts into predictive medians and central
bands; :func:`compare_to_record` holds them against the record year by year; :func:`period_statistics`
does it for the whole period, run k of every year being one history.

- **Predictive statistics**: over runs, the median and the central band (5% and 95% quantiles for a
  90% band) by the inverted empirical distribution (``numpy.quantile(method="inverted_cdf")``), so
  each is a count some run had and P(count < low) <= 5%, P(count > high) <= 5%. An observed count
  lies inside when low <= observed <= high. P(at least one clash) is the share of runs with at least
  one crisis onset, with its Wilson 95% interval; the record's counterpart of a crisis onset is a
  core clash (:mod:`sim.data.record`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from sim.core.stats import wilson_interval
from sim.data.record import Record, rate_ratio

# The statistics a simulated year is summarised by, and the record's count each is held against.
STATISTICS = {
    "provocation_days": "provocation_days",
    "provocation_days_in_windows": "provocation_days_in_windows",
    "provocation_days_outside_windows": "provocation_days_outside_windows",
    "crisis_onsets": "core_clashes",
}


@dataclass(frozen=True)
class YearRuns:
    """One simulated year: per-run counts (R,) of the hindcast's actor and of crisis onsets."""

    provocation_days: np.ndarray
    provocation_days_in_windows: np.ndarray
    crisis_onsets: np.ndarray
    window_days: int  # days of the year inside an exercise window (the record's definition)
    # the year's provocation regime of the actor as a standard normal score (R,): the next year's
    # ``regime_last_year`` when the regime persists (sim.model.regime.regime_score)
    regime_score: np.ndarray | None = None
    # when provocations fall within the year (:func:`year_patterns`), per run (R,)
    largest_month: np.ndarray | None = None
    active_months: np.ndarray | None = None
    windows_answered: np.ndarray | None = None
    window_starts: int = 0


ANSWER_DAYS = 30  # an exercise window is answered when a provocation comes within this many days of its start


def year_patterns(steps: np.ndarray, start: dt.date, exercise_days: np.ndarray, within: int = ANSWER_DAYS
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """When a year's provocations fall, for the statistics that see more than the yearly count.

    steps (R, T) bool: the days (from ``start``) with a provocation, per run (the record is one run);
    exercise_days (T,) bool. Returns per run (R,): the most provocation days in one calendar month, the
    months with any, and the exercise windows answered (a provocation day within ``within`` days of the
    window's first day, that day included); and the number of windows (runs of exercise days) begun in
    the year."""
    steps = np.asarray(steps, dtype=bool)
    T = steps.shape[1]
    month = np.array([(start + dt.timedelta(days=t)).month for t in range(T)])
    monthly = np.stack([steps[:, month == m].sum(axis=1) for m in np.unique(month)], axis=1)
    ex = np.asarray(exercise_days, dtype=bool)
    starts = np.flatnonzero(ex & ~np.concatenate([[False], ex[:-1]]))
    answered = sum((steps[:, s:s + within].any(axis=1) for s in starts), np.zeros(len(steps), dtype=np.int64))
    return monthly.max(axis=1), (monthly > 0).sum(axis=1), answered, len(starts)


def lag1_autocorrelation(counts: np.ndarray) -> np.ndarray:
    """The lag-1 autocorrelation of each history's yearly counts (Y, R) -> (R,): sum over consecutive
    years of (x_t - mean)(x_t+1 - mean) over the sum of squares, the usual estimator; 0 for a history
    whose years are all equal (nothing to correlate). It is what tells a persistent regime
    (``provocation.regime_persistence``) from a fresh one each year."""
    x = np.asarray(counts, dtype=float)
    d = x - x.mean(axis=0)
    ss = (d**2).sum(axis=0)
    cross = (d[1:] * d[:-1]).sum(axis=0)
    return np.divide(cross, ss, out=np.zeros_like(ss), where=ss > 0)


def record_steps(dates, start: dt.date, days: int) -> np.ndarray:
    """The record's provocation dates as steps (1, days) from ``start``."""
    steps = np.zeros((1, days), dtype=bool)
    for d in dates:
        if 0 <= (d - start).days < days:
            steps[0, (d - start).days] = True
    return steps


@dataclass(frozen=True)
class Band:
    """Median and central band of a count over runs; ``contains`` is the band's test of an observation."""

    median: float
    low: float
    high: float

    def contains(self, observed: float) -> bool:
        return self.low <= observed <= self.high


@dataclass(frozen=True)
class YearPrediction:
    """One simulated year summarised over its R runs (see :func:`predict_year`)."""

    runs: int
    band: float                       # the central share the bands hold (0.9)
    stats: Mapping[str, Band]         # keys: STATISTICS
    p_clash: float                    # share of runs with at least one crisis onset
    p_clash_low: float                # its Wilson 95% interval
    p_clash_high: float


def predict_year(provocation_days, provocation_days_in_windows, crisis_onsets, band: float = 0.9) -> YearPrediction:
    """Predictive statistics of one year from per-run counts.

    provocation_days, provocation_days_in_windows, crisis_onsets: arrays (R,) of non-negative whole
    numbers, entry k from run k: the actor's provocation days in the year, those inside the year's drill
    windows (<= the first), and crisis onsets. Returns the median and central ``band`` (0 < band < 1)
    of each, and of the provocation days outside windows (their difference), and P(at least one clash).
    """
    if not 0.0 < band < 1.0:
        raise ValueError(f"band must lie strictly between 0 and 1; got {band}")
    named = {"provocation_days": provocation_days, "provocation_days_in_windows": provocation_days_in_windows,
             "crisis_onsets": crisis_onsets}
    arrays = {}
    for key, values in named.items():
        a = np.asarray(values)
        if a.ndim != 1 or a.size == 0:
            raise ValueError(f"{key} must be a non-empty array of shape (R,); got shape {a.shape}")
        if not (np.issubdtype(a.dtype, np.integer) or np.issubdtype(a.dtype, np.floating)) \
                or not np.all(np.isfinite(a)) or np.any(a < 0) or np.any(a != np.round(a)):
            raise ValueError(f"{key} must hold non-negative whole numbers (counts per run)")
        arrays[key] = a.astype(np.int64)
    sizes = {k: a.size for k, a in arrays.items()}
    if len(set(sizes.values())) != 1:
        raise ValueError(f"the arrays must have one entry per run, the same R; got {sizes}")
    if np.any(arrays["provocation_days_in_windows"] > arrays["provocation_days"]):
        raise ValueError("provocation_days_in_windows exceeds provocation_days in some run")
    arrays["provocation_days_outside_windows"] = arrays["provocation_days"] - arrays["provocation_days_in_windows"]

    tail = (1.0 - band) / 2.0
    stats = {}
    for key in STATISTICS:
        lo, med, hi = np.quantile(arrays[key], [tail, 0.5, 1.0 - tail], method="inverted_cdf")
        stats[key] = Band(median=float(med), low=float(lo), high=float(hi))
    runs = arrays["crisis_onsets"].size
    p, p_lo, p_hi = wilson_interval(int(np.count_nonzero(arrays["crisis_onsets"])), runs)
    return YearPrediction(runs=runs, band=band, stats=stats, p_clash=float(p), p_clash_low=float(p_lo),
                          p_clash_high=float(p_hi))


@dataclass(frozen=True)
class Check:
    """One statistic of one year: the record's count against the simulated band."""

    observed: int
    median: float
    low: float
    high: float
    inside: bool


@dataclass(frozen=True)
class YearComparison:
    """A year of the record against its prediction: one :class:`Check` per statistic, and the clash."""

    year: int
    checks: Mapping[str, Check]   # keys: STATISTICS (crisis_onsets is checked against core clashes)
    had_clash: bool
    p_clash: float


def compare_to_record(record: Record, predictions: Mapping[int, YearPrediction]) -> list[YearComparison]:
    """Each predicted year of the record: is each observed count inside its simulated band? In year order."""
    missing = sorted(set(predictions) - set(record.years))
    if missing:
        raise ValueError(f"years {missing} are not in the record ({record.years[0]}-{record.years[-1]})")
    out = []
    for year in sorted(predictions):
        obs, pred = record[year], predictions[year]
        checks = {}
        for key, observed_attr in STATISTICS.items():
            b, observed = pred.stats[key], getattr(obs, observed_attr)
            checks[key] = Check(observed=observed, median=b.median, low=b.low, high=b.high, inside=b.contains(observed))
        out.append(YearComparison(year=year, checks=checks, had_clash=obs.had_clash, p_clash=pred.p_clash))
    return out


def format_comparison(rows: list[YearComparison]) -> str:
    """The comparison as a text table: per year and statistic 'observed median [low, high]', '*' when outside."""
    short = {"provocation_days": "provocation days", "provocation_days_in_windows": "in windows",
             "provocation_days_outside_windows": "outside", "crisis_onsets": "clashes"}
    lines = [f"{'year':>4}  " + "  ".join(f"{short[k]:>20}" for k in STATISTICS) + "  P(clash)  clash"]
    for r in rows:
        cells = []
        for key in STATISTICS:
            c = r.checks[key]
            mark = " " if c.inside else "*"
            cells.append(f"{c.observed:>3}{mark} {c.median:>4g} [{c.low:g}, {c.high:g}]".rjust(20))
        lines.append(f"{r.year:>4}  " + "  ".join(cells) + f"  {r.p_clash:>8.3f}  {'yes' if r.had_clash else 'no'}")
    n = len(rows)
    lines.append("inside the band: " + ", ".join(
        f"{short[k]} {sum(r.checks[k].inside for r in rows)}/{n}" for k in STATISTICS))
    return "\n".join(lines)


def predict(years: Mapping[int, YearRuns], band: float = 0.9) -> dict[int, YearPrediction]:
    """:func:`predict_year` of every simulated year."""
    return {y: predict_year(r.provocation_days, r.provocation_days_in_windows, r.crisis_onsets, band)
            for y, r in years.items()}


PERIOD_STATISTICS = ("clash_years", "clashes", "rate_ratio_in_windows", "provocation_days", "max_provocation_days")
PATTERN_STATISTICS = ("lag1_autocorrelation", "largest_month", "active_months", "windows_answered")


def period_statistics(record: Record, years: Mapping[int, YearRuns], band: float = 0.9,
                      patterns: Mapping[str, float] | None = None) -> dict[str, Check]:
    """The whole period's statistics, observed and simulated (run k of every year as one history).

    clash_years: years with at least one clash; clashes: their total; rate_ratio_in_windows: the
    provocation-day rate inside exercise windows over the rate outside, pooled over the years;
    provocation_days: the period's total; max_provocation_days: the most in any one year. With
    ``patterns`` (the record's values of PATTERN_STATISTICS, :func:`sim.data.hindcast.record_patterns`)
    also those: the yearly counts' lag-1 autocorrelation, the most provocation days in a month, the
    months with any, the share of exercise windows answered within 30 days. Bands are central
    ``band`` quantiles over histories.
    """
    ys = sorted(years)
    onsets = np.stack([years[y].crisis_onsets for y in ys])  # (Y, R)
    prov = np.stack([years[y].provocation_days for y in ys])
    inside = np.stack([years[y].provocation_days_in_windows for y in ys])
    days_in = sum(years[y].window_days for y in ys)
    days_all = sum(record[y].days for y in ys)
    ratio = rate_ratio(inside.sum(0), days_in, (prov - inside).sum(0), days_all - days_in)
    simulated = {"clash_years": (onsets > 0).sum(0), "clashes": onsets.sum(0), "rate_ratio_in_windows": ratio,
                 "provocation_days": prov.sum(0), "max_provocation_days": prov.max(0)}
    obs_in = sum(record[y].provocation_days_in_windows for y in ys)
    obs_all = sum(record[y].provocation_days for y in ys)
    obs_days_in = sum(record[y].window_days for y in ys)
    observed = {"clash_years": sum(record[y].had_clash for y in ys), "clashes": sum(record[y].core_clashes for y in ys),
                "rate_ratio_in_windows": rate_ratio(obs_in, obs_days_in, obs_all - obs_in, days_all - obs_days_in),
                "provocation_days": obs_all,
                "max_provocation_days": max(record[y].provocation_days for y in ys)}
    if patterns is not None:
        runs = [years[y] for y in ys]
        starts = max(sum(r.window_starts for r in runs), 1)
        simulated |= {"lag1_autocorrelation": lag1_autocorrelation(prov),
                      "largest_month": np.max([r.largest_month for r in runs], axis=0),
                      "active_months": np.sum([r.active_months for r in runs], axis=0),
                      "windows_answered": np.sum([r.windows_answered for r in runs], axis=0) / starts}
        observed |= dict(patterns)
    tail = (1.0 - band) / 2.0
    out = {}
    for key in (*PERIOD_STATISTICS, *(PATTERN_STATISTICS if patterns is not None else ())):
        x = simulated[key][np.isfinite(simulated[key])]
        lo, med, hi = np.quantile(x, [tail, 0.5, 1.0 - tail], method="inverted_cdf")
        out[key] = Check(observed=observed[key], median=float(med), low=float(lo), high=float(hi),
                         inside=bool(lo <= observed[key] <= hi))
    return out


def format_period(period: Mapping[str, Check], indent: str = "") -> str:
    """The period's checks as text: one line each, observed against the simulated median and band."""
    return "\n".join(f"{indent}{key:24} observed {c.observed:8.3g}   simulated {c.median:8.3g} [{c.low:.3g}, "
                     f"{c.high:.3g}]{'' if c.inside else '   OUTSIDE'}" for key, c in period.items())
