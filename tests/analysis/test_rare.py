"""Rare outcomes by adaptive multilevel splitting (sim/analysis/rare.py): exact values, crude Monte Carlo, replay,
reproducibility, unreachable and certain targets and bad input."""

import json
import re

import numpy as np
import pytest
from scipy.stats import norm

from conftest import SCENARIOS, compiled, two_actor_raw
from sim.analysis import rare, splitting
from sim.core.errors import InputError
from sim.ui.cli import main
from sim.model.compile import compile_scenario
from sim.engines.draws import Stream
from sim.engines.ensemble import run_ensemble
from sim.model.scenario import load_scenario
from sim.engines.simulate import simulate
from sim.core.stats import mean_interval, wilson_interval

# the shipped scenario's text, without its posterior (a path relative to scenarios/): point values
BASE = re.sub(r"(?m)^posterior = .*$", "", (SCENARIOS / "korea_baseline.toml").read_text())
BASE_ACCIDENT = "accident = [0.0, 0.0, 0.0, 0.004, 0.01, 0.005, 0.0]"


# The small model and its exact chain ----------------------------------------------------------------------
# Two actors, no noise, no threat memory (decay 0), no threat feedback (kappa 0), no deterrence,
# graduated rules, provocations at rung 3, accidents at rungs 3 and above, ladder 0..5. Its state is
# the pair of postures, so the probability that some realised action reaches a rung by the horizon
# is a sum over a 25-state chain.


def chain_raw(h, accident, cool, horizon, threshold=1.0, rung=3, ceiling=4):
    actor = {"capability": 1.0, "noise": 0.0, "decay": 0.0, "deterrence": 0.0, "ceiling": ceiling,
             "rule": {"name": "graduated", "threshold": threshold, "cool_rate": cool},
             "provocation": {"base_rate": h, "kappa": 0.0, "rung": rung}}
    return {"scenario": {"name": "chain", "horizon": horizon},
            "ladder": {"rungs": [str(k) for k in range(6)], "crisis_rung": 4, "war_rung": 5, "lever_rung": 3,
                       "accident": list(accident)},
            "actors": {"a": {**actor, "threatened_by": {"b": 1.0}}, "b": {**actor, "threatened_by": {"a": 1.0}}}}


def exact_probability(h, accident, cool, horizon, target, threshold=1.0, rung=3, ceiling=4, top=5):
    """P(some realised action >= target by the horizon) for :func:`chain_raw`, by forward iteration.

    Each day each actor provokes with probability 1 - exp(-h) (intent max(posture, rung)), an action at
    rung x comes out x + 1 with probability accident[x], and each actor then reads the other's realised
    action exactly: up one rung when it is at least `threshold` above its posture (to its ceiling),
    else down one with probability `cool` when it is at or below its posture (not below 0). Mass whose
    realised action reaches the target leaves the chain.
    """
    provoke = -np.expm1(-h)
    acc = np.asarray(accident, dtype=float)
    L = ceiling + 1

    def actions(level):
        dist = np.zeros(top + 1)
        for x, px in ((max(level, rung), provoke), (level, 1 - provoke)):
            dist[min(x + 1, top)] += px * acc[x]
            dist[x] += px * (1 - acc[x])
        return dist

    def next_level(level, seen):
        out = np.zeros(L)
        if seen - level >= threshold:
            out[min(level + 1, ceiling)] = 1.0
        elif seen <= level:
            out[max(level - 1, 0)] += cool
            out[level] += 1 - cool
        else:
            out[level] = 1.0
        return out

    moves = {}
    for la in range(L):
        for lb in range(L):
            da, db = actions(la), actions(lb)
            m = np.zeros((L, L))
            for aa in range(target):
                for ab in range(target):
                    m += da[aa] * db[ab] * np.outer(next_level(la, ab), next_level(lb, aa))
            moves[la, lb] = m
    alive = np.zeros((L, L))
    alive[0, 0] = 1.0
    for _ in range(horizon):
        alive = sum(alive[s] * moves[s] for s in moves if alive[s])
    return 1.0 - alive.sum()


RARE_CHAIN = dict(h=0.005, accident=[0, 0, 0, 0.001, 0.001, 0], cool=0.3, horizon=100)  # P(war) = 3.08e-6


def t_interval(estimates, confidence=0.95):
    """The interval summarise_rare gives over repetitions (the method's own: skewness-corrected t)."""
    return mean_interval(estimates, confidence)[1:]


