"""Loading scenarios: `extends`, overrides, compiled arrays of the shipped files."""

import numpy as np
import pytest
from scipy.stats import binomtest

from conftest import SCENARIOS
from sim.model.compile import compile_scenario
from sim.core.errors import InputError
from sim.model.scenario import load_scenario
from sim.core.stats import escalation_curves, wilson_interval


def test_asian_nato_extends_the_baseline_and_overrides_only_what_it_names():
    base = load_scenario(SCENARIOS / "korea_baseline.toml")
    nato = load_scenario(SCENARIOS / "asian_nato.toml")
    assert nato.scenario.name == "asian_nato" and nato.scenario.start == base.scenario.start
    assert set(nato.alliances) == {*base.alliances, "trilateral"}
    fe, fe0 = nato.drills["freedom_edge"], base.drills["freedom_edge"]
    assert fe.scale == 2.0 and len(fe.windows) == 3 and fe.participants == fe0.participants
    assert nato.actors == base.actors
    b, n = compile_scenario(base), compile_scenario(nato)
    # trilateral cohesion makes a threat to one a threat to all: Japan now weighs North Korea as South Korea does
    nk, jp = b.actor_ids.index("north_korea"), b.actor_ids.index("japan")
    assert n.threat_weight[jp, nk] == pytest.approx(0.9) and b.threat_weight[jp, nk] < 0.9
    assert n.deterrence[nk] < b.deterrence[nk]  # more capability engaged against North Korea


def test_overrides_set_dotted_keys_and_refuse_unknown_tables():
    sc = load_scenario(SCENARIOS / "korea_baseline.toml",
                       {"alliances.us_rok.cohesion": 0.2, "drills.freedom_shield.scale": 3.0})
    assert sc.alliances["us_rok"].cohesion == 0.2 and sc.drills["freedom_shield"].scale == 3.0
    with pytest.raises(InputError, match="no table 'alliances.nato'"):
        load_scenario(SCENARIOS / "korea_baseline.toml", {"alliances.nato.cohesion": 0.2})
    with pytest.raises(InputError, match="unknown key"):
        load_scenario(SCENARIOS / "korea_baseline.toml", {"alliances.us_rok.cohesiveness": 0.2})
    with pytest.raises(InputError, match=r"cohesion \(set in override"):
        load_scenario(SCENARIOS / "korea_baseline.toml", {"alliances.us_rok.cohesion": 3})


def test_compiled_calendar_marks_drill_days():
    sc = compile_scenario(load_scenario(SCENARIOS / "korea_baseline.toml"))
    fs = [p for p in sc.drill_periods if p[0] == "freedom_shield"][0]
    t0, t1 = fs[1], fs[2]
    assert (t0, t1) == (63, 74)  # 2024-03-04 is day 63 of a leap year; the window ends 2024-03-14
    sk = sc.actor_ids.index("south_korea")
    assert sc.drill_rung[t0:t1, sk].tolist() == [2] * 11 and sc.drill_rung[t1, sk] == -1
    assert sc.drill_ambiguity[t0, sk] == pytest.approx(1.0 * (1 - 0.3))
    assert sc.drill_scale[t0, sk] == 1.5 and sc.drill_scale[t1, sk] == 1.0


@pytest.mark.parametrize("k, n", [(0, 10), (3, 10), (10, 10), (17, 4000), (2000, 4000)])
def test_wilson_interval_matches_scipy(k, n):
    p, lo, hi = wilson_interval(k, n)
    ref = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    assert p == k / n and lo == pytest.approx(ref.low, abs=1e-12) and hi == pytest.approx(ref.high, abs=1e-12)


def test_escalation_curves_are_cumulative_first_passages():
    hist = np.array([[5, 0, 0, 0], [1, 2, 0, 2]])  # 5 runs, T = 3; rung 1: one at t0, two at t1, two never
    p, lo, hi = escalation_curves(hist, 5)
    assert p[1].tolist() == [0.2, 0.6, 0.6] and p[0].tolist() == [1.0, 1.0, 1.0]
    assert np.all(lo <= p) and np.all(p <= hi)


def test_drill_windows_repeat_until_the_horizon():
    sc = compile_scenario(load_scenario(SCENARIOS / "korea_baseline.toml",
                                        {"drills.freedom_edge.repeat_every_days": 100}))
    starts = [p[1] for p in sc.drill_periods if p[0] == "freedom_edge"]
    # windows from day 178 (27 Jun) and day 317 (13 Nov), each repeated every 100 days while inside the year
    assert starts == sorted([178, 278, 317])
    jp = sc.actor_ids.index("japan")
    assert sc.drill_rung[278:281, jp].tolist() == [2, 2, 2] and sc.drill_rung[281, jp] == -1
