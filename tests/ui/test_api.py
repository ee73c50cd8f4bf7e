"""The Python API is the command line without the parsing: sim.sweep and sim.compare give what
`escsim sweep` and `escsim compare` print, and their results print, plot and know where they are."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from matplotlib.figure import Figure

import sim
from conftest import SCENARIOS
from sim.core.errors import InputError
from sim.model.overrides import parse_set
from sim.ui.api import _as_set
from sim.ui.cli import main

EXPERIMENT = """
[experiment]
name = "tiny"
scenario = "{scenario}"
runs = 640
seed = 3
sampler = "grid"
common_random_numbers = true
[[parameters]]
key = "drills.freedom_shield.transparency"
name = "transparency"
values = [0.3, 0.9]
"""


@pytest.fixture(scope="module")
def experiment(tmp_path_factory):
    path = tmp_path_factory.mktemp("exp") / "tiny.toml"
    path.write_text(EXPERIMENT.format(scenario=SCENARIOS / "korea_baseline.toml"))
    return path


def test_sim_sweep_is_escsim_sweep(experiment, tmp_path, capsys):
    assert main(["sweep", str(experiment), "--out", str(tmp_path / "cli"), "--workers", "1"]) == 0
    printed = capsys.readouterr().out
    result = sim.sweep(experiment, out=tmp_path / "py", workers=1)
    assert result.finished and result.table().replace(str(tmp_path / "py"), "OUT") in printed.replace(
        str(tmp_path / "cli"), "OUT")
    assert (tmp_path / "py" / "points.csv").read_text() == (tmp_path / "cli" / "points.csv").read_text()
    assert [p.name for p in result.figures] == ["response.png", "response.svg"]
    assert isinstance(result.plot(), Figure) and isinstance(result.plot("effects"), Figure)
    assert [r["transparency"] for r in result.rows] == ["0.3", "0.9"]
    again = sim.sweep(experiment, out=tmp_path / "py", workers=1)  # finished: every point reused
    assert (again.report.computed, again.report.reused) == (0, 2)


def test_sim_compare_is_escsim_compare(capsys):
    korea = str(SCENARIOS / "korea_baseline.toml")
    assert main(["compare", korea, korea, "--set", "2:drills.freedom_shield.transparency=0.9", "--runs", "640",
                 "--workers", "1", "--json"]) == 0
    cli = json.loads(capsys.readouterr().out)
    py = sim.compare([korea, korea], ["2:drills.freedom_shield.transparency=0.9"], runs=640, workers=1)
    assert json.loads(json.dumps(py.to_dict(), default=str)) == cli
    assert "P(miscalculation)" in str(py)


def test_sim_compare_refuses_what_the_experiment_decides():
    with pytest.raises(InputError, match="--seed"):
        sim.compare([SCENARIOS / "korea_baseline.toml"], over="experiments/levers.toml", seed=3)


@pytest.mark.parametrize("value", [0.9, 3, True, "tit_for_tat", [0.0, 0.004], dt.date(2024, 3, 4), "two words"])
def test_a_python_override_reads_back_as_itself(value):
    """sim.compare's dict overrides go through --set's parser, so they must survive the round trip."""
    assert parse_set(_as_set("actors.a.x", value)) == (None, "actors.a.x", value)
