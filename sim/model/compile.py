"""Turn a validated Scenario into the frozen arrays both engines step: the seam between files and model.

Nothing below this module reads TOML or knows actor names; everything above it (engines, kernel)
sees only integer indices and arrays. Shapes use N actors, K+1 rungs, T steps, P = N(N-1)/2 pairs.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from functools import cached_property
from itertools import combinations

import numpy as np

from sim.model.rules import get_rule
from sim.model.schema import Scenario

DEFAULT_ACCIDENT_ABOVE_3 = 0.005  # daily chance an action at rung >= 3 comes out one rung higher


@dataclass(frozen=True, eq=False)
class CompiledScenario:
    """Everything a run needs, as arrays. Build with :func:`compile_scenario`.

    Per actor (N,): capability, baseline, ceiling, noise, decay, grievance, deterrence (the factor
    D_i in (0, 1]), base_rate, kappa, spiral_cap (inf: none), regime_dispersion, regime_persistence, regime_last_year (NaN: unknown),
    provocation_rung,
    contact_rate, in_kind.
    Per pair (N, N), row =
    observer i, column = observed j: threat_weight (A*), weight (A* w, w the capability weight),
    engaged (A* >= engage), bias, hotline_eta. Per step: drill_rung (T, N; -1 when
    not drilling), drill_scale (T, N; 1 when not drilling), drill_ambiguity (T, N; ambiguity *
    (1 - transparency)), summit_relief (T, N), backchannel (T, P; daily success probability),
    lever pairs (P, 2).
    Drills that deter (docs/model.md section 3): drill_deterrence, drill_deterrence_days (N,), the
    strength and e-folding time of the deterred actor's response to exercises; exercise_weight (N, N),
    row i's shares of A* w over the actors j it is threatened by (rows sum to 1, or 0); last_drill
    (T, N), the latest step <= t on which each actor drilled (-1: none yet).
    """

    name: str
    actor_ids: tuple[str, ...]
    actor_names: tuple[str, ...]
    rung_names: tuple[str, ...]
    start: dt.date
    horizon: int
    crisis_rung: int
    war_rung: int
    lever_rung: int
    window: int
    accident: np.ndarray
    capability: np.ndarray
    baseline: np.ndarray
    ceiling: np.ndarray
    noise: np.ndarray
    decay: np.ndarray
    grievance: np.ndarray
    deterrence: np.ndarray
    opposing_log_ratio: np.ndarray
    base_rate: np.ndarray
    kappa: np.ndarray
    spiral_cap: np.ndarray
    regime_dispersion: np.ndarray
    regime_persistence: np.ndarray
    regime_last_year: np.ndarray
    provocation_rung: np.ndarray
    contact_rate: np.ndarray
    in_kind: np.ndarray
    threat_weight: np.ndarray
    weight: np.ndarray
    engaged: np.ndarray
    bias: np.ndarray
    hotline_eta: np.ndarray
    drill_rung: np.ndarray
    drill_scale: np.ndarray
    drill_ambiguity: np.ndarray
    summit_relief: np.ndarray
    pairs: np.ndarray
    backchannel: np.ndarray
    rule_names: tuple[str, ...]
    rule_params: tuple[dict, ...]
    drill_deterrence: np.ndarray
    drill_deterrence_days: np.ndarray
    last_drill: np.ndarray
    drill_periods: tuple[tuple[str, int, int, bool], ...] = field(default=())

    @cached_property
    def exercise_weight(self) -> np.ndarray:
        """W (N, N): row i's shares of A* w (:func:`exercise_weights`), worked out once per scenario."""
        return exercise_weights(self.weight)

    @property
    def n_actors(self) -> int:
        return len(self.actor_ids)

    @property
    def top_rung(self) -> int:
        """K, the highest rung."""
        return len(self.rung_names) - 1

    @property
    def n_pairs(self) -> int:
        return len(self.pairs)

    def perfect_perception(self) -> CompiledScenario:
        """The twin of MODEL.md section 6: p = a (no noise, no bias, no drill ambiguity)."""
        return replace(self, noise=np.zeros_like(self.noise), bias=np.zeros_like(self.bias),
                       drill_ambiguity=np.zeros_like(self.drill_ambiguity))


