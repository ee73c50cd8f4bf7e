"""The lever search: it recovers a planted Pareto front, resumes by generation, evaluates on common random
numbers whatever the workers, refuses bad files in one line each; and the robustness measures."""

from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import SCENARIOS
from sim.analysis.optimize import COST, hypervolumes, load_plan, pareto_keys, search, simulator
from sim.analysis.robust import measures
from sim.ui.cli import main

pytest.importorskip("pymoo")

LEVERS = """
[[parameters]]
key = ["drills.freedom_shield.transparency", "drills.ulchi_freedom_shield.transparency"]
name = "transparency"
range = [0.3, 0.9]
steps = {steps}

[[parameters]]
key = ["summits.us_dprk.enabled", "summits.inter_korean.enabled"]
name = "summits"
{summits}
"""


def write(tmp_path, optimize="", levers=None, steps=41, summits="range = [0.0, 1.0]\nsteps = 41", name="o.toml"):
    """An optimisation file on levers_off (runs 128) with the given [optimize] lines."""
    text = (f'[experiment]\nname = "o"\nscenario = "{SCENARIOS / "levers_off.toml"}"\nruns = 128\nseed = 2\n'
            f'common_random_numbers = true\n\n[optimize]\n{optimize}\n'
            + (levers if levers is not None else LEVERS.format(steps=steps, summits=summits)))
    path = tmp_path / name
    path.write_text(text)
    return path


def planted(candidates):
    """ZDT1 on the two levers scaled to [0, 1]: its front is x2 at its lowest, f2 = 1 - sqrt(f1)."""
    out = []
    for v in candidates:
        x1, x2 = (v["transparency"] - 0.3) / 0.6, float(v["summits"])
        g = 1 + 9 * x2
        out.append({"p_miscalculation": [x1, None, None], "p_war": [g * (1 - np.sqrt(x1 / g)), None, None]})
    return out


def planted_plan(tmp_path, generations=25):
    # summits' key takes a boolean: the planted evaluator never builds the scenario, so any numbers do
    path = write(tmp_path, f'objectives = ["p_miscalculation", "p_war"]\npopulation = 24\n'
                           f'generations = {generations}\nseeds = [1, 2, 3]',
                 summits="values = [false, true]")
    plan = load_plan(path)
    levels = [plan.levels[0], [i / 40 for i in range(41)]]  # the second lever as 41 levels of [0, 1]
    return plan.__class__(plan.source, plan.spec, plan.scenario, levels, plan.runs, plan.resolution, plan.fingerprint)


def test_search_recovers_a_planted_front(tmp_path):
    """41 x 41 postures; the true front is the 41 with x2 = 0. The search (3 seeds x 25 generations of 24,
    about a third of the space) finds every one of them exactly, and only them; each seed alone reaches a
    hypervolume within 2% of the true front's."""
    plan = planted_plan(tmp_path)
    found = search(plan, planted, tmp_path / "out")
    front = pareto_keys(found)
    assert sorted(front) == [(i, 0) for i in range(41)]
    true = np.array([[i / 40, 1 - np.sqrt(i / 40)] for i in range(41)])
    from pymoo.indicators.hv import HV

    F = np.array([found.objective(k) for k in found.asked()])
    low, span = F.min(axis=0), F.max(axis=0) - F.min(axis=0)
    best = HV(ref_point=np.full(2, 1.1))((true - low) / span)
    for seed, hv in hypervolumes(found).items():
        assert hv[-1] >= 0.98 * best, seed
        assert all(b >= a - 1e-12 for a, b in zip(hv, hv[1:]))  # a front found is never lost


def test_an_interrupted_search_resumes_from_its_last_generation(tmp_path):
    plan = planted_plan(tmp_path, generations=4)
    calls = []

    def counted(c):
        calls.append(len(c))
        return planted(c)

    first = search(plan, counted, tmp_path / "out")
    lost = tmp_path / "out" / "generations" / "0003_0003.json"
    asked = {tuple(c["key"]) for c in json.loads(lost.read_text())["candidates"]}
    lost.unlink()  # seed 3's last generation, as if killed while it ran
    calls.clear()
    again = search(plan, counted, tmp_path / "out")
    assert again.generations == first.generations and again.evaluated == first.evaluated
    # only that generation's postures no other generation had asked for were simulated again
    others = {tuple(c["key"]) for f in lost.parent.glob("*.json") if f != lost
              for c in json.loads(f.read_text())["candidates"]}
    assert 0 < again.simulated == len(asked - others) == sum(calls) <= 24
    assert lost.exists()
    calls.clear()
    assert search(plan, counted, tmp_path / "out").simulated == 0 and calls == []