def test_the_exact_chain_is_the_model():
    """The exact computation agrees with the ensemble engine where crude Monte Carlo is cheap."""
    params = dict(h=0.05, accident=[0, 0, 0, 0.03, 0.05, 0], cool=0.3, horizon=60)
    exact = exact_probability(**params, target=5)
    runs = 16_384
    totals, _, _ = run_ensemble(compiled(chain_raw(**params)), runs, 5, workers=1)
    _, lo, hi = wilson_interval(totals.war, runs, confidence=0.999)
    assert 0.02 < exact < 0.5
    assert lo <= exact <= hi, (exact, totals.war / runs)
    assert 1e-8 < exact_probability(**RARE_CHAIN, target=5) < 1e-5


def test_ams_interval_covers_the_exact_value():
    """Plain splitting (jumps=False); with the last jump integrated out, the same chain's coverage is the slow
    several-seeds test's, and random chains' is tests/analysis/test_rare_jumps.py's."""
    exact = exact_probability(**RARE_CHAIN, target=5)
    res = rare.estimate_rare(compiled(chain_raw(**RARE_CHAIN)), "war", replicas=100, repetitions=40, seed=1,
                             workers=2, jumps=False)
    s = rare.summarise_rare(res)
    assert s["method"].startswith("adaptive multilevel splitting") and s["rung"] == 5
    assert s["ci_low"] <= exact <= s["ci_high"], (exact, s["estimate"], s["ci_low"], s["ci_high"])
    assert s["relative_error"] < 0.5 and s["work_gain"] > 10  # far cheaper than crude Monte Carlo
    assert s["model_steps"] == sum(r.steps for r in res.repetitions) > 0


def _chain_posterior():
    from sim.engines.posterior import Posterior
    from sim.engines.resolve import resolve
    from sim.model.scenario import validate_scenario

    key = "actors.*.provocation.base_rate"
    rates, weights = np.array([0.003, 0.005, 0.01]), np.array([0.5, 0.3, 0.2])
    post = Posterior([key], rates[:, None], weights, {}, "chain_posterior.csv", "x")
    scenario = validate_scenario(chain_raw(**RARE_CHAIN), "chain")
    exact = float(np.sum(weights * [exact_probability(**{**RARE_CHAIN, "h": h}, target=5) for h in rates]))
    return key, resolve(scenario, posterior=None, runs=1), resolve(scenario, posterior=post, runs=1), exact


def test_ams_over_a_posterior_runs_each_repetition_at_its_draw():
    """With a posterior, repetition j runs at draw j's values: exactly the repetition a point-value run at
    those values gives; its replay takes them too (replay needs the model's own paths: no jump conditioning)."""
    from sim.engines.run_values import at_values

    key, plain, drawn, _ = _chain_posterior()
    resolved = rare.resolve_rare(drawn, 3, seed=1)
    assert resolved.draws.count == 3 and resolved.draws.runs_per_draw == 1
    res = rare.estimate_rare(plain.compiled, "war", replicas=30, repetitions=3, seed=1, workers=1, resolved=resolved,
                             jumps=False)
    assert rare.summarise_rare(res)["parameters"].startswith("averaged over 3 posterior draws of chain_posterior.csv")
    for j in (0, 2):  # repetition j is the point-value repetition j at draw j's rate
        alone = rare.estimate_rare(at_values(plain.compiled, {key: resolved.run_values[key][j]}), "war",
                                   replicas=30, repetitions=j + 1, seed=1, workers=1, jumps=False)
        assert alone.repetitions[j].estimate == res.repetitions[j].estimate
        assert alone.repetitions[j].steps == res.repetitions[j].steps
    rep = next(r for r in res.repetitions if r.reached)
    model = rare.replay_model(res, rep.repetition, 0).run()
    assert np.array_equal(model.history["realised"][:rep.hit_step[0] + 1], rep.realised[0, :rep.hit_step[0] + 1])


@pytest.mark.slow
def test_ams_over_a_posterior_covers_the_exact_posterior_mean():
    """The mean over repetitions, each an unbiased estimate at an independent draw, with its t interval,
    covers the exact probability averaged over the posterior."""
    _, plain, drawn, exact = _chain_posterior()
    res = rare.estimate_rare(plain.compiled, "war", replicas=100, repetitions=40, seed=1, workers=2,
                             resolved=rare.resolve_rare(drawn, 40, seed=1))
    s = rare.summarise_rare(res)
    assert s["ci_low"] <= exact <= s["ci_high"], (exact, s["estimate"], s["ci_low"], s["ci_high"])


