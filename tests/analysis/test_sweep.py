"""Sweeps: samplers, seeds per point, resume after a real kill, Dask agreement, refusals, bad input."""

import csv
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from conftest import ROOT, SCENARIOS
from sim.ui.cli import main
from sim.engines.draws import Stream
from sim.analysis.experiment import load_experiment
from sim.analysis.sweep import run_sweep

SCENARIO = SCENARIOS / "korea_baseline.toml"


def write_experiment(tmp_path, body, name="exp.toml", **meta):
    fields = {"name": "t", "scenario": str(SCENARIO), "runs": 1024, "seed": 3, **meta}
    head = "[experiment]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in fields.items())
    path = tmp_path / name
    path.write_text(head + body)
    return path


COHESION = '[[parameters]]\nkey = ["alliances.us_rok.cohesion", "alliances.us_japan.cohesion"]\nname = "cohesion"\n'
SCALE = '[[parameters]]\nkey = "drills.freedom_shield.scale"\n'
BASE_RATE = '[[parameters]]\nkey = "actors.north_korea.provocation.base_rate"\n'


def rows(path):
    with open(path, newline="") as file:
        return list(csv.DictReader(file))


# ---------------------------------------------------------------- samplers


def test_grid_is_the_full_product_in_order(tmp_path):
    exp = load_experiment(write_experiment(tmp_path, COHESION + "range = [0.0, 1.0]\nsteps = 3\n"
                                           + SCALE + "values = [1.0, 2.0]\n"))
    assert [p.values for p in exp.points] == [
        {"cohesion": c, "drills.freedom_shield.scale": s} for c in (0.0, 0.5, 1.0) for s in (1.0, 2.0)]
    p = exp.points[3]  # cohesion 0.5, scale 2.0: both alliances set, and the drill
    assert p.overrides == {"alliances.us_rok.cohesion": 0.5, "alliances.us_japan.cohesion": 0.5,
                           "drills.freedom_shield.scale": 2.0}
    sk = p.scenario.actor_ids.index("south_korea")
    assert p.scenario.drill_scale[p.scenario.drill_periods[0][1], sk] == 2.0


@pytest.mark.parametrize("sampler, points", [("lhs", 8), ("sobol", 16)])
def test_space_filling_samplers_stay_in_range_and_stratify(tmp_path, sampler, points):
    exp = load_experiment(write_experiment(tmp_path, COHESION + "range = [0.2, 0.6]\n" + SCALE
                                           + "range = [1.0, 3.0]\n", sampler=sampler, points=points))
    x = np.array([[p.values["cohesion"], p.values["drills.freedom_shield.scale"]] for p in exp.points])
    assert x.shape == (points, 2)
    assert (x[:, 0] >= 0.2).all() and (x[:, 0] < 0.6).all() and (x[:, 1] >= 1.0).all() and (x[:, 1] < 3.0).all()
    # both designs put exactly one point in each of `points` equal slices of each range
    for col, (lo, hi) in enumerate([(0.2, 0.6), (1.0, 3.0)]):
        bins = np.floor((x[:, col] - lo) / (hi - lo) * points).astype(int)
        assert sorted(bins) == list(range(points))
    # seeded: planning again gives the same points
    again = load_experiment(exp.source)
    assert [p.values for p in again.points] == [p.values for p in exp.points]


def test_one_at_a_time_moves_one_parameter_from_the_baseline(tmp_path):
    exp = load_experiment(write_experiment(tmp_path, COHESION + "values = [0.0, 0.5, 1.0]\nbaseline = 0.5\n"
                                           + SCALE + "values = [1.0, 2.0]\nbaseline = 1.0\n", sampler="oat"))
    got = [(p.values["cohesion"], p.values["drills.freedom_shield.scale"]) for p in exp.points]
    assert got == [(0.5, 1.0), (0.0, 1.0), (1.0, 1.0), (0.5, 2.0)]


