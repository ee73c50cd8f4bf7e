"""Bayesian calibration on the record: files checked before anything runs, posteriors read back, and
known parameters recovered from data the model itself made (slow)."""

import json

import numpy as np
import pytest

from conftest import ROOT
from sim.calibrate import STATISTICS, load_calibration, observed_statistics, simulate_statistics
from sim.posterior import posterior_csv, read_posterior
from sim.cli import main
from sim.errors import InputError
from sim.hindcast import simulate_years

HINDCAST = ROOT / "calibration" / "hindcast.toml"


def calibration_file(tmp_path, priors: str, extra: str = "", name="cal.toml"):
    path = tmp_path / name
    path.write_text(f'[calibration]\nname = "t"\nhindcast = "{HINDCAST}"\nsamples = 40\nrounds = 2\n'
                    f'batch_size = 256\ncheck_runs = 64\nseed = 1\n{extra}' + priors)
    return path


RATE = '[[priors]]\nkey = "actors.north_korea.provocation.base_rate"\ndistribution = "loguniform"\nrange = [0.002, 0.1]\n'


def test_the_record_statistics_are_the_records():
    cal = load_calibration(ROOT / "calibration" / "korea.toml")
    obs = dict(zip(STATISTICS, observed_statistics(cal.hindcast)))
    days = [1, 3, 4, 16, 10, 20, 16, 0, 12, 5, 8]  # missile event-days 2011-2021
    assert obs["mean_provocation_days"] == pytest.approx(np.mean(days))
    assert obs["variance_provocation_days"] == pytest.approx(np.var(days, ddof=1))
    assert (obs["clash_years"], obs["clashes"]) == (4, 8)
    assert obs["max_provocation_days"] == max(days)
    # 32 of 95 days inside 593 window days of 4,018: log((32.5/593) / (63.5/3425))
    assert obs["log_rate_ratio"] == pytest.approx(np.log((32.5 / 593) / (63.5 / 3425)))


def test_simulated_statistics_repeat_and_follow_the_parameters():
    cal = load_calibration(ROOT / "calibration" / "korea.toml")
    # no threat feedback (kappa 0), so the rate alone sets the count: about 24 times as many days at 0.05
    low = {"actors.north_korea.provocation.base_rate": np.full(64, 0.002),
           "actors.north_korea.provocation.kappa": np.zeros(64)}
    high = {"actors.north_korea.provocation.base_rate": np.full(64, 0.05),
            "actors.north_korea.provocation.kappa": np.zeros(64)}
    a, b = simulate_statistics(cal, low, 3, workers=2), simulate_statistics(cal, low, 3, workers=2)
    assert np.array_equal(a, b) and a.shape == (64, 6)
    # the years run side by side on a shared pool give each year's own ensemble, run alone
    from sim.draws import Stream, child, make_root
    from sim.ensemble import run_ensemble

    year = next(iter(cal.years))
    alone = run_ensemble(cal.years[year], 64, child(make_root(3, Stream.HINDCAST), Stream.YEAR, year), workers=1, per_run=True,
                         parameters=low)[1]
    i = cal.years[year].actor_ids.index(cal.hindcast.actor)
    per_year = simulate_years(cal.hindcast, 64, 3, workers=2, parameters=low, compiled=cal.years)
    assert np.array_equal(per_year[year].provocation_days, alone[f"provocations_{i}"])
    years = np.stack([r.provocation_days for r in per_year.values()])
    assert np.array_equal(a[:, STATISTICS.index("max_provocation_days")], years.max(axis=0))
    c = simulate_statistics(cal, high, 3, workers=1)
    assert c[:, 0].mean() > 3 * a[:, 0].mean()  # more provocation days at the higher rate


def test_the_years_of_a_calibration_history_are_independent():
    """Run k of every year is one history; at fixed parameters its years are independent draws, as
    the record's years are taken to be. Over R histories the correlation of provocation days between
    years is then 0 within about 1/sqrt(R); when every year drew the same stream it was 0.98."""
    from sim.draws import Stream, make_root

    cal = load_calibration(ROOT / "calibration" / "korea.toml")
    R = 1024
    values = {"actors.north_korea.provocation.base_rate": np.full(R, 0.03),
              "actors.north_korea.provocation.regime_dispersion": np.full(R, 0.8)}
    years = simulate_years(cal.hindcast, R, make_root(7, Stream.CALIBRATION, 0), workers=2, parameters=values,
                           compiled=cal.years)
    x = np.stack([r.provocation_days for r in years.values()]).astype(float)  # (Y, R)
    r = np.array([np.corrcoef(x[a], x[b])[0, 1] for a in range(len(x)) for b in range(a + 1, len(x))])
    assert abs(r.mean()) < 4 / np.sqrt(R) and np.abs(r).max() < 5 / np.sqrt(R), r
    # the spread within a history is the spread over histories (the years differ only by calendar)
    within, across = x.var(axis=0, ddof=1).mean(), x.var(axis=1, ddof=1).mean()
    assert 0.8 < within / across < 1.25, (within, across)


