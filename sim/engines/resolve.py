"""The one place a posterior reaches the numbers: (scenario, posterior, overrides, seed, runs) -> what each run takes.

Every command that runs a scenario (``run``, ``compare``, ``sweep``, ``compare --over``, ``hindcast``,
``replay``, ``--rare``, the page and :func:`sim.run`) calls :func:`resolve`, and nothing else decides
which runs draw which posterior sample. The answer, a :class:`Resolved`, holds:

- the scenario as built (overrides applied) and compiled;
- the runs and the seed's root stream (:mod:`sim.engines.draws`);
- when the runs draw from a posterior, the draws (:class:`Draws`): run k takes draw
  ``k // runs_per_draw``, and draw d takes the posterior's sample ``index[d]``, drawn by weight on the
  stream ``root + (POSTERIOR,)``; so two settings resolved with the same seed, runs and posterior take
  the same samples run for run, and their runs pair;
- each run's values of the drawn keys (``run_values``, key -> (runs,)), less the keys an override
  fixes for every run (a ``--set`` of a drawn key wins, and :meth:`Resolved.describe` says so);
- an identity (:meth:`Resolved.identity`): seed, stream, runs, engine and the posterior's file, digest,
  draws and runs per draw, which manifests record and comparisons check before they pair runs.

``drills.*.scale_factor`` and ``drills.*.ambiguity_factor`` (per-run factors, not scenario keys) may be
overridden too: they then hold the given value in every run.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sim.model.compile import CompiledScenario, compile_scenario
from sim.engines.draws import Seed, as_root, describe_seed
from sim.core.errors import InputError
from sim.engines.run_values import DRILL_KEYS, check_keys
from sim.engines.posterior import Posterior, posterior_for
from sim.model.scenario import ScenarioFile
from sim.model.schema import Scenario

DEFAULT_RUNS = {"ensemble": 10_000, "mesa": 200}
"""Runs at the scenario's point values, by engine, unless ``runs`` says otherwise."""
DEFAULT_DRAWS = 640
"""Posterior draws of a run that draws its parameters, unless ``runs`` says otherwise: 640 draws of
64 runs (40,960 runs). The draws, not the runs, carry the parameters' uncertainty, so at a fixed cost
many small draws give the posterior average a narrower interval than few large ones: P(crisis) +-1.1
points against +-2.1 with 160 draws of 256 runs (docs/model.md section 13)."""
ENGINES = tuple(DEFAULT_RUNS)


@dataclass(frozen=True)
class Draws:
    """Posterior draws shared by consecutive runs: run k takes draw ``k // runs_per_draw``, and draw d
    the posterior's sample ``index[d]``. ``fixed`` names drawn keys that an override holds fixed in
    every run instead."""

    posterior: Posterior
    runs_per_draw: int
    index: np.ndarray  # (D,) sample rows
    fixed: tuple[str, ...] = ()

    @property
    def count(self) -> int:
        return len(self.index)

    @property
    def drawn_keys(self) -> list[str]:
        return [k for k in self.posterior.keys if k not in self.fixed]

    def identity(self) -> dict:
        """What two ensembles must share for their runs to take the same samples."""
        return {"file": self.posterior.path, "sha256": self.posterior.digest, "draws": self.count,
                "runs_per_draw": self.runs_per_draw}

    def of_runs(self, runs: int) -> np.ndarray:
        """The draw of each run, (runs,)."""
        return np.arange(runs) // self.runs_per_draw


@dataclass(frozen=True)
class Resolved:
    """A scenario ready to run: see the module docstring. Build it with :func:`resolve`."""

    scenario: Scenario
    compiled: CompiledScenario
    runs: int
    seed: np.random.SeedSequence
    engine: str
    overrides: dict = field(default_factory=dict)
    draws: Draws | None = None
    run_values: dict[str, np.ndarray] | None = None

    def identity(self) -> dict:
        """Seed, stream, runs, engine and posterior: runs of two ensembles with the same identity pair."""
        return {**describe_seed(self.seed), "runs": self.runs, "engine": self.engine,
                "posterior": self.draws.identity() if self.draws else None}

    def varied(self, scenario: Scenario, compiled: CompiledScenario, overrides: Mapping,
               seed: Seed) -> Resolved:
        """The same runs and posterior draws at another point of a design: ``scenario`` (compiled:
        ``compiled``) built from this one's with ``overrides`` applied, its runs on ``seed``. Drawn keys
        the overrides set are held fixed there (as :func:`resolve` holds them); the arrays are shared,
        not copied, so a sweep of many points keeps one set of draws in memory."""
        overrides = {**self.overrides, **overrides}
        fixed = _fixed_factors(compiled, {k: v for k, v in overrides.items() if k in DRILL_KEYS})
        draws, run_values = self.draws, dict(self.run_values or {})
        if draws is not None:
            held = _held_keys(draws.posterior, overrides)
            draws = Draws(draws.posterior, draws.runs_per_draw, draws.index, held)
            run_values = {k: v for k, v in run_values.items() if k not in held}
        run_values |= {k: np.full(self.runs, v) for k, v in fixed.items()}
        if run_values:
            check_keys(compiled, run_values, draws.posterior.path if draws else "--set")
        return Resolved(scenario, compiled, self.runs, as_root(seed), self.engine, overrides, draws, run_values or None)

    def run_values_of(self, run: int) -> dict[str, np.ndarray] | None:
        """Run ``run``'s own values (key -> (1,)), or None at the point values."""
        if not self.run_values:
            return None
        return {k: v[run:run + 1] for k, v in self.run_values.items()}

    def describe(self) -> str:
        """One line: the parameters (the posterior with its draws, or point values), overrides and seed."""
        if self.draws:
            d = self.draws
            what = (f"drawn from {d.posterior.path or 'a posterior'} ({d.count} draw{'s' * (d.count != 1)} x "
                    f"{d.runs_per_draw} run{'s' * (d.runs_per_draw != 1)})")
            if d.fixed:
                what += f"; fixed by overrides in every run: {', '.join(d.fixed)}"
        else:
            what = "the scenario's point values"
        if self.overrides:
            what += "; overrides: " + ", ".join(f"{k}={_show(v)}" for k, v in self.overrides.items())
        return what