@pytest.mark.slow  # a statistical check of SALib's indices on 2 x (d + 2) x 16 points
def test_saltelli_design_and_sobol_indices_find_the_parameter_that_matters(tmp_path):
    # The US threat never acts (its rule ignores threat and it never provokes): its total index is ~0.
    body = BASE_RATE + "range = [0.0, 0.2]\n" + '[[parameters]]\nkey = "actors.united_states.grievance"\nrange = [0.0, 2.0]\n'
    path = write_experiment(tmp_path, body, sampler="saltelli", points=8, runs=1024, common_random_numbers=True,
                            outputs=["p_crisis"])
    exp = load_experiment(path)
    assert len(exp.points) == 8 * (2 + 2)  # SALib's design without second order: N (d + 2)
    report = run_sweep(exp, tmp_path / "out", workers=2)
    s = json.loads(report.sensitivity.read_text())["indices"]["p_crisis"]
    nk, us = s["actors.north_korea.provocation.base_rate"], s["actors.united_states.grievance"]
    assert nk["ST"] > 0.5 and abs(us["ST"]) < 0.05 and us["ST_conf"] is not None


# ---------------------------------------------------------------- seeds, workers, resume


def test_points_get_their_own_seeds_unless_common_random_numbers(tmp_path):
    body = COHESION + "values = [0.0, 1.0]\n"
    own = load_experiment(write_experiment(tmp_path, body, name="a.toml"))
    crn = load_experiment(write_experiment(tmp_path, body, name="b.toml", common_random_numbers=True))
    state = [tuple(p.seed.generate_state(4)) for p in own.points + crn.points]
    assert len({*state[:2], state[2]}) == 3 and state[2] == state[3]  # two own streams; one shared
    assert [p.seed.spawn_key for p in own.points] == [(Stream.SWEEP_POINT, 0), (Stream.SWEEP_POINT, 1)]


def test_table_is_the_same_for_any_workers_and_a_point_does_not_depend_on_the_others(tmp_path):
    path = write_experiment(tmp_path, COHESION + "values = [0.0, 0.5, 1.0]\n")
    exp = load_experiment(path)
    run_sweep(exp, tmp_path / "one", workers=1)
    run_sweep(exp, tmp_path / "two", workers=2)
    assert (tmp_path / "one/points.csv").read_text() == (tmp_path / "two/points.csv").read_text()
    # resume from a directory holding only point 2: the same row comes out for it, the rest are computed
    (tmp_path / "part/points").mkdir(parents=True)
    for name in ("manifest.json", "points/000002.json"):
        (tmp_path / "part" / name).write_bytes((tmp_path / "one" / name).read_bytes())
    report = run_sweep(exp, tmp_path / "part", workers=1)
    assert (report.computed, report.reused) == (2, 1)
    assert (tmp_path / "part/points.csv").read_text() == (tmp_path / "one/points.csv").read_text()


def test_points_draw_the_scenarios_posterior_but_keep_the_values_they_sweep(tmp_path):
    """korea_baseline names a posterior: every point's runs draw from it, the same draws at every point
    (so points differ by their values alone); a key the sweep sets is the sweep's, not the draw's;
    posterior = "none" runs the point values."""
    from sim.engines.draws import Stream, make_root
    from sim.engines.ensemble import run_ensemble
    from sim.engines.resolve import resolve

    body = BASE_RATE + "values = [0.001, 0.05]\n"
    exp = load_experiment(write_experiment(tmp_path, body, common_random_numbers=True))
    # the experiment's draws are escsim run's resolution of its scenario, on the sweep's shared stream
    alone = resolve(exp.base, seed=make_root(3, Stream.SWEEP_SHARED), runs=1024)
    assert np.array_equal(exp.resolution.draws.index, alone.draws.index) and exp.runs_per_draw == 64
    rate = "actors.north_korea.provocation.base_rate"
    at = [exp.point_resolved(p) for p in exp.points]
    assert all(rate not in r.run_values and rate in r.draws.fixed for r in at)
    assert all(np.array_equal(r.run_values[k], at[0].run_values[k]) for r in at for k in r.run_values)
    run_sweep(exp, tmp_path / "post", workers=1)
    table = rows(tmp_path / "post/points.csv")
    days = [float(r["mean_provocation_days_north_korea"]) for r in table]
    assert days[1] > 3 * days[0]  # the swept rate, not the posterior's (the same at both), sets the rate
    assert table[1]["interval"] == "over 16 posterior draws" and float(table[1]["p_crisis_low"]) < float(table[1]["p_crisis"])
    # point 1's crisis count is that of the same runs with the drawn values, run directly
    totals = run_ensemble(exp.points[1].scenario, 1024, exp.points[1].seed, twins=True, workers=1,
                          run_values=at[1].run_values)[0]
    assert round(float(table[1]["p_crisis"]) * 1024) == totals.crisis
    none = load_experiment(write_experiment(tmp_path, body, name="none.toml", common_random_numbers=True,
                                            posterior="none"))
    assert none.resolution.draws is None and none.fingerprint != exp.fingerprint
    run_sweep(none, tmp_path / "none", workers=1)
    assert rows(tmp_path / "none/points.csv")[1]["p_crisis"] != table[1]["p_crisis"]


