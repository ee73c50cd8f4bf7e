"""Calibration by simulation: recovers a known rate, and refuses bad files with one clear message."""

import math

import pytest

from conftest import ROOT, regime_count_moments
from sim.calibrate import calibrate
from sim.cli import main

SCENARIO = """[scenario]
name = "one"
horizon = 365
[ladder]
accident = [0, 0, 0, 0, 0, 0, 0]
[actors.x]
capability = 1.0
deterrence = 0.0
provocation = { base_rate = 0.1, kappa = 0.0 }
"""


def setup(tmp_path, data_mean, body_extra="", meta_extra="", data_sd=5.0, targets=("mean",), evaluations=40):
    (tmp_path / "one.toml").write_text(SCENARIO)
    # eleven "years" with the wanted mean and sample standard deviation data_sd
    values = [data_mean - data_sd, data_mean + data_sd] * 5 + [data_mean]
    (tmp_path / "counts.csv").write_text("year,events\n" + "".join(f"{2000 + i},{v}\n" for i, v in enumerate(values)))
    path = tmp_path / "cal.toml"
    path.write_text(f"""[calibration]
name = "test"
scenario = "one.toml"
data = "counts.csv"
column = "events"
actor = "x"
targets = {list(targets)!r}
runs = 2048
seed = 1
max_evaluations = {evaluations}
{meta_extra}
[[parameters]]
key = "actors.x.provocation.base_rate"
range = [0.001, 0.2]
start = 0.1
{body_extra}""")
    return path


def test_calibration_recovers_a_known_daily_rate(tmp_path):
    true_rate = 0.03
    mean = 365 * (1 - math.exp(-true_rate))  # expected provocation days a year at that hazard
    report = calibrate(setup(tmp_path, mean), workers=1)
    fitted = report["fitted"]["actors.x.provocation.base_rate"]
    se_rate = math.sqrt(mean / 2048) / (365 * math.exp(-true_rate))  # Monte Carlo error, in rate units
    assert abs(fitted - true_rate) < 4 * se_rate + 2e-4
    assert abs(report["relative_residuals"]["mean"]) < 0.01
    assert report["data"]["mean"] == pytest.approx(mean)


def test_calibration_recovers_a_known_rate_and_regime_dispersion(tmp_path):
    """Counts from hazard r m, m ~ Gamma(mean 1, variance phi): the fit finds r and phi again."""
    r, phi, T, runs = 0.025, 0.4, 365, 2048
    mean, var = regime_count_moments(r, phi, T)
    extra = '[[parameters]]\nkey = "actors.x.provocation.regime_dispersion"\nrange = [0.0, 2.0]\nstart = 1.0\n'
    report = calibrate(setup(tmp_path, mean, extra, data_sd=math.sqrt(var), targets=("mean", "variance"),
                             evaluations=100), workers=1)
    assert report["data"]["variance"] == pytest.approx(var)
    fitted_rate = report["fitted"]["actors.x.provocation.base_rate"]
    fitted_phi = report["fitted"]["actors.x.provocation.regime_dispersion"]
    # Monte Carlo error of the simulated moments, carried to the parameters: the mean pins r m's
    # average to about sqrt(var / runs) / T, the variance (excess kurtosis about 6 phi) pins phi to
    # about se(variance) / mean^2.
    se_rate = math.sqrt(var / runs) / T
    se_phi = var * math.sqrt((2 + 6 * phi) / runs) / mean**2
    assert abs(fitted_rate - r) < 4 * se_rate + 1e-3 * r / 0.025
    assert abs(fitted_phi - phi) < 4 * se_phi
    assert abs(report["relative_residuals"]["variance"]) < 0.02


BAD = {
    "unknown key path": ('[[parameters]]\nkey = "actors.y.provocation.kappa"\nrange = [0, 1]\nstart = 0.5\n', "",
                         ["parameters[1].key", "no table"]),
    "start outside range": ('[[parameters]]\nkey = "actors.x.provocation.kappa"\nrange = [0, 1]\nstart = 2.0\n', "",
                            ["parameters[1].start", "must lie in the range"]),
    "unknown column": ("", 'column = "missiles"\n', ["calibration.column", "no column 'missiles'", "events"]),
    "unknown target": ("", 'targets = ["median"]\n', ["calibration.targets", "mean"]),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_calibration_file(case, tmp_path, capsys):
    body, meta, words = BAD[case]
    path = setup(tmp_path, 10.0, body, meta)
    if "column" in meta or "targets" in meta:  # replace the line instead of adding a second key
        text = path.read_text()
        key = meta.split(" =")[0]
        text = "\n".join(line for line in text.splitlines() if not line.startswith(f"{key} ="))
        path.write_text(text.replace("[calibration]\n", f"[calibration]\n{meta}"))
    assert main(["calibrate", str(path), "--out", str(tmp_path / "report.json")]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and str(path) in err
    for word in words:
        assert word in err, (word, err)
    assert not (tmp_path / "report.json").exists()


def test_shipped_calibration_file_loads():
    from sim.calibrate import load_calibration

    spec, data, _, _ = load_calibration(ROOT / "calibration" / "nk_provocations.toml")
    assert len(data) == 11 and data.mean() == pytest.approx(8.636, abs=1e-3)
    assert data.var(ddof=1) == pytest.approx(45.05, abs=0.01)