def _show(v) -> str:
    import json

    if isinstance(v, bool):
        return str(v).lower()
    return json.dumps(v, default=str) if isinstance(v, (str, list, dict)) else str(v)


def resolve(scenario: str | Path | ScenarioFile | Scenario, *, overrides: Mapping | None = None,
            posterior: str | Path | Posterior | None = "scenario", seed: Seed = 0, runs: int | None = None,
            engine: str = "ensemble", runs_per_draw: int | None = None, draws_seed: Seed | None = None,
            origin=None) -> Resolved:
    """Resolve what each run of ``scenario`` takes (see the module docstring).

    ``scenario`` is a scenario file (path or :class:`ScenarioFile`), built with ``overrides`` (dotted key
    path -> value; ``origin(key)`` names where each came from in errors), or a :class:`Scenario` already
    built with them (``overrides`` then only tells which keys they fixed). ``posterior`` is
    ``"scenario"`` (the scenario's own ``posterior`` key, if any), ``None`` or ``"none"`` (point
    values), a posterior file, or a :class:`Posterior`. ``seed`` is an int (its RUN root) or a root.
    ``runs`` defaults to ``DEFAULT_DRAWS`` draws of the scenario's ``runs_per_draw`` runs with a
    posterior, else ``DEFAULT_RUNS[engine]``; ``runs_per_draw`` replaces the scenario's (1: every run
    its own draw, as rare-outcome repetitions take them). ``draws_seed`` (default ``seed``) is the
    seed whose stream picks the posterior samples: a sweep shares one set of draws across points that
    run on streams of their own. Every problem is an :class:`InputError` before anything runs.
    """
    if engine not in ENGINES:
        raise InputError(f"unknown engine {engine!r}; choose from {', '.join(ENGINES)}")
    if runs is not None and runs < 1:
        raise InputError(f"runs must be at least 1, got {runs}")
    overrides = dict(overrides or {})
    factors = {k: v for k, v in overrides.items() if k in DRILL_KEYS}
    if not isinstance(scenario, Scenario):
        file = scenario if isinstance(scenario, ScenarioFile) else ScenarioFile.read(scenario)
        scenario = file.build({k: v for k, v in overrides.items() if k not in factors}, origin=origin,
                              where=origin)
    compiled = compile_scenario(scenario)
    fixed = _fixed_factors(compiled, factors)
    post = _posterior(scenario, posterior)
    root = as_root(seed)
    if post is None:
        n = runs or DEFAULT_RUNS[engine]
        run_values = {k: np.full(n, v) for k, v in fixed.items()} or None
        return Resolved(scenario, compiled, n, root, engine, overrides, None, run_values)
    held = _held_keys(post, overrides)
    per_draw = runs_per_draw or scenario.scenario.runs_per_draw
    n = runs or DEFAULT_DRAWS * per_draw
    draws = Draws(post, per_draw, post.sample_indices(-(-n // per_draw), root if draws_seed is None else draws_seed),
                  held)
    rows = np.repeat(draws.index, per_draw)[:n]
    run_values = {k: post.samples[rows, j] for j, k in enumerate(post.keys) if k not in held}
    run_values |= {k: np.full(n, v) for k, v in fixed.items()}
    return Resolved(scenario, compiled, n, root, engine, overrides, draws, run_values or None)


def _posterior(scenario: Scenario, posterior) -> Posterior | None:
    if isinstance(posterior, Posterior):
        check_keys(compile_scenario(scenario), posterior.keys, posterior.path or "<posterior>")
        return posterior
    if posterior == "scenario":
        posterior = scenario.scenario.posterior
    if posterior is None or str(posterior) == "none":
        return None
    return posterior_for(scenario, posterior)


def _fixed_factors(compiled: CompiledScenario, factors: dict) -> dict[str, float]:
    """Overrides of the per-run drill factors, checked: a number >= 0."""
    out = {}
    for key, value in factors.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
            raise InputError(f"--set {key}: {value!r}; a factor on every drill's "
                             f"{key.split('.')[-1].removesuffix('_factor')} is a number >= 0")
        out[key] = float(value)
    if out:
        check_keys(compiled, out, "--set")
    return out


def _held_keys(post: Posterior, overrides: Mapping) -> tuple[str, ...]:
    """The posterior's keys an override fixes for every run; an override of one actor's value under a
    drawn ``actors.*`` key is refused (it would hold one actor and leave the others drawn)."""
    held = []
    for key in post.keys:
        if key in overrides:
            held.append(key)
            continue
        parts = key.split(".")
        if len(parts) > 2 and parts[0] == "actors" and parts[1] == "*":
            tail = ".".join(parts[2:])
            partial = [k for k in overrides if k.startswith("actors.") and k.split(".", 2)[-1] == tail]
            if partial:
                raise InputError(f"--set {partial[0]}: the posterior {post.path} draws {key} for every actor; "
                                 "an override of one actor would leave the others drawn: run with --posterior none "
                                 "to set it")
    return tuple(held)
