"""Paired comparisons: the interval against a published example, known differences (none, all noise
removed), paired against unpaired widths, `escsim compare` on scenarios and results directories, --set,
robustness over an experiment's draws, sweeps' paired columns and the effects figure."""

import csv
import json

import numpy as np
import pytest

from conftest import ROOT
from sim.ui.cli import main
from sim.analysis.compare import compare
from sim.analysis.over import compare_over
from sim.analysis.pairing import paired_counts, paired_estimate
from sim.model.outcomes import outcome_flags
from sim.model.overrides import parse_set, set_overrides
from sim.engines.draws import Stream, make_root
from sim.core.errors import InputError
from sim.analysis.experiment import load_experiment
from sim.core.stats import paired_difference, paired_ratio, unpaired_difference
from sim.analysis.sweep import run_point, run_sweep

# Two actors on a short horizon: provocations (rung 3) are crises, misreadings are common, so every
# outcome but war has a few hundred runs in a thousand.
DUEL = """\
[scenario]
name = "duel"
horizon = 90

[ladder]
accident = [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]
crisis_rung = 3
war_rung = 4

[actors.a]
capability = 1.0
noise = 0.5
threatened_by = { b = 1.0 }
rule = { name = "graduated", threshold = 1.5, cool_rate = 0.1 }
provocation = { base_rate = 0.005, kappa = 0.4, rung = 3 }

[actors.b]
capability = 1.0
noise = 0.5
threatened_by = { a = 1.0 }
rule = { name = "graduated", threshold = 1.5, cool_rate = 0.1 }
"""
QUIET = ["2:actors.a.noise=0", "2:actors.b.noise=0"]  # no perception noise: nothing is ever misread


@pytest.fixture(scope="module")
def duel(tmp_path_factory):
    path = tmp_path_factory.mktemp("duel") / "duel.toml"
    path.write_text(DUEL)
    return path


# ---------------------------------------------------------------- the intervals


def test_newcombe_and_bonett_price_match_the_published_example():
    """Cavo et al. (2012), complete response before and after consolidation therapy, as worked in
    Fagerland, Lydersen and Laake, Statistical Analysis of Contingency Tables (2017), chapter 8:
    a = 59 (both), b = 6, c = 16, d = 80. Difference -0.0621 (95% CI -0.1186 to -0.0046); ratio
    0.8667 (0.7579 to 0.9910)."""
    d, lo, hi = paired_difference(6, 16, 59, 161)
    assert (round(float(d), 4), round(float(lo), 4), round(float(hi), 4)) == (-0.0621, -0.1186, -0.0046)
    r, rlo, rhi = paired_ratio(6, 16, 59)
    assert (round(float(r), 4), round(float(rlo), 4), round(float(rhi), 4)) == (0.8667, 0.7579, 0.9910)
    # with no correlation the paired interval is the independent-samples one, and is wider here
    _, ulo, uhi = unpaired_difference(65, 75, 161)
    assert uhi - ulo > hi - lo


def test_paired_interval_properties():
    rng = np.random.default_rng(3)
    for _ in range(200):
        a, b, c = rng.integers(0, 40, 3)
        n = a + b + c + int(rng.integers(1, 60))
        d, lo, hi = paired_difference(b, c, a, n)
        assert -1 <= lo <= d <= hi <= 1
        assert d == (b - c) / n
        # swapping the settings mirrors the interval
        d2, lo2, hi2 = paired_difference(c, b, a, n)
        assert np.allclose([d2, lo2, hi2], [-d, -hi, -lo])
        r, rlo, rhi = paired_ratio(b, c, a)
        if a + c > 0 and a + b > 0:
            assert rlo <= r <= rhi
    for both in (0, 7, 1000):  # no discordant run: a difference of exactly 0 and a symmetric interval
        d, lo, hi = paired_difference(0, 0, both, 1000)
        assert d == 0.0 and lo == -hi and hi > 0
        assert paired_ratio(0, 0, both)[1] <= 1 <= paired_ratio(0, 0, both)[2] or both == 0


