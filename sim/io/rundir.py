"""An `escsim run` results directory: where it goes, what it holds, how it is written and read back.

``summary.json``, ``totals.npz``, ``escalation_curves.csv``, ``manifest.json`` (what it takes to
reproduce the run: the scenario as resolved, seed, stream, runs, engine, the posterior's identity,
the overrides, versions, command), ``parameters.npz`` (each run's own values) and ``runs.csv``.
:func:`read_manifest` is the one reader of a run directory's manifest.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from dataclasses import fields
from pathlib import Path

import numpy as np

from sim.core.errors import InputError
from sim.core.files import atomic_write, versions
from sim.engines.draws import describe_seed
from sim.engines.simulate import EnsembleResult
from sim.io.summary import curves_csv, draw_counts, parameters_record, summarise
from sim.model.compile import CompiledScenario
from sim.model.outcomes import OutcomeTracker
from sim.model.schema import Scenario


def manifest(result: EnsembleResult, scenario: Scenario, command: list[str] | None = None) -> dict:
    """What it takes to reproduce a result: the scenario as resolved, seed, runs and versions."""
    return {
        "scenario_file": scenario.source,
        "scenario_file_resolved": str(Path(scenario.source).resolve()),
        "scenario": scenario.model_dump(mode="json"),
        "runs": result.runs,
        **describe_seed(result.seed),
        "engine": result.engine,
        # what the runs took: the posterior's identity (file, digest, draws, runs per draw), or None
        "posterior": result.resolved.draws.identity() if result.resolved and result.resolved.draws else None,
        **({"parameters": parameters_record(result.resolved)} if result.resolved else {}),
        "command": command if command is not None else sys.argv,
        "versions": versions(),
    }


def default_out(resolved) -> Path:
    """``results/NAME`` for a scenario run as written; a what-if gets a directory of its own,
    ``results/NAME__KEY=VALUE...`` (each ``--set``, then ``posterior=...`` when the posterior is not the
    scenario's own), so that it never replaces the plain run that comparisons read as a baseline."""
    import re

    parts = [f"{k}={_plain(v)}" for k, v in resolved.overrides.items()]
    own = resolved.scenario.scenario.posterior
    used = resolved.draws.posterior.path if resolved.draws else None
    if (own and not used) or (used and str(Path(used).resolve()) != str(Path(own or "").resolve())):
        parts.append(f"posterior={Path(used).stem if used else 'none'}")
    name = "__".join([resolved.compiled.name, *parts])
    return Path("results") / re.sub(r"[^A-Za-z0-9._=+-]+", "_", name)


def _plain(v) -> str:
    if isinstance(v, bool):
        return str(v).lower()
    return json.dumps(v, default=str) if isinstance(v, (list, dict)) else str(v)


def check_run_dir(out: Path, scenario: Scenario) -> None:
    """Refuse ``out`` unless it is absent, empty, or holds an earlier run of the same scenario file.

    An earlier run of the same file is replaced whole by :func:`replace_dir`; anything else (another
    scenario's results, even under the same scenario name, or files that are not results) is never
    overwritten.
    """
    out = Path(out)
    if not out.exists() or (out.is_dir() and not any(out.iterdir())):
        return
    manifest = out / "manifest.json"
    try:
        theirs = json.loads(manifest.read_text())
        their_file, their_name = theirs["scenario_file_resolved"], theirs["scenario"]["scenario"]["name"]
    except (OSError, ValueError, KeyError, TypeError):
        raise InputError(f"{out}: exists and does not hold results of escsim run; choose another --out") from None
    ours = str(Path(scenario.source).resolve())
    if their_file != ours or their_name != scenario.scenario.name:
        raise InputError(f"{out}: holds the results of scenario {their_name!r} from {their_file}; they are not "
                         f"replaced by {scenario.source}'s: choose another --out, or delete the directory")


def runs_columns(sc: CompiledScenario, per_run: dict[str, np.ndarray]) -> dict[str, list]:
    """The columns of runs.csv from per-run columns (:meth:`OutcomeTracker.per_run`, plus ``run`` in
    an ensemble's table): the whole-number outcomes, each actor's max realised rung ``max_rung_<id>``,
    and ``crisis_actors`` / ``war_actors``, the ids (joined by ";") of the actors whose own realised
    action reached the crisis / war rung on some day."""
    per_actor = {f"{name}_{i}": (name, actor) for name in OutcomeTracker.PER_ACTOR
                 for i, actor in enumerate(sc.actor_ids)}
    out = {k: np.asarray(v).astype(np.int64).tolist() for k, v in per_run.items() if k not in per_actor}
    for key, (name, actor) in per_actor.items():
        out[f"{name.removeprefix('actor_')}_{actor}"] = np.asarray(per_run[key], dtype=np.int64).tolist()
    top = np.stack([np.asarray(per_run[f"actor_max_rung_{i}"], dtype=np.int64) for i in range(sc.n_actors)], axis=1)
    out["crisis_actors"] = _actor_lists(top >= sc.crisis_rung, sc.actor_ids)
    out["war_actors"] = _actor_lists(top >= sc.war_rung, sc.actor_ids)
    return out


def _actor_lists(reached: np.ndarray, ids) -> list[str]:
    """Per row of ``reached`` (R, N) bool, the ids of its True actors joined by ";" ("" for none).

    Rows take few distinct patterns, so each pattern is joined once (fast for a million runs)."""
    patterns, which = np.unique(reached, axis=0, return_inverse=True)
    text = [";".join(ids[j] for j in np.flatnonzero(p)) for p in patterns]
    return [text[k] for k in np.ravel(which)]


RUNS_TABLE_LIMIT = 100_000
"""Above this many runs ``runs.csv`` is left out unless asked for (``--runs-table yes``)."""


def keeps_runs_table(runs_table: str, runs: int) -> bool:
    """Whether runs.csv is written: ``"yes"``, ``"no"``, or ``"auto"`` (up to RUNS_TABLE_LIMIT runs)."""
    return runs_table == "yes" or (runs_table == "auto" and runs <= RUNS_TABLE_LIMIT)


def totals_arrays(result: EnsembleResult, by_draw=None) -> dict[str, np.ndarray]:
    """What totals.npz holds, and what a run's figures are drawn from: the totals' arrays, the sample
    paths, and with runs that share posterior draws the draws' sizes and first-passage histograms."""
    by_draw = draw_counts(result) if by_draw is None else by_draw
    extra = {} if by_draw is None else {"draw_sizes": by_draw.sizes, "draw_first_passage": by_draw.first_passage}
    return {"sample_actions": result.sample_actions, **extra,
            **{f.name: np.asarray(getattr(result.totals, f.name)) for f in fields(result.totals)}}


def write_results(result: EnsembleResult, scenario: Scenario, out: Path, command: list[str] | None = None,
                  runs_table: bool = True, summary: dict | None = None) -> dict[str, Path]:
    """Write summary.json, totals.npz, escalation_curves.csv, manifest.json, (if kept and
    ``runs_table``) runs.csv, and (with per-run parameters) parameters.npz, each run's values, which
    replays need, to ``out``. With runs that share posterior draws, totals.npz also holds the draws'
    sizes and first-passage histograms (``draw_sizes``, ``draw_first_passage``), from which the
    curves' bands over the draws are drawn again. ``summary`` is the summary to write, when the caller
    made it already (with rare outcomes, say)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"summary": out / "summary.json", "totals": out / "totals.npz", "manifest": out / "manifest.json"}
    atomic_write(paths["summary"], json.dumps(summary or summarise(result), indent=2) + "\n")
    by_draw = draw_counts(result)
    buf = io.BytesIO()
    np.savez_compressed(buf, **totals_arrays(result, by_draw))
    atomic_write(paths["totals"], buf.getvalue())
    paths["curves"] = out / "escalation_curves.csv"
    atomic_write(paths["curves"], curves_csv(result.scenario, result.totals, by_draw))
    atomic_write(paths["manifest"], json.dumps(manifest(result, scenario, command), indent=2, default=str) + "\n")
    if result.run_values:
        paths["parameters"] = out / "parameters.npz"
        buf = io.BytesIO()
        np.savez_compressed(buf, **result.run_values)
        atomic_write(paths["parameters"], buf.getvalue())
    if result.per_run is not None and runs_table:
        paths["runs"] = out / "runs.csv"
        text = io.StringIO()
        w = csv.writer(text, lineterminator="\n")
        cols = runs_columns(result.scenario, result.per_run)
        w.writerow(cols)
        w.writerows(zip(*cols.values()))
        atomic_write(paths["runs"], text.getvalue())
    return paths


def read_manifest(results: Path, purpose: str = "this command") -> tuple[dict, Path]:
    """An `escsim run` directory's manifest (and its path), with the keys every reader needs (scenario,
    seed, stream, engine, runs), or one InputError line; ``purpose`` names the command in the line
    that refuses a sweep's directory. The one reader of a run's manifest (replay, compare, figures)."""
    results = Path(results)
    path = results / "manifest.json"
    if (results / "points.csv").exists():
        raise InputError(f"{results}: a sweep's results; {purpose} takes an escsim run directory")
    try:
        man = json.loads(path.read_text())
    except FileNotFoundError:
        raise InputError(f"{results}: no manifest.json; not an escsim run directory") from None
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: cannot be read as JSON ({exc})") from None
    needed = ("scenario", "seed", "stream", "engine", "runs")
    missing = [k for k in needed if not isinstance(man, dict) or k not in man]
    if missing:
        raise InputError(f"{path}: has no {', '.join(missing)}; not the manifest of an escsim run")
    return man, path


def run_parameters_of(results: Path, man: dict, run: int) -> dict[str, np.ndarray] | None:
    """Run ``run``'s per-run parameters from parameters.npz (key -> (1,)), or None when the runs had none."""
    path = results / "parameters.npz"
    if not man.get("posterior") and not path.exists():
        return None
    try:
        with np.load(path) as f:
            values = {k: f[k] for k in f.files}
    except FileNotFoundError:
        raise InputError(f"{results}: its runs drew parameters from {man['posterior']}, but parameters.npz, "
                         "which holds each run's values, is missing; run it again") from None
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: cannot be read ({exc})") from None
    if any(v.shape != (man["runs"],) for v in values.values()):
        raise InputError(f"{path}: does not hold one value per run for its {man['runs']} runs; run it again")
    return {k: v[run:run + 1] for k, v in values.items()}
