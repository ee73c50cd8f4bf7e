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
rungs, the step), stepped only through :func:`sim.ensemble.step_runs` (one call site: :func:`_step`),
with every replica's whole path kept so that a clone copies its parent's prefix row-wise. Every
repetition's random numbers depend on (seed, repetition) alone: replica i of iteration q draws on the
stream ``root + (REPLICA, repetition, q, i)`` and the parents of iteration q are picked on
``root + (PICK, repetition, q)``, where ``root`` is the rare-event root of the seed
(:func:`rare_root`; purposes of :class:`sim.draws.Stream`). So
the numbers are the same for any number of workers or any batching of repetitions, and a replica's
path can be replayed in the Mesa engine (:func:`replay_model`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .compile import CompiledScenario
from .draws import Seed, StepDraws, Stream, child, fill_step, make_root, n_uniforms
from .errors import InputError
from .parameters import select_rows
from .resolve import Resolved, resolve
from .stats import mean_interval

CHUNK = 32
"""Steps of draws per chunk of a replica's stream: each chunk is one ``fill_step`` of (CHUNK, ...)."""

DEFAULT_REPLICAS = 200
DEFAULT_REPETITIONS = 20
KILL_FRACTION = 0.5  # k = max(1, round(KILL_FRACTION * n)): the level is the k-th smallest score
MAX_ITERATIONS = 20_000  # a guard against a score that creeps up forever; never reached in practice
BATCH_ROWS = 4096  # replicas of several repetitions stepped side by side in one process
METHOD = "adaptive multilevel splitting (generalised AMS, Brehier et al. 2016)"


# Targets --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """A rare target: its name (as given) and rung."""

    name: str
    rung: int


def parse_target(sc: CompiledScenario, text: str) -> Target:
    """``crisis``, ``war``, ``nuclear`` (also ``nuclear_use``, ``top``), a rung's name, or a rung number."""
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
                         f"1..{K}") from None
    if rung > K:
        raise InputError(f"--rare {text}: above the ladder, whose top rung is {K} ({sc.rung_names[K]})")
    if rung < 1:
        raise InputError(f"--rare {text}: rung {rung} is not a rare target; use a rung number 1..{K}")
    return Target(str(rung), rung)


def highest_reachable(sc: CompiledScenario) -> int:
    """The highest rung any actor's realised action can ever reach: an upper bound from the scenario.

    An actor's intent is at most the highest of its ceiling, its drill rungs and (when it provokes)
    its provocation rung; an accident adds one rung where that rung's accident rate is above 0; an
    exchange of fire (where the scenario has one) realises the crisis rung.
    """
    K = sc.top_rung
    best = 0
    for i in range(sc.n_actors):
        intent = max(int(sc.ceiling[i]), int(sc.baseline[i]), int(sc.drill_rung[:, i].max(initial=-1)))
        rates = [getattr(sc, name, None) for name in ("base_rate", "contact_rate")]
        if any(r is not None and r[i] > 0 for r in rates):
            intent = max(intent, int(sc.provocation_rung[i]))
        best = max(best, min(K, intent + 1) if sc.accident[intent] > 0 else intent)
    in_kind, contact = getattr(sc, "in_kind", None), getattr(sc, "contact_rate", None)
    if in_kind is not None and contact is not None and np.any(in_kind > 0) and np.any(contact > 0):
        best = max(best, sc.crisis_rung)
    return best


def check_rare(sc: CompiledScenario, targets, replicas: int, repetitions: int) -> list[Target]:
    """Parse the targets and check the counts; one InputError line per problem, before anything runs."""
    problems, parsed = [], []
    for text in targets:
        try:
            parsed.append(parse_target(sc, text))
        except InputError as exc:
            problems.extend(exc.problems)
    if not isinstance(replicas, (int, np.integer)) or replicas < 2:
        problems.append(f"--replicas {replicas}: AMS needs at least 2 replicas")
    if not isinstance(repetitions, (int, np.integer)) or repetitions < 1:
        problems.append(f"--repetitions {repetitions}: needs at least 1 repetition")
    if problems:
        raise InputError(problems)
    return parsed


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


