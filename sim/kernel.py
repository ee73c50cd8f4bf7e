"""The step of MODEL.md section 4 as array functions: the only copy of the model's logic.

Both engines call these functions. Arrays carry a leading run axis R. Functions about what an
observer sees or decides take an observer axis M: the ensemble engine passes all N actors (M = N),
a Mesa agent passes its own row (M = 1). Each element is computed by the same operations in the
same order either way, so the two engines give bit-identical numbers from the same draws.

Shapes: R runs, N actors, M observers, P actor pairs, K the top rung.
"""

from __future__ import annotations

import numpy as np

from .rules import get_rule, round_half_up


# 1. Intent --------------------------------------------------------------------------------------


def provocation_probability(threat, base_rate, kappa, deterrence):
    """Daily chance of a provocation, 1 - exp(-h), h = base_rate exp(kappa th) D. All (R, M) or (M,)."""
    return -np.expm1(-(base_rate * np.exp(kappa * threat) * deterrence))


def intend(level, drill_rung, provokes, provocation_rung):
    """Intended action x = max(level, drill rung if drilling, provocation rung if provoking). (R, M) int."""
    x = np.maximum(level, drill_rung)
    return np.where(provokes, np.maximum(x, provocation_rung), x)


# 2. Execution -----------------------------------------------------------------------------------


def execute(intended, u_accident, accident_by_rung, top_rung):
    """Realised action: one rung above intent with the rung's accident probability. Returns (a, accident)."""
    accident = u_accident < accident_by_rung[intended]
    return np.where(accident, np.minimum(intended + 1, top_rung), intended), accident


# 3. Perception ----------------------------------------------------------------------------------


def hotline_open(observer_level, level, lever_rung):
    """Whether each observer-observed hotline is in use: either end at rung >= lever_rung. (R, M, N)."""
    return (observer_level[:, :, None] >= lever_rung) | (level[:, None, :] >= lever_rung)


def perceive(realised, bias, ambiguity, noise, hotline_eta, hotline_on, normals):
    """Perceived actions p_ij = a_j + bias_ij + amb_j (1 - tau_j) + s_ij e_ij, real and unclipped.

    realised (R, N); bias, hotline_eta (M, N); ambiguity (N,) [already times (1 - transparency)];
    noise (M,); hotline_on (R, M, N) bool; normals (R, M, N). Returns (R, M, N).
    """
    s = noise[:, None] * (1.0 - hotline_eta * hotline_on)
    return realised[:, None, :] + bias + ambiguity + s * normals


def perceived_rung(p, top_rung):
    """The rung an observer reads: clip(round(p), 0, K), with round half up."""
    return np.clip(round_half_up(p), 0, top_rung)


def misperceived(perceived, realised, observers, top_rung):
    """Whether observer i misreads j's action today (never itself). (R, M, N) bool.

    A misperception is clip(round(p_ij), 0, K) != a_j. observers (M,) are the observers' actor
    indices, so the diagonal is found in any row slice.
    """
    wrong = perceived_rung(perceived, top_rung) != realised[:, None, :]
    return wrong & (observers[:, None] != np.arange(realised.shape[1])[None, :])


# 4. Threat --------------------------------------------------------------------------------------


def update_threat(threat, perceived, weight, drill_scale, baseline, decay, grievance, relief):
    """th(t+1) = decay th + (1 - decay)(g + sum_j A*_ij w_ij scale_j max(p_ij - b_j, 0)), then summit relief.

    threat (R, M); perceived (R, M, N); weight = A* w (M, N); drill_scale, baseline (N,);
    decay, grievance, relief (M,). Returns (R, M).
    """
    hostility = ((weight * drill_scale) * np.maximum(perceived - baseline, 0.0)).sum(axis=-1)
    return (decay * threat + (1.0 - decay) * (grievance + hostility)) * (1.0 - relief)


# 5. Decision ------------------------------------------------------------------------------------


def hostile_level(perceived, engaged):
    """q_i = max of p_ij over the actors i is engaged with, or 0; and the j that gave it.

    perceived (R, M, N) float; engaged (M, N) bool. Returns q (R, M) float, source (R, M) int
    (source is meaningless where the observer is engaged with nobody).
    """
    masked = np.where(engaged, perceived, -np.inf)
    return np.where(engaged.any(axis=-1), masked.max(axis=-1), 0.0), masked.argmax(axis=-1)


def decide(rule_name, params, level, q, threat, baseline, ceiling, u_rule, u_deter, deterrence, crisis_rung):
    """One actor's next rung: its rule, then deterrence on up-steps into crisis. All arrays (R,).

    An up-step to a rung >= crisis_rung goes ahead only if the deterrence draw is below D_i;
    otherwise the actor stops at max(level, crisis_rung - 1).
    """
    r = np.asarray(get_rule(rule_name).function(level, q, threat, baseline, ceiling, u_rule, **params))
    blocked = (r > level) & (r >= crisis_rung) & (u_deter >= deterrence)
    return np.where(blocked, np.maximum(level, crisis_rung - 1), r).astype(np.int64)


def misperception_driven(level, decided, counterfactual):
    """Step tag: the actor climbed, and higher than it would have on intended actions. (R,) bool."""
    return (decided > level) & (decided > counterfactual)


# 7. Levers --------------------------------------------------------------------------------------


def apply_backchannels(decided, level, pairs, success_prob, u_backchannel, baseline, lever_rung):
    """Backchannel de-escalation after decisions: a success on an active channel lowers both ends.

    A channel is active while either end's current level is >= lever_rung; a success lowers each
    end's next level by one rung, not below baseline, once per step however many channels succeed.
    decided, level (R, N); pairs (P, 2); success_prob (P,); u_backchannel (R, P). Returns (R, N), (R, P).
    """
    if len(pairs) == 0:
        return decided, np.zeros((len(decided), 0), dtype=bool)
    i, j = pairs[:, 0], pairs[:, 1]
    active = (level[:, i] >= lever_rung) | (level[:, j] >= lever_rung)
    success = active & (u_backchannel < success_prob)
    lowered = np.zeros(decided.shape, dtype=bool)
    for p in np.flatnonzero(success.any(axis=0)):
        lowered[:, i[p]] |= success[:, p]
        lowered[:, j[p]] |= success[:, p]
    return np.where(lowered, np.maximum(decided - 1, baseline), decided), success
