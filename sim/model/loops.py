"""The kernel's passes over the (R, N) and (R, N, N) arrays, compiled: one loop per phase, no temporaries.

These are the bodies of :mod:`sim.model.kernel`'s phases, which call them; nothing else does. Each does
exactly the floating-point operations the formulas of MODEL.md section 4 state, in the order the
docstrings give, one IEEE operation at a time (Numba compiles without fast-math, so nothing is
fused or reordered): the numbers are those of the same formulas as NumPy array expressions, bit
for bit. The transcendental functions (exp, expm1, the regime's inverse gamma CDF) are not here:
the kernel evaluates them with NumPy, whose results in the last bit differ from the C library's
that compiled code would call.

Parameters that may vary by run arrive with a run axis: (1, N) when all runs share them, (R, N)
otherwise; ``_row`` picks the row a run reads. Compiled on first use and cached on disk.
"""

from __future__ import annotations

import numba
import numpy as np

jit = numba.njit(cache=True, nogil=True)


@numba.njit(inline="always")
def _row(x, r):
    """Run r's row of a per-run parameter given as (1, N) (shared) or (R, N) (one row per run)."""
    return x[r] if x.shape[0] > 1 else x[0]


@jit
def perceived_rung(p, top_rung):
    """The rung an observer reads in a perceived action p: clip(round(p), 0, K) with round half up
    (floor(p + 0.5), never round-half-to-even), as a float holding a whole number. One reading."""
    return min(max(np.floor(p + 0.5), 0.0), top_rung)


@numba.njit(inline="always")
def _raise_to(q, reading, engaged):
    """The running max of a hostile level: q raised to a reading of an actor it is engaged with."""
    return reading if engaged and reading > q else q


@numba.njit(inline="always")
def _hostile_or_zero(q):
    """A hostile level from its running max over the engaged actors (from -inf): 0 when there were none."""
    return q if q != -np.inf else 0.0


@jit
def perceive_into(realised, level, bias, ambiguity, noise, hotline_eta, lever_rung, normals, top_rung, engaged,
                  perceived, misread, hostile):
    """Phase 3 into ``perceived`` (R, N, N) and ``misread`` (R, N, N) bool.

    p_ij = s_ij e_ij + (bias_ij + amb_j) + a_j with s_ij = noise_i (1 - eta_ij) while the hotline
    is open (either end's level >= lever_rung; eta 0: none), else noise_i; misread_ij is
    clip(floor(p_ij + 0.5), 0, K) != a_j for i != j; ``hostile`` (R, N) gets each observer's hostile
    level q_i (:func:`hostile_level_into`) while its readings are at hand. realised, level (R, N)
    int; bias, hotline_eta (N, N); ambiguity, noise (1 or R, N); normals (R, N, N); engaged (N, N).
    """
    R, N = realised.shape
    for r in range(R):
        amb, s0, lev, a = _row(ambiguity, r), _row(noise, r), level[r], realised[r]
        for i in range(N):
            q = -np.inf
            for j in range(N):
                s = s0[i]
                if hotline_eta[i, j] != 0.0 and (lev[i] >= lever_rung or lev[j] >= lever_rung):
                    s = s * (1.0 - hotline_eta[i, j])
                p = s * normals[r, i, j]
                p = p + (bias[i, j] + amb[j])
                p = p + a[j]
                perceived[r, i, j] = p
                misread[r, i, j] = i != j and perceived_rung(p, top_rung) != a[j]
                q = _raise_to(q, p, engaged[i, j])
            hostile[r, i] = _hostile_or_zero(q)


@jit
def update_threat_into(threat, perceived, weight, drill_scale, baseline, decay, grievance, relief, out):
    """Phase 4 into ``out`` (R, N): th_i' = (d th_i + (1 - d)(g + sum_j max(p_ij - b_j, 0) (w_ij scale_j))) (1 - relief_i),
    the sum left to right. M observers of N actors: threat (R, M); perceived (R, M, N); weight (M, N);
    drill_scale (1 or R, N); decay, grievance (1 or R, M); baseline (N,); relief (M,)."""
    R, M, N = perceived.shape
    for r in range(R):
        scale, d, g = _row(drill_scale, r), _row(decay, r), _row(grievance, r)
        for i in range(M):
            h = 0.0
            for j in range(N):
                above = perceived[r, i, j] - baseline[j]
                above = max(above, 0.0) * (weight[i, j] * scale[j])
                h = above if j == 0 else h + above
            out[r, i] = (d[i] * threat[r, i] + (1.0 - d[i]) * (g[i] + h)) * (1.0 - relief[i])