def test_simulated_postures_pair_and_do_not_depend_on_workers(tmp_path):
    """Two levers of levers_off, 4 postures, 128 runs: the search's front is the front of all four (every
    posture on the same runs), and 1 or 2 workers give the same numbers."""
    path = write(tmp_path, 'objectives = ["p_miscalculation", "cost"]\npopulation = 4\ngenerations = 2\nseeds = [1]\n'
                           'cost = { transparency = 1.0, summits = 1.0 }', steps=2, summits="values = [false, true]")
    plan = load_plan(path)
    one = search(plan, simulator(plan, workers=1), tmp_path / "a")
    assert len(one.evaluated) == 4
    every = [(i, j) for i in range(2) for j in range(2)]
    assert pareto_keys(one) == pareto_keys(one, every)
    two = simulator(plan, workers=2)([plan.values(k) for k in every])
    assert [{o: v for o, v in one.evaluated[k].items() if o != COST} for k in every] == two
    base = one.evaluated[(0, 0)]
    assert base[COST] == 0 and one.evaluated[(1, 1)][COST] == pytest.approx(1.6)


@pytest.mark.parametrize("optimize, lever, line", [
    ('objectives = ["p_miscalc", "cost"]\ncost = { summits = 1.0 }', None,
     "optimize.objectives[0]: 'p_miscalc' is not an output"),
    ('cost = { summits = -1.0 }', None, "optimize.cost.summits: -1.0: a cost per unit"),
    ('generations = 0\ncost = { summits = 1.0 }', None, "optimize.generations"),
    (f'cost = {{ summits = 1.0 }}\n[robustness]\nuncertainty = "{SCENARIOS.parent / "experiments" / "uncertainty.toml"}"'
     '\nevppi_resamples = 10', None, "robustness.evppi_resamples"),
    ('cost = { summits = 1.0 }', '[[parameters]]\nkey = "hotlines.nowhere.enabled"\nname = "summits"\nvalues = [false, true]\n',
     "parameters[0].key"),
])
def test_a_bad_file_gets_one_line_and_exit_2(tmp_path, capsys, optimize, lever, line):
    path = write(tmp_path, optimize, levers=lever, steps=2, summits="values = [false, true]")
    assert main(["optimize", str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and line in err[0], err
    assert not (tmp_path / "out").exists()


def test_the_shipped_optimisation_plans_cleanly():
    from conftest import ROOT

    plan = load_plan(ROOT / "experiments" / "optimize.toml")
    assert [len(lv) for lv in plan.levels] == [2, 4, 2, 2, 4, 2, 4] and plan.fingerprint


def test_regret_and_satisficing_of_a_known_matrix():
    """Policy 0 is best in every future but one; policy 1 never: regrets and shares by hand."""
    p = np.array([[0.05, 0.05, 0.20, 0.05], [0.10, 0.15, 0.10, 0.30]])
    rows = measures(p, threshold=0.1, resamples=200, seed=0)
    assert rows[0]["minimax_regret"][0] == pytest.approx(0.10)
    assert rows[1]["minimax_regret"][0] == pytest.approx(0.25)
    assert rows[0]["satisficing"][0] == 0.75 and rows[1]["satisficing"][0] == 0.5
    for r in rows:
        for est, low, high in r.values():
            assert low <= est + 1e-12 or est == high  # a maximum's bootstrap stays at or below it
            assert 0 <= low <= high


def test_each_futures_values_are_the_ones_its_runs_took(tmp_path):
    """future_values names every assumption and the calibrated parameters the samples leave drawn, in the
    futures' order (sample-major): each draw's value is the posterior sample every task's runs took."""
    from conftest import ROOT
    from sim.analysis.experiment import _point_scenario
    from sim.analysis.robust import assumptions, future_values, futures
    from sim.engines.draws import Stream, make_root
    from sim.engines.resolve import resolve

    path = write(tmp_path, f'cost = {{ summits = 1.0 }}\n[robustness]\nuncertainty = '
                           f'"{ROOT / "experiments" / "uncertainty.toml"}"\nfutures = 3\ndraws = 4\nruns_per_draw = 2',
                 steps=2, summits="values = [false, true]")
    plan = load_plan(path)
    params = assumptions(ROOT / "experiments" / "uncertainty.toml", str(path))
    samples = futures(params, 3, plan.spec.experiment.seed)
    root = make_root(plan.spec.experiment.seed, Stream.SWEEP_SHARED)
    policy = plan.values((1, 1))
    values, calibrated = future_values(plan, params, samples, plan.values((0, 0)), root, 8)
    assert "actors.north_korea.provocation.kappa" not in values  # every sample sets it: an assumption
    assert "actors.north_korea.provocation.base_rate" in calibrated
    assert np.array_equal(values["kappa"], np.repeat([s["actors.north_korea.provocation.kappa"] for s in samples], 4))
    ov = {**samples[2], **plan.overrides(policy)}
    r = resolve(_point_scenario(plan.scenario, ov, plan.source, plan.spec, policy), overrides=ov, seed=root, runs=8,
                runs_per_draw=2, posterior="scenario")
    for key in calibrated:
        assert np.array_equal(values[key][8:], r.run_values[key][::2]), key
