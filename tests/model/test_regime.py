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
