"""Rare outcomes by adaptive multilevel splitting (AMS): P(crisis), P(war), P(nuclear use) when they are tiny.

The estimated probability is P(some actor's realised action reaches rung ``target`` within the
horizon), the same event as the ensemble's ``p_crisis``, ``p_war`` and ``p_nuclear_use`` when the target
is the crisis rung, the war rung or the top rung. The method is the generalised AMS of Bréhier,
Gazeau, Goudenège, Lelièvre and Rousset (2016, Ann. Appl. Probab. 26(6), 3559-3601) for a
discrete-time Markov chain stopped at a time tau (here: the horizon, or the step the target is
reached), with trajectory scores (Cérou and Guyader 2007; Lestang et al. 2018). One repetition:

1. *Initialisation*: n replicas (independent runs) are simulated from day 0; each gets its score
   S = max over its path of xi(state after each step), with xi = target exactly once the target
   is reached and xi < target before.
2. *Level*: Z = the k-th smallest S.
3. *Stopping*: if Z >= target, stop (at most k - 1 replicas have not reached the target).
4. *Killing*: every replica with S <= Z is killed, ties included; K = how many. If K = n, every
   replica is killed (extinction): the repetition's estimate is 0. Else the weight is multiplied
   by (1 - K/n).
5. *Splitting*: each killed replica picks a survivor uniformly (independently, among the n - K),
   copies its path up to the first step at which the survivor's score went strictly above Z,
   and continues from that state on fresh random numbers to the horizon (or the target). Back to 2.

The estimate is (product of the weight factors) x (share of the final replicas at the target):
unbiased for any score function and any n and k (the paper's main theorem). Repetitions are
independent; their mean and a Student t interval on it are reported, with the relative error, the
model steps spent and what crude Monte Carlo would need for the same relative error.

Replicas are rows of arrays (levels, threat, regime multipliers, the running maximum of realised
rungs, the step), stepped only through :func:`sim.engines.ensemble.step_runs` (one call site: :func:`_step`),
with every replica's whole path kept so that a clone copies its parent's prefix row-wise. Every
repetition's random numbers depend on (seed, repetition) alone: replica i of iteration q draws on the
stream ``root + (REPLICA, repetition, q, i)`` and the parents of iteration q are picked on
``root + (PICK, repetition, q)``, where ``root`` is the rare-event root of the seed
(:func:`rare_root`; purposes of :class:`sim.engines.draws.Stream`). So
the numbers are the same for any number of workers or any batching of repetitions, and a replica's
path can be replayed in the Mesa engine (:func:`replay_model`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from sim.core.numbers import json_ready
from sim.model.compile import CompiledScenario
from sim.analysis.jumps import Jumps, cap_from, has_jumps
from sim.analysis.splitting import DEFAULT_SCORE, SCORES, Repetition, pilot_hazards, run_repetitions, segment_draws
from sim.engines.draws import FixedDraws, Seed, Stream, child, describe_seed, make_root, n_uniforms
from sim.engines.model import EscalationModel
from sim.engines.parallel import chunks, default_workers, map_in_order
from sim.engines.run_values import at_values
from sim.core.errors import InputError
from sim.engines.resolve import Resolved, resolve
from sim.analysis.reach import Reach, certain, highest_reachable, reach  # noqa: F401 (rare.reach, rare.certain)
from sim.core.stats import mean_interval

DEFAULT_REPLICAS = 200
DEFAULT_REPETITIONS = 20
KILL_FRACTION = 0.5  # k = max(1, round(KILL_FRACTION * n)): the level is the k-th smallest score
METHOD = "adaptive multilevel splitting (generalised AMS, Brehier et al. 2016)"


# Targets --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """A rare target: its name (as given) and rung."""

    name: str
    rung: int


def parse_target(sc: CompiledScenario, text: str) -> Target:
    """``crisis``, ``war``, ``nuclear`` (also ``nuclear_use``, ``top``), a rung's name, or a rung number (0 is certain: every action is at least rung 0)."""
    word = str(text).strip().lower().replace("-", "_")
    K = sc.top_rung
    named = {"crisis": sc.crisis_rung, "war": sc.war_rung, "nuclear": K, "nuclear_use": K, "top": K}
    if word in named:
        return Target(word, named[word])
    names = [r.lower().replace("-", "_") for r in sc.rung_names]
    if word in names:
        return Target(word, names.index(word))
    try:
        rung = int(word)
    except ValueError:
        raise InputError(f"--rare {text}: not a target; use crisis, war, nuclear, a rung's name or a rung number "
                         f"0..{K}") from None
    if rung > K:
        raise InputError(f"--rare {text}: above the ladder, whose top rung is {K} ({sc.rung_names[K]})")
    if rung < 0:
        raise InputError(f"--rare {text}: rung {rung} is not a rung; use a rung number 0..{K}")
    return Target(str(rung), rung)


