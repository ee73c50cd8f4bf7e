"""The posterior reaches every number through one resolver: runs draw their parameters, overrides of drawn
keys hold, comparisons pair only runs that took the same draws, posterior files are checked like scenarios,
and too few draws give no interval."""

import csv
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import SCENARIOS
from sim.ui.cli import main
from sim.engines.posterior import posterior_csv
from sim.engines.resolve import resolve

BASE = SCENARIOS / "korea_baseline.toml"
RATE = "actors.north_korea.provocation.base_rate"
CONTACT = "actors.north_korea.provocation.contact_rate"
KAPPA = "actors.north_korea.provocation.kappa"


def write_posterior(tmp_path, keys, samples, template, name="post", weights=None, json_keys=None):
    samples = np.asarray(samples, float)
    w = np.full(len(samples), 1 / len(samples)) if weights is None else np.asarray(weights, float)
    (tmp_path / f"{name}.csv").write_text(posterior_csv({"keys": keys, "samples": samples, "weights": w}))
    (tmp_path / f"{name}.json").write_text(json.dumps({"calibration": name, "template": str(template),
                                                       "keys": keys if json_keys is None else json_keys}))
    return tmp_path / f"{name}.csv"


def test_runs_draw_their_parameters_and_the_spread_is_reported(tmp_path, capsys):
    # two very different worlds: the spread over draws must show them apart
    post = write_posterior(tmp_path, [RATE, CONTACT], [[0.001, 0.0], [0.08, 0.02]], BASE)
    out = tmp_path / "r"
    assert main(["run", str(SCENARIOS / "asian_nato.toml"), "--posterior", str(post), "--runs", "1280",
                 "--out", str(out), "--no-plot", "--workers", "1"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    spread = summary["parameter_uncertainty"]["p_crisis"]
    assert summary["runs"] == 1280 and spread["draws"] == 20 and spread["runs_per_draw"] == 64
    assert spread["q05"] < 0.2 < spread["q95"]  # some draws almost never clash, others nearly always
    printed = capsys.readouterr().out
    assert "5-95% over draws" in printed and f"drawn from {post} (20 draws x 64 runs)" in printed
    assert "95% interval: over 20 posterior draws" in printed
    assert summary["p_crisis"]["interval"] == "over 20 posterior draws" and summary["p_crisis"]["draws"] == 20
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["posterior"]["file"] == str(post) and manifest["posterior"]["runs_per_draw"] == 64
    assert manifest["posterior"]["draws"] == 20 and len(manifest["posterior"]["sha256"]) == 64


def test_none_runs_the_scenarios_point_values_in_a_directory_of_its_own(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["run", str(BASE), "--posterior", "none", "--runs", "300", "--no-plot", "--workers", "1"]) == 0
    out = tmp_path / "results" / "korea_baseline__posterior=none"
    summary = json.loads((out / "summary.json").read_text())
    assert "parameter_uncertainty" not in summary and summary["runs"] == 300
    assert summary["parameters"]["source"] == "point values" and summary["p_crisis"]["interval"] == "Wilson"
    assert not (tmp_path / "results" / "korea_baseline").exists()  # the plain run's directory is not touched


def test_too_few_draws_give_no_interval(tmp_path, capsys):
    """300 runs are five draws: the table must not claim the precision of 300 independent runs."""
    out = tmp_path / "r"
    assert main(["run", str(BASE), "--runs", "300", "--seed", "7", "--out", str(out), "--no-plot",
                 "--workers", "1"]) == 0
    printed = capsys.readouterr().out
    assert "no interval: 5 posterior draws, fewer than 10" in printed and "[" not in printed.split("\n")[3]
    assert "5-95% over draws: not shown, 5 posterior draws are too few" in printed  # the column's absence, said
    summary = json.loads((out / "summary.json").read_text())
    for key in ("p_miscalculation", "p_crisis", "p_war"):
        assert summary[key]["ci_low"] is None and summary[key]["ci_high"] is None
        assert summary[key]["interval"].startswith("none: 5 posterior draws")


def test_a_set_of_a_drawn_key_holds_in_every_run_and_says_so(tmp_path, capsys):
    out = tmp_path / "r"
    assert main(["run", str(BASE), "--set", f"{RATE}=0.0", "--set", f"{CONTACT}=0.0", "--runs", "640",
                 "--out", str(out), "--no-plot", "--workers", "1"]) == 0
    printed = capsys.readouterr().out
    assert f"fixed by overrides in every run: {RATE}, {CONTACT}" in printed
    summary = json.loads((out / "summary.json").read_text())
    assert "north_korea" not in summary["provocation_days_per_run"]  # no provocation in any run
    with np.load(out / "parameters.npz") as f:
        assert RATE not in f.files and KAPPA in f.files and len(set(f[KAPPA])) > 1  # the rest still drawn


def test_a_posterior_that_does_not_fit_the_scenario_is_refused(tmp_path, capsys):
    strait = write_posterior(tmp_path, [RATE], [[0.01]], SCENARIOS / "strait_example.toml", name="strait")
    assert main(["run", str(BASE), "--posterior", str(strait), "--runs", "256", "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "does not extend" in err[0]
    china = write_posterior(tmp_path, ["actors.china.noise"], [[0.2]], BASE, name="cn")
    assert main(["run", str(BASE), "--posterior", str(china), "--runs", "256", "--out", str(tmp_path / "r")]) == 2
    assert "unknown actor 'china'" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


GOOD = [[0.02, 0.1, 0.002], [0.03, 0.3, 0.004]]
BAD_FILES = {
    "a NaN": (dict(samples=[[0.02, float("nan"), 0.002], [0.03, 0.3, 0.004]]), "line 2, " + KAPPA, "finite"),
    "a value the schema refuses": (dict(samples=[[0.02, 0.1, 0.002], [0.03, -3.0, 0.004]]), "line 3, " + KAPPA,
                                   "greater than or equal to 0"),
    "a probability above 1": (dict(keys=[RATE, "actors.south_korea.in_kind", CONTACT],
                                   samples=[[0.02, 1.5, 0.002], [0.03, 0.9, 0.004]]),
                              "line 2, actors.south_korea.in_kind", "less than or equal to 1"),
    "a negative drill factor": (dict(keys=[RATE, "drills.*.scale_factor", CONTACT]
                                     , samples=[[0.02, -0.5, 0.002], [0.03, 1.0, 0.004]]),
                                "line 2, drills.*.scale_factor", ">= 0"),
    "columns that are not the JSON's keys": (dict(json_keys=[RATE, KAPPA]), "line 1", "not the keys"),
    "all-zero weights": (dict(weights=[0.0, 0.0]), "weight", "every weight is 0"),
    "a negative weight": (dict(weights=[1.0, -1.0]), "line 3, weight", ">= 0"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_a_bad_posterior_file_is_one_line_and_writes_nothing(case, tmp_path, capsys):
    args, where, why = BAD_FILES[case]
    keys = args.pop("keys", [RATE, KAPPA, CONTACT])
    post = write_posterior(tmp_path, keys, args.pop("samples", GOOD), BASE, **args)
    for command in (["run", str(BASE), "--posterior", str(post), "--runs", "512", "--out", str(tmp_path / "r")],
                    ["compare", str(BASE), str(SCENARIOS / "asian_nato.toml"), "--posterior", str(post),
                     "--runs", "512"]):
        assert main(command) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and f"{post}: {where}" in err[0] and why in err[0], err
    assert not (tmp_path / "r").exists()


def test_a_row_with_the_wrong_number_of_values_is_named(tmp_path, capsys):
    post = write_posterior(tmp_path, [RATE, KAPPA], [[0.02, 0.1], [0.03, 0.3]], BASE)
    post.write_text(post.read_text() + "0.01,0.2\n")
    assert main(["run", str(BASE), "--posterior", str(post), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"{post}: line 4: 2 values" in err[0]


def test_validate_checks_the_posterior_a_scenario_names(tmp_path, capsys):
    post = write_posterior(tmp_path, [RATE, KAPPA], [[0.02, 0.1], [0.03, -1.0]], BASE)
    copy = tmp_path / "copy.toml"
    copy.write_text(f'extends = "{BASE}"\n[scenario]\nname = "copy"\nposterior = "{post.name}"\n')
    assert main(["validate", str(copy)]) == 2
    assert f"{post}: line 3, {KAPPA}" in capsys.readouterr().err
    assert main(["validate", str(BASE)]) == 0


# ---------------------------------------------------------------- comparisons pair only the same draws


def test_compare_against_itself_or_its_results_is_exactly_zero(tmp_path, capsys):
    out = tmp_path / "kb"
    assert main(["run", str(BASE), "--runs", "640", "--out", str(out), "--no-plot", "--workers", "1"]) == 0
    capsys.readouterr()
    for targets in ([str(BASE), str(BASE)], [str(out), str(BASE)], [str(BASE), str(out)]):
        assert main(["compare", *targets, "--json", "--workers", "1"] + ([] if str(out) in targets else
                                                                          ["--runs", "640"])) == 0
        doc = json.loads(capsys.readouterr().out)
        for output, p in doc["paired"]["B-A"].items():
            assert p["difference"] == 0 and p["only_here"] == p["only_baseline"] == 0, (targets, output)
            assert p["diff_low"] == -p["diff_high"] and p["diff_low"] <= 0  # symmetric: none differed
            assert p["interval"] == "paired, over 10 posterior draws"


def test_runs_from_other_draws_do_not_pair(tmp_path, capsys):
    out = tmp_path / "kb"
    assert main(["run", str(BASE), "--runs", "640", "--out", str(out), "--no-plot", "--workers", "1"]) == 0
    capsys.readouterr()
    assert main(["compare", str(out), str(BASE), "--posterior", "none"]) == 2
    assert "drop --posterior" in capsys.readouterr().err
    point = tmp_path / "point"
    assert main(["run", str(BASE), "--runs", "640", "--posterior", "none", "--out", str(point), "--no-plot",
                 "--workers", "1"]) == 0
    capsys.readouterr()
    assert main(["compare", str(out), str(point)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "do not pair" in err[0] and "point values" in err[0]


@settings(max_examples=25, deadline=None)
@given(st.sets(st.sampled_from([RATE, KAPPA, CONTACT, "actors.north_korea.provocation.regime_dispersion",
                                "actors.south_korea.in_kind", "drills.*.scale_factor"])),
       st.integers(0, 2**31), st.integers(1, 3000))
def test_overrides_hold_their_keys_and_keep_every_other_draw(keys, seed, runs):
    """Whatever drawn keys a setting overrides, its runs take the same posterior samples as the plain
    scenario's (so the two pair run for run), the overridden keys hold the given value in every run,
    and every other key takes its draw's value."""
    values = {k: 0.5 for k in keys}
    plain = resolve(BASE, seed=seed, runs=runs)
    changed = resolve(BASE, overrides=values, seed=seed, runs=runs)
    assert np.array_equal(plain.draws.index, changed.draws.index)
    assert plain.identity()["posterior"] == changed.identity()["posterior"]
    post = plain.draws.posterior
    rows = np.repeat(plain.draws.index, plain.draws.runs_per_draw)[:runs]
    for j, key in enumerate(post.keys):
        if key in keys:
            assert key not in changed.run_values or np.all(changed.run_values[key] == 0.5)
            assert key in changed.draws.fixed or key.startswith("drills.")
        else:
            assert np.array_equal(changed.run_values[key], post.samples[rows, j])
    for key in keys - set(post.keys):
        assert changed.run_values[key].tolist() == [0.5] * runs  # a drill factor without a draw: fixed too


# ---------------------------------------------------------------- replays take each run's own draw


def test_a_run_drawn_from_the_posterior_replays_from_its_results_and_its_scenario(tmp_path, capsys):
    # runs of 4 draws far apart; a replay must take each run's own values, so the replayed outcomes equal
    # runs.csv's row for row (a replay at the point values would not)
    post = write_posterior(tmp_path, [RATE, CONTACT], [[0.001, 0.0], [0.08, 0.02], [0.02, 0.004], [0.05, 0.01]],
                           BASE)
    copy = tmp_path / "copy.toml"
    copy.write_text(f'extends = "{BASE}"\n[scenario]\nname = "copy"\nposterior = "{post.name}"\n')
    out = tmp_path / "r"
    assert main(["run", str(copy), "--runs", "1024", "--out", str(out), "--no-plot", "--workers", "1"]) == 0
    with np.load(out / "parameters.npz") as f:
        assert f[RATE].shape == (1024,) and len(set(f[RATE])) >= 2
    rows = list(csv.DictReader((out / "runs.csv").read_text().splitlines()))
    provocations = [int(r["provocations_north_korea"]) for r in rows]
    chosen = {int(np.argmin(provocations)), int(np.argmax(provocations)), 300, 700}
    capsys.readouterr()
    for run in sorted(chosen):
        for target in (out, copy):
            assert main(["replay", str(target), "--run", str(run)]) == 0
            line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("outcomes (as in runs.csv): "))
            replayed = dict(pair.split("=", 1) for pair in line.split(": ", 1)[1].split(" "))
            assert replayed == {k: v for k, v in rows[run].items() if k != "run"}, (run, target)
    (out / "parameters.npz").unlink()
    assert main(["replay", str(out), "--run", "3"]) == 2
    assert "parameters.npz" in capsys.readouterr().err
