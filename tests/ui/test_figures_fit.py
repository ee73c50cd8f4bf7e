"""Figures fit to publish, for every kind the package draws: no text outside the canvas, no curve hidden
under another, axes within the data, one unit per figure, and interval notes that say what the bands are.

Each figure kind is drawn once from small made-up results (and curves and paths from a short run);
a kind added to :mod:`sim.ui.plots` without a case here fails :func:`test_every_figure_kind_is_checked`.
"""

from __future__ import annotations

import types

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.lines import Line2D
from matplotlib.text import Text

import sim
import sim.ui.plots as plots
from conftest import SCENARIOS
from sim.analysis.discover import Box, Discovery
from sim.data.predictive import Check
from sim.model.compile import compile_scenario
from sim.model.scenario import load_scenario

SC = compile_scenario(load_scenario(SCENARIOS / "korea_baseline.toml"))
OUTPUTS = ("p_miscalculation", "p_crisis", "p_war")
LONG = "a_rather_long_parameter_name_that_an_analyst_might_well_use"


@pytest.fixture(scope="module")
def run():
    """10 posterior draws x 64 runs: the curves' bands are over the draws, as in a real run."""
    return sim.run(SCENARIOS / "korea_baseline.toml", runs=640, seed=3, workers=1)


def rows(values: dict[str, list], interval="over 640 posterior draws", paired=False, runs=40_960):
    """Sweep rows over the given columns' values, probabilities as fractions with their intervals."""
    n = len(next(iter(values.values())))
    out = []
    for i in range(n):
        row = {k: v[i] for k, v in values.items()} | {"runs": runs, "interval": interval}
        for j, name in enumerate(OUTPUTS):
            p = [0.12, 0.33, 0.0014][j] * (1 + 0.1 * i)
            row |= {name: p, f"{name}_low": 0.9 * p, f"{name}_high": 1.1 * p}
            if paired:
                d = -0.01 * i * [1, 1, 0.01][j]
                row |= {f"{name}_diff": d, f"{name}_diff_low": d - 0.003, f"{name}_diff_high": d + 0.003}
        out.append(row)
    return out


def discovery():
    box = Box({LONG: (0.2, 0.6), "mode": ["a"]}, 0.8, 0.7, 0.2, 40, 28,
              [{"coverage": 1.0, "density": 0.3, "mass": 1.0, "res_dim": 0},
               {"coverage": 0.8, "density": 0.7, "mass": 0.2, "res_dim": 2}], 1)
    return Discovery(SCENARIOS, "uncertainty", "lhs", "p_miscalculation", 0.2, 0.6, [LONG, "mode"],
                     {LONG: (0.0, 1.0), "mode": ["a", "b"]}, 200, 40, 40_960, [box])


def hindcast():
    years = []
    for y in range(2011, 2022):
        c = Check(observed=y - 2005, median=10.0, low=3.0, high=25.0, inside=y != 2014)
        years.append(types.SimpleNamespace(year=y, checks=dict.fromkeys(
            ("provocation_days", "provocation_days_in_windows", "provocation_days_outside_windows",
             "crisis_onsets"), c)))
    period = {k: c for k in ("provocation_days", "provocation_days_in_windows", "crisis_onsets",
                             "largest_year", "years_with_clash")}
    return plots.plot_hindcast(years, period, title="korea 2011-2021")


def coverage():
    keys = [f"north_korea.provocation.parameter_{i}" for i in range(6)]
    return plots.plot_coverage({"data_sets": 1000, "confidence": 0.95, "passed": True,
                                "ranks": {"bins": 10, "band": (80, 120), "counts": {k: [100] * 10 for k in keys}},
                                "levels": {"0.5": {"band_share": (0.45, 0.55), "share": dict.fromkeys(keys, 0.5)},
                                           "0.9": {"band_share": (0.87, 0.93), "share": dict.fromkeys(keys, 0.9)}}},
                               keys, title="korea")


