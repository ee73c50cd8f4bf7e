"""Summaries of an ensemble and the results directory: summary, per-run table, totals, manifest.

Every file is written atomically (a temporary file in the same directory, then ``os.replace``), so
an interrupted write never leaves a half file behind.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import platform
import sys
import tempfile
from dataclasses import fields
from importlib import metadata
from pathlib import Path

import numpy as np

from .kernel import perceived_rung
from .scenario import Scenario
from .simulate import EnsembleResult
from .stats import estimate


def summarise(result: EnsembleResult) -> dict:
    """The headline numbers of an ensemble, JSON-ready.

    Probabilities come as ``{"estimate", "ci_low", "ci_high", "successes", "runs"}`` with Wilson 95%
    intervals; ``p_inadvertent`` only when the ensemble ran perfect-perception twins.
    """
    tot, sc, n = result.totals, result.scenario, result.runs
    ids = sc.actor_ids
    out = {
        "scenario": sc.name,
        "runs": n,
        "seed": result.seed,
        "engine": result.engine,
        "horizon_days": sc.horizon,
        "p_miscalculation": estimate(tot.miscalculation, n),
        "p_crisis": estimate(tot.crisis, n),
        "p_war": estimate(tot.war, n),
        "p_misperception_driven_escalation": estimate(tot.runs_with_mde, n),
    }
    if tot.twin_runs:
        out["p_inadvertent"] = estimate(tot.inadvertent, n)
        out["p_crisis_perfect_perception"] = estimate(tot.twin_crisis, n)
    out["max_rung_distribution"] = {sc.rung_names[k]: int(c) for k, c in enumerate(tot.max_rung)}
    out["misperception_driven_escalations"] = {
        ids[i]: {ids[j]: int(tot.mde[i, j]) for j in range(len(ids)) if tot.mde[i, j]}
        for i in range(len(ids)) if tot.mde[i].any()
    }
    mean, var = tot.provocation_moments()
    out["provocation_days_per_run"] = {ids[i]: {"mean": float(mean[i]), "variance": float(var[i])}
                                       for i in range(len(ids)) if tot.provocations[i]}
    lag = tot.miscalculation_lag
    out["miscalculation_lag_days_mean"] = (float((np.arange(len(lag)) * lag).sum() / lag.sum())
                                           if lag.sum() else None)
    return out


def format_table(summary: dict) -> str:
    """A short plain-text table of the headline probabilities."""
    rows = [("P(miscalculation)", "p_miscalculation"), ("P(crisis)", "p_crisis"), ("P(war)", "p_war")]
    if "p_inadvertent" in summary:
        rows.append(("P(inadvertent crisis)", "p_inadvertent"))
    lines = [f"{summary['scenario']}: {summary['runs']} runs of {summary['horizon_days']} days, "
             f"seed {summary['seed']}, {summary['engine']} engine",
             f"{'':24}{'estimate':>10}{'95% interval':>22}"]
    for label, key in rows:
        e = summary[key]
        lines.append(f"{label:24}{e['estimate']:>10.4f}    [{e['ci_low']:.4f}, {e['ci_high']:.4f}]")
    return "\n".join(lines)


def versions() -> dict[str, str | None]:
    """Versions of Python and the packages that shape the numbers."""
    out = {"python": platform.python_version()}
    for pkg in ("escalation-sim", "mesa", "numpy", "scipy", "matplotlib", "pydantic", "SALib"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = None
    return out


def manifest(result: EnsembleResult, scenario: Scenario, command: list[str] | None = None) -> dict:
    """What it takes to reproduce a result: the scenario as resolved, seed, runs and versions."""
    return {
        "scenario_file": scenario.source,
        "scenario": scenario.model_dump(mode="json"),
        "runs": result.runs,
        "seed": result.seed,
        "engine": result.engine,
        "command": command if command is not None else sys.argv,
        "versions": versions(),
    }


def atomic_write(path: Path, data: bytes | str) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the new one, never a part."""
    path = Path(path)
    payload = data.encode() if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_results(result: EnsembleResult, scenario: Scenario, out: Path,
                  command: list[str] | None = None) -> dict[str, Path]:
    """Write summary.json, totals.npz, manifest.json and (if kept) runs.csv to ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"summary": out / "summary.json", "totals": out / "totals.npz", "manifest": out / "manifest.json"}
    atomic_write(paths["summary"], json.dumps(summarise(result), indent=2) + "\n")
    buf = io.BytesIO()
    np.savez_compressed(buf, sample_actions=result.sample_actions,
                        **{f.name: np.asarray(getattr(result.totals, f.name)) for f in fields(result.totals)})
    atomic_write(paths["totals"], buf.getvalue())
    atomic_write(paths["manifest"], json.dumps(manifest(result, scenario, command), indent=2) + "\n")
    if result.per_run is not None:
        paths["runs"] = out / "runs.csv"
        text = io.StringIO()
        w = csv.writer(text, lineterminator="\n")
        cols = list(result.per_run)
        w.writerow(cols)
        w.writerows(zip(*(result.per_run[c].astype(np.int64).tolist() for c in cols)))
        atomic_write(paths["runs"], text.getvalue())
    return paths


def replay_table(model) -> str:
    """A run's day-by-day path as CSV: per actor intended, realised, level, threat, perceived hostility, MDE."""
    sc, h = model.compiled, model.history
    text = io.StringIO()
    w = csv.writer(text, lineterminator="\n")
    fields_ = ("intended", "realised", "level", "threat", "hostile_level", "mde")
    w.writerow(["step", "date", *[f"{a}.{f}" for a in sc.actor_ids for f in fields_]])
    for t in range(model.t):
        row = []
        for i in range(sc.n_actors):
            row += [h["intended"][t, i], h["realised"][t, i], h["level"][t, i], round(float(h["threat"][t, i]), 6),
                    round(float(h["hostile_level"][t, i]), 6), int(h["mde"][t, i])]
        w.writerow([t, sc.start + dt.timedelta(days=t), *row])
    return text.getvalue()


def replay_events(model, misperceptions: bool = False) -> list[str]:
    """One line per day with a provocation, accident, misperception-driven escalation or crisis
    (and, with ``misperceptions``, each misreading of an adversary's action)."""
    sc, h = model.compiled, model.history
    names = sc.actor_names
    lines = []
    for t in range(model.t):
        events = []
        if misperceptions:
            for i, j in zip(*np.nonzero(h["misperceived"][t] & (sc.threat_weight > 0))):
                seen = int(perceived_rung(h["perceived"][t, i, j], sc.top_rung))
                events.append(f"{names[i]} reads {names[j]}'s {sc.rung_names[h['realised'][t, j]]} "
                              f"as {sc.rung_names[seen]}")
        for i in range(sc.n_actors):
            x, a = h["intended"][t, i], h["realised"][t, i]
            if h["provoked"][t, i]:
                events.append(f"{names[i]} provokes ({sc.rung_names[sc.provocation_rung[i]]})")
            if a > x:
                events.append(f"{names[i]} accident: {sc.rung_names[x]} -> {sc.rung_names[a]}")
            if h["mde"][t, i]:
                events.append(f"{names[i]} escalates on a misreading to rung {h['level'][t + 1, i]} "
                              f"(read hostility {h['hostile_level'][t, i]:.2f})")
        if h["realised"][t].max() >= sc.crisis_rung:
            events.append(f"CRISIS: {sc.rung_names[h['realised'][t].max()]}")
        if events:
            lines.append(f"{sc.start + dt.timedelta(days=t)} (day {t}): " + "; ".join(events))
    return lines
