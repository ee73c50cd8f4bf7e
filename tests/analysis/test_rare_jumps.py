"""Rare outcomes whose last step is a jump (sim/analysis/jumps.py inside sim/analysis/splitting.py): the
conditioned step's law, the issue's chain, random small chains against their exact values, and bad input.

The chains are the project's own scenarios: N graduated actors, all adversaries of each other, no noise,
no threat memory or spiral, no deterrence; provocations at a rung with a daily hazard, accidents by
rung. Their state is the tuple of postures, so P(some realised action reaches the target by the
horizon) is a sum over at most 5^3 states (:func:`exact_chain`)."""

import itertools
import json

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from scipy.stats import binom

from conftest import SCENARIOS, compiled
from sim.analysis import jumps, rare
from sim.engines.draws import StepDraws, n_uniforms
from sim.engines.ensemble import step_runs
from sim.model.kernel import regime_multiplier
from sim.ui.cli import main


def chain_scenario(actors, accident, horizon, top=5):
    """actors: dicts of h (daily provocation hazard), ceiling, threshold, cool and rung (the provocation's)."""
    names = [chr(ord("a") + i) for i in range(len(actors))]
    out = {}
    for name, a in zip(names, actors):
        out[name] = {"capability": 1.0, "noise": 0.0, "decay": 0.0, "deterrence": 0.0, "ceiling": a["ceiling"],
                     "rule": {"name": "graduated", "threshold": a["threshold"], "cool_rate": a["cool"]},
                     "provocation": {"base_rate": a["h"], "kappa": 0.0, "rung": a.get("rung", 3)},
                     "threatened_by": {m: 1.0 for m in names if m != name}}
    return {"scenario": {"name": "chain", "horizon": horizon},
            "ladder": {"rungs": [str(k) for k in range(top + 1)], "crisis_rung": 4, "war_rung": 5, "lever_rung": 3,
                       "accident": list(accident)},
            "actors": out}


def exact_chain(actors, accident, horizon, target, top=5):
    """P(some realised action >= target by the horizon) for :func:`chain_scenario`, by forward iteration.

    Each day actor i provokes with chance 1 - exp(-h_i) (intent max(posture, rung_i)); an action at x comes
    out x + 1 with chance accident[x]; each actor reads the others' realised actions exactly and answers
    the highest, q: up one rung (to its ceiling) when q - posture >= threshold, down one with chance cool
    (not below 0) when q <= posture, else stays. Mass whose realised action reaches the target leaves."""
    N, acc = len(actors), np.asarray(accident, dtype=float)
    states = list(itertools.product(*[range(a["ceiling"] + 1) for a in actors]))
    index = {s: k for k, s in enumerate(states)}

    def action(a, level, full=False):
        p, d = -np.expm1(-a["h"]), np.zeros(top + 1)
        for x, px in ((max(level, a.get("rung", 3)), p), (level, 1 - p)):
            d[min(x + 1, top)] += px * acc[x]
            d[x] += px * (1 - acc[x])
        return d if full else d[:target]

    def answer(a, level, q):
        if q - level >= a["threshold"]:
            return {min(level + 1, a["ceiling"]): 1.0}
        if q <= level:
            down = max(level - 1, 0)
            return {down: a["cool"], level: 1 - a["cool"]} if down != level else {level: 1.0}
        return {level: 1.0}

    M = np.zeros((len(states), len(states)))
    for s in states:
        dists = [action(a, s[i]) for i, a in enumerate(actors)]
        for acts in itertools.product(range(target), repeat=N):
            pr = np.prod([dists[i][acts[i]] for i in range(N)])
            if pr == 0:
                continue
            moves = [answer(a, s[i], max(acts[j] for j in range(N) if j != i)).items() for i, a in enumerate(actors)]
            for combo in itertools.product(*moves):
                M[index[s], index[tuple(c[0] for c in combo)]] += pr * np.prod([c[1] for c in combo])
    leave = np.zeros(len(states))  # each state's chance of reaching the target today, summed term by term
    for s in states:
        dists = [action(a, s[i]) for i, a in enumerate(actors)]
        beyond = [action(a, s[i], full=True)[target:].sum() for i, a in enumerate(actors)]
        with np.errstate(divide="ignore"):  # an action certainly at the target: log(0), and leave is 1
            leave[index[s]] = -np.expm1(np.sum(np.log1p(-np.array(beyond))))  # 1 - P(every action below it)
    alive = np.zeros(len(states))
    alive[index[(0,) * N]] = 1.0
    hit = 0.0
    for _ in range(horizon):
        hit += alive @ leave
        alive = alive @ M
    return hit


def covers(s, exact, slack=1e-9):
    """The summary's interval holds the exact value (to rounding: a zero-variance estimate's interval is a point)."""
    return s["ci_low"] * (1 - slack) <= exact <= s["ci_high"] * (1 + slack)


# The conditioned step ---------------------------------------------------------------------------------------


