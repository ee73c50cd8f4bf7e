"""Each deterrence rule on hand-worked cases, and the registry for user rules."""

import numpy as np
import pytest

from sim.rules import get_rule, register_rule, registered_rules, round_half_up

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
        return np.clip(np.full_like(l, int(level)), b, u)

    assert "always_two" in registered_rules()
    assert get_rule("always_two").defaults == {"level": 2.0}
    assert call("always_two", [0, 5], [0, 0], u=6).tolist() == [2, 2]
    with pytest.raises(TypeError, match="must take"):
        register_rule("bad", lambda level, q: level)
    with pytest.raises(TypeError, match="needs a default"):
        register_rule("bad2", lambda l, q, th, b, u, U, k: l)
    with pytest.raises(KeyError, match="registered"):
        get_rule("no_such_rule")
