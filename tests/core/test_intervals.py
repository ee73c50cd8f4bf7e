"""Intervals over posterior draws cover the posterior-integrated probability at their nominal level.

Each check draws many small ensembles whose true answer is known exactly, and counts how often the
95% interval holds it: the coverage must lie within the binomial error of 95% for that many ensembles
(a 99.9% band, so a correct method fails about once in a thousand runs of the suite).
"""

import numpy as np
import pytest
from scipy.stats import binom

from conftest import two_actor_raw
from sim.engines.posterior import Posterior
from sim.engines.resolve import resolve
from sim.model.scenario import validate_scenario
from sim.ui.api import run
from sim.core.stats import MIN_DRAWS, difference_over_draws, estimate, over_draws, wilson_interval


def coverage_band(n: int, level: float = 0.95, band: float = 0.999) -> tuple[float, float]:
    """The share of n intervals that hold the truth, if each does with probability ``level``: its
    central ``band`` range."""
    lo, hi = binom.ppf([(1 - band) / 2, (1 + band) / 2], n, level)
    return lo / n, hi / n


# Worlds whose draws' probabilities are Beta(a, b): symmetric, skewed (a few draws carry most of the risk,
# as with P(war)), and near 0. D draws of M runs each.
WORLDS = [(20, 64, 2.0, 5.0), (20, 64, 0.2, 5.0), (40, 16, 0.05, 2.0), (160, 256, 0.05, 5.0), (160, 256, 1.0, 1.6),
          (12, 256, 2.0, 3.0)]


@pytest.mark.parametrize("draws, per_draw, a, b", WORLDS)
def test_the_interval_over_draws_covers_the_posterior_mean(draws, per_draw, a, b):
    rng = np.random.default_rng(draws * 1000 + per_draw)
    truth, n = a / (a + b), 1500
    p = rng.beta(a, b, (n, draws))
    counts = rng.binomial(per_draw, p)
    hits = 0
    for c in counts:
        _, lo, hi, _ = over_draws(c, np.full(draws, per_draw))
        hits += lo <= truth <= hi
    low, high = coverage_band(n)
    assert low <= hits / n <= high, (hits / n, (low, high))


def test_the_wilson_interval_over_runs_would_not():
    """The defect this guards: the same ensembles with Wilson's interval over the runs, as if they were
    independent, cover far below 95% (about 37% here, with 160 draws of 256 runs)."""
    rng = np.random.default_rng(1)
    p = rng.beta(1.0, 1.6, (300, 160))
    counts = rng.binomial(256, p)
    truth = 1.0 / 2.6
    _, lo, hi = wilson_interval(counts.sum(axis=1), 160 * 256)
    assert np.mean((lo <= truth) & (truth <= hi)) < 0.6


# Paired worlds: draw d's baseline probability p_d ~ Beta(pa, pb); the setting removes each baseline
# outcome with the draw's probability r_d ~ Beta(ra, rb) and adds one with probability s_d ~ U(0, 2s).
# Dense: many runs differ; sparse: a handful do (the lever that removes a war or two).
PAIRED_DENSE = [(20, 64, 1.5, 3.5, 1, 4, 0.03), (160, 64, 1.5, 3.5, 1, 4, 0.01), (640, 64, 0.3, 3, 1, 4, 0.005)]
PAIRED_SPARSE = [(320, 64, 0.3, 300, 2, 8, 0.0), (320, 64, 0.05, 100, 1, 3, 0.0), (40, 64, 0.3, 100, 2, 8, 0.001)]


def paired_coverage(draws, M, pa, pb, ra, rb, s, n=800) -> float:
    rng = np.random.default_rng(draws * 7 + M)
    truth = -(pa / (pa + pb)) * (ra / (ra + rb)) + (1 - pa / (pa + pb)) * s
    hits = 0
    for _ in range(n):
        p, r = rng.beta(pa, pb, draws), rng.beta(ra, rb, draws)
        add = rng.uniform(0, 2 * s, draws) if s else np.zeros(draws)
        base = rng.random((draws, M)) < p[:, None]
        flip = rng.random((draws, M))
        here = np.where(base, flip >= r[:, None], flip < add[:, None])
        counts = ((here & ~base).sum(), (~here & base).sum(), (here & base).sum())
        _, lo, hi = difference_over_draws((here.astype(int) - base).sum(axis=1), np.full(draws, M), counts=counts)
        hits += lo <= truth <= hi
    return hits / n