def test_conditioned_step_has_the_law_given_no_jump_and_the_jump_chance():
    """One step from a state where a provocation (at rung 3) and an accident (from 3 into 4) can jump into
    rung 4: the frequency of a jump on the model's own draws is the mean chance q, and on the conditioned
    draws no actor jumps and the next postures have the law of the model's given no jump."""
    actors = [dict(h=0.3, ceiling=3, threshold=1.0, cool=0.2), dict(h=0.1, ceiling=3, threshold=1.0, cool=0.2)]
    sc = compiled(chain_scenario(actors, [0, 0, 0.1, 0.3, 0.3, 0], 10))
    R, N = 200_000, 2
    rng = np.random.default_rng(5)
    draws = StepDraws(rng.random((R, n_uniforms(N))), rng.standard_normal((R, N, N)), N)
    level = np.tile([2, 3], (R, 1))
    regime = regime_multiplier(np.full((R, N), 0.5), sc.regime_dispersion)
    threat = np.zeros((R, N))
    given, hazard = jumps.condition_step(sc, 0, level, threat, draws, regime, 4)
    q = -np.expm1(-hazard.sum(axis=1))
    nxt, _, step = step_runs(sc, 0, level, threat, draws, regime)
    hit = step["realised"].max(axis=1) >= 4
    assert abs(hit.mean() - q.mean()) < 4 * np.sqrt(q.mean() * (1 - q.mean()) / R)
    nxt_c, _, step_c = step_runs(sc, 0, level, threat, given, regime)
    assert step_c["realised"].max() < 4
    for cell in itertools.product(range(4), repeat=2):
        p_model = np.mean(np.all(nxt[~hit] == cell, axis=1))
        p_given = np.mean(np.all(nxt_c == cell, axis=1))
        assert abs(p_model - p_given) < 4 * np.sqrt(p_model * (1 - p_model) / (~hit).sum()) + 1e-4, cell


# The issue's chain ----------------------------------------------------------------------------------------------


def issue_chain(h, rho):
    """Two graduated actors, ceiling 3; A provokes at rung 3 with hazard h, B never; accidents at rungs 3 and
    4 with chance rho; the target is the crisis (rung 4), within 365 days."""
    a = dict(h=h, ceiling=3, threshold=1.5, cool=0.1)
    return [a, dict(a, h=0.0)], [0, 0, 0, rho, rho, 0], 365


@pytest.mark.parametrize("h, rho, near", [(0.01, 0.01, 0.0357), (1.41e-4, 1.41e-4, 7.3e-6), (5e-5, 5e-5, 9.1e-7)])
def test_the_issues_chain_no_longer_dies_out(h, rho, near):
    actors, accident, T = issue_chain(h, rho)
    exact = exact_chain(actors, accident, T, 4)
    assert exact == pytest.approx(near, rel=0.02)
    res = rare.estimate_rare(compiled(chain_scenario(actors, accident, T)), "crisis", replicas=50, repetitions=10,
                             seed=1, workers=1)
    s = rare.summarise_rare(res)
    assert s["extinct_repetitions"] == 0 and covers(s, exact) and s["relative_error"] <= 0.10
    assert s["jumps"].startswith("conditional Monte Carlo of the last jump into rung 4")


# Random chains against their exact values ------------------------------------------------------------------------


@st.composite
def random_chains(draw):
    """A random chain and a probability to aim at, 10^-10 .. 10^-3: 2 or 3 actors; the target the crisis or
    the war rung; ceilings one rung below the target (a quarter at the target, reached by decisions too);
    provocation hazards, rungs, thresholds and cooling at random; accidents below the jump's rung at 1e-3
    to 0.05 (a rare jump on the way, not the last step, is beyond any splitting: docs/model.md section 12)."""
    target = draw(st.sampled_from([4, 5]))
    rate = st.floats(-3.0, -1.3).map(lambda e: 10.0**e)
    actors = []
    for i in range(draw(st.sampled_from([2, 2, 3]))):
        actors.append(dict(h=draw(rate) if i == 0 else draw(st.sampled_from([0.0]) | rate),
                           ceiling=draw(st.sampled_from([target - 1] * 3 + [target])),
                           threshold=draw(st.floats(0.5, 2.0)), cool=draw(st.floats(0.0, 0.5)),
                           rung=draw(st.integers(2, target - 1))))
    accident = [0.0, 0.0] + [draw(rate) for _ in range(2, target - 1)] + [0.0] * (6 - (target - 1))
    return actors, accident, draw(st.sampled_from([60, 100])), target, 10.0 ** draw(st.floats(-10.0, -3.0))


ROUTE = 1e-3  # P at a 1% jump rate at least this: the way to the rung below the target is not itself rare


def tuned(case):
    """The case with the accident rate into the target set so that P is near the aim (P is linear in it for
    small rates: two exact values fix the line), its exact P, and P at a rate of 1% (how common the way
    to the rung below is)."""
    actors, accident, T, target, aim = case
    at = [exact_chain(actors, accident[:target - 1] + [a] + accident[target:], T, target) for a in (0.0, 1e-2)]
    a = float(np.clip(1e-2 * (aim - at[0]) / max(at[1] - at[0], 1e-300), 1e-12, 0.5))
    accident = accident[:target - 1] + [a] + accident[target:]
    return actors, accident, T, target, exact_chain(actors, accident, T, target), at[1]


