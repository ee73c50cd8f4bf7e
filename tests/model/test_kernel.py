"""Hand-worked steps of the kernel, the compiled relations, and the deterministic limit."""

import math

import numpy as np
import pytest

from conftest import SCENARIOS, compiled, two_actor_raw
from sim.model import kernel
from sim.model import loops
from sim.model.compile import alliance_threat_weights, deterrence, opposing_log_ratio
from sim.engines.draws import RunDraws
from sim.engines.model import EscalationModel

A = np.array


def test_hazard_probabilities_have_regime_spiral_and_deterrence():
    growth = np.exp(A([0.5, 0.5]) * A([[0.0, 2.0]]))
    p = kernel.hazard_probabilities(A([0.1, 0.1]), A([0.02, 0.0]), A([[1.0, 2.0]]), growth, A([np.inf, np.inf]),
                                    A([1.0, 0.5]))
    assert p[0, 0, 0] == pytest.approx(1 - math.exp(-0.1))
    assert p[0, 0, 1] == pytest.approx(1 - math.exp(-0.1 * 2.0 * math.e * 0.5))
    assert p[1, 0].tolist() == [pytest.approx(1 - math.exp(-0.02)), 0.0]  # the contact hazard, its own rate
    capped = kernel.hazard_probabilities(A([0.1, 0.1]), A([0.0, 0.0]), A([[1.0, 2.0]]), growth, A([2.0, 2.0]),
                                         A([1.0, 0.5]))
    assert capped[0, 0, 1] == pytest.approx(1 - math.exp(-0.1 * 2.0 * 2.0 * 0.5))  # the spiral at its cap


@pytest.mark.parametrize("cap", [None, 1.0, 3.0, 1e6])
def test_the_spiral_saturates_at_its_cap_for_provocations_and_contacts(cap):
    """The daily chance is 1 - exp(-rate min(exp(kappa th), cap)) for both hazards; no cap (and a cap
    the spiral never reaches) is MODEL.md's exp(kappa th) exactly."""
    prov = {"base_rate": 0.01, "contact_rate": 0.002, "kappa": 0.8, **({"spiral_cap": cap} if cap else {})}
    sc = compiled(two_actor_raw(actors={"a": {"provocation": prov}}))
    R = 20_000
    u = (np.arange(R) + 0.5) / R  # evenly spread uniforms: the share below p is p to 1/R
    draws = type("D", (), {"provocation": np.column_stack([u, u]), "contact": np.column_stack([u, u])})()
    threat = np.column_stack([np.linspace(0.0, 6.0, R), np.zeros(R)])
    shuffled = np.random.default_rng(0).permutation(R)  # threat and u independent across rows
    threat = threat[shuffled]
    level = np.zeros((R, 2), dtype=np.int64)
    _, provokes, contact = kernel.intend_phase(sc, 0, level, threat, draws, np.ones((R, 2)))
    spiral = np.exp(0.8 * threat[:, 0]) if cap is None else np.minimum(np.exp(0.8 * threat[:, 0]), cap)
    for hazard, rate in ((provokes, 0.01), (contact, 0.002)):
        assert np.array_equal(hazard[:, 0], u < -np.expm1(-rate * spiral))
    if cap == 1.0:  # threat does nothing: the chance is the base rate's whatever the threat
        assert np.array_equal(provokes[:, 0], u < -np.expm1(-0.01))
    assert not provokes[:, 1].any()  # b has no hazard


def test_intend_takes_the_highest_of_posture_drill_and_provocation():
    chances = A([[[0.0, 0.0, 0.5, 0.5, 0.0]], [[0.0, 0.0, 0.0, 0.0, 0.5]]])  # provocation, contact
    u = A([[0.3, 0.3, 0.3, 0.3, 0.3]])
    x, provoked, contact = kernel.intend(A([[1, 1, 4, 0, 0]]), A([-1, 2, 2, -1, -1]), chances, u, u,
                                         A([3, 3, 3, 3, 3]))
    assert x.tolist() == [[1, 2, 4, 3, 3]]  # a contact incident is an act at the provocation rung too
    assert provoked.tolist() == [[False, False, True, True, False]]
    assert contact.tolist() == [[False, False, False, False, True]]


def test_execute_accident_goes_one_rung_up_and_stops_at_top():
    accident = A([0.0, 0.0, 0.0, 0.5, 0.5, 0.5, 0.5])
    a, acc = kernel.execute(A([[3, 3, 6, 2]]), A([[0.4, 0.6, 0.1, 0.0]]), accident, 6)
    assert a.tolist() == [[4, 3, 6, 2]] and acc.tolist() == [[True, False, True, False]]


