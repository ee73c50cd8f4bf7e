"""The rolling-origin evaluation's figure: each forecaster's CRPS by origin, and the model's PIT histogram with its binomial band."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sim.ui.plots.common import LINESTYLES, MARKERS, OKABE_ITO, finish, new_figure


def plot_evaluation(ev, summary: dict, path: str | Path | None = None):
    """One row per target: the fair CRPS of year T+1's forecast by origin T (one line per forecaster,
    the model's thick), and the model's randomized PIT histogram with the pointwise binomial 90% band
    a calibrated forecast's counts fall in. ``ev`` is :class:`sim.data.evaluate.Evaluation`, ``summary``
    its :meth:`~sim.data.evaluate.Evaluation.summary`."""
    targets = list(ev.scores)
    fig = new_figure((11, 3.4 * len(targets)))
    axes = np.atleast_2d(fig.subplots(len(targets), 2, width_ratios=(2, 1)))
    origins = np.array(ev.origins)
    for row, target in zip(axes, targets):
        ax, pit = row
        for k, name in enumerate(ev.forecasters):
            s = ev.scores[target][name]["crps"]
            # a style each: two baselines that score alike must not hide one under the other
            ax.plot(origins, s, marker=MARKERS[k % len(MARKERS)], ls=LINESTYLES[k % len(LINESTYLES)],
                    color=OKABE_ITO[k % len(OKABE_ITO)], ms=4, lw=2.5 if name == "model" else 1,
                    label=f"{name} (mean {np.mean(s):.2f})")
        ax.set_xticks(origins, [f"{T}\u2192{str(T + 1)[2:]}" for T in origins], fontsize=8)
        ax.set_ylabel("fair CRPS (lower is better)")
        ax.set_title(f"{target.replace('_', ' ')}: forecast of T+1 from the record through T", fontsize=9)
        ax.legend(fontsize=7)
        hist = summary[target]["forecasters"]["model"]["pit_histogram"]
        lo, hi = summary[target]["pit_band"]
        edges = np.linspace(0, 1, len(hist) + 1)
        pit.bar(edges[:-1], hist, width=np.diff(edges), align="edge", color=OKABE_ITO[0], edgecolor="white")
        pit.fill_between([0, 1], lo, hi, color="grey", alpha=0.25, label="binomial 90% band")
        pit.set_xlim(0, 1)
        pit.set_xlabel("randomized PIT of the observed count")
        pit.set_title(f"model PIT, {len(origins)} origins", fontsize=9)
        pit.legend(fontsize=7)
    return finish(fig, path)
