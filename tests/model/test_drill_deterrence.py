"""Drills that deter (docs/model.md section 3): exercised capability aimed at an actor multiplies its
provocation and contact hazards by exp(-s E), E fading with e-folding time tau after each drill."""

import datetime as dt
import math
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import SCENARIOS, compiled, two_actor_raw
from sim.model import kernel
from sim.model.compile import compile_scenario, latest_drill
from sim.model.exercise import exercise_phase
from sim.model.scenario import load_scenario

START = dt.date(2024, 1, 1)
RATE, CONTACT = 0.05, 0.01


def planted(strength=0.0, days=4.0, scale=2.0, first=5, length=3, horizon=40, **provocation):
    """a (the deterred actor: its hazards, its strength and decay) and b, who drills alone on steps
    first .. first + length - 1 at ``scale``; no threat, no regime, no capability deterrence (D = 1)."""
    prov = {"base_rate": RATE, "contact_rate": CONTACT, "drill_deterrence": strength,
            "drill_deterrence_days": days, **provocation}
    window = [START + dt.timedelta(days=first), START + dt.timedelta(days=first + length - 1)]
    return compiled(two_actor_raw(
        scenario={"horizon": horizon},
        actors={"a": {"provocation": prov}, "b": {"provocation": {"base_rate": RATE, "drill_deterrence": strength}}},
        drills={"show": {"participants": ["b"], "windows": [window], "scale": scale}}))


def chances(sc, t, runs=1):
    """The kernel's daily chances on step t at zero threat and regime 1: (2, runs, N)."""
    n = sc.n_actors
    return kernel.intend_chances(sc, np.zeros((runs, n)), np.ones((runs, n)), t)


def exercised(t, scale=2.0, first=5, length=3, days=4.0):
    """E_a(t) of the planted case by hand: b is a's only adversary (its whole coalition, W = 1)."""
    last = first + length - 1
    if t < first:
        return 0.0
    return scale if t <= last else scale * math.exp(-(t - last) / days)


def test_the_kernel_hazard_is_the_formula_during_and_after_a_drill():
    s, tau = 0.7, 4.0
    sc = planted(s, tau)
    for t in range(sc.horizon):
        p = chances(sc, t)
        factor = math.exp(-s * exercised(t, days=tau))
        assert p[0, 0, 0] == pytest.approx(-math.expm1(-RATE * factor), rel=1e-13), t
        assert p[1, 0, 0] == pytest.approx(-math.expm1(-CONTACT * factor), rel=1e-13), t  # contacts too
        assert p[0, 0, 1] == -math.expm1(-RATE)  # b's own drill does not deter b: nobody drills at it
    # lower during and just after the drill than before it; back towards the base rate later
    before, during, after = chances(sc, 4)[0, 0, 0], chances(sc, 6)[0, 0, 0], chances(sc, 8)[0, 0, 0]
    assert during < after < before
    assert chances(sc, 39)[0, 0, 0] == pytest.approx(before, rel=1e-3)


def test_the_effect_decays_with_the_stated_e_folding_time():
    """-ln(h(t) / h0) = s E(t) falls by exp(-1 / tau) a day once the drill is over."""
    for tau in (1.5, 4.0, 30.0):
        sc = planted(0.5, tau)
        h0 = -math.log1p(-chances(sc, 0)[0, 0, 0])
        effect = [math.log(h0 / -math.log1p(-chances(sc, t)[0, 0, 0])) for t in range(8, 20)]
        ratios = np.array(effect[1:]) / np.array(effect[:-1])
        np.testing.assert_allclose(ratios, math.exp(-1 / tau), rtol=1e-6)
        assert effect[0] == pytest.approx(0.5 * 2.0 * math.exp(-1 / tau), rel=1e-9)


def test_strength_zero_is_exactly_the_hazard_without_the_channel():
    """Bit for bit, whatever the decay: the factor is skipped, and would be 1 anyway."""
    plain = compiled(two_actor_raw(scenario={"horizon": 40}, actors={"a": {"provocation": {
        "base_rate": RATE, "contact_rate": CONTACT}}, "b": {"provocation": {"base_rate": RATE}}}, drills={"show": {
            "participants": ["b"], "windows": [[START + dt.timedelta(days=5), START + dt.timedelta(days=7)]],
            "scale": 2.0}}))
    for sc in (planted(0.0, 4.0), planted(0.0, 0.1)):
        for t in range(sc.horizon):
            assert np.array_equal(chances(sc, t), chances(plain, t)), t
            assert exercise_phase(sc, t) is None