def test_perceive_adds_bias_ambiguity_and_noise_narrowed_by_an_open_hotline():
    realised = A([[1, 2]])
    bias = A([[0.0, 0.3], [0.0, 0.0]])  # observer 0 over-reads actor 1
    amb = A([0.0, 0.7])
    eta = A([[0.0, 0.5], [0.5, 0.0]])
    e = A([[[0.0, 1.0], [0.0, 0.0]]])
    engaged = A([[False, True], [True, False]])
    closed, _, q = kernel.perceive(realised, A([[2, 0]]), bias, amb, A([0.4, 0.4]), eta, 3, e, 6, engaged)
    assert q[0].tolist() == [closed[0, 0, 1], closed[0, 1, 0]]  # each reads the other, its one adversary
    assert closed[0, 0, 1] == pytest.approx(2 + 0.3 + 0.7 + 0.4)
    for level in ([[3, 0]], [[0, 3]]):  # either end at the lever rung opens the line
        opened = kernel.perceive(realised, A(level), bias, amb, A([0.4, 0.4]), eta, 3, e, 6, engaged)[0]
        assert opened[0, 0, 1] == pytest.approx(2 + 0.3 + 0.7 + 0.2)
    per_run = kernel.perceive(np.repeat(realised, 2, 0), A([[0, 0], [0, 0]]), bias, np.stack([amb, amb]),
                              A([[0.4, 0.4], [0.0, 0.0]]), eta, 3, np.repeat(e, 2, 0), 6, engaged)[0]
    assert per_run[0, 0, 1] == closed[0, 0, 1] and per_run[1, 0, 1] == 2 + 0.3 + 0.7  # (R, N) noise by run


def test_perceived_rung_rounds_half_up_and_clips():
    assert [loops.perceived_rung(p, 6) for p in (-0.6, 0.49, 0.5, 1.5, 2.5, 6.7)] == [0, 0, 1, 2, 3, 6]


def test_misperception_is_a_misread_rung_and_never_counts_self():
    # readings 0.4 (rung 0) and 2.6 (rung 3) of actions 1 and 2: both misread, but observer 0 reading
    # itself does not count; observer 1 reads 0.0 (rung 0) for 1: misread; 2.0 of itself: not counted
    p = A([[[0.4, 2.6], [0.0, 2.0]]])
    realised = A([[1, 2]])
    bias = p[0] - realised  # the readings, made by bias alone
    _, misread, _ = kernel.perceive(realised, A([[0, 0]]), bias, A([0.0, 0.0]), A([0.0, 0.0]), np.zeros((2, 2)), 3,
                                    np.zeros((1, 2, 2)), 6, np.ones((2, 2), dtype=bool))
    assert misread.tolist() == [[[False, True], [True, False]]]


def test_update_threat_accumulates_hostility_above_baseline_with_scale_and_relief():
    th = kernel.update_threat(A([[1.0]]), A([[[9.0, 3.0, 0.5]]]), A([[0.0, 0.5, 1.0]]), A([1.0, 2.0, 1.0]),
                              A([0, 1, 1]), A([0.9]), A([0.2]), A([0.0]))
    # 0.9 * 1 + 0.1 * (0.2 + 0.5 * 2 * (3 - 1) + 1 * max(0.5 - 1, 0))
    assert th[0, 0] == pytest.approx(0.9 + 0.1 * (0.2 + 2.0))
    relieved = kernel.update_threat(A([[1.0]]), A([[[0.0, 0.0, 0.0]]]), A([[0.0, 0.0, 0.0]]), A([1.0] * 3),
                                    A([0, 0, 0]), A([0.9]), A([0.0]), A([0.25]))
    assert relieved[0, 0] == pytest.approx(0.9 * 0.75)


def test_hostile_level_uses_only_engaged_actors_and_names_the_source():
    p = A([[[9.0, 2.5, 3.5], [1.0, 9.0, 0.0]]])
    engaged = A([[False, True, False], [False, False, False]])
    mde = A([[True, False]])
    assert kernel.hostile_level(p, engaged).tolist() == [[2.5, 0.0]]
    assert kernel.hostile_source(p, engaged, mde).tolist() == [[1, -1]]  # observer 1 had no MDE
    engaged[0, 2] = True
    assert kernel.hostile_level(p, engaged).tolist() == [[3.5, 0.0]]
    assert kernel.hostile_source(p, engaged, mde).tolist() == [[2, -1]]
    tie = A([[[0.0, 3.5, 3.5], [0.0, 0.0, 0.0]]])
    assert kernel.hostile_source(tie, engaged, mde).tolist() == [[1, -1]]  # the first of equal maxima
    # readings shared by all observers (the intended actions): shape (R, 1, N)
    shared = A([[[1.0, 2.0, 3.0]]])
    both = A([[False, True, True], [True, False, False]])
    assert kernel.hostile_level(shared, both).tolist() == [[3.0, 1.0]]


