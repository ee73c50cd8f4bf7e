"""EVPPI by regression against known answers, by coverage over seeds, and its invariants (Hypothesis).

Planted problems whose EVPPI is known in closed form (phi ~ N(0, 1), net benefits known functions of it
plus independent noise). Bounds come from the sample size: the estimator's standard deviation is about
sd(max_d E[nb_d | phi]) / sqrt(N), and a parameter that does not enter the net benefits gets at most the
fitted difference's root mean square, sigma * sqrt((df - 1) / N) times a chi-square quantile.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, stats

from sim.analysis.evppi import evpi, evppi, value_of_information

N = 300
# (seeds, the fewest covering): at 95% coverage fewer happens with probability 0.002 (12 seeds) or 0.001 (200)
COVERAGE = [(12, 9), pytest.param(200, 180, marks=pytest.mark.slow)]


def normal_evppi(f) -> float:
    """E[max_d f_d(phi)] - max_d E[f_d(phi)] for phi ~ N(0, 1), by quadrature."""
    pdf = stats.norm.pdf
    first = integrate.quad(lambda z: max(f(z)) * pdf(z), -10, 10, limit=200)[0]
    means = [integrate.quad(lambda z, d=d: f(z)[d] * pdf(z), -10, 10)[0] for d in range(len(f(0.0)))]
    return first - max(means)


CASES = {
    # one option a line in phi, the other 0, their means 0.5 apart: E[(-0.5 - phi)+]
    "line": (lambda z: (z + 0.5, 0.0), lambda phi: np.vstack([phi + 0.5, np.zeros_like(phi)])),
    # a curve the smoother must follow: E[(phi^2 - 1.3)+]
    "square": (lambda z: (z * z, 1.3), lambda phi: np.vstack([phi ** 2, np.full_like(phi, 1.3)])),
    # three options, each best somewhere
    "three": (lambda z: (z + 0.3, -z, 0.0), lambda phi: np.vstack([phi + 0.3, -phi, np.zeros_like(phi)])),
}


def test_closed_forms_agree_with_quadrature():
    assert normal_evppi(CASES["line"][0]) == pytest.approx(stats.norm.pdf(0.5) - 0.5 * stats.norm.sf(0.5), abs=1e-8)
    c = np.sqrt(1.3)
    assert normal_evppi(CASES["square"][0]) == pytest.approx(
        2 * (c * stats.norm.pdf(c) + (1 - 1.3) * stats.norm.sf(c)), abs=1e-8)


@pytest.mark.parametrize("seeds, least", COVERAGE)
@pytest.mark.parametrize("case", list(CASES))
def test_intervals_cover_the_known_evppi(case, seeds, least):
    """Seeds of N = 300 futures, noise sd 1 on every option: the 95% interval covers the true EVPPI in at
    least 9 of 12 seeds, or 180 of 200 (see COVERAGE; measured over 200: 190, 187 and 189), and the
    estimates average within 4 standard errors of it (their spread over the seeds: about 0.6 / sqrt(N)),
    plus the smoother's own bias where the truth bends or options nearly tie: the penalty flattens the
    fit a little, 3-5% low over 200 seeds (0.377 against 0.399 for the curve), allowed as 6%."""
    f, make = CASES[case]
    true = normal_evppi(f)
    covered, estimates = 0, []
    for seed in range(seeds):
        rng = np.random.default_rng([seed, 25])
        phi = rng.normal(size=N)
        nb = make(phi) + rng.normal(size=(len(f(0.0)), N))
        v = evppi(nb, phi, resamples=200, rng=rng)
        assert v.low <= v.estimate <= v.high
        covered += v.low <= true <= v.high
        estimates.append(v.estimate)
    sd = np.std(estimates, ddof=1)
    assert covered >= least, (case, covered, true, np.mean(estimates))
    bound = 4 * sd / np.sqrt(seeds) + 0.06 * true
    assert abs(np.mean(estimates) - true) <= bound, (case, np.mean(estimates), true)


def test_at_an_exact_tie_the_estimate_is_low_by_the_noise_in_the_mean():
    """NB_1 = phi + noise, NB_2 = 0: EVPPI = E[max(phi, 0)] = 1/sqrt(2 pi). The options tie in expectation,
    and the sample's max_d mean_j g_d sits above max_d E[nb_d] by E|mean difference| / 2 =
    sqrt(var(NB_1 - NB_2) / (2 pi N)) (0.0326 here): the estimate is low by that, and the percentile
    interval covers less often than 95% (161 of 200 seeds, measured). The estimates average within 4 standard errors of the
    truth less that bias, and the interval covers in at least 7 of 12 seeds."""
    true = 1 / np.sqrt(2 * np.pi)
    bias = np.sqrt(2.0 / (2 * np.pi * N))
    estimates, covered = [], 0
    for seed in range(12):
        rng = np.random.default_rng([seed, 26])
        phi = rng.normal(size=N)
        v = evppi(np.vstack([phi + rng.normal(size=N), np.zeros(N)]), phi, resamples=200, rng=rng)
        estimates.append(v.estimate)
        covered += v.low <= true <= v.high
    sd = np.std(estimates, ddof=1)
    assert abs(np.mean(estimates) - (true - bias)) <= 4 * sd / np.sqrt(12), np.mean(estimates)
    assert covered >= 7, covered


def test_a_parameter_outside_the_net_benefits_is_worth_about_nothing():
    """psi does not enter: its EVPPI stays below the fitted difference's root mean square under the null,
    sigma * sqrt(chi2_{df-1} quantile / N), in every seed; phi's, beside it, is far above."""
    for seed in range(30):
        rng = np.random.default_rng([seed, 27])
        phi, psi = rng.normal(size=(2, N))
        nb = np.vstack([phi + rng.normal(size=N), np.zeros(N)])
        voi = value_of_information(nb, {"phi": phi, "psi": psi}, resamples=0, rng=rng)
        got = {v.name: v for v in voi.parameters}
        sigma = np.std(nb[0] - nb[1])
        bound = sigma * np.sqrt(stats.chi2.ppf(1 - 1e-4, max(got["psi"].df - 1, 1)) / N)
        assert 0 <= got["psi"].estimate <= bound, (seed, got["psi"])
        assert got["phi"].estimate > 3 * got["psi"].estimate
        assert [v.name for v in voi.parameters] == ["phi", "psi"]  # largest first
        assert np.isnan(got["psi"].low)  # no resamples, no interval


