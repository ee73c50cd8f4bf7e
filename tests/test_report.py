"""The experiments page is generated from results: question, command, figure and numbers with intervals."""

import csv


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
    assert main(["report", str(exp), "--results", str(results), "--out", str(page)]) == 0
    text = page.read_text()
    assert "## tiny" in text and "Does cohesion matter?" in text
    assert "escsim sweep experiments/tiny.toml --out results/tiny" in text
    assert "![tiny](figures/tiny.png)" in text and (tmp_path / "experiments/figures/tiny.png").exists()
    for row in csv.DictReader((results / "tiny" / "points.csv").read_text().splitlines()):
        p, lo = float(row["p_miscalculation"]), float(row["p_miscalculation_low"])
        assert f"{100 * p:.2f}% [{100 * lo:.2f}," in text
