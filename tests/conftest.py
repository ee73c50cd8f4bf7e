"""Shared helpers: small hand-built scenarios and hand-set draws."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
from hypothesis import settings

# Property tests: the same examples on every run (CI reproduces a failure exactly), and no per-example
# deadline, which a loaded 2-core machine would trip for reasons that are not the code's.
settings.register_profile("project", derandomize=True, deadline=None)
settings.load_profile("project")

from sim.model.compile import compile_scenario
from sim.engines.draws import FixedDraws, n_uniforms
from sim.model.scenario import _deep_merge, validate_scenario

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"


def _merge(base: dict, over: dict) -> dict:
    """Merge as `extends` does (the scenario loader's own rule)."""
    return _deep_merge(copy.deepcopy(base), over)


def two_actor_raw(**over) -> dict:
    """A and B, equal capability, no noise, no hazards, no accidents, no deterrence: nothing moves."""
    quiet = {"capability": 1.0, "baseline": 0, "noise": 0.0, "decay": 0.9, "deterrence": 0.0,
             "rule": {"name": "restraint", "trigger": 99.0, "cool_rate": 0.0}}
    raw = {
        "scenario": {"name": "two", "start": "2024-01-01", "horizon": 20},
        "ladder": {"accident": [0.0] * 7},
        "actors": {
            "a": {**quiet, "threatened_by": {"b": 1.0}},
            "b": {**quiet, "threatened_by": {"a": 1.0}},
        },
    }
    return _merge(raw, over)


def regime_count_moments(rate: float, dispersion: float, days: int) -> tuple[float, float]:
    """Mean and variance of a year's provocation days at a constant hazard ``rate`` times a regime
    m ~ Gamma(mean 1, variance ``dispersion``): given m the count is Binomial(days, q), q = 1 - exp(-rate m),
    so both moments follow from the Gamma's Laplace transform E[exp(-s m)]."""
    def laplace(s):
        return np.exp(-s) if dispersion == 0 else (1 + s * dispersion) ** (-1 / dispersion)

    eq, eq2 = 1 - laplace(rate), 1 - 2 * laplace(rate) + laplace(2 * rate)
    return days * eq, days * (eq - eq2) + days**2 * (eq2 - eq**2)


def compiled(raw: dict):
    return compile_scenario(validate_scenario(raw, "test.toml"))


def fixed_draws(sc, uniforms=0.5, normals=0.0, **at):
    """Draws for every step: uniforms all ``uniforms``, normals all ``normals``, then overrides.

    ``at`` maps names to lists of (step, index, value): ``provocation``, ``accident``, ``rule``,
    ``deterrence``, ``contact``, ``in_kind`` index an actor; ``normal`` takes (step, observer, observed, value).
    """
    T, N, P = sc.horizon, sc.n_actors, sc.n_pairs
    u = np.full((T, n_uniforms(N)), float(uniforms))
    e = np.full((T, N, N), float(normals))
    offset = {"provocation": 0, "accident": N, "rule": 2 * N, "deterrence": 3 * N, "contact": 4 * N,
              "in_kind": 5 * N, "backchannel": 6 * N}
    for name, items in at.items():
        for item in items:
            if name == "normal":
                t, i, j, v = item
                e[t, i, j] = v
            else:
                t, i, v = item
                u[t, offset[name] + i] = v
    return FixedDraws(u, e, N)


@pytest.fixture
def tmp_cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def noisy_tit_for_tat_raw(noise: float, horizon: int) -> dict:
    """MODEL.md section 7: two actors, rungs 0 (hold) and 1 (escalate), tit-for-tat, nothing else moving."""
    quiet = {"capability": 1.0, "noise": noise, "decay": 0.0, "deterrence": 0.0, "rule": {"name": "tit_for_tat"}}
    return {
        "scenario": {"name": "tft", "horizon": horizon},
        "ladder": {"rungs": ["hold", "escalate"], "crisis_rung": 1, "war_rung": 1, "lever_rung": 1,
                   "accident": [0.0, 0.0]},
        "actors": {"a": {**quiet, "threatened_by": {"b": 1.0}}, "b": {**quiet, "threatened_by": {"a": 1.0}}},
    }


@pytest.fixture(autouse=True)
def _short_scheduler_timeout(monkeypatch):
    """Tests that point --scheduler at a port nobody listens on need not wait the 5 s a real cluster
    gets to answer."""
    import sim.engines.parallel as parallel

    monkeypatch.setattr(parallel, "CONNECT_TIMEOUT", "0.5s")
