"""Counterfactual tagging on cases whose answer is known, and deterrence switched on and off."""

import math

import pytest

from conftest import compiled, fixed_draws, two_actor_raw
from sim.engines.model import EscalationModel

TFT = {"name": "tit_for_tat"}


def run(sc, draws):
    return EscalationModel(sc, draws=draws).run()


def miscalculation(sc, **at) -> bool:
    """The headline flag of one run on fixed draws: a crisis in it and none in its perfect-perception
    twin on the same draws."""
    run_, twin = (EscalationModel(sc, draws=fixed_draws(sc, **at), perfect_perception=p).run() for p in (False, True))
    return bool(run_.outcomes.miscalculation(twin.outcomes)[0])


def test_noise_read_as_intent_is_a_misperception_driven_escalation():
    sc = compiled(two_actor_raw(actors={"a": {"rule": TFT, "noise": 1.0}}))
    m = run(sc, fixed_draws(sc, normal=[(3, 0, 1, 2.0)]))
    h = m.history
    assert h["perceived"][3, 0, 1] == pytest.approx(2.0)  # B at 0 read as 2
    assert h["misperceived"][3].tolist() == [[False, True], [False, False]]
    assert h["mde"][3].tolist() == [True, False] and h["mde"].sum() == 1
    assert h["level"][4].tolist() == [2, 0]
    assert m.outcomes.mde[0, 0, 1] == 1 and m.outcomes.misperceptions[0] == 1
    assert m.outcomes.misperception_pairs.tolist() == [[0, 1], [0, 0]]
    # A then sees B at 0 again and steps down: no crisis, so no miscalculation
    assert h["level"][5].tolist() == [0, 0] and not m.outcomes.crisis_after_misreading[0]
    assert not miscalculation(sc, normal=[(3, 0, 1, 2.0)])


def test_noise_read_as_a_crisis_is_a_miscalculation():
    # A misreads B's 0 as 4 on day 3 and answers in kind: a crisis its perfect-perception twin never has
    sc = compiled(two_actor_raw(actors={"a": {"rule": TFT, "noise": 1.0}}))
    m = run(sc, fixed_draws(sc, normal=[(3, 0, 1, 4.0)]))
    assert m.history["mde"][3, 0] and m.outcomes.first_crisis[0] == 4
    assert m.outcomes.crisis_after_misreading[0]
    assert miscalculation(sc, normal=[(3, 0, 1, 4.0)])


@pytest.mark.parametrize("transparency, mde", [(0.0, True), (1.0, False)])
def test_drill_ambiguity_is_tagged_and_transparency_removes_it(transparency, mde):
    drill = {"participants": ["b"], "windows": [["2024-01-04", "2024-01-04"]], "rung": 2,
             "ambiguity": 1.5, "transparency": transparency}
    sc = compiled(two_actor_raw(actors={"a": {"rule": TFT}}, drills={"d": drill}))
    m = run(sc, fixed_draws(sc))
    h = m.history
    assert h["intended"][3].tolist() == [0, 2]
    # seen as 2 + 1.5 (1 - tau): 3.5 rounds to 4 when opaque; exactly 2 when fully transparent
    assert h["perceived"][3, 0, 1] == pytest.approx(2 + 1.5 * (1 - transparency))
    assert h["level"][4, 0] == (4 if mde else 2)
    assert bool(h["mde"][3, 0]) is mde and bool(h["misperceived"][3, 0, 1]) is mde


def test_accident_read_as_intent_then_crisis_is_a_miscalculation():
    # B sits at rung 3; an accident on day 3 makes its action 4; A answers in kind on day 4.
    raw = two_actor_raw(ladder={"accident": [0, 0, 0, 0.5, 0, 0, 0]},
                        actors={"a": {"rule": TFT}, "b": {"baseline": 3}})
    sc = compiled(raw)
    m = run(sc, fixed_draws(sc, accident=[(t, 1, 0.9) for t in range(sc.horizon) if t != 3] + [(3, 1, 0.1)]))
    h = m.history
    assert h["intended"][3, 1] == 3 and h["realised"][3, 1] == 4
    assert not h["misperceived"][3].any()  # A read B's action right: the accident is in the action
    assert h["mde"][3, 0]  # ... but climbed past what B intended (3)
    assert h["realised"][4, 0] == 4
    out = m.outcomes
    assert out.first_crisis[0] == 3  # the accident itself is a crisis, before any MDE
    assert out.misreading_crisis_step[0] == 4 and out.misreading_lag[0] == 1
    assert out.crisis_after_misreading[0]  # the tag counts it: a crisis came within W of an MDE ...
    # ... but the accident's crisis happens with perfect perception too: not a miscalculation
    assert not miscalculation(sc, accident=[(t, 1, 0.9) for t in range(sc.horizon) if t != 3] + [(3, 1, 0.1)])


def test_miscalculation_needs_the_crisis_within_the_window():
    raw = two_actor_raw(model={"window": 2}, scenario={"horizon": 12},
                        actors={"a": {"rule": TFT, "noise": 1.0}, "b": {"baseline": 0}},
                        ladder={"accident": [0, 0, 0, 0.5, 0, 0, 0]})
    sc = compiled(raw)
    # MDE on day 1 (A reads 0 as 3); B's own accident on day 5 is a crisis 4 days later: outside W = 2
    draws = fixed_draws(sc, normal=[(1, 0, 1, 3.0)], accident=[(t, 1, 0.9) for t in range(12)])
    m = run(sc, draws)
    assert m.history["mde"][1, 0] and not m.outcomes.crisis[0]
    assert not m.outcomes.crisis_after_misreading[0]


@pytest.mark.parametrize("lam, u_deter, climbs", [(0.5, 0.5, False), (0.5, 0.3, True), (0.0, 0.99, True)])
def test_deterrence_on_and_off(lam, u_deter, climbs):
    # A (capability 1) faces B (capability 8): C_A = 8, D_A = 8 ** -lam (0.354 at lam 0.5; 1 when off)
    raw = two_actor_raw(actors={"a": {"rule": TFT, "deterrence": lam},
                                "b": {"capability": 8.0, "baseline": 4, "ceiling": 4}})
    sc = compiled(raw)
    assert sc.deterrence[0] == pytest.approx(8**-lam)
    m = run(sc, fixed_draws(sc, deterrence=[(0, 0, u_deter)]))
    assert m.history["level"][1, 0] == (4 if climbs else 3)


def test_deterrence_lowers_the_provocation_hazard():
    raw = two_actor_raw(actors={"a": {"provocation": {"base_rate": 0.2}, "deterrence": 1.0},
                                "b": {"capability": 4.0}})
    sc = compiled(raw)
    # h = 0.2 * D_A = 0.2 / 4 -> p = 1 - exp(-0.05); a draw just above p does not provoke
    p = 1 - math.exp(-0.05)
    m = run(sc, fixed_draws(sc, uniforms=0.9, provocation=[(0, 0, p - 1e-9), (1, 0, p + 1e-9)]))
    assert m.history["intended"][:2, 0].tolist() == [3, 0]
