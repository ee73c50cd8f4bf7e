"""Bad scenario files: one message naming the file and key and what is allowed, exit 2, nothing written."""

import pytest

from conftest import SCENARIOS
from sim.ui.cli import main

BASE = (SCENARIOS / "korea_baseline.toml").read_text()


def run_cli(tmp_path, capsys, text, *extra):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    out = tmp_path / "out"
    code = main(["run", str(path), "--runs", "2", "--out", str(out), *extra])
    err = capsys.readouterr().err
    assert code == 2
    assert "Traceback" not in err
    assert not out.exists(), "nothing may be written for bad input"
    lines = err.strip().splitlines()
    assert lines and all(line.startswith("error: ") for line in lines)
    return err, str(path)


def edit(old, new, text=BASE):
    assert old in text, old
    return text.replace(old, new, 1)


CASES = {
    "unknown key": (edit("noise = 0.2\ndecay", "nosie = 0.2\ndecay"), "actors.north_korea.nosie",
                    ["unknown key", "allowed here:", "noise", "capability"]),
    "wrong type": (edit("capability = 18.0", 'capability = "large"'), "actors.north_korea.capability",
                   ["valid number", "'large'"]),
    "out of range": (edit("cohesion = 0.8", "cohesion = 1.5"), "alliances.us_rok.cohesion",
                     ["less than or equal to 1", "1.5"]),
    "negative noise": (edit("noise = 0.2\ndecay", "noise = -0.1\ndecay"), "actors.north_korea.noise",
                       ["greater than or equal to 0"]),
    "rung above ladder": (edit("rung = 2\nscale = 1.5", "rung = 9\nscale = 1.5"), "drills.freedom_shield.rung",
                          ["above the ladder's top rung 6"]),
    "unknown actor in drill": (edit('participants = ["south_korea", "united_states"]\nwindows = [[2024-03-04',
                                    'participants = ["south_korea", "atlantis"]\nwindows = [[2024-03-04'),
                               "drills.freedom_shield.participants[1]", ["unknown actor 'atlantis'", "north_korea"]),
    "unknown actor in relation": (edit("threatened_by = { north_korea = 1.0 }", "threatened_by = { north_koera = 1.0 }"),
                                  "actors.south_korea.threatened_by.north_koera", ["unknown actor"]),
    "invalid TOML date": (edit("start = 2024-01-01", "start = 2024-02-30"), "", ["not valid TOML"]),
    "date string": (edit("start = 2024-01-01", 'start = "2024-13-01"'), "scenario.start", ["date", "2024-13-01"]),
    "window reversed": (edit("[[2024-03-04, 2024-03-14]]", "[[2024-03-14, 2024-03-04]]"),
                        "drills.freedom_shield.windows[0]", ["ends (2024-03-04) before it starts"]),
    "window outside span": (edit("[[2024-03-04, 2024-03-14]]", "[[2025-03-04, 2025-03-14]]"),
                            "drills.freedom_shield.windows[0]", ["outside the scenario", "2024-12-30"]),
    "unknown rule": (edit('name = "restraint"', 'name = "restrain"'), "actors.united_states.rule.name",
                     ["unknown rule 'restrain'", "graduated", "tit_for_tat"]),
    "unknown rule parameter": (edit("trigger = 3.5, cool_rate = 0.3", "trigger = 3.5, cool = 0.3"),
                               "actors.united_states.rule.cool", ["not a parameter of rule 'restraint'", "cool_rate"]),
    "missing required key": (edit("capability = 45.0\n", ""), "actors.south_korea.capability", ["required"]),
    "bool for number": (edit("horizon = 365", "horizon = true"), "scenario.horizon", ["valid integer"]),
    "persistence of 1": (edit("regime_persistence = 0.4511", "regime_persistence = 1.0"),
                         "actors.north_korea.provocation.regime_persistence", ["less than 1"]),
    "last year not a number": (edit("regime_dispersion = 0.8146,", 'regime_dispersion = 0.8146, regime_last_year = "high",'),
                               "actors.north_korea.provocation.regime_last_year", ["valid number"]),
    "negative drill deterrence": (edit("drill_deterrence = 0.241", "drill_deterrence = -0.5"),
                                  "actors.north_korea.provocation.drill_deterrence",
                                  ["greater than or equal to 0", "-0.5"]),
    "drill deterrence that never fades": (edit("spiral_cap = 27.74,", "spiral_cap = 27.74, drill_deterrence_days = 0.0,"),
                                          "actors.north_korea.provocation.drill_deterrence_days",
                                          ["greater than 0", "0.0"]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_scenario_gives_one_clear_message(case, tmp_path, capsys):
    text, key, words = CASES[case]
    err, path = run_cli(tmp_path, capsys, text)
    assert path in err
    if key:
        assert f": {key}:" in err or f": {key} " in err, err
    for word in words:
        assert word in err, (word, err)


def test_extends_cycle(tmp_path, capsys):
    (tmp_path / "a.toml").write_text('extends = "b.toml"\n' + BASE)
    (tmp_path / "b.toml").write_text('extends = "bad.toml"\n' + BASE)
    err, _ = run_cli(tmp_path, capsys, 'extends = "a.toml"\n' + BASE)
    assert "extends" in err and "cycle" in err and "a.toml" in err


def test_extends_missing_file(tmp_path, capsys):
    err, path = run_cli(tmp_path, capsys, 'extends = "nowhere.toml"\n[scenario]\nname = "x"\n')
    assert "nowhere.toml: file not found" in err and f"named by 'extends' in {path}" in err


def test_key_from_base_names_the_base_file(tmp_path, capsys):
    (tmp_path / "base.toml").write_text(edit("cohesion = 0.8", "cohesion = 2.0"))
    err, _ = run_cli(tmp_path, capsys, 'extends = "base.toml"\n[scenario]\nname = "child"\n')
    assert "alliances.us_rok.cohesion (set in" in err and "base.toml" in err


def test_missing_scenario_file(tmp_path, capsys):
    code = main(["run", str(tmp_path / "absent.toml"), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2 and "absent.toml: file not found" in err and not (tmp_path / "o").exists()


def test_validate_reports_every_bad_file_and_passes_good_ones(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text(CASES["unknown rule"][0])
    code = main(["validate", str(SCENARIOS / "korea_baseline.toml"), str(bad)])
    captured = capsys.readouterr()
    assert code == 2
    assert "ok: " in captured.out and "korea_baseline" in captured.out
    assert "unknown rule" in captured.err


@pytest.mark.parametrize("argv", [["--runs", "0"], ["--runs", "x"], ["--seed", "-1"]])
def test_bad_command_line_values_exit_2(argv, tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["run", str(SCENARIOS / "korea_baseline.toml"), "--out", str(tmp_path / "o"), *argv])
    assert exc.value.code == 2 and not (tmp_path / "o").exists()
