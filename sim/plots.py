"""Figures from results: escalation curves, level fans, sweep responses, risk maps, Sobol indices.

Every function takes results (arrays or table rows), draws one matplotlib figure, saves it when given
a path (PNG, SVG or PDF by suffix, written atomically) and returns it, so tests and notebooks can
read the plotted data back. Colours are Okabe-Ito (distinguishable with common colour-vision
deficiencies); the heatmap uses cividis.
"""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; no display is needed or assumed
import matplotlib.dates as mdates  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .compile import CompiledScenario  # noqa: E402
from .results import atomic_write  # noqa: E402
from .stats import escalation_curves  # noqa: E402

OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")
OUTPUT_LABELS = {
    "p_miscalculation": "P(miscalculation)",
    "p_crisis": "P(crisis)",
    "p_war": "P(war)",
    "p_inadvertent": "P(inadvertent crisis)",
    "p_misperception_driven_escalation": "P(misperception-driven escalation)",
}


def save_figure(fig, path: str | Path, dpi: int = 120) -> None:
    """Save atomically, in the format the suffix names (.png, .svg, .pdf)."""
    path = Path(path)
    buf = io.BytesIO()
    fig.savefig(buf, format=path.suffix.lstrip(".") or "png", dpi=dpi)
    atomic_write(path, buf.getvalue())


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
                           path: str | Path | None = None, min_rung: int = 1):
    """P(max realised rung so far >= k) against date, one line per rung k >= ``min_rung``, 95% bands.

    ``first_passage`` is the (K+1, T+1) histogram of :class:`sim.outcomes.Totals`. Lines are in rung
    order; each line's label names its rung.
    """
    p, lo, hi = escalation_curves(first_passage, runs)
    days = _dates(scenario)
    fig, ax = plt.subplots(figsize=(10, 5.5), layout="constrained")
    _shade_drills(ax, scenario, days)
    for k in range(min_rung, scenario.top_rung + 1):
        colour = OKABE_ITO[(k - min_rung) % len(OKABE_ITO)]
        ax.fill_between(days, lo[k], hi[k], color=colour, alpha=0.2, lw=0)
        ax.plot(days, p[k], color=colour, lw=1.8, label=f">= {k}: {scenario.rung_names[k]}")
    ax.set_ylim(0, 1.02)
    ax.set_ylabel("P(highest rung reached so far >= k)")
    _date_axis(ax)
    ax.set_title(f"Escalation curves: {scenario.name}, {scenario.start.year}\n"
                 f"{runs:,} runs; bands: Wilson 95% intervals; grey: drills (hatched: approximate dates)",
                 fontsize=10)
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
    fig, axes = plt.subplots(N, 1, figsize=(10, 1.9 * N + 1), sharex=True, sharey=True, layout="constrained",
                             squeeze=False)
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
    return np.array([float(r[name]) for r in rows])


def plot_response(tables: list[tuple[str, list[dict]]], x: str, outputs=("p_miscalculation", "p_crisis", "p_war"),
                  path: str | Path | None = None, title: str | None = None):
    """Probabilities against one parameter with 95% interval bands, one panel per output.

    ``tables`` are (label, rows) pairs, rows as in a sweep's points.csv; several tables (scenarios or
    lever settings swept over the same parameter) share each panel, one line each, in order.
    """
    fig, axes = plt.subplots(1, len(outputs), figsize=(4.2 * len(outputs), 4.2), layout="constrained",
                             squeeze=False)
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
    if len(tables) > 1:
        axes[0, 0].legend(fontsize=8)
    shown = f"{min(runs):,}" if len(runs) == 1 else f"{min(runs):,}-{max(runs):,}"
    fig.suptitle(f"{title or ', '.join(t[0] for t in tables)}: response to {x}\n{shown} runs per point; "
                 "bands: Wilson 95% intervals", fontsize=10)
    return _finish(fig, path)


