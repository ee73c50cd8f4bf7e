"""The vectorized engine: every run of an ensemble as NumPy arrays, in fixed blocks of 1,024 runs.

Run k of an ensemble seeded S is row k % 1024 of block k // 1024, and block b draws its numbers from
its own stream below the ensemble's root (:func:`sim.engines.draws.block_seed`) in the fixed layout of
:mod:`sim.engines.draws`, always for all 1,024
rows (a last, partial block simulates them all and keeps the runs it needs). A run's numbers therefore
depend only on (S, k): not on the run count, the number of workers or how blocks are batched. Blocks
are stepped together in batches (up to four side by side, to amortise Python's per-call cost, and
fewer when that leaves a worker idle), folded into integer :class:`~sim.model.outcomes.Totals` and summed in block order; memory
stays that of one batch per worker however many runs there are.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from tqdm.auto import tqdm

from sim.model import kernel
from sim.model.compile import CompiledScenario
from sim.engines.draws import BLOCK_SIZE, Seed, StepDraws, as_root, block_regime_uniforms, block_seed, fill_step, n_uniforms
from sim.model.outcomes import OutcomeTracker, Totals
from sim.engines.run_values import check_keys, with_run_values
from sim.engines.parallel import chunks, default_workers, map_in_order

BLOCKS_PER_BATCH = 4  # the most blocks stepped side by side: more gains little per call, costs memory
BATCH_COST = 0.2  # a batch's fixed cost, in blocks' time: n blocks side by side take about n + 0.2 blocks'
# time (one core, korea_baseline: 8 blocks in batches of 1, 2, 4 took 1.93, 1.71-1.79, 1.61-1.74 s)


def batch_size(n_blocks: int, workers: int) -> int:
    """Blocks per batch (1 to BLOCKS_PER_BATCH): the size with which ``n_blocks`` blocks finish soonest
    on ``workers`` processes that each take the next batch as they free up, a batch of n blocks
    taking n + BATCH_COST blocks' time. Larger batches spread the fixed cost; smaller ones share the
    blocks evenly (16 blocks on 2 workers: batches of 4, two each; 10 blocks on 2: batches of 1).
    Ties go to the smaller batch, whose progress is smoother."""

    def finish(size: int) -> float:
        free = [0.0] * workers  # when each worker is next free
        for start in range(0, n_blocks, size):
            k = free.index(min(free))
            free[k] += min(size, n_blocks - start) + BATCH_COST
        return max(free)

    return min(range(1, max(1, min(BLOCKS_PER_BATCH, n_blocks)) + 1), key=lambda size: (finish(size), size))


@dataclass
class BatchOutput:
    """What one batch of runs returns to be folded (both engines' batches)."""

    totals: Totals
    per_run: dict[str, np.ndarray] | None
    sample_actions: np.ndarray | None  # (S, T, N) realised actions of the first runs of block 0, else None
    trace: dict[str, np.ndarray] | None = None


def run_batch(sc: CompiledScenario, seed: Seed, first_block: int, n_blocks: int, runs: int, *,
              twins: bool = False, per_run: bool = False, samples: int = 0, trace: bool = False,
              run_values: Mapping[str, np.ndarray] | None = None, days_of: int | None = None) -> BatchOutput:
    """Step blocks ``first_block .. first_block + n_blocks - 1`` side by side for the whole horizon.

    ``runs`` is the ensemble's total run count (rows past it in the last block are simulated, for the
    fixed layout, and not counted). ``trace`` keeps every step's arrays for every row (tests, replay
    checks); it costs memory in proportion to rows x steps. ``run_values`` gives each row its own
    values (:mod:`sim.engines.run_values`): key -> (n_blocks * 1024,) array, row by row. ``days_of``
    (an actor index; with ``per_run``) adds the per-run entry ``provocation_steps`` (runs, T) bool:
    the steps on which that actor provoked (a hindcast's monthly counts and lags are made of it).
    """
    if run_values:
        sc = with_run_values(sc, run_values)
    N, T = sc.n_actors, sc.horizon
    R = n_blocks * BLOCK_SIZE
    first_run = first_block * BLOCK_SIZE
    valid = max(0, min(R, runs - first_run))
    rngs = [np.random.default_rng(block_seed(seed, first_block + b)) for b in range(n_blocks)]
    uniforms = np.empty((R, n_uniforms(N)))
    normals = np.empty((R, N, N))
    draws = StepDraws(uniforms, normals, N)
    regime = kernel.run_regimes(  # a twin has the same regimes: it differs in perception only
        sc, np.concatenate([block_regime_uniforms(seed, first_block + b, N) for b in range(n_blocks)]))
    twin_sc = sc.perfect_perception() if twins else None

    states = [(sc, np.broadcast_to(sc.baseline, (R, N)).copy(), np.zeros((R, N)),
               OutcomeTracker.for_scenario(sc, valid, days_of=days_of if per_run else None))]
    if twins:
        states.append((twin_sc, states[0][1].copy(), np.zeros((R, N)),
                       OutcomeTracker.for_scenario(sc, valid, crisis_only=True)))
    keep = min(samples, valid) if first_block == 0 else 0
    sample_actions = np.zeros((keep, T, N), dtype=np.int64)
    paths = _empty_trace(R, T, N) if trace else None
    if paths is not None:
        paths["level"][:, 0] = sc.baseline

    for t in range(T):
        for b, rng in enumerate(rngs):
            rows = slice(b * BLOCK_SIZE, (b + 1) * BLOCK_SIZE)
            fill_step(rng, uniforms[rows], normals[rows])
        for k, (scen, level, threat, track) in enumerate(states):
            nxt, th, step = step_runs(scen, t, level, threat, draws, regime, tag=k == 0)
            track.tally(t, *(step[k][:valid] for k in ("realised", "misperceived", "mde", "source", "provoked",
                                                          "contact")))
            if k == 0:
                if keep:
                    sample_actions[:, t] = step["realised"][:keep]
                if paths is not None:
                    for name, arr in step.items():
                        paths[name][:, t] = arr
                    paths["level"][:, t + 1] = nxt
                    paths["threat"][:, t + 1] = th
            states[k] = (scen, nxt, th, track)

    main, twin = states[0][3], (states[1][3] if twins else None)
    table = main.per_run(twin) if per_run else None
    return BatchOutput(Totals.from_tracker(main, twin), table, sample_actions if keep else None, paths)


def step_runs(sc: CompiledScenario, t: int, level: np.ndarray, threat: np.ndarray, draws: StepDraws,
              regime: np.ndarray, tag: bool = True):
    """One step of MODEL.md section 4 for all runs and actors at once.

    level (R, N) int, threat (R, N) float, regime (R, N) the runs' base-rate multipliers. Returns
    next level, next threat and the step's arrays (intended, provoked, contact, realised, perceived,
    misperceived, mde, source, hostile_level). ``tag=False`` skips the MDE tag (a twin's).
    """
    intended, provoked, contact = kernel.intend_phase(sc, t, level, threat, draws, regime)
    realised, _ = kernel.execute_phase(sc, intended, draws)
    realised, intended, _ = kernel.exchange_phase(sc, realised, intended, contact, draws)
    perceived, misread, q = kernel.perceive_phase(sc, t, level, realised, draws)
    next_threat = kernel.threat_phase(sc, t, threat, perceived)
    decided, mde, source = kernel.decide_phase(sc, level, intended, perceived, q, next_threat, draws, tag=tag)
    next_level = kernel.backchannel_phase(sc, t, decided, level, draws)
    step = {"intended": intended, "realised": realised, "perceived": perceived, "misperceived": misread,
            "mde": mde, "source": source, "hostile_level": q, "provoked": provoked, "contact": contact}
    return next_level, next_threat, step


def _empty_trace(R: int, T: int, N: int) -> dict[str, np.ndarray]:
    return {
        "intended": np.zeros((R, T, N), dtype=np.int64),
        "realised": np.zeros((R, T, N), dtype=np.int64),
        "perceived": np.zeros((R, T, N, N)),
        "misperceived": np.zeros((R, T, N, N), dtype=bool),
        "mde": np.zeros((R, T, N), dtype=bool),
        "source": np.zeros((R, T, N), dtype=np.int64),
        "provoked": np.zeros((R, T, N), dtype=bool),
        "contact": np.zeros((R, T, N), dtype=bool),
        "hostile_level": np.zeros((R, T, N)),
        "level": np.zeros((R, T + 1, N), dtype=np.int64),
        "threat": np.zeros((R, T + 1, N)),
    }


def run_ensemble(sc: CompiledScenario, runs: int, seed: Seed, *, first_run: int = 0, workers: int | None = None,
                 blocks_per_batch: int | None = None, twins: bool = False, per_run: bool = False,
                 samples: int = 0, progress: bool = False, run_values: Mapping[str, np.ndarray] | None = None):
    """Run runs ``first_run .. first_run + runs - 1`` in blocks across ``workers`` processes; fold in order.

    ``seed`` is an int (the run stream of that seed) or a root from :func:`sim.engines.draws.make_root`
    (a sweep point's, a calibration's). ``first_run`` must start a block; totals of consecutive
    ranges add up to the totals of their union, which lets a caller extend an ensemble (adaptive
    stopping) without redoing runs. ``blocks_per_batch`` fixes the batch size (default: adapted to
    the blocks and workers by :func:`batch_size`); no choice of it or of ``workers`` changes a number.
    ``run_values`` (:mod:`sim.engines.run_values`) gives run ``first_run + k`` the values ``run_values[key][k]``
    (each array has ``runs`` entries); a run's numbers then depend on (seed, run, its values) alone.
    Returns (totals, per-run columns or None, sample paths of realised actions (S, T, N)).
    """
    return run_ensembles([(sc, runs, seed, run_values)], first_run=first_run, workers=workers,
                         blocks_per_batch=blocks_per_batch, twins=twins, per_run=per_run, samples=samples,
                         progress=progress)[0]


def run_ensembles(jobs, *, first_run: int = 0, workers: int | None = None, blocks_per_batch: int | None = None,
                  twins: bool = False, per_run: bool = False, samples: int = 0, progress: bool = False,
                  days_of: Mapping[int, int] | None = None) -> list:
    """:func:`run_ensemble` for several ensembles at once, their batches sharing one pool of workers.

    ``jobs`` is a list of (scenario, runs, seed, run_values or None). For ensembles too small to
    keep every core busy alone (a calibration's years: one block each), so that 11 of them take
    11 tasks on all cores instead of 11 rounds of one task on one core. Each job's result is exactly
    what :func:`run_ensemble` gives it alone. Returns one (totals, table, samples) per job.
    ``days_of`` (job index -> actor index; with ``per_run``) adds that actor's ``provocation_steps``
    (runs, T) to the job's table (:func:`run_batch`).
    """
    if blocks_per_batch is not None and blocks_per_batch < 1:
        raise ValueError(f"blocks_per_batch must be at least 1, got {blocks_per_batch}")
    if first_run % BLOCK_SIZE:
        raise ValueError(f"first_run must be a multiple of {BLOCK_SIZE}, got {first_run}")
    plans = [_plan(sc, runs, as_root(seed), first_run, run_values) for sc, runs, seed, run_values in jobs]
    total_blocks = sum(p[2] for p in plans)
    size = blocks_per_batch or batch_size(total_blocks, min(workers or default_workers(), total_blocks))
    first_block = first_run // BLOCK_SIZE
    tasks, per_job = [], []
    for j, (sc, seed, n_blocks, end, run_values) in enumerate(plans):
        batches = list(chunks(n_blocks, size))
        per_job.append(len(batches))
        tasks += [(sc, seed, first_block + b0, b1 - b0, end,
                   _rows_of(run_values, (first_block + b0) * BLOCK_SIZE - first_run, (b1 - b0) * BLOCK_SIZE),
                   (days_of or {}).get(j))
                  for b0, b1 in batches]
    outputs = iter(map_in_order(_run_task, tasks, workers, twins=twins, per_run=per_run, samples=samples))
    results = []
    for (sc, _, _, _, _), (_, runs, _, _), n_tasks in zip(plans, jobs, per_job):
        mine = (next(outputs) for _ in range(n_tasks))  # tasks are in job order
        totals, table, sample_actions = fold(mine, sc, runs, progress)
        if table is not None:
            table["run"] = table["run"] + first_run
        results.append((totals, table, sample_actions))
    return results


def _plan(sc: CompiledScenario, runs: int, seed, first_run: int, run_values):
    """One ensemble's checked inputs: (scenario, root, blocks, end run, per-run parameters as floats)."""
    if runs < 1:
        raise ValueError(f"runs must be at least 1, got {runs}")
    end = first_run + runs
    n_blocks = -(-end // BLOCK_SIZE) - first_run // BLOCK_SIZE
    if run_values:
        check_keys(sc, run_values)
        run_values = {k: np.asarray(v, dtype=float) for k, v in run_values.items()}
        bad = {k: v.shape for k, v in run_values.items() if v.shape != (runs,)}
        if bad:
            raise ValueError(f"per-run values need {runs} values each (one per run); got shapes {bad}")
    return sc, seed, n_blocks, end, run_values


def _run_task(sc, seed, first_block, n_blocks, runs, run_values, days_of, **options) -> BatchOutput:
    """One task of :func:`run_ensemble`: a batch with its rows' per-run parameters (None: none)."""
    return run_batch(sc, seed, first_block, n_blocks, runs, run_values=run_values, days_of=days_of, **options)


def _rows_of(run_values: Mapping[str, np.ndarray] | None, start: int, rows: int) -> dict[str, np.ndarray] | None:
    """Rows ``start .. start + rows - 1`` of every per-run array; rows past the end (the simulated,
    uncounted tail of a last block) repeat the first run's values."""
    if not run_values:
        return None
    out = {}
    for key, v in run_values.items():
        idx = np.arange(start, start + rows)
        out[key] = v[np.where(idx < len(v), idx, 0)]
    return out


def fold(outputs, sc: CompiledScenario, runs: int, progress: bool):
    """Sum totals in order (outputs arrive in run order); join per-run columns; keep the samples.

    ``outputs`` yields objects with ``totals``, ``per_run`` and ``sample_actions``. Returns
    (totals, per-run table or None, sample paths of realised actions (S, T, N)).
    """
    totals, columns, samples = None, [], []
    with tqdm(total=runs, desc=sc.name, unit="run", unit_scale=True, disable=not progress, delay=1.0,
              leave=False) as bar:
        for out in outputs:
            totals = out.totals if totals is None else totals + out.totals
            if out.per_run is not None:
                columns.append(out.per_run)
            if out.sample_actions is not None:
                samples.append(out.sample_actions)
            bar.update(out.totals.runs)
    table = None
    if columns:
        table = {"run": np.arange(runs), **{k: np.concatenate([c[k] for c in columns]) for k in columns[0]}}
    sample_actions = (np.concatenate(samples) if samples
                      else np.zeros((0, sc.horizon, sc.n_actors), dtype=np.int64))
    return totals, table, sample_actions
