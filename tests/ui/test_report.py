"""The experiments page is generated from results: question, command, figure and numbers with intervals."""

import csv
from pathlib import Path

import pytest


from conftest import SCENARIOS
from sim.ui.cli import main


def test_report_writes_each_experiment_with_its_numbers(tmp_path, capsys, monkeypatch):
    exp = tmp_path / "experiments" / "tiny.toml"
    exp.parent.mkdir()
    exp.write_text(f'[experiment]\nname = "tiny"\nquestion = "Does cohesion matter?"\n'
                   f'scenario = "{SCENARIOS / "korea_baseline.toml"}"\nruns = 1024\nseed = 2\nposterior = "none"\n'
                   '[[parameters]]\nkey = "alliances.us_rok.cohesion"\nname = "cohesion"\nvalues = [0.0, 1.0]\n')
    results = tmp_path / "results"
    page = tmp_path / "experiments" / "README.md"
    monkeypatch.chdir(tmp_path)  # commands on the page are relative to where they are run
    exp, results, page = (p.relative_to(tmp_path) for p in (exp, results, page))
    assert main(["report", str(exp), "--results", str(results), "--out", str(page)]) == 2
    assert "escsim sweep" in capsys.readouterr().err  # not run yet: says how to
    assert main(["sweep", str(exp), "--out", str(results / "tiny"), "--workers", "1"]) == 0
    printed = capsys.readouterr().out  # escsim sweep prints its table, saying what the parameters were
    assert "tiny: 2 points x 1,024 runs; parameters: the scenario's point values" in printed
    assert "cohesion" in printed and "P(miscalculation)" in printed and "95% intervals: Wilson" in printed
    assert main(["report", str(exp), "--results", str(results), "--out", str(page)]) == 0
    text = page.read_text()
    assert "## tiny" in text and "Does cohesion matter?" in text
    assert "escsim sweep experiments/tiny.toml --out results/tiny" in text
    assert "![tiny](figures/tiny.png)" in text and (tmp_path / "experiments/figures/tiny.png").exists()
    for row in csv.DictReader((results / "tiny" / "points.csv").read_text().splitlines()):
        p, lo = float(row["p_miscalculation"]), float(row["p_miscalculation_low"])
        assert f"{100 * p:.2f}% [{100 * lo:.2f}," in text


@pytest.mark.slow  # end to end and 5-20 s of CPU: with the slow set, to keep the README command within 3 minutes
def test_report_updates_its_sections_and_never_replaces_a_larger_run(tmp_path, monkeypatch):
    """Writing one experiment's section keeps the page's others; a sweep of fewer runs per point than the
    page shows is refused, and neither the page nor a figure changes."""
    monkeypatch.chdir(tmp_path)
    Path("experiments").mkdir()
    for name, key in (("one", "alliances.us_rok.cohesion"), ("two", "alliances.us_japan.cohesion")):
        Path(f"experiments/{name}.toml").write_text(
            f'[experiment]\nname = "{name}"\nscenario = "{SCENARIOS / "korea_baseline.toml"}"\nruns = 256\n'
            f'posterior = "none"\n[[parameters]]\nkey = "{key}"\nvalues = [0.0, 1.0]\n')
        assert main(["sweep", f"experiments/{name}.toml", "--out", f"results/{name}", "--workers", "1"]) == 0
    page = Path("experiments/README.md")
    assert main(["report", "experiments/one.toml", "experiments/two.toml"]) == 0
    both = page.read_text()
    assert main(["report", "experiments/two.toml"]) == 0  # one section again: the other stays
    assert page.read_text() == both
    assert "escsim report experiments/one.toml experiments/two.toml" in both
    assert main(["sweep", "experiments/one.toml", "--out", "results/quick", "--runs", "128", "--workers", "1"]) == 0
    figure = Path("experiments/figures/one.png").read_bytes()
    assert main(["report", "experiments/one.toml", "--results", "quick_results"]) == 2  # no such results
    Path("quick_results").mkdir()
    Path("results/quick").rename("quick_results/one")
    assert main(["report", "experiments/one.toml", "--results", "quick_results"]) == 2
    assert page.read_text() == both and Path("experiments/figures/one.png").read_bytes() == figure
    assert main(["report", "experiments/one.toml", "--results", "quick_results", "--out", "mine/README.md"]) == 0