def unreachable(sc: CompiledScenario, target: Target) -> str | None:
    """One line saying why no run can ever reach the target (:func:`reach`), or None if one might."""
    r = reach(sc)
    if target.rung <= r.top or certain(sc, target.rung):
        return None
    return (f"--rare {target.name}: rung {target.rung} ({sc.rung_names[target.rung]}) cannot be reached in this "
            f"scenario, whose highest possible realised action is rung {r.top} ({sc.rung_names[r.top]}): "
            + "; ".join(r.why))


def widest(sc: CompiledScenario, resolved: Resolved | None) -> CompiledScenario:
    """The scenario to check reachability on: with per-run values (posterior draws), each key at its
    largest drawn value (rates, noise, in_kind and drill factors only open ways up as they grow)."""
    values = resolved.run_values if resolved is not None else None
    return at_values(sc, {k: float(np.max(v)) for k, v in values.items()}) if values else sc


def check_rare(sc: CompiledScenario, targets, replicas: int, repetitions: int) -> list[Target]:
    """Parse the targets and check the counts; one InputError line per problem, before anything runs:
    a target that is not a rung or above the ladder, a target the scenario cannot reach (:func:`reach`:
    every way to it switched off), fewer than 2 replicas, fewer than 1 repetition."""
    problems, parsed = [], []
    for text in targets:
        try:
            target = parse_target(sc, text)
        except InputError as exc:
            problems.extend(exc.problems)
            continue
        why = unreachable(sc, target)
        if why:
            problems.append(why)
        parsed.append(target)
    if not isinstance(replicas, (int, np.integer)) or replicas < 2:
        problems.append(f"--replicas {replicas}: AMS needs at least 2 replicas")
    if not isinstance(repetitions, (int, np.integer)) or repetitions < 1:
        problems.append(f"--repetitions {repetitions}: needs at least 1 repetition")
    if problems:
        raise InputError(problems)
    return parsed


# The estimate over repetitions -----------------------------------------------------------------------


@dataclass
class RareResult:
    """AMS repetitions for one target, or the reason none were needed (``decided``: 1, a certain target)."""

    scenario: CompiledScenario
    target: Target
    seed: Seed
    score: str
    replicas: int
    kill: int  # k: the level is the k-th smallest score
    repetitions: list[Repetition] = field(default_factory=list)
    decided: float | None = None  # 1 (certain: :func:`certain`): no repetitions run
    reason: str | None = None
    resolved: Resolved | None = None  # with per-repetition values: repetition j takes run j's (one draw each)
    jumps: Jumps | None = None  # the last jump into the target by conditional Monte Carlo, with its cap

    @property
    def estimates(self) -> np.ndarray:
        return np.array([r.estimate for r in self.repetitions])


