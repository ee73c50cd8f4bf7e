"""escsim optimize end to end at a tiny size: the tables, the files, the figures, and a rerun that simulates nothing."""

from __future__ import annotations

import json

import pytest

from conftest import ROOT, SCENARIOS
from sim.ui.cli import main

pytest.importorskip("pymoo")


def test_optimize_prints_writes_and_resumes(tmp_path, capsys):
    path = tmp_path / "o.toml"
    path.write_text(f'''[experiment]
name = "o"
scenario = "{SCENARIOS / "levers_off.toml"}"
runs = 128
seed = 2
common_random_numbers = true

[optimize]
objectives = ["p_miscalculation", "cost"]
population = 4
generations = 2
seeds = [1]
cost = {{ summits = 1.0 }}

[robustness]
uncertainty = "{ROOT / "experiments" / "uncertainty.toml"}"
futures = 2
draws = 2
runs_per_draw = 16
bootstrap = 100

[[parameters]]
key = ["summits.us_dprk.enabled", "summits.inter_korean.enabled"]
name = "summits"
values = [false, true]
''')
    out = tmp_path / "out"
    assert main(["optimize", str(path), "--out", str(out), "--workers", "1"]) == 0
    text = capsys.readouterr().out
    assert "Pareto set:" in text and "seed 1:" in text and "minimax regret" in text
    for name in ("pareto.csv", "hypervolume.csv", "robustness.csv", "optimize.json", "pareto.png", "hypervolume.svg"):
        assert (out / name).exists(), name
    first = json.loads((out / "optimize.json").read_text())
    assert main(["optimize", str(path), "--out", str(out), "--workers", "1", "--json", "--no-plot"]) == 0
    again = json.loads(capsys.readouterr().out.rsplit("results in", 1)[0])
    assert again == first