def test_same_numbers_for_any_workers_or_batching(monkeypatch):
    sc = compiled(chain_raw(**RARE_CHAIN))
    a = rare.estimate_rare(sc, "war", replicas=30, repetitions=4, seed=7, workers=1)
    b = rare.estimate_rare(sc, "war", replicas=30, repetitions=4, seed=7, workers=2)
    monkeypatch.setattr(splitting, "BATCH_ROWS", 30)  # one repetition per batch
    c = rare.estimate_rare(sc, "war", replicas=30, repetitions=4, seed=7, workers=1)
    for other in (b, c):
        assert np.array_equal(a.estimates, other.estimates)
        assert [r.steps for r in a.repetitions] == [r.steps for r in other.repetitions]
    d = rare.estimate_rare(sc, "war", replicas=30, repetitions=4, seed=8, workers=1)
    assert not np.array_equal(a.estimates, d.estimates)


def test_paths_at_the_target_replay_in_the_mesa_engine():
    """A replica's path (clone after clone) is its streams' draws joined at its branch steps: fed them,
    the Mesa engine walks the same path to the target, step for step."""
    raw = load_scenario(SCENARIOS / "korea_baseline.toml", overrides={"ladder.accident": [0, 0, 0, 0.05, 0.1, 0.05, 0]})
    for sc in (compiled(chain_raw(**RARE_CHAIN)), compile_scenario(raw)):
        res = rare.estimate_rare(sc, "war", replicas=30, repetitions=3, seed=2, workers=1, jumps=False)
        replayed = 0
        for rep in res.repetitions:
            for i in range(min(rep.reached, 2)):
                model = rare.replay_model(res, rep.repetition, i).run()
                hit = rep.hit_step[i]
                assert np.array_equal(model.history["realised"][:hit + 1], rep.realised[i, :hit + 1])
                assert np.array_equal(model.history["level"][:hit + 2], rep.levels[i, :hit + 2])
                assert model.history["realised"][hit].max() >= sc.war_rung > model.history["realised"][:hit].max()
                replayed += 1
        assert replayed >= 2
        assert any(len(g) > 1 for rep in res.repetitions for g in rep.genealogy)  # some were cloned


def test_path_shares_add_up():
    sc = compile_scenario(load_scenario(SCENARIOS / "korea_baseline.toml",
                                        overrides={"ladder.accident": [0, 0, 0, 0.05, 0.1, 0.05, 0]}))
    s = rare.summarise_rare(rare.estimate_rare(sc, "war", replicas=40, repetitions=3, seed=4, workers=2))
    p = s["paths"]
    assert p["paths"] > 0 and set(p["first_climber"]) == set(sc.actor_ids)
    assert sum(p["first_climber"].values()) + p["no_climb_before_target"] == pytest.approx(1.0)
    assert sum(p["reached_by"].values()) == pytest.approx(1.0)
    assert 0 <= p["began_with_mde"] <= p["any_mde_before_target"] <= 1


def test_targets_by_name_rung_and_number():
    sc = compile_scenario(load_scenario(SCENARIOS / "korea_baseline.toml"))
    assert rare.parse_target(sc, "war").rung == sc.war_rung == 5
    assert rare.parse_target(sc, "crisis").rung == sc.crisis_rung
    assert rare.parse_target(sc, "nuclear").rung == rare.parse_target(sc, "nuclear-use").rung == 6
    assert rare.parse_target(sc, "limited clash").rung == 4 and rare.parse_target(sc, "3").rung == 3


def test_reach_bounds_every_actor_from_the_scenario_alone():
    capped = {"actors": {a: {"ceiling": 3} for a in ("a", "b")}, "ladder": {"accident": [0.0] * 3 + [0.01] * 4},
              }
    sc = compiled(two_actor_raw(**capped))
    r = rare.reach(sc)
    assert rare.highest_reachable(sc) == 0 and list(r.posture) == [0, 0]  # exact readings of 0: restraint never climbs
    noisy = compiled(two_actor_raw(ladder=capped["ladder"], actors={a: {"ceiling": 3, "noise": 0.1} for a in ("a", "b")}))
    r = rare.reach(noisy)  # noise: the readings can be anything, so the rule can climb to its ceiling
    assert list(r.posture) == [3, 3] and r.top == 4 and "accident rate at rung 3 is 0.01" in r.why[0]
    korea = compile_scenario(load_scenario(SCENARIOS / "korea_baseline.toml"))
    assert rare.reach(korea).top == 6