def compile_scenario(sc: Scenario) -> CompiledScenario:
    """Arrays for the engines from a validated scenario (see :class:`CompiledScenario`)."""
    ids = list(sc.actors)
    idx = {a: i for i, a in enumerate(ids)}
    K, T = sc.K, sc.scenario.horizon
    actors = list(sc.actors.values())
    cap = np.array([a.capability for a in actors], dtype=float)
    A_star, bias = _threat_weights(sc, idx)
    log_ratio = opposing_log_ratio(A_star, cap)
    drill_rung, drill_scale, drill_amb, periods = _drills(sc, idx)
    pairs, backchannel, relief = _channels(sc, idx)

    def per_actor(get, dtype=float):
        return np.array([get(a) for a in actors], dtype=dtype)

    return CompiledScenario(
        name=sc.scenario.name,
        actor_ids=tuple(ids),
        actor_names=tuple(a.name or aid for aid, a in sc.actors.items()),
        rung_names=tuple(sc.ladder.rungs),
        start=sc.scenario.start,
        horizon=T,
        crisis_rung=sc.ladder.crisis_rung,
        war_rung=sc.ladder.war_rung,
        lever_rung=sc.ladder.lever_rung,
        window=sc.model.window,
        accident=np.array(sc.ladder.accident if sc.ladder.accident is not None
                          else [0.0 if k < 3 else DEFAULT_ACCIDENT_ABOVE_3 for k in range(K + 1)]),
        capability=cap,
        baseline=per_actor(lambda a: a.baseline, np.int64),
        ceiling=per_actor(lambda a: K if a.ceiling is None else a.ceiling, np.int64),
        noise=per_actor(lambda a: a.noise),
        decay=per_actor(lambda a: a.decay),
        grievance=per_actor(lambda a: a.grievance),
        deterrence=deterrence(per_actor(lambda a: a.deterrence), log_ratio),
        opposing_log_ratio=log_ratio,
        **_provocation_arrays(per_actor, K),
        in_kind=per_actor(lambda a: a.in_kind),
        threat_weight=A_star,
        weight=A_star * (cap[None, :] / cap[:, None]) ** sc.model.gamma,
        engaged=(A_star >= sc.model.engage) & (A_star > 0),  # never oneself, never a non-adversary
        bias=bias,
        hotline_eta=_hotlines(sc, idx),
        drill_rung=drill_rung,
        drill_scale=drill_scale,
        drill_ambiguity=drill_amb,
        summit_relief=relief,
        pairs=pairs,
        backchannel=backchannel,
        rule_names=tuple(a.rule.name for a in actors),
        rule_params=tuple({**get_rule(a.rule.name).defaults, **a.rule.params()} for a in actors),
        **_drill_deterrence(sc, drill_rung),
        drill_periods=tuple(sorted(periods, key=lambda p: p[1])),
    )


def _provocation_arrays(per_actor, K: int) -> dict[str, np.ndarray]:
    """Each actor's provocation table as the compiled per-actor arrays (N,); ``per_actor(get, dtype)``
    maps an actor to a value."""
    return dict(
        base_rate=per_actor(lambda a: a.provocation.base_rate),
        kappa=per_actor(lambda a: a.provocation.kappa),
        spiral_cap=per_actor(lambda a: np.inf if a.provocation.spiral_cap is None else a.provocation.spiral_cap),
        regime_dispersion=per_actor(lambda a: a.provocation.regime_dispersion),
        regime_persistence=per_actor(lambda a: a.provocation.regime_persistence),
        regime_last_year=per_actor(lambda a: _or_nan(a.provocation.regime_last_year)),
        provocation_rung=per_actor(lambda a: min(3, K) if a.provocation.rung is None else a.provocation.rung,
                                   np.int64),
        contact_rate=per_actor(lambda a: a.provocation.contact_rate),
    )


