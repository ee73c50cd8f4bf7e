"""Figures checked through their data: plotted arrays equal the results, bands enclose lines, labels name rungs."""


import subprocess
import sys

import numpy as np
import pytest

from conftest import SCENARIOS
from sim.ui.cli import main
from sim.model.compile import compile_scenario
from sim.ui.plots import (plot_escalation_curves, plot_level_paths, plot_response, plot_risk_map,
                       plot_sensitivity, rung_quantile)
from sim.model.scenario import load_scenario
from sim.engines.simulate import simulate
from sim.core.stats import escalation_curves

SC = compile_scenario(load_scenario(SCENARIOS / "korea_baseline.toml"))


@pytest.fixture(scope="module")
def result():
    return simulate(SC, 2048, seed=4, workers=1)


def test_escalation_curves_plot_the_curves_with_bands_and_rung_names(result):
    fig = plot_escalation_curves(SC, result.totals.first_passage, result.runs)
    ax = fig.axes[0]
    p, lo, hi = escalation_curves(result.totals.first_passage, result.runs)
    assert len(ax.lines) == SC.top_rung
    for k, line in enumerate(ax.lines, start=1):
        assert np.array_equal(line.get_ydata(), p[k])
        assert SC.rung_names[k] in line.get_label()
        assert np.all(lo[k] <= p[k]) and np.all(p[k] <= hi[k])
    bands = [c for c in ax.collections if c.get_paths()]
    band_top = bands[-1].get_paths()[0].vertices[:, 1]
    assert band_top.max() == pytest.approx(hi[SC.top_rung].max())
    assert str(result.runs) in ax.get_title().replace(",", "") and SC.name in ax.get_title()
    assert "freedom shield" in [t.get_text() for t in ax.texts]


def test_level_paths_plot_means_fans_and_samples(result):
    occ = result.totals.occupancy
    fig = plot_level_paths(SC, occ, result.runs, result.sample_actions)
    mean = (occ * np.arange(occ.shape[-1])).sum(-1) / result.runs
    for i, ax in enumerate(fig.axes):
        thick = [line for line in ax.lines if line.get_label() == "mean"][0]
        assert np.allclose(thick.get_ydata(), mean[:, i])
        samples = [line for line in ax.lines if line.get_label() != "mean"]
        assert len(samples) == len(result.sample_actions) == 5
        assert np.array_equal(samples[0].get_ydata(), result.sample_actions[0, :, i])
        assert ax.get_title(loc="left") == SC.actor_names[i]
        assert [t.get_text() for t in ax.get_yticklabels()] == list(SC.rung_names)
    low, high = rung_quantile(occ, 0.05), rung_quantile(occ, 0.95)
    k = np.arange(occ.shape[-1])
    inside = ((k >= low[..., None]) & (k <= high[..., None]) & (occ > 0)) * occ
    assert np.all(inside.sum(-1) >= 0.9 * result.runs)  # the fan holds at least 90% of runs
    band = fig.axes[0].collections[-1].get_paths()[0].vertices[:, 1]
    assert band.min() == low[:, 0].min() and band.max() == high[:, 0].max()


def test_rung_quantile_by_hand():
    occ = np.array([[[5, 90, 5]]])  # 100 runs: 5 at rung 0, 90 at 1, 5 at 2
    assert rung_quantile(occ, 0.05).item() == 0 and rung_quantile(occ, 0.06).item() == 1
    assert rung_quantile(occ, 0.95).item() == 1 and rung_quantile(occ, 0.96).item() == 2


def rows_for(xs, ps, runs=1000, key="cohesion"):
    out = []
    for x, p in zip(xs, ps):
        row = {key: x, "runs": runs}
        for name, shift in (("p_miscalculation", 0), ("p_crisis", 0.1), ("p_war", -0.01)):
            v = max(p + shift, 0)
            row[name], row[f"{name}_low"], row[f"{name}_high"] = v, max(v - 0.02, 0), v + 0.02
        out.append(row)
    return out