def test_unreachable_target_is_an_input_error_and_certain_one_is_decided():
    sc = compiled(two_actor_raw())  # nothing can ever move
    with pytest.raises(InputError, match=r"--rare war: rung 5 \(major war\) cannot be reached"):
        rare.estimate_rare(sc, "war", replicas=10, repetitions=2)
    start_high = compiled(two_actor_raw(actors={"a": {"baseline": 4}}))
    s = rare.summarise_rare(rare.estimate_rare(start_high, "crisis", replicas=10, repetitions=2))
    assert s["estimate"] == 1 and s["model_steps"] == 0 and s["reason"].startswith("certain: a starts at or above")
    assert rare.certain(sc, 0) and rare.certain(sc, 1) is None


def test_no_way_up_gives_zero_with_the_reason():
    noisy = {"actors": {a: {"noise": 0.01} for a in ("a", "b")}}  # reachable in principle, never in practice
    sc = compiled(two_actor_raw(**noisy))
    res = rare.estimate_rare(sc, "war", replicas=20, repetitions=2, workers=1, score="rung")
    s = rare.summarise_rare(res)
    assert s["estimate"] == 0 and "no way up" in s["reason"] and all(r.flat for r in res.repetitions)


# Command line -------------------------------------------------------------------------------------------


def test_run_rare_prints_and_writes_the_ams_estimate(tmp_path, capsys):
    path = tmp_path / "hot.toml"
    path.write_text(BASE.replace(BASE_ACCIDENT, "accident = [0.0, 0.0, 0.0, 0.05, 0.1, 0.05, 0.0]"))
    out = tmp_path / "o"
    assert main(["run", str(path), "--runs", "8", "--out", str(out), "--no-plot", "--rare", "war",
                 "--rare", "nuclear", "--replicas", "20", "--repetitions", "2", "--workers", "1"]) == 0
    text = capsys.readouterr().out
    assert "adaptive multilevel splitting" in text and "P(major war) [AMS]" in text and "P(nuclear use) [AMS]" in text
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["rare"]) == {"war", "nuclear"} and summary["p_war"]["runs"] == 8
    war = summary["rare"]["war"]
    assert war["method"].startswith("adaptive multilevel splitting") and war["repetitions"] == 2
    assert 0 <= war["ci_low"] <= war["estimate"] <= war["ci_high"] and war["replicas"] == 20
    assert war["stream"] == [Stream.RARE] and len(war["repetition_estimates"]) == 2


def _capped(tmp_path):
    path = tmp_path / "capped.toml"
    path.write_text(BASE.replace('name = "South Korea"', 'name = "South Korea"\nceiling = 3')
                    .replace('name = "United States"', 'name = "United States"\nceiling = 3')
                    .replace('name = "Japan"', 'name = "Japan"\nceiling = 3')
                    .replace('name = "North Korea"', 'name = "North Korea"\nceiling = 3'))
    return path


