"""Figures of a sweep: responses, effects with paired differences, scatters, risk maps and Sobol indices."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from sim.analysis.experiment import BASELINE_SAMPLERS
from sim.analysis.sweep import SweepResults, load_sweep
from sim.core.errors import InputError
from sim.model.outcomes import LABELS
from sim.ui.plots.common import (LINESTYLES, MARKERS, OKABE_ITO, check_out, finish, interval_note, new_figure,
                                 save_all, wrap_name)


SWEEP_FLAGS = {"response": ("x", "output"), "effects": ("output",), "scatter": ("output",),
               "map": ("x", "y", "output", "risk"), "sensitivity": ("output",)}


RESPONSE_OUTPUTS = ("p_miscalculation", "p_crisis", "p_war")  # a response figure's panels unless --output


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
    fig = new_figure((4.2 * len(outputs), 4.2))
    axes = fig.subplots(1, len(outputs), squeeze=False)
    runs = set()
    for ax, out in zip(axes[0], outputs):
        for k, (label, rows) in enumerate(tables):
            rows = sorted(rows, key=lambda r: float(r[x]))
            xs, ys = _column(rows, x), _column(rows, out)
            colour = OKABE_ITO[k % len(OKABE_ITO)]
            ax.fill_between(xs, _column(rows, f"{out}_low"), _column(rows, f"{out}_high"), color=colour,
                            alpha=0.2, lw=0)
            ax.plot(xs, ys, marker=MARKERS[k % len(MARKERS)], ls=LINESTYLES[k % len(LINESTYLES)], color=colour,
                    ms=3.5, lw=1.6, label=label)
            runs.update(int(r["runs"]) for r in rows)
        ax.set_xlabel(wrap_name(x))
        ax.set_ylabel(f"{LABELS.get(out, out)} over the horizon")
        ax.set_ylim(bottom=0)
        ax.set_title(LABELS.get(out, out), fontsize=10)
    if len(tables) > 1 or legend_title:
        axes[0, 0].legend(fontsize=8, title=legend_title, title_fontsize=8)
    shown = f"{min(runs):,}" if len(runs) == 1 else f"{min(runs):,}-{max(runs):,}"
    every_row = [r for _, rows in tables for r in rows]
    fig.suptitle(f"{title or ', '.join(t[0] for t in tables)}: response to {x}\n{shown} runs per point; "
                 f"{interval_note(every_row, 'bands')}", fontsize=10)
    return finish(fig, path)


def plot_effects(rows: list[dict], columns: list[str], outputs=("p_miscalculation", "p_crisis", "p_war"),
                 path: str | Path | None = None, title: str | None = None):
    """Each point's probabilities with 95% intervals, labelled by what it changes from the first point.

    For one-at-a-time designs and switched levers (values that are not numbers). One panel per output;
    in each, point k is the k-th errorbar from the top. When the rows carry paired differences from the
    first point (``<output>_diff``, ``_diff_low``, ``_diff_high``: a sweep on common random numbers), a
    second row of panels shows them with their paired 95% intervals and zero marked: the effect of each
    change, without the Monte Carlo noise the runs share. Everything is in percent (probabilities) and
    percentage points (differences): one unit for the whole figure.
    """
    base = rows[0]
    labels = []
    for r in rows:
        changed = [f"{c} = {r[c]}" for c in columns if r[c] != base[c]]
        labels.append(", ".join(changed) if changed else "first point (baseline)")
    paired = all(f"{out}_diff" in r and r[f"{out}_diff"] not in ("", None) for r in rows for out in outputs)
    fig = new_figure((4.0 * len(outputs) + 2.5, (0.45 * len(rows) + 1.2) * (2 if paired else 1) + 0.8))
    axes = fig.subplots(2 if paired else 1, len(outputs), sharey=True, squeeze=False)
    ys = np.arange(len(rows))[::-1]
    for k, (ax, out) in enumerate(zip(axes[0], outputs)):
        est = 100 * _column(rows, out)
        ax.errorbar(est, ys, xerr=100 * _error_bars(rows, out, est / 100), fmt="o",
                    color=OKABE_ITO[k % len(OKABE_ITO)], capsize=3)
        ax.axvline(est[0], color="0.5", lw=0.8, ls="--")
        ax.xaxis.set_major_locator(MaxNLocator(nbins=4))  # small probabilities have long tick labels
        ax.set_xlabel(f"{LABELS.get(out, out)} over the horizon, %")
        ax.set_title(LABELS.get(out, out), fontsize=10)
    if paired:
        for k, (ax, out) in enumerate(zip(axes[1], outputs)):
            diff = 100 * _column(rows, f"{out}_diff")
            err = np.clip(np.vstack([diff - 100 * _column(rows, f"{out}_diff_low"),
                                     100 * _column(rows, f"{out}_diff_high") - diff]), 0.0, None)
            ax.axvline(0.0, color="0.2", lw=1.0)
            ax.errorbar(diff, ys, xerr=err, fmt="D", ms=4, color=OKABE_ITO[k % len(OKABE_ITO)], capsize=3)
            ax.xaxis.set_major_locator(MaxNLocator(nbins=4))
            ax.set_xlabel(f"change in {LABELS.get(out, out)}, percentage points")
            ax.set_title(f"{LABELS.get(out, out)}: difference from the first point", fontsize=10)
        axes[1, 0].set_yticks(ys, labels, fontsize=8)
    axes[0, 0].set_yticks(ys, labels, fontsize=8)
    runs = {int(r["runs"]) for r in rows}
    diffs = [{"interval": r.get("diff_interval") or _paired_kind(r)} for r in rows[1:]]
    fig.suptitle(f"{title or ''}: each change against the first point (dashed)\n"
                 f"{min(runs):,} runs per point; {interval_note(rows)}"
                 + (f"\nbelow, differences on common random numbers; {interval_note(diffs)}; zero marked"
                    if paired else ""), fontsize=10)
    return finish(fig, path)


def _paired_kind(row: dict) -> str:
    """A paired difference's interval in a sweep written before points.csv named it: over the posterior
    draws when the point's runs share them, else run by run."""
    kind = str(row.get("interval") or "")
    return f"paired, {kind}" if "posterior draws" in kind else "paired, run by run (Newcombe)"