def test_response_curves_overlay_two_settings_with_bands():
    a = rows_for([1.0, 0.0, 0.5], [0.3, 0.1, 0.2])  # unsorted on purpose
    b = rows_for([0.0, 0.5, 1.0], [0.05, 0.07, 0.09])
    fig = plot_response([("baseline", a), ("hotline", b)], "cohesion")
    assert len(fig.axes) == 3
    ax = fig.axes[0]
    first, second = ax.lines
    assert first.get_label() == "baseline" and second.get_label() == "hotline"
    assert np.array_equal(first.get_xdata(), [0.0, 0.5, 1.0]) and np.allclose(first.get_ydata(), [0.1, 0.2, 0.3])
    band = ax.collections[0].get_paths()[0].vertices
    assert band[:, 1].min() == pytest.approx(0.08) and band[:, 1].max() == pytest.approx(0.32)
    assert fig.axes[1].get_ylabel().startswith("P(crisis)") and "cohesion" == ax.get_xlabel()
    assert "1,000 runs per point" in fig._suptitle.get_text()


def test_risk_map_holds_the_grid_and_draws_the_risk_contour():
    rows = []
    for x in (0.0, 1.0, 2.0):
        for y in (0.0, 0.5):
            rows.append({"scale": x, "ambiguity": y, "runs": 500, "p_miscalculation": 0.1 * x + 0.2 * y})
    fig = plot_risk_map(rows, "scale", "ambiguity", risk=0.15)
    ax = fig.axes[0]
    grid = ax.collections[0].get_array().reshape(2, 3)
    assert np.allclose(grid, [[0.0, 0.1, 0.2], [0.1, 0.2, 0.3]])
    contours = [c for c in ax.collections if hasattr(c, "levels")]
    assert len(contours) == 1 and list(contours[0].levels) == [0.15]
    assert "risk 0.15" in ax.get_title()
    no_contour = plot_risk_map(rows, "scale", "ambiguity", risk=0.9)  # outside the grid's range: none drawn
    assert not [c for c in no_contour.axes[0].collections if hasattr(c, "levels")]
    assert "risk 0.9: not crossed in this grid (0 to 0.3)" in no_contour.axes[0].get_title()


def test_sensitivity_bars_are_the_indices():
    sens = {"base_samples": 8, "indices": {"p_crisis": {
        "a": {"S1": 0.6, "S1_conf": 0.1, "ST": 0.7, "ST_conf": 0.1},
        "b": {"S1": 0.01, "S1_conf": 0.02, "ST": 0.02, "ST_conf": 0.03}}}}
    fig = plot_sensitivity(sens, "p_crisis")
    ax = fig.axes[0]
    from matplotlib.container import BarContainer

    s1, st = [c for c in ax.containers if isinstance(c, BarContainer)]
    assert [b.get_height() for b in s1] == [0.6, 0.01] and [b.get_height() for b in st] == [0.7, 0.02]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b"]


@pytest.mark.slow  # end to end and 5-20 s of CPU: with the slow set, to keep the README command within 3 minutes
def test_plot_command_on_run_and_sweep_directories(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["run", str(SCENARIOS / "korea_baseline.toml"), "--runs", "1024", "--out", str(run),
                 "--workers", "1"]) == 0
    for stem in ("escalation_curves", "level_paths"):
        assert (run / f"{stem}.png").read_bytes()[:4] == b"\x89PNG"
        assert b"<svg" in (run / f"{stem}.svg").read_bytes()[:500]
    assert main(["plot", str(run), "--kind", "paths", "--out", str(tmp_path / "paths.svg")]) == 0
    assert b"<svg" in (tmp_path / "paths.svg").read_bytes()[:500]
    exp = tmp_path / "e.toml"
    exp.write_text(f'[experiment]\nname = "e"\nscenario = "{SCENARIOS / "korea_baseline.toml"}"\nruns = 1024\n'
                   '[[parameters]]\nkey = "alliances.us_rok.cohesion"\nvalues = [0.0, 1.0]\n')
    sweep = tmp_path / "sweep"
    assert main(["sweep", str(exp), "--out", str(sweep), "--workers", "1"]) == 0
    assert (sweep / "response.png").exists() and (sweep / "response.svg").exists()
    capsys.readouterr()
    assert main(["plot", str(tmp_path)]) == 2
    assert "not a results directory" in capsys.readouterr().err
    assert main(["plot", str(sweep), "--kind", "curves"]) == 2


