"""The step of MODEL.md section 4 as array functions: the only copy of the model's logic.

Both engines call these functions. Arrays carry a leading run axis R. Functions about what an
observer sees or decides take an observer axis M (the phases pass all N actors; the MDE tag, one).
The Mesa engine calls the phases for a batch of one run, the ensemble engine for many: each element
is computed by the same operations in the same order either way, so the two engines give
bit-identical numbers from the same draws.

Shapes: R runs, N actors, M observers, P actor pairs, K the top rung.
"""

from __future__ import annotations

import functools
import weakref
from dataclasses import dataclass

import numpy as np
from scipy.special import gammaincinv

from .arrays import any_true, columns_with_any, max_last, sum_last
from .rules import get_rule, half_up


# 1. Intent --------------------------------------------------------------------------------------


def hazard_probability(rate, spiral, deterrence):
    """Daily chance of a provocation or contact incident, 1 - exp(-h), h = rate spiral D, the spiral
    min(exp(kappa th), cap) given (the phase computes it once for both hazards). All (R, M) or (M,)."""
    return -np.expm1(-(rate * spiral * deterrence))


def regime_multiplier(u, dispersion):
    """Each run's provocation regime: a multiplier on the base rate held for the whole run.

    Gamma-distributed with mean 1 and variance ``dispersion`` (the inverse CDF at the run's uniform
    ``u``), so a year's provocation count is a Poisson mixture, overdispersed as the data are;
    dispersion 0 gives exactly 1. u (R, N) uniforms; dispersion (N,), or (R, N) with per-run
    parameters. Returns (R, N).
    """
    u = np.asarray(u, dtype=float)
    dispersion = np.broadcast_to(dispersion, u.shape)
    out = np.ones(u.shape)
    some = dispersion > 0
    if some.any():
        shape = 1.0 / dispersion[some]
        out[some] = gammaincinv(shape, u[some]) / shape
    return out


def intend(level, drill_rung, provokes, provocation_rung):
    """Intended action x = max(level, drill rung if drilling, provocation rung if provoking). (R, M) int.

    ``provokes`` is true on a provocation day and on a contact incident (both are acts at the
    provocation rung)."""
    x = np.maximum(level, drill_rung)
    return np.where(provokes, np.maximum(x, provocation_rung), x)


# 2. Execution -----------------------------------------------------------------------------------


def execute(intended, u_accident, accident_by_rung, top_rung):
    """Realised action: one rung above intent with the rung's accident probability. Returns (a, accident)."""
    accident = u_accident < accident_by_rung[intended]
    return np.where(accident, np.minimum(intended + 1, top_rung), intended), accident


# 2b. Exchange of fire ---------------------------------------------------------------------------


def exchange_fire(realised, intended, contact, engaged, in_kind, u_in_kind, exchange_rung):
    """Same-day responses in kind: the exchanges of fire that contact incidents lead to.

    Actor j answers, the same day, a contact incident (fire at a contact line) of an actor it is
    engaged with, with probability in_kind_j (its declared doctrine); an answered incident is an
    exchange of fire, which puts the answering actor's intended and realised action and the
    incident's actor's realised action at ``exchange_rung`` (at least). realised, intended (R, N)
    int; contact (R, N) bool; engaged (N, N) bool (row j answers column i); in_kind (N,);
    u_in_kind (R, N). Returns realised, intended, answers (R, N) bool: who fired back.
    """
    if not any_true(contact):
        return realised, intended, np.zeros(contact.shape, dtype=bool)
    targeted = np.zeros(contact.shape, dtype=bool)  # j is engaged with an actor in contact today
    for i in columns_with_any(contact):
        targeted |= contact[:, i:i + 1] & engaged[:, i][None, :]
    answers = targeted & (u_in_kind < in_kind)
    answered = np.zeros(contact.shape, dtype=bool)
    for j in columns_with_any(answers):
        answered |= answers[:, j:j + 1] & engaged[j, :][None, :]
    answered &= contact
    return (np.where(answers | answered, np.maximum(realised, exchange_rung), realised),
            np.where(answers, np.maximum(intended, exchange_rung), intended), answers)


# 3. Perception ----------------------------------------------------------------------------------


def hotline_open(observer_level, level, lever_rung):
    """Whether each observer-observed hotline is in use: either end at rung >= lever_rung. (R, M, N)."""
    return (observer_level[:, :, None] >= lever_rung) | (level[:, None, :] >= lever_rung)


