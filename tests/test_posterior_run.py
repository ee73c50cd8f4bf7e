"""escsim run over a posterior: each run's parameters drawn from it, the spread over draws reported,
and a posterior that does not fit the scenario refused."""

import csv
import json

import numpy as np

from conftest import ROOT, SCENARIOS
from sim.posterior import posterior_csv
from sim.cli import main


def write_posterior(tmp_path, keys, samples, template, name="post"):
    report = {"keys": keys, "samples": np.asarray(samples, float), "weights": np.full(len(samples), 1 / len(samples))}
    (tmp_path / f"{name}.csv").write_text(posterior_csv(report))
    (tmp_path / f"{name}.json").write_text(json.dumps({"calibration": name, "template": str(template)}))
    return tmp_path / f"{name}.csv"


RATE = "actors.north_korea.provocation.base_rate"


def test_runs_draw_their_parameters_and_the_spread_is_reported(tmp_path, capsys):
    # two very different worlds: the spread over draws must show them apart
    post = write_posterior(tmp_path, [RATE, "actors.north_korea.provocation.contact_rate"],
                           [[0.001, 0.0], [0.08, 0.02]], SCENARIOS / "korea_baseline.toml")
    out = tmp_path / "r"
    assert main(["run", str(SCENARIOS / "asian_nato.toml"), "--posterior", str(post), "--runs", "2048",
                 "--out", str(out), "--no-plot", "--workers", "1"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    spread = summary["parameter_uncertainty"]["p_crisis"]
    assert summary["runs"] == 2048 and spread["draws"] == 8 and spread["runs_per_draw"] == 256
    assert spread["q05"] < 0.2 < spread["q95"]  # some draws almost never clash, others nearly always
    assert "5-95% over draws" in capsys.readouterr().out
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["posterior"] == str(post) and manifest["runs_per_draw"] == 256


def test_none_runs_the_scenarios_point_values(tmp_path):
    out = tmp_path / "r"
    assert main(["run", str(SCENARIOS / "korea_baseline.toml"), "--posterior", "none", "--runs", "300",
                 "--out", str(out), "--no-plot", "--workers", "1"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert "parameter_uncertainty" not in summary and summary["runs"] == 300


def test_a_posterior_that_does_not_fit_the_scenario_is_refused(tmp_path, capsys):
    strait = write_posterior(tmp_path, [RATE], [[0.01]], SCENARIOS / "strait_example.toml", name="strait")
    assert main(["run", str(SCENARIOS / "korea_baseline.toml"), "--posterior", str(strait), "--runs", "256",
                 "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "does not extend" in err[0]
    china = write_posterior(tmp_path, ["actors.china.noise"], [[0.2]], SCENARIOS / "korea_baseline.toml", name="cn")
    assert main(["run", str(SCENARIOS / "korea_baseline.toml"), "--posterior", str(china), "--runs", "256",
                 "--out", str(tmp_path / "r")]) == 2
    assert "unknown actor 'china'" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_a_run_drawn_from_the_posterior_replays_from_its_results(tmp_path, capsys):
    # runs of 4 draws far apart; a replay must take each run's own values from parameters.npz, so the
    # replayed outcomes equal runs.csv's row for row (a replay at the point values would not)
    post = write_posterior(tmp_path, [RATE, "actors.north_korea.provocation.contact_rate"],
                           [[0.001, 0.0], [0.08, 0.02], [0.02, 0.004], [0.05, 0.01]], SCENARIOS / "korea_baseline.toml")
    out = tmp_path / "r"
    assert main(["run", str(SCENARIOS / "korea_baseline.toml"), "--posterior", str(post), "--runs", "1024",
                 "--out", str(out), "--no-plot", "--workers", "1"]) == 0
    with np.load(out / "parameters.npz") as f:
        assert f[RATE].shape == (1024,) and len(set(f[RATE])) >= 2
    rows = list(csv.DictReader((out / "runs.csv").read_text().splitlines()))
    provocations = [int(r["provocations_north_korea"]) for r in rows]
    chosen = {int(np.argmin(provocations)), int(np.argmax(provocations)), 300, 700}
    capsys.readouterr()
    for run in sorted(chosen):
        assert main(["replay", str(out), "--run", str(run)]) == 0
        line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("outcomes (as in runs.csv): "))
        replayed = dict(pair.split("=", 1) for pair in line.split(": ", 1)[1].split(" "))
        assert replayed == {k: v for k, v in rows[run].items() if k != "run"}, run
    (out / "parameters.npz").unlink()
    assert main(["replay", str(out), "--run", "3"]) == 2
    assert "parameters.npz" in capsys.readouterr().err