@pytest.mark.parametrize("u_deter, expected", [(0.1, 4), (0.9, 3)])
def test_deterrence_applies_only_to_up_steps_into_crisis(u_deter, expected):
    def decide(level, q):
        proposed = kernel.propose("tit_for_tat", {}, A([level]), A([q]), A([0.0]), A([0]), A([6]), A([0.5]))
        return kernel.deter(proposed, A([level]), A([u_deter]), 0.35, 4).tolist()

    assert decide(2, 4.2) == [expected]
    # not an up-step into crisis (already there, or staying below): no draw against D
    assert decide(4, 4.2) == [4]
    assert decide(1, 3.0) == [3]


def test_backchannel_lowers_both_ends_once_not_below_baseline():
    pairs = A([[0, 1], [0, 2], [1, 2]])
    decided = A([[4, 3, 1], [4, 3, 1]])
    level = A([[3, 2, 0], [2, 2, 2]])
    prob = A([0.5, 0.5, 0.5])
    u = A([[0.1, 0.1, 0.9], [0.1, 0.1, 0.1]])
    out, success = kernel.apply_backchannels(decided, level, pairs, prob, u, A([0, 3, 1]), 3)
    # run 0: pairs (0,1) and (0,2) active (actor 0 at 3) and succeed -> 0 lowered once, 1 at its baseline 3, 2 to 1
    assert out[0].tolist() == [3, 3, 1]
    # run 1: nobody at rung >= 3 -> channels idle
    assert out[1].tolist() == [4, 3, 1] and not success[1].any()