def perceive(realised, bias, ambiguity, noise, hotline_eta, hotline_on, normals):
    """Perceived actions p_ij = a_j + bias_ij + amb_j (1 - tau_j) + s_ij e_ij, real and unclipped.

    realised (R, N) (int rungs, or the same as floats); bias, hotline_eta (M, N); ambiguity (N,) or
    (R, N) [already times (1 - transparency)]; noise (M,) or (R, M); hotline_on (R, M, N) bool, or
    None when no hotline exists; normals (R, M, N). Returns (R, M, N).
    """
    s = noise[..., None] * (1.0 - hotline_eta * hotline_on) if hotline_on is not None else noise[..., None]
    p = s * normals
    p += bias + ambiguity[..., None, :]  # (M, N), or (R, M, N) per run: one pass over the big array
    p += realised[:, None, :]
    return p


def perceived_rung(p, top_rung):
    """The rung an observer reads: clip(round(p), 0, K), with round half up, as floats holding whole
    numbers (compared with int rungs exactly, without a conversion pass over the readings)."""
    rung = np.asarray(half_up(p))  # an array even for one reading, to clip in place
    np.maximum(rung, 0, out=rung)
    np.minimum(rung, top_rung, out=rung)
    return rung


def misperceived(perceived, realised, observer_actors, top_rung):
    """Whether observer i misreads j's action today (never itself). (R, M, N) bool.

    A misperception is clip(round(p_ij), 0, K) != a_j. observer_actors (M,) are the actor indices
    of the M observer rows, so the diagonal (i reading itself) is found in any row slice.
    """
    wrong = perceived_rung(perceived, top_rung) != realised[:, None, :]
    return wrong & (observer_actors[:, None] != np.arange(realised.shape[1])[None, :])


# 4. Threat --------------------------------------------------------------------------------------


def update_threat(threat, perceived, weight, drill_scale, baseline, decay, grievance, relief):
    """th(t+1) = decay th + (1 - decay)(g + sum_j A*_ij w_ij scale_j max(p_ij - b_j, 0)), then summit relief.

    threat (R, M); perceived (R, M, N); weight = A* w (M, N); drill_scale (N,) or (R, N); baseline (N,);
    decay, grievance (M,) or (R, M); relief (M,). Returns (R, M).
    """
    above = perceived - baseline
    np.maximum(above, 0.0, out=above)
    above *= weight * drill_scale[..., None, :]
    hostility = sum_last(above)
    return (decay * threat + (1.0 - decay) * (grievance + hostility)) * (1.0 - relief)


# 5. Decision ------------------------------------------------------------------------------------


def hostile_level(perceived, engaged):
    """q_i = max of p_ij over the actors i is engaged with, or 0 when it is engaged with nobody.

    perceived (R, M, N) float, or (R, 1, N) for readings shared by all observers; engaged (M, N)
    bool. Returns (R, M) float.
    """
    columns, answers_someone, everyone_answers = _engagement(engaged.tobytes(), engaged.shape, engaged.dtype.str)
    if not columns:
        return np.zeros((perceived.shape[0], engaged.shape[0]))
    seen = np.where(engaged, perceived, -np.inf)  # (R, M, N): what each observer answers, -inf elsewhere
    q = seen[..., columns[0]].copy()
    for j in columns[1:]:  # columns nobody answers can never be the max
        np.maximum(q, seen[..., j], out=q)
    return q if everyone_answers else np.where(answers_someone, q, 0.0)


@functools.lru_cache(maxsize=256)
def _engagement(data: bytes, shape: tuple, dtype: str) -> tuple:
    """What :func:`hostile_level` needs of an engagement matrix (M, N), given as its bytes, shape and
    dtype: the columns someone answers, in order; which rows answer someone (M,); whether all do.

    A scenario constant, so it is worked out once rather than by three small reductions every call.
    """
    engaged = np.frombuffer(data, dtype=dtype).reshape(shape)
    answers_someone = engaged.any(axis=-1)
    answers_someone.flags.writeable = False
    return tuple(np.flatnonzero(engaged.any(axis=0)).tolist()), answers_someone, bool(answers_someone.all())


def hostile_source(perceived, engaged, runs, rows):
    """For the given (run, observer row) cells, the engaged j whose perceived action set q.

    The first j of equal maxima. perceived (R, M, N); engaged (M, N); runs, rows (C,) int indices
    into the run axis and the observer-row axis. Returns (C,) int actor indices. Used only where
    an MDE needs attributing, so it is cheap.
    """
    seen = np.where(engaged[rows], perceived[runs, rows], -np.inf)
    return seen.argmax(axis=-1)


@functools.lru_cache(maxsize=64)
def _actor_indices(n: int) -> np.ndarray:
    """np.arange(n), made once: the observer rows of a phase that computes every actor's readings."""
    return np.arange(n)


def propose(rule_name, params, level, q, threat, baseline, ceiling, u_rule):
    """The rungs a rule picks, before deterrence: for one actor (arrays (R,)) or for the G actors that
    share it (arrays (R, G); baseline, ceiling and parameters as (G,) columns)."""
    return np.asarray(get_rule(rule_name).function(level, q, threat, baseline, ceiling, u_rule, **params))


