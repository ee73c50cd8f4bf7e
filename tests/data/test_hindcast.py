"""Hindcast year scenarios come from the template and the data alone; predictive bands and the comparison."""

import calendar
import csv
import datetime as dt
import shutil

import numpy as np
import pytest

from conftest import ROOT
from sim.model.compile import compile_scenario
from sim.core.errors import InputError
from sim.data.hindcast import load_hindcast
from sim.data.predictive import compare_to_record, format_comparison, predict_year
from sim.data.record import read_record
from sim.model.scenario import load_scenario

SETTINGS = ROOT / "calibration" / "hindcast.toml"
TEMPLATE = ROOT / "scenarios" / "korea_baseline.toml"
EXERCISES = ROOT / "data" / "exercise_windows_2011_2026.csv"
YEARS = tuple(range(2011, 2022))
ACTOR = {"US": "united_states", "ROK": "south_korea", "JPN": "japan"}


@pytest.fixture(scope="module")
def hindcast():
    return load_hindcast(SETTINGS)


def rows_of(year):
    """The windows file's dated rows of ``year``, read here independently of sim.data.record."""
    with open(EXERCISES, newline="") as f:
        return [r for r in csv.DictReader(f) if int(r["year"]) == year and r["kind"] != "none"]


def test_every_year_validates_and_spans_its_calendar_year(hindcast):
    assert hindcast.years == YEARS
    assert hindcast.actor == "north_korea"
    assert hindcast.template == TEMPLATE
    for year in YEARS:
        sc = hindcast.scenario_for(year)
        assert sc.scenario.start == dt.date(year, 1, 1)
        assert sc.end == dt.date(year, 12, 31)
        assert sc.scenario.horizon == (366 if calendar.isleap(year) else 365)
    with pytest.raises(ValueError, match="no year 2022"):
        hindcast.scenario_for(2022)


def test_drills_are_the_years_rows_of_the_windows_file(hindcast):
    kinds = hindcast.settings.kinds
    for year in YEARS:
        drills = list(hindcast.scenario_for(year).drills.values())
        rows = rows_of(year)
        assert len(drills) == len(rows), year
        for d, r in zip(drills, rows):
            first = max(dt.date.fromisoformat(r["start"]), dt.date(year, 1, 1))
            last = min(dt.date.fromisoformat(r["end"]), dt.date(year, 12, 31))
            assert d.windows == [(first, last)]
            assert d.participants == [ACTOR[p] for p in r["participants"].split(";")]
            assert d.approximate == (r["verified"] != "yes")
            k = kinds[r["kind"]]
            assert (d.rung, d.scale, d.ambiguity, d.transparency) == (k.rung, k.scale, k.ambiguity, k.transparency)
    assert list(hindcast.scenario_for(2021).drills) == ["combined_command_post_training",
                                                        "combined_command_post_training_2"]
    assert list(hindcast.scenario_for(2018).drills) == ["foal_eagle", "key_resolve", "max_thunder"]  # UFG: none


def test_drill_days_are_the_records_window_days(hindcast):
    for year in YEARS:
        compiled = compile_scenario(hindcast.scenario_for(year))
        assert int((compiled.drill_rung >= 0).any(axis=1).sum()) == hindcast.record[year].window_days, year


def test_everything_but_the_calendar_is_the_templates(hindcast):
    template = load_scenario(TEMPLATE)
    sc = hindcast.scenario_for(2016)
    for table in ("ladder", "model", "actors", "alliances", "summits", "backchannels", "hotlines"):
        assert getattr(sc, table) == getattr(template, table), table


def test_shipped_kind_parameters_are_the_templates_drills(hindcast):
    drills = load_scenario(TEMPLATE).drills

    def params(x):
        return x.rung, x.scale, x.ambiguity, x.transparency

    kinds = hindcast.settings.kinds
    assert params(kinds["CPX+FTX"]) == params(drills["freedom_shield"]) == params(drills["ulchi_freedom_shield"])
    assert params(kinds["trilateral"]) == params(drills["freedom_edge"])
    assert params(kinds["CPX"]) == params(kinds["FTX"]) == params(kinds["air"]) == params(kinds["CPX+FTX"])


# ---------------------------------------------------------------- other data and bad settings


