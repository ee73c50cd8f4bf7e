"""Results are never overwritten silently: a run's directory is replaced whole or refused; files get an
ordinary file's permissions; the report accepts a sweep run with --runs; switched-off entries are not
checked against the horizon; integer sweep parameters are uniform."""

import json
import os
import stat

import numpy as np
import pytest

from conftest import SCENARIOS
from sim.ui.cli import main
from sim.analysis.experiment import Parameter
from sim.model.scenario import load_scenario


def _child(tmp_path, name="korea_baseline", body=""):
    path = tmp_path / "child.toml"
    path.write_text(f'extends = "{SCENARIOS / "korea_baseline.toml"}"\n[scenario]\nname = "{name}"\n{body}')
    return path


def test_run_refuses_another_scenarios_directory_and_replaces_its_own_whole(tmp_path, capsys):
    out = tmp_path / "results"
    base = str(SCENARIOS / "korea_baseline.toml")
    assert main(["run", base, "--runs", "20", "--out", str(out)]) == 0
    assert (out / "escalation_curves.png").exists()
    before = (out / "manifest.json").read_text()
    # a child that kept the base's name must not write into the base's results
    assert main(["run", str(_child(tmp_path)), "--runs", "20", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "holds the results of scenario 'korea_baseline'" in err[0]
    assert (out / "manifest.json").read_text() == before
    # the same scenario again, without figures: the old figures go with the old numbers
    assert main(["run", base, "--runs", "30", "--out", str(out), "--no-plot"]) == 0
    assert json.loads((out / "summary.json").read_text())["runs"] == 30
    assert not list(out.glob("*.png")) and not list(out.glob("*.svg"))
    assert not list(tmp_path.glob(".results.*")), "no temporary directory left beside the results"


def test_run_refuses_a_directory_that_is_not_results(tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    assert main(["run", str(SCENARIOS / "korea_baseline.toml"), "--runs", "5", "--out", str(out)]) == 2
    assert "does not hold results of escsim run" in capsys.readouterr().err
    assert [p.name for p in out.iterdir()] == ["notes.txt"]


@pytest.mark.parametrize("umask", [0o022, 0o002])
def test_result_files_get_an_ordinary_files_permissions(tmp_path, umask):
    old = os.umask(umask)
    try:
        assert main(["run", str(SCENARIOS / "korea_baseline.toml"), "--runs", "5", "--out", str(tmp_path / "r"),
                     "--no-plot"]) == 0
    finally:
        os.umask(old)
    for path in [tmp_path / "r", *(tmp_path / "r").iterdir()]:
        expected = (0o777 if path.is_dir() else 0o666) & ~umask
        assert stat.S_IMODE(path.stat().st_mode) == expected, path.name


def test_report_accepts_a_sweep_run_with_fewer_runs(tmp_path, capsys, monkeypatch):
    exp = tmp_path / "tiny.toml"
    exp.write_text(f'[experiment]\nname = "tiny"\nscenario = "{SCENARIOS / "korea_baseline.toml"}"\nruns = 8192\n'
                   '[[parameters]]\nkey = "alliances.us_rok.cohesion"\nvalues = [0.0, 1.0]\n')
    monkeypatch.chdir(tmp_path)
    assert main(["sweep", "tiny.toml", "--out", "results/tiny", "--workers", "1", "--runs", "1024"]) == 0
    assert main(["report", "tiny.toml", "--out", "page.md"]) == 0
    text = (tmp_path / "page.md").read_text()
    assert "x 1,024 runs of 365 days from 2024-01-01" in text and "one-year" not in text


def test_a_switched_off_drill_is_not_checked_against_the_horizon(tmp_path):
    body = "[drills.late]\nparticipants = ['south_korea']\nwindows = [[2025-06-01, 2025-06-05]]\nenabled = false\n"
    sc = load_scenario(_child(tmp_path, "late", body))
    assert not sc.drills["late"].enabled
    with pytest.raises(Exception, match="falls outside the scenario"):
        load_scenario(_child(tmp_path, "late", body.replace("false", "true")))


def test_integer_parameters_take_each_whole_number_equally_often():
    p = Parameter(key="model.window", range=(1.0, 4.0), integer=True)
    u = (np.arange(40_000) + 0.5) / 40_000
    values, counts = np.unique(p.scale(u), return_counts=True)
    assert values.tolist() == [1, 2, 3, 4] and counts.tolist() == [10_000] * 4