def evaluation():
    origins = list(range(2013, 2021))
    names = ["model", "climatology", "persistence", "last_three_years", "resample_recent"]
    # two baselines that score alike, as persistence and the last three years can
    scores = {t: {n: {"crps": [5.0 + min(k, 2) + 0.1 * i for i in range(len(origins))]} for k, n in enumerate(names)}
              for t in ("provocation_days", "clashes")}
    ev = types.SimpleNamespace(origins=origins, forecasters=names, scores=scores)
    summary = {t: {"forecasters": {"model": {"pit_histogram": [1, 0, 2, 4, 1]}}, "pit_band": (0, 4)} for t in scores}
    return plots.plot_evaluation(ev, summary)


RARE = {name: {"rung": k, "estimate": p, "ci_low": p / 3, "ci_high": 3 * p, "repetitions": 20, "replicas": 200}
        for name, k, p in (("war", 5, 2e-3), ("nuclear", 6, 1e-3))}


FIGURES = {
    "plot_escalation_curves": lambda r: r.plot("curves"),
    "plot_level_paths": lambda r: r.plot("paths"),
    "plot_response": lambda r: plots.plot_response(
        [("korea_baseline", rows({LONG: [0.0, 0.5, 1.0]})), ("asian_nato", rows({LONG: [0.0, 0.5, 1.0]}))],
        LONG, title="cohesion"),
    "plot_effects": lambda r: plots.plot_effects(
        rows({"transparency": [0.3, 0.9, 0.3, 0.3], "hotlines": [False, False, True, False],
              "summits": [False, False, False, True]}, paired=True, interval="paired, over 320 posterior draws"),
        ["transparency", "hotlines", "summits"], title="levers"),
    "plot_scatter": lambda r: plots.plot_scatter(rows({LONG: [0.1, 0.5, 0.9], "noise": [1, 2, 3]}),
                                                 [LONG, "noise"], title="uncertainty"),
    "plot_risk_map": lambda r: plots.plot_risk_map(
        rows({"repeat_every_days": [30, 60, 90, 120, 180, 365] * 2, "trilateral_scale": [1.0] * 6 + [2.0] * 6}),
        "repeat_every_days", "trilateral_scale", risk=0.13, title="drill_frequency"),
    "plot_sensitivity": lambda r: plots.plot_sensitivity(
        {"base_samples": 256, "indices": {"p_miscalculation": {
            n: {"S1": 0.3, "S1_conf": 0.05, "ST": 0.4, "ST_conf": 0.05} for n in (LONG, "b", "c")}}},
        title="sensitivity"),
    "plot_hindcast": lambda r: hindcast(),
    "plot_coverage": lambda r: coverage(),
    "plot_discovery": lambda r: plots.plot_discovery(discovery()),
    "plot_evaluation": lambda r: evaluation(),
    "plot_tail": lambda r: plots.plot_tail(SC, r.ensemble.totals.first_passage, r.ensemble.runs, RARE),
    "plot_pareto": lambda r: plots.plot_pareto(
        [{LONG: 0.3 + 0.1 * i, "summits": i % 2 == 0, "p_miscalculation": 0.12 - 0.01 * i, "cost": float(i)}
         for i in range(5)], [LONG, "summits"], ["p_miscalculation", "cost"],
        {"p_miscalculation": "P(miscalculation)"}, title="optimize"),
    "plot_evppi": lambda r: plots.plot_evppi(
        [{"parameter": name, "evppi": v, "evppi_low": v / 3, "evppi_high": 2 * v, "kind": kind}
         for name, v, kind in ((LONG, 0.004, "assumption"), ("kappa", 0.0, "assumption"),
                               ("actors.north_korea.provocation.base_rate", 0.012, "calibrated"))],
        {"evppi": 0.02, "evppi_low": 0.01, "evppi_high": 0.03}, title="optimize"),
    "plot_hypervolume": lambda r: plots.plot_hypervolume({1: [0.5, 0.7, 0.8, 0.8], 2: [0.5, 0.7, 0.8, 0.8],
                                                         3: [0.6, 0.75, 0.8, 0.81]}, title="optimize"),
}


def test_every_figure_kind_is_checked():
    drawn = {name for name in plots.__all__ if name.startswith("plot_")}
    assert drawn == set(FIGURES)


