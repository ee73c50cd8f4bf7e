"""Conditional Monte Carlo of the last jump into a rare target, for adaptive multilevel splitting.

An actor's realised action jumps into the target rung by a Bernoulli event whose chance the kernel
gives in closed form from the state before the step and the step's other draws: a provocation
(its daily chance, :func:`sim.model.kernel.intend_chances`) lifting the intent, and an accident
(:func:`sim.model.kernel.execution_reach`) lifting the action one rung. Instead of waiting for
that draw, a replica is stepped *as if it had not jumped* (its provocation and accident uniforms
redrawn from their law given no jump) and carries the chance it had, as an accumulated hazard
Lambda = -sum_t log(1 - q_t). Its observable is f = 1 - exp(-Lambda) = 1 - prod_t (1 - q_t), or 1 when
it reaches the target by other means (an intent at the target, an exchange of fire); E[f] is the
probability (docs/model.md section 12). Lambda is the continuous part of the score
(:func:`jump_score`), so replicas waiting for an accident no longer tie.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.engines.draws import StepDraws
from sim.engines.run_values import select_rows
from sim.model import kernel

SPAN = 1e3  # the hazard part of the score spans Lambda from cap / SPAN to cap on a log scale
FALLBACK_DAYS = 10.0  # with no hazard in the pilot: the cap is this many days of the largest jump chance
PILOT_LEVELS = 10  # levels of the pilot that sets the cap: its replicas are then in the top 1/1000 or so
MARK_WEIGHT = 2e-3  # x Phi(mark) in the score: twice the progress score's time term, so idle clones differ


@dataclass(frozen=True)
class Jumps:
    """Conditional Monte Carlo of jumps into rung ``rung``; ``cap``: the accumulated hazard at which a
    replica's score reaches the target level (inf: none yet, as in the pilot)."""

    rung: int
    cap: float = np.inf


def has_jumps(sc, rung: int) -> bool:
    """Whether any actor can jump into ``rung`` by an accident (from one rung below it) or by a
    provocation at or above it: else conditioning changes nothing."""
    rates = np.asarray(sc.base_rate) + np.asarray(sc.contact_rate)
    provokes = np.any((np.asarray(sc.provocation_rung) >= rung) & (np.reshape(rates, (-1, sc.n_actors)) > 0))
    return bool(sc.accident[rung - 1] > 0 or provokes)


def condition_step(sc, t: int, level, threat, draws: StepDraws, regime, rung: int):
    """Step t's draws conditioned on no actor jumping into ``rung``, and each actor's hazard of that jump.

    Given the state and the step's other draws, actor i's intent is x0 without a provocation and x1
    with one (chance p), and execution reaches the rung with chance c(x) (:func:`kernel.execution_reach`):
    q_i = p c(x1) + (1 - p) c(x0). Given no jump, a provocation happens with chance
    p (1 - c(x1)) / (1 - q_i) and an accident that would reach the rung does not: the uniforms are
    mapped onto those laws (a uniform below the new chance to one below p, the rest above p; an
    accident uniform into [c, 1)). An actor whose intent is at the rung without a provocation
    (c(x0) = 1) reaches it whatever happens: a hit counted as such, with no hazard.
    Returns the conditioned draws and -log(1 - q_i), (R, N).

    Only rows where some actor could jump are computed (:func:`could_jump`); elsewhere every q_i is 0,
    the draws are the step's own and the hazard 0, which is what the computation gives there too.
    """
    some = could_jump(sc, t, level, rung)
    if not some.any():
        return draws, np.zeros(level.shape)
    if some.all():
        return _condition_rows(sc, t, level, threat, draws, regime, rung)
    idx = np.flatnonzero(some)
    part, hazard_part = _condition_rows(select_rows(sc, idx), t, level[idx], threat[idx],
                                        StepDraws(draws.uniforms[idx], draws.normals[idx], draws.n_actors),
                                        regime[idx], rung)
    uniforms = draws.uniforms.copy()
    uniforms[idx] = part.uniforms
    hazard = np.zeros(level.shape)
    hazard[idx] = hazard_part
    return StepDraws(uniforms, draws.normals, draws.n_actors), hazard