def plot_effects(rows: list[dict], columns: list[str], outputs=("p_miscalculation", "p_crisis", "p_war"),
                 path: str | Path | None = None, title: str | None = None):
    """Each point's probabilities with 95% intervals, labelled by what it changes from the first point.

    For one-at-a-time designs and switched levers (values that are not numbers). One panel per output;
    in each, point k is the k-th errorbar from the top.
    """
    base = rows[0]
    labels = []
    for r in rows:
        changed = [f"{c} = {r[c]}" for c in columns if r[c] != base[c]]
        labels.append(", ".join(changed) if changed else "first point (baseline)")
    fig, axes = plt.subplots(1, len(outputs), figsize=(4.0 * len(outputs) + 2.5, 0.45 * len(rows) + 2.0),
                             layout="constrained", sharey=True, squeeze=False)
    ys = np.arange(len(rows))[::-1]
    for k, (ax, out) in enumerate(zip(axes[0], outputs)):
        est = _column(rows, out)
        err = np.vstack([est - _column(rows, f"{out}_low"), _column(rows, f"{out}_high") - est])
        ax.errorbar(est, ys, xerr=err, fmt="o", color=OKABE_ITO[k % len(OKABE_ITO)], capsize=3)
        ax.axvline(est[0], color="0.5", lw=0.8, ls="--")
        ax.set_xlabel(f"{OUTPUT_LABELS.get(out, out)} over the horizon")
        ax.set_title(OUTPUT_LABELS.get(out, out), fontsize=10)
    axes[0, 0].set_yticks(ys, labels, fontsize=8)
    runs = {int(r["runs"]) for r in rows}
    fig.suptitle(f"{title or ''}: each change against the first point (dashed)\n"
                 f"{min(runs):,} runs per point; bars: Wilson 95% intervals", fontsize=10)
    return _finish(fig, path)


