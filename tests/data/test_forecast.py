"""Forecasts from the record through an origin, and their rolling-origin evaluation against baselines: conditioning, scores, bad input."""

import numpy as np
import pytest
import scoringrules as sr

from conftest import ROOT
from sim.core.errors import InputError
from sim.data.baselines import RECENT, baseline_ensembles, negative_binomial_fit
from sim.data.calibrate import build_table, load_calibration
from sim.data.evaluate import bin_probabilities, bootstrap_difference, evaluate, format_evaluation, score
from sim.data.forecast import build_year_table, carry_regime, condition, forecast_year, format_forecast, regime_key
from sim.ui.cli import main
from sim.ui.plots import plot_evaluation

CALIBRATION = ROOT / "calibration" / "korea.toml"


@pytest.fixture(scope="module")
def cal():
    return load_calibration(CALIBRATION)


@pytest.fixture(scope="module")
def table(cal):
    return build_year_table(cal, 128)


def test_the_year_table_is_the_calibration_table_kept_by_year(cal, table):
    # the same streams: over all years its statistics are build_table's, history for history
    np.testing.assert_array_equal(table.statistics(2021), build_table(cal, 128).statistics)
    assert table.provocations.shape == (11, 128) and table.years == tuple(range(2011, 2022))


def test_conditioning_through_an_origin_ignores_the_later_years(cal, table):
    later = table.replace_after(2015)  # whatever the histories did after 2015
    first, second = condition(cal, table, 2015, 30), condition(cal, later, 2015, 30)
    np.testing.assert_array_equal(first.samples, second.samples)
    assert first.meta["conditioned_on"] == "the record 2011-2015"
    assert not np.array_equal(condition(cal, table, 2016, 30).samples, first.samples)


def test_the_kept_histories_end_like_the_record_and_carry_their_regime(cal, table):
    """Conditioning compares the origin year's count too: the kept histories' last year is nearer the
    record's than the table's is, and the posterior carries each kept history's regime score of that
    year (the next year's regime_last_year)."""
    post = condition(cal, table, 2016, 30)
    k = table.years.index(2016)
    observed = np.log1p(cal.hindcast.record[2016].provocation_days)
    kept = np.log1p(table.provocations[k, post.meta["rows"]])
    assert np.median(np.abs(kept - observed)) < np.median(np.abs(np.log1p(table.provocations[k]) - observed))
    assert post.keys[-1] == regime_key(cal)
    np.testing.assert_array_equal(post.samples[:, -1], table.regime[k, post.meta["rows"]])
    assert post.meta["latest"] == cal.hindcast.record[2016].provocation_days


def test_a_regime_carried_over_years_forgets_at_the_rate_rho(cal, table):
    """z_(T+k) = rho^k z_T + sqrt(1 - rho^2k) e: mean rho^k z, variance 1 - rho^2k (4 standard errors at
    n = 20,000); k = 0 leaves the posterior as it is."""
    from sim.engines.posterior import Posterior

    n, rho, z = 20_000, 0.8, 1.5
    key = regime_key(cal)
    rho_key = key.replace("regime_last_year", "regime_persistence")
    post = Posterior([rho_key, key], np.column_stack([np.full(n, rho), np.full(n, z)]), np.full(n, 1 / n), {})
    assert carry_regime(post, cal, cal.hindcast.scenarios[2021], 0, np.random.default_rng(0)) is post
    for k in (1, 3):
        out = carry_regime(post, cal, cal.hindcast.scenarios[2021], k, np.random.default_rng(k)).samples[:, 1]
        var = 1 - rho ** (2 * k)
        assert abs(out.mean() - rho**k * z) < 4 * np.sqrt(var / n)
        assert abs(out.var() / var - 1) < 4 * np.sqrt(2 / n)


def test_a_forecast_after_the_record_reports_counts_and_probabilities(cal, table):
    fc = forecast_year(cal, table, 2021, 2022, samples=30, draws=20, runs_per_draw=2)
    again = forecast_year(cal, table, 2021, 2022, samples=30, draws=20, runs_per_draw=2)
    np.testing.assert_array_equal(fc.provocation_days, again.provocation_days)  # a seed fixes it
    assert fc.resolved.draws.count == 20 and len(fc.clashes) == 40
    text = format_forecast(fc, cal.hindcast)
    assert "forecast of 2022 from the record 2011-2021" in text
    for key in ("p_crisis", "p_war", "p_miscalculation", "provocation_days", "clashes"):
        assert key in text
    assert "over 20 posterior draws" in text


