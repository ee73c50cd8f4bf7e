"""What a scenario can reach at all, decided from the scenario alone: the bounds behind ``--rare``'s
unreachable and certain targets (docs/model.md section 12)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.model.compile import CompiledScenario
from sim.model.rules import get_rule

BUILTIN_RULES = ("graduated", "restraint", "tit_for_tat", "massive_retaliation")  # monotone in q: read at its bound
HOSTILE_UNBOUNDED = 1e9  # q when readings have noise: as large as it gets


@dataclass(frozen=True)
class Reach:
    """Upper bounds, per actor (N,), from the scenario alone: the highest posture its decisions can take,
    its highest intent, and its highest realised action; ``why`` says, per actor, what bounds them."""

    posture: np.ndarray
    intent: np.ndarray
    realised: np.ndarray
    why: list[str]

    @property
    def top(self) -> int:
        return int(self.realised.max())


def reach(sc: CompiledScenario) -> Reach:
    """What a scenario can reach at all: a fixed point of upper bounds over the step's mechanisms.

    Per actor i, starting from its baseline: its posture P_i is at most its ceiling, and above its
    baseline only if its rule can climb: with noise in its readings (or a rule not built in) we assume
    it can climb to its ceiling; with exact readings the hostile level it answers is at most
    max over engaged j of (R_j + bias_ij + drill ambiguity_j), 0 when engaged with nobody, and a built-in
    rule (monotone in q) is iterated from the baseline at that q. Its intent X_i = max(P_i, its drill
    rungs, its provocation rung when a provocation or contact hazard is on: rate > 0 and spiral cap > 0).
    Its realised action R_i = X_i + 1 when the accident rate at X_i is above 0 (a lower intent lifted
    by one rung stays at or below X_i), and at least the crisis rung when it fires at a contact line and an
    actor engaged with it answers in kind, or it answers one. Repeated until nothing rises (bounds only
    rise, up to the top rung). Deterrence never blocks for good (D_i > 0), so it bounds nothing.
    """
    N, K, C = sc.n_actors, sc.top_rung, sc.crisis_rung
    base, ceil = sc.baseline.astype(int), sc.ceiling.astype(int)
    acc = np.asarray(sc.accident, dtype=float)
    cap_on = np.asarray(sc.spiral_cap, dtype=float) > 0
    provokes = (np.asarray(sc.base_rate) > 0) & cap_on
    contacts = (np.asarray(sc.contact_rate) > 0) & cap_on
    drill = np.asarray(sc.drill_rung).max(axis=0, initial=-1) if np.size(sc.drill_rung) else np.full(N, -1)
    amb = np.asarray(sc.drill_ambiguity).max(axis=0, initial=0.0) if np.size(sc.drill_ambiguity) else np.zeros(N)
    engaged = np.asarray(sc.engaged, dtype=bool)
    answers = engaged & (np.asarray(sc.in_kind) > 0)[:, None]  # row j answers column i's contact incidents
    fire = np.zeros(N, dtype=bool)
    fire |= contacts & answers.any(axis=0)  # fires at a contact line and is answered
    fire |= (answers & contacts[None, :]).any(axis=1)  # answers one
    posture = base.copy()
    while True:
        intent = np.maximum.reduce([posture, drill, np.where(provokes | contacts, sc.provocation_rung, -1)])
        realised = np.minimum(intent + (acc[intent] > 0), K)
        realised = np.where(fire, np.maximum(realised, C), realised)
        new = np.array([_highest_posture(sc, i, base[i], ceil[i], _hostile_bound(sc, i, engaged, realised, amb))
                        for i in range(N)])
        if np.array_equal(new, posture):
            break
        posture = np.maximum(posture, new)
    why = [_why(sc, i, posture, intent, realised, provokes, contacts, fire, engaged) for i in range(N)]
    return Reach(posture, intent, realised, why)


def _hostile_bound(sc, i, engaged, realised, amb) -> float:
    """The highest hostile level actor i can read: unbounded with noise, 0 engaged with nobody, else the
    engaged actors' highest realised rung plus its bias and their drills' ambiguity."""
    if not engaged[i].any():
        return 0.0
    if np.asarray(sc.noise)[i] > 0:
        return HOSTILE_UNBOUNDED
    js = np.flatnonzero(engaged[i])
    return float(np.max(realised[js] + np.asarray(sc.bias)[i, js] + amb[js]))


def _highest_posture(sc, i, b, u, q) -> int:
    """The highest posture actor i's rule can take answering hostile levels up to q: its ceiling for a rule
    not built in, else the built-in rule iterated from its baseline at q (every uniform draw)."""
    if u <= b:
        return b
    if sc.rule_names[i] not in BUILTIN_RULES:
        return u
    func = get_rule(sc.rule_names[i]).function
    params = {k: np.full(3, float(np.asarray(v).max())) for k, v in sc.rule_params[i].items()}
    U = np.array([0.0, 0.5, 1.0 - 1e-12])
    top = b
    while True:
        rungs = [int(np.max(func(np.full(3, l), np.full(3, q), np.full(3, q), np.full(3, b), np.full(3, u), U,
                                 **params))) for l in range(b, top + 1)]
        new = max(top, *rungs)
        if new == top:
            return top
        top = new


def _why(sc, i, posture, intent, realised, provokes, contacts, fire, engaged) -> str:
    """What bounds actor i's realised action, in words."""
    name = sc.actor_ids[i]
    parts = [f"decides at most rung {posture[i]}" + (f" (its ceiling)" if posture[i] == sc.ceiling[i] else
                                                    " (its rule cannot climb further on what it can read)"
                                                    if engaged[i].any() else " (engaged with nobody)")]
    if provokes[i] or contacts[i]:
        parts.append(f"provokes at rung {int(sc.provocation_rung[i])}")
    else:
        parts.append("never provokes (rates 0)")
    parts.append(f"accident rate at rung {intent[i]} is {sc.accident[intent[i]]:g}")
    if fire[i]:
        parts.append(f"exchanges of fire reach rung {sc.crisis_rung}")
    return f"{name} {', '.join(parts)}: at most rung {realised[i]}"


def highest_reachable(sc: CompiledScenario) -> int:
    """The highest rung any actor's realised action can ever reach (:func:`reach`)."""
    return reach(sc).top


def certain(sc: CompiledScenario, rung: int) -> str | None:
    """Why every run reaches ``rung`` at once, or None: an actor's baseline at or above it (its intent,
    so its realised action, is at least its posture, never below its baseline), or a drill at or
    above it on a day within the horizon (the drill rung is part of the intent)."""
    if rung <= 0:
        return "every realised action is at least rung 0"
    for i in np.flatnonzero(sc.baseline >= rung):
        return f"{sc.actor_ids[i]} starts at or above rung {rung} (its baseline {int(sc.baseline[i])})"
    drill = np.asarray(sc.drill_rung)[:sc.horizon]
    days, actors = np.nonzero(drill >= rung)
    if days.size:
        t, i = int(days[0]), int(actors[0])
        return f"{sc.actor_ids[i]} drills at rung {int(drill[t, i])} on day {t}, within the horizon"
    return None