@pytest.mark.parametrize("world", PAIRED_DENSE)
def test_the_paired_difference_over_draws_covers_its_mean(world):
    low, high = coverage_band(800)
    assert low <= paired_coverage(*world) <= high


@pytest.mark.parametrize("world", PAIRED_SPARSE)
def test_when_few_runs_differ_the_paired_interval_still_covers(world):
    """A handful of discordant runs say little about their spread over draws: the t interval alone
    covered 0.86-0.89 here. The score interval at the effective sample size keeps it at least 95%
    (it over-covers: 0.99 and more, the honest side)."""
    low, _ = coverage_band(800)
    assert paired_coverage(*world) >= low


def test_no_interval_from_too_few_draws_and_none_needed_when_nothing_differs():
    e = estimate(3, 300, by_draw=(np.array([1, 2]), np.array([256, 44])))
    assert e["ci_low"] is None and e["interval"] == f"none: 2 posterior draws, fewer than {MIN_DRAWS}"
    d, lo, hi = difference_over_draws(np.zeros(12), np.full(12, 10))
    assert d == lo == hi == 0.0  # the t interval alone: nothing varies
    d, lo, hi = difference_over_draws(np.zeros(12), np.full(12, 10), counts=(0, 0, 30))
    assert d == 0.0 and lo == -hi < 0  # with the counts: no run among 120 differed, which proves no zero
    p, lo, hi, deff = over_draws(np.zeros(12), np.full(12, 100))  # nothing seen: Wilson's bound from all runs
    assert p == lo == 0.0 and 0 < hi < 5.0 / 1200 and deff == 1.0  # t(11)^2 / (n + t^2) = 0.0040


# ---------------------------------------------------------------- end to end, on an exact chain

HORIZON = 20


def chain_scenario():
    """Actor a provokes at the crisis rung with daily hazard h (no threat, regime or deterrence effects)
    and nothing else moves: P(crisis within T days | h) = 1 - exp(-h T), exactly."""
    raw = two_actor_raw(scenario={"name": "chain", "start": "2024-01-01", "horizon": HORIZON},
                        actors={"a": {"provocation": {"base_rate": 0.01, "rung": 4}}})
    return validate_scenario(raw, "chain")


@pytest.mark.slow
def test_escsim_runs_interval_covers_the_exact_posterior_mean():
    """Many small ensembles (20 draws x 16 runs) of a chain whose P(crisis | h) is known in closed form,
    with a posterior over h: the interval escsim run prints covers the posterior mean, which is exact."""
    sc = chain_scenario()
    rates = np.array([0.002, 0.01, 0.03, 0.08, 0.2])
    weights = np.array([0.4, 0.3, 0.15, 0.1, 0.05])
    key = "actors.a.provocation.base_rate"
    post = Posterior([key], rates[:, None], weights, {}, "exact.csv", "exact")
    truth = float(np.sum(weights * (1 - np.exp(-rates * HORIZON))))
    n, hits, estimates = 300, 0, []
    for seed in range(n):
        sc2 = sc.model_copy(update={"scenario": sc.scenario.model_copy(update={"runs_per_draw": 16})})
        result = run(resolve(sc2, posterior=post, seed=seed, runs=320), workers=1)
        e = result.summary["p_crisis"]
        assert e["interval"] == "over 20 posterior draws"
        hits += e["ci_low"] <= truth <= e["ci_high"]
        estimates.append(e["estimate"])
    low, high = coverage_band(n)
    assert low <= hits / n <= high, (hits / n, (low, high))
    assert abs(np.mean(estimates) - truth) < 4 * np.std(estimates) / np.sqrt(n)  # and the estimate is unbiased
