"""Levers ranked alone and in pairs: the design holds every single and paired change once, the ranking is
sorted by the paired effect with intervals over the draws, and a design that cannot rank is refused."""

from __future__ import annotations

import csv
import io
import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sim
from conftest import SCENARIOS
from sim.analysis.experiment import Parameter, _alone_and_in_pairs
from sim.analysis.levers import CSV_NAME
from sim.analysis.pairing import paired_estimate
from sim.core.errors import InputError
from sim.ui.cli import main


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(2, 4), min_size=1, max_size=5))
def test_pairs_design_holds_each_single_and_paired_change_once(levels):
    params = [Parameter(key=f"k{i}", values=list(range(n)), baseline=0) for i, n in enumerate(levels)]
    points = _alone_and_in_pairs(params)
    base = points[0]
    assert base == {f"k{i}": 0 for i in range(len(levels))}
    changed = [frozenset((c, v) for c, v in p.items() if v != base[c]) for p in points[1:]]
    assert len(set(changed)) == len(changed)  # no posture twice
    singles = sum(n - 1 for n in levels)
    pairs = sum((a - 1) * (b - 1) for a, b in itertools.combinations(levels, 2))
    assert [len(c) for c in changed] == [1] * singles + [2] * pairs


def test_draw_shares_count_the_draws_a_setting_lowers_or_raises():
    runs_per_draw, draws = 8, 12
    rng = np.random.default_rng(3)
    base = rng.random(runs_per_draw * draws) < 0.5
    here = base.copy()
    here[0:3] = False   # draw 0: fewer runs with the outcome (if any of them had it)
    here[8:16] = True   # draw 1: more
    est = paired_estimate(here, base, runs_per_draw=runs_per_draw)
    h = here.reshape(draws, -1).sum(1)
    b = base.reshape(draws, -1).sum(1)
    assert est["draws_lower"] == np.mean(h < b) and est["draws_higher"] == np.mean(h > b)
    assert "draws_lower" not in paired_estimate(here, base)  # run by run: no draws to count


EXPERIMENT = """
[experiment]
name = "two_levers"
scenario = "{scenario}"
runs = 640
seed = 2
sampler = "{sampler}"
common_random_numbers = {crn}
outputs = ["p_miscalculation", "p_crisis"]
[[parameters]]
key = ["drills.freedom_shield.transparency", "drills.ulchi_freedom_shield.transparency"]
name = "transparency"
values = [0.3, 0.9]
baseline = 0.3
[[parameters]]
key = "summits.us_dprk.enabled"
name = "summits"
values = [false, true]
baseline = false
"""


def experiment(tmp_path, sampler="pairs", crn="true"):
    path = tmp_path / f"{sampler}_{crn}.toml"
    text = EXPERIMENT.format(scenario=SCENARIOS / "levers_off.toml", sampler=sampler, crn=crn)
    path.write_text(text.replace("baseline = 0.3\n", "" if sampler == "grid" else "baseline = 0.3\n")
                    .replace("baseline = false\n", "" if sampler == "grid" else "baseline = false\n"))
    return path


def test_levers_are_ranked_by_their_paired_effect_over_the_draws(tmp_path, capsys):
    ranking = sim.levers(experiment(tmp_path), out=tmp_path / "out", workers=1)
    postures = [r["posture"] for r in ranking.rows]
    assert sorted(postures) == sorted(["transparency = 0.9", "summits = True", "transparency = 0.9, summits = True"])
    diffs = [r["p_miscalculation_diff"] for r in ranking.rows]
    assert diffs == sorted(diffs)
    for r in ranking.rows:
        assert r["p_miscalculation_diff_low"] <= r["p_miscalculation_diff"] <= r["p_miscalculation_diff_high"]
        assert 0 <= r["p_miscalculation_draws_lower"] + r["p_miscalculation_draws_higher"] <= 1
    assert "over 10 posterior draws" in ranking.table()
    written = list(csv.DictReader(io.StringIO((tmp_path / "out" / CSV_NAME).read_text())))
    assert ranking.path == tmp_path / "out" / CSV_NAME and [w["posture"] for w in written] == postures
    assert [float(w["p_crisis_diff"]) for w in written] == [r["p_crisis_diff"] for r in ranking.rows]


@pytest.mark.parametrize("sampler, crn, key", [("grid", "true", "experiment.sampler"),
                                               ("pairs", "false", "experiment.common_random_numbers")])
def test_a_design_that_cannot_rank_is_refused_before_any_run(tmp_path, capsys, sampler, crn, key):
    path = experiment(tmp_path, sampler, crn)
    assert main(["levers", str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(path) in err and key in err
    assert not (tmp_path / "out").exists()
    with pytest.raises(InputError):
        sim.levers(path, out=tmp_path / "out")