def plot_scatter(rows: list[dict], columns: list[str], output: str = "p_miscalculation",
                 path: str | Path | None = None, title: str | None = None):
    """One probability against each sampled parameter (space-filling designs): points with 95% bars.

    One panel per parameter, in order; every panel shows all points, so the spread at a given x is what
    the other parameters do.
    """
    fig, axes = plt.subplots(1, len(columns), figsize=(3.4 * len(columns), 3.6), layout="constrained",
                             sharey=True, squeeze=False)
    est = _column(rows, output)
    err = np.vstack([est - _column(rows, f"{output}_low"), _column(rows, f"{output}_high") - est])
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
    """
    xs = np.unique(_column(rows, x))
    ys = np.unique(_column(rows, y))
    grid = np.full((len(ys), len(xs)), np.nan)
    for r in rows:
        grid[np.searchsorted(ys, float(r[y])), np.searchsorted(xs, float(r[x]))] = float(r[output])
    fig, ax = plt.subplots(figsize=(7, 5.5), layout="constrained")
    mesh = ax.pcolormesh(_edges(xs), _edges(ys), grid, cmap="cividis", shading="flat")
    fig.colorbar(mesh, ax=ax, label=f"{OUTPUT_LABELS.get(output, output)} over the horizon")
    if risk is not None and len(xs) > 1 and len(ys) > 1 and np.nanmin(grid) < risk < np.nanmax(grid):
        cs = ax.contour(xs, ys, grid, levels=[risk], colors="#D55E00", linewidths=2)
        ax.clabel(cs, fmt={risk: f"{risk:g}"}, fontsize=8)
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    runs = {int(r["runs"]) for r in rows}
    contour = f"; orange contour: risk {risk:g}" if risk is not None else ""
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
    fig, ax = plt.subplots(figsize=(max(6, 1.3 * len(names) + 2), 4.5), layout="constrained")
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


# ---------------------------------------------------------------- figures from a results directory

FIGURE_KINDS = ("curves", "paths", "response", "effects", "scatter", "map", "sensitivity")


def results_kind(results: Path) -> str:
    """'run' for an `escsim run` directory, 'sweep' for an `escsim sweep` one."""
    if (results / "totals.npz").exists():
        return "run"
    if (results / "points.csv").exists():
        return "sweep"
    raise FileNotFoundError(f"{results}: not a results directory (no totals.npz or points.csv)")


def run_figures(results: Path, kinds=("curves", "paths"), out: Path | None = None,
                formats=("png", "svg")) -> list[Path]:
    """The figures of an `escsim run` directory; written next to its results unless ``out`` is given."""
    import json

    from .compile import compile_scenario
    from .scenario import validate_scenario

    manifest = json.loads((results / "manifest.json").read_text())
    scenario = compile_scenario(validate_scenario(manifest["scenario"], str(results / "manifest.json")))
    totals = np.load(results / "totals.npz")
    runs = int(totals["runs"])
    written = []
    for kind in kinds:
        if kind == "curves":
            fig = plot_escalation_curves(scenario, totals["first_passage"], runs)
        elif kind == "paths":
            fig = plot_level_paths(scenario, totals["occupancy"], runs, totals["sample_actions"])
        else:
            raise ValueError(f"a run directory has figures curves and paths, not {kind!r}")
        written += _save_all(fig, out if out is not None and len(kinds) == 1 else None,
                             results / {"curves": "escalation_curves", "paths": "level_paths"}[kind], formats)
    return written


def sweep_figures(results: list[Path], kind: str | None = None, out: Path | None = None, x: str | None = None,
                  y: str | None = None, output: str = "p_miscalculation", risk: float | None = None,
                  formats=("png", "svg")) -> list[Path]:
    """The default figure of one or more `escsim sweep` directories (several: response curves overlaid).

    Default kind: sensitivity for a Saltelli sweep, a risk map for a two-parameter grid, else the
    response to the first (or ``x``) parameter.
    """
    import csv
    import json

    from .experiment import Parameter

    loaded = []
    for d in results:
        manifest = json.loads((d / "manifest.json").read_text())
        rows = list(csv.DictReader(open(d / "points.csv")))
        loaded.append((d, manifest["resolved"]["experiment"], rows))
    first_dir, spec, rows = loaded[0]
    meta = spec["experiment"]
    columns = [Parameter.model_validate(p).column for p in spec["parameters"]]
    numeric = all(_is_number(r[c]) for r in rows for c in columns)
    if kind is None:
        kind = ("sensitivity" if meta["sampler"] == "saltelli" and len(loaded) == 1
                else "map" if meta["sampler"] == "grid" and len(columns) == 2 and len(loaded) == 1 and numeric
                else "effects" if meta["sampler"] == "oat" or not numeric
                else "scatter" if meta["sampler"] in ("lhs", "sobol") else "response")
    title = meta["name"]
    if kind == "sensitivity":
        sens = json.loads((first_dir / "sensitivity.json").read_text())
        fig = plot_sensitivity(sens, output, title=title)
    elif kind == "map":
        fig = plot_risk_map(rows, x or columns[0], y or columns[1], output, risk, title=title)
    elif kind == "scatter":
        fig = plot_scatter(rows, columns, output, title=title)
    elif kind == "effects":
        outputs = [o for o in meta.get("outputs", [output]) if o in rows[0]]
        fig = plot_effects(rows, columns, outputs, title=title)
    elif kind == "response":
        x = x or columns[0]
        outputs = [o for o in ("p_miscalculation", "p_crisis", "p_war") if o in meta.get("outputs", [])] or [output]
        tables = [(spec_["experiment"]["name"], rows_) for _, spec_, rows_ in loaded]
        fig = plot_response(tables, x, outputs, title=" vs ".join(t[0] for t in tables))
    else:
        raise ValueError(f"a sweep directory has figures response, effects, scatter, map and sensitivity, "
                         f"not {kind!r}")
    return _save_all(fig, out, first_dir / kind, formats)


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
    plt.close(fig)
    return paths
