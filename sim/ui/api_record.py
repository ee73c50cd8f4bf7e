"""The calls behind the commands on the record: hindcast, calibrate, forecast, evaluate, import-record.

What `escsim hindcast`, `calibrate`, `forecast`, `evaluate` and `import-record` do, a notebook does with
the same call; :mod:`sim.ui.api` gathers these with the scenario-side calls (run, sweep, compare,
levers), so ``sim.ui.api.hindcast`` and the like stay where they were.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from sim.core.errors import InputError
from sim.core.files import atomic_write, replace_dir
from sim.engines.posterior import Posterior, posterior_summary, write_posterior
from sim.engines.resolve import Resolved
from sim.data.calibrate import calibrate as fit_calibration
from sim.data.calibrate import load_calibration
from sim.data.importer import import_record  # noqa: F401 (escsim import-record's call)
from sim.data.hindcast import Hindcast, hindcast_report, load_hindcast, resolve_histories, simulate_years
from sim.data.predictive import format_comparison, format_period
from sim.ui.plots import plot_coverage, plot_hindcast, save_figure


# ---------------------------------------------------------------- the record: hindcast and calibration


@dataclass
class HindcastResult:
    """`escsim hindcast`'s result: the simulated years against the record (:func:`hindcast`)."""

    hindcast: Hindcast
    resolved: Resolved
    report: dict  # sim.data.hindcast.hindcast_report's
    runs: int
    seed: int

    def table(self) -> str:
        """What `escsim hindcast` prints."""
        return "\n".join([f"{self.hindcast.name}: {self.runs:,} histories, seed {self.seed}; parameters: "
                          f"{self.resolved.describe()}", format_comparison(self.report["comparison"]),
                          format_period(self.report["period"])])

    def save(self, out: str | Path | None = None, *, figures: bool = True) -> Path:
        """Write ``hindcast.json``, ``hindcast.csv`` and the figure, replacing ``out`` whole (default
        ``results/NAME``, or ``results/NAME__posterior=none`` at the template's point values)."""
        point_values = self.resolved.draws is None and self.resolved.scenario.scenario.posterior is not None
        out = Path(out) if out is not None else Path("results") / (
            self.hindcast.name + ("__posterior=none" if point_values else ""))

        def fill(directory: Path) -> None:
            atomic_write(directory / "hindcast.json", json.dumps(self.report["json"], indent=2) + "\n")
            atomic_write(directory / "hindcast.csv", self.report["csv"])
            if figures:
                fig = plot_hindcast(self.report["comparison"], self.report["period"], title=self.hindcast.name)
                for suffix in ("png", "svg"):
                    save_figure(fig, directory / f"hindcast.{suffix}")

        replace_dir(out, fill)
        return out


def hindcast(file: str | Path, *, runs: int = 4096, seed: int = 0, posterior="scenario", workers: int | None = None,
             command: list[str] | None = None, progress: bool = False) -> HindcastResult:
    """Simulate every year of the record under its own exercise calendar, each history at one draw of
    the template's posterior (``posterior="none"``: its point values), and hold it against the record."""
    hc = load_hindcast(file)  # every year's scenario is validated before anything runs
    resolved = resolve_histories(hc, runs, seed, posterior)
    years = simulate_years(hc, runs, seed, workers=workers, progress=progress, run_values=resolved.run_values)
    report = hindcast_report(hc, years, runs=runs, seed=seed, command=command, parameters=resolved.describe())
    return HindcastResult(hc, resolved, report, runs, seed)


@dataclass
class CalibrationResult:
    """`escsim calibrate`'s result: the posterior, its coverage check and predictive check, written."""

    report: dict
    check: dict  # the predictive check's hindcast_report
    files: list[Path]

    def text(self) -> str:
        """What `escsim calibrate` prints."""
        r, m, cov = self.report, self.report["method"], self.report["coverage"]
        lines = [f"{r['calibration']}: reference table of {m['table']:,} histories, posterior of the "
                 f"{m['samples']:,} nearest the record ({m['acceptance']:.2%}, {m['adjustment']} adjustment), "
                 f"effective sample size {r['effective_sample_size']:.0f}; {r['simulations']:,} simulated histories "
                 f"and a check of {r['check']['runs']:,} in {r['seconds']:.0f} s"]
        lines += [f"  {key:48} median {s['median']:.4g}  90% [{s['q05']:.4g}, {s['q95']:.4g}]"
                  for key, s in posterior_summary(r["samples"], r["weights"], r["keys"]).items()]
        bands = ", ".join(f"{float(lv):.0%} [{e['band'][0]}, {e['band'][1]}]" for lv, e in cov["levels"].items())
        lines.append(f"coverage over {cov['data_sets']:,} data sets simulated from the prior (counts inside the "
                     f"central intervals; {cov['confidence']:.0%} family-wise bands {bands}): "
                     f"{'calibrated' if cov['passed'] else 'NOT CALIBRATED'}")
        lines += [f"  {key:48} " + "  ".join(f"{float(lv):.0%}: {e['covered'][key]:>5}"
                                             f"{'' if e['inside_band'][key] else ' OUTSIDE'}"
                                             for lv, e in cov["levels"].items()) for key in r["keys"]]
        years = len(self.check["comparison"])
        lines.append("posterior predictive, years inside the 90% band: " +
                     ", ".join(f"{k} {v}/{years}" for k, v in r["check"]["years_inside"].items()))
        lines.append(format_period(self.check["period"], indent="  "))
        lines.append(f"posterior and check: {', '.join(map(str, self.files))}")
        return "\n".join(lines)