def could_jump(sc, t: int, level, rung: int):
    """Rows (R,) where some actor's intent could reach ``rung``, or its rung below where an accident
    lifts it: the intent is at most max(posture, drill rung, provocation rung)."""
    most = np.maximum(np.maximum(level, sc.drill_rung[t]), sc.provocation_rung)
    reach = np.where(most >= rung - 1, most + (sc.accident[np.minimum(most, sc.top_rung)] > 0), most)
    return (reach >= rung).any(axis=1)


def _condition_rows(sc, t: int, level, threat, draws: StepDraws, regime, rung: int):
    """:func:`condition_step` on rows where a jump may happen."""
    N, drill, prov_rung = sc.n_actors, sc.drill_rung[t], sc.provocation_rung
    chances = kernel.intend_chances(sc, threat, regime, t)
    p = chances[0]
    x0 = kernel.intend(level, drill, chances, np.ones_like(p), draws.contact, prov_rung)[0]
    x1 = kernel.intend(level, drill, chances, np.zeros_like(p), draws.contact, prov_rung)[0]
    c0 = kernel.execution_reach(x0, sc.accident, sc.top_rung, rung)
    c1 = kernel.execution_reach(x1, sc.accident, sc.top_rung, rung)
    decides = x1 != x0  # the provocation draw picks the intent
    q = np.where(decides, p * c1 + (1 - p) * c0, c0)
    jump = (q > 0) & (c0 < 1)
    hazard = np.where(jump, -np.log1p(-np.where(jump, q, 0.0)), 0.0)
    out = StepDraws(draws.uniforms.copy(), draws.normals, N)
    move = jump & decides
    if move.any():
        pp, qq, cc, u = p[move], q[move], c1[move], draws.provocation[move]
        given = pp * (1 - cc) / (1 - qq)  # P(provocation | no jump)
        with np.errstate(divide="ignore", invalid="ignore"):
            below = np.minimum(u * (pp / given), np.nextafter(pp, 0))
            above = np.maximum(pp + (1 - pp) * (u - given) / (1 - given), pp)
        out.provocation[move] = np.where(u < given, below, above)
    x = kernel.intend(level, drill, chances, out.provocation, draws.contact, prov_rung)[0]
    c = kernel.execution_reach(x, sc.accident, sc.top_rung, rung)
    lift = jump & (c > 0) & (c < 1)
    if lift.any():
        out.accident[lift] = c[lift] + (1 - c[lift]) * draws.accident[lift]
    return out, hazard


def jump_score(xi, hazard, target: int, cap: float):
    """A base score xi (< target) with the accumulated hazard (R,) as its continuous part:
    xi (target - 1) / target + log(1 + Lambda / L0) / log(1 + SPAN), L0 = cap / SPAN, below the target
    while Lambda < cap, and the target itself once Lambda >= cap."""
    below = np.nextafter(float(target), -np.inf)
    if not np.isfinite(cap):
        return xi
    part = np.log1p(hazard * (SPAN / cap)) / np.log1p(SPAN)
    out = np.minimum(xi * ((target - 1) / target) + part, below)
    return np.where(hazard >= cap, float(target), out)


def observable(hazard, hit):
    """f per replica: 1 at a hit, else 1 - exp(-Lambda), the chance it jumped on the way."""
    return np.where(hit, 1.0, -np.expm1(-hazard))


def cap_from(pilot_hazards, sc, rung: int) -> float:
    """The cap: the largest hazard of the pilot's replicas (after its levels of splitting, a level that
    paths reach, above the typical one), or, when none has any, FALLBACK_DAYS x the largest one-day
    jump chance an actor standing below the rung has by accident (or 1 where a provocation lands at the
    rung)."""
    top = float(np.max(pilot_hazards, initial=0.0))
    if top > 0:
        return top
    unit = float(sc.accident[rung - 1])
    if np.any(np.asarray(sc.provocation_rung) >= rung):
        unit = 1.0
    return -np.log1p(-min(unit, 0.5)) * FALLBACK_DAYS if unit > 0 else np.inf


def carried_end(hazard):
    """For a path carried by its hazard, (T, N) each actor's after each step: the step by which it had half
    of its hazard (its statistics count up to there), and the actors' shares of it."""
    total = hazard.sum(axis=1)
    return int(np.argmax(total >= total[-1] / 2)) + 1, hazard[-1] / total[-1]