def test_the_coalition_shares_and_the_latest_drill():
    sc = compile_scenario(load_scenario(SCENARIOS / "korea_baseline.toml"))
    nk = sc.actor_ids.index("north_korea")
    rows = sc.exercise_weight.sum(axis=1)
    assert rows[nk] == pytest.approx(1.0)
    assert sc.exercise_weight[nk, nk] == 0.0
    us, sk = sc.actor_ids.index("united_states"), sc.actor_ids.index("south_korea")
    assert sc.exercise_weight[nk, us] > sc.exercise_weight[nk, sk]  # the larger capability, the larger share
    drill_rung = np.array([[-1, 2], [2, -1], [-1, -1], [-1, 2], [-1, -1]])
    assert latest_drill(drill_rung).tolist() == [[-1, 0], [1, 0], [1, 0], [1, 3], [1, 3]]
    # on Freedom Shield's first day North Korea sees the South and the United States exercise at 1.5
    t = (dt.date(2024, 3, 4) - sc.start).days
    deterred = replace(sc, drill_deterrence=np.where(np.arange(sc.n_actors) == nk, 1.0, 0.0))
    E = 1.5 * (sc.exercise_weight[nk, us] + sc.exercise_weight[nk, sk])
    assert exercise_phase(deterred, t)[0, nk] == pytest.approx(math.exp(-E), rel=1e-14)
    assert exercise_phase(deterred, t)[0, us] == 1.0  # strength 0: not deterred


settings_ = settings(max_examples=60)
strengths = st.floats(0.0, 5.0)
taus = st.floats(0.05, 200.0)


@settings_
@given(s=st.tuples(strengths, strengths), tau=taus, scale=st.floats(0.0, 4.0), first=st.integers(0, 10),
       length=st.integers(1, 6))
def test_more_strength_never_raises_a_hazard(s, tau, scale, first, length):
    sc = planted(0.0, tau, scale, first, length, horizon=25)
    lo, hi = sorted(s)
    weak, strong = (replace(sc, drill_deterrence=np.array([v, v])) for v in (lo, hi))
    for t in range(sc.horizon):
        assert np.all(chances(strong, t) <= chances(weak, t)), t


@settings_
@given(s=strengths, tau=st.tuples(taus, taus), scale=st.floats(0.0, 4.0), first=st.integers(0, 10),
       length=st.integers(1, 6))
def test_the_effect_is_never_larger_later_nor_shorter_lived_with_a_longer_memory(s, tau, scale, first, length):
    short, long = sorted(tau)
    sc = planted(s, short, scale, first, length, horizon=25)
    slow = replace(sc, drill_deterrence_days=np.array([long, long]))
    last = first + length - 1
    for t in range(sc.horizon):
        now = chances(sc, t)
        assert np.all(chances(slow, t) <= now), t  # a longer memory deters at least as much
        if t >= last and t + 1 < sc.horizon:  # after the drill: the hazard only recovers
            assert np.all(chances(sc, t + 1) >= now), t


def test_per_run_strength_and_decay_give_each_run_its_own_scenario():
    """(R, N) strengths and decays, and per-run drill scales: row k is the scenario compiled with row
    k's values, bit for bit."""
    from sim.engines.run_values import with_run_values

    sc = planted(0.0, 4.0)
    values = {"actors.a.provocation.drill_deterrence": np.array([0.0, 0.3, 1.2]),
              "actors.a.provocation.drill_deterrence_days": np.array([1.0, 4.0, 9.0]),
              "drills.*.scale_factor": np.array([1.0, 0.5, 2.0])}
    per_run = with_run_values(sc, values)
    for t in (0, 5, 7, 8, 15):
        batch = chances(per_run, t, runs=3)
        for k in range(3):
            own = planted(values["actors.a.provocation.drill_deterrence"][k],
                          values["actors.a.provocation.drill_deterrence_days"][k],
                          2.0 * values["drills.*.scale_factor"][k])
            assert np.array_equal(batch[:, k], chances(own, t)[:, 0]), (t, k)


@pytest.mark.parametrize("name", ["korea_baseline", "asian_nato"])
def test_shipped_scenarios_give_the_same_runs_with_strength_zero_set(name):
    """At strength 0 the decay changes no number of a shipped scenario (the channel's work is skipped,
    and were it not, its factor would be exactly 1); the shipped strength itself does change them."""
    from sim.engines.ensemble import run_ensemble

    path = SCENARIOS / f"{name}.toml"
    plain = load_scenario(path)
    actors = [a for a, actor in plain.actors.items() if "provocation" in actor.model_fields_set]
    assert actors
    off = {f"actors.{a}.provocation.drill_deterrence": 0.0 for a in actors}
    slow = {**off, **{f"actors.{a}.provocation.drill_deterrence_days": 3.0 for a in actors}}
    a = run_ensemble(compile_scenario(load_scenario(path, off)), 1024, 11, workers=1, twins=True, per_run=True)[1]
    b = run_ensemble(compile_scenario(load_scenario(path, slow)), 1024, 11, workers=1, twins=True, per_run=True)[1]
    shipped = run_ensemble(compile_scenario(plain), 1024, 11, workers=1, twins=True, per_run=True)[1]
    assert not np.array_equal(shipped["provocations"], a["provocations"])
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
