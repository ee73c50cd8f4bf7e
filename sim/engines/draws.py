"""The fixed layout of random numbers per step, the random streams of every purpose, and replay of one run.

Every step draws, for each of R runs, the same numbers whether they are used or not (MODEL.md
section 4): uniforms ``(R, 6N + P)`` laid out as [provocation N | accident N | rule N | deterrence N |
contact N | in-kind N | backchannel P], then standard normals ``(R, N, N)`` (observer, observed). Because the layout never
depends on the state, a run's draws are fixed by its generator alone, so the Mesa engine can replay any
ensemble run exactly, and a perfect-perception twin can share a run's numbers.

Streams. Every random number comes from ``SeedSequence(seed, spawn_key=KEY)``, KEY a path of
(purpose, *index) steps (:class:`Stream`). A *root* is made from a whole-number seed and a purpose
(:func:`make_root`): ``(RUN,)`` for ``escsim run``, ``(SWEEP_POINT, i)`` for point i of a sweep,
``(SWEEP_SHARED,)`` for a sweep on common random numbers, ``(CALIBRATION, b)`` for calibration batch
b, ``(HINDCAST,)`` for a hindcast, ``(FORECAST, T, Y)`` for the forecast of year Y from origin T. Below a root, streams are *children* (:func:`child`): ensemble
block b steps on ``root + (BLOCK, b)`` and draws its runs' regimes on ``root + (REGIME, b)``, Mesa run
k of an ensemble on ``root + (MESA_RUN, k)``, year Y of a history on ``root + (YEAR, Y)``, the
posterior draws of an ensemble on ``root + (POSTERIOR,)``. A child always extends its parent's key,
so no two purposes, and no two indices of one purpose, share a stream, whether a function is given
an int or a root (a plain ``SeedSequence(s)`` and ``SeedSequence((s, 0))`` are the same stream, which
is why seeds are never tuples here). Nothing calls ``SeedSequence.spawn``, which would change the
caller's object. Functions that take a ``seed`` take an int or a root; :func:`as_root` is the one
place an int becomes a root of a default purpose, and it takes no index, so it cannot drop one.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np

BLOCK_SIZE = 1024
"""Runs per ensemble block: each block has its own seed, so results never depend on workers."""


class Stream(enum.IntEnum):
    """The purposes random numbers are drawn for: the steps of every stream's spawn key."""

    # roots, made from a whole-number seed (make_root)
    RUN = 1  # escsim run and simulate(seed=int)
    SWEEP_POINT = 2  # one point of a sweep, followed by its index
    SWEEP_SHARED = 3  # every point of a sweep on common random numbers
    CALIBRATION = 4  # calibration's simulations, followed by the batch
    MODEL_REGIME = 5  # a stand-alone Mesa model's regime draws, beside its own step stream
    HINDCAST = 6  # a hindcast (its years are children)
    FORECAST = 7  # a forecast, followed by its origin and year (sim/data/forecast.py)
    RARE = 20  # adaptive multilevel splitting (its repetitions are children)
    # children, below a root (child)
    BLOCK = 10
    REGIME = 11
    MESA_RUN = 12
    YEAR = 13  # one year of a simulated history, followed by the year
    POSTERIOR = 14  # which posterior sample each draw of an ensemble takes
    DRAW = 15  # one posterior draw of a rare-outcome estimate, followed by its index
    REPLICA = 16  # a rare-outcome replica's segment: repetition, iteration, replica
    PICK = 17  # the parents picked at one level of a rare-outcome repetition: repetition, iteration
    PRIOR = 18  # parameter vectors drawn from a calibration's priors
    PILOT = 19  # the pilot replicas that set a rare-outcome estimate's jump cap (below the RARE root)


Seed = int | np.random.SeedSequence
"""What functions that run something take: a whole-number seed, or a root (:func:`make_root`)."""


def _check_seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"a seed is a whole number >= 0; got {seed!r}")
    return int(seed)


