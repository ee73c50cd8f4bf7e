"""Each deterrence rule on hand-worked cases, and the registry for user rules."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import compiled, noisy_tit_for_tat_raw
from sim.engines.ensemble import run_batch
from sim.engines.model import EscalationModel
from sim.model.rules import engine_function, get_rule, register_rule, registered_rules, round_half_up

A = np.array


def call(name, l, q, th=0.0, b=0, u=6, U=0.5, **params):
    n = len(l)
    return get_rule(name).function(A(l), A(q, dtype=float), np.full(n, th), b, u, np.broadcast_to(U, n), **params)


def test_round_half_up_is_not_bankers_rounding():
    assert round_half_up([0.5, 1.5, 2.5, -0.5, 2.49]).tolist() == [1, 2, 3, 0, 2]


def test_tit_for_tat_matches_and_clips():
    assert call("tit_for_tat", [0, 0, 0, 0, 3], [2.4, 2.5, 7.2, -1.0, 0.0], b=1, u=5).tolist() == [2, 3, 5, 1, 1]


def test_graduated_steps_up_holds_and_cools():
    # l=1: q=2.5 is 1.5 above -> up; q=2.4 -> hold; q=1 <= l with U < cool_rate -> down; U >= -> hold
    r = call("graduated", [1, 1, 1, 1], [2.5, 2.4, 1.0, 1.0], U=A([0.9, 0.9, 0.05, 0.5]),
             threshold=1.5, cool_rate=0.1)
    assert r.tolist() == [2, 1, 0, 1]
    # never below baseline, never above ceiling
    assert call("graduated", [2, 4], [0.0, 9.0], b=2, u=4, U=0.0).tolist() == [2, 4]
    # threshold 1 matches every rung seen
    assert call("graduated", [0], [1.0], threshold=1.0).tolist() == [1]


def test_massive_retaliation_is_all_or_nothing():
    assert call("massive_retaliation", [0, 3, 5], [3.5, 3.4, 0.0], b=1, u=6, trigger=3.5).tolist() == [6, 1, 1]


def test_restraint_climbs_only_past_trigger():
    r = call("restraint", [2, 2, 2, 0, 6], [3.5, 3.0, 3.0, 0.0, 9.0], U=A([0.9, 0.9, 0.1, 0.0, 0.0]),
             trigger=3.5, cool_rate=0.3)
    assert r.tolist() == [3, 2, 1, 0, 6]


def test_user_rule_registers_and_validates_signature():
    @register_rule("always_two")
    def always_two(l, q, th, b, u, U, level=2.0):
        return np.clip((l * 0 + level).astype(np.int64), b, u)

    assert "always_two" in registered_rules()
    assert get_rule("always_two").defaults == {"level": 2.0}
    assert call("always_two", [0, 5], [0, 0], u=6).tolist() == [2, 2]
    with pytest.raises(TypeError, match="must take"):
        register_rule("bad", lambda level, q: level)
    with pytest.raises(TypeError, match="needs a default"):
        register_rule("bad2", lambda l, q, th, b, u, U, k: l)
    with pytest.raises(KeyError, match="registered"):
        get_rule("no_such_rule")


BUILT_IN = ["tit_for_tat", "graduated", "massive_retaliation", "restraint"]


@pytest.mark.parametrize("name", BUILT_IN)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_a_rule_gives_each_actor_the_same_rungs_alone_or_in_a_group(name, data):
    """The kernel decides all the actors that share a rule, in all runs, in one call over their
    decisions flattened run by run, with each decision's baseline, ceiling and parameters: every
    actor's rungs must be what a call for that actor alone gives, whoever else is in the group."""
    R, G = data.draw(st.integers(1, 6)), data.draw(st.integers(1, 4))
    ints, unit = st.integers(0, 6), st.floats(0, 1, allow_nan=False)
    grid = lambda elements: A(data.draw(st.lists(st.lists(elements, min_size=G, max_size=G), min_size=R, max_size=R)))
    b = np.tile(A(data.draw(st.lists(st.integers(0, 3), min_size=G, max_size=G))), (R, 1))
    u = b + A(data.draw(st.lists(st.integers(0, 3), min_size=G, max_size=G)))
    l = np.clip(grid(ints), b, u)
    q, th, U = grid(st.floats(-2, 9, allow_nan=False)), grid(st.floats(0, 9, allow_nan=False)), grid(unit)
    per_run = data.draw(st.booleans())  # parameters that vary by run, or one value per actor
    params = {k: grid(unit) * 4 if per_run else np.tile(A(data.draw(st.lists(unit, min_size=G, max_size=G))) * 4, (R, 1))
              for k in get_rule(name).defaults}
    flat = lambda x: np.ascontiguousarray(x).ravel()
    for function in (get_rule(name).function, engine_function(name)):  # as written, and as the engines run it
        together = function(*map(flat, (l, q, th, b, u, U)), **{k: flat(v) for k, v in params.items()})
        assert together.shape == (R * G,)
        together = together.reshape(R, G)
        for g in range(G):
            alone = function(*(x[:, g].copy() for x in (l, q, th, b, u, U)), **{k: v[:, g].copy() for k, v in params.items()})
            assert np.array_equal(together[:, g], alone), (g, together[:, g], alone)
        assert np.all((together >= b) & (together <= u))


