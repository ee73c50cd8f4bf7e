"""The provocation regime: a run-long Gamma multiplier on base rates that overdisperses yearly counts."""

import numpy as np
import pytest
from scipy import stats

from conftest import compiled, regime_count_moments, two_actor_raw
from sim.engines.draws import RunDraws, block_regime_uniforms, block_seed, n_uniforms
from sim.engines.ensemble import run_ensemble
from sim.model.kernel import regime_multiplier
from sim.engines.model import EscalationModel


def test_multiplier_is_the_gamma_quantile_with_mean_one_and_variance_dispersion():
    u = (np.arange(20_000) + 0.5) / 20_000  # midpoints: a quadrature of the distribution
    m = regime_multiplier(np.column_stack([u, u, u]), np.array([0.0, 0.5, 2.0]))
    assert np.all(m[:, 0] == 1.0)  # dispersion 0: the base rate exactly as written
    for j, phi in ((1, 0.5), (2, 2.0)):
        assert np.allclose(m[:, j], stats.gamma.ppf(u, a=1 / phi, scale=phi), rtol=1e-10)
        assert np.all(np.diff(m[:, j]) > 0)
    assert m[:, 1].mean() == pytest.approx(1.0, abs=2e-3) and m[:, 1].var() == pytest.approx(0.5, rel=1e-2)


def one_provoker(base_rate, dispersion, horizon=365):
    """One actor provoking at a constant hazard (no threat feedback, no deterrence)."""
    raw = two_actor_raw(scenario={"horizon": horizon},
                        actors={"a": {"provocation": {"base_rate": base_rate, "regime_dispersion": dispersion}}})
    return compiled(raw)


@pytest.mark.parametrize("dispersion", [0.0, 0.5])
def test_yearly_counts_have_the_mixed_binomial_mean_and_variance(dispersion):
    """Count | m ~ Binomial(T, q), q = 1 - exp(-r m), m ~ Gamma(1/phi, phi): the moments are closed-form."""
    r, T, runs = 0.025, 365, 8192
    sc = one_provoker(r, dispersion)
    _, table, _ = run_ensemble(sc, runs, seed=5, workers=1, per_run=True)
    x = table["provocations"].astype(float)
    mean, var = regime_count_moments(r, dispersion, T)
    se_mean = np.sqrt(var / runs)
    se_var = np.sqrt((np.mean((x - x.mean()) ** 4) - x.var() ** 2) / runs)
    assert abs(x.mean() - mean) < 4 * se_mean
    assert abs(x.var(ddof=1) - var) < 4 * se_var
    if dispersion:
        assert var > 3 * mean  # the point of the regime: counts far more spread than Poisson


def test_regimes_come_from_their_own_stream():
    """Step draws are untouched by the regime draws, and a replayed run gets its block row's regime."""
    sc = one_provoker(0.02, 0.5)
    draws = RunDraws.from_block(7, 3, 11, sc.n_actors)
    assert np.array_equal(draws.regime, block_regime_uniforms(7, 3, sc.n_actors)[11:12])
    fresh = np.random.default_rng(block_seed(7, 3))
    assert np.array_equal(draws.next().uniforms, fresh.random((1024, n_uniforms(sc.n_actors)))[11:12])
    a = EscalationModel(sc, rng=3)
    b = EscalationModel(sc, rng=3)
    assert np.array_equal(a.regime, b.regime) and a.regime[0, 0] != 1.0
    # the step stream of a Mesa run is the same as a generator seeded alike that drew no regimes
    expected = np.random.default_rng(3).random((1, n_uniforms(sc.n_actors)))
    assert np.array_equal(a._draws.next().uniforms, expected)


# ---------------------------------------------------------------- persistence from one year to the next


def test_no_persistence_or_no_previous_year_leaves_the_regime_as_it_was():
    """rho = 0, or rho > 0 with the previous year unknown, gives today's multipliers bit for bit."""
    u = np.random.default_rng(4).random((5000, 2))
    old = regime_multiplier(u, np.array([0.5, 1.5]))
    assert np.array_equal(regime_multiplier(u, np.array([0.5, 1.5]), 0.0, np.array([1.3, -2.0])), old)
    assert np.array_equal(regime_multiplier(u, np.array([0.5, 1.5]), np.array([0.7, 0.9]), np.nan), old)


@pytest.mark.parametrize("rho", [0.3, 0.8])
def test_a_persistent_regime_keeps_its_gamma_marginal_and_correlates_at_rho(rho):
    """z1 = Phi^-1(u1), z2 = rho z1 + sqrt(1 - rho^2) Phi^-1(u2): the second year's multiplier is
    still Gamma(mean 1, variance phi), and the scores correlate at rho (bounds: 4 standard errors at
    n = 40,000, (1 - rho^2)/sqrt(n) for the correlation)."""
    from sim.model.kernel import regime_score

    n, phi = 40_000, 0.8
    rng = np.random.default_rng(11)
    u1, u2 = rng.random((n, 1)), rng.random((n, 1))
    z1 = regime_score(u1)
    z2 = regime_score(u2, rho, z1)
    m2 = regime_multiplier(u2, phi, rho, z1)
    assert np.allclose(m2, stats.gamma.ppf(stats.norm.cdf(z2), a=1 / phi, scale=phi), rtol=1e-9)
    assert abs(np.corrcoef(z1[:, 0], z2[:, 0])[0, 1] - rho) < 4 * (1 - rho**2) / np.sqrt(n)
    assert abs(m2.mean() - 1) < 4 * np.sqrt(phi / n) and abs(m2.var() / phi - 1) < 0.06
    # the Gamma marginal, whatever rho: a Kolmogorov-Smirnov test at the 1% level
    assert stats.kstest(m2[:, 0], stats.gamma(a=1 / phi, scale=phi).cdf).pvalue > 0.01


def test_both_engines_take_the_previous_year_from_the_scenario():
    """A scenario's regime_last_year with persistence moves its regime as the kernel says, in the Mesa
    model and in every row of an ensemble alike."""
    from sim.model.kernel import run_regimes

    raw = two_actor_raw(actors={"a": {"provocation": {"base_rate": 0.02, "regime_dispersion": 0.5,
                                                      "regime_persistence": 0.9, "regime_last_year": 2.0}}})
    sc = compiled(raw)
    model = EscalationModel(sc, rng=3)
    expected = regime_multiplier(model._draws.regime, sc.regime_dispersion, 0.9, 2.0)
    assert np.array_equal(model.regime, run_regimes(sc, model._draws.regime))
    assert model.regime[0, 0] == expected[0, 0] != regime_multiplier(model._draws.regime, 0.5)[0, 0]
    u = block_regime_uniforms(1, 0, sc.n_actors)
    # a score of +2 standard deviations last year and rho 0.9: this year's regimes mostly above the median
    assert np.mean(run_regimes(sc, u)[:, 0] > stats.gamma.ppf(0.5, a=2, scale=0.5)) > 0.9
