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
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import fields
from importlib import metadata
from pathlib import Path

import numpy as np

from sim.model.compile import CompiledScenario
from sim.engines.draws import Seed, describe_seed
from sim.core.errors import InputError
from sim.model.loops import perceived_rung
from sim.model.outcomes import DrawCounts, OutcomeTracker, Totals
from sim.engines.parameters import at_values
from sim.model.scenario import Scenario
from sim.engines.simulate import EnsembleResult
from sim.core.stats import MIN_DRAWS, escalation_curves, estimate, spread_over_draws


def summarise(result: EnsembleResult) -> dict:
    """The headline numbers of an ensemble, JSON-ready (see :func:`summarise_totals`).

    With a :class:`sim.engines.resolve.Resolved` (:func:`sim.engines.simulate.run`), ``parameters`` says what the runs
    took (a posterior with its draws, or point values, and the overrides). When the runs drew from a
    posterior, every interval is over the draws (:mod:`sim.core.stats`), and ``parameter_uncertainty``
    gives, for each headline probability, its spread over the draws
    (:func:`sim.core.stats.spread_over_draws`): how far the answer moves with the parameters the record
    leaves open.
    """
    resolved, by_draw = result.resolved, None
    if resolved is not None and resolved.draws is not None:
        if result.per_run is None:
            raise ValueError("runs that share posterior draws need their per-run outcomes (per_run=True)")
        by_draw = DrawCounts.from_runs(result.per_run, resolved.draws.runs_per_draw, result.scenario.top_rung)
    out = summarise_totals(result.scenario, result.totals, seed=result.seed, engine=result.engine, by_draw=by_draw)
    if resolved is not None:
        out["parameters"] = parameters_record(resolved)
    if by_draw is not None and len(by_draw.sizes) >= MIN_DRAWS:  # a spread needs draws enough to show one
        M = resolved.draws.runs_per_draw
        out["parameter_uncertainty"] = {
            f"p_{name}": spread_over_draws(result.per_run[name], M)
            for name in ("miscalculation", "crisis", "war", "crisis_after_misreading")
            if name in result.per_run and result.runs >= 2 * M}
    return out


def parameters_record(resolved) -> dict:
    """What the runs took, for summaries and manifests: the posterior (file, digest, draws, runs per
    draw, drawn keys and keys the overrides fix), or point values; the overrides; a one-line text."""
    rec = {"source": "posterior" if resolved.draws else "point values", "overrides": resolved.overrides,
           "text": resolved.describe()}
    if resolved.draws:
        d = resolved.draws
        rec["posterior"] = {**d.identity(), "drawn": d.drawn_keys, "fixed_by_overrides": list(d.fixed)}
    return rec


def summarise_totals(sc: CompiledScenario, tot: Totals, *, seed: Seed, engine: str = "ensemble",
                     by_draw: DrawCounts | None = None) -> dict:
    """The headline numbers of the runs folded into ``tot``, JSON-ready.

    Probabilities come as :func:`sim.core.stats.estimate` gives them: ``{"estimate", "ci_low", "ci_high",
    "successes", "runs", "interval"}``, the interval Wilson's 95% for independent runs, or over the
    posterior draws with ``by_draw`` (the runs' counts per draw). ``p_miscalculation`` (a crisis in the
    run and none in its perfect-perception twin) and ``p_crisis_perfect_perception`` only when the
    ensemble ran twins, as :func:`sim.engines.simulate.simulate` does by default; ``p_crisis_after_misreading``
    is the tag-based measure. ``seed`` and ``stream`` name the random stream the runs drew from
    (:func:`sim.engines.draws.describe_seed`).
    """
    n = tot.runs
    ids = sc.actor_ids

    def est(name: str, successes: int) -> dict:
        return estimate(successes, n, by_draw=by_draw.of(name) if by_draw is not None else None)

    out = {
        "scenario": sc.name,
        "runs": n,
        **describe_seed(seed),
        "engine": engine,
        "horizon_days": sc.horizon,
        **({"p_miscalculation": est("p_miscalculation", tot.miscalculation)} if tot.twin_runs else {}),
        "p_crisis": est("p_crisis", tot.crisis),
        "p_war": est("p_war", tot.war),
        # runs whose max realised rung reached the top rung K (nuclear use on the default ladder)
        "p_nuclear_use": est("p_nuclear_use", int(tot.max_rung[sc.top_rung])),
        "p_crisis_after_misreading": est("p_crisis_after_misreading", tot.crisis_after_misreading),
        "p_misperception_driven_escalation": est("p_misperception_driven_escalation", tot.runs_with_mde),
    }
    if tot.twin_runs:
        out["p_crisis_perfect_perception"] = est("p_crisis_perfect_perception", tot.twin_crisis)
    out["max_rung_distribution"] = {sc.rung_names[k]: int(c) for k, c in enumerate(tot.max_rung)}
    out["misperception_driven_escalations"] = {
        ids[i]: {ids[j]: int(tot.mde[i, j]) for j in range(len(ids)) if tot.mde[i, j]}
        for i in range(len(ids)) if tot.mde[i].any()
    }
    mean, var = tot.provocation_moments()
    out["provocation_days_per_run"] = {ids[i]: {"mean": float(mean[i]), "variance": float(var[i])}
                                       for i in range(len(ids)) if tot.provocations[i]}
    lag = tot.misreading_lag
    out["misreading_lag_days_mean"] = (float((np.arange(len(lag)) * lag).sum() / lag.sum())
                                           if lag.sum() else None)
    return out


