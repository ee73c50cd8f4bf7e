"""Adaptive multilevel splitting's machinery: scores, replica streams, and repetitions stepped side by side.

What :mod:`sim.analysis.rare` estimates with, one batch of repetitions at a time: each repetition's
replicas are rows of arrays stepped through the ensemble engine's one step (:func:`_step`), killed
and cloned level by level (docs/model.md section 12).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.special import ndtr

from sim.analysis.jumps import MARK_WEIGHT, PILOT_LEVELS, Jumps, carried_end, condition_step, jump_score, observable
from sim.engines.draws import StepDraws, Stream, child, fill_step, n_uniforms
from sim.engines.ensemble import step_runs
from sim.engines.run_values import select_rows, with_run_values
from sim.model.compile import CompiledScenario
from sim.model.kernel import run_regimes

CHUNK = 32
"""Steps of draws per chunk of a replica's stream: each chunk is one ``fill_step`` of (CHUNK, ...)."""

MAX_ITERATIONS = 20_000  # a guard against a score that creeps up forever; never reached in practice
BATCH_ROWS = 16384  # replicas of several repetitions stepped side by side in one process (about 30 kB of path each)


# Scores ---------------------------------------------------------------------------------------------
# A score is xi(state after a step) as a float < target before the target is reached (the caller
# sets it to target exactly once reached). ``t`` is the steps done (the state is the one before
# step t), ``top`` (R,) the running maximum of realised rungs, ``level`` (R, N) the postures and
# ``threat`` (R, N) the threat before step t, ``regime`` (R, N) the runs' regime multipliers.


def score_rung(sc: CompiledScenario, t, top, level, threat, regime):
    """The coarse score: the highest rung realised so far (seven values on the default ladder)."""
    return top.astype(float)


TIME_WEIGHT = 1e-3  # the share of a rung given to time left: it only breaks ties between equal states
THREAT_SCALE = 3.0  # threat (in rungs) at which an actor's threat counts for half a rung of progress


def score_progress(sc: CompiledScenario, t, top, level, threat, regime):
    """The highest rung any actor stands at, plus a within-rung progress term in [0, 1).

    progress = (1 - w) x mean over actors of (l_i - b_i + th_i / (th_i + 3)) / (u_i - b_i + 1)
               + w x (1 - t / T),  w = 0.001:
    how far every actor's posture stands above its baseline, with its threat (squashed into [0, 1))
    as the part of a rung it is pressed towards the next, over the rungs its ceiling leaves it; and,
    as a tie-break only, the time left (an equal state reached earlier has more time to go on).
    """
    room = (sc.ceiling - sc.baseline + 1).astype(float)
    th = np.maximum(threat, 0.0)
    part = ((level - sc.baseline + th / (th + THREAT_SCALE)) / room).mean(axis=1)
    return level.max(axis=1) + (1.0 - TIME_WEIGHT) * part + TIME_WEIGHT * (1.0 - t / sc.horizon)


SCORES = {"progress": score_progress, "rung": score_rung}
DEFAULT_SCORE = "progress"


# The one call into the engine -----------------------------------------------------------------------