def deter(proposed, level, u_deter, deterrence, crisis_rung):
    """Deterrence on the proposed rungs: an up-step to a rung >= crisis_rung goes ahead only if the
    deterrence draw is below D_i, otherwise the actor stops at max(level, crisis_rung - 1).

    Elementwise, so one call serves one actor's (R,) arrays or M actors' (R, M) arrays at once
    (deterrence D_i then (M,) or (R, M)). Returns int rungs.
    """
    blocked = (proposed > level) & (proposed >= crisis_rung) & (u_deter >= deterrence)
    return np.where(blocked, np.maximum(level, crisis_rung - 1), proposed).astype(np.int64)


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
    for p in columns_with_any(success):
        lowered[:, i[p]] |= success[:, p]
        lowered[:, j[p]] |= success[:, p]
    return np.where(lowered, np.maximum(decided - 1, baseline), decided), success


# Phases ------------------------------------------------------------------------------------------
# The formulas above applied to a compiled scenario, for all N actors of R runs: arrays of state
# (level, threat, intended, realised) are (R, N). Both engines call these (the Mesa engine with
# R = 1), so even the indexing into the scenario exists once.


def intend_phase(sc, t, level, threat, draws, regime):
    """Phase 1: intended actions, provocations and contact incidents. (R, N) int, bool, bool.

    regime (R, N) is each run's multiplier on the base rates (:func:`regime_multiplier`); it scales
    the provocation and the contact hazard alike (a hostile year has more of both).
    """
    spiral = np.exp(sc.kappa * threat)  # the threat spiral, shared by both hazards
    np.minimum(spiral, sc.spiral_cap, out=spiral)  # saturates at the cap (inf, the default: none)
    provokes = draws.provocation < hazard_probability(sc.base_rate * regime, spiral, sc.deterrence)
    contact = draws.contact < hazard_probability(sc.contact_rate * regime, spiral, sc.deterrence)
    x = intend(level, sc.drill_rung[t], provokes | contact, sc.provocation_rung)
    return x, provokes, contact


def execute_phase(sc, intended, draws):
    """Phase 2: realised actions and accidents. intended (R, N); returns (R, N) each."""
    return execute(intended, draws.accident, sc.accident, sc.top_rung)


def exchange_phase(sc, realised, intended, contact, draws):
    """Phase 2b for all actors: exchanges of fire. realised, intended (R, N) int; contact (R, N) bool.
    Returns realised, intended, answers (R, N)."""
    if not any_true(sc.in_kind):  # nobody answers in kind: nothing to compute
        return realised, intended, np.zeros(contact.shape, dtype=bool)
    return exchange_fire(realised, intended, contact, sc.engaged, sc.in_kind, draws.in_kind, sc.crisis_rung)


def perceive_phase(sc, t, level, realised, draws):
    """Phase 3: every observer's perceived actions (R, N, N) and misperceptions (R, N, N)."""
    if not (any_true(sc.noise) or any_true(sc.bias) or any_true(sc.drill_ambiguity[t])):
        # Perfect perception (a twin): p = a exactly, as the formula gives (every added term is +-0),
        # without drawing on the (R, N, N) arithmetic.
        p = np.repeat(realised[:, None, :].astype(float), sc.n_actors, axis=1)
        return p, np.zeros(p.shape, dtype=bool)
    # Without hotlines the noise factor is exactly 1: skip the (R, N, N) mask (same numbers, less work).
    hot = hotline_open(level, level, sc.lever_rung) if any_true(sc.hotline_eta) else None
    # the same numbers as floats: converted once, not inside each pass over the (R, N, N) readings
    a = realised.astype(float)
    p = perceive(a, sc.bias, sc.drill_ambiguity[t], sc.noise, sc.hotline_eta, hot, draws.normals)
    return p, misperceived(p, a, _actor_indices(sc.n_actors), sc.top_rung)


def threat_phase(sc, t, threat, perceived):
    """Phase 4: threat after today's update and summit relief. (R, N)."""
    return update_threat(threat, perceived, sc.weight, sc.drill_scale[t], sc.baseline, sc.decay, sc.grievance,
                         sc.summit_relief[t])


