"""`escsim replay`: every change of rung, crises and wars by actor, transitions only, and results directories."""

import csv
import datetime as dt
import json

import pytest

from conftest import ROOT, compiled, fixed_draws, two_actor_raw
from sim.ui.cli import main
from sim.model.compile import compile_scenario
from sim.engines.draws import root_from
from sim.engines.model import EscalationModel
from sim.io.replay import replay_events
from sim.io.rundir import runs_columns
from sim.model.scenario import load_scenario

TFT = {"name": "tit_for_tat"}

# Two actors that often reach crisis, sometimes war or nuclear use, in 60 days: outcomes of every kind.
HOT_TOML = """\
[scenario]
name = "hot"
start = 2024-01-01
horizon = 60

[ladder]
accident = [0.0, 0.0, 0.0, 0.1, 0.1, 0.1, 0.0]

[actors.north]
name = "North"
capability = 1.0
noise = 0.4
threatened_by = { south = 1.0 }
provocation = { base_rate = 0.08, kappa = 0.3, rung = 3 }
rule = { name = "tit_for_tat" }

[actors.south]
name = "South"
capability = 1.0
noise = 0.4
threatened_by = { north = 1.0 }
rule = { name = "graduated" }
"""


def hot_scenario(directory):
    path = directory / "hot.toml"
    path.write_text(HOT_TOML)
    return path


def replayed(sc, draws):
    return replay_events(EscalationModel(sc, draws=draws).run())


def test_a_climb_to_the_top_rung_is_listed_though_no_misreading_drove_it():
    # South provokes at nuclear use on day 10; North, tit for tat, answers in kind on day 11 and
    # steps back on day 12. No noise: nothing is misread, so nothing is a misperception-driven escalation.
    raw = two_actor_raw(actors={"a": {"name": "North", "rule": TFT},
                                "b": {"name": "South", "provocation": {"base_rate": 0.5, "rung": 6}}})
    sc = compiled(raw)
    m = EscalationModel(sc, draws=fixed_draws(sc, provocation=[(10, 1, 0.0)])).run()
    assert m.history["provoked"].sum() == 1 and not m.history["mde"].any()
    assert replay_events(m) == [
        "2024-01-11 (day 10): South provokes, up to nuclear use from normal relations; "
        "WAR begins: South at nuclear use",
        "2024-01-12 (day 11): North up to nuclear use from normal relations; "
        "South down to normal relations from nuclear use; "
        "WAR begins: North at nuclear use; WAR and CRISIS end: South down to normal relations",
        "2024-01-13 (day 12): North down to normal relations from nuclear use; "
        "WAR and CRISIS end: North down to normal relations",
    ]


@pytest.mark.parametrize("baseline, line", [(4, "CRISIS begins: B at limited clash"),
                                            (5, "WAR begins: B at major war")])
def test_a_standing_crisis_or_war_is_one_line_naming_the_actor(baseline, line):
    sc = compiled(two_actor_raw(actors={"b": {"name": "B", "baseline": baseline}}))
    assert replayed(sc, fixed_draws(sc)) == [f"2024-01-01 (day 0): {line}"]  # not one line per day


def test_a_crisis_of_several_days_is_a_line_when_it_begins_and_one_when_it_ends():
    drill = {"participants": ["b"], "windows": [["2024-01-04", "2024-01-08"]], "rung": 4}
    sc = compiled(two_actor_raw(actors={"b": {"name": "B"}}, drills={"d": drill}))
    assert replayed(sc, fixed_draws(sc)) == [
        "2024-01-04 (day 3): B drills, up to limited clash from normal relations; CRISIS begins: B at limited clash",
        "2024-01-09 (day 8): B down to normal relations from limited clash; CRISIS ends: B down to normal relations",
    ]


def test_consecutive_days_with_the_same_events_print_once():
    raw = two_actor_raw(actors={"b": {"name": "B", "baseline": 3, "provocation": {"base_rate": 0.5, "rung": 3}}})
    sc = compiled(raw)
    lines = replayed(sc, fixed_draws(sc, provocation=[(t, 1, 0.0) for t in range(5, 9)]))
    assert lines == ["2024-01-06 to 2024-01-09 (days 5-8, each day): B provokes, stays at provocation"]


def _outcomes(text: str) -> dict:
    """The printed 'outcomes (as in runs.csv): k=v ...' line as a dict."""
    line = next(x for x in text.splitlines() if x.startswith("outcomes (as in runs.csv): "))
    return dict(pair.split("=", 1) for pair in line.split(": ", 1)[1].split(" "))