def calibrate(file: str | Path, *, samples: int | None = None, workers: int | None = None,
              out: str | Path | None = None, command: list[str] | None = None, log=None) -> CalibrationResult:
    """Fit the calibration file's priors to the record (:func:`sim.data.calibrate.calibrate`), run the
    posterior predictive check (the hindcast, each history at one posterior draw), and write the
    posterior (CSV and JSON) and both figures to ``out`` (default: beside the file). ``log(text)``
    reports progress."""
    cal = load_calibration(file)  # the file, its hindcast and every year, before any run
    out = Path(out) if out is not None else Path(file).parent
    if not out.is_dir():
        raise InputError(f"--out {out}: no such directory")
    if samples is not None and samples >= cal.meta.table:
        raise InputError(f"--samples {samples}: needs fewer than the table's {cal.meta.table:,} histories "
                         f"(calibration.table in {file})")
    report = fit_calibration(cal, samples=samples, workers=workers, log=log)
    report.pop("coverage_ranks")
    started = time.perf_counter()
    runs, seed = cal.meta.check_runs, report["seed"]
    histories = resolve_histories(cal.hindcast, runs, seed, Posterior(report["keys"], report["samples"],
                                                                       report["weights"], {}))
    years = simulate_years(cal.hindcast, runs, seed, workers=workers, run_values=histories.run_values)
    check = hindcast_report(cal.hindcast, years, runs=runs, seed=seed)
    report["check"] = {"runs": runs, "years_inside": check["json"]["inside"], "period": check["json"]["period"]}
    report["timing"]["check"] = time.perf_counter() - started
    report["seconds"] += report["timing"]["check"]
    name = report["calibration"]
    figures = {out / f"{name}_check.png": plot_hindcast(check["comparison"], check["period"],
                                                          title=f"{cal.hindcast.name}, posterior predictive"),
               out / f"{name}_coverage.png": plot_coverage(report["coverage"], report["keys"], title=name)}
    files = list(write_posterior(report, out, command=command))
    for path, fig in figures.items():
        save_figure(fig, path)
    return CalibrationResult(report, check, files + list(figures))


# ---------------------------------------------------------------- forecasts from the record (issue 23)


@dataclass
class EvaluationResult:
    """`escsim evaluate`'s result: :class:`sim.data.evaluate.Evaluation` and its summary."""

    evaluation: object
    summary: dict

    def text(self) -> str:
        from sim.data.evaluate import format_evaluation

        return format_evaluation(self.evaluation, self.summary)

    def save(self, out: str | Path, *, figures: bool = True, command: list[str] | None = None) -> Path:
        """Write evaluation.json, evaluation.csv and the figure (evaluate.png, .svg), replacing ``out`` whole."""
        from sim.data.evaluate import evaluation_files
        from sim.ui.plots import plot_evaluation

        def fill(directory: Path) -> None:
            for name, text in evaluation_files(self.evaluation, self.summary, command).items():
                atomic_write(directory / name, text)
            if figures:
                fig = plot_evaluation(self.evaluation, self.summary)
                for suffix in ("png", "svg"):
                    save_figure(fig, directory / f"evaluate.{suffix}")

        replace_dir(Path(out), fill)
        return Path(out)


@dataclass
class ForecastResult:
    """`escsim forecast`'s result: the :class:`sim.data.forecast.Forecast` and the text it prints."""

    forecast: object
    text: str

    def __str__(self) -> str:
        return self.text


def forecast(file: str | Path, *, year: int, origin: int | None = None, table: int | None = None, seed: int = 0,
             workers: int | None = None, log=None, **options) -> ForecastResult:
    """Forecast year ``year`` from the record through ``origin`` (default the record's last year before
    ``year``) by :func:`sim.data.forecast.forecast_year` on a fresh table; ``options``: samples, draws,
    runs_per_draw."""
    from sim.data.forecast import (DEFAULT_TABLE, build_year_table, check_origin, check_table, forecast_year,
                                   format_forecast, year_scenario)

    cal = load_calibration(file)
    origin = min(year - 1, cal.hindcast.years[-1]) if origin is None else origin
    check_origin(cal, origin, year)
    year_scenario(cal.hindcast, year)  # a year without an exercise calendar is refused before the table
    check_table(table or DEFAULT_TABLE, options.get("samples"))
    years = build_year_table(cal, table or DEFAULT_TABLE, workers=workers, log=log)
    fc = forecast_year(cal, years, origin, year, seed=seed, workers=workers, **options)
    return ForecastResult(fc, format_forecast(fc, cal.hindcast))


def evaluate(file: str | Path, *, origins: tuple[int, int] = (2013, 2020), table: int | None = None, seed: int = 0,
             workers: int | None = None, log=None, **options) -> EvaluationResult:
    """`escsim evaluate`: forecast each year T+1 from the record through T, T in ``origins`` (first,
    last), and score the forecasts against the baselines (:mod:`sim.data.evaluate`)."""
    from sim.data.evaluate import evaluate as run_evaluation
    from sim.data.forecast import DEFAULT_TABLE, build_year_table, check_origin, check_table

    cal = load_calibration(file)
    first, last = origins
    for T in (first, last):
        check_origin(cal, T, T + 1)
    if last >= cal.hindcast.years[-1] or first > last:
        raise InputError(f"--origins {first} {last}: needs first <= last < {cal.hindcast.years[-1]} (the year "
                         "after the last origin must be in the record, to score it)")
    check_table(table or DEFAULT_TABLE, options.get("samples"))
    years = build_year_table(cal, table or DEFAULT_TABLE, seed=None, workers=workers, log=log)
    ev = run_evaluation(cal, years, range(first, last + 1), seed=seed, workers=workers, log=log, **options)
    return EvaluationResult(ev, ev.summary(seed))