def plot_scatter(rows: list[dict], columns: list[str], output: str = "p_miscalculation",
                 path: str | Path | None = None, title: str | None = None):
    """One probability against each sampled parameter (space-filling designs): points with 95% bars.

    One panel per parameter, in order; every panel shows all points, so the spread at a given x is what
    the other parameters do.
    """
    fig = new_figure((3.4 * len(columns), 3.6))
    axes = fig.subplots(1, len(columns), sharey=True, squeeze=False)
    est = _column(rows, output)
    err = _error_bars(rows, output, est)
    for k, (ax, col) in enumerate(zip(axes[0], columns)):
        ax.errorbar(_column(rows, col), est, yerr=err, fmt="o", ms=3, color=OKABE_ITO[k % len(OKABE_ITO)],
                    capsize=2, lw=0.8)
        ax.set_xlabel(wrap_name(col, 22))
    axes[0, 0].set_ylabel(f"{LABELS.get(output, output)} over the horizon")
    runs = {int(r["runs"]) for r in rows}
    fig.suptitle(f"{title or ''}: {LABELS.get(output, output)} at {len(rows)} sampled points\n"
                 f"{min(runs):,} runs per point; {interval_note(rows)}", fontsize=10)
    return finish(fig, path)


def plot_risk_map(rows: list[dict], x: str, y: str, output: str = "p_miscalculation", risk: float | None = None,
                  path: str | Path | None = None, title: str | None = None):
    """A heatmap of ``output`` over a grid of two parameters, with a contour at the ``risk`` level.

    One cell per grid value, of equal size and labelled by its value, so the axes hold the grid and no
    more (cells centred on uneven values would run past the last one: 460 days for a grid ending at 365).
    Returns the figure; its first image (a QuadMesh) holds the grid of estimates, rows = y values. When
    the grid never crosses ``risk`` there is no contour, and the title says so.
    """
    xs = np.unique(_column(rows, x))
    ys = np.unique(_column(rows, y))
    grid = np.full((len(ys), len(xs)), np.nan)
    for r in rows:
        grid[np.searchsorted(ys, float(r[y])), np.searchsorted(xs, float(r[x]))] = float(r[output])
    fig = new_figure((7, 5.5))
    ax = fig.subplots()
    mesh = ax.pcolormesh(np.arange(len(xs) + 1) - 0.5, np.arange(len(ys) + 1) - 0.5, grid, cmap="cividis",
                         shading="flat")
    fig.colorbar(mesh, ax=ax, label=f"{LABELS.get(output, output)} over the horizon")
    crossed = risk is not None and len(xs) > 1 and len(ys) > 1 and np.nanmin(grid) < risk < np.nanmax(grid)
    if crossed:
        cs = ax.contour(np.arange(len(xs)), np.arange(len(ys)), grid, levels=[risk], colors="#D55E00",
                        linewidths=2)
        ax.clabel(cs, fmt={risk: f"{risk:g}"}, fontsize=8)
    ax.set_xticks(np.arange(len(xs)), [f"{v:g}" for v in xs])
    ax.set_yticks(np.arange(len(ys)), [f"{v:g}" for v in ys])
    ax.set_xlabel(wrap_name(x, 40))
    ax.set_ylabel(wrap_name(y, 30))
    runs = {int(r["runs"]) for r in rows}
    contour = ("" if risk is None else f"; orange contour: risk {risk:g}" if crossed
               else f"; risk {risk:g}: not crossed in this grid ({np.nanmin(grid):.3g} to {np.nanmax(grid):.3g})")
    ax.set_title(f"{title + ': ' if title else ''}{LABELS.get(output, output)} over {x} and {y}\n"
                 f"{min(runs):,} runs per cell{contour}", fontsize=10)
    return finish(fig, path)


