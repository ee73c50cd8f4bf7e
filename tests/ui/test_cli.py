"""`escsim run` and `python -m sim` end to end on the shipped scenarios."""

import csv
import json
import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT, SCENARIOS
from sim.ui.cli import main


@pytest.mark.parametrize("name", ["korea_baseline", "asian_nato"])
def test_run_writes_results_summary_manifest_and_plot(name, tmp_path, capsys):
    out = tmp_path / name
    assert main(["run", str(SCENARIOS / f"{name}.toml"), "--runs", "4", "--seed", "3", "--out", str(out),
                 "--posterior", "none", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["scenario"] == name and summary["runs"] == 4 and summary["seed"] == 3
    for key in ("p_miscalculation", "p_crisis", "p_war", "p_crisis_perfect_perception", "p_crisis_after_misreading"):
        e = summary[key]
        assert 0 <= e["ci_low"] <= e["estimate"] <= e["ci_high"] <= 1 and e["runs"] == 4
    assert summary == json.loads((out / "summary.json").read_text())
    rows = list(csv.DictReader((out / "runs.csv").read_text().splitlines()))
    assert len(rows) == 4
    assert sum(int(r["miscalculation"]) for r in rows) == summary["p_miscalculation"]["successes"]
    assert sum(int(r["crisis"]) for r in rows) == summary["p_crisis"]["successes"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seed"] == 3 and manifest["scenario"]["scenario"]["name"] == name
    assert manifest["versions"]["mesa"] and manifest["versions"]["numpy"]
    totals = np.load(out / "totals.npz")
    assert int(totals["runs"]) == 4 and totals["first_passage"].sum(axis=1).tolist() == [4] * 7
    assert (out / "escalation_curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(out.glob(".*.tmp")), "no temporary files left behind"


def test_table_output_names_the_three_probabilities(tmp_path, capsys):
    assert main(["run", str(SCENARIOS / "korea_baseline.toml"), "--runs", "2", "--out", str(tmp_path / "o"),
                 "--no-plot"]) == 0
    text = capsys.readouterr().out
    for label in ("P(miscalculation)", "P(crisis)", "P(war)", "95% interval", "2 runs"):
        assert label in text
    assert not (tmp_path / "o" / "escalation_curves.png").exists()


@pytest.mark.slow  # 8 s in a fresh interpreter; test_the_escsim_command_is_the_clis_main guards the entry point
def test_python_dash_m_sim_is_the_same_command(tmp_path):
    done = subprocess.run([sys.executable, "-m", "sim", "validate", str(SCENARIOS / "asian_nato.toml")],
                          capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0 and "ok:" in done.stdout and "asian_nato" in done.stdout
    bad = tmp_path / "bad.toml"
    bad.write_text("[scenario]\nname = 1\n")
    done = subprocess.run([sys.executable, "-m", "sim", "validate", str(bad)], capture_output=True, text=True)
    assert done.returncode == 2 and "Traceback" not in done.stderr and "scenario.name" in done.stderr


def test_the_escsim_command_is_the_clis_main():
    """pyproject's console script names a function that exists: the `escsim` the README runs."""
    import importlib
    import tomllib

    from sim.ui.cli import main as cli_main

    target = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]["escsim"]
    module, _, name = target.partition(":")
    assert getattr(importlib.import_module(module), name) is cli_main


def test_replay_prints_the_run_and_writes_its_path(tmp_path, capsys):
    from sim.engines.ensemble import run_batch

    sc_path = SCENARIOS / "korea_baseline.toml"
    from sim.model.compile import compile_scenario
    from sim.model.scenario import load_scenario

    sc = compile_scenario(load_scenario(sc_path))
    out = run_batch(sc, 0, 0, 1, 1024, per_run=True)
    run = int(np.flatnonzero(out.per_run["crisis"])[0])  # a run with a crisis in it
    path = tmp_path / "run.csv"
    assert main(["replay", str(sc_path), "--run", str(run), "--seed", "0", "--out", str(path)]) == 0
    text = capsys.readouterr().out
    assert f"run {run}" in text and "CRISIS" in text and "provokes" in text
    rows = list(csv.DictReader(path.read_text().splitlines()))
    assert len(rows) == sc.horizon and rows[0]["date"] == "2024-01-01"
    first = int(out.per_run["first_crisis_step"][run])
    assert max(int(rows[first][f"{a}.realised"]) for a in sc.actor_ids) >= sc.crisis_rung