def format_table(summary: dict) -> str:
    """A short plain-text table of the headline probabilities, each with its interval and its count
    (runs with the outcome / runs), so a small or zero count is never hidden behind a rounded estimate."""
    top = list(summary["max_rung_distribution"])[-1]  # the top rung's name: "nuclear use" by default
    rows = [("P(miscalculation)", "p_miscalculation"), ("P(crisis)", "p_crisis"), ("P(war)", "p_war"),
            (f"P({top})", "p_nuclear_use"), ("P(crisis, perfect perception)", "p_crisis_perfect_perception"),
            ("P(crisis after a misreading)", "p_crisis_after_misreading")]
    lines = [f"{summary['scenario']}: {summary['runs']} runs of {summary['horizon_days']} days, "
             f"seed {summary['seed']}, {summary['engine']} engine"]
    if "parameters" in summary:
        lines.append(f"parameters: {summary['parameters']['text']}")
    lines.append(f"{'':30}{'estimate':>10}{'95% interval':>20}{'runs with it':>18}")
    spread = summary.get("parameter_uncertainty", {})
    if spread:
        lines[-1] += f"{'5-95% over draws':>22}"
    kinds = set()
    for label, key in rows:
        if key not in summary:  # p_miscalculation and the twins' P(crisis): only with twins
            continue
        e = summary[key]
        kinds.add(e.get("interval", "Wilson"))
        count = f"{e['successes']}/{e['runs']}"
        interval = (f"    [{e['ci_low']:.4f}, {e['ci_high']:.4f}]" if e["ci_low"] is not None else
                    f"{'no interval':>22}")
        line = f"{label:30}{e['estimate']:>10.4f}{interval}{count:>18}"
        if key in spread:
            line += f"{'':4}[{spread[key]['q05']:.4f}, {spread[key]['q95']:.4f}]"
        lines.append(line)
    lines += [_interval_note(kind) for kind in sorted(kinds)]
    if spread:
        lines.append("5-95% over draws: the spread of the draws' own estimates, how far the answer moves with the "
                     "parameters (plus each draw's Monte Carlo noise)")
    # Rare targets (escsim run --rare): the AMS estimate, labelled with the method, its t interval over
    # repetitions, its relative error and work, and how the paths to the target looked.
    for i, r in enumerate(summary.get("rare", {}).values()):
        if i == 0:
            at = f", {r['parameters']}"
            lines.append(f"rare outcomes by {r['method']}{at}:")
        label = f"P({r['rung_name']}) [AMS]"
        if r.get("ci_low") is None or r.get("relative_error") is None:
            interval, error = f"{'no interval':>22}", ""
        else:
            interval = f"    [{r['ci_low']:.3g}, {r['ci_high']:.3g}]"
            error = f"  rel. error {r['relative_error']:.0%}" if r["estimate"] else ""
        lines.append(f"{label:24}{r['estimate']:>10.3g}{interval}{error}  ({r['repetitions']} x {r['replicas']} "
                     f"replicas, score {r['score']})")
        if r.get("reason"):
            lines.append(f"  {r['reason']}")
        if r.get("model_steps") and r.get("crude_mc_runs_equivalent"):
            lines.append(f"  {r['model_steps']:.3g} model steps; crude Monte Carlo needs about "
                         f"{r['crude_mc_runs_equivalent']:.3g} runs ({r['crude_mc_steps_equivalent']:.3g} steps) for "
                         f"the same relative error: {r['work_gain']:.3g} x the work")
        paths = r.get("paths")
        if paths:
            first = sorted(paths["first_climber"].items(), key=lambda kv: -kv[1])
            lines.append(f"  paths at the target ({paths['paths']} replicas, AMS-weighted): "
                         f"{paths['began_with_mde']:.0%} began with a misperception-driven escalation; "
                         f"first to climb: " + ", ".join(f"{a} {s:.0%}" for a, s in first if s > 0))
    return "\n".join(lines)