def test_unreachable_target_on_the_command_line_is_one_line_and_exit_2(tmp_path, capsys):
    """Every ceiling at 3: one accident lifts an action to rung 4, and no way leads to rung 5."""
    out = tmp_path / "o"
    assert main(["run", str(_capped(tmp_path)), "--runs", "2", "--out", str(out), "--no-plot", "--rare", "war"]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and not out.exists() and not captured.out
    assert lines[0].startswith("error: --rare war: rung 5 (major war) cannot be reached")
    assert "highest possible realised action is rung 4" in lines[0] and "north_korea decides at most rung 3 (its ceiling)" in lines[0]


def test_switched_off_ways_are_named(tmp_path, capsys):
    """Ceilings at 3, no accidents, nobody answering in kind: no way leads to the crisis rung."""
    path = tmp_path / "off.toml"
    text = _capped(tmp_path).read_text().replace(BASE_ACCIDENT, "accident = [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]")
    assert re.search(r"\nin_kind = [0-9.]+", text)  # the South's (the scenario's posterior median)
    path.write_text(re.sub(r"\nin_kind = [0-9.]+", "\nin_kind = 0.0", text))
    assert main(["run", str(path), "--runs", "2", "--out", str(tmp_path / "o"), "--rare", "crisis"]) == 2
    line = capsys.readouterr().err.strip()
    assert "\n" not in line and "rung 4 (limited clash) cannot be reached" in line and "accident rate at rung 3 is 0" in line


@pytest.mark.parametrize("target, why", [("crisis", "certain: north_korea starts at or above rung 4"),
                                         ("0", "certain: every realised action is at least rung 0")])
def test_a_certain_target_says_so_exits_0_and_runs_nothing(tmp_path, capsys, target, why):
    path = tmp_path / "high.toml"
    path.write_text(BASE.replace('name = "North Korea"\ncapability = 18.0\nbaseline = 1',
                                 'name = "North Korea"\ncapability = 18.0\nbaseline = 4'))
    out = tmp_path / "o"
    assert main(["run", str(path), "--out", str(out), "--rare", target]) == 0
    captured = capsys.readouterr()
    lines = captured.out.strip().splitlines()
    assert len(lines) == 1 and why in lines[0] and lines[0].endswith("nothing was run") and not out.exists()
    assert not captured.err


def test_one_rung_asked_by_two_names_is_one_target(tmp_path, capsys):
    assert main(["run", str(SCENARIOS / "korea_baseline.toml"), "--out", str(tmp_path / "o"), "--rare", "1", "--rare", "hostile rhetoric"]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 1


@pytest.mark.parametrize("flags, words", [
    (["--rare", "9"], ["above the ladder", "top rung is 6"]),
    (["--rare", "armageddon"], ["not a target"]),
    (["--rare", "-1"], ["not a target", "0..6"]),
    (["--rare", "war", "--replicas", "0"], ["--replicas 0"]),
    (["--rare", "war", "--replicas", "1"], ["--replicas 1"]),
    (["--rare", "war", "--repetitions", "0"], ["--repetitions 0"]),
    (["--rare", "war", "--repetitions", "-3"], ["--repetitions -3"]),
    (["--replicas", "50"], ["--rare TARGET"]),
])
def test_bad_rare_input_is_one_line_and_writes_nothing(tmp_path, capsys, flags, words):
    out = tmp_path / "o"
    code = main(["run", str(SCENARIOS / "korea_baseline.toml"), "--runs", "2", "--out", str(out), *flags])
    err = capsys.readouterr().err
    assert code == 2 and not out.exists() and "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    for word in words:
        assert word in lines[0]


# Slow statistical checks ---------------------------------------------------------------------------------


@pytest.mark.slow
def test_ams_agrees_with_crude_monte_carlo():
    """The shipped scenario made hot by overrides (accident rates x4 to x10) where P(war) is about 6e-3:
    the AMS mean and the crude frequency differ by less than their combined 95% interval."""
    sc = compile_scenario(load_scenario(SCENARIOS / "korea_baseline.toml",
                                        overrides={"ladder.accident": [0, 0, 0, 0.04, 0.08, 0.04, 0]}))
    runs = 81_920
    crude = simulate(sc, runs, seed=31, per_run=False).totals.war
    p_mc = crude / runs
    res = rare.estimate_rare(sc, "war", replicas=100, repetitions=60, seed=32)
    s = rare.summarise_rare(res)
    assert 1e-3 < p_mc < 1e-2, p_mc
    combined = np.hypot(s["std_error"], np.sqrt(p_mc * (1 - p_mc) / runs))
    assert abs(s["estimate"] - p_mc) <= norm.ppf(0.975) * combined, (s["estimate"], p_mc, combined)


@pytest.mark.slow
def test_ams_covers_the_exact_value_for_several_seeds():
    """Each seed's interval (99%: a false alarm per seed of 1%, as AMS estimates are skewed) and the
    95% interval of all seeds' repetitions together cover the exact value."""
    exact = exact_probability(**RARE_CHAIN, target=5)
    sc = compiled(chain_raw(**RARE_CHAIN))
    every = []
    for seed in (11, 12, 13, 14):
        est = rare.estimate_rare(sc, "war", replicas=100, repetitions=60, seed=seed).estimates
        lo, hi = t_interval(est, 0.99)
        assert lo <= exact <= hi, (seed, exact, est.mean())
        every.append(est)
    lo, hi = t_interval(np.concatenate(every))
    assert lo <= exact <= hi and hi - lo < exact  # and a tight interval: relative error under 25%


@pytest.mark.slow
def test_coarse_score_under_heavy_ties_still_covers_the_exact_value():
    """The rung alone takes six values here: levels tie by the dozen, most repetitions die out (estimate
    0) and a few are large; the estimator stays unbiased, so intervals over many repetitions cover."""
    exact = exact_probability(**RARE_CHAIN, target=5)
    sc = compiled(chain_raw(**RARE_CHAIN))
    every = []
    for seed in (21, 22, 23):
        res = rare.estimate_rare(sc, "war", replicas=100, repetitions=1500, seed=seed, score="rung", jumps=False)
        assert np.mean([r.extinct for r in res.repetitions]) > 0.5  # heavy ties: most die out
        lo, hi = t_interval(res.estimates, 0.99)
        assert lo <= exact <= hi, (seed, exact, res.estimates.mean())
        every.append(res.estimates)
    lo, hi = t_interval(np.concatenate(every))
    assert lo <= exact <= hi