NOT_ELEMENTWISE = {
    "a number from b": (lambda l, q, th, b, u, U: np.full_like(l, int(b)), "fails on two actors"),
    "an if on an array": (lambda l, q, th, b, u, U: l + 1 if q > 2 else l, "fails on two actors"),
    "the top rung of all": (lambda l, q, th, b, u, U: np.clip(np.full_like(l, l.max()), b, u), "decided with another"),
    "the rung of the second decision": (lambda l, q, th, b, u, U: np.clip(l * 0 + l[1:2], b, u), "decided with another"),
    "the number of decisions": (lambda l, q, th, b, u, U: np.clip(l + (len(l) == 4), b, u), "some of the runs"),
    "float rungs": (lambda l, q, th, b, u, U: np.clip(q, b, u), "returned float64"),
    "above the ceiling": (lambda l, q, th, b, u, U: l + 3, "outside [b, u]"),
}


@pytest.mark.parametrize("case", sorted(NOT_ELEMENTWISE))
def test_a_rule_the_engines_cannot_group_is_refused_when_registered(case):
    """The engines decide the actors that share a rule in one call, so a rule that is not elementwise
    would fail, or give an actor other rungs, only inside a run; it is refused at registration, with
    a message naming it and what rules must do."""
    function, words = NOT_ELEMENTWISE[case]
    with pytest.raises(TypeError) as info:
        register_rule(f"bad {case}", function)
    assert f"rule 'bad {case}'" in str(info.value) and words in str(info.value), str(info.value)
    assert f"bad {case}" not in registered_rules()


@pytest.mark.parametrize("name", BUILT_IN)
def test_built_in_rules_run_compiled(name):
    """The engines call a rule compiled by Numba when it compiles and agrees with NumPy; the shipped
    rules must, or both engines silently fall back to NumPy's several times slower calls."""
    from numba.core.registry import CPUDispatcher

    assert isinstance(engine_function(name), CPUDispatcher)


def test_a_rule_numba_cannot_compile_runs_as_numpy_in_both_engines():
    """scipy.special has no nopython form: the rule runs as written, and the Mesa engine still replays
    an ensemble run exactly (both engines call the same function for it)."""
    import scipy.special

    @register_rule("logistic_climb")
    def logistic_climb(l, q, th, b, u, U, slope=2.0):
        climb = scipy.special.expit(slope * (q - l - 1.0)) > U
        return np.minimum(np.maximum(np.where(climb, l + 1, l), b), u).astype(np.int64)

    assert engine_function("logistic_climb") is logistic_climb
    raw = noisy_tit_for_tat_raw(0.8, 60)
    raw["actors"]["a"]["rule"] = {"name": "logistic_climb"}
    sc = compiled(raw)
    R = 64
    out = run_batch(sc, 3, 0, 1, R, trace=True)
    for run in (0, 7, 41):
        m = EscalationModel.replay(sc, 3, run).run()
        assert np.array_equal(m.history["realised"], out.trace["realised"][run])
        assert np.array_equal(m.history["threat"], out.trace["threat"][run])
    assert out.trace["level"][:, :, 0].max() > 0  # the rule did climb somewhere


def test_a_redefined_rule_is_compiled_afresh():
    @register_rule("moving_target")
    def first(l, q, th, b, u, U):
        return np.minimum(np.maximum(l * 0 + 1, b), u)

    one = np.zeros((2, 1), dtype=np.int64)
    args = (one, one * 1.0, one * 1.0, np.array([0]), np.array([5]), one * 0.5)
    assert engine_function("moving_target")(*args).tolist() == [[1], [1]]

    @register_rule("moving_target")
    def second(l, q, th, b, u, U):
        return np.minimum(np.maximum(l * 0 + 3, b), u)

    assert engine_function("moving_target")(*args).tolist() == [[3], [3]]
