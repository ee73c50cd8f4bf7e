"""The analyst walkthrough (docs/analyst_walkthrough.py, a jupytext percent-format notebook) is a valid
notebook and runs end to end, so it never goes stale."""

import csv
import os
import re
import subprocess
import sys

import pytest

from conftest import ROOT

NOTEBOOK = ROOT / "docs" / "analyst_walkthrough.py"


def cells(text: str) -> list[tuple[str, str]]:
    """(kind, source) of each cell, split as jupytext splits the percent format."""
    out = []
    for chunk in re.split(r"^# %%", text, flags=re.M)[1:]:
        head, _, body = chunk.partition("\n")
        if head.strip() == "[markdown]":
            out.append(("markdown", "\n".join(line[2:] for line in body.strip().splitlines())))
        else:
            out.append(("code", body.strip()))
    return out


def test_the_walkthrough_is_a_notebook_of_markdown_and_code_cells():
    text = NOTEBOOK.read_text()
    assert text.startswith("# ---\n# jupyter:\n#   jupytext:") and "format_name: percent" in text
    parsed = cells(text)
    kinds = [k for k, _ in parsed]
    assert kinds.count("markdown") >= 7 and kinds.count("code") >= 8
    for kind, source in parsed:
        if kind == "code":
            compile(source, str(NOTEBOOK), "exec")
    nbformat = pytest.importorskip("nbformat")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(s) if k == "markdown"
                                         else nbformat.v4.new_code_cell(s) for k, s in parsed])
    nbformat.validate(nb)


@pytest.mark.slow
def test_the_walkthrough_runs_end_to_end(tmp_path):
    """Every cell, in order, as a script from another folder (about 25 s: its quick setting)."""
    out = tmp_path / "out"
    env = {**os.environ, "ESCSIM_WALKTHROUGH_QUICK": "1", "ESCSIM_WALKTHROUGH_OUT": str(out), "MPLBACKEND": "Agg"}
    done = subprocess.run([sys.executable, str(NOTEBOOK)], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "B against A" in done.stdout and "lowers P(miscalculation)" in done.stdout
    rows = list(csv.DictReader((out / "levers" / "points.csv").read_text().splitlines()))
    assert len(rows) == 5 and float(rows[0]["p_miscalculation_diff"]) == 0.0
    assert (out / "levers_effects.png").exists() and (out / "uncertainty" / "points.csv").exists()
    try:
        import ema_workbench  # noqa: F401
    except ImportError:
        return
    assert "box 1: coverage" in done.stdout and (out / "discovery.png").exists()