def _step(sc, t, level, threat, draws, regime):
    """One step of R replicas through the ensemble engine's ``step_runs``: next level, next threat,
    the realised actions and the MDE tags (R, N)."""
    from .ensemble import step_runs

    nxt, th, step = step_runs(sc, t, level, threat, draws, regime)
    return nxt, th, step["realised"], step["mde"]


# Streams ----------------------------------------------------------------------------------------------


def rare_root(seed: Seed) -> np.random.SeedSequence:
    """The root of rare-event streams: ``(RARE,)`` for an int seed; ``root + (RARE,)`` below a given root."""
    if isinstance(seed, np.random.SeedSequence):
        return child(seed, Stream.RARE)
    return make_root(seed, Stream.RARE)


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
    estimate: float  # weight x (final replicas at the target) / n
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

    def __init__(self, sc, target: int, root, repetitions: list[int], n: int, k: int, score, parameters=None):
        from .kernel import regime_multiplier
        from .parameters import with_run_parameters

        # a repetition's posterior draw (parameters: key -> one value per repetition) holds for its replicas
        self.per_row = bool(parameters)
        if parameters:
            sc = with_run_parameters(sc, {key: np.repeat(np.asarray(v, dtype=float), n) for key, v in parameters.items()})
        self.sc, self.target, self.root, self.reps, self.n, self.k = sc, target, root, repetitions, n, k
        self.score = score
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
        self.stop = np.full(R, T, dtype=np.int64)  # steps in the path (the target step + 1, or T)
        self.steps = np.zeros(B, dtype=np.int64)
        self.regime_u = np.zeros((R, N))
        self.level[0] = sc.baseline
        self.genealogy = [[(0, 0, r % n)] for r in range(R)]
        # initial replicas: regime uniforms first, then their step stream
        segs = [_Segment(root, repetitions[r // n], 0, r % n) for r in range(R)]
        for r, s in enumerate(segs):
            self.regime_u[r] = s.rng.random(N)
        self.regime = regime_multiplier(self.regime_u, sc.regime_dispersion)
        # the score of the initial state (its regime drawn): a survivor above a level only there is
        # branched before step 0, keeping its regime
        self.xi0 = np.minimum(score(sc, 0, np.zeros(R, dtype=np.int64), self.level[0].astype(np.int64),
                                    np.zeros((R, N)), self.regime), self.below)
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
            level, threat, realised, mde = _step(here, t, level, threat, draws, regime)
            top = np.maximum(top, realised.max(axis=1))
            r = rows[live]
            self.level[t + 1, r] = level
            self.threat[t + 1, r] = threat
            self.realised[t, r] = realised
            self.mde[t, r] = mde
            self.top[t, r] = top
            reached = top >= self.target
            xi = np.minimum(self.score(here, t + 1, top, level, threat, regime), self.below)
            xi[reached] = self.target
            self.xi[t, r] = xi
            stepped[live] += 1
            if reached.any():
                self.stop[r[reached]] = t + 1
                keep = ~reached
                live, level, threat, regime, top = live[keep], level[keep], threat[keep], regime[keep], top[keep]
            t += 1
        np.add.at(self.steps, rows // self.n, stepped)

    def run(self) -> list[Repetition]:
        sc, n, k, target, T = self.sc, self.n, self.k, self.target, self.sc.horizon
        B = len(self.reps)
        weight = np.ones(B)
        iterations = np.zeros(B, dtype=np.int64)
        extinct = np.zeros(B, dtype=bool)
        running = np.ones(B, dtype=bool)
        q = 0
        while running.any():
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
        out = []
        for b, rep in enumerate(self.reps):
            rows = np.arange(b * n, (b + 1) * n)
            hit = self.stop[rows] - 1
            at_target = ~extinct[b] & (self.top[hit, rows] >= target)
            won = rows[at_target]
            out.append(Repetition(
                repetition=rep, estimate=float(weight[b] * at_target.sum() / n), weight=float(weight[b]),
                reached=int(at_target.sum()), iterations=int(iterations[b]), steps=int(self.steps[b]),
                extinct=bool(extinct[b]),
                flat=bool(extinct[b] and iterations[b] == 0 and np.all(self.S[rows] <= self.xi0[rows])),
                paths=self._path_stats(won, weight[b] / n),
                genealogy=[self.genealogy[r] for r in won], regime_uniforms=self.regime_u[won].copy(),
                hit_step=hit[at_target].copy(), levels=self.level[:, won].transpose(1, 0, 2).copy(),
                realised=self.realised[:, won].transpose(1, 0, 2).copy()))
        return out

    def _clone(self, kids, parents, branch):
        """Copy each parent's path (whole; the kid's steps after its branch step are overwritten)."""
        for name in ("level", "threat", "top", "realised", "mde", "xi"):
            arr = getattr(self, name)
            arr[:, kids] = arr[:, parents]
        for name in ("xi0", "regime", "regime_u"):
            arr = getattr(self, name)
            arr[kids] = arr[parents]
        # a kid whose branch step is the parent's target step is at the target already
        reached = (branch >= 0) & (self.top[np.maximum(branch, 0), kids] >= self.target)
        self.stop[kids] = np.where(reached, branch + 1, self.sc.horizon)

    def _path_stats(self, rows, w) -> dict:
        """Weighted sums over final replicas at the target: how their paths began and who reached it."""
        N = self.sc.n_actors
        out = {"weight": float(w * rows.size), "began_with_mde": 0.0, "any_mde": 0.0, "no_climb": 0.0,
               "first_climber": np.zeros(N), "reached_by": np.zeros(N)}
        for r in rows:
            end = self.stop[r]  # steps 0 .. end - 1
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
            hit = self.realised[end - 1, r] >= self.target
            out["reached_by"] += w * hit / max(hit.sum(), 1)
        return out


def run_repetitions(sc: CompiledScenario, target: int, root, repetitions: list[int], n: int, k: int,
                    score: str = DEFAULT_SCORE, parameters=None) -> list[Repetition]:
    """Repetitions ``repetitions`` of AMS, in batches of up to BATCH_ROWS replicas stepped side by side;
    ``parameters`` (key -> one value per repetition, in the order of ``repetitions``) gives each its draw."""
    per_batch = max(1, BATCH_ROWS // n)
    out = []
    for i in range(0, len(repetitions), per_batch):
        own = {key: v[i:i + per_batch] for key, v in parameters.items()} if parameters else None
        out += _Batch(sc, target, root, list(repetitions[i:i + per_batch]), n, k, SCORES[score], own).run()
    return out


# The estimate over repetitions -----------------------------------------------------------------------


@dataclass
class RareResult:
    """AMS repetitions for one target, or the reason none were needed (``decided``: 0 or 1)."""

    scenario: CompiledScenario
    target: Target
    seed: Seed
    score: str
    replicas: int
    kill: int  # k: the level is the k-th smallest score
    repetitions: list[Repetition] = field(default_factory=list)
    decided: float | None = None  # 0 (unreachable) or 1 (every run starts there): no repetitions run
    reason: str | None = None
    resolved: Resolved | None = None  # with per-repetition values: repetition j takes run j's (one draw each)

    @property
    def estimates(self) -> np.ndarray:
        return np.array([r.estimate for r in self.repetitions])


def estimate_rare(sc: CompiledScenario, target: Target | str | int, *, replicas: int = DEFAULT_REPLICAS,
                  repetitions: int = DEFAULT_REPETITIONS, seed: Seed = 0, score: str = DEFAULT_SCORE,
                  kill_fraction: float = KILL_FRACTION, workers: int | None = None,
                  resolved: Resolved | None = None) -> RareResult:
    """P(some realised action reaches the target rung within the horizon) by ``repetitions`` independent
    AMS repetitions of ``replicas`` replicas each, on up to ``workers`` processes (default: all cores).

    Repetition j draws only on streams fixed by (seed, j), so no choice of ``workers`` changes a
    number. With ``resolved`` (:func:`resolve_rare`: one posterior draw per repetition) repetition j
    runs at draw j's values: each repetition's estimate is unbiased for its draw's probability, so
    their mean is unbiased for the probability averaged over the posterior, and the t interval over
    the repetitions (independent draws) holds the parameters' uncertainty with the splitting's error. An unreachable target (above every actor's highest possible realised rung) gives 0, and
    a target every run starts at gives 1, at once and with the reason.
    """
    from .parallel import chunks, default_workers, map_in_order

    if not isinstance(target, Target):
        target = parse_target(sc, str(target))
    check_rare(sc, [target.name], replicas, repetitions)
    if score not in SCORES:
        raise InputError(f"score {score!r}: use one of {', '.join(SCORES)}")
    k = min(replicas - 1, max(1, round(kill_fraction * replicas)))
    if resolved is not None and resolved.runs != repetitions:
        raise ValueError(f"resolved holds {resolved.runs} draws for {repetitions} repetitions")
    out = RareResult(sc, target, seed, score, replicas, k, resolved=resolved)
    top = highest_reachable(sc)
    if target.rung > top:
        out.decided, out.reason = 0.0, (
            f"unreachable: no actor's realised action can reach rung {target.rung} ({sc.rung_names[target.rung]}); "
            f"the highest possible is rung {top} ({sc.rung_names[top]}), from the actors' ceilings, drill and "
            f"provocation rungs, and one rung more by accident where that rung's accident rate is above 0")
        return out
    if int(sc.baseline.max()) >= target.rung:
        out.decided, out.reason = 1.0, f"every run starts at or above rung {target.rung} (an actor's baseline)"
        return out
    workers = min(workers or default_workers(), repetitions)
    per_task = -(-repetitions // workers)
    values = resolved.parameters if resolved is not None else None
    tasks = [(sc, target.rung, rare_root(seed), list(range(a, b)), replicas, k, score,
              {key: v[a:b] for key, v in values.items()} if values else None)
             for a, b in chunks(repetitions, per_task)]
    out.repetitions = [r for part in map_in_order(run_repetitions, tasks, workers) for r in part]
    if all(r.flat for r in out.repetitions):
        out.reason = (f"no way up: in {repetitions} x {replicas} runs no replica's score rose above its "
                      f"starting value, so none came nearer rung {target.rung}")
    elif all(r.extinct for r in out.repetitions):
        out.reason = ("every repetition died out (all replicas tied at some level): the probability is too small "
                      "for this many replicas to resolve; more replicas may")
    return out


def summarise_rare(res: RareResult, confidence: float = 0.95) -> dict:
    """The AMS estimate as JSON: mean of the repetitions with a Student t interval, its relative error,
    the work, what crude Monte Carlo would need for the same relative error, and how the paths at the
    target looked (shares weighted by the AMS weights)."""
    from .draws import describe_seed

    sc, T = res.scenario, res.scenario.horizon
    out = {"target": res.target.name, "rung": res.target.rung, "rung_name": sc.rung_names[res.target.rung],
           "method": METHOD, "parameters": _parameters_text(res), "score": res.score,
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
    return _finite(out)


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


def _finite(obj):
    """NaN (an undefined interval or error) as None, so that the JSON is standard."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_finite(v) for v in obj]
    return obj


# Replay --------------------------------------------------------------------------------------------------


def replay_draws(sc: CompiledScenario, seed: Seed, repetition: int, genealogy, regime_uniforms):
    """The draws a replica saw, step by step, as :class:`sim.draws.FixedDraws`: its segments' streams
    regenerated and joined at the steps where it was cloned."""
    from .draws import FixedDraws

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
    from .model import EscalationModel

    from .parameters import at_values

    rep = next(r for r in res.repetitions if r.repetition == repetition)
    draws = replay_draws(res.scenario, res.seed, repetition, rep.genealogy[index], rep.regime_uniforms[index])
    own = res.resolved.run_parameters(repetition) if res.resolved is not None else None
    return EscalationModel(at_values(res.scenario, own or {}), draws=draws)