@pytest.mark.slow  # end to end and 5-20 s of CPU: with the slow set, to keep the README command within 3 minutes
def test_an_optimisation_gets_its_section_and_the_others_stay(tmp_path, monkeypatch, capsys):
    """An optimisation file's section: the Pareto set, hypervolume, the robust choice with regret and
    satisficing, the EVPPI table and the failure boxes, with three figures; writing it keeps a sweep's
    section as it was, and writing the sweep's again keeps it."""
    import pytest

    pytest.importorskip("pymoo")
    from conftest import ROOT

    monkeypatch.chdir(tmp_path)
    Path("experiments").mkdir()
    Path("experiments/one.toml").write_text(
        f'[experiment]\nname = "one"\nscenario = "{SCENARIOS / "korea_baseline.toml"}"\nruns = 256\n'
        'posterior = "none"\n[[parameters]]\nkey = "alliances.us_rok.cohesion"\nvalues = [0.0, 1.0]\n')
    Path("experiments/opt.toml").write_text(
        f'[experiment]\nname = "opt"\nquestion = "Which posture?"\nscenario = "{SCENARIOS / "levers_off.toml"}"\n'
        'runs = 128\nseed = 2\ncommon_random_numbers = true\n\n[optimize]\nobjectives = ["p_miscalculation", "cost"]\n'
        'population = 4\ngenerations = 2\nseeds = [1]\ncost = { summits = 1.0, transparency = 1.0 }\n\n'
        f'[robustness]\nuncertainty = "{ROOT / "experiments" / "uncertainty.toml"}"\nfutures = 3\ndraws = 2\n'
        'runs_per_draw = 16\nbootstrap = 100\nevppi_resamples = 100\n\n'
        '[[parameters]]\nkey = ["summits.us_dprk.enabled", "summits.inter_korean.enabled"]\nname = "summits"\n'
        'values = [false, true]\n\n[[parameters]]\nkey = ["drills.freedom_shield.transparency"]\n'
        'name = "transparency"\nrange = [0.3, 0.9]\nsteps = 2\n')
    assert main(["sweep", "experiments/one.toml", "--out", "results/one", "--workers", "1"]) == 0
    assert main(["report", "experiments/one.toml"]) == 0
    page = Path("experiments/README.md")
    sweep_only = page.read_text()
    assert main(["report", "experiments/one.toml", "experiments/opt.toml"]) == 2  # not optimised yet: says how
    assert "escsim optimize experiments/opt.toml --out results/opt" in capsys.readouterr().err
    assert page.read_text() == sweep_only
    assert main(["optimize", "experiments/opt.toml", "--workers", "1", "--no-plot"]) == 0
    assert main(["report", "experiments/opt.toml"]) == 0  # only the optimisation: the sweep's section stays
    both = page.read_text()
    one = sweep_only[sweep_only.index("<!-- experiment: experiments/one.toml"):]
    assert one in both and "escsim report experiments/one.toml experiments/opt.toml" in both
    text = both[both.index("<!-- experiment: experiments/opt.toml runs=128 -->"):]
    for part in ("## opt", "Which posture?", "escsim optimize experiments/opt.toml --out results/opt",
                 "**Pareto set**", "Hypervolume of each seed's front", "### The robust choice", "minimax regret",
                 "satisficing", "### The value of information", "EVPPI (points)", "(the EVPI) would save",
                 "| kappa | assumption |", "### Where each policy fails", "futures failing"):
        assert part in text, part
    for fig in ("pareto", "hypervolume", "evppi"):
        assert f"![opt " in text and Path(f"experiments/figures/opt_{fig}.png").exists(), fig
    assert main(["report", "experiments/one.toml"]) == 0  # the sweep's again: the optimisation's stays
    assert page.read_text() == both
