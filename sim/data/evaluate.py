"""Rolling-origin evaluation: the model's forecast of each year T+1 from the record through T, scored against naive baselines.

For each origin T (2013-2020 by default) the model forecasts year T+1 from the posterior conditioned
on the record through T (:func:`sim.data.forecast.forecast_year`), and every baseline
(:mod:`sim.data.baselines`) is refitted on the counts through T. Every forecast is an ensemble of
counts (the model's runs; the baselines' draws, as many), scored against the record's count of T+1
for two targets: the actor's provocation days and the clashes (the model's crisis onsets, the
record's core clashes). Scores (negatively oriented: lower is better), from ``scoringrules``:

- ``crps``: the fair (ensemble-size-corrected) CRPS of the ensemble;
- ``log``: minus the log of the probability the ensemble gives the observed count's bin
  (:data:`BINS`; each bin's probability is (runs in it + 1/2) / (runs + B/2), so no bin is impossible);
- ``interval``: the 90% interval score of the ensemble's 5% and 95% quantiles (inverted empirical
  CDF); ``width`` is that interval's width.

Also the randomized PIT of each count, F(y - 1) + V (F(y) - F(y - 1)) with F the ensemble's CDF and
V uniform: uniform on [0, 1] for a calibrated forecast (Czado, Gneiting and Held 2009). Score
differences (model less baseline) get a 90% percentile bootstrap interval over origins.

Streams: baseline draws and the PIT's V for origin T on ``(seed, FORECAST, T, T+1, DRAW)``; the
bootstrap on ``(seed, FORECAST, PICK)``; the model's runs as :func:`forecast_year` says.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scoringrules as sr

from sim.data.abc import binomial_band
from sim.data.baselines import BASELINES, baseline_ensembles
from sim.data.calibrate import Calibration
from sim.data.forecast import YearTable, forecast_year
from sim.engines.draws import Stream, child, make_root

TARGETS = {"provocation_days": "provocation_days", "clashes": "core_clashes"}  # target -> the record's count
BINS = {"provocation_days": (0, 1, 3, 6, 11, 21), "clashes": (0, 1, 2, 4)}     # lower edges of the count bins
SCORES = ("crps", "log", "interval", "width")
ALPHA = 0.1                 # the interval score's interval: central 90%
BOOTSTRAP = 10_000
PIT_BINS = 5


def bin_probabilities(ensemble: np.ndarray, edges) -> np.ndarray:
    """Each bin's probability (B,) from an ensemble, (count + 1/2) / (n + B/2)."""
    counts = np.bincount(np.searchsorted(edges, ensemble, side="right") - 1, minlength=len(edges))
    return (counts + 0.5) / (len(ensemble) + 0.5 * len(edges))


def score(observed: int, ensemble: np.ndarray, edges, v: float) -> dict[str, float]:
    """The scores of one ensemble (n,) for one observed count, and its randomized PIT with uniform ``v``."""
    x = np.asarray(ensemble, dtype=float)
    lo, hi = np.quantile(x, [ALPHA / 2, 1 - ALPHA / 2], method="inverted_cdf")
    p_bin = bin_probabilities(x, edges)[np.searchsorted(edges, observed, side="right") - 1]
    below, at_most = np.mean(x < observed), np.mean(x <= observed)
    return {"crps": float(sr.crps_ensemble(float(observed), x, estimator="fair")),
            "log": float(sr.log_score(1.0, p_bin)),
            "interval": float(sr.interval_score(float(observed), lo, hi, ALPHA)),
            "width": float(hi - lo), "pit": float(below + v * (at_most - below))}


def bootstrap_difference(a: np.ndarray, b: np.ndarray, rng: np.random.Generator, level: float = 0.9):
    """Mean of a - b over origins and its percentile bootstrap ``level`` interval (resampling origins)."""
    d = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    means = d[rng.integers(len(d), size=(BOOTSTRAP, len(d)))].mean(axis=1)
    lo, hi = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    return float(d.mean()), float(lo), float(hi)


@dataclass(frozen=True)
class Evaluation:
    """Scores by target, forecaster ("model" and :data:`BASELINES`) and score name: (origins,) arrays;
    the observed counts by target; the model's forecasts (one :class:`sim.data.forecast.Forecast` per
    origin); the settings."""

    origins: tuple[int, ...]
    scores: dict[str, dict[str, dict[str, np.ndarray]]]
    observed: dict[str, np.ndarray]
    forecasts: tuple
    settings: dict

    @property
    def forecasters(self) -> tuple[str, ...]:
        return ("model", *BASELINES)

    def summary(self, seed: int = 0) -> dict:
        """Per target and forecaster: mean scores, PIT histogram; per baseline, the model's mean
        difference with its bootstrap 90% interval (negative: the model scores better)."""
        rng = np.random.default_rng(child(make_root(seed, Stream.FORECAST), Stream.PICK))
        n = len(self.origins)
        band = binomial_band(n, 1 / PIT_BINS, 0.9)
        out = {}
        for target, by in self.scores.items():
            rows = {}
            for name in self.forecasters:
                s = by[name]
                rows[name] = {k: float(np.mean(s[k])) for k in SCORES}
                rows[name]["pit_histogram"] = np.histogram(s["pit"], PIT_BINS, (0, 1))[0].tolist()
                if name != "model":
                    rows[name]["model_minus"] = {k: bootstrap_difference(by["model"][k], s[k], rng)
                                                 for k in ("crps", "log", "interval")}
            out[target] = {"forecasters": rows, "pit_band": list(band)}
        return out


