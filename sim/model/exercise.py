"""Drills that deter (docs/model.md section 3): the factor X_i(t) = exp(-s_i E_i(t)) on actor i's
provocation and contact hazards, E_i(t) the exercised capability of the drills aimed at it, fading
after each one. The kernel's phase 1 multiplies its hazards by it (:func:`sim.model.kernel.intend_chances`);
both engines reach it only through there. Arithmetic in :mod:`sim.model.loops`, exp NumPy's.
"""

from __future__ import annotations

import numpy as np

from sim.model import loops
from sim.model.arrays import any_true


def exercise_phase(sc, t):
    """The drills' deterrent factor on step t (:func:`exercise_factor`), (1 or R, N), or None when it is
    1 for every actor: nobody is deterred by drills (strength 0, the default) or nobody has drilled yet.
    Then no extra work is done and the hazards are exactly those without the channel."""
    if not any_true(sc.drill_deterrence):
        return None
    last = sc.last_drill[t]
    drilled = last >= 0
    if not drilled.any():
        return None
    actors = np.arange(len(last))
    on = np.where(drilled, last, t)  # an actor yet to drill reads today's row; it is skipped anyway
    scale = sc.drill_scale[on, actors] if sc.drill_scale.ndim == 2 else sc.drill_scale[on, :, actors].T
    return exercise_factor(sc.drill_deterrence, sc.drill_deterrence_days, sc.exercise_weight, scale,
                           (t - on).astype(float), drilled)


def exercise_factor(strength, days, weight, scale, age, drilled):
    """The drills' deterrent factor X_i = exp(-s_i E_i) on actor i's provocation and contact hazards,
    E_i = sum_j W_ij scale_j exp(-age_j / tau_i): the exercised capability of the latest drills of the
    actors i is threatened by (their shares W of the coalition, their scale), fading with e-folding
    time tau_i after each drill ends (docs/model.md section 3).

    strength s, days tau (N,) or (R, N); weight W (N, N), row = deterred actor; scale (N,) or (R, N)
    the scale of each actor's latest drill day; age (N,) float days since it (0 while drilling);
    drilled (N,) bool, whether each actor has drilled yet. Returns (1 or R, N).
    """
    strength, days, scale = (np.atleast_2d(np.asarray(v, dtype=float)) for v in (strength, days, scale))
    R, N = max(len(strength), len(days), len(scale)), len(weight)
    fading = np.empty((len(days), N, N))
    loops.exercise_fading_into(np.asarray(age, dtype=float), days, fading)
    np.exp(fading, out=fading)  # NumPy's exp, as the spiral's
    out = np.empty((R, N))
    loops.exercise_exponents_into(strength, weight, scale, fading, np.asarray(drilled, dtype=bool), out)
    return np.exp(out, out=out)


_ONES: dict[int, np.ndarray] = {}


def no_exercise(n):
    """X = 1 for n actors, (1, n), read-only and shared: the factor where nothing deters by drilling."""
    try:
        return _ONES[n]
    except KeyError:
        ones = np.ones((1, n))
        ones.flags.writeable = False
        return _ONES.setdefault(n, ones)