def test_evpi_and_a_dominated_option():
    """EVPI by hand; an option better than the other in every future by the same margin leaves nothing to learn."""
    nb = np.array([[1.0, 0.0, 2.0, 0.0], [0.0, 1.0, 0.0, 0.0]])
    assert evpi(nb, resamples=0).estimate == pytest.approx(np.mean([1, 1, 2, 0]) - 0.75)
    rng = np.random.default_rng(1)
    phi = rng.normal(size=50)
    base = rng.normal(size=50) + phi
    v = evppi(np.vstack([base + 3.0, base]), phi, resamples=100, rng=rng)
    assert v.estimate == pytest.approx(0.0, abs=1e-9) and v.changes == 0.0
    # a parameter with one value tells nothing
    assert evppi(np.vstack([phi, -phi]), np.ones(50), resamples=0).estimate == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("args, message", [
    ((np.zeros(5), np.zeros(5)), "2-D array"),
    ((np.zeros((1, 5)), np.zeros(5)), "at least 2 options"),
    ((np.zeros((2, 3)), np.zeros(3)), "at least 4 futures"),
    ((np.array([[0, 1, 2, np.nan], [0, 0, 0, 0]]), np.zeros(4)), "finite"),
    ((np.zeros((2, 5)), np.zeros(4)), "one value per future"),
    ((np.zeros((2, 5)), ["a"] * 5), "numbers"),
])
def test_bad_inputs_say_what_is_allowed(args, message):
    with pytest.raises(ValueError, match=message):
        evppi(*args, resamples=0)


def test_bad_resamples_and_level():
    with pytest.raises(ValueError, match="resamples"):
        evppi(np.zeros((2, 5)), np.arange(5), resamples=-1)
    with pytest.raises(ValueError, match="level"):
        evppi(np.zeros((2, 5)), np.arange(5), level=1.5)


@st.composite
def decisions(draw):
    """A decision drawn from a small model: options, futures, how strongly phi matters, the noise."""
    seed = draw(st.integers(0, 2 ** 32 - 1))
    options, futures = draw(st.integers(2, 5)), draw(st.integers(4, 80))
    rng = np.random.default_rng(seed)
    phi = rng.normal(size=futures) if draw(st.booleans()) else rng.integers(0, draw(st.integers(1, 4)), futures) * 1.0
    effect = rng.normal(size=(options, 1)) * draw(st.floats(0, 3))
    curve = rng.normal(size=(options, 1)) * draw(st.floats(0, 1))
    nb = effect * phi + curve * phi ** 2 + rng.normal(size=(options, 1)) + draw(st.floats(0.01, 2)) * \
        rng.normal(size=(options, futures))
    return nb, phi


@settings(max_examples=60, deadline=None)
@given(decisions(), st.floats(-1e3, 1e3), st.floats(0.01, 100))
def test_invariants(decision, shift, scale):
    """EVPPI >= 0; unchanged by a constant added to every net benefit, or by any amount added to every
    option in a future; scaled with the net benefits; at most the EVPI."""
    nb, phi = decision
    v = evppi(nb, phi, resamples=0).estimate
    tol = 1e-7 * (1 + np.abs(nb).max())
    assert v >= 0
    assert evppi(nb + shift, phi, resamples=0).estimate == pytest.approx(v, abs=tol + 1e-9 * abs(shift))
    common = np.random.default_rng(0).normal(size=nb.shape[1]) * 10
    assert evppi(nb + common, phi, resamples=0).estimate == pytest.approx(v, abs=tol * 10)
    assert evppi(scale * nb, phi, resamples=0).estimate == pytest.approx(scale * v, rel=1e-6, abs=scale * tol)
    assert v <= evpi(nb, resamples=0).estimate + tol


def test_few_distinct_values_do_not_pass_for_an_effect():
    """12 Latin-hypercube samples of 6 assumptions x 8 draws, as the robustness step has them: only a0 enters
    the net benefit. It ranks first in every seed, and the largest EVPPI of the 5 others (which can be
    correlated with a0 by chance in 12 samples) stays below 0.6 of a0's: a curve through the 12 distinct
    values would give each about as much as a0 (it did, before the basis and GCV were sized to them)."""
    from scipy.stats import qmc

    for seed in range(10):
        rng = np.random.default_rng([seed, 28])
        u = qmc.LatinHypercube(d=6, rng=rng).random(12)
        phis = {f"a{k}": np.repeat(u[:, k], 8) for k in range(6)} | {"theta": np.tile(rng.normal(size=8), 12)}
        nb = 2 * (phis["a0"] - 0.5) + 0.3 * phis["theta"] + 0.5 * rng.normal(size=96)
        voi = value_of_information(np.vstack([nb, np.zeros(96)]), phis, resamples=0)
        got = {v.name: v.estimate for v in voi.parameters}
        assert voi.parameters[0].name == "a0", (seed, got)
        assert max(got[f"a{k}"] for k in range(1, 6)) < 0.6 * got["a0"], (seed, got)