def test_paired_counts_and_estimate():
    here = np.array([1, 1, 0, 0, 1], bool)
    base = np.array([1, 0, 1, 0, 0], bool)
    assert paired_counts(here, base) == (1, 2, 1)
    p = paired_estimate(here, base)
    assert p["difference"] == pytest.approx(0.2) and p["here"] == 0.6 and p["baseline"] == 0.4
    assert (p["both"], p["only_here"], p["only_baseline"], p["runs"]) == (1, 2, 1, 5)
    assert json.dumps(p)  # JSON-ready, even with an infinite ratio
    assert paired_estimate(here, np.zeros(5, bool))["ratio"] is None


# ---------------------------------------------------------------- compare: known differences


def test_a_lever_that_changes_nothing_gives_exactly_zero(duel):
    # the same scenario, and a change that touches nothing the model reads
    result = compare([duel, duel], ["2:scenario.description=\"a what-if\""], runs=1024, workers=1)
    for out in result.outputs:
        p = result.paired[0][out]
        assert p["difference"] == 0.0 and p["only_here"] == p["only_baseline"] == 0
        assert p["diff_low"] == -p["diff_high"]
    assert result.estimates[0]["p_miscalculation"]["successes"] > 20  # there was something to change


def test_removing_all_noise_removes_every_misperception_outcome(duel):
    result = compare([duel, duel], QUIET, runs=1024, workers=1)
    quiet = result.estimates[1]
    assert quiet["p_miscalculation"]["successes"] == 0
    assert quiet["p_misperception_driven_escalation"]["successes"] == 0
    p = result.paired[0]["p_miscalculation"]
    assert p["here"] == 0 and p["only_here"] == 0 and p["difference"] == -p["baseline"] < 0
    assert p["diff_high"] < 0  # a sure effect
    assert p["ratio"] == 0.0


def test_paired_intervals_are_much_narrower_than_unpaired_on_a_real_lever(duel):
    result = compare([duel, duel], ["2:actors.a.noise=0.4", "2:actors.b.noise=0.4"], runs=2048, workers=1)
    widths = {}
    for out in ("p_miscalculation", "p_crisis", "p_misperception_driven_escalation"):
        p = result.paired[0][out]
        k_here, k_base = p["both"] + p["only_here"], p["both"] + p["only_baseline"]
        _, ulo, uhi = unpaired_difference(k_here, k_base, p["runs"])
        widths[out] = (p["diff_high"] - p["diff_low"]) / (uhi - ulo)
        assert p["diff_high"] < 0, out  # every effect is found
    assert max(widths.values()) < 0.7, widths
    # P(crisis) moves by under a point in 38%: the separate intervals overlap, the paired one is a quarter
    # of their width and excludes 0
    p = result.paired[0]["p_crisis"]
    assert widths["p_crisis"] < 0.35 and -0.01 < p["difference"] < 0
    e = result.estimates
    assert e[1]["p_crisis"]["ci_high"] > e[0]["p_crisis"]["ci_low"]