def setup(tmp_path, settings_edits=(), windows_edits=()):
    """A hindcast file and its data files in tmp_path (the shipped ones, edited)."""
    for name in ("nk_provocation_events_2011_2021.csv", "exercise_windows_2011_2026.csv",
                 "inter_korean_clashes_2000_2025.csv"):
        shutil.copy(ROOT / "data" / name, tmp_path / name)
    windows = tmp_path / "exercise_windows_2011_2026.csv"
    for old, new in windows_edits:
        text = windows.read_text()
        assert old in text, old
        windows.write_text(text.replace(old, new, 1))
    text = SETTINGS.read_text().replace("../data/", "").replace("../scenarios/", str(TEMPLATE.parent) + "/")
    for old, new in settings_edits:
        assert old in text, old
        text = text.replace(old, new, 1)
    path = tmp_path / "hindcast.toml"
    path.write_text(text)
    return path


def test_a_window_crossing_new_year_is_clipped_to_its_year(tmp_path):
    path = setup(tmp_path, windows_edits=[("2012,Ulchi Freedom Guardian,2012-08-20,2012-08-31",
                                           "2012,Ulchi Freedom Guardian,2012-12-20,2013-01-10")])
    h = load_hindcast(path)
    assert h.scenario_for(2012).drills["ulchi_freedom_guardian"].windows == [(dt.date(2012, 12, 20),
                                                                               dt.date(2012, 12, 31))]
    # a row belongs to its year only: 2013 keeps its own rows, with no drill in January
    assert all(w[0].month > 1 for d in h.scenario_for(2013).drills.values() for w in d.windows)
    assert h.record[2012].window_days == 64 + 12


def test_a_template_given_in_the_call_replaces_the_files(tmp_path):
    other = tmp_path / "other.toml"
    other.write_text(f'extends = "{TEMPLATE}"\n[alliances.us_rok]\ncohesion = 0.5\n')
    h = load_hindcast(SETTINGS, template=other)
    assert h.scenario_for(2015).alliances["us_rok"].cohesion == 0.5


def one_line(path, *words):
    with pytest.raises(InputError) as info:
        load_hindcast(path)
    lines = info.value.problems
    assert len(lines) == 1, lines
    for word in words:
        assert word in lines[0], (word, lines[0])
    return lines[0]


@pytest.mark.parametrize("old, new, words", [
    ('actor = "north_korea"', 'actor = "north_korea"\nruns = 10', ["hindcast.toml: hindcast.runs: unknown key",
                                                                  "allowed here: name, description, scenario"]),
    ("[kinds.FTX]\nrung = 2", "[kinds.FTX]\nrung = 2\nnoise = 1.0", ["kinds.FTX.noise: unknown key",
                                                                       "rung, scale, ambiguity, transparency"]),
    ("[kinds.FTX]\nrung = 2\nscale = 1.5", '[kinds.FTX]\nrung = 2\nscale = "big"', ["kinds.FTX.scale", "'big'"]),
    ("[kinds.FTX]\nrung = 2\nscale = 1.5\nambiguity = 1.0\ntransparency = 0.3",
     "[kinds.FTX]\nrung = 2\nscale = 1.5\nambiguity = 1.0\ntransparency = 1.3", ["kinds.FTX.transparency", "1.3"]),
    ("scale = 1.5\n", "", ["kinds.CPX.scale: required key is missing"]),
    ('JPN = "japan"', 'JPN = "nippon"', ["participants.JPN: unknown actor 'nippon'", "north_korea, south_korea"]),
    ('actor = "north_korea"', 'actor = "dprk"', ["hindcast.actor: unknown actor 'dprk'"]),
    ("years = [2011, 2021]", "years = [2011, 2022]", ["hindcast.years", "2011-2021"]),
    ('exercises = "exercise_windows_2011_2026.csv"', 'exercises = "windows_2011_2026.csv"',
     ["hindcast.exercises", "not found"]),
    # a rung the ladder does not have is the scenario's normal error, naming the kind and the data row
    ("[kinds.FTX]\nrung = 2", "[kinds.FTX]\nrung = 9", ["drills.foal_eagle.rung", "kinds.FTX",
                                                       "exercise_windows_2011_2026.csv line 3", "top rung 6"]),
])
def test_a_bad_settings_file_gives_one_line_naming_file_and_key(tmp_path, old, new, words):
    path = setup(tmp_path, settings_edits=[(old, new)])
    line = one_line(path, *words)
    assert line.startswith(str(path) + ": ")