def estimate_rare(sc: CompiledScenario, target: Target | str | int, *, replicas: int = DEFAULT_REPLICAS,
                  repetitions: int = DEFAULT_REPETITIONS, seed: Seed = 0, score: str = DEFAULT_SCORE,
                  kill_fraction: float = KILL_FRACTION, workers: int | None = None,
                  resolved: Resolved | None = None, jumps: bool = True) -> RareResult:
    """P(some realised action reaches the target rung within the horizon) by ``repetitions`` independent
    AMS repetitions of ``replicas`` replicas each, on up to ``workers`` processes (default: all cores).

    Repetition j draws only on streams fixed by (seed, j), so no choice of ``workers`` changes a
    number. With ``resolved`` (:func:`resolve_rare`: one posterior draw per repetition) repetition j
    runs at draw j's values: each repetition's estimate is unbiased for its draw's probability, so
    their mean is unbiased for the probability averaged over the posterior, and the t interval over
    the repetitions (independent draws) holds the parameters' uncertainty with the splitting's error. A
    target the scenario cannot reach is an InputError (:func:`check_rare`), and a certain one
    (:func:`certain`) gives 1 at once, with the reason. ``jumps`` (where an accident or
    a provocation can jump into the target) steps replicas as if that jump did not happen and counts
    its chance instead (:mod:`sim.analysis.jumps`), with the cap set by a pilot of ``replicas`` runs.
    """
    if not isinstance(target, Target):
        target = parse_target(sc, str(target))
    check_rare(widest(sc, resolved), [target.name], replicas, repetitions)
    if score not in SCORES:
        raise InputError(f"score {score!r}: use one of {', '.join(SCORES)}")
    k = min(replicas - 1, max(1, round(kill_fraction * replicas)))
    if resolved is not None and resolved.runs != repetitions:
        raise ValueError(f"resolved holds {resolved.runs} draws for {repetitions} repetitions")
    out = RareResult(sc, target, seed, score, replicas, k, resolved=resolved)
    why = certain(sc, target.rung)
    if why:
        out.decided, out.reason = 1.0, f"certain: {why}"
        return out
    if jumps and has_jumps(sc, target.rung):
        pilot = pilot_hazards(sc, target.rung, child(rare_root(seed), Stream.PILOT), replicas, score, Jumps(target.rung))
        out.jumps = Jumps(target.rung, cap_from(pilot, sc, target.rung))
    workers = min(workers or default_workers(), repetitions)
    per_task = -(-repetitions // workers)
    values = resolved.run_values if resolved is not None else None
    tasks = [(sc, target.rung, rare_root(seed), list(range(a, b)), replicas, k, score,
              {key: v[a:b] for key, v in values.items()} if values else None, out.jumps)
             for a, b in chunks(repetitions, per_task)]
    out.repetitions = [r for part in map_in_order(run_repetitions, tasks, workers) for r in part]
    if all(r.flat for r in out.repetitions):
        out.reason = (f"no way up: in {repetitions} x {replicas} runs no replica's score rose above its "
                      f"starting value, so none came nearer rung {target.rung}")
    elif all(r.extinct and r.estimate == 0 for r in out.repetitions):
        out.reason = ("every repetition died out (all replicas tied at some level): the probability is too small "
                      "for this many replicas to resolve; more replicas may")
    return out


def summarise_rare(res: RareResult, confidence: float = 0.95) -> dict:
    """The AMS estimate as JSON: mean of the repetitions with a Student t interval, its relative error,
    the work, what crude Monte Carlo would need for the same relative error, and how the paths at the
    target looked (shares weighted by the AMS weights)."""
    sc, T = res.scenario, res.scenario.horizon
    out = {"target": res.target.name, "rung": res.target.rung, "rung_name": sc.rung_names[res.target.rung],
           "method": METHOD, "parameters": _parameters_text(res), "score": res.score,
           "jumps": (f"conditional Monte Carlo of the last jump into rung {res.jumps.rung} (hazard cap "
                     f"{res.jumps.cap:.3g})" if res.jumps else None),
           "replicas": res.replicas, "killed_per_level": res.kill,
           "repetitions": len(res.repetitions), **describe_seed(rare_root(res.seed))}
    if res.decided is not None:
        return {**out, "estimate": res.decided, "ci_low": res.decided, "ci_high": res.decided,
                "std_error": 0.0, "relative_error": 0.0, "model_steps": 0, "reason": res.reason}
    est = res.estimates
    R = len(est)
    mean, low, high = mean_interval(est, confidence)
    se = float(est.std(ddof=1) / math.sqrt(R)) if R > 1 else float("nan")
    steps = int(sum(r.steps for r in res.repetitions))
    rel = se / mean if mean > 0 else float("nan")
    crude_runs = (1 - mean) / (mean * rel**2) if mean > 0 and rel > 0 else float("nan")
    out.update({
        "estimate": mean, "ci_low": low, "ci_high": high, "confidence": confidence,
        "interval": f"skewness-corrected Student t (Hall 1992) on the mean of {R} independent repetitions",
        "std_error": se, "relative_error": rel,
        "model_steps": steps, "model_steps_per_repetition": steps / R,
        "crude_mc_runs_equivalent": crude_runs, "crude_mc_steps_equivalent": crude_runs * T,
        "work_gain": crude_runs * T / steps if steps else float("nan"),
        "extinct_repetitions": int(sum(r.extinct for r in res.repetitions)),
        "iterations_mean": float(np.mean([r.iterations for r in res.repetitions])),
        "reason": res.reason,
        "paths": path_shares(res),
        "repetition_estimates": est.tolist(),
    })
    return json_ready(out)


def _parameters_text(res: RareResult) -> str:
    r = res.resolved
    if r is None or r.draws is None:
        return "at the scenario's point values" + (f"; {r.describe().split('; ', 1)[1]}" if r and r.overrides else "")
    fixed = f"; fixed by overrides: {', '.join(r.draws.fixed)}" if r.draws.fixed else ""
    return f"averaged over {r.draws.count} posterior draws of {r.draws.posterior.path}, one per repetition{fixed}"


def resolve_rare(resolved: Resolved, repetitions: int, seed: Seed = 0) -> Resolved:
    """What each AMS repetition takes: one draw of ``resolved``'s posterior per repetition (drawn on
    the rare-outcome stream of ``seed``), with the same overrides; point values without a posterior."""
    return resolve(resolved.scenario, overrides=resolved.overrides,
                   posterior=resolved.draws.posterior if resolved.draws else None, seed=rare_root(seed),
                   runs=repetitions, runs_per_draw=1)


def path_shares(res: RareResult) -> dict | None:
    """How the paths that reached the target looked, as shares weighted by the AMS weights (a ratio
    estimator over all repetitions): the first climb a misperception-driven escalation, any MDE before
    the target, no climb at all (the target came by a provocation or an accident), which actor climbed
    first (ties split evenly), and whose realised action reached the target."""
    ps = [r.paths for r in res.repetitions if r.reached]
    total = sum(p["weight"] for p in ps)
    if not total:
        return None
    ids = res.scenario.actor_ids

    def share(key):
        return float(min(1.0, sum(p[key] for p in ps) / total))

    def per_actor(key):
        v = np.minimum(1.0, sum(p[key] for p in ps) / total)
        return {ids[i]: float(v[i]) for i in range(len(ids))}

    return {"paths": int(sum(r.reached for r in res.repetitions)), "began_with_mde": share("began_with_mde"),
            "any_mde_before_target": share("any_mde"), "no_climb_before_target": share("no_climb"),
            "first_climber": per_actor("first_climber"), "reached_by": per_actor("reached_by")}


def rare_root(seed: Seed) -> np.random.SeedSequence:
    """The root of rare-event streams: ``(RARE,)`` for an int seed; ``root + (RARE,)`` below a given root."""
    if isinstance(seed, np.random.SeedSequence):
        return child(seed, Stream.RARE)
    return make_root(seed, Stream.RARE)



# Replay --------------------------------------------------------------------------------------------------


def replay_draws(sc: CompiledScenario, seed: Seed, repetition: int, genealogy, regime_uniforms):
    """The draws a replica saw, step by step, as :class:`sim.engines.draws.FixedDraws`: its segments' streams
    regenerated and joined at the steps where it was cloned."""
    root, T, N = rare_root(seed), sc.horizon, sc.n_actors
    U = np.zeros((T, n_uniforms(N)))
    E = np.zeros((T, N, N))
    for j, (start, iteration, replica) in enumerate(genealogy):
        stop = genealogy[j + 1][0] if j + 1 < len(genealogy) else T
        if stop > start:
            u, e, _ = segment_draws(root, repetition, iteration, replica, start, T, N, regime=iteration == 0)
            U[start:stop], E[start:stop] = u[:stop - start], e[:stop - start]
    return FixedDraws(U, E, N, regime=regime_uniforms)


def replay_model(res: RareResult, repetition: int, index: int):
    """A Mesa model fed the exact draws of the ``index``-th replica at the target of repetition
    ``repetition``: run it and it follows that replica's path to the target, step for step."""

    if res.jumps is not None:
        raise ValueError("paths stepped as if no jump into the target happened are not the model's own paths; "
                         "estimate with jumps=False to replay them")
    rep = next(r for r in res.repetitions if r.repetition == repetition)
    draws = replay_draws(res.scenario, res.seed, repetition, rep.genealogy[index], rep.regime_uniforms[index])
    own = res.resolved.run_values_of(repetition) if res.resolved is not None else None
    return EscalationModel(at_values(res.scenario, own or {}), draws=draws)
