"""The calls behind the commands: what `escsim run` does, a notebook does with the same call.

>>> import sim
>>> result = sim.run("scenarios/korea_baseline.toml", runs=6400)   # doctest: +SKIP
>>> print(result)                          # the table escsim run prints  # doctest: +SKIP
>>> result.summary["p_miscalculation"]     # the numbers summary.json holds  # doctest: +SKIP
>>> result.save("results/mine")            # the directory escsim run writes  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sim.analysis.rare import DEFAULT_REPETITIONS, DEFAULT_REPLICAS, check_rare, estimate_rare, resolve_rare, summarise_rare
from sim.core.errors import InputError
from sim.core.files import replace_dir
from sim.engines.draws import Seed
from sim.engines.resolve import Resolved, resolve
from sim.engines.simulate import EnsembleResult, simulate_resolved
from sim.io.rundir import check_run_dir, default_out, keeps_runs_table, write_results
from sim.io.summary import format_table, summarise
from sim.ui.plots import run_figures


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

