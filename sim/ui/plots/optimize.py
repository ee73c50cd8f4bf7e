"""An optimisation's figures: the Pareto set in parallel coordinates, the hypervolume by generation per seed, and the value of information (EVPPI) of each uncertain parameter."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib import colormaps

from sim.ui.plots.common import LINESTYLES, MARKERS, OKABE_ITO, finish, new_figure, save_all, wrap_name


def plot_pareto(rows: list[dict], levers: list[str], objectives: list[str], labels: dict | None = None,
                path: str | Path | None = None, title: str = ""):
    """Parallel coordinates: one line per Pareto posture across its levers and its objectives, each axis
    scaled to its own range (its ends written under and over it), coloured by the first objective (the
    lowest darkest). Switches read 0 (off) and 1 (on)."""
    labels = labels or {}
    axes_names = [*levers, *objectives]
    data = np.array([[_number(r[a]) for a in axes_names] for r in rows], dtype=float).reshape(len(rows), -1)
    low, high = (data.min(axis=0), data.max(axis=0)) if len(rows) else (np.zeros(0), np.ones(0))
    span = np.where(high > low, high - low, 1.0)
    scaled = (data - low) / span
    fig = new_figure((max(7.0, 1.3 * len(axes_names)), 4.2))
    ax = fig.subplots()
    order = np.argsort(data[:, len(levers)]) if len(rows) else []
    cmap = colormaps["cividis"]
    x = np.arange(len(axes_names))
    for rank, i in reversed(list(enumerate(order))):  # the lowest drawn last, on top
        ax.plot(x, scaled[i], color=cmap(rank / max(1, len(rows) - 1)), lw=1.2, alpha=0.8, label="_")
    for k, a in enumerate(axes_names):
        ax.axvline(k, color="grey", lw=0.8)
        pct = a in objectives and labels.get(a, "").startswith("P(")
        ax.text(k, -0.06, _end(low[k], pct), ha="center", va="top", fontsize=7)
        ax.text(k, 1.06, _end(high[k], pct), ha="center", va="bottom", fontsize=7)
    ax.set_xticks(x, [wrap_name(labels.get(a, a), 16) for a in axes_names], fontsize=7, rotation=30, ha="right")
    ax.set_yticks([])
    ax.set_ylim(-0.2, 1.2)
    ax.set_xlim(-0.3, len(axes_names) - 0.7)
    ax.set_title(f"{title}: {len(rows)} Pareto postures, the lowest {labels.get(objectives[0], objectives[0])} "
                 "darkest\neach axis from its lowest (below) to its highest value (probabilities in %)", fontsize=8)
    return finish(fig, path)


def plot_hypervolume(hypervolume: dict[int, list[float]], path: str | Path | None = None, title: str = ""):
    """The hypervolume of each seed's front by generation: the search has converged where the lines flatten
    and meet."""
    fig = new_figure((6, 3.6))
    ax = fig.subplots()
    for k, (seed, hv) in enumerate(hypervolume.items()):
        ax.plot(np.arange(1, len(hv) + 1), hv, marker=MARKERS[k % len(MARKERS)], ls=LINESTYLES[k % len(LINESTYLES)],
                color=OKABE_ITO[k % len(OKABE_ITO)], ms=4, label=f"seed {seed} (last {hv[-1]:.3f})")
    ax.set_xlabel("generation")
    ax.set_ylabel("hypervolume (scaled objectives)")
    ax.set_title(f"{title}: hypervolume of the front found by each generation", fontsize=9)
    ax.legend(fontsize=8)
    return finish(fig, path)


def plot_evppi(rows: list[dict], evpi: dict, path: str | Path | None = None, title: str = "",
               unit: str = "points of P(miscalculation)", scale: float = 100.0):
    """The value of information of each parameter (``rows``: dicts with ``parameter``, ``evppi``,
    ``evppi_low``, ``evppi_high`` and optionally ``kind``), largest on top, its interval as a whisker;
    the EVPI (``evpi``: ``evppi``, ``evppi_low``, ``evppi_high``) as the grey bar above them and a dashed
    line (no parameter's EVPPI exceeds it but by the estimates' noise). Values are multiplied by
    ``scale`` (100: probabilities to points); the bars' colour says the kind (assumption, calibrated)."""
    bars = [*sorted(rows, key=lambda r: r["evppi"]), {**evpi, "parameter": "everything (EVPI)", "kind": "all"}]
    fig = new_figure((7.5, max(3.0, 0.32 * len(bars) + 1.8)))
    ax = fig.subplots()
    kinds = list(dict.fromkeys(r.get("kind", "") for r in bars))
    y = np.arange(len(bars))
    for k, kind in enumerate(kinds):
        idx = [i for i, r in enumerate(bars) if r.get("kind", "") == kind]
        est = np.array([scale * bars[i]["evppi"] for i in idx])
        colour = "0.6" if kind == "all" else OKABE_ITO[k % len(OKABE_ITO)]
        ax.barh(y[idx], est, color=colour, height=0.65, label="_" if kind in ("all", "") else kind)
        low = np.array([scale * bars[i].get("evppi_low", np.nan) for i in idx], dtype=float)
        high = np.array([scale * bars[i].get("evppi_high", np.nan) for i in idx], dtype=float)
        ok = np.isfinite(low) & np.isfinite(high)
        if ok.any():
            ax.errorbar(est[ok], y[idx][ok], xerr=[np.maximum(est - low, 0)[ok], np.maximum(high - est, 0)[ok]],
                        fmt="none", ecolor="black", elinewidth=1, capsize=2)
    total = scale * evpi["evppi"]
    ax.axvline(total, color="0.3", ls="--", lw=1)
    ax.set_yticks(y, [wrap_name(r["parameter"], 34) for r in bars], fontsize=7)
    ax.set_ylim(-0.7, len(bars) - 0.3)
    ends = [scale * r[k] for r in bars for k in ("evppi", "evppi_high") if np.isfinite(r.get(k, np.nan))]
    top = max(ends, default=0.0)
    ax.set_xlim(0, 1.08 * top if top > 0 else 1.0)
    ax.set_xlabel(f"expected value of partial perfect information ({unit})")
    if any(k not in ("all", "") for k in kinds):
        ax.legend(fontsize=7, loc="lower right", title="kind", title_fontsize=7)
    ax.set_title(f"{title}: what learning each parameter would save (EVPPI); dashed: the EVPI\nwhiskers: "
                 "95% intervals over the futures (bootstrap)", fontsize=9)
    return finish(fig, path)


def _number(v) -> float:
    if isinstance(v, str):
        return {"True": 1.0, "False": 0.0}.get(v, float(v) if v else np.nan)
    return float(v)


def _end(v: float, percent: bool) -> str:
    return f"{100 * v:.1f}%" if percent else f"{v:g}"


def optimize_figures(result, formats=("png", "svg")) -> list[Path]:
    """An optimisation's figures, ``pareto``, ``hypervolume`` and (with a robustness step) ``evppi``, beside its
    results (each format)."""
    from sim.model.outcomes import LABELS

    opt, name = result.plan.spec.optimize, result.plan.spec.experiment.name
    levers = [p.column for p in result.plan.levers]
    pareto = plot_pareto(result.pareto, levers, list(opt.objectives), LABELS, title=name)
    out = [*save_all(pareto, None, result.out / "pareto", formats),
           *save_all(plot_hypervolume(result.hypervolume, title=name), None, result.out / "hypervolume", formats)]
    if result.evppi is not None:
        info = result.to_dict()["evppi"]
        out += save_all(plot_evppi(info["parameters"], info["evpi"], title=name), None, result.out / "evppi", formats)
    return out