def _drill_deterrence(sc: Scenario, drill_rung: np.ndarray) -> dict:
    """The compiled fields of drills that deter (docs/model.md section 3): each actor's strength and
    e-folding time, and the latest drill day of each actor up to each step."""
    actors = sc.actors.values()
    return {"drill_deterrence": np.array([a.provocation.drill_deterrence for a in actors], dtype=float),
            "drill_deterrence_days": np.array([a.provocation.drill_deterrence_days for a in actors], dtype=float),
            "last_drill": latest_drill(drill_rung)}


def _threat_weights(sc: Scenario, idx: dict) -> tuple[np.ndarray, np.ndarray]:
    """A* (N, N), the adversary weights with the alliances' one hop (MODEL.md section 2), and bias (N, N)."""
    n = len(idx)
    A, bias = np.zeros((n, n)), np.zeros((n, n))
    for i, a in enumerate(sc.actors.values()):
        for other, wgt in a.threatened_by.items():
            A[i, idx[other]] = wgt
        for other, b in a.bias.items():
            bias[i, idx[other]] = b
    A_star = alliance_threat_weights(A, [([idx[m] for m in al.members], al.cohesion)
                                         for al in sc.alliances.values() if al.enabled])
    return A_star, bias


def _day_range(sc: Scenario, window) -> tuple[int, int]:
    """A [start, end] window of dates as [start, stop) steps."""
    a, b = window
    return (a - sc.scenario.start).days, (b - sc.scenario.start).days + 1


def _drills(sc: Scenario, idx: dict):
    """Per day and actor, the drill's rung (-1: none), scale (1 when none) and ambiguity left by its
    transparency, (T, N) each; and the drill periods (name, first step, stop step, approximate)."""
    T, n = sc.scenario.horizon, len(idx)
    drill_rung = np.full((T, n), -1, dtype=np.int64)
    drill_scale = np.zeros((T, n))
    drill_amb = np.zeros((T, n))
    periods = []
    for name, d in sc.drills.items():
        if not d.enabled:
            continue
        cols = [idx[p] for p in d.participants]
        for t0, t1 in (w for win in d.windows for w in _repeats(_day_range(sc, win), d.repeat_every_days, T)):
            periods.append((name, t0, t1, d.approximate))
            sl = (slice(t0, t1), cols)
            drill_rung[sl] = np.maximum(drill_rung[sl], d.rung)
            # Two drills on one day: each quantity takes the larger (the more alarming reading).
            drill_scale[sl] = np.maximum(drill_scale[sl], d.scale)
            drill_amb[sl] = np.maximum(drill_amb[sl], d.ambiguity * (1.0 - d.transparency))
    drill_scale[drill_rung < 0] = 1.0  # no drill: an actor's actions weigh as themselves
    return drill_rung, drill_scale, drill_amb, periods


def _channels(sc: Scenario, idx: dict):
    """The actor pairs (P, 2), each pair's daily backchannel success (T, P), with a summit's channel in
    place of the standing one while it runs, and each actor's summit relief (T, N)."""
    T, n = sc.scenario.horizon, len(idx)
    pairs = np.array(list(combinations(range(n), 2)), dtype=np.int64).reshape(-1, 2)
    pair_index = {(int(i), int(j)): p for p, (i, j) in enumerate(pairs)}

    def pair_of(names):
        i, j = sorted(idx[x] for x in names)
        return pair_index[(i, j)]

    backchannel = np.zeros((T, len(pairs)))
    for bc in sc.backchannels.values():
        if bc.enabled:
            p = pair_of(bc.between)
            backchannel[:, p] = np.maximum(backchannel[:, p], bc.success)
    relief = np.zeros((T, n))
    for s in sc.summits.values():
        if not s.enabled:
            continue
        p = pair_of(s.participants)
        cols = [idx[x] for x in s.participants]
        for win in s.windows:
            t0, t1 = _day_range(sc, win)
            backchannel[t0:t1, p] = s.backchannel  # while a summit runs, its channel replaces the pair's
            relief[t0:t1, cols] = np.maximum(relief[t0:t1, cols], s.relief)
    return pairs, backchannel, relief