@pytest.mark.slow  # tests/engines/test_signals.py kills and resumes a real sweep in the fast set too
def test_resume_after_a_real_kill_finishes_only_the_missing_points(tmp_path):
    path = write_experiment(tmp_path, COHESION + "range = [0.0, 1.0]\nsteps = 9\n", runs=2048)
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "sim", "sweep", str(path), "--out", str(out), "--workers", "1"]
    # nothing reads its output: no pipes (a full one would stall it, and a killed one is left open)
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 120
    while len(list((out / "points").glob("*.json"))) < 2 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = len(list((out / "points").glob("*.json")))
    assert 2 <= done_before < 9, "the sweep was killed part-way"
    again = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert f"computed {9 - done_before} points, {done_before} were already done" in again.stdout
    clean = tmp_path / "clean"
    assert main(["sweep", str(path), "--out", str(clean), "--workers", "2"]) == 0
    assert (out / "points.csv").read_bytes() == (clean / "points.csv").read_bytes()
    assert len(rows(out / "points.csv")) == 9


def test_another_experiment_or_other_runs_in_the_same_directory_is_refused(tmp_path, capsys):
    path = write_experiment(tmp_path, COHESION + "values = [0.0, 1.0]\n")
    out = tmp_path / "out"
    assert main(["sweep", str(path), "--out", str(out), "--workers", "1"]) == 0
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    capsys.readouterr()
    assert main(["sweep", str(path), "--out", str(out), "--runs", "2048"]) == 2
    assert "other runs per point" in capsys.readouterr().err
    other = write_experiment(tmp_path, COHESION + "values = [0.0, 0.5]\n", name="other.toml")
    assert main(["sweep", str(other), "--out", str(out)]) == 2
    assert "holds results of experiment 't'" in capsys.readouterr().err
    assert before == {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}


@pytest.mark.slow  # 7 s; adaptive stopping is a sweep option few use
def test_adaptive_runs_stop_when_the_interval_is_narrow_enough(tmp_path):
    def half_width(row):
        return max(float(row["p_miscalculation"]) - float(row["p_miscalculation_low"]),
                   float(row["p_miscalculation_high"]) - float(row["p_miscalculation"]))

    # a target just below what 4,096 runs give, so the point must grow past its first step
    pilot = write_experiment(tmp_path, COHESION + "values = [1.0]\n", name="pilot.toml", runs=4096)
    target = round(0.8 * half_width(rows(run_sweep(load_experiment(pilot), tmp_path / "pilot", workers=1).table)[0]), 6)
    path = write_experiment(tmp_path, COHESION + "values = [1.0]\n", runs=40_960, target_half_width=target)
    report = run_sweep(load_experiment(path), tmp_path / "out", workers=1)
    row = rows(report.table)[0]
    runs = int(row["runs"])
    assert 4096 < runs < 40_960 and runs % 4096 == 0
    assert half_width(row) <= target
    # it stopped at the first sufficient size: the same point with one step fewer was not narrow enough
    fewer = write_experiment(tmp_path, COHESION + "values = [1.0]\n", name="fewer.toml", runs=runs - 4096)
    assert half_width(rows(run_sweep(load_experiment(fewer), tmp_path / "fewer", workers=1).table)[0]) > target


