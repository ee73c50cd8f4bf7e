"""Figures of one ensemble: escalation curves with their bands, and each actor's rung over time."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from sim.core.errors import InputError
from sim.core.stats import escalation_curves
from sim.io.rundir import read_manifest
from sim.model.compile import CompiledScenario, compile_scenario
from sim.model.scenario import validate_scenario
from sim.ui.plots.common import (LINESTYLES, OKABE_ITO, check_out, date_axis, days_of, finish, new_figure, save_all,
                                 shade_drills)


RUN_FIGURES = {"curves": "escalation_curves", "paths": "level_paths", "tail": "tail"}  # kind -> file stem
"""The figures of a run directory by kind; ``tail`` only where the run estimated rare outcomes (--rare)."""


def plot_escalation_curves(scenario: CompiledScenario, first_passage: np.ndarray, runs: int,
                           path: str | Path | None = None, min_rung: int = 1, by_draw=None):
    """P(max realised rung so far >= k) against date, one line per rung k >= ``min_rung``, 95% bands.

    ``first_passage`` is the (K+1, T+1) histogram of :class:`sim.model.outcomes.Totals`; ``by_draw`` (the
    per-draw histograms (D, K+1, T+1), runs per draw (D,)) makes the bands intervals over posterior
    draws (:func:`sim.core.stats.escalation_curves`; none with too few draws). Lines are in rung order, each
    in its own style; each line's label names its rung and its value at the horizon.
    """
    p, lo, hi = escalation_curves(first_passage, runs, by_draw)
    days = days_of(scenario)
    fig = new_figure((10, 5.5))
    ax = fig.subplots()
    shade_drills(ax, scenario, days)
    for k in range(min_rung, scenario.top_rung + 1):
        colour = OKABE_ITO[(k - min_rung) % len(OKABE_ITO)]
        if not np.isnan(lo[k]).all():
            ax.fill_between(days, lo[k], hi[k], color=colour, alpha=0.2, lw=0)
        # rungs reached together (war and nuclear use, near 0) would hide one under the other: a style each,
        # and the final value in the legend, so a curve flat on the axis still says what it is
        ax.plot(days, p[k], color=colour, lw=1.8, ls=LINESTYLES[(k - min_rung) % len(LINESTYLES)],
                label=f">= {k}: {scenario.rung_names[k]} ({100 * p[k][-1]:.3g}%)")
    ax.set_ylim(0, 1.02)
    ax.set_ylabel("P(highest rung reached so far >= k)")
    date_axis(ax)
    if by_draw is None:
        bands = "bands: Wilson 95% intervals"
    elif np.isnan(lo).all():
        bands = f"no bands: {len(by_draw[1])} posterior draws are too few for an interval"
    else:
        bands = f"bands: 95% intervals over {len(by_draw[1])} posterior draws"
    ax.set_title(f"Escalation curves: {scenario.name}, {scenario.start.year}\n"
                 f"{runs:,} runs; {bands}; grey: drills (hatched: approximate dates)", fontsize=10)
    ax.legend(title="rung k", loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8, title_fontsize=8)
    return finish(fig, path)


def plot_tail(scenario: CompiledScenario, first_passage: np.ndarray, runs: int, rare: dict,
              by_draw=None, path: str | Path | None = None):
    """P(highest rung reached by the horizon >= k) for every rung k on a log axis: crude Monte Carlo with
    its 95% intervals where it sees (an upper bound only where no run got there), and the splitting's
    estimates (``rare``: summary.json's ``rare`` entries) with theirs, side by side where both see.

    The first line holds the crude estimates (rungs with at least one run), the second the AMS ones."""
    p, lo, hi = (a[:, -1] for a in escalation_curves(first_passage, runs, by_draw))
    ks = np.arange(1, scenario.top_rung + 1)
    seen = p[ks] > 0
    fig = new_figure((8, 5))
    ax = fig.subplots()
    err = np.vstack([p[ks] - lo[ks], hi[ks] - p[ks]])[:, seen]
    ax.errorbar(ks[seen] - 0.06, p[ks][seen], yerr=np.nan_to_num(err), fmt="o-", color=OKABE_ITO[0], capsize=3,
                label=f"crude Monte Carlo ({runs:,} runs)")
    if (~seen).any():
        ax.plot(ks[~seen] - 0.06, hi[ks][~seen], "v", color=OKABE_ITO[0], mfc="none",
                label="crude: no run got there (upper 95% bound)")
    entries = sorted(rare.values(), key=lambda r: r["rung"])
    if entries:
        est = np.array([r["estimate"] for r in entries])
        rerr = np.array([[r["estimate"] - (r["ci_low"] if r["ci_low"] is not None else r["estimate"]),
                          (r["ci_high"] if r["ci_high"] is not None else r["estimate"]) - r["estimate"]]
                         for r in entries]).T
        ax.errorbar([r["rung"] + 0.06 for r in entries], est, yerr=np.clip(rerr, 0, None), fmt="s--",
                    color=OKABE_ITO[3], capsize=3, label=f"adaptive multilevel splitting ({entries[0]['repetitions']} "
                    f"x {entries[0]['replicas']} replicas)")
    ax.set_yscale("log")
    ax.set_xticks(ks, [f"{k}\n{scenario.rung_names[k]}" for k in ks], fontsize=8)
    ax.set_xlabel("rung k")
    ax.set_ylabel("P(highest rung by the horizon >= k)")
    ax.legend(fontsize=8, loc="lower left")
    bands = "95% intervals over posterior draws" if by_draw is not None else "Wilson 95% intervals"
    ax.set_title(f"The tail: {scenario.name}, {scenario.horizon} days\ncrude: {bands}; splitting: t intervals over "
                 "repetitions", fontsize=10)
    return finish(fig, path)


def rung_quantile(occupancy: np.ndarray, q: float) -> np.ndarray:
    """The q-quantile rung per step and actor from occupancy counts (T, N, K+1). Returns (T, N)."""
    cum = np.cumsum(occupancy, axis=-1)
    return (cum < q * cum[..., -1:]).sum(axis=-1)


def plot_level_paths(scenario: CompiledScenario, occupancy: np.ndarray, runs: int,
                     sample_actions: np.ndarray | None = None, path: str | Path | None = None):
    """Each actor's realised rung over time: the mean, a 5-95% fan, and a few sample runs.

    occupancy (T, N, K+1): runs at each rung per step and actor; sample_actions (S, T, N).
    One panel per actor; in each, the thick line is the mean and the band the fan.
    """
    T, N, K1 = occupancy.shape
    days = days_of(scenario)
    mean = (occupancy * np.arange(K1)).sum(axis=-1) / runs
    low, high = rung_quantile(occupancy, 0.05), rung_quantile(occupancy, 0.95)
    fig = new_figure((10, 1.9 * N + 1))
    axes = fig.subplots(N, 1, sharex=True, sharey=True, squeeze=False)
    for i, ax in enumerate(axes[:, 0]):
        colour = OKABE_ITO[i % len(OKABE_ITO)]
        shade_drills(ax, scenario, days, label=False)
        ax.fill_between(days, low[:, i], high[:, i], step="mid", color=colour, alpha=0.2, lw=0)
        if sample_actions is not None:
            for s in range(len(sample_actions)):
                ax.plot(days, sample_actions[s, :, i], color="0.4", lw=0.6, alpha=0.6, drawstyle="steps-mid")
        ax.plot(days, mean[:, i], color=colour, lw=2.0, label="mean")
        ax.set_title(scenario.actor_names[i], loc="left", fontsize=9)
        ax.set_yticks(range(K1), scenario.rung_names, fontsize=7)
        ax.set_ylim(-0.2, K1 - 0.8)
    date_axis(axes[-1, 0])
    n_samples = 0 if sample_actions is None else len(sample_actions)
    fig.suptitle(f"Realised rung by actor: {scenario.name} ({runs:,} runs)\nthick: mean; band: 5-95% of runs; "
                 f"thin grey: {n_samples} sample runs; grey spans: drills", fontsize=10)
    return finish(fig, path)


def run_figures(results: Path, kinds=None, out: Path | None = None,
                formats=("png", "svg")) -> list[Path]:
    """The figures of an `escsim run` directory; written next to its results unless ``out`` is given.

    ``kinds`` defaults to curves and paths, and tail where the run estimated rare outcomes. ``out``
    names one file, so it needs exactly one kind.
    """
    results = Path(results)
    rare = _rare_of(results)
    kinds = tuple(kinds) if kinds is not None else ("curves", "paths", *(("tail",) if rare else ()))
    for kind in kinds:
        if kind not in RUN_FIGURES:
            raise InputError(f"--kind {kind}: a run directory has figures {', '.join(RUN_FIGURES)}")
    if out is not None and len(kinds) != 1:
        raise InputError(f"--out {out}: names one file and a run directory has {len(kinds)} figures "
                         f"({', '.join(kinds)}); add --kind curves or --kind paths")
    check_out(out)
    scenario, totals = _load_run(results)
    written = []
    for kind in kinds:
        written += save_all(draw_run(kind, scenario, totals, rare), out, results / RUN_FIGURES[kind], formats)
    return written


def _rare_of(results: Path) -> dict:
    """The rare outcomes a run directory's summary.json holds (none: {})."""
    path = results / "summary.json"
    return json.loads(path.read_text()).get("rare", {}) if path.exists() else {}


def _load_run(results: Path):
    """A run directory's compiled scenario and totals (the manifest read by :func:`sim.io.rundir.read_manifest`)."""
    man, path = read_manifest(results, "plot")
    return compile_scenario(validate_scenario(man["scenario"], str(path))), np.load(results / "totals.npz")


def draw_run(kind: str, scenario: CompiledScenario, totals, rare: dict | None = None) -> Figure:
    """The ``kind`` figure (curves, paths, or tail with the run's ``rare`` estimates) of one run's
    arrays: totals.npz, or :func:`sim.io.rundir.totals_arrays` of an ensemble in memory."""
    runs = int(totals["runs"])
    by_draw = (totals["draw_first_passage"], totals["draw_sizes"]) if "draw_sizes" in totals else None
    if kind == "curves":
        return plot_escalation_curves(scenario, totals["first_passage"], runs, by_draw=by_draw)
    if kind == "tail":
        if not rare:
            raise InputError("--kind tail: the run estimated no rare outcome; run it with --rare TARGET")
        return plot_tail(scenario, totals["first_passage"], runs, rare, by_draw=by_draw)
    return plot_level_paths(scenario, totals["occupancy"], runs, totals["sample_actions"])
