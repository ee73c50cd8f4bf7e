"""The experiments page is generated from results: question, command, figure and numbers with intervals."""

import csv
from pathlib import Path


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