@jit
def hostile_level_into(perceived, engaged, out):
    """q_i = max of p_ij over the j that i is engaged with; 0 when it is engaged with nobody. perceived
    (R, M, N) or (R, 1, N) (readings every observer shares); engaged (M, N) bool; out (R, M)."""
    R = perceived.shape[0]
    M, N = engaged.shape
    shared = perceived.shape[1] == 1
    for r in range(R):
        for i in range(M):
            q = -np.inf
            for j in range(N):
                q = _raise_to(q, perceived[r, 0 if shared else i, j], engaged[i, j])
            out[r, i] = _hostile_or_zero(q)


@jit
def spiral_exponents(kappa, threat):
    """kappa_i th_i, the exponent of the threat spiral exp(kappa th), for NumPy's exp. kappa (1 or R, N);
    threat (R, N). Returns (R, N)."""
    R, N = threat.shape
    out = np.empty((R, N))
    for r in range(R):
        k = _row(kappa, r)
        for i in range(N):
            out[r, i] = k[i] * threat[r, i]
    return out


@jit
def hazard_exponents_into(base_rate, contact_rate, regime, growth, cap, deterrence, exercise, out):
    """The exponents -(rate regime spiral D X) of both daily hazards, spiral = min(growth, cap), X the
    drills' deterrent factor (1: none), multiplied left to right, for NumPy's expm1 (the chance is
    -expm1 of it): out[0] the provocation's, out[1] the contact incident's, (2, R, N). base_rate,
    contact_rate, cap, deterrence, exercise (1 or R, N); regime, growth = exp(kappa th) (R, N)."""
    R, N = regime.shape
    for r in range(R):
        br, cr, c, d, x = _row(base_rate, r), _row(contact_rate, r), _row(cap, r), _row(deterrence, r), _row(exercise, r)
        for i in range(N):
            spiral = min(growth[r, i], c[i])
            out[0, r, i] = -(br[i] * regime[r, i] * spiral * d[i] * x[i])
            out[1, r, i] = -(cr[i] * regime[r, i] * spiral * d[i] * x[i])


@jit
def exercise_fading_into(age, days, out):
    """-(age_j / tau_i), the exponent of how far actor j's latest drill has faded for observer i, for
    NumPy's exp. age (N,) float: days since j's latest drill day (0 on a drill day); days = tau
    (1 or R, N); out (1 or R, N, N), row = deterred actor i."""
    for r in range(out.shape[0]):
        tau = _row(days, r)
        for i in range(out.shape[1]):
            for j in range(out.shape[2]):
                out[r, i, j] = -(age[j] / tau[i])


@jit
def exercise_exponents_into(strength, weight, scale, fading, drilled, out):
    """-(s_i E_i), E_i = sum over j that have drilled, in order, of W_ij scale_j fading_ij: the
    exponent of the drills' deterrent factor X = exp(-s E), for NumPy's exp. strength, scale (1 or R,
    N); weight W (N, N); fading = exp(-age / tau) (1 or R, N, N); drilled (N,) bool; out (1 or R, N)."""
    for r in range(out.shape[0]):
        s, sc, f = _row(strength, r), _row(scale, r), _row(fading, r)
        for i in range(out.shape[1]):
            e = 0.0
            for j in range(weight.shape[1]):
                if drilled[j] and weight[i, j] > 0.0:
                    e += weight[i, j] * sc[j] * f[i, j]
            out[r, i] = -(s[i] * e)


