"""Figures held against the record and its calibration: the hindcast, the coverage check, scenario discovery."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sim.analysis.discover import Discovery, _range_text
from sim.model.outcomes import LABELS
from sim.ui.plots.common import OKABE_ITO, check_out, finish, new_figure, save_all


def plot_hindcast(comparison, period: dict | None = None, title: str = "", path: str | Path | None = None):
    """Observed counts per year against the simulated median and band, one panel per statistic.

    ``comparison`` is :func:`sim.data.predictive.compare_to_record`'s list (one entry a year); ``period`` the
    :func:`sim.data.predictive.period_statistics` checks, named in the title. In each panel the first line
    is the simulated median with its band (an errorbar container) and the markers are the record
    (filled: inside the band; open: outside).
    """
    keys = ("provocation_days", "provocation_days_in_windows", "provocation_days_outside_windows", "crisis_onsets")
    labels = ("provocation days", "... inside exercise windows", "... outside exercise windows",
              "clashes (crisis onsets)")
    years = np.array([r.year for r in comparison])
    fig = new_figure((13, 3.6))
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
    return finish(fig, path)


def plot_coverage(coverage: dict, keys: list[str], title: str = "", path: str | Path | None = None):
    """The coverage check as a figure: each parameter's rank histogram with the band a calibrated
    posterior's bin counts fall in (pointwise), and the share of data sets whose true value lies in the
    central 50% and 90% intervals, with the family-wise binomial band around each level."""
    d = len(keys)
    cols = 4
    rows = -(-(d + 1) // cols)
    fig = new_figure((3.0 * cols, 2.4 * rows + 0.4))
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    ranks = coverage["ranks"]
    M, bins = coverage["data_sets"], ranks["bins"]
    lo, hi = ranks["band"]
    edges = np.linspace(0, 1, bins + 1)
    for ax, key in zip(axes, keys):
        ax.axhspan(lo, hi, color="0.85", lw=0, label=f"{coverage['confidence']:.0%} band of each bin, if calibrated")
        ax.axhline(M / bins, color="0.5", lw=0.8)
        ax.stairs(ranks["counts"][key], edges, color=OKABE_ITO[0], lw=1.5)
        ax.set_title(key.split(".", 1)[-1].replace("north_korea.", "NK ").replace("south_korea.", "ROK "), fontsize=8)
        ax.set_xlim(0, 1)
        ax.set_xlabel("posterior rank of the true value", fontsize=7)
        ax.tick_params(labelsize=7)
    axes[0].set_ylabel(f"data sets (of {M})", fontsize=7)
    axes[0].legend(fontsize=6, loc="lower center")
    ax = axes[d]
    x = np.arange(d)
    for i, (level, entry) in enumerate(coverage["levels"].items()):
        blo, bhi = entry["band_share"]
        ax.axhspan(blo, bhi, color=OKABE_ITO[1 + i], alpha=0.25, lw=0)
        ax.axhline(float(level), color=OKABE_ITO[1 + i], lw=0.8)
        share = [entry["share"][k] for k in keys]
        ax.plot(x, share, "o", color=OKABE_ITO[1 + i], ms=4, label=f"{float(level):.0%} interval")
    ax.set_xticks(x, [str(j + 1) for j in x], fontsize=7)
    ax.set_xlabel(f"parameter (panels 1-{d}, in order)", fontsize=7)
    ax.set_ylabel("share covering the truth", fontsize=7)
    ax.set_ylim(0.3, 1.0)
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=6, loc="center right")
    ax.set_title(f"coverage, {coverage['confidence']:.0%} family-wise bands", fontsize=8)
    for i, a in enumerate(axes[:d]):
        a.set_title(f"{i + 1}. {a.get_title()}", fontsize=8)
    for a in axes[d + 1:]:
        a.set_visible(False)
    verdict = "calibrated within binomial error" if coverage["passed"] else "NOT calibrated"
    fig.suptitle(f"{title}: {M} data sets simulated from the prior; {verdict}" if title else verdict, fontsize=9)
    return finish(fig, path)


def plot_discovery(d: Discovery, path: str | Path | None = None):
    """The coverage-density trade-off of each box's peeling trajectory (left; colour: parameters
    restricted, ringed: the step chosen) and the boxes (right: each parameter's whole range in grey,
    each box's range over it; an unrestricted parameter spans it all)."""
    fig = new_figure((12, max(4.0, 0.55 * len(d.columns) + 2.2)))
    left, right = fig.subplots(1, 2, width_ratios=[1, 1.3])
    top = max((s["res_dim"] for b in d.boxes for s in b.trajectory), default=1)
    for k, b in enumerate(d.boxes):
        cov = [s["coverage"] for s in b.trajectory]
        den = [s["density"] for s in b.trajectory]
        dims = [s["res_dim"] for s in b.trajectory]
        left.plot(cov, den, color="0.75", lw=0.8, zorder=1)
        points = left.scatter(cov, den, c=dims, cmap="cividis", vmin=0, vmax=max(top, 1), s=22, zorder=2,
                              marker="os^"[k % 3])
        left.scatter([b.coverage], [b.density], s=190, facecolors="none", edgecolors=OKABE_ITO[3 + k % 4], lw=2,
                     zorder=3, label=f"box {k + 1}: coverage {b.coverage:.2f}, density {b.density:.2f}")
    if d.boxes:
        fig.colorbar(points, ax=left, label="parameters restricted", ticks=range(max(top, 1) + 1))
        left.legend(fontsize=8, loc="lower left")
    left.axhline(d.density, color="0.4", lw=0.8, ls="--")
    left.set_xlim(0, 1.03)
    left.set_ylim(0, 1.03)
    left.set_xlabel("coverage (share of the high points inside the box)")
    left.set_ylabel("density (share of the box's points that are high)")
    left.set_title("trade-off along the peeling trajectory\n(dashed: density asked for)", fontsize=9)
    ys = np.arange(len(d.columns))[::-1]
    height = 0.7 / max(1, len(d.boxes))
    for y, c in zip(ys, d.columns):
        right.barh(y, 1.0, left=0.0, height=0.75, color="0.9", zorder=0)
        whole = d.ranges[c]
        for k, b in enumerate(d.boxes):
            lo, hi = _unit(b.limits.get(c), whole)
            yk = y + 0.35 - height * (k + 0.5)
            right.barh(yk, hi - lo, left=lo, height=height * 0.9, color=OKABE_ITO[3 + k % 4],
                       alpha=0.85 if c in b.limits else 0.25, zorder=1)
            if c in b.limits:
                right.annotate(_range_text(b.limits[c], whole).split("  (")[0], (hi, yk), xytext=(3, 0),
                               textcoords="offset points", va="center", fontsize=7)
    right.set_yticks(ys, [f"{c}\n{_whole_text(d.ranges[c])}" for c in d.columns], fontsize=8)
    right.set_xlim(0, 1.25)
    right.set_xticks([0, 0.5, 1.0], ["low end", "middle", "high end"])
    right.set_xlabel("position in the parameter's whole range")
    right.set_title("the boxes (pale: any value)", fontsize=9)
    label = LABELS.get(d.output, d.output)
    fig.suptitle(f"{d.name}: where is {label} above {d.above:g}? {d.high} of {d.points} points "
                 f"({d.sampler} sweep, {d.runs:,} runs per point); PRIM boxes", fontsize=10)
    return finish(fig, path)


def _unit(lim, whole) -> tuple[float, float]:
    """A box's range as a span of [0, 1] over the whole range (levels: their positions)."""
    if lim is None:
        return 0.0, 1.0
    if isinstance(whole, list):
        idx = [whole.index(v) for v in lim if v in whole]
        n = len(whole)
        return min(idx) / n, (max(idx) + 1) / n
    lo, hi = whole
    span = (hi - lo) or 1.0
    return (lim[0] - lo) / span, (lim[1] - lo) / span


def _whole_text(whole) -> str:
    return ", ".join(whole) if isinstance(whole, list) else f"{whole[0]:.4g} to {whole[1]:.4g}"


def discovery_figures(d: Discovery, out: Path | None = None, formats=("png", "svg")) -> list[Path]:
    """Draw :func:`plot_discovery` to ``out`` or to RESULTS/discovery.png and .svg."""
    check_out(out)
    return save_all(plot_discovery(d), out, d.path / "discovery", formats)