def estimate_case(case, seed, replicas=50, repetitions=20, chain=None):
    """The exact P of a case (tuned, unless ``chain`` is its :func:`tuned` already) and the summary of its estimate."""
    actors, accident, T, target, exact, _ = chain or tuned(case)
    res = rare.estimate_rare(compiled(chain_scenario(actors, accident, T)), str(target), replicas=replicas,
                             repetitions=repetitions, seed=seed, workers=1)
    return exact, rare.summarise_rare(res)


def coverage(cases, seed0=0, limit=None):
    """Each case's exact P, whether the 95% interval held it, and the summary; cases with P = 0 (no way to
    the target) or whose way to the rung below the target is itself rare (P < ROUTE at a 1% jump rate:
    a rare jump on the way is beyond the method, docs/model.md section 12) are left out."""
    out = []
    for i, case in enumerate(cases):
        chain = tuned(case)
        if chain[-2] > 0 and chain[-1] >= ROUTE:
            exact, s = estimate_case(case, seed0 + i, chain=chain)
            out.append((exact, covers(s, exact), s))
            if len(out) == limit:
                break
    return out


def check_coverage(results, nominal=0.90, alpha=0.01):
    """No case died out (every repetition 0), and the intervals held the exact value in at least the share
    a binomial test at level alpha allows for a true coverage of ``nominal``."""
    assert all(s["estimate"] > 0 for _, _, s in results), [(e, s["estimate"]) for e, _, s in results]
    held = sum(c for _, c, _ in results)
    floor = int(binom.ppf(alpha, len(results), nominal))
    assert held >= floor, (held, len(results), [(e, s["estimate"], s["ci_low"], s["ci_high"]) for e, c, s in results
                                                if not c])


def _cases(count):
    found = []

    @settings(max_examples=count, phases=[Phase.generate], database=None, suppress_health_check=list(HealthCheck))
    @given(random_chains())
    def collect(case):
        found.append(case)

    collect()
    return found


def test_random_chains_fast():
    """A few random two-actor chains: none dies out, and most are held by their intervals."""
    results = coverage([case for case in _cases(40) if len(case[0]) == 2], limit=3)
    assert len(results) >= 3
    check_coverage(results, nominal=0.5)


@pytest.mark.slow
def test_random_chains_are_covered_at_the_nominal_rate():
    """60 random chains, P from 1e-10 to 1e-3 (and some above, where decisions reach the target too): no case
    dies out, and the 95% intervals hold the exact value in at least 90% of them (a binomial test at 1%)."""
    results = coverage(_cases(170))
    assert len(results) >= 50
    assert min(e for e, _, _ in results) < 1e-8 and max(e for e, _, _ in results) > 1e-4
    check_coverage(results)


@pytest.mark.slow
@pytest.mark.parametrize("aim", [1e-6, 1e-8, 1e-10])
def test_a_chain_far_down_at_ten_percent(aim):
    """Two actors who climb on provocations to rung 3, where accidents lift an action into the crisis: the
    exact value inside the 95% interval and a relative error of at most 10%."""
    actors = [dict(h=0.01, ceiling=3, threshold=1.0, cool=0.3, rung=2), dict(h=0.005, ceiling=3, threshold=1.0,
                                                                             cool=0.3, rung=2)]
    case = (actors, [0.0, 0.0, 0.01, 0.0, 0.0, 0.0], 100, 4, aim)
    exact, s = estimate_case(case, 7, replicas=100, repetitions=40)
    assert s["estimate"] > 0 and covers(s, exact) and s["relative_error"] <= 0.10, (exact, s["estimate"],
                                                                                     s["relative_error"])


# Bad input and decided targets ------------------------------------------------------------------------------------


def test_a_certain_target_beside_another_says_so_and_runs_no_splitting(tmp_path, capsys):
    """An actor that starts at the crisis rung: P(crisis) is 1, said with the reason, exit 0, no model steps
    (and no pilot); asked beside an uncertain target, the runs and that target's splitting go ahead."""
    text = (SCENARIOS / "korea_baseline.toml").read_text()
    path = tmp_path / "hot.toml"
    path.write_text(text.replace('posterior = "', '# posterior = "').replace(
        'name = "North Korea"\ncapability = 18.0\nbaseline = 1', 'name = "North Korea"\ncapability = 18.0\nbaseline = 4'))
    assert main(["run", str(path), "--runs", "2", "--out", str(tmp_path / "o"), "--no-plot", "--rare", "crisis",
                 "--rare", "war", "--replicas", "10", "--repetitions", "2", "--workers", "1", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    crisis = summary["rare"]["crisis"]
    assert summary["runs"] == 2 and summary["rare"]["war"]["model_steps"] > 0
    assert crisis["estimate"] == 1 and crisis["model_steps"] == 0 and "starts at or above rung 4" in crisis["reason"]