def _hotlines(sc: Scenario, idx: dict) -> np.ndarray:
    """eta (N, N): the share of perception noise each hotline removes between its ends."""
    n = len(idx)
    eta = np.zeros((n, n))
    for h in sc.hotlines.values():
        if h.enabled:
            i, j = idx[h.between[0]], idx[h.between[1]]
            eta[i, j] = eta[j, i] = max(eta[i, j], h.eta)
    return eta


def _repeats(days: tuple[int, int], every: int | None, horizon: int):
    """A window's [start, stop) steps, and its repeats every ``every`` days that start inside the horizon."""
    t0, t1 = days
    yield t0, t1
    while every is not None and t0 + every < horizon:
        t0, t1 = t0 + every, min(t1 + every, horizon)
        yield t0, t1


def alliance_threat_weights(A: np.ndarray, alliances: list[tuple[list[int], float]]) -> np.ndarray:
    """A*: one hop of alliance threat sharing (MODEL.md section 2).

    A*_ij = max(A_ij, max over alliances containing i and not j, over members k, of cohesion * A_kj).
    ``A`` is (N, N) with row = threatened actor; ``alliances`` lists (member indices, cohesion).
    """
    out = A.copy()
    for members, cohesion in alliances:
        shared = cohesion * A[members].max(axis=0)  # (N,): the worst threat any member faces from j
        for i in members:
            outside = np.ones(len(A), dtype=bool)
            outside[members] = False
            out[i, outside] = np.maximum(out[i, outside], shared[outside])
    np.fill_diagonal(out, 0.0)
    return out


def opposing_log_ratio(A_star: np.ndarray, capability: np.ndarray) -> np.ndarray:
    """max(0, ln(C_i / c_i)), C_i = sum_j A*_ji c_j: how far the capability engaged against i exceeds
    its own (MODEL.md section 2). Shape (N,). 0 for an actor nobody is engaged against (C_i = 0).
    Only the ratio C_i / c_i enters, so capabilities in any unit (all scaled by one factor) give the same."""
    opposing = A_star.T @ capability
    ratio = np.divide(opposing, capability, out=np.zeros_like(opposing), where=opposing > 0)
    return np.maximum(0.0, np.log(ratio, out=np.zeros_like(ratio), where=ratio > 0))


def deterrence(lam, log_ratio):
    """D_i = exp(-lambda_i max(0, ln(C_i / c_i))) (MODEL.md section 2) from lambda and
    :func:`opposing_log_ratio`, elementwise (per actor, or per run and actor); 1 where nobody
    engaged against i is stronger. The one copy of the formula: compiling and per-run values use it."""
    return np.exp(-lam * log_ratio)


def _or_nan(value: float | None) -> float:
    """A value that may be unset, as a number: NaN for unset."""
    return np.nan if value is None else value


def exercise_weights(weight: np.ndarray) -> np.ndarray:
    """Each row of A* w (N, N) as shares that sum to 1 (a row of zeros stays zero): how much of the
    capability-weighted coalition against actor i each actor j is. An exercise by all of i's
    adversaries at scale 1 then shows i an exercised capability E_i = 1 (docs/model.md section 3)."""
    total = weight.sum(axis=1, keepdims=True)
    return np.divide(weight, total, out=np.zeros_like(weight), where=total > 0)


def latest_drill(drill_rung: np.ndarray) -> np.ndarray:
    """(T, N) int: the latest step s <= t on which actor j drilled (drill_rung[s, j] >= 0), -1 before
    its first drill. Drills are fixed by the calendar, so this is worked out once per scenario."""
    steps = np.where(drill_rung >= 0, np.arange(len(drill_rung), dtype=np.int64)[:, None], -1)
    return np.maximum.accumulate(steps, axis=0)
