"""Figures from results: escalation curves, level fans, sweep responses, risk maps, Sobol indices, the record.

Every function takes results (arrays or table rows), draws one matplotlib figure, saves it when given
a path (PNG, SVG or PDF by suffix, written atomically) and returns it, so tests and notebooks can
read the plotted data back. Colours are Okabe-Ito (distinguishable with common colour-vision
deficiencies); the heatmap uses cividis. Figures are built as ``matplotlib.figure.Figure`` objects,
never through pyplot: that needs no backend, so importing this package leaves a notebook's or an
application's backend alone.

The figures live in :mod:`~sim.ui.plots.run` (one ensemble), :mod:`~sim.ui.plots.sweep` (a sweep)
and :mod:`~sim.ui.plots.record` (the hindcast, the coverage check, scenario discovery); this module
gathers the public ones.
"""

from sim.ui.plots.common import FIGURE_KINDS, OKABE_ITO, check_out, results_kind, save_figure
from sim.ui.plots.evaluate import plot_evaluation
from sim.ui.plots.optimize import optimize_figures, plot_evppi, plot_hypervolume, plot_pareto
from sim.ui.plots.record import discovery_figures, plot_coverage, plot_discovery, plot_hindcast
from sim.ui.plots.run import RUN_FIGURES, draw_run, plot_escalation_curves, plot_level_paths, plot_tail, rung_quantile, run_figures
from sim.ui.plots.sweep import (default_kind, draw_sweep, plot_effects, plot_response, plot_risk_map, plot_scatter,
                                plot_sensitivity, sweep_figures)

__all__ = ["FIGURE_KINDS", "OKABE_ITO", "RUN_FIGURES", "check_out", "default_kind", "discovery_figures", "draw_run",
           "draw_sweep", "plot_coverage", "plot_discovery", "plot_effects", "plot_escalation_curves",
           "plot_evaluation", "plot_evppi", "plot_hindcast", "optimize_figures", "plot_hypervolume", "plot_pareto",
           "plot_level_paths", "plot_response", "plot_risk_map", "plot_scatter", "plot_sensitivity", "plot_tail",
           "results_kind", "rung_quantile", "run_figures", "save_figure", "sweep_figures"]