def test_compare_pairs_results_directories_as_it_pairs_scenarios(duel, tmp_path, capsys):
    for name, seed in (("a", "0"), ("b", "0"), ("c", "1")):
        assert main(["run", str(duel), "--runs", "1024", "--seed", seed, "--out", str(tmp_path / name),
                     "--no-plot", "--workers", "1"]) == 0
    assert main(["run", str(duel), "--runs", "1024", "--out", str(tmp_path / "q"), "--no-plot", "--workers", "1",
                 "--set", "actors.a.noise=0", "--set", "actors.b.noise=0"]) == 0
    man = json.loads((tmp_path / "q" / "manifest.json").read_text())
    assert man["scenario"]["actors"]["a"]["noise"] == 0.0  # --set on run reached the scenario as resolved
    from_dirs = compare([tmp_path / "a", tmp_path / "q"])
    from_files = compare([duel, duel], QUIET, runs=1024, workers=1)
    mixed = compare([tmp_path / "a", duel], QUIET)  # the file runs on the directory's stream and runs
    assert from_dirs.paired == from_files.paired == mixed.paired
    capsys.readouterr()
    assert main(["compare", str(tmp_path / "a"), str(tmp_path / "b"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["paired"]["B-A"]["p_crisis"]["difference"] == 0.0 and out["runs"] == 1024
    for args, says in [
        ([tmp_path / "a", tmp_path / "c"], "did not run on the same random numbers"),
        ([tmp_path / "a", tmp_path / "b", "--runs", "2048"], "--runs 2048"),
        ([tmp_path / "a", tmp_path / "b", "--seed", "1"], "--seed 1"),
        ([tmp_path / "a", duel, "--set", "actors.a.noise=0"], "is a results directory"),
    ]:
        assert main(["compare", *map(str, args)]) == 2
        err = capsys.readouterr().err
        assert says in err and err.count("\n") == 1, err


def test_compare_refuses_bad_input_with_one_line_and_writes_nothing(duel, tmp_cwd, capsys):
    other = tmp_cwd / "trio.toml"
    other.write_text(DUEL + '\n[actors.c]\ncapability = 1.0\n')
    for args, says in [
        ([duel, other], "compare pairs runs of the same actors"),
        ([duel], "at least two"),
        ([duel, duel, "--set", "actors.a.nosie=0"], "actors.a.nosie (set in --set actors.a.nosie): unknown key"),
        ([duel, duel, "--set", "actors.z.noise=0"], "--set actors.z.noise: 'actors.z.noise' is not a key"),
        ([duel, duel, "--set", "actors.a.noise=loud"], "valid number; got 'loud'"),
        ([duel, duel, "--set", "actors.a.noise"], "expected KEY=VALUE"),
        ([duel, duel, "--set", "3:actors.a.noise=0"], "there are 2 scenarios"),
        ([duel, duel, "--set", "actors.a.noise=[0"], "not a TOML value"),
        ([duel, tmp_cwd / "missing.toml"], "no such scenario file"),
        ([duel, duel, "--over", tmp_cwd / "missing.toml", "--seed", "2"], "--seed: with --over"),
    ]:
        assert main(["compare", *map(str, args), "--runs", "1024"]) == 2
        err = capsys.readouterr().err
        assert says in err and err.count("\n") == 1, (says, err)
    assert sorted(p.name for p in tmp_cwd.iterdir()) == ["trio.toml"]
    assert main(["run", str(duel), "--set", "actors.a.noise=loud", "--runs", "1024"]) == 2
    assert "got 'loud'" in capsys.readouterr().err and not (tmp_cwd / "results").exists()


def test_set_values_are_toml_values():
    assert parse_set("a.b=0.5") == (None, "a.b", 0.5)
    assert parse_set("2:a.b=true") == (2, "a.b", True)
    assert parse_set('x.y="text"') == (None, "x.y", "text")
    assert parse_set("x.rule.name=tit_for_tat") == (None, "x.rule.name", "tit_for_tat")  # a bare word is text
    assert parse_set("x.windows=[2024-03-04]")[2][0].isoformat() == "2024-03-04"
    assert set_overrides(["k=1", "2:k=2", "j=3"], 2) == [{"k": 1, "j": 3}, {"k": 2, "j": 3}]
    with pytest.raises(InputError):
        set_overrides(["0:k=1"], 2)


def test_compare_prints_differences_ratios_and_counts(duel, capsys):
    assert main(["compare", str(duel), str(duel), *(f"--set={s}" for s in QUIET), "--runs", "1024",
                 "--workers", "1"]) == 0
    out = capsys.readouterr().out
    assert "B: duel" in out and "actors.a.noise=0" in out and "seed 0 (the runs of escsim run --seed 0)" in out
    line = next(ln for ln in out.splitlines() if ln.startswith("P(miscalculation)"))
    assert "0.00%" in line and "[-" in line and "/" in line


# ---------------------------------------------------------------- robust over draws


def test_compare_over_the_draws_of_an_experiment(duel, tmp_path, capsys):
    exp = tmp_path / "draws.toml"
    exp.write_text(f'[experiment]\nname = "draws"\nscenario = "{duel}"\nruns = 1024\nseed = 2\nsampler = "lhs"\n'
                   'points = 3\ncommon_random_numbers = true\n'
                   '[[parameters]]\nkey = "actors.a.provocation.kappa"\nname = "kappa"\nrange = [0.2, 0.8]\n'
                   '[[parameters]]\nkey = ["actors.a.noise", "actors.b.noise"]\nname = "noise"\nrange = [0.3, 0.7]\n')
    # the lever sets a drawn key: it wins over the draw
    over = compare_over([duel, duel], exp, QUIET, workers=1)
    s = over.summary[0]["p_miscalculation"]
    assert s["draws"] == 3 and s["lower"] == 3 and s["share_lower"] == 1.0 and s["q95"] < 0
    rows = over.rows()
    assert len(rows) == 3 and {"kappa", "noise", "p_miscalculation_diff"} <= set(rows[0])
    assert all(r["p_miscalculation"] == 0 for r in rows)  # no noise: no miscalculation in any draw
    # each draw pairs on the draw's stream: the same numbers compare gives there
    point = load_experiment(exp).points[1]
    assert point.seed.spawn_key == make_root(2, Stream.SWEEP_SHARED).spawn_key
    assert main(["compare", str(duel), str(duel), *(f"--set={q}" for q in QUIET), "--over", str(exp),
                 "--workers", "1"]) == 0
    out = capsys.readouterr().out
    assert "B lowers P(miscalculation) in 100% of the draws (3 of 3)" in out
    assert main(["compare", str(duel), str(duel), "--over", str(exp), "--set", "actors.a.nope=1"]) == 2
    assert "actors.a.nope (set in --set actors.a.nope): unknown key" in capsys.readouterr().err


def test_compare_over_runs_each_draw_on_the_experiments_posterior_draws(tmp_path):
    """korea_baseline names a posterior: at every draw both settings' runs carry the experiment's posterior
    draws (the runs of its sweep), less what a setting's --set fixes."""
    base = ROOT / "scenarios" / "korea_baseline.toml"
    exp = tmp_path / "draws.toml"
    exp.write_text(f'[experiment]\nname = "draws"\nscenario = "{base}"\nruns = 1024\nseed = 2\nsampler = "lhs"\n'
                   'points = 2\ncommon_random_numbers = true\n'
                   '[[parameters]]\nkey = "actors.south_korea.noise"\nname = "noise"\nrange = [0.1, 0.3]\n')
    rate = "actors.north_korea.provocation.base_rate"
    over = compare_over([base, base], exp, [f"2:{rate}=0.0005"], workers=1)
    rows = over.rows()
    # the sweep of the same experiment gives setting A's numbers at each draw
    loaded = load_experiment(exp)
    for row, point in zip(rows, loaded.points):
        r = loaded.point_resolved(point)
        alone = run_point(r.compiled, r.seed, r.run_values, runs=1024, runs_per_draw=loaded.runs_per_draw)
        assert row["p_crisis_baseline"] == alone["p_crisis"]["estimate"]
    assert all(r["p_crisis_diff"] < 0 for r in rows)  # B's fixed, tiny rate wins over the drawn one


# ---------------------------------------------------------------- sweeps


def _oat(tmp_path, duel, crn=True):
    path = tmp_path / "oat.toml"
    path.write_text(f'[experiment]\nname = "oat"\nscenario = "{duel}"\nruns = 1024\nseed = 7\nsampler = "oat"\n'
                    f'common_random_numbers = {str(crn).lower()}\n'
                    'outputs = ["p_miscalculation", "p_crisis", "p_misperception_driven_escalation"]\n'
                    '[[parameters]]\nkey = ["actors.a.noise", "actors.b.noise"]\nname = "noise"\n'
                    'values = [0.5, 0.0, 0.4]\nbaseline = 0.5\n'
                    '[[parameters]]\nkey = "scenario.description"\nname = "words"\nvalues = ["x", "y"]\n'
                    'baseline = "x"\n')
    return load_experiment(path)


def test_sweep_points_carry_paired_differences_from_the_baseline(duel, tmp_path):
    exp = _oat(tmp_path, duel)
    run_sweep(exp, tmp_path / "out", workers=1)
    rows = list(csv.DictReader((tmp_path / "out" / "points.csv").read_text().splitlines()))
    assert [(r["noise"], r["words"]) for r in rows] == [("0.5", "x"), ("0.0", "x"), ("0.4", "x"), ("0.5", "y")]
    base = rows[0]
    for r in rows:
        for out in exp.meta.outputs:
            up, down = int(r[f"{out}_only_here"]), int(r[f"{out}_only_baseline"])
            assert float(r[f"{out}_diff"]) == pytest.approx((up - down) / 1024)
            assert float(r[out]) - float(base[out]) == pytest.approx(float(r[f"{out}_diff"]))
    assert float(rows[3]["p_miscalculation_diff"]) == 0.0  # a change the model does not read
    assert float(rows[1]["p_misperception_driven_escalation"]) == 0.0  # no noise
    assert float(rows[1]["p_miscalculation_diff_high"]) < 0
    # the counts are those of the shared stream's runs, paired by hand
    from sim.engines.simulate import simulate

    flags = [outcome_flags(simulate(p.scenario, 1024, p.seed, workers=1).per_run, p.scenario.top_rung)
             for p in exp.points[:3]]
    both, up, down = paired_counts(flags[2]["p_crisis"], flags[0]["p_crisis"])
    assert (int(rows[2]["p_crisis_only_here"]), int(rows[2]["p_crisis_only_baseline"])) == (up, down)
    # a resumed sweep that lost the baseline's runs (and a point) ends with the same table
    table = (tmp_path / "out" / "points.csv").read_text()
    (tmp_path / "out" / "paired_baseline.npz").unlink()
    (tmp_path / "out" / "points" / "000002.json").unlink()
    report = run_sweep(exp, tmp_path / "out", workers=1)
    assert report.computed == 2 and (tmp_path / "out" / "points.csv").read_text() == table


def test_a_sweep_without_common_random_numbers_has_no_paired_columns(duel, tmp_path):
    exp = _oat(tmp_path, duel, crn=False)
    run_sweep(exp, tmp_path / "out", workers=1)
    header = (tmp_path / "out" / "points.csv").read_text().splitlines()[0]
    assert "_diff" not in header and not (tmp_path / "out" / "paired_baseline.npz").exists()


def test_effects_figure_draws_paired_differences_with_zero_marked():
    from sim.ui.plots import plot_effects
    from sim.ui.report import paired_table

    rows = []
    points = [("False", 0.03, 0.0, -0.002, 0.002), ("True", 0.028, -0.002, -0.004, -0.001)]
    for k, (h, p, d, lo, hi) in enumerate(points):
        rows.append({"point": k, "hotlines": h, "runs": 1000, "p_miscalculation": p, "p_miscalculation_low": p - 0.01,
                     "p_miscalculation_high": p + 0.01, "p_miscalculation_diff": d, "p_miscalculation_diff_low": lo,
                     "p_miscalculation_diff_high": hi, "p_miscalculation_only_here": 0,
                     "p_miscalculation_only_baseline": 2 * k})
    fig = plot_effects(rows, ["hotlines"], ["p_miscalculation"])
    top, bottom = fig.axes[:2]
    assert np.allclose(top.lines[0].get_xdata(), [3.0, 2.8])  # the probabilities, in percent
    zero, diffs = bottom.lines[:2]
    assert np.allclose(zero.get_xdata(), 0.0)  # zero marked
    assert np.allclose(diffs.get_xdata(), [0.0, -0.2]) and np.array_equal(diffs.get_ydata(), [1, 0])  # points
    assert "difference" in bottom.get_title() and "paired" in fig._suptitle.get_text()
    table = "\n".join(paired_table(rows, ["hotlines"], ["p_miscalculation"]))
    assert "| True | -0.20 [-0.40, -0.10] (0 / 2) |" in table