def _interval_note(kind: str) -> str:
    """One line saying what a table's 95% intervals are."""
    if kind == "Wilson":
        return "95% interval: Wilson's, the Monte Carlo error of independent runs at these parameter values"
    if kind.startswith("none"):
        from sim.core.stats import MIN_DRAWS

        return (f"no interval: {kind.split(': ', 1)[1]}: too few to measure the parameters' uncertainty "
                f"(an interval needs {MIN_DRAWS} draws or more; docs/model.md section 13)")
    return (f"95% interval: {kind}, the draw as the unit: Monte Carlo error and parameter uncertainty together "
            "(docs/model.md section 13)")


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


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write(path: Path, data: bytes | str) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the new one, never a part.

    The file gets the permissions an ordinary new file would (0666 less the umask), not the 0600
    of the temporary file it is renamed from.
    """
    path = Path(path)
    payload = data.encode() if isinstance(data, str) else data
    tmp = None
    try:  # the temporary file is made inside the try, so an interruption right after cannot leave it
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        raise


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


def replace_dir(out: Path, fill: Callable[[Path], object]):
    """Build a results directory with ``fill(tmp)`` beside ``out``, then put it in place of ``out``.

    Readers see the old directory whole or the new one whole (with a moment between the two
    renames when neither is there), never a mix of old and new files, and an interruption while
    filling leaves ``out`` as it was. Returns what ``fill`` returns.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp"))
    try:
        os.chmod(tmp, 0o777 & ~_umask())
        value = fill(tmp)
        old = None
        if out.exists():
            old = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.", suffix=".old"))
            os.replace(out, old / out.name)
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return value


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


def draw_counts(result: EnsembleResult) -> DrawCounts | None:
    """The runs' counts per posterior draw, with the escalation curves' histograms, or None when
    the runs do not share draws."""
    r = result.resolved
    if r is None or r.draws is None or result.per_run is None:
        return None
    return DrawCounts.from_runs(result.per_run, r.draws.runs_per_draw, result.scenario.top_rung, result.scenario.horizon)


def curves_csv(sc: CompiledScenario, totals: Totals, by_draw: DrawCounts | None = None) -> str:
    """The escalation curves as CSV: per step and date, for each rung k >= 1, P(max realised rung so
    far >= k) as ``p_ge_k`` with its 95% band ``low_k``, ``high_k`` (:func:`escalation_curves`: Wilson's,
    or over the posterior draws with ``by_draw``; empty where there are too few draws for one).
    Floats are written in full (``repr``), so reading the file back gives the computed numbers."""
    p, low, high = escalation_curves(totals.first_passage, totals.runs,
                                     None if by_draw is None else (by_draw.first_passage, by_draw.sizes))
    rungs = range(1, sc.top_rung + 1)
    text = io.StringIO()
    w = csv.writer(text, lineterminator="\n")
    w.writerow(["step", "date", *[f"{name}_{k}" for k in rungs for name in ("p_ge", "low", "high")]])
    for t in range(p.shape[1]):
        values = [_number(a[k, t]) for k in rungs for a in (p, low, high)]
        w.writerow([t, sc.start + dt.timedelta(days=t), *values])
    return text.getvalue()


def _number(x) -> float | str:
    x = float(x)
    return "" if np.isnan(x) else x


