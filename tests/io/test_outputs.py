"""What a run writes says what it means: counts in the table, who reached crisis and war, curves as CSV,
whose provocation days, and actor ids in the Mesa DataCollector."""

import contextlib
import csv
import io
import json

import numpy as np
import pytest

from conftest import compiled, two_actor_raw
from sim.ui.cli import main
from sim.model.compile import compile_scenario
from sim.analysis.experiment import load_experiment
from sim.engines.model import EscalationModel
from sim.io.rundir import runs_columns
from sim.model.scenario import load_scenario
from sim.engines.simulate import simulate
from sim.core.stats import escalation_curves
from sim.analysis.sweep import point_row, run_point
from test_replay import hot_scenario


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """An ensemble of the hot scenario: its results directory and the table it printed."""
    base = tmp_path_factory.mktemp("outputs")
    out, printed = base / "hot", io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(["run", str(hot_scenario(base)), "--runs", "300", "--no-plot", "--out", str(out),
                     "--workers", "1"]) == 0
    return out, printed.getvalue()


def test_the_table_shows_p_nuclear_use_and_every_count(run_dir):
    out, printed = run_dir
    summary = json.loads((out / "summary.json").read_text())
    rows = list(csv.DictReader((out / "runs.csv").read_text().splitlines()))
    nuclear = sum(r["max_rung"] == "6" for r in rows)
    assert summary["p_nuclear_use"]["successes"] == nuclear > 0 and summary["p_nuclear_use"]["runs"] == 300
    for label, key in [("P(miscalculation)", "p_miscalculation"), ("P(crisis)", "p_crisis"), ("P(war)", "p_war"),
                       ("P(nuclear use)", "p_nuclear_use")]:
        line = next(x for x in printed.splitlines() if x.startswith(label))
        e = summary[key]
        assert line.split()[-1] == f"{e['successes']}/300" and f"{e['estimate']:.4f}" in line, line


def test_runs_csv_names_the_actors_that_reached_crisis_and_war(run_dir):
    out, _ = run_dir
    rows = list(csv.DictReader((out / "runs.csv").read_text().splitlines()))
    kinds = set()
    for r in rows:
        tops = {a: int(r[f"max_rung_{a}"]) for a in ("north", "south")}
        assert r["crisis_actors"] == ";".join(a for a, k in tops.items() if k >= 4)
        assert r["war_actors"] == ";".join(a for a, k in tops.items() if k >= 5)
        assert (r["crisis_actors"] != "") == (r["crisis"] == "1") and (r["war_actors"] != "") == (r["war"] == "1")
        assert int(r["max_rung"]) == max(tops.values())
        kinds.add((r["crisis_actors"], r["war_actors"]))
    assert ("north", "") in kinds and ("north;south", "north;south") in kinds  # one actor, and both


def test_the_mesa_engine_reports_the_same_columns():
    sc = compiled(two_actor_raw(actors={"b": {"baseline": 4}}))
    cols = runs_columns(sc, simulate(sc, 3, seed=1, engine="mesa", workers=1).per_run)
    assert cols["crisis_actors"] == ["b"] * 3 and cols["war_actors"] == [""] * 3
    assert cols["max_rung_a"] == [0] * 3 and cols["max_rung_b"] == [4] * 3


def test_the_curves_csv_is_escalation_curves_of_the_totals(run_dir):
    out, _ = run_dir
    totals = np.load(out / "totals.npz")
    p, low, high = escalation_curves(totals["first_passage"], int(totals["runs"]))
    with (out / "escalation_curves.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == p.shape[1] == 60
    assert [r["step"] for r in rows[:2]] == ["0", "1"] and rows[-1]["date"] == "2024-02-29"
    assert list(rows[0]) == ["step", "date", *[f"{n}_{k}" for k in range(1, 7) for n in ("p_ge", "low", "high")]]
    for k in range(1, 7):
        for name, curve in (("p_ge", p), ("low", low), ("high", high)):
            assert np.array_equal([float(r[f"{name}_{k}"]) for r in rows], curve[k]), (name, k)


def test_points_csv_says_whose_provocation_days(tmp_path):
    hot = hot_scenario(tmp_path)
    exp_file = tmp_path / "exp.toml"
    exp_file.write_text(f'[experiment]\nname = "e"\nscenario = "{hot.name}"\nruns = 64\n\n'
                        '[[parameters]]\nkey = "actors.north.noise"\nvalues = [0.1, 0.4]\n')
    exp = load_experiment(exp_file)
    point = exp.points[0]
    summary = run_point(point.scenario, point.seed, runs=exp.runs)
    row = point_row(exp, 0, summary)
    assert "mean_provocation_days" not in row
    assert row["mean_provocation_days_north"] == summary["provocation_days_per_run"]["north"]["mean"] > 0
    assert row["mean_provocation_days_south"] == 0.0  # south never provokes: a column all the same


def test_the_datacollector_labels_agents_by_actor_id(tmp_path):
    sc = compile_scenario(load_scenario(hot_scenario(tmp_path)))
    model = EscalationModel(sc, rng=3)
    for _ in range(5):
        model.step()
    df = model.datacollector.get_agent_vars_dataframe()
    assert list(df.xs(1, level="Step")["actor"]) == ["north", "south"]
    by_actor = df.reset_index().set_index(["Step", "actor"])
    assert by_actor.index.is_unique and len(by_actor) == 10
    assert by_actor.loc[(5, "south"), "realised"] == model.history["realised"][4, 1]