def plot_sensitivity(sensitivity: dict, output: str = "p_miscalculation", path: str | Path | None = None,
                     title: str | None = None):
    """Sobol first-order (S1) and total (ST) indices per parameter as bars with 95% intervals.

    ``sensitivity`` is a sweep's sensitivity.json. The first container of bars is S1, the second ST,
    in the parameter order of the experiment.
    """
    idx = sensitivity["indices"][output]
    names = list(idx)
    pos = np.arange(len(names))
    fig = new_figure((max(6, 1.3 * len(names) + 2), 4.5))
    ax = fig.subplots()
    for k, (key, label) in enumerate((("S1", "first order S1"), ("ST", "total ST"))):
        vals = np.array([idx[n][key] if idx[n][key] is not None else np.nan for n in names])
        errs = np.array([idx[n][f"{key}_conf"] if idx[n][f"{key}_conf"] is not None else 0 for n in names])
        ax.bar(pos + (k - 0.5) * 0.38, vals, 0.38, yerr=errs, capsize=3, color=OKABE_ITO[k], label=label)
    ax.axhline(0, color="0.3", lw=0.8)
    ax.set_xticks(pos, [wrap_name(n.split(".")[-1] if len(n) > 24 else n, 20) for n in names], rotation=20,
                  ha="right", fontsize=8)
    ax.set_ylabel("Sobol index (share of output variance)")
    ax.legend(fontsize=8)
    ax.set_title(f"{title + ': ' if title else ''}Sobol indices of {LABELS.get(output, output)}\n"
                 f"SALib, {sensitivity['base_samples']} base samples; bars: 95% intervals".strip(),
                 fontsize=10)
    return finish(fig, path)


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
    if s.sampler in BASELINE_SAMPLERS or not numeric:
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
    return save_all(draw_sweep(sweeps, kind, x=x, y=y, output=output, risk=risk), out, sweeps[0].path / kind, formats)


def draw_sweep(sweeps: list[SweepResults], kind: str | None = None, *, x=None, y=None, output=None, risk=None) -> Figure:
    """The ``kind`` figure (default: the design's) of loaded sweeps, checked first, not saved."""
    kind = kind or default_kind(sweeps)
    return _SWEEP_DRAW[kind](sweeps, **check_sweep_request(sweeps, kind, x, y, output, risk))


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


_ALTERNATIVE = {"oat": "effects", "pairs": "effects", "lhs": "scatter", "sobol": "scatter", "saltelli": "sensitivity or scatter"}


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
        if kind == "effects" and s.sampler not in ("grid", *BASELINE_SAMPLERS):
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