def test_a_kind_or_code_the_settings_lack_names_the_data_row(tmp_path):
    path = setup(tmp_path, settings_edits=[("[kinds.air]", "[kinds.aerial]")])
    one_line(path, "exercise_windows_2011_2026.csv: line 25, kind: 'air' has no drill parameters",
             "CPX, FTX, aerial")
    path = setup(tmp_path, windows_edits=[("2016,Key Resolve,2016-03-07,2016-03-18,CPX,US;ROK",
                                           "2016,Key Resolve,2016-03-07,2016-03-18,CPX,US;ROK;UK")])
    one_line(path, "line 17, participants: 'UK' not mapped to an actor", "US, ROK, JPN, Japan")


def test_a_bad_data_file_is_the_records_error(tmp_path):
    path = setup(tmp_path, windows_edits=[("2014,Foal Eagle,2014-02-24", "2014,Foal Eagle,2014-02-30")])
    one_line(path, "exercise_windows_2011_2026.csv: line 12, start: '2014-02-30' is not a date")


# ---------------------------------------------------------------- predictive statistics and the comparison


def test_predictive_median_band_and_clash_probability():
    runs = 100
    total = np.arange(runs)                 # 0..99: the k-th smallest value is k - 1
    inside = total // 2
    onsets = np.where(np.arange(runs) < 30, 1 + np.arange(runs) % 3, 0)   # 30 runs with 1 to 3 onsets
    p = predict_year(total, inside, onsets)
    assert p.runs == runs and p.band == 0.9
    # inverted CDF: the smallest value whose share of runs at or below it reaches 5%, 50%, 95%
    b = p.stats["provocation_days"]
    assert (b.low, b.median, b.high) == (4, 49, 94)
    b = p.stats["provocation_days_in_windows"]
    assert (b.low, b.median, b.high) == (2, 24, 47)
    b = p.stats["provocation_days_outside_windows"]  # total - inside = ceil(k / 2)
    assert (b.low, b.median, b.high) == (2, 25, 47)
    b = p.stats["crisis_onsets"]
    assert (b.low, b.median, b.high) == (0, 0, 3)
    assert p.p_clash == pytest.approx(0.3)
    assert p.p_clash_low < 0.3 < p.p_clash_high
    assert predict_year(total, inside, onsets, band=0.5).stats["provocation_days"].low == 24


@pytest.mark.parametrize("arrays, message", [
    (([1, 2], [1, 1], [0]), "the same R"),
    (([1, 2], [2, 1], [0, 0]), "exceeds provocation_days"),
    (([1, -2], [0, 0], [0, 0]), "non-negative whole numbers"),
    (([1.5, 2], [0, 0], [0, 0]), "non-negative whole numbers"),
    (([[1, 2]], [[0, 0]], [[0, 0]]), "shape \\(R,\\)"),
    (([], [], []), "non-empty"),
])
def test_predictive_statistics_refuse_bad_arrays(arrays, message):
    with pytest.raises(ValueError, match=message):
        predict_year(*arrays)


def test_comparison_marks_each_observed_count_inside_or_outside_its_band(hindcast):
    record = hindcast.record
    ones = np.ones(200, dtype=np.int64)
    predictions = {
        # 2014: 16 provocation days (7 inside windows, 9 outside), 5 core clashes; runs with 10..20 days,
        # all inside windows, and half the runs with 5 onsets
        2014: predict_year(np.linspace(10, 20, 200).round(), np.linspace(10, 20, 200).round(),
                           np.r_[np.zeros(100), 5 * ones[:100]]),
        # 2016: 20 provocation days (10 inside); every run has 5 days, all inside, and no clash
        2016: predict_year(5 * ones, 5 * ones, 0 * ones),
    }
    rows = compare_to_record(record, predictions)
    assert [r.year for r in rows] == [2014, 2016]
    c = rows[0].checks
    assert c["provocation_days"].observed == 16 and c["provocation_days"].inside
    assert not c["provocation_days_in_windows"].inside and not c["provocation_days_outside_windows"].inside
    assert (c["provocation_days_in_windows"].low, c["provocation_days_outside_windows"].high) == (10, 0)
    assert c["crisis_onsets"].observed == 5 and c["crisis_onsets"].inside
    assert rows[0].had_clash and rows[0].p_clash == 0.5
    c = rows[1].checks
    assert not any(check.inside for key, check in c.items() if key != "crisis_onsets")
    assert c["crisis_onsets"].inside and not rows[1].had_clash and rows[1].p_clash == 0.0
    table = format_comparison(rows)
    assert "2014" in table and "20* " in table and "inside the band: provocation days 1/2" in table
    with pytest.raises(ValueError, match="not in the record"):
        compare_to_record(record, {2030: predictions[2014]})