def test_effects_plot_labels_each_point_by_its_change():
    from sim.ui.plots import plot_effects

    rows = rows_for([0, 0, 0], [0.03, 0.028, 0.012])
    for r, (h, t) in zip(rows, [("False", "0.3"), ("True", "0.3"), ("False", "0.9")]):
        r.update(hotlines=h, transparency=t)
    fig = plot_effects(rows, ["hotlines", "transparency"], ["p_miscalculation", "p_crisis"])
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["first point (baseline)", "hotlines = True",
                                                            "transparency = 0.9"]
    xs = ax.lines[0].get_xdata()
    assert np.allclose(xs, [3.0, 2.8, 1.2])  # in percent, as the differences below are in points
    assert np.array_equal(ax.lines[0].get_ydata(), [2, 1, 0])  # first point on top


def test_scatter_plots_every_point_against_each_parameter():
    from sim.ui.plots import plot_scatter

    rows = rows_for([0.1, 0.9, 0.5], [0.02, 0.05, 0.03])
    for r, s in zip(rows, (2.0, 1.0, 3.0)):
        r["scale"] = s
    fig = plot_scatter(rows, ["cohesion", "scale"])
    assert len(fig.axes) == 2
    for ax, col in zip(fig.axes, ["cohesion", "scale"]):
        line = ax.lines[0]
        assert np.allclose(line.get_xdata(), [r[col] for r in rows])
        assert np.allclose(line.get_ydata(), [0.02, 0.05, 0.03])
        assert ax.get_xlabel() == col


def test_error_bars_survive_an_interval_end_a_rounding_error_past_the_estimate():
    from sim.ui.plots import plot_effects, plot_scatter

    rows = rows_for([0.0, 1.0], [0.0, 0.0])
    for r in rows:
        r["p_war"], r["p_war_low"] = 0.0, 1.7e-18  # what the Wilson interval gives at 0 of n
    bars = plot_effects(rows, ["cohesion"], ["p_war"]).axes[0].collections[0].get_segments()
    assert all(seg[0][0] <= 0.0 <= seg[1][0] for seg in bars)
    plot_scatter(rows, ["cohesion"], "p_war")


def test_importing_and_drawing_leave_the_users_matplotlib_backend_alone(tmp_path):
    """A notebook's backend must survive: no matplotlib.use at import, no pyplot."""
    code = ("import sys, matplotlib; matplotlib.use('svg'); import sim.ui.plots as p; "
            "fig = p.plot_sensitivity({'base_samples': 2, 'indices': {'p_miscalculation': {'a': "
            "{'S1': 0.5, 'S1_conf': 0.1, 'ST': 0.6, 'ST_conf': 0.1}}}}, path=sys.argv[1]); "
            "assert matplotlib.get_backend() == 'svg', matplotlib.get_backend(); "
            "assert 'matplotlib.pyplot' not in sys.modules; print('ok')")
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path / "s.png")], capture_output=True, text=True)
    assert done.stdout.strip() == "ok", done.stderr
    assert (tmp_path / "s.png").read_bytes()[:4] == b"\x89PNG"


def test_the_tail_plots_crude_and_splitting_estimates_on_a_log_axis(result, tmp_path, capsys):
    from sim.ui.plots import plot_tail

    rare = {"war": {"rung": 5, "estimate": 1e-4, "ci_low": 5e-5, "ci_high": 2e-4, "repetitions": 20, "replicas": 200}}
    fig = plot_tail(SC, result.totals.first_passage, result.runs, rare)
    ax = fig.axes[0]
    crude, ams = [c.lines[0] for c in ax.containers]  # the errorbars' data lines, crude first
    p, _, _ = escalation_curves(result.totals.first_passage, result.runs)
    seen = [k for k in range(1, SC.top_rung + 1) if p[k, -1] > 0]
    assert np.allclose(crude.get_ydata(), p[seen, -1]) and ax.get_yscale() == "log"
    assert np.allclose(ams.get_ydata(), [1e-4]) and np.allclose(ams.get_xdata(), [5.06])
    # a run without --rare has no tail to draw: refused, nothing written
    run_dir = tmp_path / "run"
    assert main(["run", str(SCENARIOS / "korea_baseline.toml"), "--runs", "640", "--out", str(run_dir),
                 "--workers", "1"]) == 0
    assert not (run_dir / "tail.png").exists()
    assert main(["plot", str(run_dir), "--kind", "tail", "--out", str(tmp_path / "t.png")]) == 2
    assert "--rare" in capsys.readouterr().err and not (tmp_path / "t.png").exists()
