"""Figures from results: escalation curves with intervals, drill periods shaded, rungs named."""

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

# Okabe-Ito: distinguishable with the common colour-vision deficiencies.
OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")


def plot_escalation_curves(scenario: CompiledScenario, first_passage: np.ndarray, runs: int,
                           path: str | Path | None = None, min_rung: int = 1):
    """P(max realised rung so far >= k) against date, one line per rung k >= ``min_rung``, 95% bands.

    ``first_passage`` is the (K+1, T+1) histogram of :class:`sim.outcomes.Totals`. Drill periods
    are shaded (hatched where their dates are approximate). Returns the figure; saves it to ``path``
    (PNG or SVG by suffix) when given.
    """
    p, lo, hi = escalation_curves(first_passage, runs)
    days = [scenario.start + dt.timedelta(days=t) for t in range(scenario.horizon)]
    fig, ax = plt.subplots(figsize=(10, 5.5), layout="constrained")
    for name, t0, t1, approximate in scenario.drill_periods:
        ax.axvspan(days[t0], days[min(t1, scenario.horizon) - 1], color="0.85", alpha=0.6, lw=0,
                   hatch="//" if approximate else None, zorder=0)
        ax.annotate(name.replace("_", " "), (days[t0], 1.0), xycoords=("data", "axes fraction"),
                    xytext=(2, -4), textcoords="offset points", fontsize=7, rotation=90, va="top", color="0.3")
    for k in range(min_rung, scenario.top_rung + 1):
        colour = OKABE_ITO[(k - min_rung) % len(OKABE_ITO)]
        ax.fill_between(days, lo[k], hi[k], color=colour, alpha=0.2, lw=0)
        ax.plot(days, p[k], color=colour, lw=1.8, label=f">= {k}: {scenario.rung_names[k]}")
    ax.set_ylim(0, 1)
    ax.set_ylabel("P(highest rung reached so far >= k)")
    ax.set_xlabel("date (one step = one day)")
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%b %Y"))
    ax.set_title(f"Escalation curves: {scenario.name}")
    ax.legend(title="rung k", loc="upper left", fontsize=8, title_fontsize=8, framealpha=0.9)
    fig.text(0.01, 0.005, f"{runs:,} runs; bands are Wilson 95% intervals; grey spans are drills "
             "(hatched: approximate dates)", fontsize=8, color="0.3")
    if path is not None:
        save_figure(fig, path)
    return fig


def save_figure(fig, path: str | Path, dpi: int = 120) -> None:
    """Save atomically, in the format the suffix names (.png, .svg, .pdf)."""
    path = Path(path)
    buf = io.BytesIO()
    fig.savefig(buf, format=path.suffix.lstrip(".") or "png", dpi=dpi)
    atomic_write(path, buf.getvalue())