def make_root(seed: int, purpose: Stream, *index: int) -> np.random.SeedSequence:
    """The root stream of ``purpose`` (and its ``index``) for a whole-number seed:
    ``SeedSequence(seed, spawn_key=(purpose, *index))``. A root is refused (derive with :func:`child`)."""
    if isinstance(seed, np.random.SeedSequence):
        raise TypeError("make_root takes a whole-number seed; below a root, use child(root, purpose, *index)")
    return np.random.SeedSequence(_check_seed(seed), spawn_key=(int(Stream(purpose)), *map(int, index)))


def as_root(seed: Seed, purpose: Stream = Stream.RUN) -> np.random.SeedSequence:
    """The root a function's ``seed`` stands for: an int is ``make_root(seed, purpose)``; a root given
    by the caller (a sweep point's, a calibration batch's) is used as it is. Streams below it are its
    children (:func:`child`), never the root itself under another name."""
    if isinstance(seed, np.random.SeedSequence):
        return seed
    return make_root(seed, purpose)


def child(seed: Seed, purpose: Stream, *index: int) -> np.random.SeedSequence:
    """The stream ``root + (purpose, *index)`` below ``as_root(seed)``, made without touching the root
    (``spawn`` would advance it). Its key is always one step longer than the root's."""
    root = as_root(seed)
    return np.random.SeedSequence(root.entropy, spawn_key=(*root.spawn_key, int(Stream(purpose)), *map(int, index)),
                                  pool_size=root.pool_size)


def describe_seed(seed: Seed) -> dict:
    """A root as JSON: ``{"seed": entropy, "stream": [purpose, *index, ...]}`` (see :func:`root_from`)."""
    root = as_root(seed)
    return {"seed": int(root.entropy), "stream": [int(k) for k in root.spawn_key]}


def root_from(described: dict) -> np.random.SeedSequence:
    """The root :func:`describe_seed` wrote (a results manifest's ``seed`` and ``stream``)."""
    return np.random.SeedSequence(int(described["seed"]), spawn_key=tuple(int(k) for k in described["stream"]))


def stream_label(seed: Seed) -> str:
    """A short text for tables: ``"7 run"``, ``"7 sweep_point 3"``, ``"7 calibration 2 year 2016"``."""
    root = as_root(seed)
    words = [str(root.entropy)]
    for k in root.spawn_key:
        try:
            words.append(Stream(k).name.lower())
        except ValueError:
            words.append(str(k))
    return " ".join(words)


@dataclass(frozen=True)
class StepDraws:
    """The random numbers of one step for R runs; the views name the layout's parts."""

    uniforms: np.ndarray  # (R, 6N + P)
    normals: np.ndarray  # (R, N, N)
    n_actors: int

    def _u(self, k: int) -> np.ndarray:
        n = self.n_actors
        return self.uniforms[:, k * n:(k + 1) * n]

    @property
    def provocation(self) -> np.ndarray:
        return self._u(0)

    @property
    def accident(self) -> np.ndarray:
        return self._u(1)

    @property
    def rule(self) -> np.ndarray:
        return self._u(2)

    @property
    def deterrence(self) -> np.ndarray:
        return self._u(3)

    @property
    def contact(self) -> np.ndarray:
        return self._u(4)

    @property
    def in_kind(self) -> np.ndarray:
        return self._u(5)

    @property
    def backchannel(self) -> np.ndarray:
        return self.uniforms[:, 6 * self.n_actors:]

    def run(self, index: int) -> StepDraws:
        """The draws of one run, as a batch of one (views, no copy)."""
        return StepDraws(self.uniforms[index:index + 1], self.normals[index:index + 1], self.n_actors)


def n_uniforms(n_actors: int) -> int:
    """Uniforms per run and step: 6N + N(N-1)/2."""
    return 6 * n_actors + n_actors * (n_actors - 1) // 2


def draw_step(rng: np.random.Generator, runs: int, n_actors: int) -> StepDraws:
    """Draw one step's numbers for ``runs`` runs in the fixed layout."""
    out = StepDraws(np.empty((runs, n_uniforms(n_actors))), np.empty((runs, n_actors, n_actors)), n_actors)
    fill_step(rng, out.uniforms, out.normals)
    return out


