"""Parameter sweeps: one ensemble per planned point, on a process pool or a Dask cluster, resumable.

A sweep's results directory holds ``manifest.json`` (the experiment as resolved, its fingerprint,
seeds, versions), one ``points/NNNNNN.json`` per finished point, and ``points.csv``, the tidy table
(a row per finished point, in point order), rewritten after every point. Every file is written
atomically, so killing a sweep loses at most the points in flight; running the same command again
computes only the missing points and ends with the table an uninterrupted run would have written.
A directory holding another experiment's results (or the same one with other runs per point) is
refused, never mixed in.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydantic import ValidationError
from tqdm.auto import tqdm

from sim.core.numbers import finite_or_none
from sim.io.notes import flat_notes
from sim.model.compile import CompiledScenario
from sim.engines.draws import BLOCK_SIZE, stream_label
from sim.engines.ensemble import run_ensemble
from sim.core.errors import InputError
from sim.analysis.pairing import SweepPairing, pack_outcomes
from sim.analysis.experiment import Experiment, ExperimentFile, salib_problem
from sim.engines.parallel import connect, map_as_completed
from sim.core.files import atomic_write, claim_dir, versions
from sim.io.summary import summarise_totals
from sim.model.outcomes import LABELS, DrawCounts

ADAPTIVE_STEP = 4 * BLOCK_SIZE  # runs added per round when stopping early on a target half-width


@dataclass
class SweepReport:
    """What a sweep did: points computed now, points found done, where the table is."""

    computed: int
    reused: int
    table: Path
    sensitivity: Path | None


def run_point(scenario: CompiledScenario, seed, run_values: dict[str, np.ndarray] | None = None, *, runs: int,
              target_half_width: float | None = None, outcome_bits: tuple[str, ...] = (),
              runs_per_draw: int | None = None) -> dict:
    """One point's ensemble (one process), summarised; stops early once P(miscalculation)'s 95%
    interval is narrower than ``target_half_width`` on each side (checked every 4,096 runs).
    ``outcome_bits`` names outputs whose per-run outcomes come back too, as bit vectors in
    ``summary["outcome_bits"]`` (for paired differences, :class:`sim.analysis.pairing.SweepPairing`). Every run
    has its perfect-perception twin, which P(miscalculation) needs. ``run_values`` (key -> (runs,))
    gives each run its own values (:mod:`sim.engines.run_values`), as drawn from a posterior, consecutive
    ``runs_per_draw`` runs sharing a draw: every interval is then over the draws."""
    step = runs if target_half_width is None else min(runs, ADAPTIVE_STEP)
    totals, done, tables = None, 0, []
    while done < runs:
        n = min(step, runs - done)
        part, table, _ = run_ensemble(scenario, n, seed, first_run=done, workers=1, twins=True,
                                      per_run=bool(outcome_bits) or runs_per_draw is not None,
                                      run_values={k: v[done:done + n] for k, v in (run_values or {}).items()})
        tables.append(table)
        totals = part if totals is None else totals + part
        done += n
        if target_half_width is not None:
            e = summarise_totals(scenario, totals, seed=seed, by_draw=_by_draw(tables, runs_per_draw, scenario))
            p = e["p_miscalculation"]
            if p["ci_low"] is not None and max(p["estimate"] - p["ci_low"], p["ci_high"] - p["estimate"]) <= target_half_width:
                break
    summary = summarise_totals(scenario, totals, seed=seed, by_draw=_by_draw(tables, runs_per_draw, scenario))
    if outcome_bits:
        summary["outcome_bits"] = pack_outcomes(tables, scenario.top_rung, outcome_bits)
    return summary


def _by_draw(tables: list[dict], runs_per_draw: int | None, scenario: CompiledScenario) -> DrawCounts | None:
    """The runs' counts per posterior draw, from the per-run tables of consecutive run ranges."""
    if runs_per_draw is None:
        return None
    joined = {k: np.concatenate([t[k] for t in tables]) for k in tables[0]}
    return DrawCounts.from_runs(joined, runs_per_draw, scenario.top_rung)