def decide_phase(sc, level, intended, perceived, next_threat, draws, tag=True):
    """Phases 5-6: decisions, MDE tags and what drove them.

    level, intended (R, N); perceived (R, N, N); next_threat (R, N). Returns decided (R, N) int,
    mde (R, N) bool, source (R, N) int (where mde: the actor whose perceived action set q; else -1),
    q (R, N) float.

    The counterfactual decision (the same rules and draws on the others' intended actions) is
    computed only for the runs where some actor climbed, since an MDE needs r > l; rules are
    elementwise, so those runs get exactly the values the full array would. ``tag=False`` skips
    phase 6 (mde all false, source -1): a perfect-perception twin is run for its crises only, and
    its decisions do not depend on the tag.
    """
    engaged = sc.engaged
    q = hostile_level(perceived, engaged)
    decided = decide_all(sc, level, q, next_threat, draws.rule, draws.deterrence)
    mde = np.zeros(q.shape, dtype=bool)
    climbed_today = decided > level
    if tag and any_true(climbed_today):
        runs = np.flatnonzero(max_last(climbed_today))
        q_intended = hostile_level(intended[runs, None, :].astype(float), engaged)  # what all intended, as read
        counterfactual = decide_all(sc, level[runs], q_intended, next_threat[runs], draws.rule[runs],
                                    draws.deterrence[runs], runs)
        mde[runs] = misperception_driven(level[runs], decided[runs], counterfactual)
    source = np.full(q.shape, -1, dtype=np.int64)
    if any_true(mde):
        runs, observers = np.nonzero(mde)
        source[runs, observers] = hostile_source(perceived, engaged, runs, observers)
    return decided, mde, source, q


def decide_all(sc, level, q, threat, u_rule, u_deter, runs=None):
    """Every actor's next rung: its rule, then deterrence on up-steps into crisis (:func:`deter`).

    level (C, N) int; q, threat, u_rule, u_deter (C, N). Actors that share a rule are decided by one
    call of it (:func:`rule_groups`); rules are elementwise, so each actor's rungs are exactly what
    a call of its own would give. ``runs`` (C,): the rows are these runs of the batch, whose values
    of per-run parameters apply (None: the rows are the batch). Returns (C, N) int.
    """
    groups = rule_groups(sc)
    proposed = [propose(g.name, {k: _at_runs(v, runs) for k, v in g.params.items()}, level[:, g.actors],
                        q[:, g.actors], threat[:, g.actors], g.baseline, g.ceiling, u_rule[:, g.actors])
                for g in groups]
    if len(groups) == 1 and proposed[0].shape == q.shape:
        r = proposed[0]  # one rule for every actor: its answer is the whole array
    else:
        r = np.empty(q.shape, dtype=np.result_type(np.int64, *proposed))  # wide enough for any rule's answer
        for g, rungs in zip(groups, proposed):
            r[:, g.actors] = rungs
    return deter(r, level, u_deter, _at_runs(sc.deterrence, runs), sc.crisis_rung)


def _at_runs(value, runs):
    """A per-actor value for the given runs: (N,) or (G,) as it is; per-run values (R, N) or (R, G) at
    those runs (all of them when ``runs`` is None)."""
    return value[runs] if runs is not None and np.ndim(value) == 2 else value


@dataclass(frozen=True, eq=False)
class RuleGroup:
    """Actors that share a rule, decided by one call of it.

    ``actors`` are their indices (a slice when they are consecutive, so that taking their columns
    is a view, not a copy); ``baseline``, ``ceiling`` (G,) and ``params`` (name -> (G,), or (R, G)
    with per-run parameters) are theirs, column by column.
    """

    name: str
    actors: slice | np.ndarray
    baseline: np.ndarray
    ceiling: np.ndarray
    params: dict


_RULE_GROUPS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def rule_groups(sc) -> tuple[RuleGroup, ...]:
    """The scenario's actors grouped by rule, in order of first appearance (worked out once per
    compiled scenario: a per-run or perfect-perception variant is a new object, with its own)."""
    try:
        return _RULE_GROUPS[sc]
    except KeyError:
        pass
    groups = []
    for name in dict.fromkeys(sc.rule_names):
        members = [i for i, n in enumerate(sc.rule_names) if n == name]
        first, last = members[0], members[-1]
        actors = slice(first, last + 1) if last - first + 1 == len(members) else np.array(members)
        params = {k: _columns([sc.rule_params[i][k] for i in members]) for k in sc.rule_params[first]}
        groups.append(RuleGroup(name, actors, sc.baseline[members], sc.ceiling[members], params))
    _RULE_GROUPS[sc] = groups = tuple(groups)
    return groups


def _columns(values: list):
    """One rule parameter of a group's actors as columns: (G,) numbers, or (R, G) when any actor's
    value is per run ((R,) values)."""
    if all(np.ndim(v) == 0 for v in values):
        return np.array(values)
    runs = next(np.shape(v)[0] for v in values if np.ndim(v))
    return np.stack([np.broadcast_to(v, (runs,)) for v in values], axis=1)


def backchannel_phase(sc, t, decided, level, draws):
    """Phase 7 for all actors: next levels after backchannels. decided, level (R, N) -> (R, N)."""
    if not any_true(sc.backchannel[t]):  # no channel can succeed today: nothing to compute
        return decided
    return apply_backchannels(decided, level, sc.pairs, sc.backchannel[t], draws.backchannel, sc.baseline,
                              sc.lever_rung)[0]