BAD = {
    "unknown key": ('[[priors]]\nkey = "actors.north_korea.provocation.kappa"\nrange = [0, 1]\nshape = 2\n',
                    ["priors[0].shape", "unknown key"]),
    "empty range": ('[[priors]]\nkey = "actors.north_korea.provocation.kappa"\nrange = [1, 1]\n',
                    ["priors[0].range", "low < high"]),
    "loguniform at zero": ('[[priors]]\nkey = "actors.north_korea.provocation.kappa"\ndistribution = "loguniform"\n'
                           'range = [0, 1]\n', ["priors[0].range", "low > 0"]),
    "not a per-run parameter": ('[[priors]]\nkey = "alliances.us_rok.cohesion"\nrange = [0, 1]\n',
                                ["priors", "per-run parameters are"]),
    "unknown actor": ('[[priors]]\nkey = "actors.china.noise"\nrange = [0, 1]\n', ["priors", "unknown actor"]),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_bad_calibration_file_is_one_line_and_writes_nothing(case, tmp_path, capsys):
    priors, words = BAD[case]
    path = calibration_file(tmp_path, priors)
    assert main(["calibrate", str(path), "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(path) in err[0] and "Traceback" not in err[0]
    for word in words:
        assert word in err[0], (word, err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cal.toml"]


def test_a_missing_hindcast_is_named(tmp_path, capsys):
    path = tmp_path / "cal.toml"
    path.write_text('[calibration]\nname = "t"\nhindcast = "nowhere.toml"\n' + RATE)
    assert main(["calibrate", str(path)]) == 2
    assert "calibration.hindcast" in capsys.readouterr().err


def test_a_posterior_round_trips_and_draws_by_weight(tmp_path):
    report = {"keys": ["a.b", "c.d"], "samples": np.array([[1.0, 2.0], [3.0, 4.0]]), "weights": np.array([0.0, 1.0])}
    (tmp_path / "p.csv").write_text(posterior_csv(report))
    (tmp_path / "p.json").write_text(json.dumps({"calibration": "t", "keys": ["a.b", "c.d"]}))
    post = read_posterior(tmp_path / "p.csv")
    assert post.keys == ["a.b", "c.d"] and np.array_equal(post.samples, report["samples"])
    assert np.all(post.sample_indices(100, seed=0) == 1)  # all weight on the second sample
    (tmp_path / "bad.csv").write_text("x,y\n1,2\n")
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(InputError, match="one column per parameter key, then 'weight'"):
        read_posterior(tmp_path / "bad.csv")


@pytest.mark.slow  # ELFI's sampler end to end (about 15 s); the pieces it joins are tested above
def test_a_small_calibration_writes_its_posterior_and_check(tmp_path, capsys):
    pytest.importorskip("elfi")
    path = calibration_file(tmp_path, RATE)
    assert main(["calibrate", str(path), "--out", str(tmp_path), "--workers", "1"]) == 0
    post = read_posterior(tmp_path / "t_posterior.csv")
    assert post.samples.shape == (40, 1) and post.weights.sum() == pytest.approx(1.0)
    assert np.all((post.samples >= 0.002) & (post.samples <= 0.1))
    meta = post.meta
    assert meta["keys"] == ["actors.north_korea.provocation.base_rate"] and meta["simulations"] >= 40
    assert set(meta["check"]["years_inside"]) >= {"provocation_days", "crisis_onsets"}
    assert (tmp_path / "t_check.png").read_bytes()[:4] == b"\x89PNG"
    assert "effective sample size" in capsys.readouterr().out


@pytest.mark.slow
def test_calibration_recovers_known_parameters_from_data_the_model_made(tmp_path):
    """Three replications: a history simulated at known values is the data; the true values lie in
    the 90% credible interval in most replications (a calibrated 90% interval misses 1 in 10), and
    the data narrow the base rate's interval to under 60% of its prior's (in log terms; about 45%
    in these replications), so covering the truth is not just returning the prior.

    200 samples and 3 rounds give intervals as wide as 300 and 4 did (base rate 0.015-0.098 either
    way) for 2,048 histories per replication instead of about 5,900."""
    pytest.importorskip("elfi")
    from sim.calibrate import calibrate
    from sim.posterior import posterior_summary

    priors = RATE + ('[[priors]]\nkey = "actors.north_korea.provocation.contact_rate"\ndistribution = "loguniform"\n'
                     'range = [0.0001, 0.02]\n')
    path = calibration_file(tmp_path, priors, name="rec.toml")
    cal = load_calibration(path)
    truth = {"actors.north_korea.provocation.base_rate": 0.02, "actors.north_korea.provocation.contact_rate": 0.003}
    # the data: the mean of 16 histories at the true values, a record less noisy than one history,
    # so that the test checks the method, not the luck of one draw
    data = simulate_statistics(cal, {k: np.full(16, v) for k, v in truth.items()}, 99, workers=2).mean(axis=0)
    covered = {k: 0 for k in truth}
    for rep in range(3):
        report = calibrate(path, samples=200, rounds=3, workers=2, observed=data, seed=rep)
        summary = posterior_summary(report["samples"], report["weights"], report["keys"])
        for k, v in truth.items():
            covered[k] += summary[k]["q05"] <= v <= summary[k]["q95"]
        rate = summary["actors.north_korea.provocation.base_rate"]
        prior_width = np.log(0.1 / 0.002) * 0.9  # a log-uniform prior's 90% interval, in log terms
        assert np.log(rate["q95"] / rate["q05"]) < 0.6 * prior_width, rate
    assert all(c >= 2 for c in covered.values()), covered