def _run_and_replay_all(tmp_path, capsys, engine):
    out = tmp_path / engine
    assert main(["run", str(hot_scenario(tmp_path)), "--runs", "40", "--no-plot", "--out", str(out),
                 "--workers", "1", "--engine", engine]) == 0
    capsys.readouterr()
    rows = list(csv.DictReader((out / "runs.csv").read_text().splitlines()))
    assert {r["war_actors"] for r in rows} > {""} and {r["crisis_actors"] for r in rows} > {""}  # varied runs
    for row in rows:
        assert main(["replay", str(out), "--run", row["run"]]) == 0
        text = capsys.readouterr().out
        assert _outcomes(text) == {k: v for k, v in row.items() if k != "run"}, row["run"]
    return out, text


def test_replay_of_a_results_directory_gives_its_runs_csv(tmp_path, capsys):
    out, text = _run_and_replay_all(tmp_path, capsys, "ensemble")
    assert text.startswith("hot, run 39 of 40 in ") and "ensemble engine" in text.splitlines()[0]
    # the scenario file with the default seed 0 replays the same ensemble
    assert main(["replay", str(tmp_path / "hot.toml"), "--run", "7"]) == 0
    row = next(r for r in csv.DictReader((out / "runs.csv").read_text().splitlines()) if r["run"] == "7")
    assert _outcomes(capsys.readouterr().out) == {k: v for k, v in row.items() if k != "run"}


def test_a_mesa_engine_run_is_replayed_on_its_own_stream_not_as_an_ensemble_row(tmp_path, capsys):
    out, text = _run_and_replay_all(tmp_path, capsys, "mesa")
    assert "Mesa engine" in text.splitlines()[0] and "not an ensemble-engine row" in text.splitlines()[0]
    # replayed as an ensemble row, the same indices would give other runs
    manifest = json.loads((out / "manifest.json").read_text())
    sc = compile_scenario(load_scenario(tmp_path / "hot.toml"))
    rows = list(csv.DictReader((out / "runs.csv").read_text().splitlines()))
    as_rows = [runs_columns(sc, EscalationModel.replay(sc, root_from(manifest), k).run().outcomes.per_run())
               for k in range(10)]
    assert any(str(r[key][0]) != rows[k][key] for k, r in enumerate(as_rows) for key in ("max_rung", "misperceptions"))


@pytest.mark.parametrize("flags, words", [
    (["--run", "3", "--seed", "0", "--out", "path.csv"], "--seed 0: "),  # the manifest decides the seed
    (["--run", "5", "--out", "path.csv"], "--run 5: "),  # runs 0 to 4
    (["--run", "1", "--out", "x/y.csv/z.csv"], "--out "),  # a folder on the path is a file
])
def test_bad_replay_requests_are_refused_in_one_line_and_write_nothing(tmp_path, capsys, monkeypatch, flags, words):
    monkeypatch.chdir(tmp_path)
    assert main(["run", str(hot_scenario(tmp_path)), "--runs", "5", "--no-plot", "--out", "res",
                 "--workers", "1"]) == 0
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "y.csv").write_text("a file, not a folder\n")
    capsys.readouterr()
    before = sorted(tmp_path.rglob("*"))
    assert main(["replay", "res", *flags]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and len(captured.err.splitlines()) == 1 and words in captured.err
    assert sorted(tmp_path.rglob("*")) == before


def test_replay_refuses_a_directory_that_is_not_a_run(tmp_path, capsys):
    assert main(["replay", str(tmp_path), "--run", "0"]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "not an escsim run directory" in err
    (tmp_path / "points.csv").write_text("point\n0\n")
    assert main(["replay", str(tmp_path), "--run", "0"]) == 2
    assert "sweep" in capsys.readouterr().err


def test_a_miscalculation_is_shown_beside_its_twin_and_the_day_they_parted(tmp_path, capsys):
    """Replaying a miscalculation prints the perfect-perception twin's path from the day the two runs
    parted: the first day an actor acted or decided differently (the twin had no crisis)."""
    from sim.io.replay import parted_day, replay_model

    out = tmp_path / "r"
    assert main(["run", str(ROOT / "scenarios" / "korea_baseline.toml"), "--runs", "640", "--out", str(out),
                 "--no-plot", "--workers", "1"]) == 0
    rows = list(csv.DictReader((out / "runs.csv").read_text().splitlines()))
    k = next(int(r["run"]) for r in rows if r["miscalculation"] == "1")
    capsys.readouterr()
    assert main(["replay", str(out), "--run", str(k)]) == 0
    printed = capsys.readouterr().out
    model, twin, _ = replay_model(out, k)
    model.run(), twin.run()
    t = parted_day(model, twin)
    assert t is not None and t <= int(rows[k]["first_crisis_step"])  # they part no later than the crisis
    assert f"follows the same path until {model.compiled.start + dt.timedelta(days=t)} (day {t}), where they part" \
        in printed
    same = EscalationModel(model.compiled, rng=3)
    same.run()
    assert parted_day(same, same) is None