@pytest.fixture(scope="module")
def figures(run):
    out = {}
    for name, draw in FIGURES.items():
        fig = draw(run)
        FigureCanvasAgg(fig).draw()  # lays the figure out (constrained layout) as saving does
        out[name] = fig
    return out


def undrawn_tick_labels(fig) -> set[int]:
    """Tick labels matplotlib keeps but does not draw (their ticks lie outside the view)."""
    kept = set()
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            drawn = {id(t) for t in axis._update_ticks()}
            kept |= {id(lab) for t in axis.get_major_ticks() + axis.get_minor_ticks() if id(t) not in drawn
                     for lab in (t.label1, t.label2)}
    return kept


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_no_text_falls_outside_the_canvas(figures, name):
    fig = figures[name]
    renderer = fig.canvas.get_renderer()
    width, height = fig.bbox.width, fig.bbox.height
    outside = []
    for t in fig.findobj(Text):
        if not t.get_visible() or not t.get_text().strip() or (t.axes is not None and not t.axes.get_visible()) \
                or id(t) in undrawn_tick_labels(fig):
            continue
        b = t.get_window_extent(renderer)
        if b.x0 < -1 or b.y0 < -1 or b.x1 > width + 1 or b.y1 > height + 1:
            outside.append(t.get_text()[:60])
    assert outside == []


def style(line: Line2D):
    """What tells a line from another beside its colour: its dash pattern (a custom one reads '--' from
    get_linestyle) and its marker."""
    return line.get_linestyle(), line._unscaled_dash_pattern, line.get_marker()


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_no_curve_hides_under_another(figures, name):
    """Two curves of one panel that the legend names and that run together (within 1% of the panel's
    height everywhere) must differ in line style or marker, or one hides the other whatever their colours."""
    for ax in figures[name].axes:
        lines = [ln for ln in ax.get_lines() if len(ln.get_xdata()) > 1 and ln.get_visible()
                 and not ln.get_label().startswith("_")]
        span = np.subtract(*ax.get_ylim()[::-1]) or 1.0
        for i, a in enumerate(lines):
            for b in lines[i + 1:]:
                ya, yb = (np.asarray(ln.get_ydata(), float) for ln in (a, b))
                if ya.shape == yb.shape and np.nanmax(np.abs(ya - yb), initial=0.0) < 0.01 * span:
                    assert style(a) != style(b), f"{a.get_label()} and {b.get_label()} coincide in one style"


def test_escalation_curves_name_each_rungs_final_value(figures):
    """A curve near 0 stays readable: its legend entry carries its final value."""
    labels = [t.get_text() for t in figures["plot_escalation_curves"].axes[0].get_legend().get_texts()]
    assert len(labels) == SC.top_rung and all(label.endswith("%)") for label in labels)


def test_risk_map_axes_stay_within_the_grid(figures):
    """The drill-frequency map's axis ran to 460 days for a grid that ends at 365: cells are now one
    per grid value, labelled by it."""
    ax = figures["plot_risk_map"].axes[0]
    ticks = [t.get_text() for t in ax.get_xticklabels()]
    assert ticks == ["30", "60", "90", "120", "180", "365"]
    assert ax.get_xlim() == (-0.5, 5.5)


def test_effects_use_one_unit(figures):
    """Probabilities and their differences in one figure are both in percent (points), not fractions
    above and points below."""
    labels = [ax.get_xlabel() for ax in figures["plot_effects"].axes if ax.get_xlabel()]
    assert labels and all("%" in label or "percentage points" in label for label in labels)
    est = figures["plot_effects"].axes[0].lines[0].get_xdata()
    assert np.isclose(est[0], 12.0)  # 0.12 drawn as 12%


@pytest.mark.parametrize("name", ["plot_response", "plot_effects", "plot_scatter"])
def test_interval_notes_say_what_the_rows_intervals_are(figures, name):
    """A sweep's rows say how their intervals were made; the figure repeats it instead of 'Wilson'."""
    title = figures[name]._suptitle.get_text()
    assert "Wilson" not in title and "posterior draws" in title