@pytest.mark.slow  # end to end and 5-20 s of CPU: with the slow set, to keep the README command within 3 minutes
def test_the_hindcast_command_simulates_every_year_and_writes_the_comparison(tmp_path, capsys):
    import csv as csv_
    import json as json_

    from sim.ui.cli import main

    out = tmp_path / "hc"
    assert main(["hindcast", str(ROOT / "calibration" / "hindcast.toml"), "--runs", "64", "--workers", "1",
                 "--out", str(out)]) == 0
    doc = json_.loads((out / "hindcast.json").read_text())
    rows = list(csv_.DictReader((out / "hindcast.csv").read_text().splitlines()))
    assert len(rows) == 11 * 4 and doc["runs_per_year"] == 64
    record = read_record(ROOT / "data" / "nk_provocation_events_2011_2021.csv",
                         ROOT / "data" / "exercise_windows_2011_2026.csv",
                         ROOT / "data" / "inter_korean_clashes_2000_2025.csv")
    for r in rows:
        y, key = int(r["year"]), r["statistic"]
        observed = {"crisis_onsets": record[y].core_clashes}.get(key, getattr(record[y], key, None))
        assert int(r["observed"]) == observed
        assert float(r["low"]) <= float(r["median"]) <= float(r["high"])
        assert r["inside"] == str(int(float(r["low"]) <= observed <= float(r["high"])))
    assert doc["period"]["clashes"]["observed"] == 8 and doc["period"]["clash_years"]["observed"] == 4
    assert (out / "hindcast.png").read_bytes()[:4] == b"\x89PNG"
    printed = capsys.readouterr().out
    assert "inside the band" in printed and "calibration/korea_posterior.csv (64 draws x 1 run)" in printed
    assert doc["parameters"].startswith("drawn from") and "korea_posterior.csv" in doc["parameters"]


def test_each_history_of_the_hindcast_takes_one_posterior_draw_in_every_year(tmp_path, monkeypatch):
    """escsim hindcast runs what escsim run resolves: the template's posterior, one draw per history
    (the same in every year); --posterior none runs the point values, in a directory of its own."""
    import sim.ui.api_record
    from sim.ui.cli import main
    from sim.data.hindcast import resolve_histories

    hc = load_hindcast(ROOT / "calibration" / "hindcast.toml")
    seen = []

    class Captured(Exception):
        pass

    def capture(hc, runs, seed, workers=None, progress=False, run_values=None, compiled=None):
        seen.append(run_values)
        raise Captured

    monkeypatch.setattr(sim.ui.api_record, "simulate_years", capture)  # the one call escsim hindcast makes
    for extra in ([], ["--posterior", "none"]):
        with pytest.raises(Captured):
            main(["hindcast", str(hc.path), "--runs", "50", "--seed", "3", "--no-plot", "--out", str(tmp_path), *extra])
    drawn, point = seen
    assert point is None
    expected = resolve_histories(hc, 50, 3)
    assert expected.draws.runs_per_draw == 1 and set(drawn) == set(expected.draws.posterior.keys)
    assert all(np.array_equal(drawn[k], expected.run_values[k]) for k in drawn)
    assert len(set(drawn["actors.north_korea.provocation.base_rate"])) > 25  # histories take their own draws


