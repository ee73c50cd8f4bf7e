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
from dataclasses import dataclass, field
from pathlib import Path

from sim.analysis.compare import compare as compare_targets
from sim.analysis.experiment import Experiment, load_experiment
from sim.analysis.levers import LeverRanking, check_lever_experiment, rank_levers, write_ranking
from sim.analysis.over import compare_over
from sim.analysis.sweep import SweepReport, format_points, load_sweep, run_sweep
from sim.analysis.rare import DEFAULT_REPETITIONS, DEFAULT_REPLICAS, certain, check_rare, widest, estimate_rare, resolve_rare, summarise_rare
from sim.core.errors import InputError
from sim.core.files import replace_dir
from sim.engines.draws import Seed
from sim.engines.resolve import Resolved, resolve
from sim.engines.simulate import EnsembleResult, simulate_resolved
from sim.io.rundir import check_run_dir, default_out, keeps_runs_table, totals_arrays, write_results
from sim.io.summary import format_table, summarise
from sim.ui.plots import RUN_FIGURES, draw_run, draw_sweep, run_figures, sweep_figures


@dataclass
class RunResult:
    """A scenario's ensemble as `escsim run` gives it: what was resolved, the ensemble, its summary
    (``summary.json``'s numbers, the rare outcomes' included) and, once saved, where it went."""

    resolved: Resolved
    ensemble: EnsembleResult | None  # None: every --rare target was certain, so nothing ran
    summary: dict
    written: dict = field(default_factory=dict)  # once saved: the files written (key -> path or paths)
    saved_to: Path | None = None  # once saved: the results directory

    def table(self) -> str:
        """The table `escsim run` prints (with nothing run: one line per certain target)."""
        if self.ensemble is None:
            return "\n".join(f"P({r['rung_name']}) = 1: {r['reason']}; nothing was run"
                              for r in self.summary["rare"].values())
        return format_table(self.summary)

    def __str__(self) -> str:
        return self.table()

    def plot(self, kind: str = "curves"):
        """The run's figure, as `escsim plot` draws it from the saved directory: ``"curves"`` (escalation
        curves with their bands), ``"paths"`` (each actor's rung over time) or ``"tail"`` (P(highest rung
        >= k) on a log axis, crude and by splitting; with ``rare``). A matplotlib Figure, not saved
        (``save_figure(fig, path)`` saves one)."""
        if kind not in RUN_FIGURES:
            raise InputError(f"kind {kind!r}: a run has figures {', '.join(RUN_FIGURES)}")
        return draw_run(kind, self.ensemble.scenario, totals_arrays(self.ensemble), self.summary.get("rare"))

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
    ``replicas`` x ``repetitions``, one posterior draw per repetition; when every target is certain
    (:func:`sim.analysis.rare.certain`) nothing runs and nothing is saved: the result has no ensemble and
    its summary only ``rare``. With ``save``, the results
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
    if targets and all(certain(resolved.compiled, t.rung) for t in targets):  # said so; nothing to run or write
        return RunResult(resolved, None, {"rare": {t.name: summarise_rare(estimate_rare(
            resolved.compiled, t, replicas=DEFAULT_REPLICAS if replicas is None else replicas,
            repetitions=DEFAULT_REPETITIONS if repetitions is None else repetitions, seed=seed))
            for t in targets}})
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
    targets = check_rare(widest(resolved.compiled, resolved), list(rare), DEFAULT_REPLICAS if replicas is None else replicas,
                         DEFAULT_REPETITIONS if repetitions is None else repetitions)
    first = {}
    for t in targets:  # "war" and "5" are one target: the first name given stays
        first.setdefault(t.rung, t)
    return list(first.values())


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
    resumes there. ``experiment`` is a file, or an :class:`Experiment` already loaded (and planned with
    its ``runs``); ``runs`` overrides a file's runs per point; with ``figures`` the design's figure is
    written beside the table once every point is done."""
    exp = _experiment(experiment, runs)
    out = Path(out) if out is not None else Path("results") / exp.meta.name
    report = run_sweep(exp, out, workers=workers, scheduler=scheduler, progress=progress, command=command)
    result = SweepResult(exp, report, out)
    if figures and result.finished:
        result.figures = sweep_figures([out])
    return result


def _experiment(experiment, runs: int | None) -> Experiment:
    """An experiment file loaded and planned (every point validated), or one already loaded, which
    keeps the runs it was planned with."""
    if not isinstance(experiment, Experiment):
        return load_experiment(experiment, runs=runs)
    if runs is not None and runs != experiment.runs:
        raise InputError(f"runs={runs}: {experiment.source} is already planned with {experiment.runs} runs per "
                         "point; load it with load_experiment(..., runs=...)")
    return experiment


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
    exp = _experiment(experiment, runs)
    check_lever_experiment(exp)
    result = sweep(exp, out=out, workers=workers, scheduler=scheduler, progress=progress,
                   command=command)
    ranking = rank_levers(load_sweep(result.out), result.experiment.meta.outputs)
    ranking.path = write_ranking(ranking, result.out)
    return ranking


def optimize(experiment, *, runs: int | None = None, out: str | Path | None = None, workers: int | None = None,
             figures: bool = True, progress: bool = False):
    """Search an optimisation file's lever combinations as ``escsim optimize`` does
    (:func:`sim.analysis.pareto.optimize`: NSGA-II on common random numbers, resuming in ``out``, default
    ``results/NAME``), with its Pareto set, hypervolume by generation per seed and, with a
    ``[robustness]`` table, regret and satisficing, the value of information (``result.evppi``: EVPI and
    each uncertain parameter's EVPPI, :mod:`sim.analysis.evppi`) and the PRIM boxes of where each policy
    fails (``result.failures``; None without the discover extra); with ``figures``, ``pareto``,
    ``hypervolume`` and ``evppi`` figures beside the results (their paths in ``result.figures``). Needs
    the ``optimize`` extra."""
    try:
        from sim.analysis.pareto import optimize as run_optimize
        import pymoo  # noqa: F401
    except ImportError:
        raise InputError("optimize needs pymoo: pip install 'escalation-sim[optimize]'") from None
    result = run_optimize(experiment, runs=runs, out=out, workers=workers, progress=progress)
    if figures:
        from sim.ui.plots import optimize_figures

        result.figures = optimize_figures(result)
    return result


# the record's calls (hindcast, calibrate, forecast, evaluate, import-record) live in sim.ui.api_record
from sim.ui.api_record import (CalibrationResult, EvaluationResult, ForecastResult, HindcastResult,  # noqa: E402,F401
                               calibrate, evaluate, forecast, hindcast, import_record)
