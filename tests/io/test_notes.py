"""Outputs that look wrong by construction carry a one-line reason where they appear, and only there."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sim
from conftest import SCENARIOS
from sim.io.notes import ALWAYS, FEWEST_WARS, TOP_GIVEN_WAR, flat_notes, summary_notes
from sim.ui.report import paired_table


def entry(successes: int, runs: int) -> dict:
    return {"estimate": successes / runs, "successes": successes, "runs": runs}


@settings(max_examples=200, deadline=None)
@given(runs=st.integers(1, 10_000), share=st.floats(0, 1), wars=st.integers(0, 500), top=st.floats(0, 1))
def test_a_note_appears_exactly_when_its_surprise_does(runs, share, wars, top):
    mde = round(share * runs)
    reached = round(top * wars)
    notes = summary_notes({"p_misperception_driven_escalation": entry(mde, runs), "p_war": entry(wars, max(wars, 1)),
                           "p_nuclear_use": entry(reached, max(wars, 1)),
                           "max_rung_distribution": {"normal": 0, "nuclear use": reached}})
    assert any("misperception-driven" in n for n in notes) == (mde / runs >= ALWAYS)
    assert any(f"{reached} of {wars} runs with a war reach nuclear use" in n for n in notes) == (
        wars >= FEWEST_WARS and reached >= TOP_GIVEN_WAR * wars)
    assert any("P(nuclear use) is an assumption, not a finding" in n for n in notes)  # whatever the counts
    assert all("docs/model.md section" in n for n in notes)


def sweep_rows(differing: list[int], column="alliances.us_rok.cohesion"):
    """A cohesion sweep's rows: point k has ``differing[k]`` runs that differ from the first point."""
    rows = [{column: "0.0", "p_crisis": 0.3, "p_crisis_diff": 0.0, "p_crisis_diff_low": 0.0, "p_crisis_diff_high": 0.0,
             "p_crisis_only_here": 0, "p_crisis_only_baseline": 0}]
    for k, d in enumerate(differing, start=1):
        rows.append({column: str(k / 10), "p_crisis": 0.3, "p_crisis_diff": -d / 1000, "p_crisis_diff_low": -0.01,
                     "p_crisis_diff_high": 0.01, "p_crisis_only_here": 0, "p_crisis_only_baseline": d})
    return rows


def test_a_flat_stretch_is_named_with_its_range_and_reason():
    rows = sweep_rows([0, 0, 0, 4, 9])
    (note,) = flat_notes(rows, ["alliances.us_rok.cohesion"], ["p_crisis"])
    assert note.startswith("alliances.us_rok.cohesion 0 to 0.3: 4 points") and "cohesion x A_kj" in note
    assert "*Flat by design.* " + note in paired_table(rows, ["alliances.us_rok.cohesion"], ["p_crisis"])


def test_no_flat_note_when_any_run_differs_or_the_reason_is_unknown():
    assert flat_notes(sweep_rows([1, 2, 3]), ["alliances.us_rok.cohesion"], ["p_crisis"]) == []
    (note,) = flat_notes(sweep_rows([0, 5], "transparency"), ["transparency"], ["p_crisis"])
    assert note.endswith("(no run differs on common random numbers)")  # the range, without a made-up reason


@pytest.mark.slow  # end to end and 5-20 s of CPU: with the slow set, to keep the README command within 3 minutes
def test_the_run_table_explains_the_tag_that_fires_in_every_run():
    result = sim.run(SCENARIOS / "korea_baseline.toml", runs=640, seed=1, workers=1, rare=["nuclear"],
                     replicas=20, repetitions=2)
    assert result.summary["p_misperception_driven_escalation"]["estimate"] >= ALWAYS
    assert result.summary["notes"] == summary_notes(result.summary)
    table = result.table()
    assert "note: P(misperception-driven escalation) is 100% of runs by construction" in table
    assert table.count("P(nuclear use) is an assumption") == 2  # the crude row's note and the AMS row's
