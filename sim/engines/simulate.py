"""Run an ensemble of one scenario with either engine and collect what it reports.

:func:`simulate` is the engine-level call: a compiled scenario at the values given (per-run
``run_values`` included), nothing resolved. :func:`simulate_resolved` runs what
:func:`sim.engines.resolve.resolve` resolved (a scenario with its posterior, overrides and seed); the
API above it (:func:`sim.run`) is what a notebook and the command line share.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sim.model.compile import CompiledScenario
from sim.engines.draws import Seed, as_root, run_seed
from sim.engines.ensemble import BatchOutput, fold, run_ensemble
from sim.engines.model import EscalationModel
from sim.model.outcomes import Totals
from sim.engines.parallel import chunks, map_in_order
from sim.engines.run_values import check_keys, with_run_values
from sim.engines.resolve import Resolved

ENGINES = ("ensemble", "mesa")
SAMPLE_PATHS = 5  # runs whose realised actions are kept, day by day, for plots
MESA_CHUNK = 25  # Mesa runs per task sent to a worker


@dataclass
class EnsembleResult:
    """What an ensemble returns: integer totals, optional per-run columns, a few sample paths.

    ``sample_actions`` is (S, T, N): the realised actions of the first S runs, day by day.
    """

    scenario: CompiledScenario
    runs: int
    seed: Seed
    engine: str
    totals: Totals
    per_run: dict[str, np.ndarray] | None = None
    sample_actions: np.ndarray = field(default_factory=lambda: np.zeros((0, 0, 0), dtype=np.int64))
    run_values: dict[str, np.ndarray] | None = None  # per-run run_values (key -> (runs,)), if any
    resolved: Resolved | None = None  # what was resolved: posterior draws, overrides, identity


def simulate_resolved(resolved: Resolved, *, workers: int | None = None, per_run: bool = True,
                      progress: bool = False) -> EnsembleResult:
    """Run every run of ``resolved`` (:func:`sim.engines.resolve.resolve`) with its perfect-perception
    twin. Runs that share posterior draws keep their per-run outcomes whatever ``per_run`` says: their
    intervals are over the draws and need them."""
    result = simulate(resolved.compiled, resolved.runs, resolved.seed, engine=resolved.engine, workers=workers,
                      per_run=per_run or resolved.draws is not None, progress=progress,
                      run_values=resolved.run_values)
    result.resolved = resolved
    return result


def simulate(scenario: CompiledScenario, runs: int = 10_000, seed: Seed = 0, *, engine: str = "ensemble",
             workers: int | None = None, twins: bool = True, per_run: bool = True,
             progress: bool = False, run_values=None) -> EnsembleResult:
    """Run ``runs`` runs of ``scenario`` seeded from ``seed`` and fold their outcomes.

    This is the engine-level call: ``scenario`` runs at its point values (or at the per-run
    ``run_values`` given); no posterior is drawn. To run a scenario as ``escsim run`` does, with its
    posterior and overrides resolved, use :func:`sim.run`.

    Run k uses draws fixed by (seed, k) alone, so any subset of runs gives the same per-run numbers.
    ``seed`` is an int (the ``RUN`` stream of :mod:`sim.engines.draws`) or a root from
    :func:`sim.engines.draws.make_root` (a sweep point's or a calibration's stream).
    Each run also runs its perfect-perception twin on the same draws (``twins``, on by default), which
    P(miscalculation) needs (docs/model.md section 6); ``twins=False`` saves the twins' cost where only
    crises, wars and provocations matter. ``engine="ensemble"`` (the default) steps
    all runs as arrays; ``engine="mesa"`` steps one Mesa model per run. Both use ``workers``
    processes (default: all cores). The two engines draw from different streams (ensemble
    blocks vs. Mesa runs), so they agree in distribution, not run by run; replay an ensemble run in
    Mesa with :meth:`sim.engines.model.EscalationModel.replay`. ``run_values`` (:mod:`sim.engines.run_values`;
    key -> one value per run) gives each run its own parameter values, in either engine.
    """
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; choose from {', '.join(ENGINES)}")
    if runs < 1:
        raise ValueError(f"runs must be at least 1, got {runs}")
    seed = as_root(seed)
    if engine == "ensemble":
        totals, table, samples = run_ensemble(scenario, runs, seed, workers=workers, twins=twins,
                                              per_run=per_run, samples=SAMPLE_PATHS, progress=progress,
                                              run_values=run_values)
    else:
        if run_values:
            check_keys(scenario, run_values)
        tasks = [(scenario, seed, a, b, {k: np.asarray(v, float)[a:b] for k, v in (run_values or {}).items()})
                 for a, b in chunks(runs, MESA_CHUNK)]
        outputs = map_in_order(run_mesa_chunk, tasks, workers, twins=twins, per_run=per_run)
        totals, table, samples = fold(outputs, scenario, runs, progress)
    return EnsembleResult(scenario, runs, seed, engine, totals, table, samples,
                          run_values={k: np.asarray(v, dtype=float) for k, v in run_values.items()} if run_values else None)


def run_mesa_chunk(scenario: CompiledScenario, seed: Seed, start: int, stop: int, run_values=None, *,
                   twins: bool = False, per_run: bool = True) -> BatchOutput:
    """Mesa runs ``start .. stop - 1`` of an ensemble seeded ``seed``, folded; ``parameters`` holds
    these runs' per-run values (key -> (stop - start,) array), if any."""
    totals, columns, samples = None, {}, []
    for k in range(start, stop):
        own = (with_run_values(scenario, {key: v[k - start:k - start + 1] for key, v in run_values.items()})
               if run_values else scenario)
        model = EscalationModel(own, rng=run_seed(seed, k)).run()
        twin = None
        if twins:
            # The same rng gives the twin the same draws (the layout never depends on the state).
            twin = EscalationModel(own, rng=run_seed(seed, k), perfect_perception=True).run().outcomes
        part = Totals.from_tracker(model.outcomes, twin)
        totals = part if totals is None else totals + part
        if per_run:
            for name, col in model.outcomes.per_run(twin).items():
                columns.setdefault(name, []).append(col)
        if k < SAMPLE_PATHS:
            samples.append(model.history["realised"])
    table = {k: np.concatenate(v) for k, v in columns.items()} if per_run else None
    return BatchOutput(totals, table, np.stack(samples) if samples else None)