def point_row(exp: Experiment, index: int, summary: dict) -> dict:
    """The tidy-table row of one point: its parameters, runs, each probability with its interval, and
    summary statistics of its escalation curve."""
    point = exp.points[index]
    row = {"point": index, **point.values, "runs": summary["runs"], "seed": stream_label(point.seed)}
    for name in exp.meta.outputs:
        e = summary[name]
        row[name], row[f"{name}_low"], row[f"{name}_high"] = e["estimate"], e["ci_low"], e["ci_high"]
    row["interval"] = summary[exp.meta.outputs[0]]["interval"]  # what the _low and _high columns are
    counts = np.array(list(summary["max_rung_distribution"].values()))
    n = counts.sum()
    row["mean_max_rung"] = float((np.arange(len(counts)) * counts).sum() / n)
    for k in range(1, len(counts)):
        row[f"p_max_rung_ge_{k}"] = float(counts[k:].sum() / n)
    row["mean_misreading_lag_days"] = summary["misreading_lag_days_mean"]
    prov = summary.get("provocation_days_per_run", {})
    # one column per actor (0 for an actor that never provoked), so every point has the same columns
    for actor in point.scenario.actor_ids:
        row[f"mean_provocation_days_{actor}"] = float(prov[actor]["mean"]) if actor in prov else 0.0
    row.update(summary.get("paired_columns", {}))  # difference from the baseline point (sim.analysis.compare)
    return row


def run_sweep(exp: Experiment, out: str | Path, *, workers: int | None = None, scheduler: str | None = None,
              progress: bool = False, command: list[str] | None = None) -> SweepReport:
    """Run every point of ``exp`` not already finished in ``out``; see the module docstring."""
    out = Path(out)
    client = connect(scheduler) if scheduler else None  # an unreachable cluster fails before any write
    done: dict[int, dict] = {}
    try:
        _claim(out, exp, command)
        done = _finished(out, exp)
        pairing = SweepPairing(exp, out)  # common random numbers: each point against the baseline, run by run
        todo = pairing.plan([p for p in exp.points if p.index not in done], exp.points)
        args = dict(runs=exp.runs, target_half_width=exp.meta.target_half_width,
                    outcome_bits=pairing.outputs, runs_per_draw=exp.runs_per_draw)
        tasks = [(p.index, _task(exp.point_resolved(p))) for p in todo]
        results = _on_dask(client, tasks, args) if client else map_as_completed(run_point, tasks, workers, **args)
        with tqdm(total=len(exp.points), initial=len(done), desc=exp.meta.name, unit="point",
                  disable=not progress, leave=False) as bar:
            for index, summary in results:
                for index, summary in pairing.ready(index, summary):  # a row waits for the baseline's runs
                    row = point_row(exp, index, summary)
                    atomic_write(out / "points" / f"{index:06d}.json", json.dumps(row) + "\n")  # column order kept
                    done[index] = row
                    write_table(out / "points.csv", [done[i] for i in sorted(done)])
                bar.update(1)
    finally:
        if client is not None:
            client.close()
        # Even when interrupted between a point's file and the table: the table of every finished point.
        write_table(out / "points.csv", [done[i] for i in sorted(done)])
    sens = None
    if exp.meta.sampler == "saltelli" and len(done) == len(exp.points):
        sens = out / "sensitivity.json"
        atomic_write(sens, json.dumps(sobol_indices(exp, [done[i] for i in sorted(done)]), indent=2) + "\n")
    return SweepReport(len(todo), len(exp.points) - len(todo), out / "points.csv", sens)


def _task(resolved) -> tuple:
    """run_point's arguments for one resolved point: its compiled scenario, stream and per-run values."""
    return resolved.compiled, resolved.seed, resolved.run_values


def _on_dask(client, tasks, args):
    from dask.distributed import as_completed

    futures = {client.submit(run_point, *task, pure=False, **args): index for index, task in tasks}
    for future in as_completed(list(futures)):
        yield futures[future], future.result()


def _claim(out: Path, exp: Experiment, command) -> None:
    """Make ``out`` this experiment's directory, or refuse if it holds another's results."""
    def refuse(theirs: dict) -> str | None:
        if theirs.get("fingerprint") == exp.fingerprint:
            return None
        why = ("the same experiment with other runs per point"
               if theirs.get("experiment_name") == exp.meta.name and theirs.get("runs_per_point") != exp.runs
               else f"experiment {theirs.get('experiment_name')!r} as it was then")
        return f"holds results of {why} (runs per point {theirs.get('runs_per_point')})"

    claim_dir(out, "a sweep directory", "points", lambda: {
        "experiment_file": exp.source,
        "experiment_name": exp.meta.name,
        "fingerprint": exp.fingerprint,
        "runs_per_point": exp.runs,
        "resolved": exp.resolved(),
        "versions": versions(),
        "command": command,
    }, refuse)


def _finished(out: Path, exp: Experiment) -> dict[int, dict]:
    """Rows of the points already written (a point file is whole or absent: writes are atomic)."""
    done = {}
    for path in sorted((out / "points").glob("*.json")):
        row = json.loads(path.read_text())
        if 0 <= row.get("point", -1) < len(exp.points):
            done[row["point"]] = row
    return done