def test_alliance_shares_threat_one_hop_and_deterrence_factor():
    # 0 = target, 1 and 2 allies; 1 is threatened by 0 at 1.0, 2 not at all
    A_ = A([[0.0, 1.0, 1.0], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    star = alliance_threat_weights(A_, [([1, 2], 0.6)])
    assert star[2, 0] == pytest.approx(0.6) and star[1, 0] == 1.0 and star[2, 1] == 0.0
    assert alliance_threat_weights(A_, [([1, 2], 0.0)])[2, 0] == 0.0
    cap = A([10.0, 20.0, 40.0])
    D = deterrence(A([0.5, 0.5, 0.5]), opposing_log_ratio(star, cap))
    # C_0 = A*_10 c_1 + A*_20 c_2 = 20 + 24 = 44 -> D_0 = (44 / 10) ** -0.5
    assert D[0] == pytest.approx((44 / 10) ** -0.5)
    assert D[2] == 1.0  # nobody engaged against 2 is stronger: no deterrence
    assert np.all(deterrence(A([0.0, 0.0, 0.0]), opposing_log_ratio(star, cap)) == 1.0)


@pytest.mark.parametrize("seed", [0, 1])
def test_deterministic_limit_follows_the_closed_form_step_by_step(seed):
    """No noise, no hazards: B drills at rung 2 (scale 2) on days 5-9; A plays tit-for-tat.

    Closed form: a_B(t) = 2 on t in 5..9; l_A(t) = a_B(t-1); B never moves.
    th_A(t) = 4 (1 - 0.9^(t-5)) for t in 6..10, then th_A(10) 0.9^(t-10);
    th_B(t) = 2 (1 - 0.9^(t-6)) for t in 7..11, then th_B(11) 0.9^(t-11). No misperceptions, no MDEs.
    """
    raw = two_actor_raw(
        actors={"a": {"rule": {"name": "tit_for_tat"}}},
        drills={"d": {"participants": ["b"], "windows": [["2024-01-06", "2024-01-10"]], "rung": 2, "scale": 2.0}},
    )
    sc = compiled(raw)
    m = EscalationModel(sc, draws=RunDraws(np.random.default_rng(seed), 2)).run()
    h = m.history
    for t in range(sc.horizon):
        a_b = 2 if 5 <= t <= 9 else 0
        l_a = 2 if 6 <= t <= 10 else 0
        assert h["realised"][t].tolist() == [l_a, a_b], t
        assert h["level"][t].tolist() == [l_a, 0], t
        th_a = 4 * (1 - 0.9 ** (t - 5)) if 6 <= t <= 10 else (4 * (1 - 0.9**5) * 0.9 ** (t - 10) if t > 10 else 0)
        th_b = 2 * (1 - 0.9 ** (t - 6)) if 7 <= t <= 11 else (2 * (1 - 0.9**5) * 0.9 ** (t - 11) if t > 11 else 0)
        assert h["threat"][t] == pytest.approx([th_a, th_b], abs=1e-12), t
    assert not h["misperceived"].any() and not h["mde"].any()
    assert m.outcomes.max_rung[0] == 2 and not m.outcomes.crisis[0]


def test_a_contact_incident_answered_in_kind_is_an_exchange_of_fire():
    # 0 fires at the line (intends 3); 1 and 2 are engaged with 0; 1 answers (u < in_kind), 2 does not
    engaged = A([[False, True, True], [True, False, False], [True, False, False]])
    realised, intended = A([[3, 0, 1], [3, 0, 1]]), A([[3, 0, 1], [3, 0, 1]])
    contact = A([[True, False, False], [False, False, False]])
    u = A([[0.9, 0.2, 0.2], [0.9, 0.2, 0.2]])
    a, x, answers = kernel.exchange_fire(realised, intended, contact, engaged, A([0.0, 0.5, 0.1]), u, 4)
    assert a[0].tolist() == [4, 4, 1] and x[0].tolist() == [3, 4, 1]  # 0 did not intend the exchange; 1 did
    assert answers[0].tolist() == [False, True, False]
    assert a[1].tolist() == [3, 0, 1] and not answers[1].any()  # no contact, nothing to answer
    # an unanswered incident stays a one-sided act at the provocation rung
    a, _, answers = kernel.exchange_fire(realised, intended, contact, engaged, A([0.0, 0.1, 0.1]), u, 4)
    assert a[0].tolist() == [3, 0, 1] and not answers.any()


def test_contact_incidents_follow_their_hazard_and_answered_ones_are_crises():
    raw = two_actor_raw(actors={"a": {"provocation": {"contact_rate": 0.05}, "baseline": 0},
                                "b": {"in_kind": 1.0}})
    raw["scenario"]["horizon"] = 200
    sc = compiled(raw)
    from sim.engines.simulate import simulate

    out = simulate(sc, 4096, seed=2, workers=1).per_run
    days = out["contacts_0"]
    p = 1 - math.exp(-0.05)
    assert abs(days.mean() - 200 * p) < 4 * math.sqrt(200 * p * (1 - p) / 4096)
    # b answers every incident: every incident is a crisis onset unless it falls on the day after another
    assert np.all(out["crisis_onsets"] <= days) and np.all((days > 0) == (out["crisis_onsets"] > 0))


@pytest.mark.parametrize("name", ["korea_baseline", "regional", "strait_example"])
@pytest.mark.parametrize("per_run", [False, True])
def test_actors_that_share_a_rule_are_decided_as_each_would_be_alone(name, per_run):
    """decide_phase calls each rule once for the actors that share it (columns in any order, a view
    or a copy): every actor's decision must be that of its own rule, parameters and draws."""
    from sim.model.compile import compile_scenario
    from sim.engines.run_values import with_run_values
    from sim.model.scenario import load_scenario

    sc = compile_scenario(load_scenario(SCENARIOS / f"{name}.toml"))
    R, N, rng = 500, sc.n_actors, np.random.default_rng(1)
    if per_run:  # one actor's rule parameter varies by run
        i = sc.rule_names.index("graduated")
        sc = with_run_values(sc, {f"actors.{sc.actor_ids[i]}.rule.threshold": rng.uniform(0.5, 3.0, R)})
    level = rng.integers(0, 4, (R, N))
    perceived = rng.uniform(-1, 7, (R, N, N))
    threat = rng.uniform(0, 5, (R, N))
    draws = type("D", (), {"rule": rng.random((R, N)), "deterrence": rng.random((R, N))})()
    q = kernel.hostile_level(perceived, sc.engaged)
    decided = kernel.decide_phase(sc, level, level, perceived, q, threat, draws, tag=False)[0]
    for i in range(N):
        own = {k: np.broadcast_to(np.asarray(v, dtype=float), (R,)).copy() for k, v in sc.rule_params[i].items()}
        proposed = kernel.propose(sc.rule_names[i], own, level[:, i].copy(), q[:, i].copy(), threat[:, i].copy(),
                                  np.full(R, sc.baseline[i]), np.full(R, sc.ceiling[i]), draws.rule[:, i].copy())
        alone = kernel.deter(proposed, level[:, i], draws.deterrence[:, i], sc.deterrence[..., i], sc.crisis_rung)
        assert np.array_equal(decided[:, i], alone), sc.actor_ids[i]
    assert len({sc.rule_names[i] for i in range(N)}) < N  # some actors do share a rule here
