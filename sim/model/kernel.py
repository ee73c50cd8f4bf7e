"""The step of MODEL.md section 4 as array functions: the only copy of the model's logic.

Both engines call these functions. Arrays carry a leading run axis R. Functions about what an
observer decides take an observer axis M (the phases pass all N actors as observers). The
Mesa engine calls the phases for a batch of one run, the ensemble engine for many: each element is
computed by the same operations in the same order either way, so the two engines give
bit-identical numbers from the same draws. The passes over the runs are compiled loops
(:mod:`sim.model.loops`) and the rules run compiled where Numba compiles them
(:func:`sim.model.rules.engine_function`); the transcendental functions stay NumPy's.

Shapes: R runs, N actors, M observers, P actor pairs, K the top rung.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field

import numpy as np

from sim.model import loops
from sim.model.regime import regime_multiplier, regime_score, run_regimes  # noqa: F401 (the kernel's API)
from sim.model.arrays import any_true, columns_with_any
from sim.model.exercise import exercise_phase, no_exercise
from sim.model.rules import engine_function


# 1. Intent --------------------------------------------------------------------------------------


def hazard_probabilities(rate_provocation, rate_contact, regime, growth, cap, deterrence, exercise=None):
    """Daily chances 1 - exp(-h), h = rate regime spiral D X, of a provocation ([0]) and of a contact
    incident ([1]): (2, R, N), with the spiral min(exp(kappa th), cap) shared by both. Rates, cap and
    D (N,) or (R, N); regime and growth = exp(kappa th) (R, N); exercise X, the drills' deterrent
    factor (:func:`sim.model.exercise.exercise_factor`), (N,) or (R, N), or None for 1 (exactly today's hazard)."""
    out = np.empty((2, *growth.shape))
    x = no_exercise(growth.shape[1]) if exercise is None else _rows(exercise)
    loops.hazard_exponents_into(_rows(rate_provocation), _rows(rate_contact), regime, growth, _rows(cap),
                                _rows(deterrence), x, out)
    np.expm1(out, out=out)  # NumPy's expm1: the engines' numbers are made of its last bits
    return np.negative(out, out=out)


def intend(level, drill_rung, chances, u_provocation, u_contact, provocation_rung):
    """Intended action x = max(level, drill rung if drilling, provocation rung on a provocation or a
    contact incident, both acts at that rung); the events happen when their uniform is below their
    chance (:func:`hazard_probabilities`). Returns x (R, N) int, provoked, contact (R, N) bool."""
    x = np.empty(level.shape, dtype=np.int64)
    provoked, contact = np.empty(level.shape, dtype=bool), np.empty(level.shape, dtype=bool)
    loops.intend_into(level, drill_rung, provocation_rung, chances, u_provocation, u_contact, x, provoked, contact)
    return x, provoked, contact


# 2. Execution -----------------------------------------------------------------------------------


def execute(intended, u_accident, accident_by_rung, top_rung):
    """Realised action: one rung above intent with the rung's accident probability. Returns (a, accident).
    Its law in closed form is :func:`execution_reach`."""
    realised, accident = np.empty(intended.shape, dtype=np.int64), np.empty(intended.shape, dtype=bool)
    loops.execute_into(intended, u_accident, accident_by_rung, top_rung, realised, accident)
    return realised, accident


def execution_reach(intended, accident_by_rung, top_rung, rung):
    """P(the realised action of :func:`execute` is >= ``rung``) given the intended action, in closed form:
    the accident's chance where one rung up (not above the top) reaches ``rung`` from below it, 1 where
    the intent is there already, else 0. intended (R, N) int; returns (R, N) float. The chance a
    conditional Monte Carlo of a jump into ``rung`` accumulates (:mod:`sim.analysis.jumps`)."""
    chance = accident_by_rung[intended]
    lifted = np.minimum(intended + 1, top_rung) >= rung
    return np.where(intended >= rung, 1.0, np.where(lifted, chance, 0.0))


# 2b. Exchange of fire ---------------------------------------------------------------------------


def exchange_fire(realised, intended, contact, engaged, in_kind, u_in_kind, exchange_rung):
    """Same-day responses in kind: the exchanges of fire that contact incidents lead to.

    Actor j answers, the same day, a contact incident (fire at a contact line) of an actor it is
    engaged with, with probability in_kind_j (its declared doctrine); an answered incident is an
    exchange of fire, which puts the answering actor's intended and realised action and the
    incident's actor's realised action at ``exchange_rung`` (at least). realised, intended (R, N)
    int; contact (R, N) bool; engaged (N, N) bool (row j answers column i); in_kind (N,);
    u_in_kind (R, N). Returns realised, intended, answers (R, N) bool: who fired back; the arrays
    given, unchanged, when nobody did.
    """
    answers = np.empty(contact.shape, dtype=bool)
    if loops.answers_in_kind_into(contact, engaged, _rows(in_kind), u_in_kind, answers):
        realised, intended = realised.copy(), intended.copy()
        loops.exchange_fire_into(realised, intended, contact, engaged, answers, exchange_rung)
    return realised, intended, answers


# 3. Perception ----------------------------------------------------------------------------------


def perceive(realised, level, bias, ambiguity, noise, hotline_eta, lever_rung, normals, top_rung, engaged):
    """Perceived actions p_ij = a_j + bias_ij + amb_j (1 - tau_j) + s_ij e_ij, real and unclipped, the
    misreadings clip(round(p_ij), 0, K) != a_j (i != j; round half up), and each observer's hostile
    level q_i (:func:`hostile_level`) of its readings.

    s_ij = noise_i (1 - eta_ij) while the i-j hotline is in use (either end's level >= lever_rung),
    noise_i otherwise. realised, level (R, N) int; bias, hotline_eta (N, N); ambiguity (N,) or (R, N)
    [already times (1 - transparency)]; noise (N,) or (R, N); normals (R, N, N); engaged (N, N) bool.
    Returns the readings (R, N, N) float, misreadings (R, N, N) bool and q (R, N) float.
    """
    perceived, misread = np.empty(normals.shape), np.empty(normals.shape, dtype=bool)
    hostile = np.empty(realised.shape)
    loops.perceive_into(realised, level, bias, _rows(ambiguity), _rows(noise), hotline_eta, lever_rung, normals,
                        top_rung, engaged, perceived, misread, hostile)
    return perceived, misread, hostile


# 4. Threat --------------------------------------------------------------------------------------


def update_threat(threat, perceived, weight, drill_scale, baseline, decay, grievance, relief):
    """th(t+1) = decay th + (1 - decay)(g + sum_j A*_ij w_ij scale_j max(p_ij - b_j, 0)), then summit relief.

    threat (R, M); perceived (R, M, N); weight = A* w (M, N); drill_scale (N,) or (R, N); baseline (N,);
    decay, grievance (M,) or (R, M); relief (M,). Returns (R, M).
    """
    out = np.empty(np.shape(threat))
    loops.update_threat_into(threat, perceived, weight, _rows(drill_scale), baseline, _rows(decay), _rows(grievance),
                             relief, out)
    return out


# 5. Decision ------------------------------------------------------------------------------------


def hostile_level(perceived, engaged):
    """q_i = max of p_ij over the actors i is engaged with, or 0 when it is engaged with nobody.

    perceived (R, M, N) float, or (R, 1, N) for readings shared by all observers; engaged (M, N)
    bool. Returns (R, M) float.
    """
    out = np.empty((perceived.shape[0], engaged.shape[0]))
    loops.hostile_level_into(perceived, engaged, out)
    return out


def hostile_source(perceived, engaged, mde):
    """Where ``mde``, the engaged j whose perceived action set the actor's hostile level q (the first
    of equal maxima): the actor a misperception-driven escalation answered. -1 elsewhere.
    perceived (R, M, N); engaged (M, N) bool; mde (R, M) bool. Returns (R, M) int."""
    return loops.mde_sources(mde, perceived, engaged)


def propose(rule_name, params, level, q, threat, baseline, ceiling, u_rule):
    """The rungs a rule picks, before deterrence: 1-D arrays of one length, one element per decision
    (:mod:`sim.model.rules`), whichever actors and runs they are."""
    return np.asarray(engine_function(rule_name)(level, q, threat, baseline, ceiling, u_rule, **params))


def deter(proposed, level, u_deter, deterrence, crisis_rung):
    """Deterrence on the proposed rungs: an up-step to a rung >= crisis_rung goes ahead only if the
    deterrence draw is below D_i, otherwise the actor stops at max(level, crisis_rung - 1).

    Elementwise, so one call serves one actor's (R,) arrays or M actors' (R, M) arrays at once
    (deterrence D_i then (M,) or (R, M)). Returns int rungs.
    """
    proposed = np.asarray(proposed)
    out = np.empty(proposed.shape, dtype=np.int64)
    if proposed.ndim == 1:  # one actor: its runs as a column, D_i a number or one per run
        loops.deter_into(proposed[:, None], level[:, None], u_deter[:, None], np.reshape(deterrence, (-1, 1)),
                         crisis_rung, out[:, None])
    else:
        loops.deter_into(proposed, level, u_deter, _rows(deterrence), crisis_rung, out)
    return out


def _rows(value):
    """A per-actor value with a run axis, as the compiled loops take it: (N,) as (1, N), (R, N) as it is."""
    return value if value.ndim == 2 else value.reshape(1, -1)


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
    chances = intend_chances(sc, threat, regime, t)
    return intend(level, sc.drill_rung[t], chances, draws.provocation, draws.contact, sc.provocation_rung)


def intend_chances(sc, threat, regime, t):
    """Phase 1's daily chances of a provocation ([0]) and of a contact incident ([1]) on step t, (2, R, N),
    from the threat before the step, the runs' regimes and the drills up to t (:func:`hazard_probabilities`
    on the scenario's rates)."""
    growth = loops.spiral_exponents(_rows(sc.kappa), threat)
    np.exp(growth, out=growth)  # NumPy's exp; the spiral saturates at the cap (inf, the default: none)
    return hazard_probabilities(sc.base_rate, sc.contact_rate, regime, growth, sc.spiral_cap, sc.deterrence,
                                exercise_phase(sc, t))  # drills that deter (sim.model.exercise)



def execute_phase(sc, intended, draws):
    """Phase 2: realised actions and accidents. intended (R, N); returns (R, N) each."""
    return execute(intended, draws.accident, sc.accident, sc.top_rung)


def exchange_phase(sc, realised, intended, contact, draws):
    """Phase 2b for all actors: exchanges of fire. realised, intended (R, N) int; contact (R, N) bool.
    Returns realised, intended, answers (R, N): the arrays given, unchanged, when nobody answers in kind."""
    if not any_true(sc.in_kind) or not any_true(contact):  # nobody can answer today: nothing to compute
        return realised, intended, np.zeros(contact.shape, dtype=bool)
    return exchange_fire(realised, intended, contact, sc.engaged, sc.in_kind, draws.in_kind, sc.crisis_rung)


def perceive_phase(sc, t, level, realised, draws):
    """Phase 3: every observer's perceived actions (R, N, N), misperceptions (R, N, N) and the hostile
    level it will answer (R, N)."""
    return perceive(realised, level, sc.bias, sc.drill_ambiguity[t], sc.noise, sc.hotline_eta, sc.lever_rung,
                    draws.normals, sc.top_rung, sc.engaged)


def threat_phase(sc, t, threat, perceived):
    """Phase 4: threat after today's update and summit relief. (R, N)."""
    return update_threat(threat, perceived, sc.weight, sc.drill_scale[t], sc.baseline, sc.decay, sc.grievance,
                         sc.summit_relief[t])


def decide_phase(sc, level, intended, perceived, q, next_threat, draws, tag=True):
    """Phases 5-6: decisions, MDE tags and what drove them.

    level, intended (R, N); perceived (R, N, N); q (R, N) the hostile levels of the readings (from
    :func:`perceive_phase`); next_threat (R, N). Returns decided (R, N) int, mde (R, N) bool, source
    (R, N) int (where mde: the actor whose perceived action set q; else -1).

    The counterfactual decision (the same rules and draws on the others' intended actions) is
    computed only for the runs where some actor climbed, since an MDE needs r > l; rules are
    elementwise, so those runs get exactly the values the full array would. ``tag=False`` skips
    phase 6 (mde all false, source -1): a perfect-perception twin is run for its crises only, and
    its decisions do not depend on the tag.
    """
    engaged = sc.engaged
    decided = decide_all(sc, level, q, next_threat, draws.rule, draws.deterrence)
    mde = np.zeros(q.shape, dtype=bool)
    runs = loops.runs_with_climb(decided, level) if tag else ()
    if len(runs):
        q_intended = hostile_level(intended[runs, None, :], engaged)  # what all intended, read exactly
        counterfactual = decide_all(sc, level[runs], q_intended, next_threat[runs], draws.rule[runs],
                                    draws.deterrence[runs], runs)
        mde[runs] = misperception_driven(level[runs], decided[runs], counterfactual)
    return decided, mde, hostile_source(perceived, engaged, mde)


def decide_all(sc, level, q, threat, u_rule, u_deter, runs=None):
    """Every actor's next rung: its rule, then deterrence on up-steps into crisis (:func:`deter`).

    level (C, N) int; q, threat, u_rule, u_deter (C, N). Actors that share a rule are decided by one
    call of it over all their decisions (:func:`rule_groups`); rules are elementwise, so each actor's
    rungs are exactly what a call of its own would give. ``runs`` (C,): the rows are these runs of
    the batch, whose values of per-run parameters apply (None: the rows are the batch). Returns
    (C, N) int.
    """
    rows = level.shape[0]
    proposed = np.empty(q.shape, dtype=np.int64)
    for g in rule_groups(sc):
        b, u, params = g.flat_inputs(rows, runs)
        l, qq, th, U = loops.rule_inputs(level, q, threat, u_rule, g.columns)
        rungs = propose(g.name, params, l, qq, th, b, u, U)
        proposed[:, g.actors] = rungs.reshape(rows, -1)
    return deter(proposed, level, u_deter, _at_runs(sc.deterrence, runs), sc.crisis_rung)


def _at_runs(value, runs):
    """A per-actor value for the given runs: (N,) as it is; per-run values (R, N) at those runs (all
    of them when ``runs`` is None)."""
    return value[runs] if runs is not None and np.ndim(value) == 2 else value


@dataclass(frozen=True, eq=False)
class RuleGroup:
    """Actors that share a rule, decided by one call of it.

    ``actors`` are their indices (a slice when they are consecutive, so that writing their columns
    is one slice assignment), ``columns`` the same as an int array; ``baseline``, ``ceiling`` (G,)
    int and ``params`` (name -> (G,), or (R, G) with per-run parameters, float) are theirs, column
    by column.
    """

    name: str
    actors: slice | np.ndarray
    columns: np.ndarray
    baseline: np.ndarray
    ceiling: np.ndarray
    params: dict
    _tiles: list = field(default_factory=lambda: [np.zeros(0, dtype=np.int64)] * 2 + [{}], repr=False)

    def flat_inputs(self, rows: int, runs=None) -> tuple[np.ndarray, np.ndarray, dict]:
        """b, u and the parameters of ``rows`` rows of decisions, flattened run by run as the rule takes
        them: (rows * G,) each. ``runs``: the batch's runs the rows are, for per-run parameters (None:
        all of them). The per-actor constants are tiled once for the largest batch and sliced."""
        n = rows * len(self.baseline)
        if len(self._tiles[0]) < n:
            self._tiles[:] = [np.tile(self.baseline, rows), np.tile(self.ceiling, rows),
                              {k: np.tile(v, rows) for k, v in self.params.items() if v.ndim == 1}]
        b, u, constants = self._tiles
        params = {k: constants[k][:n] if k in constants else (v if runs is None else v[runs]).ravel()
                  for k, v in self.params.items()}
        return b[:n], u[:n], params


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
        groups.append(RuleGroup(name, actors, np.array(members), sc.baseline[members].astype(np.int64),
                                sc.ceiling[members].astype(np.int64), params))
    _RULE_GROUPS[sc] = groups = tuple(groups)
    return groups


def _columns(values: list):
    """One rule parameter of a group's actors as columns: (G,) numbers, or (R, G) when any actor's
    value is per run ((R,) values)."""
    if all(np.ndim(v) == 0 for v in values):
        return np.array(values, dtype=float)
    runs = next(np.shape(v)[0] for v in values if np.ndim(v))
    return np.stack([np.broadcast_to(np.asarray(v, dtype=float), (runs,)) for v in values], axis=1)


def backchannel_phase(sc, t, decided, level, draws):
    """Phase 7 for all actors: next levels after backchannels. decided, level (R, N) -> (R, N)."""
    if not any_true(sc.backchannel[t]):  # no channel can succeed today: nothing to compute
        return decided
    return apply_backchannels(decided, level, sc.pairs, sc.backchannel[t], draws.backchannel, sc.baseline,
                              sc.lever_rung)[0]