def fill_step(rng: np.random.Generator, uniforms: np.ndarray, normals: np.ndarray) -> None:
    """Draw one step's numbers into preallocated arrays (uniforms first, then normals), in place."""
    rng.random(out=uniforms)
    rng.standard_normal(out=normals)


def run_seed(seed: Seed, run: int) -> np.random.SeedSequence:
    """The stream of Mesa run ``run`` of an ensemble seeded ``seed`` (independent of other runs)."""
    return child(seed, Stream.MESA_RUN, run)


def block_seed(seed: Seed, block: int) -> np.random.SeedSequence:
    """The step stream of ensemble block ``block``: fixed by (seed, block) alone, whoever runs it."""
    return child(seed, Stream.BLOCK, block)


def block_regime_uniforms(seed: Seed, block: int, n_actors: int, block_size: int = BLOCK_SIZE) -> np.ndarray:
    """The regime uniforms of every run of block ``block``: (block_size, N), fixed by (seed, block)."""
    rng = np.random.default_rng(child(seed, Stream.REGIME, block))
    return rng.random((block_size, n_actors))


def model_regime_uniforms(rng: np.random.Generator, n_actors: int) -> np.ndarray:
    """A stand-alone Mesa run's regime uniforms (1, N): a stream beside the generator's own, derived
    from its SeedSequence without advancing it or the generator."""
    seed_seq = rng.bit_generator.seed_seq
    if not isinstance(seed_seq, np.random.SeedSequence):  # a generator built from raw state: draw from it
        return rng.random((1, n_actors))
    return np.random.default_rng(child(seed_seq, Stream.MODEL_REGIME)).random((1, n_actors))


class RunDraws:
    """A stream of one run's step draws, either its own or one row of an ensemble block.

    ``RunDraws(rng, n)`` draws a batch of one from ``rng`` (an ordinary Mesa run).
    ``RunDraws.from_block(seed, block, index, n, block_size)`` regenerates block ``block``'s draws
    step by step and yields row ``index``: the exact numbers that ensemble run saw.
    """

    def __init__(self, rng: np.random.Generator, n_actors: int, *, batch: int = 1, index: int = 0,
                 regime: np.ndarray | None = None):
        self.rng = rng
        self.n_actors = n_actors
        self.batch = batch
        self.index = index
        self.regime = regime if regime is not None else model_regime_uniforms(rng, n_actors)

    @classmethod
    def from_block(cls, seed: Seed, block: int, index: int, n_actors: int,
                   block_size: int = BLOCK_SIZE) -> RunDraws:
        if not 0 <= index < block_size:
            raise ValueError(f"run index {index} is outside a block of {block_size} runs")
        regime = block_regime_uniforms(seed, block, n_actors, block_size)[index:index + 1]
        return cls(np.random.default_rng(block_seed(seed, block)), n_actors, batch=block_size, index=index,
                   regime=regime)

    def next(self) -> StepDraws:
        step = draw_step(self.rng, self.batch, self.n_actors)
        return step if (self.batch, self.index) == (1, 0) else step.run(self.index)  # a batch of one is the run


class FixedDraws:
    """Draws given in full, step by step: for hand-worked tests and external replays.

    ``uniforms`` has shape (T, 6N + P) and ``normals`` (T, N, N); step t returns row t. ``regime``
    (N,) are the run's regime uniforms (default 0.5 each: the median multiplier).
    """

    def __init__(self, uniforms: np.ndarray, normals: np.ndarray, n_actors: int, regime=None):
        self.uniforms = np.asarray(uniforms, dtype=float)
        self.normals = np.asarray(normals, dtype=float)
        self.n_actors = n_actors
        self.regime = np.full((1, n_actors), 0.5) if regime is None else np.asarray(regime, float).reshape(1, -1)
        self.t = 0

    def next(self) -> StepDraws:
        t = self.t
        self.t += 1
        return StepDraws(self.uniforms[t:t + 1], self.normals[t:t + 1], self.n_actors)