def pilot_hazards(sc, target: int, root, n: int, score: str = DEFAULT_SCORE, jumps: Jumps | None = None):
    """The jump hazard (n,) of n replicas after PILOT_LEVELS levels with no cap, on repetition 0's streams
    below ``root`` (the pilot's own): the hazard's upper tail, that :func:`jumps.cap_from` sets the cap by."""
    batch = _Batch(sc, target, root, [0], n, max(1, n // 2), SCORES[score], None, jumps)
    batch.run(levels=PILOT_LEVELS)
    return batch.hazard[batch.stop - 1, np.arange(n)].sum(axis=1)


def _step(sc, t, level, threat, draws, regime):
    """One step of R replicas through the ensemble engine's ``step_runs``: next level, next threat,
    the realised actions and the MDE tags (R, N)."""
    nxt, th, step = step_runs(sc, t, level, threat, draws, regime)
    return nxt, th, step["realised"], step["mde"]


class _Segment:
    """A replica's stream from step ``start`` on: chunks of CHUNK steps, each one ``fill_step``."""

    __slots__ = ("rng",)

    def __init__(self, root, repetition: int, iteration: int, replica: int):
        self.rng = np.random.default_rng(child(root, Stream.REPLICA, repetition, iteration, replica))


def segment_draws(root, repetition: int, iteration: int, replica: int, start: int, horizon: int, n_actors: int,
                  regime: bool = False):
    """The draws replica ``replica`` made at iteration ``iteration`` for steps ``start`` .. horizon - 1, as
    (uniforms (T - start, U), normals (T - start, N, N)), and its regime uniforms (N,) when ``regime``
    (initial replicas draw them first)."""
    seg = _Segment(root, repetition, iteration, replica)
    reg = seg.rng.random(n_actors) if regime else None
    steps = horizon - start
    n_chunks = -(-steps // CHUNK)
    u = np.empty((n_chunks * CHUNK, n_uniforms(n_actors)))
    e = np.empty((n_chunks * CHUNK, n_actors, n_actors))
    for c in range(n_chunks):
        fill_step(seg.rng, u[c * CHUNK:(c + 1) * CHUNK], e[c * CHUNK:(c + 1) * CHUNK])
    return u[:steps], e[:steps], reg


# One batch of repetitions, in lockstep ------------------------------------------------------------------


@dataclass
class Repetition:
    """One AMS repetition: its estimate and work, and the final replicas that reached the target (their
    paths, and what it takes to replay each in the Mesa engine: :func:`replay_model`)."""

    repetition: int
    estimate: float  # weight x (sum over the final replicas of f: 1 at the target, else the jump chance) / n
    weight: float  # product of the (1 - K/n) factors
    reached: int  # final replicas at the target
    iterations: int  # levels at which replicas were killed
    steps: int  # model steps spent (replica-steps)
    extinct: bool  # every replica killed at some level: the estimate is 0
    flat: bool = False  # extinct at the first level with no replica above its starting score: no way up seen
    paths: dict = field(default_factory=dict)  # weighted path statistics of the final replicas at the target
    genealogy: list = field(default_factory=list)  # per replica at the target: [(first step, iteration, replica)]
    regime_uniforms: np.ndarray | None = None  # (reached, N) their regime uniforms
    hit_step: np.ndarray | None = None  # (reached,) the step each reached the target
    levels: np.ndarray | None = None  # (reached, T + 1, N) their postures (valid up to hit_step + 1)
    realised: np.ndarray | None = None  # (reached, T, N) their realised rungs (valid up to hit_step)


class _Batch:
    """B repetitions x n replicas as rows of arrays, with every replica's whole path (time-major
    histories, so that a step writes one slab), which is what a clone copies."""

    def __init__(self, sc, target: int, root, repetitions: list[int], n: int, k: int, score, run_values=None,
                 jumps: Jumps | None = None):

        # a repetition's posterior draw (run_values: key -> one value per repetition) holds for its replicas
        self.per_row = bool(run_values)
        if run_values:
            sc = with_run_values(sc, {key: np.repeat(np.asarray(v, dtype=float), n) for key, v in run_values.items()})
        self.sc, self.target, self.root, self.reps, self.n, self.k = sc, target, root, repetitions, n, k
        self.score, self.jumps = score, jumps
        B, N, T = len(repetitions), sc.n_actors, sc.horizon
        R = B * n
        self.R = R
        self.below = np.nextafter(float(target), -np.inf)  # the highest score short of the target
        self.level = np.zeros((T + 1, R, N), dtype=np.int8)  # posture before step t
        self.threat = np.zeros((T + 1, R, N))  # threat before step t
        self.top = np.zeros((T, R), dtype=np.int8)  # running max of realised rungs after step t
        self.realised = np.zeros((T, R, N), dtype=np.int8)
        self.mde = np.zeros((T, R, N), dtype=bool)
        self.xi = np.zeros((T, R))  # score after step t
        self.hazard = np.zeros((T, R, N))  # each actor's accumulated jump hazard after step t (jumps only)
        self.carried = np.zeros(B)  # with jumps: sum over killed replicas of (weight before their level) / n x f
        self.stop = np.full(R, T, dtype=np.int64)  # steps in the path (the target step + 1, or T)
        self.steps = np.zeros(B, dtype=np.int64)
        self.regime_u = np.zeros((R, N))
        self.level[0] = sc.baseline
        self.genealogy = [[(0, 0, r % n)] for r in range(R)]
        # initial replicas: regime uniforms first, then their step stream
        segs = [_Segment(root, repetitions[r // n], 0, r % n) for r in range(R)]
        for r, s in enumerate(segs):
            self.regime_u[r] = s.rng.random(N)
        self.regime = run_regimes(sc, self.regime_u)
        # the score of the initial state (its regime drawn): a survivor above a level only there is
        # branched before step 0, keeping its regime
        self.xi0 = self._score(sc, 0, np.zeros(R, dtype=np.int64), self.level[0].astype(np.int64),
                               np.zeros((R, N)), self.regime, np.zeros((R, N)))
        self._advance(np.arange(R), np.zeros(R, dtype=np.int64), segs)
        self.S = np.maximum(self.xi0, self._path_max(np.arange(R)))

    def _path_max(self, rows):
        valid = np.arange(self.sc.horizon)[:, None] < self.stop[None, rows]
        return np.where(valid, self.xi[:, rows], -np.inf).max(axis=0)

    def _advance(self, rows, starts, segs):
        """Step ``rows`` from their ``starts`` (the state before that step, in the histories) to the horizon
        or the target, each on its own segment stream. Rows at the target already are left as they are.

        The rows being stepped are kept compact (``live`` indexes rows in start order; ``level``,
        ``threat``, ``regime``, ``top`` are theirs, in that order): rows join when their start comes and
        leave when they reach the target."""
        sc, T, N = self.sc, self.sc.horizon, self.sc.n_actors
        order = np.argsort(starts, kind="stable")
        rows, starts = rows[order], starts[order]
        segs = [segs[i] for i in order]
        K = len(rows)
        if K == 0:
            return
        top0 = np.where(starts > 0, self.top[np.maximum(starts - 1, 0), rows], -1).astype(np.int64)
        waiting = (top0 < self.target) & (starts < T)  # rows that will be stepped
        U = np.empty((K, CHUNK, n_uniforms(N)))
        E = np.empty((K, CHUNK, N, N))
        opened = np.searchsorted(starts, np.arange(T + 1), side="right")  # rows started by step t: [:opened[t]]
        live = np.zeros(0, dtype=np.int64)
        level = np.zeros((0, N), dtype=np.int64)
        threat = np.zeros((0, N))
        regime = np.zeros((0, N))
        top = np.zeros(0, dtype=np.int64)
        hazard = np.zeros((0, N))
        stepped = np.zeros(K, dtype=np.int64)
        t = int(starts[0])
        while t < T:
            a, b = (opened[t - 1] if t > starts[0] else 0), opened[t]
            if b > a:  # rows whose start is t join
                new = np.arange(a, b)[waiting[a:b]]
                r = rows[new]
                live = np.concatenate([live, new])
                level = np.concatenate([level, self.level[t, r].astype(np.int64)])
                threat = np.concatenate([threat, self.threat[t, r]])
                regime = np.concatenate([regime, self.regime[r]])
                top = np.concatenate([top, top0[new]])
                hazard = np.concatenate([hazard, self.hazard[t - 1, r] if t > 0 else np.zeros((len(r), N))])
            if live.size == 0:
                if b == K:
                    break
                t = int(starts[b])  # nothing to step until the next row starts
                continue
            phase = (t - starts[live]) % CHUNK
            for j in live[phase == 0]:
                fill_step(segs[j].rng, U[j], E[j])
            draws = StepDraws(U[live, phase], E[live, phase], N)
            here = select_rows(sc, rows[live]) if self.per_row else sc  # the live rows' own values
            level, threat, realised, mde, hazard = self._step_rows(here, t, level, threat, draws, regime, hazard)
            top = np.maximum(top, realised.max(axis=1))
            r = rows[live]
            reached = self._store(t, r, here, (level, threat, realised, mde, top, regime, hazard))
            stepped[live] += 1
            if reached.any():
                self.stop[r[reached]] = t + 1
                keep = ~reached
                live, level, threat, regime, top, hazard = (live[keep], level[keep], threat[keep], regime[keep],
                                                            top[keep], hazard[keep])
            t += 1
        np.add.at(self.steps, rows // self.n, stepped)

    def _step_rows(self, sc, t, level, threat, draws, regime, hazard):
        """:func:`_step` of the live rows; with jumps, as if none jumped, its chance added to their hazard."""
        self._mark = draws.normals[:, 0, 0]  # actor 0's reading of itself: a normal nothing else uses
        if self.jumps is not None:
            draws, more = condition_step(sc, t, level, threat, draws, regime, self.target)
            hazard = hazard + more
        return *_step(sc, t, level, threat, draws, regime), hazard

    def _score(self, sc, t, top, level, threat, regime, hazard):
        """xi of states (below the target); with jumps, plus the hazard part (:func:`jumps.jump_score`)."""
        xi = np.minimum(self.score(sc, t, top, level, threat, regime), self.below)
        if self.jumps is None:
            return xi
        if t > 0:  # a random part: clones of one replica that stay in its state still get apart
            xi = np.minimum(xi + MARK_WEIGHT * ndtr(self._mark), self.below)
        return jump_score(xi, hazard.sum(axis=1), self.target, self.jumps.cap)

    def _store(self, t, r, sc, state) -> np.ndarray:
        """Write step t of rows ``r`` (the state after it, ``state``, and its score) into their histories;
        which of them reached the target (their score is then the target exactly)."""
        level, threat, realised, mde, top, regime, hazard = state
        self.level[t + 1, r] = level
        self.threat[t + 1, r] = threat
        self.realised[t, r] = realised
        self.mde[t, r] = mde
        self.top[t, r] = top
        self.hazard[t, r] = hazard
        reached = top >= self.target
        xi = self._score(sc, t + 1, top, level, threat, regime, hazard)
        xi[reached] = self.target
        self.xi[t, r] = xi
        return reached

    def run(self, levels: int = MAX_ITERATIONS) -> list[Repetition]:
        """The repetitions to their end (a pilot stops after ``levels`` levels, its replicas as they are)."""
        n, k, target = self.n, self.k, self.target
        B = len(self.reps)
        weight = np.ones(B)
        iterations = np.zeros(B, dtype=np.int64)
        extinct = np.zeros(B, dtype=bool)
        running = np.ones(B, dtype=bool)
        q = 0
        while running.any() and q < levels:
            q += 1
            if q > MAX_ITERATIONS:
                raise RuntimeError(f"AMS did not stop within {MAX_ITERATIONS} iterations")
            rows_all, starts_all, segs_all = [], [], []
            for b in np.flatnonzero(running):
                sl = slice(b * n, (b + 1) * n)
                S = self.S[sl]
                Z = np.partition(S, k - 1)[k - 1]
                if Z >= target:
                    running[b] = False
                    continue
                killed = np.flatnonzero(S <= Z)
                self._count_killed(b, killed + b * n, weight[b])
                if killed.size == n:
                    extinct[b], running[b] = True, False
                    continue
                survivors = np.flatnonzero(S > Z)
                weight[b] *= 1.0 - killed.size / n
                iterations[b] = q
                pick = np.random.default_rng(child(self.root, Stream.PICK, self.reps[b], q)).integers(
                    0, survivors.size, size=killed.size)
                parents = survivors[pick] + b * n
                kids = killed + b * n
                # the first step after which the parent's score was above the level (-1: its initial state)
                branch = np.where(self.xi0[parents] > Z, -1, np.argmax(self.xi[:, parents] > Z, axis=0))
                self._clone(kids, parents, branch)
                rows_all.append(kids)
                starts_all.append(branch + 1)
                segs_all += [_Segment(self.root, self.reps[b], q, i) for i in killed]
                for kid, parent, tb in zip(kids, parents, branch):
                    self.genealogy[kid] = [g for g in self.genealogy[parent] if g[0] <= tb] + [
                        (int(tb) + 1, q, int(kid - b * n))]
            if rows_all:
                rows = np.concatenate(rows_all)
                self._advance(rows, np.concatenate(starts_all), segs_all)
                self.S[rows] = np.maximum(self.xi0[rows], self._path_max(rows))
        return [self._result(b, weight[b], iterations[b], extinct[b]) for b in range(B)]

    def _result(self, b, weight, iterations, extinct) -> Repetition:
        """Repetition b's estimate G/n x sum of f over its final replicas (f = 1 at the target; with
        jumps, 1 - exp(-Lambda) elsewhere) plus the killed replicas' share (:meth:`_count_killed`), and
        its replicas at the target."""
        n, target = self.n, self.target
        rows = np.arange(b * n, (b + 1) * n)
        hit = self.stop[rows] - 1
        at_target = ~extinct & (self.top[hit, rows] >= target)
        f = np.zeros(n) if extinct else observable(self.hazard[hit, rows].sum(axis=1), at_target)
        won = rows[at_target]
        return Repetition(
            repetition=self.reps[b], estimate=float(self.carried[b] + weight * f.sum() / n), weight=float(weight),
            reached=int(at_target.sum()), iterations=int(iterations), steps=int(self.steps[b]),
            extinct=bool(extinct),
            flat=bool(extinct and iterations == 0 and np.all(self.S[rows] <= self.xi0[rows])),
            paths=self._path_stats(rows[f > 0], weight / n * f[f > 0]),
            genealogy=[self.genealogy[r] for r in won], regime_uniforms=self.regime_u[won].copy(),
            hit_step=hit[at_target].copy(), levels=self.level[:, won].transpose(1, 0, 2).copy(),
            realised=self.realised[:, won].transpose(1, 0, 2).copy())

    def _count_killed(self, b, rows, weight):
        """With jumps, f is not 0 below the target: add the killed replicas' G/n x f (G before this level)."""
        if self.jumps is not None:
            f = observable(self.hazard[self.stop[rows] - 1, rows].sum(axis=1), False)
            self.carried[b] += weight / self.n * f.sum()

    def _clone(self, kids, parents, branch):
        """Copy each parent's path (whole; the kid's steps after its branch step are overwritten)."""
        for name in ("level", "threat", "top", "realised", "mde", "xi", "hazard"):
            arr = getattr(self, name)
            arr[:, kids] = arr[:, parents]
        for name in ("xi0", "regime", "regime_u"):
            arr = getattr(self, name)
            arr[kids] = arr[parents]
        # a kid whose branch step is the parent's target step is at the target already
        reached = (branch >= 0) & (self.top[np.maximum(branch, 0), kids] >= self.target)
        self.stop[kids] = np.where(reached, branch + 1, self.sc.horizon)

    def _path_stats(self, rows, weights) -> dict:
        """Weighted sums over final replicas with f > 0 (``weights``: G/n x f each): how their paths
        began and who reached the target. A path carried by its jump hazard counts up to the step by
        which it had half its hazard, and the actors reached it in proportion to their hazards."""
        N = self.sc.n_actors
        out = {"weight": float(np.sum(weights)), "began_with_mde": 0.0, "any_mde": 0.0, "no_climb": 0.0,
               "first_climber": np.zeros(N), "reached_by": np.zeros(N)}
        for r, w in zip(rows, weights):
            end, by = self._end(r)  # steps 0 .. end - 1
            level = self.level[:end + 1, r]
            climbs = level[1:] > level[:-1]  # (end, N): decided up-steps
            days = np.flatnonzero(climbs.any(axis=1))
            if days.size:
                t = days[0]
                who = climbs[t]
                out["first_climber"] += w * who / who.sum()
                out["began_with_mde"] += w * bool(self.mde[t, r][who].any())
            else:
                out["no_climb"] += w
            out["any_mde"] += w * bool(self.mde[:end, r].any())
            out["reached_by"] += w * by
        return out

    def _end(self, r):
        """A path's end for its statistics, and who reached the target: its target step and the actors there,
        or, carried by its hazard, :func:`sim.analysis.jumps.carried_end`."""
        end = self.stop[r]
        hit = self.realised[end - 1, r] >= self.target
        return (end, hit / hit.sum()) if hit.any() else carried_end(self.hazard[:, r])


def run_repetitions(sc: CompiledScenario, target: int, root, repetitions: list[int], n: int, k: int,
                    score: str = DEFAULT_SCORE, run_values=None, jumps: Jumps | None = None) -> list[Repetition]:
    """Repetitions ``repetitions`` of AMS, in batches of up to BATCH_ROWS replicas stepped side by side;
    ``run_values`` (key -> one value per repetition, in the order of ``repetitions``) gives each its draw;
    ``jumps``: the last jump into the target by conditional Monte Carlo (:mod:`sim.analysis.jumps`)."""
    per_batch = max(1, BATCH_ROWS // n)
    out = []
    for i in range(0, len(repetitions), per_batch):
        own = {key: v[i:i + per_batch] for key, v in run_values.items()} if run_values else None
        out += _Batch(sc, target, root, list(repetitions[i:i + per_batch]), n, k, SCORES[score], own, jumps).run()
    return out