@jit
def intend_into(level, drill_rung, provocation_rung, chances, u_provocation, u_contact, intended, provoked,
                contact):
    """Phase 1: a provocation (contact incident) happens when its uniform is below its daily chance;
    x = max(level, drill rung, provocation rung on either). level (R, N) int; drill_rung,
    provocation_rung (N,) int (-1: no drill today); chances (2, R, N): [0] provocations, [1] contacts."""
    R, N = level.shape
    for r in range(R):
        for i in range(N):
            prov = u_provocation[r, i] < chances[0, r, i]
            cont = u_contact[r, i] < chances[1, r, i]
            x = max(level[r, i], drill_rung[i])
            if prov or cont:
                x = max(x, provocation_rung[i])
            intended[r, i], provoked[r, i], contact[r, i] = x, prov, cont


@jit
def execute_into(intended, u_accident, accident_by_rung, top_rung, realised, accident):
    """Phase 2: an accident (uniform below the intended rung's accident probability) takes the action
    one rung up, not above the top. intended (R, N) int; accident_by_rung (K + 1,)."""
    R, N = intended.shape
    for r in range(R):
        for i in range(N):
            x = intended[r, i]
            hit = u_accident[r, i] < accident_by_rung[x]
            realised[r, i] = min(x + 1, top_rung) if hit else x
            accident[r, i] = hit


@jit
def answers_in_kind_into(contact, engaged, in_kind, u_in_kind, answers):
    """Phase 2b, who answers: j answers in kind (u_j < in_kind_j) when an actor it is engaged with
    (engaged[j, i]) has a contact incident today. contact (R, N) bool; in_kind (1 or R, N); answers
    (R, N) bool out. Returns whether anyone answered."""
    R, N = contact.shape
    anyone = False
    for r in range(R):
        answers[r] = False
        if not contact[r].any():  # most runs on most days: nothing to answer
            continue
        ink = _row(in_kind, r)
        for j in range(N):
            for i in range(N):
                if contact[r, i] and engaged[j, i]:
                    answers[r, j] = u_in_kind[r, j] < ink[j]
                    anyone = anyone or answers[r, j]
                    break
    return anyone


@jit
def exchange_fire_into(realised, intended, contact, engaged, answers, exchange_rung):
    """Phase 2b, the exchanges, in place: an answerer's intended and realised actions, and the realised
    action of an incident it answers, rise to ``exchange_rung``. realised, intended (R, N) int;
    contact, answers (R, N) bool."""
    R, N = realised.shape
    for r in range(R):
        if not answers[r].any():
            continue
        for i in range(N):
            answered = False
            for j in range(N):
                answered = answered or (answers[r, j] and engaged[j, i])
            if answers[r, i] or (answered and contact[r, i]):
                realised[r, i] = max(realised[r, i], exchange_rung)
            if answers[r, i]:
                intended[r, i] = max(intended[r, i], exchange_rung)


@jit
def rule_inputs(level, q, threat, u_rule, actors):
    """The columns ``actors`` of four (C, N) arrays, each flattened run by run (element k: run
    k // G, actor actors[k % G]): a rule group's l, q, th, U. Returns four (C * G,) arrays."""
    C, G = level.shape[0], len(actors)
    l, qq, th, u = np.empty(C * G, dtype=level.dtype), np.empty(C * G), np.empty(C * G), np.empty(C * G)
    for r in range(C):
        for g in range(G):
            k, a = r * G + g, actors[g]
            l[k], qq[k], th[k], u[k] = level[r, a], q[r, a], threat[r, a], u_rule[r, a]
    return l, qq, th, u


@jit
def deter_into(proposed, level, u_deter, deterrence, crisis_rung, out):
    """Deterrence: an up-step to a rung >= crisis_rung goes ahead only if u < D_i, else the actor stops
    at max(level, crisis_rung - 1). proposed, level, u_deter (R, N); deterrence (1 or R, N); out (R, N) int."""
    R, N = proposed.shape
    for r in range(R):
        d = _row(deterrence, r)
        for i in range(N):
            x, lv = proposed[r, i], level[r, i]
            blocked = x > lv and x >= crisis_rung and u_deter[r, i] >= d[i]
            out[r, i] = max(lv, crisis_rung - 1) if blocked else x


