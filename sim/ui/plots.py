"""Figures from results: escalation curves, level fans, sweep responses, risk maps, Sobol indices.

Every function takes results (arrays or table rows), draws one matplotlib figure, saves it when given
a path (PNG, SVG or PDF by suffix, written atomically) and returns it, so tests and notebooks can
read the plotted data back. Colours are Okabe-Ito (distinguishable with common colour-vision
deficiencies); the heatmap uses cividis.

Figures are built as ``matplotlib.figure.Figure`` objects, never through pyplot: that needs no
backend, so importing this module leaves a notebook's or an application's backend alone.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from dataclasses import dataclass
from pathlib import Path

import matplotlib.dates as mdates
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from sim.model.compile import CompiledScenario
from sim.core.errors import InputError
from sim.io.results import atomic_write
from sim.core.stats import escalation_curves

OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")
OUTPUT_LABELS = {
    "p_miscalculation": "P(miscalculation)",
    "p_crisis": "P(crisis)",
    "p_war": "P(war)",
    "p_crisis_perfect_perception": "P(crisis, perfect perception)",
    "p_crisis_after_misreading": "P(crisis after a misreading)",
    "p_misperception_driven_escalation": "P(misperception-driven escalation)",
}


def save_figure(fig, path: str | Path, dpi: int = 120) -> None:
    """Save atomically, in the format the suffix names (.png, .svg, .pdf); missing folders are made."""
    path = Path(path)
    buf = io.BytesIO()
    fig.savefig(buf, format=path.suffix.lstrip(".").lower() or "png", dpi=dpi)
    path.parent.mkdir(parents=True, exist_ok=True)  # after drawing: a failed draw leaves no empty folder
    atomic_write(path, buf.getvalue())


def _figure(figsize: tuple[float, float]) -> Figure:
    # a bare Figure renders through its own canvas when saved; pyplot would pick (or change) a backend
    return Figure(figsize=figsize, layout="constrained")


def _finish(fig, path):
    if path is not None:
        save_figure(fig, path)
    return fig


def _dates(scenario: CompiledScenario) -> list[dt.date]:
    return [scenario.start + dt.timedelta(days=t) for t in range(scenario.horizon)]


def _shade_drills(ax, scenario: CompiledScenario, days, label: bool = True) -> None:
    """Grey spans for drill periods (hatched where the dates are approximate), named at the top."""
    for name, t0, t1, approximate in scenario.drill_periods:
        ax.axvspan(days[t0], days[min(t1, scenario.horizon) - 1], color="0.85", alpha=0.6, lw=0,
                   hatch="//" if approximate else None, zorder=0)
        if label:
            ax.annotate(name.replace("_", " "), (days[t0], 1.0), xycoords=("data", "axes fraction"),
                        xytext=(2, -4), textcoords="offset points", fontsize=7, rotation=90, va="top",
                        color="0.3")


def _date_axis(ax) -> None:
    ax.xaxis.set_major_locator(mdates.MonthLocator())
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%b"))
    ax.set_xlabel("date (one step = one day)")


def plot_escalation_curves(scenario: CompiledScenario, first_passage: np.ndarray, runs: int,
                           path: str | Path | None = None, min_rung: int = 1, by_draw=None):
    """P(max realised rung so far >= k) against date, one line per rung k >= ``min_rung``, 95% bands.

    ``first_passage`` is the (K+1, T+1) histogram of :class:`sim.model.outcomes.Totals`; ``by_draw`` (the
    per-draw histograms (D, K+1, T+1), runs per draw (D,)) makes the bands intervals over posterior
    draws (:func:`sim.core.stats.escalation_curves`; none with too few draws). Lines are in rung order; each
    line's label names its rung.
    """
    p, lo, hi = escalation_curves(first_passage, runs, by_draw)
    days = _dates(scenario)
    fig = _figure((10, 5.5))
    ax = fig.subplots()
    _shade_drills(ax, scenario, days)
    for k in range(min_rung, scenario.top_rung + 1):
        colour = OKABE_ITO[(k - min_rung) % len(OKABE_ITO)]
        if not np.isnan(lo[k]).all():
            ax.fill_between(days, lo[k], hi[k], color=colour, alpha=0.2, lw=0)
        ax.plot(days, p[k], color=colour, lw=1.8, label=f">= {k}: {scenario.rung_names[k]}")
    ax.set_ylim(0, 1.02)
    ax.set_ylabel("P(highest rung reached so far >= k)")
    _date_axis(ax)
    if by_draw is None:
        bands = "bands: Wilson 95% intervals"
    elif np.isnan(lo).all():
        bands = f"no bands: {len(by_draw[1])} posterior draws are too few for an interval"
    else:
        bands = f"bands: 95% intervals over {len(by_draw[1])} posterior draws"
    ax.set_title(f"Escalation curves: {scenario.name}, {scenario.start.year}\n"
                 f"{runs:,} runs; {bands}; grey: drills (hatched: approximate dates)", fontsize=10)
    ax.legend(title="rung k", loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8, title_fontsize=8)
    return _finish(fig, path)


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
    days = _dates(scenario)
    mean = (occupancy * np.arange(K1)).sum(axis=-1) / runs
    low, high = rung_quantile(occupancy, 0.05), rung_quantile(occupancy, 0.95)
    fig = _figure((10, 1.9 * N + 1))
    axes = fig.subplots(N, 1, sharex=True, sharey=True, squeeze=False)
    for i, ax in enumerate(axes[:, 0]):
        colour = OKABE_ITO[i % len(OKABE_ITO)]
        _shade_drills(ax, scenario, days, label=False)
        ax.fill_between(days, low[:, i], high[:, i], step="mid", color=colour, alpha=0.2, lw=0)
        if sample_actions is not None:
            for s in range(len(sample_actions)):
                ax.plot(days, sample_actions[s, :, i], color="0.4", lw=0.6, alpha=0.6, drawstyle="steps-mid")
        ax.plot(days, mean[:, i], color=colour, lw=2.0, label="mean")
        ax.set_title(scenario.actor_names[i], loc="left", fontsize=9)
        ax.set_yticks(range(K1), scenario.rung_names, fontsize=7)
        ax.set_ylim(-0.2, K1 - 0.8)
    _date_axis(axes[-1, 0])
    n_samples = 0 if sample_actions is None else len(sample_actions)
    fig.suptitle(f"Realised rung by actor: {scenario.name} ({runs:,} runs)\nthick: mean; band: 5-95% of runs; "
                 f"thin grey: {n_samples} sample runs; grey spans: drills", fontsize=10)
    return _finish(fig, path)


def _column(rows: list[dict], name: str) -> np.ndarray:
    """A numeric column of a sweep's rows; an empty cell (an interval too few draws could not give) is NaN,
    which the figures leave out."""
    return np.array([np.nan if r[name] in (None, "") else float(r[name]) for r in rows])


def _error_bars(rows: list[dict], name: str, est: np.ndarray) -> np.ndarray:
    """(2, n) distances from each estimate to its interval ends, for errorbar."""
    err = np.vstack([est - _column(rows, f"{name}_low"), _column(rows, f"{name}_high") - est])
    # at an estimate of 0 the Wilson lower end can come out a rounding error above it (1.7e-18)
    return np.clip(err, 0.0, None)


def plot_response(tables: list[tuple[str, list[dict]]], x: str, outputs=("p_miscalculation", "p_crisis", "p_war"),
                  path: str | Path | None = None, title: str | None = None, legend_title: str | None = None):
    """Probabilities against one parameter with 95% interval bands, one panel per output.

    ``tables`` are (label, rows) pairs, rows as in a sweep's points.csv, one row per x value; several
    tables (scenarios swept over the same parameter, or the levels of a grid's other parameter) share
    each panel, one line each, in order. ``legend_title`` names what the lines differ in.
    """
    fig = _figure((4.2 * len(outputs), 4.2))
    axes = fig.subplots(1, len(outputs), squeeze=False)
    runs = set()
    for ax, out in zip(axes[0], outputs):
        for k, (label, rows) in enumerate(tables):
            rows = sorted(rows, key=lambda r: float(r[x]))
            xs, ys = _column(rows, x), _column(rows, out)
            colour = OKABE_ITO[k % len(OKABE_ITO)]
            ax.fill_between(xs, _column(rows, f"{out}_low"), _column(rows, f"{out}_high"), color=colour,
                            alpha=0.2, lw=0)
            ax.plot(xs, ys, "o-", color=colour, ms=3, lw=1.6, label=label)
            runs.update(int(r["runs"]) for r in rows)
        ax.set_xlabel(x)
        ax.set_ylabel(f"{OUTPUT_LABELS.get(out, out)} over the horizon")
        ax.set_ylim(bottom=0)
        ax.set_title(OUTPUT_LABELS.get(out, out), fontsize=10)
    if len(tables) > 1 or legend_title:
        axes[0, 0].legend(fontsize=8, title=legend_title, title_fontsize=8)
    shown = f"{min(runs):,}" if len(runs) == 1 else f"{min(runs):,}-{max(runs):,}"
    fig.suptitle(f"{title or ', '.join(t[0] for t in tables)}: response to {x}\n{shown} runs per point; "
                 "bands: Wilson 95% intervals", fontsize=10)
    return _finish(fig, path)


def plot_effects(rows: list[dict], columns: list[str], outputs=("p_miscalculation", "p_crisis", "p_war"),
                 path: str | Path | None = None, title: str | None = None):
    """Each point's probabilities with 95% intervals, labelled by what it changes from the first point.

    For one-at-a-time designs and switched levers (values that are not numbers). One panel per output;
    in each, point k is the k-th errorbar from the top. When the rows carry paired differences from the
    first point (``<output>_diff``, ``_diff_low``, ``_diff_high``: a sweep on common random numbers), a
    second row of panels shows them, in percentage points with their paired 95% intervals and zero
    marked: the effect of each change, without the Monte Carlo noise the runs share.
    """
    base = rows[0]
    labels = []
    for r in rows:
        changed = [f"{c} = {r[c]}" for c in columns if r[c] != base[c]]
        labels.append(", ".join(changed) if changed else "first point (baseline)")
    paired = all(f"{out}_diff" in r and r[f"{out}_diff"] not in ("", None) for r in rows for out in outputs)
    fig = _figure((4.0 * len(outputs) + 2.5, (0.45 * len(rows) + 1.2) * (2 if paired else 1) + 0.8))
    axes = fig.subplots(2 if paired else 1, len(outputs), sharey=True, squeeze=False)
    ys = np.arange(len(rows))[::-1]
    for k, (ax, out) in enumerate(zip(axes[0], outputs)):
        est = _column(rows, out)
        err = _error_bars(rows, out, est)
        ax.errorbar(est, ys, xerr=err, fmt="o", color=OKABE_ITO[k % len(OKABE_ITO)], capsize=3)
        ax.axvline(est[0], color="0.5", lw=0.8, ls="--")
        ax.xaxis.set_major_locator(MaxNLocator(nbins=4))  # small probabilities have long tick labels
        ax.set_xlabel(f"{OUTPUT_LABELS.get(out, out)} over the horizon")
        ax.set_title(OUTPUT_LABELS.get(out, out), fontsize=10)
    if paired:
        for k, (ax, out) in enumerate(zip(axes[1], outputs)):
            diff = 100 * _column(rows, f"{out}_diff")
            err = np.clip(np.vstack([diff - 100 * _column(rows, f"{out}_diff_low"),
                                     100 * _column(rows, f"{out}_diff_high") - diff]), 0.0, None)
            ax.axvline(0.0, color="0.2", lw=1.0)
            ax.errorbar(diff, ys, xerr=err, fmt="D", ms=4, color=OKABE_ITO[k % len(OKABE_ITO)], capsize=3)
            ax.set_xlabel(f"change in {OUTPUT_LABELS.get(out, out)}, percentage points")
            ax.set_title(f"{OUTPUT_LABELS.get(out, out)}: difference from the first point", fontsize=10)
        axes[1, 0].set_yticks(ys, labels, fontsize=8)
    axes[0, 0].set_yticks(ys, labels, fontsize=8)
    runs = {int(r["runs"]) for r in rows}
    fig.suptitle(f"{title or ''}: each change against the first point (dashed)\n"
                 f"{min(runs):,} runs per point; bars: Wilson 95% intervals"
                 + ("; below, differences (runs paired on the same random numbers): Newcombe paired 95% "
                    "intervals, zero marked" if paired else ""), fontsize=10)
    return _finish(fig, path)


def plot_scatter(rows: list[dict], columns: list[str], output: str = "p_miscalculation",
                 path: str | Path | None = None, title: str | None = None):
    """One probability against each sampled parameter (space-filling designs): points with 95% bars.

    One panel per parameter, in order; every panel shows all points, so the spread at a given x is what
    the other parameters do.
    """
    fig = _figure((3.4 * len(columns), 3.6))
    axes = fig.subplots(1, len(columns), sharey=True, squeeze=False)
    est = _column(rows, output)
    err = _error_bars(rows, output, est)
    for k, (ax, col) in enumerate(zip(axes[0], columns)):
        ax.errorbar(_column(rows, col), est, yerr=err, fmt="o", ms=3, color=OKABE_ITO[k % len(OKABE_ITO)],
                    capsize=2, lw=0.8)
        ax.set_xlabel(col)
    axes[0, 0].set_ylabel(f"{OUTPUT_LABELS.get(output, output)} over the horizon")
    runs = {int(r["runs"]) for r in rows}
    fig.suptitle(f"{title or ''}: {OUTPUT_LABELS.get(output, output)} at {len(rows)} sampled points\n"
                 f"{min(runs):,} runs per point; bars: Wilson 95% intervals", fontsize=10)
    return _finish(fig, path)


def plot_risk_map(rows: list[dict], x: str, y: str, output: str = "p_miscalculation", risk: float | None = None,
                  path: str | Path | None = None, title: str | None = None):
    """A heatmap of ``output`` over a grid of two parameters, with a contour at the ``risk`` level.

    Returns the figure; its first image (a QuadMesh) holds the grid of estimates, rows = y values.
    When the grid never crosses ``risk`` there is no contour, and the title says so.
    """
    xs = np.unique(_column(rows, x))
    ys = np.unique(_column(rows, y))
    grid = np.full((len(ys), len(xs)), np.nan)
    for r in rows:
        grid[np.searchsorted(ys, float(r[y])), np.searchsorted(xs, float(r[x]))] = float(r[output])
    fig = _figure((7, 5.5))
    ax = fig.subplots()
    mesh = ax.pcolormesh(_edges(xs), _edges(ys), grid, cmap="cividis", shading="flat")
    fig.colorbar(mesh, ax=ax, label=f"{OUTPUT_LABELS.get(output, output)} over the horizon")
    crossed = risk is not None and len(xs) > 1 and len(ys) > 1 and np.nanmin(grid) < risk < np.nanmax(grid)
    if crossed:
        cs = ax.contour(xs, ys, grid, levels=[risk], colors="#D55E00", linewidths=2)
        ax.clabel(cs, fmt={risk: f"{risk:g}"}, fontsize=8)
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    runs = {int(r["runs"]) for r in rows}
    contour = ("" if risk is None else f"; orange contour: risk {risk:g}" if crossed
               else f"; risk {risk:g}: not crossed in this grid ({np.nanmin(grid):.3g} to {np.nanmax(grid):.3g})")
    ax.set_title(f"{title or ''} {OUTPUT_LABELS.get(output, output)} over {x} and {y}\n"
                 f"{min(runs):,} runs per cell{contour}".strip(), fontsize=10)
    return _finish(fig, path)


def _edges(centres: np.ndarray) -> np.ndarray:
    """Cell edges around sorted centres (midpoints; half a step beyond the ends)."""
    if len(centres) == 1:
        return np.array([centres[0] - 0.5, centres[0] + 0.5])
    mid = (centres[1:] + centres[:-1]) / 2
    return np.concatenate([[2 * centres[0] - mid[0]], mid, [2 * centres[-1] - mid[-1]]])


def plot_sensitivity(sensitivity: dict, output: str = "p_miscalculation", path: str | Path | None = None,
                     title: str | None = None):
    """Sobol first-order (S1) and total (ST) indices per parameter as bars with 95% intervals.

    ``sensitivity`` is a sweep's sensitivity.json. The first container of bars is S1, the second ST,
    in the parameter order of the experiment.
    """
    idx = sensitivity["indices"][output]
    names = list(idx)
    pos = np.arange(len(names))
    fig = _figure((max(6, 1.3 * len(names) + 2), 4.5))
    ax = fig.subplots()
    for k, (key, label) in enumerate((("S1", "first order S1"), ("ST", "total ST"))):
        vals = np.array([idx[n][key] if idx[n][key] is not None else np.nan for n in names])
        errs = np.array([idx[n][f"{key}_conf"] if idx[n][f"{key}_conf"] is not None else 0 for n in names])
        ax.bar(pos + (k - 0.5) * 0.38, vals, 0.38, yerr=errs, capsize=3, color=OKABE_ITO[k], label=label)
    ax.axhline(0, color="0.3", lw=0.8)
    ax.set_xticks(pos, [n.split(".")[-1] if len(n) > 24 else n for n in names], rotation=20, ha="right",
                  fontsize=8)
    ax.set_ylabel("Sobol index (share of output variance)")
    ax.legend(fontsize=8)
    ax.set_title(f"{title or ''} sensitivity of {OUTPUT_LABELS.get(output, output)}\n"
                 f"SALib Sobol indices on {sensitivity['base_samples']} base samples; bars: 95% intervals".strip(),
                 fontsize=10)
    return _finish(fig, path)


def plot_hindcast(comparison, period: dict | None = None, title: str = "", path: str | Path | None = None):
    """Observed counts per year against the simulated median and band, one panel per statistic.

    ``comparison`` is :func:`sim.data.hindcast.compare`'s list (one entry a year); ``period`` the
    :func:`sim.data.hindcast.period_statistics` checks, named in the title. In each panel the first line
    is the simulated median with its band (an errorbar container) and the markers are the record
    (filled: inside the band; open: outside).
    """
    keys = ("provocation_days", "provocation_days_in_windows", "provocation_days_outside_windows", "crisis_onsets")
    labels = ("provocation days", "... inside exercise windows", "... outside exercise windows",
              "clashes (crisis onsets)")
    years = np.array([r.year for r in comparison])
    fig = _figure((13, 3.6))
    axes = fig.subplots(1, len(keys), sharex=True)
    for k, (ax, key, label) in enumerate(zip(axes, keys, labels)):
        checks = [r.checks[key] for r in comparison]
        med = np.array([c.median for c in checks])
        err = np.array([[c.median - c.low for c in checks], [c.high - c.median for c in checks]])
        ax.errorbar(years, med, yerr=err, fmt="s", color=OKABE_ITO[0], ms=4, capsize=3, label="simulated: median, 90% band")
        obs = np.array([c.observed for c in checks])
        inside = np.array([c.inside for c in checks])
        ax.plot(years[inside], obs[inside], "o", color=OKABE_ITO[3], label="record (inside the band)")
        ax.plot(years[~inside], obs[~inside], "o", mfc="none", color=OKABE_ITO[3], label="record (outside)")
        ax.set_title(f"{label}: {inside.sum()}/{len(years)} inside", fontsize=9)
        ax.set_xticks(years, [str(y)[2:] for y in years], fontsize=8)
        ax.set_ylim(bottom=0)
    axes[0].set_ylabel("count in the year")
    # the legend below the panels, where it hides no year
    handles, names = axes[0].get_legend_handles_labels()
    fig.legend(handles, names, fontsize=8, loc="outside lower center", ncol=3, frameon=False)
    cells = [f"{k.replace('_', ' ')} {c.observed:.3g} vs {c.median:.3g} [{c.low:.3g}, {c.high:.3g}]"
             for k, c in (period or {}).items()]
    lines = ["; ".join(cells[i:i + 3]) for i in range(0, len(cells), 3)]  # three statistics a line
    fig.suptitle("\n".join([f"Hindcast {title}: the record against simulated years (run k of each year = one "
                            "history)", *(["period, observed vs simulated median [90% band]:"] if lines else []),
                            *lines]), fontsize=9)
    return _finish(fig, path)


# ---------------------------------------------------------------- figures from a results directory
#
# `escsim plot` and the run and sweep commands draw through these. Every request is checked in full
# before anything is drawn or written: a flag the chosen figure does not read, a name that is not in
# the results, or a design the figure cannot show is refused with one InputError line.

FIGURE_KINDS = ("curves", "paths", "response", "effects", "scatter", "map", "sensitivity")
RUN_FIGURES = {"curves": "escalation_curves", "paths": "level_paths"}  # kind -> file stem in a run directory
FIGURE_FORMATS = (".png", ".svg", ".pdf")
# the flags (besides --kind and --out) each sweep figure reads; any other given flag is refused
SWEEP_FLAGS = {"response": ("x", "output"), "effects": ("output",), "scatter": ("output",),
               "map": ("x", "y", "output", "risk"), "sensitivity": ("output",)}
RESPONSE_OUTPUTS = ("p_miscalculation", "p_crisis", "p_war")  # a response figure's panels unless --output


def results_kind(results: Path) -> str:
    """'run' for an `escsim run` directory, 'sweep' for an `escsim sweep` one."""
    if (results / "totals.npz").exists():
        return "run"
    if (results / "points.csv").exists():
        return "sweep"
    raise InputError(f"{results}: not a results directory (no totals.npz or points.csv)")


def check_out(out: Path | None) -> None:
    """Refuse an --out that cannot be one figure file; a missing folder is fine (made when saving)."""
    if out is None:
        return
    out = Path(out)
    if out.suffix.lower() not in FIGURE_FORMATS:
        raise InputError(f"--out {out}: name a .png, .svg or .pdf file")
    if out.is_dir():
        raise InputError(f"--out {out}: is a folder; name a .png, .svg or .pdf file")
    if any(p.exists() and not p.is_dir() for p in out.parents):
        raise InputError(f"--out {out}: a folder on its path is a file")


def run_figures(results: Path, kinds=("curves", "paths"), out: Path | None = None,
                formats=("png", "svg")) -> list[Path]:
    """The figures of an `escsim run` directory; written next to its results unless ``out`` is given.

    ``out`` names one file, so it needs exactly one kind.
    """
    results, kinds = Path(results), tuple(kinds)
    for kind in kinds:
        if kind not in RUN_FIGURES:
            raise InputError(f"--kind {kind}: a run directory has figures curves and paths")
    if out is not None and len(kinds) != 1:
        raise InputError(f"--out {out}: names one file and a run directory has {len(kinds)} figures "
                         f"({', '.join(kinds)}); add --kind curves or --kind paths")
    check_out(out)
    scenario, totals = _load_run(results)
    written = []
    for kind in kinds:
        written += _save_all(_draw_run(kind, scenario, totals), out, results / RUN_FIGURES[kind], formats)
    return written


def _load_run(results: Path):
    from sim.model.compile import compile_scenario
    from sim.model.scenario import validate_scenario

    manifest = results / "manifest.json"
    if not manifest.exists():
        raise InputError(f"{results}: no manifest.json; not a complete escsim run directory")
    scenario = compile_scenario(validate_scenario(json.loads(manifest.read_text())["scenario"], str(manifest)))
    return scenario, np.load(results / "totals.npz")


def _draw_run(kind: str, scenario: CompiledScenario, totals) -> Figure:
    runs = int(totals["runs"])
    if kind == "curves":
        by_draw = (totals["draw_first_passage"], totals["draw_sizes"]) if "draw_sizes" in totals else None
        return plot_escalation_curves(scenario, totals["first_passage"], runs, by_draw=by_draw)
    return plot_level_paths(scenario, totals["occupancy"], runs, totals["sample_actions"])


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
        return all(_is_number(r[column]) for r in self.rows)

    def levels(self, column: str) -> list[str]:
        """The column's values in the order the design first takes them."""
        return list(dict.fromkeys(r[column] for r in self.rows))


def load_sweep(results: Path) -> SweepResults:
    """Read a sweep directory's manifest and table; a missing or empty one is an InputError."""
    from pydantic import ValidationError

    from sim.analysis.experiment import ExperimentFile

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


def default_kind(sweeps: list[SweepResults]) -> str:
    """The figure a sweep's design calls for (several directories: their response curves overlaid)."""
    if len(sweeps) > 1:
        return "response"
    s = sweeps[0]
    numeric = [c for c in s.columns if s.numeric(c)]
    if s.sampler == "saltelli":
        return "sensitivity"
    if s.sampler in ("lhs", "sobol"):
        return "scatter"
    if s.sampler == "oat" or not numeric:
        return "effects"
    if len(s.columns) == 2 and len(numeric) == 2:
        return "map"
    if len(s.columns) <= 2:
        return "response"
    return "scatter" if len(numeric) == len(s.columns) else "effects"


def sweep_figures(results: list[Path], kind: str | None = None, out: Path | None = None, x: str | None = None,
                  y: str | None = None, output: str | None = None, risk: float | None = None,
                  formats=("png", "svg")) -> list[Path]:
    """One figure of one or more `escsim sweep` directories, written as RESULTS/KIND.png and .svg or ``out``.

    ``kind`` defaults to what the design calls for (:func:`default_kind`). What each kind needs, and
    which of x, y, output, risk it reads, is checked first (:func:`check_sweep_request`); a request
    that cannot be drawn as asked raises InputError and writes nothing.
    """
    sweeps = [load_sweep(d) for d in results]
    check_out(out)
    kind = kind or default_kind(sweeps)
    request = check_sweep_request(sweeps, kind, x, y, output, risk)
    fig = _SWEEP_DRAW[kind](sweeps, **request)
    return _save_all(fig, out, sweeps[0].path / kind, formats)


def check_sweep_request(sweeps: list[SweepResults], kind: str, x=None, y=None, output=None, risk=None) -> dict:
    """The keyword arguments of the drawing function for ``kind``, or InputError naming the one problem."""
    if kind not in SWEEP_FLAGS:
        raise InputError(f"--kind {kind}: a sweep directory has figures {', '.join(SWEEP_FLAGS)}")
    if len(sweeps) > 1 and kind != "response":
        raise InputError(f"--kind {kind} draws one sweep directory; several are only for --kind response "
                         "over a shared parameter")
    given = {"x": x, "y": y, "output": output, "risk": risk}
    for flag, value in given.items():
        if value is not None and flag not in SWEEP_FLAGS[kind]:
            users = [k for k, flags in SWEEP_FLAGS.items() if flag in flags]
            raise InputError(f"--{flag} is not read by the {kind} figure; it is for --kind {' or '.join(users)}")
    _check_design(sweeps, kind)
    picked = _pick_outputs(sweeps, kind, output)
    request = {"outputs": picked} if kind in ("response", "effects") else {"output": picked}  # panels or one
    if kind == "response":
        request["x"] = _response_x(sweeps, x)
    if kind == "map":
        request["x"], request["y"] = _map_axes(sweeps[0], x, y)
        request["risk"] = _check_risk(risk)
    return request


_ALTERNATIVE = {"oat": "effects", "lhs": "scatter", "sobol": "scatter", "saltelli": "sensitivity or scatter"}


def _check_design(sweeps: list[SweepResults], kind: str) -> None:
    """Refuse a design the figure cannot show honestly (e.g. a response line through an OAT sweep)."""
    for s in sweeps:
        where = f"--kind {kind}: {s.path} is a {s.sampler} sweep of {', '.join(s.columns)}"
        if kind == "response" and s.sampler != "grid":
            raise InputError(f"{where}; response lines need a grid: use --kind {_ALTERNATIVE[s.sampler]}")
        if kind == "response" and len(sweeps) > 1 and len(s.columns) > 1:
            raise InputError(f"{s.path} varies {', '.join(s.columns)}; several sweep directories are drawn "
                             "together only as response lines of one-parameter grids over the same parameter")
        if kind == "response" and len(s.columns) > 2:
            raise InputError(f"{where}; response needs a grid of one parameter, or two (one line per level "
                             "of the other): use --kind scatter or effects")
        if kind == "effects" and s.sampler not in ("grid", "oat"):
            raise InputError(f"{where}; effects labels each point by what it changes, and sampled points change "
                             f"everything: use --kind {_ALTERNATIVE[s.sampler]}")
        if kind == "scatter" and not all(s.numeric(c) for c in s.columns):
            bad = next(c for c in s.columns if not s.numeric(c))
            raise InputError(f"{where}; scatter needs numbers and {bad} takes {', '.join(s.levels(bad))}: "
                             "use --kind effects")
        if kind == "map" and not (s.sampler == "grid" and len(s.columns) == 2 and all(map(s.numeric, s.columns))):
            raise InputError(f"{where}; a map needs a grid of two numeric parameters")
        if kind == "sensitivity" and s.sampler != "saltelli":
            raise InputError(f"{where}; Sobol indices need a saltelli sweep")
        if kind == "sensitivity" and not (s.path / "sensitivity.json").exists():
            raise InputError(f"{s.path}: no sensitivity.json; the sweep is unfinished: run its escsim sweep again")


def _pick_outputs(sweeps: list[SweepResults], kind: str, output: str | None):
    """--output if it is an output of every sweep; else the figure's default (a list for panelled kinds)."""
    allowed = [o for o in sweeps[0].outputs if all(o in s.outputs for s in sweeps)]
    if output is not None and output not in allowed:
        raise InputError(f"--output {output}: not an output of {' and '.join(str(s.path) for s in sweeps)}; "
                         f"choose from {', '.join(allowed)}")
    if kind == "response":
        return [output] if output else [o for o in RESPONSE_OUTPUTS if o in allowed] or allowed[:1]
    if kind == "effects":
        return [output] if output else allowed
    return output or ("p_miscalculation" if "p_miscalculation" in allowed else allowed[0])


def _response_x(sweeps: list[SweepResults], x: str | None) -> str:
    """The numeric parameter on the x axis: --x, else the first numeric one (shared, if several sweeps)."""
    first = sweeps[0]
    if len(sweeps) > 1:
        shared = first.columns[0]
        for s in sweeps:
            if s.columns != [shared]:
                raise InputError(f"{s.path} varies {s.columns[0]} and {first.path} varies {shared}; several "
                                 "sweep directories need the same one parameter")
        x = _check_parameter("--x", x or shared, first)
    else:
        numeric = [c for c in first.columns if first.numeric(c)]
        x = _check_parameter("--x", x or (numeric[0] if numeric else first.columns[0]), first)
    for s in sweeps:
        if not s.numeric(x):
            raise InputError(f"--x {x}: takes {', '.join(s.levels(x))} in {s.path}, not numbers; "
                             "a response line needs numbers: use --kind effects")
    return x


def _map_axes(s: SweepResults, x: str | None, y: str | None) -> tuple[str, str]:
    """x and y of a map: the grid's two parameters, --x and --y choosing which goes where."""
    x = _check_parameter("--x", x, s) if x else None
    y = _check_parameter("--y", y, s) if y else None
    if x is not None and x == y:
        raise InputError(f"--x and --y are both {x}; a map needs the grid's two parameters, one on each axis")
    x = x or next(c for c in s.columns if c != y)
    return x, y or next(c for c in s.columns if c != x)


def _check_parameter(flag: str, name: str, s: SweepResults) -> str:
    if name not in s.columns:
        raise InputError(f"{flag} {name}: not a parameter of {s.path}; choose from {', '.join(s.columns)}")
    return name


def _check_risk(risk: float | None) -> float | None:
    if risk is not None and not 0 < risk < 1:
        raise InputError(f"--risk {risk:g}: a probability strictly between 0 and 1")
    return risk


def _draw_response(sweeps: list[SweepResults], x: str, outputs: list[str]) -> Figure:
    """One line per sweep, or, on a two-parameter grid, one line per level of the other parameter."""
    s = sweeps[0]
    others = [c for c in s.columns if c != x]
    if len(sweeps) == 1 and others:
        other = others[0]
        tables = [(v, [r for r in s.rows if r[other] == v]) for v in s.levels(other)]  # legend title names it
        return plot_response(tables, x, outputs, title=f"{s.name}, one line per {other}", legend_title=other)
    tables = [(t.name, t.rows) for t in sweeps]
    return plot_response(tables, x, outputs, title=" vs ".join(t[0] for t in tables))


def _draw_effects(sweeps: list[SweepResults], outputs: list[str]) -> Figure:
    s = sweeps[0]
    return plot_effects(s.rows, s.columns, outputs, title=s.name)


def _draw_scatter(sweeps: list[SweepResults], output: str) -> Figure:
    s = sweeps[0]
    return plot_scatter(s.rows, s.columns, output, title=s.name)


def _draw_map(sweeps: list[SweepResults], x: str, y: str, output: str, risk: float | None) -> Figure:
    s = sweeps[0]
    return plot_risk_map(s.rows, x, y, output, risk, title=s.name)


def _draw_sensitivity(sweeps: list[SweepResults], output: str) -> Figure:
    s = sweeps[0]
    return plot_sensitivity(json.loads((s.path / "sensitivity.json").read_text()), output, title=s.name)


_SWEEP_DRAW = {"response": _draw_response, "effects": _draw_effects, "scatter": _draw_scatter, "map": _draw_map,
               "sensitivity": _draw_sensitivity}


def _is_number(text) -> bool:
    try:
        float(text)
    except (TypeError, ValueError):
        return False
    return str(text) not in ("True", "False")


def _save_all(fig, out: Path | None, stem: Path, formats) -> list[Path]:
    paths = [Path(out)] if out is not None else [stem.with_suffix(f".{f}") for f in formats]
    for p in paths:
        save_figure(fig, p)
    return paths