@pytest.mark.slow  # 13 s to start a local cluster; the dask path is an extra
def test_dask_cluster_gives_the_same_table_as_the_local_pool(tmp_path):
    distributed = pytest.importorskip("dask.distributed")
    path = write_experiment(tmp_path, COHESION + "values = [0.0, 0.7, 1.0]\n")
    exp = load_experiment(path)
    run_sweep(exp, tmp_path / "local", workers=2)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        run_sweep(exp, tmp_path / "dask", scheduler=cluster.scheduler_address)
    assert (tmp_path / "dask/points.csv").read_text() == (tmp_path / "local/points.csv").read_text()


# ---------------------------------------------------------------- bad input


BAD = {
    "unknown key path": (COHESION.replace("alliances.us_rok.cohesion", "alliances.nato.cohesion")
                         + "values = [0.5]\n", {}, ["parameters[0].key", "alliances.nato.cohesion", "no table"]),
    "unknown leaf key": ('[[parameters]]\nkey = "actors.north_korea.nosie"\nvalues = [0.5]\n', {},
                         ["nosie", "unknown key", "allowed here"]),
    "value out of range": (COHESION + "values = [0.5, 1.5]\n", {}, ["cohesion = 1.5", "less than or equal to 1"]),
    "range of the wrong type": (COHESION + 'range = ["low", 1.0]\nsteps = 3\n', {},
                                ["parameters[0].range", "valid number"]),
    "range reversed": (COHESION + "range = [1.0, 0.0]\nsteps = 3\n", {}, ["low < high"]),
    "sobol points not a power of two": (COHESION + "range = [0.0, 1.0]\n", {"sampler": "sobol", "points": 10},
                                        ["experiment.points", "power of two"]),
    "saltelli with one parameter": (COHESION + "range = [0.0, 1.0]\n", {"sampler": "saltelli", "points": 8},
                                    ["at least 2 parameters", "got 1"]),
    "lhs on a values list": (COHESION + "values = [0.0, 1.0]\n", {"sampler": "lhs", "points": 4},
                             ["parameters[0].range", "draws from ranges"]),
    "zero runs": (COHESION + "values = [0.5]\n", {"runs": 0}, ["experiment.runs", "greater than or equal to 1"]),
    "unknown sampler": (COHESION + "values = [0.5]\n", {"sampler": "random"}, ["experiment.sampler", "grid"]),
    "unknown experiment key": (COHESION + "values = [0.5]\n", {"seeed": 1}, ["experiment.seeed", "unknown key"]),
    "missing scenario": (COHESION + "values = [0.5]\n", {"scenario": "nowhere.toml"}, ["experiment.scenario",
                                                                                        "not found"]),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_experiment_gives_one_clear_message_and_writes_nothing(case, tmp_path, capsys):
    body, meta, words = BAD[case]
    path = write_experiment(tmp_path, body, **meta)
    out = tmp_path / "out"
    assert main(["sweep", str(path), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and str(path) in err
    for word in words:
        assert word in err, (word, err)
    assert not out.exists()


def test_zero_runs_on_the_command_line_and_an_unreachable_scheduler(tmp_path, capsys):
    path = write_experiment(tmp_path, COHESION + "values = [0.5]\n")
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as exc:
        main(["sweep", str(path), "--out", str(out), "--runs", "0"])
    assert exc.value.code == 2
    pytest.importorskip("dask.distributed")
    assert main(["sweep", str(path), "--out", str(out), "--scheduler", "tcp://127.0.0.1:9"]) == 2
    err = capsys.readouterr().err
    assert "cannot reach a Dask scheduler" in err and "Traceback" not in err
    assert not out.exists()


def test_shipped_experiments_plan_cleanly():
    for path in sorted((ROOT / "experiments").glob("*.toml")):
        if "\n[optimize]" in path.read_text():  # an optimisation (tests/analysis/test_optimize.py plans it)
            continue
        exp = load_experiment(path)
        assert exp.points and exp.fingerprint, path