@pytest.mark.parametrize("argv, message", [
    (["--year", "2030"], "2030 has no exercise calendar"),
    (["--year", "2022", "--origin", "2011"], "2011 is outside the record"),
    (["--year", "2015", "--origin", "2016"], "must come after the origin 2016"),
    (["--year", "2022", "--table", "300", "--samples", "300"], "--samples 300: needs fewer than the table"),
])
def test_bad_origins_and_years_are_refused_before_anything_runs(argv, message, capsys):
    assert main(["forecast", str(CALIBRATION), *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]


def test_evaluate_refuses_an_origin_whose_next_year_is_not_in_the_record(capsys, tmp_path):
    assert main(["evaluate", str(CALIBRATION), "--origins", "2013", "2021", "--out", str(tmp_path / "e")]) == 2
    assert "--origins 2013 2021" in capsys.readouterr().err and not (tmp_path / "e").exists()


def test_scores_come_from_scoringrules_on_the_ensemble():
    ens = np.array([0, 1, 1, 2, 5, 8, 8, 9, 10, 30])
    s = score(3, ens, (0, 1, 3, 6), v=0.5)
    assert s["crps"] == pytest.approx(np.mean(np.abs(ens - 3)) - np.abs(ens[:, None] - ens).sum() / (2 * 10 * 9))
    assert s["crps"] == pytest.approx(float(sr.crps_ensemble(3.0, ens.astype(float), estimator="fair")))
    assert s["log"] == pytest.approx(-np.log(bin_probabilities(ens, (0, 1, 3, 6))[2]))
    assert s["pit"] == pytest.approx(0.4)  # F(2) = 0.4 and F(3) = 0.4: no run had exactly 3
    assert s["width"] == 30 and s["interval"] == 30  # the 90% interval [0, 30] holds 3
    assert bin_probabilities(ens, (0, 1, 3, 6)).sum() == pytest.approx(1.0)
    mean, lo, hi = bootstrap_difference(np.ones(8), np.ones(8), np.random.default_rng(0))
    assert (mean, lo, hi) == (0.0, 0.0, 0.0)


def test_baselines_are_refitted_on_the_years_through_the_origin():
    counts = [1, 3, 4, 16, 10, 20, 16]
    mean, shape = negative_binomial_fit(counts)
    assert mean == pytest.approx(np.mean(counts))
    assert mean + mean**2 / shape == pytest.approx(np.var(counts, ddof=1))
    ens = baseline_ensembles(counts, 20_000, np.random.default_rng(1))
    assert ens["persistence"].mean() == pytest.approx(16, rel=0.05)
    assert ens["last_three"].mean() == pytest.approx(np.mean(counts[-3:]), rel=0.05)
    assert set(ens["resample"]) == set(counts[-RECENT:])
    assert negative_binomial_fit([2, 2, 2])[1] == np.inf  # no overdispersion: a Poisson


def test_evaluate_scores_the_model_and_every_baseline(cal, table, tmp_path):
    ev = evaluate(cal, table, (2019, 2020), samples=30, draws=20, runs_per_draw=2)
    summary = ev.summary()
    assert list(ev.observed["provocation_days"]) == [cal.hindcast.record[y].provocation_days for y in (2020, 2021)]
    rows = summary["provocation_days"]["forecasters"]
    assert set(rows) == {"model", "climatology", "persistence", "last_three", "resample"}
    assert "model_minus" in rows["climatology"] and "model_minus" not in rows["model"]
    assert sum(rows["model"]["pit_histogram"]) == 2
    assert "climatology" in format_evaluation(ev, summary)
    fig = plot_evaluation(ev, summary, tmp_path / "e.png")
    assert list(fig.axes[0].lines[0].get_ydata()) == list(ev.scores["provocation_days"]["model"]["crps"])


@pytest.mark.slow  # 3-5 minutes on 2 cores: a 16,384-history table and 200 forecasts
def test_forecasts_are_calibrated_on_data_the_model_made(cal):
    """Histories simulated at prior draws (another seed's table) stand in for the record: conditioned
    on each one's years 2011-2016, the forecast of 2017 (simulated afresh through resolve, a different
    path from the table's) must put that history's 2017 at a uniform randomized PIT, and inside its 90%
    band 90% of the time, within binomial error (measured: PIT bins 43, 35, 37, 39, 46; band 92.5%)."""
    from sim.data.abc import binomial_band

    table, truth = build_year_table(cal, 16_384), build_year_table(cal, 200, seed=7)
    origin, M = 2016, 200
    k, stats = truth.years.index(origin + 1), truth.statistics(origin)
    rng = np.random.default_rng(3)
    pit, inside = [], []
    for j in range(M):
        fc = forecast_year(cal, table, origin, origin + 1, samples=250, draws=100, runs_per_draw=2, seed=j,
                           observed=stats[j], latest=int(truth.provocations[k - 1, j]))
        y, x = truth.provocations[k, j], fc.provocation_days
        low, high = np.quantile(x, [0.05, 0.95], method="inverted_cdf")
        inside.append(low <= y <= high)
        pit.append(np.mean(x < y) + rng.random() * np.mean(x == y))
    low, high = binomial_band(M, 0.2, 1 - 0.01 / 5)  # each of 5 bins, family-wise 99%
    assert all(low <= c <= high for c in np.histogram(pit, 5, (0, 1))[0])
    low, high = binomial_band(M, 0.9, 0.99)
    assert low <= sum(inside) <= high
