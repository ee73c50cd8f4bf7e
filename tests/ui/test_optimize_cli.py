"""escsim optimize end to end at a tiny size: the tables, the files, the figures, and a rerun that simulates nothing;
without the discover extra, the PRIM boxes are one line and the rest is written."""

from __future__ import annotations

import json

import pytest

from conftest import ROOT, SCENARIOS
from sim.ui.cli import main

pytest.importorskip("pymoo")


def tiny(tmp_path):
    """A two-objective search over one switch, small enough to run in seconds."""
    path = tmp_path / "o.toml"
    path.write_text(f'''[experiment]
name = "o"
scenario = "{SCENARIOS / "levers_off.toml"}"
runs = 128
seed = 2
common_random_numbers = true

[optimize]
objectives = ["p_miscalculation", "cost"]
population = 4
generations = 2
seeds = [1]
cost = {{ summits = 1.0 }}

[robustness]
uncertainty = "{ROOT / "experiments" / "uncertainty.toml"}"
futures = 2
draws = 2
runs_per_draw = 16
bootstrap = 100

[[parameters]]
key = ["summits.us_dprk.enabled", "summits.inter_korean.enabled"]
name = "summits"
values = [false, true]
''')
    return path


@pytest.mark.slow  # end to end and 5-20 s of CPU: with the slow set, to keep the README command within 3 minutes
def test_optimize_prints_writes_and_resumes(tmp_path, capsys, monkeypatch):
    path = tiny(tmp_path)
    out = tmp_path / "out"
    assert main(["optimize", str(path), "--out", str(out), "--workers", "1"]) == 0
    text = capsys.readouterr().out
    assert "Pareto set:" in text and "seed 1:" in text and "minimax regret" in text
    assert "value of information" in text and "EVPI (learning everything)" in text and "where each policy fails" in text
    for name in ("pareto.csv", "hypervolume.csv", "robustness.csv", "optimize.json", "pareto.png", "hypervolume.svg",
                 "evppi.csv", "evppi.png", "futures.csv", "failures.csv", "failures.json"):
        assert (out / name).exists(), name
    first = json.loads((out / "optimize.json").read_text())
    # every assumption of uncertainty.toml and the posterior's calibrated parameters (kappa is an assumption there)
    names = {r["parameter"]: r["kind"] for r in first["evppi"]["parameters"]}
    assert {"exercise_scale", "kappa", "nk_noise"} <= {n for n, k in names.items() if k == "assumption"}
    assert "actors.north_korea.provocation.base_rate" in names and "actors.north_korea.provocation.kappa" not in names
    for r in first["evppi"]["parameters"]:
        assert 0 <= r["evppi_low"] <= r["evppi"] <= r["evppi_high"] or r["evppi"] == 0
    assert len(first["failures"]) == len(first["robustness"]["policies"])
    assert main(["optimize", str(path), "--out", str(out), "--workers", "1", "--json", "--no-plot"]) == 0
    again = json.loads(capsys.readouterr().out.rsplit("results in", 1)[0])
    assert again == first

    import sim.analysis.discover as discover

    monkeypatch.setattr(discover, "available", lambda: False)
    assert main(["optimize", str(path), "--out", str(out), "--workers", "1", "--no-plot"]) == 0
    text = capsys.readouterr().out
    line = [t for t in text.splitlines() if t.startswith("PRIM boxes")]
    assert line == ["PRIM boxes of where each policy fails: they need the discover extra: "
                    "pip install 'escalation-sim[discover]'"], text
    assert "value of information" in text and "Traceback" not in text


def test_an_unreachable_scheduler_is_one_line_and_nothing_written(tmp_path, capsys):
    pytest.importorskip("dask.distributed")
    out = tmp_path / "out"
    assert main(["optimize", str(tiny(tmp_path)), "--out", str(out), "--scheduler", "tcp://127.0.0.1:9"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot reach a Dask scheduler" in err[0] and not out.exists()


@pytest.mark.slow  # 15 s to start a local cluster
def test_a_search_on_a_dask_cluster_finds_what_the_local_pool_finds(tmp_path, capsys):
    """--scheduler sends the postures and the futures to the cluster: the same tasks in the same
    order, so the same Pareto set, hypervolumes and robustness table, byte for byte."""
    distributed = pytest.importorskip("dask.distributed")
    path = tiny(tmp_path)
    assert main(["optimize", str(path), "--out", str(tmp_path / "local"), "--workers", "2", "--no-plot"]) == 0
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        assert main(["optimize", str(path), "--out", str(tmp_path / "dask"), "--no-plot",
                     "--scheduler", cluster.scheduler_address]) == 0
    for name in ("pareto.csv", "hypervolume.csv", "robustness.csv", "evppi.csv"):
        assert (tmp_path / "dask" / name).read_bytes() == (tmp_path / "local" / name).read_bytes(), name
