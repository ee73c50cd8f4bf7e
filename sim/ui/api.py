"""The calls behind the commands: what `escsim run` does, a notebook does with the same call.

>>> import sim
>>> result = sim.run("scenarios/korea_baseline.toml", runs=6400)   # doctest: +SKIP
>>> print(result)                          # the table escsim run prints  # doctest: +SKIP
>>> result.summary["p_miscalculation"]     # the numbers summary.json holds  # doctest: +SKIP
>>> result.save("results/mine")            # the directory escsim run writes  # doctest: +SKIP
>>> levers = sim.sweep("experiments/levers.toml", out="results/levers")  # doctest: +SKIP
>>> print(levers); levers.plot()           # its table and its figure  # doctest: +SKIP
>>> print(sim.compare(["scenarios/korea_baseline.toml"], {"drills.freedom_shield.transparency": 0.9}))  # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from sim.analysis.compare import compare as compare_targets
from sim.analysis.experiment import Experiment, load_experiment
from sim.analysis.levers import LeverRanking, check_lever_experiment, rank_levers, write_ranking
from sim.analysis.over import compare_over
from sim.analysis.sweep import SweepReport, format_points, load_sweep, run_sweep
from sim.analysis.rare import DEFAULT_REPETITIONS, DEFAULT_REPLICAS, check_rare, estimate_rare, resolve_rare, summarise_rare
from sim.core.errors import InputError
from sim.core.files import atomic_write, replace_dir
from sim.engines.draws import Seed
from sim.engines.resolve import Resolved, resolve
from sim.engines.simulate import EnsembleResult, simulate_resolved
from sim.io.rundir import check_run_dir, default_out, keeps_runs_table, totals_arrays, write_results
from sim.io.summary import format_table, summarise
from sim.data.calibrate import calibrate as fit_calibration
from sim.data.calibrate import load_calibration
from sim.data.importer import import_record  # noqa: F401 (escsim import-record's call)
from sim.data.hindcast import Hindcast, hindcast_report, load_hindcast, resolve_histories, simulate_years
from sim.data.predictive import format_comparison, format_period
from sim.engines.posterior import Posterior, posterior_summary, write_posterior
from sim.ui.plots import RUN_FIGURES, draw_run, draw_sweep, sweep_figures, plot_coverage, plot_hindcast, run_figures, save_figure


@dataclass
class RunResult:
    """A scenario's ensemble as `escsim run` gives it: what was resolved, the ensemble, its summary
    (``summary.json``'s numbers, the rare outcomes' included) and, once saved, where it went."""

    resolved: Resolved
    ensemble: EnsembleResult
    summary: dict
    written: dict = field(default_factory=dict)  # once saved: the files written (key -> path or paths)
    saved_to: Path | None = None  # once saved: the results directory

    def table(self) -> str:
        """The table `escsim run` prints."""
        return format_table(self.summary)

    def __str__(self) -> str:
        return self.table()

    def plot(self, kind: str = "curves"):
        """The run's figure, as `escsim plot` draws it from the saved directory: ``"curves"`` (escalation
        curves with their bands) or ``"paths"`` (each actor's rung over time). A matplotlib Figure, not
        saved (``save_figure(fig, path)`` saves one)."""
        if kind not in RUN_FIGURES:
            raise InputError(f"kind {kind!r}: a run has figures {', '.join(RUN_FIGURES)}")
        return draw_run(kind, self.ensemble.scenario, totals_arrays(self.ensemble))

    def save(self, out: str | Path | None = None, *, runs_table: str = "auto", figures: bool = True,
             command: list[str] | None = None) -> Path:
        """Write the results directory (default ``results/NAME``, or ``results/NAME__KEY=VALUE...`` for a
        what-if): built beside the old one and swapped in whole, so no figure of an earlier run is left
        beside new numbers; a directory holding another scenario's results is refused. ``runs_table``:
        ``"auto"`` writes runs.csv up to 100,000 runs, ``"yes"`` always, ``"no"`` never."""
        out = self._out(out)
        table = keeps_runs_table(runs_table, self.ensemble.runs)

        def fill(directory: Path) -> dict:
            paths = write_results(self.ensemble, self.resolved.scenario, directory, command=command,
                                  runs_table=table, summary=self.summary)
            if figures:
                paths["figures"] = run_figures(directory)
            return paths

        self.written, self.saved_to = replace_dir(out, fill), out
        return out

    def _out(self, out) -> Path:
        """The results directory (given, or the default), refused if it holds another scenario's results."""
        out = Path(out) if out is not None else default_out(self.resolved)
        check_run_dir(out, self.resolved.scenario)
        return out


def run(scenario, *, runs: int | None = None, seed: Seed = 0, posterior="scenario", overrides=None,
        engine: str = "ensemble", workers: int | None = None, rare=(), replicas: int | None = None,
        repetitions: int | None = None, score: str = "progress", save: bool = False, out: str | Path | None = None,
        runs_table: str = "auto", figures: bool = True, command: list[str] | None = None,
        progress: bool = False) -> RunResult:
    """Run a scenario as ``escsim run`` does, and return its result (not yet saved).

    The scenario (a file path, or a :class:`sim.engines.resolve.Resolved`) is resolved in the one
    place every command resolves it (:func:`sim.engines.resolve.resolve`): the scenario's posterior
    unless ``posterior`` says otherwise (a file, or ``"none"`` for point values), ``overrides`` (dotted
    key path -> value) as ``--set``, the seed, and ``runs`` (default 640 draws x the scenario's runs per
    draw with a posterior, else 10,000). Each run has its perfect-perception twin. ``rare`` names
    outcomes (``"war"``, ``"nuclear"``, a rung) also estimated by adaptive multilevel splitting with
    ``replicas`` x ``repetitions``, one posterior draw per repetition. With ``save``, the results
    directory ``out`` (default: :meth:`RunResult.save`'s) is checked before anything runs and written
    after (``runs_table``, ``figures``, ``command`` as :meth:`RunResult.save` takes them). Every input
    error is an :class:`InputError` before any run.
    """
    resolved = scenario if isinstance(scenario, Resolved) else resolve(
        scenario, overrides=overrides, posterior=posterior, seed=seed, runs=runs, engine=engine,
        origin=lambda key: f"--set {key}")
    if save:
        out = RunResult(resolved, None, {})._out(out)
    targets = _rare_targets(resolved, rare, replicas, repetitions, score)
    ensemble = simulate_resolved(resolved, workers=workers, per_run=keeps_runs_table(runs_table, resolved.runs),
                                 progress=progress)
    summary = summarise(ensemble)
    if targets:
        replicas = DEFAULT_REPLICAS if replicas is None else replicas
        repetitions = DEFAULT_REPETITIONS if repetitions is None else repetitions
        draws = resolve_rare(resolved, repetitions, seed)
        summary["rare"] = {t.name: summarise_rare(estimate_rare(
            resolved.compiled, t, replicas=replicas, repetitions=repetitions, seed=seed, score=score,
            workers=workers, resolved=draws)) for t in targets}
    result = RunResult(resolved, ensemble, summary)
    if save:
        result.save(out, runs_table=runs_table, figures=figures, command=command)
    return result


def _rare_targets(resolved: Resolved, rare, replicas, repetitions, score) -> list:
    """``rare``'s targets, checked with the replicas and repetitions, before any run; the splitting's
    settings without a target are refused (they would change nothing)."""
    if not rare:
        if replicas is not None or repetitions is not None:
            raise InputError("--replicas and --repetitions set up --rare TARGET; give a target (crisis, war, nuclear)")
        if score != "progress":
            raise InputError("--score sets up --rare TARGET; give a target (crisis, war, nuclear)")
        return []
    targets = check_rare(resolved.compiled, list(rare), DEFAULT_REPLICAS if replicas is None else replicas,
                         DEFAULT_REPETITIONS if repetitions is None else repetitions)
    return list({t.name: t for t in targets}.values())  # "war" and "5" are one target


# ---------------------------------------------------------------- sweeps and comparisons


@dataclass
class SweepResult:
    """`escsim sweep`'s result: the experiment as planned, what the sweep did, and where it is; it prints
    the table `escsim sweep` prints and draws the figure its design calls for."""

    experiment: Experiment
    report: SweepReport
    out: Path
    figures: list[Path] = field(default_factory=list)  # the figure files written, once every point is done

    @property
    def finished(self) -> bool:
        return self.report.computed + self.report.reused == len(self.experiment.points)

    @property
    def rows(self) -> list[dict]:
        """points.csv's rows: each point's parameters and probabilities with their intervals."""
        return load_sweep(self.out).rows

    def table(self) -> str:
        return format_points(self.experiment, self.out) if self.finished else (
            f"{self.report.computed + self.report.reused} of {len(self.experiment.points)} points done in {self.out}")

    def __str__(self) -> str:
        return self.table()

    def plot(self, kind: str | None = None, **request):
        """The sweep's figure (``kind`` and ``request`` as `escsim plot`'s --kind, --x, --y, --output,
        --risk), a matplotlib Figure, not saved."""
        return draw_sweep([load_sweep(self.out)], kind, **request)


def sweep(experiment, *, runs: int | None = None, out: str | Path | None = None, workers: int | None = None,
          scheduler: str | None = None, figures: bool = True, progress: bool = False,
          command: list[str] | None = None) -> SweepResult:
    """Run an experiment file's sweep as ``escsim sweep`` does: every point planned and validated first,
    then each point not already finished in ``out`` (default ``results/NAME``); an interrupted sweep
    resumes there. ``runs`` overrides the runs per point; with ``figures`` the design's figure is written
    beside the table once every point is done."""
    exp = load_experiment(experiment, runs=runs)
    out = Path(out) if out is not None else Path("results") / exp.meta.name
    report = run_sweep(exp, out, workers=workers, scheduler=scheduler, progress=progress, command=command)
    result = SweepResult(exp, report, out)
    if figures and result.finished:
        result.figures = sweep_figures([out])
    return result


def compare(targets, overrides=None, *, over: str | Path | None = None, runs: int | None = None,
            seed: Seed | None = None, posterior=None, workers: int | None = None, max_draws: int | None = None,
            progress: bool = False):
    """Paired differences as ``escsim compare`` gives them: ``targets`` (scenario files or results
    directories) against each other, or one scenario against itself with ``overrides`` (dotted key ->
    value for every target, or ``--set``'s ``[N:]KEY=VALUE`` strings, N for the N-th target); with ``over`` (an experiment file), each setting's difference in every posterior draw, where
    the experiment decides the seed and the posterior (``max_draws``: only its first draws). The result
    prints its table and has ``to_dict()``."""
    sets = [_as_set(k, v) for k, v in overrides.items()] if isinstance(overrides, dict) else list(overrides or [])
    if over is None:
        if max_draws is not None:
            raise InputError("max_draws: only with over (an experiment's draws)")
        return compare_targets(list(targets), sets, runs=runs, seed=seed, workers=workers,
                               posterior=posterior, progress=progress)
    if seed is not None:
        raise InputError("--seed: with --over the experiment decides it (its seed)")
    if posterior is not None:
        raise InputError("--posterior: with --over the experiment decides it (its scenario's posterior and its "
                         "'posterior' setting)")
    return compare_over(list(targets), over, sets, runs=runs, workers=workers, max_draws=max_draws,
                        progress=progress)


def _as_set(key: str, value) -> str:
    """A Python value as ``--set`` writes it (a TOML value), so the API and the command share one parser."""
    return f"{key}={value.isoformat() if isinstance(value, dt.date) else json.dumps(value)}"


def levers(experiment, *, runs: int | None = None, out: str | Path | None = None, workers: int | None = None,
           scheduler: str | None = None, progress: bool = False, command: list[str] | None = None) -> LeverRanking:
    """Rank a lever experiment's postures as ``escsim levers`` does: the experiment is checked to be a
    lever design (sampler pairs or oat, common random numbers) before anything runs, swept as
    :func:`sweep` sweeps it (resuming in ``out``), ranked (:func:`sim.analysis.levers.rank_levers`) and
    written as ``levers.csv`` beside the sweep's table; the ranking's ``path`` is that file."""
    check_lever_experiment(load_experiment(experiment, runs=runs))
    result = sweep(experiment, runs=runs, out=out, workers=workers, scheduler=scheduler, progress=progress,
                   command=command)
    ranking = rank_levers(load_sweep(result.out), result.experiment.meta.outputs)
    ranking.path = write_ranking(ranking, result.out)
    return ranking


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
    years = simulate_years(hc, runs, seed, workers=workers, progress=progress, parameters=resolved.parameters)
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
    years = simulate_years(cal.hindcast, runs, seed, workers=workers, parameters=histories.parameters)
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
