"""The fixed layout of random numbers per step, block seeding, and replay of one run's draws.

Every step draws, for each of R runs, the same numbers whether they are used or not (MODEL.md
section 4): uniforms ``(R, 4N + P)`` laid out as [provocation N | accident N | rule N | deterrence N |
backchannel P], then standard normals ``(R, N, N)`` (observer, observed). Because the layout never
depends on the state, a run's draws are fixed by its generator alone, so the Mesa engine can replay any
ensemble run exactly, and a perfect-perception twin can share a run's numbers.

Besides the step draws, each run has one uniform per actor for its provocation regime (a run-long
multiplier on the base rate, see ``kernel.regime_multiplier``). They come from a stream of their own
(spawn key (2, block) for a block, a child of the run's generator for a Mesa run), so adding them
left every step draw as it was, and they are drawn whether a scenario uses regimes or not.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

Seed = int | tuple[int, ...]
"""An ensemble's seed: an int, or a tuple of ints (a sweep point's (experiment seed, point index))."""

BLOCK_SIZE = 1024
"""Runs per ensemble block: each block has its own seed, so results never depend on workers."""

_MESA_STREAM = 0  # spawn-key namespaces keep Mesa runs and ensemble blocks on disjoint streams
_BLOCK_STREAM = 1
_REGIME_STREAM = 2


@dataclass(frozen=True)
class StepDraws:
    """The random numbers of one step for R runs; the views name the layout's parts."""

    uniforms: np.ndarray  # (R, 4N + P)
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
    def backchannel(self) -> np.ndarray:
        return self.uniforms[:, 4 * self.n_actors:]

    def run(self, index: int) -> StepDraws:
        """The draws of one run, as a batch of one (views, no copy)."""
        return StepDraws(self.uniforms[index:index + 1], self.normals[index:index + 1], self.n_actors)


def n_uniforms(n_actors: int) -> int:
    """Uniforms per run and step: 4N + N(N-1)/2."""
    return 4 * n_actors + n_actors * (n_actors - 1) // 2


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
    """The seed of Mesa run ``run`` of an ensemble seeded ``seed`` (independent of other runs)."""
    return np.random.SeedSequence(seed, spawn_key=(_MESA_STREAM, run))


def block_seed(seed: Seed, block: int) -> np.random.SeedSequence:
    """The seed of ensemble block ``block``: fixed by (seed, block) alone, whoever runs it."""
    return np.random.SeedSequence(seed, spawn_key=(_BLOCK_STREAM, block))


def block_regime_uniforms(seed: Seed, block: int, n_actors: int, block_size: int = BLOCK_SIZE) -> np.ndarray:
    """The regime uniforms of every run of block ``block``: (block_size, N), fixed by (seed, block)."""
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(_REGIME_STREAM, block)))
    return rng.random((block_size, n_actors))


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
        # a child generator: the run's step stream is the same whether regimes are drawn or not
        self.regime = regime if regime is not None else rng.spawn(1)[0].random((1, n_actors))

    @classmethod
    def from_block(cls, seed: int, block: int, index: int, n_actors: int,
                   block_size: int = BLOCK_SIZE) -> RunDraws:
        if not 0 <= index < block_size:
            raise ValueError(f"run index {index} is outside a block of {block_size} runs")
        regime = block_regime_uniforms(seed, block, n_actors, block_size)[index:index + 1]
        return cls(np.random.default_rng(block_seed(seed, block)), n_actors, batch=block_size, index=index,
                   regime=regime)

    def next(self) -> StepDraws:
        return draw_step(self.rng, self.batch, self.n_actors).run(self.index)


class FixedDraws:
    """Draws given in full, step by step: for hand-worked tests and external replays.

    ``uniforms`` has shape (T, 4N + P) and ``normals`` (T, N, N); step t returns row t. ``regime``
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