def write_table(path: Path, rows: list[dict]) -> None:
    """The tidy table: one row per point, in the order given."""
    if not rows:
        return
    text = io.StringIO()
    # every row's columns (rows of an older version's sweep may lack the paired ones)
    writer = csv.DictWriter(text, fieldnames=list(dict.fromkeys(k for row in rows for k in row)), lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: ("" if v is None else v) for k, v in row.items()} for row in rows)
    atomic_write(path, text.getvalue())


def sobol_indices(exp: Experiment, rows: list[dict]) -> dict:
    """First-order and total Sobol indices with 95% intervals for each output, by SALib."""
    from SALib.analyze import sobol

    problem = salib_problem(exp.parameters)
    out = {"problem": problem, "base_samples": exp.meta.points, "indices": {}}
    for name in exp.meta.outputs:
        y = np.array([r[name] for r in rows], dtype=float)
        res = sobol.analyze(problem, y, calc_second_order=False, conf_level=0.95, seed=exp.meta.seed)
        out["indices"][name] = {
            p: {"S1": finite_or_none(res["S1"][i]), "S1_conf": finite_or_none(res["S1_conf"][i]),
                "ST": finite_or_none(res["ST"][i]), "ST_conf": finite_or_none(res["ST_conf"][i])}
            for i, p in enumerate(problem["names"])
        }
    return out


# ---------------------------------------------------------------- reading a sweep directory back


@dataclass(frozen=True)
class SweepResults:
    """One `escsim sweep` directory as the figures need it: design, parameter columns, table rows."""

    path: Path
    name: str
    sampler: str
    columns: list[str]
    outputs: list[str]
    rows: list[dict]

    def numeric(self, column: str) -> bool:
        return all(is_number(r[column]) for r in self.rows)

    def levels(self, column: str) -> list[str]:
        """The column's values in the order the design first takes them."""
        return list(dict.fromkeys(r[column] for r in self.rows))


def load_sweep(results: Path) -> SweepResults:
    """Read a sweep directory's manifest and table; a missing or empty one is an InputError."""
    results = Path(results)
    manifest, table = results / "manifest.json", results / "points.csv"
    if not manifest.exists() or not table.exists():
        raise InputError(f"{results}: needs manifest.json and points.csv of escsim sweep")
    try:
        spec = ExperimentFile.model_validate(json.loads(manifest.read_text())["resolved"]["experiment"])
    except (KeyError, ValidationError):
        raise InputError(f"{manifest}: not the manifest of an escsim sweep this version can read") from None
    with open(table, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        raise InputError(f"{table}: no finished points yet")
    meta = spec.experiment
    return SweepResults(results, meta.name, meta.sampler, [p.column for p in spec.parameters],
                        [o for o in meta.outputs if o in rows[0]], rows)


def is_number(text) -> bool:
    try:
        float(text)
    except (TypeError, ValueError):
        return False
    return str(text) not in ("True", "False")


def format_points(exp: Experiment, results: Path, limit: int = 40) -> str:
    """A sweep's table as `escsim sweep` prints it: each point's parameters and probabilities (percent)
    with their 95% intervals, at most ``limit`` points (the rest are in points.csv), and what the
    parameters and intervals were."""
    s = load_sweep(results)
    draws = exp.resolution.draws
    what = (f"runs draw from {draws.posterior.path} ({draws.runs_per_draw} runs a draw, the same draws at every "
            "point)" if draws else "the scenario's point values")
    header = [*s.columns, *(LABELS[o] for o in s.outputs)]

    def cell(row, o):
        if row.get(f"{o}_low") in (None, ""):
            return f"{100 * float(row[o]):.2f}%"
        return f"{100 * float(row[o]):.2f}% [{100 * float(row[o + '_low']):.2f}, {100 * float(row[o + '_high']):.2f}]"

    body = [[str(r[c]) for c in s.columns] + [cell(r, o) for o in s.outputs] for r in s.rows[:limit]]
    widths = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(header)]
    lines = [f"{s.name}: {len(s.rows)} points x {exp.runs:,} runs; parameters: {what}",
             "  ".join(h.rjust(w) for h, w in zip(header, widths))]
    lines += ["  ".join(v.rjust(w) for v, w in zip(b, widths)) for b in body]
    if len(s.rows) > limit:
        lines.append(f"... and {len(s.rows) - limit} more points in {results / 'points.csv'}")
    kind = s.rows[0].get("interval", "Wilson")
    lines.append(f"95% intervals: {kind}" + (", the draw as the unit (docs/model.md section 13)"
                                             if "posterior" in kind else ""))
    lines += [f"note: {n}" for n in flat_notes(s.rows, s.columns, s.outputs)]
    return "\n".join(lines)
