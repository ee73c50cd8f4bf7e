"""An ensemble's headline numbers: probabilities with intervals that mean what the table says, and curves.

Runs at fixed values give Wilson intervals; runs that share posterior draws give intervals over the
draws (:mod:`sim.core.stats`, docs/model.md section 13). :func:`summarise` is the one place a
result becomes numbers; :func:`format_table` prints them with a line saying what the parameters and
the intervals were.
"""

from __future__ import annotations

import csv
import datetime as dt
import io

import numpy as np

from sim.core.stats import MIN_DRAWS, escalation_curves, estimate, spread_over_draws
from sim.engines.draws import Seed, describe_seed
from sim.engines.simulate import EnsembleResult
from sim.io.notes import summary_notes, top_rung_note
from sim.model.compile import CompiledScenario
from sim.model.outcomes import DrawCounts, Totals


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
    out["notes"] = summary_notes(out)
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
    elif (summary.get("parameters", {}).get("posterior") or {}).get("draws"):
        draws = summary["parameters"]["posterior"]["draws"]
        lines.append(f"5-95% over draws: not shown, {draws} posterior draw{'s are' if draws != 1 else ' is'} too few "
                     f"for a spread ({MIN_DRAWS} or more)")
    lines += [f"note: {n}" for n in summary_notes(summary)]
    lines += _rare_lines(summary, top)
    return "\n".join(lines)


def _rare_lines(summary: dict, top: str) -> list[str]:
    """Rare targets (escsim run --rare): the AMS estimate, labelled with the method, its t interval over
    repetitions, its relative error and work, and how the paths to the target looked."""
    lines = []
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
        for note in (r.get("reason"), r.get("jumps")):  # why decided or extinct; the last jump integrated out
            lines += [f"  {note}"] if note else []
        if r["rung_name"] == top:
            lines.append(f"  note: {top_rung_note(top)}")
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
    return lines


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