def test_python_run_is_escsim_run(tmp_path):
    """sim.run resolves what escsim run resolves: the same numbers, interval and parameters."""
    import json as json_

    import sim
    from sim.ui.cli import main

    assert main(["run", str(ROOT / "scenarios" / "korea_baseline.toml"), "--runs", "640", "--seed", "4",
                 "--set", "alliances.us_rok.cohesion=0.9", "--out", str(tmp_path / "r"), "--no-plot",
                 "--workers", "1"]) == 0
    cli = json_.loads((tmp_path / "r" / "summary.json").read_text())
    py = sim.run(ROOT / "scenarios" / "korea_baseline.toml", runs=640, seed=4, workers=1,
                 overrides={"alliances.us_rok.cohesion": 0.9}).summary
    for key in ("p_miscalculation", "p_crisis", "p_war", "parameter_uncertainty"):
        assert py[key] == cli[key], key
    assert py["parameters"]["posterior"] == cli["parameters"]["posterior"]


@pytest.mark.slow  # 22 ensembles; the seed discipline it checks is also guarded by tests/invariants/test_seeds.py
def test_years_draw_from_streams_of_their_own_and_repeat(tmp_path):
    from sim.data.hindcast import simulate_years

    hc = load_hindcast(ROOT / "calibration" / "hindcast.toml")
    a = simulate_years(hc, 64, seed=1, workers=1)
    b = simulate_years(hc, 64, seed=1, workers=1)
    assert all(np.array_equal(a[y].provocation_days, b[y].provocation_days) for y in a)
    assert not np.array_equal(a[2014].provocation_days, a[2015].provocation_days)


def test_without_persistence_each_year_is_its_own_ensemble():
    """Persistence 0 (the default, or given per history) reproduces the model without it: every year
    of a history is exactly the plain ensemble of that year's scenario on the year's stream."""
    from sim.data.hindcast import simulate_years
    from sim.engines.draws import Stream, as_root, child
    from sim.engines.ensemble import run_ensemble

    hc = load_hindcast(SETTINGS)
    rho0 = {"actors.north_korea.provocation.regime_persistence": np.zeros(64),
            "actors.north_korea.provocation.regime_dispersion": np.full(64, 1.2)}
    years = simulate_years(hc, 64, seed=2, workers=1, run_values=rho0)
    root = as_root(2, Stream.HINDCAST)
    for year in (2011, 2016, 2021):
        sc = compile_scenario(hc.scenarios[year])
        _, table, _ = run_ensemble(sc, 64, seed=child(root, Stream.YEAR, year), workers=1, per_run=True,
                                   run_values={"actors.north_korea.provocation.regime_dispersion": np.full(64, 1.2)})
        i = sc.actor_ids.index(hc.actor)
        assert np.array_equal(years[year].provocation_days, table[f"provocations_{i}"])
        assert np.array_equal(years[year].crisis_onsets, table["crisis_onsets"])


def test_a_persistent_regime_links_each_year_to_the_one_before():
    """Year Y's regime score is rho times year Y-1's plus fresh noise (the kernel's AR(1)), so
    consecutive years' scores correlate at rho and so do, more weakly, their counts; with rho 0 the
    years are independent (bounds: 4 standard errors of a correlation at n = 1,024)."""
    from sim.data.hindcast import simulate_years

    hc = load_hindcast(SETTINGS)
    n = 1024
    common = {"actors.north_korea.provocation.regime_dispersion": np.full(n, 1.5)}
    linked = simulate_years(hc, n, seed=3, workers=2, run_values={
        **common, "actors.north_korea.provocation.regime_persistence": np.full(n, 0.9)})
    free = simulate_years(hc, n, seed=3, workers=2, run_values={
        **common, "actors.north_korea.provocation.regime_persistence": np.zeros(n)})
    z = np.stack([linked[y].regime_score for y in YEARS])
    r = [np.corrcoef(z[k], z[k + 1])[0, 1] for k in range(len(YEARS) - 1)]
    assert all(abs(x - 0.9) < 4 * (1 - 0.81) / np.sqrt(n) for x in r)
    counts = lambda ys: np.stack([ys[y].provocation_days for y in YEARS]).astype(float)
    lag = lambda c: np.mean([np.corrcoef(c[k], c[k + 1])[0, 1] for k in range(len(YEARS) - 1)])
    assert lag(counts(linked)) > 0.3 and abs(lag(counts(free))) < 4 / np.sqrt(n)
    # the first year has no previous year: same regimes, same counts, linked or not
    assert np.array_equal(linked[2011].provocation_days, free[2011].provocation_days)
