"""The classic results of MODEL.md section 7 as special cases of the model."""

import numpy as np
import pytest
from scipy.stats import norm

from conftest import compiled, noisy_tit_for_tat_raw
from sim.model import kernel
from sim.engines.draws import run_seed
from sim.engines.model import EscalationModel
from sim.core.stats import wilson_interval


def test_schelling_threat_that_leaves_something_to_chance():
    """One actor held at rung 3, accident chance r = 0.01 there: P(crisis by T=50) = 1 - 0.99^50 = 0.395."""
    raw = {
        "scenario": {"name": "schelling", "horizon": 50},
        "ladder": {"accident": [0, 0, 0, 0.01, 0, 0, 0]},
        "actors": {"x": {"capability": 1.0, "baseline": 3, "noise": 0.0,
                         "rule": {"name": "restraint", "trigger": 99.0, "cool_rate": 0.0}}},
    }
    sc = compiled(raw)
    runs = 600
    first = np.array([EscalationModel(sc, rng=run_seed(7, k)).run().outcomes.first_crisis[0] for k in range(runs)])
    exact = 1 - 0.99**50
    assert exact == pytest.approx(0.395, abs=5e-4)
    # the whole curve P(crisis by step t), checked where it is informative, inside 99.9% Wilson bounds
    for t in (9, 24, 49):
        hits = int(((first >= 0) & (first <= t)).sum())
        _, lo, hi = wilson_interval(hits, runs, confidence=0.999)
        assert lo <= 1 - 0.99 ** (t + 1) <= hi, t


def test_richardson_arms_race_is_the_threat_kernel_with_levels_equal_to_threats():
    """th(t+1) = (1 - a) th + k th_other + a g with a = 1 - decay, k = a A* w: bounded iff a1 a2 > k12 k21."""

    def iterate(decay, A_star, g, steps):
        w = np.ones((2, 2))
        weight = A_star * w
        a = 1 - decay
        k = a[:, None] * weight
        th = np.zeros((1, 2))
        lin = np.zeros(2)
        for _ in range(steps):
            p = np.broadcast_to(th[:, None, :], (1, 2, 2))  # levels set to threats, no rounding, no noise
            th = kernel.update_threat(th, p, weight, np.ones(2), np.zeros(2), decay, g, np.zeros(2))
            lin = (1 - a) * lin + k @ lin + a * g
            assert th[0] == pytest.approx(lin, rel=1e-12)
        return th[0], a, k

    decay = np.array([0.9, 0.8])
    g = np.array([1.0, 0.5])
    stable_A = np.array([[0.0, 0.6], [0.5, 0.0]])  # a1 a2 = 0.02 > k12 k21 = 0.1*0.6 * 0.2*0.5 = 0.006
    th, a, k = iterate(decay, stable_A, g, 400)
    assert a[0] * a[1] > k[0, 1] * k[1, 0]
    fixed = np.linalg.solve(np.diag(a) - k, a * g)  # the equilibrium of the Richardson system
    assert th == pytest.approx(fixed, rel=1e-9)
    unstable_A = np.array([[0.0, 1.5], [1.5, 0.0]])  # k12 k21 = 0.15 * 0.3 = 0.045 > 0.02
    th, a, k = iterate(decay, unstable_A, g, 400)
    assert a[0] * a[1] < k[0, 1] * k[1, 0]
    assert th.min() > 1e6  # an arms race without bound


@pytest.mark.parametrize("noise", [0.5, 1.0])
def test_noisy_tit_for_tat_spends_a_quarter_of_the_time_both_escalated(noise):
    """Two rungs, tit-for-tat, flips with probability Phi(-0.5 / s): P(both at 1) = 1/4 in the long run."""
    sc = compiled(noisy_tit_for_tat_raw(noise, 300))
    flip = norm.cdf(-0.5 / noise)
    burn = int(np.ceil(10 / (2 * flip)))  # the pair chain forgets its start at rate ~ 2 flip per step
    shares = []
    for k in range(40):
        levels = EscalationModel(sc, rng=run_seed(11, k)).run().history["level"][burn:]
        shares.append((levels == 1).all(axis=1).mean())
    shares = np.array(shares)
    se = shares.std(ddof=1) / np.sqrt(len(shares))  # runs are independent
    assert abs(shares.mean() - 0.25) < 4 * se
    assert se < 0.03  # the test has power to see a share of 1/3 or 1/6