def evaluate(cal: Calibration, table: YearTable, origins, *, seed: int = 0, workers: int | None = None, log=None,
             **forecast) -> Evaluation:
    """Score the model's forecast of T+1 from the record through T, and the baselines', for each
    origin T. ``forecast`` passes samples, draws and runs_per_draw to :func:`forecast_year`."""
    origins = tuple(origins)
    record = cal.hindcast.record
    forecasters = ("model", *BASELINES)
    scores = {t: {f: {k: [] for k in (*SCORES, "pit")} for f in forecasters} for t in TARGETS}
    observed = {t: np.array([getattr(record[T + 1], attr) for T in origins]) for t, attr in TARGETS.items()}
    forecasts = []
    for T in origins:
        fc = forecast_year(cal, table, T, T + 1, seed=seed, workers=workers, **forecast)
        forecasts.append(fc)
        rng = np.random.default_rng(child(make_root(seed, Stream.FORECAST, T, T + 1), Stream.DRAW))
        v = rng.random()
        model = {"provocation_days": fc.provocation_days, "clashes": fc.clashes}
        for target, attr in TARGETS.items():
            history = [getattr(record[y], attr) for y in record.years if y <= T]
            ensembles = {"model": model[target], **baseline_ensembles(history, len(model[target]), rng)}
            for name, ens in ensembles.items():
                for k, value in score(getattr(record[T + 1], attr), ens, BINS[target], v).items():
                    scores[target][name][k].append(value)
        if log:
            log(f"origin {T}: forecast of {T + 1} in {fc.seconds:.1f} s")
    arrays = {t: {f: {k: np.array(v) for k, v in by.items()} for f, by in s.items()} for t, s in scores.items()}
    return Evaluation(origins, arrays, observed, tuple(forecasts),
                      {"table": len(table.theta), "table_seconds": table.seconds, "seed": seed, **forecast})


def format_evaluation(ev: Evaluation, summary: dict) -> str:
    """The evaluation as text: per target, each forecaster's mean scores, the model's differences
    with bootstrap 90% intervals, and the PIT histogram against its binomial 90% band."""
    lines = []
    for target, s in summary.items():
        lo, hi = s["pit_band"]
        lines.append(f"{target}, origins {ev.origins[0]}-{ev.origins[-1]} (forecast of T+1; observed "
                     f"{', '.join(map(str, ev.observed[target]))}); lower is better")
        lines.append(f"  {'forecaster':12} {'CRPS':>6} {'log':>6} {'IS90':>7} {'width':>6}  "
                     f"{'model-minus CRPS [90%]':>24} {'log [90%]':>20} {'IS90 [90%]':>22}  PIT {PIT_BINS} bins "
                     f"(band {lo}-{hi})")
        for name, r in s["forecasters"].items():
            diff = "".join(f"{d[0]:>+8.2f} [{d[1]:+.2f}, {d[2]:+.2f}]".rjust(w) for d, w in
                           zip(r["model_minus"].values(), (25, 21, 23))) if "model_minus" in r else " " * 69
            lines.append(f"  {name:12} {r['crps']:>6.2f} {r['log']:>6.2f} {r['interval']:>7.2f} {r['width']:>6.1f} "
                         f"{diff}  {r['pit_histogram']}")
    return "\n".join(lines)


def evaluation_files(ev: Evaluation, summary: dict, command: list[str] | None = None) -> dict[str, str]:
    """evaluation.json (settings, observed counts, summary, per-origin scores and the model's
    forecasts) and evaluation.csv (one row per target, origin, forecaster)."""
    import csv
    import io
    import json

    from sim.core.files import versions

    text = io.StringIO()
    w = csv.writer(text, lineterminator="\n")
    w.writerow(["target", "origin", "year", "observed", "forecaster", *SCORES, "pit"])
    for target, by in ev.scores.items():
        for i, T in enumerate(ev.origins):
            for name, s in by.items():
                w.writerow([target, T, T + 1, int(ev.observed[target][i]), name,
                            *(f"{s[k][i]:.6g}" for k in (*SCORES, "pit"))])
    doc = {"origins": list(ev.origins), "settings": ev.settings,
           "observed": {t: v.tolist() for t, v in ev.observed.items()}, "summary": summary,
           "model_forecasts": {str(fc.year): {"origin": fc.origin, **fc.counts(),
                                              **{k: fc.summary[k] for k in ("p_crisis", "p_war", "p_miscalculation")}}
                               for fc in ev.forecasts},
           "conditioning": "each origin T: ABC posterior on the record's years up to T (the calibration's statistics "
                           "and year T's count), each kept history carrying its regime of T into T+1; the priors, "
                           "the model and its statistics were chosen with the whole 2011-2021 record in view",
           "command": command, "versions": versions()}
    return {"evaluation.json": json.dumps(doc, indent=2) + "\n", "evaluation.csv": text.getvalue()}