def write_results(result: EnsembleResult, scenario: Scenario, out: Path,
                  command: list[str] | None = None, runs_table: bool = True) -> dict[str, Path]:
    """Write summary.json, totals.npz, escalation_curves.csv, manifest.json, (if kept and
    ``runs_table``) runs.csv, and (with per-run parameters) parameters.npz, each run's values, which
    replays need, to ``out``. With runs that share posterior draws, totals.npz also holds the draws'
    sizes and first-passage histograms (``draw_sizes``, ``draw_first_passage``), from which the
    curves' bands over the draws are drawn again."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"summary": out / "summary.json", "totals": out / "totals.npz", "manifest": out / "manifest.json"}
    atomic_write(paths["summary"], json.dumps(summarise(result), indent=2) + "\n")
    by_draw = draw_counts(result)
    buf = io.BytesIO()
    extra = {} if by_draw is None else {"draw_sizes": by_draw.sizes, "draw_first_passage": by_draw.first_passage}
    np.savez_compressed(buf, sample_actions=result.sample_actions, **extra,
                        **{f.name: np.asarray(getattr(result.totals, f.name)) for f in fields(result.totals)})
    atomic_write(paths["totals"], buf.getvalue())
    paths["curves"] = out / "escalation_curves.csv"
    atomic_write(paths["curves"], curves_csv(result.scenario, result.totals, by_draw))
    atomic_write(paths["manifest"], json.dumps(manifest(result, scenario, command), indent=2, default=str) + "\n")
    if result.parameters:
        paths["parameters"] = out / "parameters.npz"
        buf = io.BytesIO()
        np.savez_compressed(buf, **result.parameters)
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
    """What changed in a run, day by day: one line per day on which something happened.

    Listed: every change of an actor's rung (its realised action), with what caused it (a drill, a
    provocation, an accident); provocations and accidents that left the rung where it was; each
    misperception-driven escalation (a decision for the next day); and each actor's crisis and war,
    one line when it begins and one when it ends. A day with nothing new prints nothing, and a run of
    consecutive days with the same events prints as one line over the span.

    With ``misperceptions`` (the interactive page's log), also each misreading of an adversary's
    action, and every day is its own line, so that each misreading is listed once per day it happened.
    """
    sc, h = model.compiled, model.history
    days = []
    for t in range(model.t):
        events = _misreadings(sc, h, t) if misperceptions else []
        events += [e for i in range(sc.n_actors) for e in _actor_events(sc, h, t, i)]
        events += [e for i in range(sc.n_actors) if (e := _crisis_event(sc, h, t, i))]
        days.append("; ".join(events))
    return _day_lines(sc, days, collapse=not misperceptions)


def _misreadings(sc, h, t: int) -> list[str]:
    """Day t's misreadings of an adversary's action."""
    names, out = sc.actor_names, []
    for i, j in zip(*np.nonzero(h["misperceived"][t] & (sc.threat_weight > 0))):
        seen = int(perceived_rung(h["perceived"][t, i, j], sc.top_rung))
        out.append(f"{names[i]} reads {names[j]}'s {sc.rung_names[h['realised'][t, j]]} as {sc.rung_names[seen]}")
    return out


def _actor_events(sc, h, t: int, i: int) -> list[str]:
    """Actor i's day t: its change of rung (or a provocation or accident that changed none), and a
    misperception-driven escalation it decided on."""
    rung, name = sc.rung_names, sc.actor_names[i]
    x, a, posture = h["intended"][t, i], h["realised"][t, i], h["level"][t, i]
    before = h["realised"][t - 1, i] if t else posture  # before day 0: its starting posture
    provoked, accident = bool(h["provoked"][t, i]), a > x
    out = []
    if a != before or provoked or accident:
        causes = ["provokes"] if provoked else []
        if x == sc.drill_rung[t, i] > posture and a != before:  # the drill set today's action
            causes.insert(0, "drills")
        move = (f"up to {rung[a]} from {rung[before]}" if a > before else
                f"down to {rung[a]} from {rung[before]}" if a < before else f"stays at {rung[a]}")
        head = f"{name} {' and '.join(causes)}," if causes else name
        out.append(f"{head} {move}" + (f" by accident (meant {rung[x]})" if accident else ""))
    if h["mde"][t, i]:
        out.append(f"{name} escalates on a misreading, to {rung[h['level'][t + 1, i]]} from the next day "
                   f"(read hostility {h['hostile_level'][t, i]:.2f})")
    return out


def _crisis_event(sc, h, t: int, i: int) -> str | None:
    """Actor i's crisis or war beginning or ending on day t (MODEL.md section 1: its realised action at
    or above the crisis or war rung), or None when its state is yesterday's."""
    def state(a):
        return 2 if a >= sc.war_rung else 1 if a >= sc.crisis_rung else 0

    a = h["realised"][t, i]
    now, before = state(a), state(h["realised"][t - 1, i]) if t else 0  # nothing before day 0
    name, at = sc.actor_names[i], sc.rung_names[a]
    if now == before:
        return None
    if now > before:
        return f"WAR begins: {name} at {at}" if now == 2 else f"CRISIS begins: {name} at {at}"
    if now == 1:
        return f"WAR ends: {name} down to {at}, still in crisis"
    return f"{'WAR and CRISIS end' if before == 2 else 'CRISIS ends'}: {name} down to {at}"