@jit
def mde_sources(mde, perceived, engaged):
    """Where mde[r, i], the engaged j whose perceived action set i's hostile level (the first of equal
    maxima); -1 elsewhere. M observers of N actors: mde (R, M) bool; perceived (R, M, N); engaged
    (M, N). Returns (R, M) int."""
    R, M, N = perceived.shape
    out = np.full((R, M), -1, dtype=np.int64)
    for r in range(R):
        for i in range(M):
            if not mde[r, i]:
                continue
            best = -np.inf
            for j in range(N):
                if engaged[i, j] and perceived[r, i, j] > best:
                    best = perceived[r, i, j]
                    out[r, i] = j
    return out


@jit
def runs_with_climb(decided, level):
    """The runs (ascending) in which some actor's decided rung is above its level. (C,) int."""
    R, N = level.shape
    out = np.empty(R, dtype=np.int64)
    n = 0
    for r in range(R):
        for i in range(N):
            if decided[r, i] > level[r, i]:
                out[n] = r
                n += 1
                break
    return out[:n]


@jit
def note_crises(t, realised, crisis_rung, first_crisis):
    """A crisis-only tracker's step: runs whose top realised rung reaches crisis_rung for the first
    time have their first crisis at t. realised (R, N) int; first_crisis (R,) int, -1 for none yet."""
    R, N = realised.shape
    for r in range(R):
        if first_crisis[r] >= 0:
            continue
        for i in range(N):
            if realised[r, i] >= crisis_rung:
                first_crisis[r] = t
                break


@jit
def tally_into(t, exercise_day, crisis_rung, window, realised, misperceived, mde, mde_source, provoked, contact,
                provocations, exercise_provocations, contacts, actor_max_rung, max_rung, first_passage,
                crisis_onsets, in_crisis, first_crisis, first_mde, last_mde, misreading_crisis_step,
                misreading_lag, misperceptions, misperception_pairs, mde_counts, occupancy):
    """Fold step t of R runs into a tracker's arrays, in place (see :class:`sim.model.outcomes.OutcomeTracker`
    for what each holds; -1 stands for never). realised (R, N) int; misperceived (R, N, N) bool; mde,
    provoked, contact (R, N) bool; mde_source (R, N) int (the actor whose reading set q, where mde)."""
    R, N = realised.shape
    pairs = np.zeros((N, N), dtype=np.int64)  # this step's misreadings by pair, over the runs
    for r in range(R):
        top = 0
        for i in range(N):
            a = realised[r, i]
            top = max(top, a)
            provocations[r, i] += provoked[r, i]
            if exercise_day:
                exercise_provocations[r, i] += provoked[r, i]
            contacts[r, i] += contact[r, i]
            actor_max_rung[r, i] = max(actor_max_rung[r, i], a)
            occupancy[t, i, a] += 1
        misread = 0
        for i in range(N):
            for j in range(N):
                m = misperceived[r, i, j]
                misread += m
                pairs[i, j] += m
        misperceptions[r] += misread
        if t == 0:
            first_passage[r, 0] = 0  # rung 0 is reached on the first day by every run
        for k in range(max_rung[r] + 1, top + 1):  # rungs the running max passes today
            first_passage[r, k] = t
        max_rung[r] = max(max_rung[r], top)
        crisis = top >= crisis_rung
        if crisis and not in_crisis[r]:
            crisis_onsets[r] += 1
        in_crisis[r] = crisis
        if crisis:
            if first_crisis[r] < 0:
                first_crisis[r] = t
            # A crisis at t counts when an MDE came strictly before it, within the window (decisions of
            # step t act from t + 1 on, so an MDE at t cannot cause today's crisis).
            if last_mde[r] >= 0 and t - last_mde[r] <= window and misreading_crisis_step[r] < 0:
                misreading_crisis_step[r] = t
                misreading_lag[r] = t - last_mde[r]
        for i in range(N):
            if mde[r, i]:
                last_mde[r] = t
                if first_mde[r] < 0:
                    first_mde[r] = t
                mde_counts[r, i, mde_source[r, i]] += 1
    misperception_pairs += pairs
