"""Scenario discovery: PRIM finds a planted box; `escsim discover` prints and draws it, and refuses what it
cannot do with one line, writing nothing."""

import csv
import json

import numpy as np
import pytest
from scipy.stats import qmc

import sim.analysis.discover
import sim.ui.plots.common
from sim.ui.cli import main

pytest.importorskip("ema_workbench")

RANGES = {"a": (0.0, 2.0), "b": (0.0, 1.0), "c": (0.0, 1.0), "d": (0.0, 10.0)}


def planted(n=200, seed=1):
    """A Latin hypercube over a, b, c, d; the outcome is high exactly where a > 1.2 and b < 0.4."""
    u = qmc.LatinHypercube(d=4, rng=np.random.default_rng(seed)).random(n)
    x = {k: lo + u[:, i] * (hi - lo) for i, (k, (lo, hi)) in enumerate(RANGES.items())}
    high = (x["a"] > 1.2) & (x["b"] < 0.4)
    return x, high


def fake_sweep(root, n=200, sampler="lhs"):
    """A sweep directory as escsim sweep writes it (manifest and points.csv), for the planted box: P = 0.2
    inside the box and 0.01 to 0.03 outside."""
    x, high = planted(n)
    p = np.where(high, 0.2, 0.01 + 0.02 * np.random.default_rng(2).random(n))
    root.mkdir(parents=True)
    params = [{"key": f"actors.a.{k}", "name": k, "range": list(r)} for k, r in RANGES.items()]
    spec = {"experiment": {"name": "planted", "scenario": "s.toml", "runs": 1000, "sampler": sampler, "points": n},
            "parameters": params}
    (root / "manifest.json").write_text(json.dumps({"resolved": {"experiment": spec, "points": list(range(n))},
                                                    "runs_per_point": 1000}))
    with open(root / "points.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["point", *RANGES, "runs", "p_miscalculation", "p_miscalculation_low", "p_miscalculation_high"])
        for i in range(n):
            w.writerow([i, *(x[k][i] for k in RANGES), 1000, p[i], p[i] / 2, p[i] * 1.5])
    return root


def test_prim_finds_the_planted_box():
    x, high = planted()
    boxes = sim.analysis.discover.find_boxes(x, high)
    assert len(boxes) == 1
    box = boxes[0]
    assert set(box.limits) == {"a", "b"}  # c and d are left free
    (a_lo, a_hi), (b_lo, b_hi) = box.limits["a"], box.limits["b"]
    assert a_lo == pytest.approx(1.2, abs=0.05) and a_hi == pytest.approx(x["a"].max())
    assert b_lo == pytest.approx(x["b"].min()) and b_hi == pytest.approx(0.4, abs=0.03)
    assert box.coverage >= 0.95 and box.density >= 0.9
    assert box.trajectory[box.chosen]["coverage"] == box.coverage and box.trajectory[0]["res_dim"] == 0


def test_discover_prints_and_draws_the_box(tmp_path, capsys, monkeypatch):
    results = fake_sweep(tmp_path / "planted")
    saved = {}
    original = sim.ui.plots.common.save_figure
    monkeypatch.setattr(sim.ui.plots.common, "save_figure", lambda fig, path, dpi=120: (saved.update({str(path): fig}),
                                                                              original(fig, path, dpi)))
    assert main(["discover", str(results), "--above", "0.1"]) == 0
    out = capsys.readouterr().out
    assert "P(miscalculation) above 0.1 at" in out and "box 1: coverage" in out
    line_a = next(ln for ln in out.splitlines() if ln.strip().startswith("a "))
    assert "from 1.2" in line_a and "(of 0 to 2)" in line_a  # the upper side is left free
    assert "up to 0.4" in next(ln for ln in out.splitlines() if ln.strip().startswith("b "))
    assert "any value of: c, d" in out
    assert sorted(p.name for p in results.iterdir()) == ["discovery.png", "discovery.svg", "manifest.json",
                                                        "points.csv"]
    fig = saved[str(results / "discovery.png")]
    tradeoff, boxes = fig.axes[:2]  # then the colour bar
    assert "coverage" in tradeoff.get_xlabel() and "density" in tradeoff.get_ylabel()
    assert len(boxes.patches) == 2 * 4  # each parameter's whole range and the box's range over it
    box_a = boxes.patches[1]  # a's box, as a share of a's whole range: from 1.2 of 0 to 2
    assert box_a.get_x() == pytest.approx(0.6, abs=0.03) and box_a.get_x() + box_a.get_width() == pytest.approx(1)
    assert main(["discover", str(results), "--above", "0.1", "--json", "--out", str(tmp_path / "f" / "d.pdf")]) == 0
    found = json.loads(capsys.readouterr().out)
    assert set(found["boxes"][0]["limits"]) == {"a", "b"} and (tmp_path / "f" / "d.pdf").exists()


def test_discover_refuses_with_one_line_and_writes_nothing(tmp_path, capsys, monkeypatch):
    from conftest import SCENARIOS
    from sim.analysis.experiment import load_experiment
    from sim.analysis.sweep import run_sweep

    results = fake_sweep(tmp_path / "planted")
    one = tmp_path / "one.toml"
    one.write_text(f'[experiment]\nname = "one"\nscenario = "{SCENARIOS / "strait_example.toml"}"\nruns = 8\n'
                   '[[parameters]]\nkey = "alliances.island_patron.cohesion"\nvalues = [0.5]\n')
    run_sweep(load_experiment(one), tmp_path / "one", workers=1)
    cases = [
        ([results, "--above", "1.5"], "--above 1.5: a probability from 0 to 1"),
        ([results, "--above", "-0.1"], "--above -0.1: a probability from 0 to 1"),
        ([tmp_path / "one", "--above", "0.05"], "a grid sweep with one point"),
        ([results, "--above", "0.5"], "no point has it above 0.5"),
        ([results, "--above", "0.001"], "every point has it above 0.001"),
        ([results, "--above", "0.1", "--output", "p_war"], "--output p_war: not an output"),
        ([results, "--above", "0.1", "--out", tmp_path / "x.txt"], "--out"),
        ([tmp_path, "--above", "0.1"], "needs manifest.json and points.csv"),
    ]
    before = sorted(p for p in tmp_path.rglob("*"))
    for args, says in cases:
        assert main(["discover", *map(str, args)]) == 2
        err = capsys.readouterr().err
        assert says in err and err.count("\n") == 1, (says, err)
    monkeypatch.setattr(sim.analysis.discover, "available", lambda: False)
    assert main(["discover", str(results), "--above", "0.1"]) == 2
    assert "pip install 'escalation-sim[discover]'" in capsys.readouterr().err
    assert sorted(p for p in tmp_path.rglob("*")) == before


def test_report_section_when_is_the_risk_high(tmp_path):
    from sim.ui.report import Section, discovery_section

    results = fake_sweep(tmp_path / "planted")
    section = Section("planted.toml", 1, [])
    lines = discovery_section(results, tmp_path / "page", "planted", 0.1, section)
    text = "\n".join(lines)
    assert lines[0] == "### When is the risk high?"
    assert "| 1 | a from 1.2" in text and "; b up to 0.4" in text
    assert "![planted discovery](figures/planted_discovery.png)" in text
    target = tmp_path / "page" / "figures" / "planted_discovery.png"
    assert list(section.figures) == [target] and not target.exists()  # written once every section is checked
    target.parent.mkdir(parents=True)
    section.figures[target](target)
    assert target.exists()
    assert "No point has it above 0.5" in "\n".join(discovery_section(results, tmp_path / "page", "planted", 0.5,
                                                                       Section("planted.toml", 1, [])))