def _day_lines(sc, days: list[str], collapse: bool = True) -> list[str]:
    """One line per day with events; with ``collapse``, consecutive days with the same events become one."""
    lines, t = [], 0
    while t < len(days):
        last = t
        while collapse and last + 1 < len(days) and days[last + 1] == days[t]:
            last += 1
        if days[t]:
            first_day, last_day = sc.start + dt.timedelta(days=t), sc.start + dt.timedelta(days=last)
            when = (f"{first_day} (day {t})" if last == t else
                    f"{first_day} to {last_day} (days {t}-{last}, each day)")
            lines.append(f"{when}: {days[t]}")
        t = last + 1
    return lines


def replay_model(target: Path, run: int, seed: int | None = None):
    """The model (not yet run) that replays run ``run``, its perfect-perception twin on the same draws
    (for the miscalculation flag; docs/model.md section 6), and a line naming that run.

    ``target`` is a scenario file, whose ensemble-engine ensemble seeded ``seed`` (default 0) is
    replayed as ``escsim run`` resolves it (:func:`sim.engines.resolve.resolve`: run ``run`` takes the
    posterior draw it takes there), or an `escsim run` results directory, whose manifest decides the
    scenario (as resolved), seed, engine and run count, and whose parameters.npz gives the run's own
    values; ``seed`` is then refused. A Mesa-engine run k is not a row of an ensemble block: it is
    replayed as ``simulate`` ran it, on its own stream ``run_seed(root, k)``.
    """
    from sim.engines.model import EscalationModel
    from sim.engines.resolve import resolve

    target = Path(target)
    if target.is_dir():
        make, label = _replay_from_results(target, run, seed)
    else:
        seed = 0 if seed is None else seed
        resolved = resolve(target, seed=seed, runs=run + 1)  # run k's draw does not depend on the run count
        own = resolved.run_parameters(run)
        compiled = at_values(resolved.compiled, own or {})

        def make(perfect):
            return EscalationModel.replay(compiled, seed, run, perfect_perception=perfect)

        d = resolved.draws
        values = (f"posterior draw {run // d.runs_per_draw} of {d.posterior.path}, as escsim run takes it" if d else
                  "the scenario's point values")
        label = f"{compiled.name}, seed {seed}, run {run} (ensemble engine; {values})"
    return make(False), make(True), label


def _replay_from_results(results: Path, run: int, seed: int | None):
    """What builds the replay of run ``run`` of a results directory (given perfect_perception), and its line."""
    from sim.model.compile import compile_scenario
    from sim.engines.draws import Stream, root_from, run_seed, stream_label
    from sim.engines.model import EscalationModel
    from sim.model.scenario import validate_scenario

    if seed is not None:
        raise InputError(f"--seed {seed}: {results} is a results directory, whose manifest.json gives the seed; "
                         "drop --seed")
    man, path = _run_manifest(results)
    runs, engine = man["runs"], man["engine"]
    if not 0 <= run < runs:
        raise InputError(f"--run {run}: {results} holds {runs} runs, numbered 0 to {runs - 1}")
    compiled = compile_scenario(validate_scenario(man["scenario"], str(path)))
    parameters = _run_parameters(results, man, run)
    if parameters:  # drawn from a posterior: this run's values
        compiled = at_values(compiled, parameters)
    root = root_from(man)
    seed_text = f"seed {root.entropy}" if root.spawn_key == (Stream.RUN,) else f"stream {stream_label(root)}"
    where = f"{compiled.name}, run {run} of {runs} in {results} ({seed_text}"
    if engine == "ensemble":
        return (lambda perfect: EscalationModel.replay(compiled, root, run, perfect_perception=perfect),
                f"{where}, ensemble engine)")
    if engine == "mesa":
        return (lambda perfect: EscalationModel(compiled, rng=run_seed(root, run), perfect_perception=perfect),
                f"{where}, Mesa engine: its own stream, not an ensemble-engine row)")
    raise InputError(f"{path}: engine {engine!r} is neither ensemble nor mesa")


def _run_parameters(results: Path, man: dict, run: int) -> dict[str, np.ndarray] | None:
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


def _run_manifest(results: Path) -> tuple[dict, Path]:
    """An `escsim run` directory's manifest, with the keys a replay needs, or an InputError."""
    path = results / "manifest.json"
    if (results / "points.csv").exists():
        raise InputError(f"{results}: a sweep's results; replay takes a scenario file or an escsim run directory")
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


def replay_outcomes(model, twin=None) -> str:
    """A finished run's outcomes as ``name=value`` pairs, named and written as in runs.csv; with its
    finished perfect-perception ``twin``, the miscalculation flag too."""
    cols = runs_columns(model.compiled, model.outcomes.per_run(None if twin is None else twin.outcomes))
    return " ".join(f"{k}={v[0]}" for k, v in cols.items())
