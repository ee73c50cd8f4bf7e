"""One-line explanations of outputs that look wrong and are not: 100% or 0% by construction, or flat by design.

Each note names the mechanism and where docs/model.md describes it, so an analyst who sees
P(misperception-driven escalation) at 100%, nearly every war going nuclear, or a sweep flat over
half its range reads why beside the number instead of suspecting a bug. The notes are computed from
the numbers they explain, so they appear only where the surprise does.
"""

from __future__ import annotations

from collections.abc import Sequence

ALWAYS = 0.95  # a share of runs at or above this reads as "every run"
TOP_GIVEN_WAR = 0.8  # runs with a war that reach the top rung, at or above which the top rung is explained
FEWEST_WARS = 10  # below this many wars the share of them that go further says too little to quote

WHY_FLAT = {
    "cohesion": ("alliances share threat as max(A_ij, cohesion x A_kj), so cohesion acts only once cohesion "
                 "times an ally's threat weight exceeds a member's own (docs/model.md section 2)"),
}
"""Why a parameter can leave every run unchanged over part of its range, by the last part of its name."""


def summary_notes(summary: dict) -> list[str]:
    """The notes a run's summary (:func:`sim.io.summary.summarise`) calls for, one line each."""
    notes = []
    mde = summary.get("p_misperception_driven_escalation")
    if mde and mde["estimate"] >= ALWAYS:
        notes.append(f"P(misperception-driven escalation) is {mde['estimate']:.0%} of runs by construction: with "
                     "perception noise nearly every run has some step up that a perfect reader would not have "
                     "taken, so the headline is the twin test, P(miscalculation) (docs/model.md section 6)")
    war, top = summary.get("p_war"), summary.get("p_nuclear_use")
    if top:
        name = list(summary.get("max_rung_distribution", {"the top rung": 0}))[-1]
        counted = bool(war) and war["successes"] >= FEWEST_WARS and top["successes"] >= TOP_GIVEN_WAR * war["successes"]
        notes.append(top_rung_note(name, (war["successes"], top["successes"]) if counted else None))
    return notes


def top_rung_note(name: str, wars_reached: tuple[int, int] | None = None) -> str:
    """Why P(top rung) is an assumption, wherever it is printed; with (runs with a war, of them runs
    reaching the top rung), how many wars went all the way."""
    count = f"{wars_reached[1]} of {wars_reached[0]} runs with a war reach {name}; " if wars_reached else ""
    return (f"{count}P({name}) is an assumption, not a finding: the rules climb a rung a day while they read "
            "hostility above their trigger, up to each actor's ceiling (default: the top rung), and no record "
            "informs the top rungs (docs/model.md section 6)")


def flat_notes(rows: Sequence[dict], columns: Sequence[str], outputs: Sequence[str]) -> list[str]:
    """For a sweep on common random numbers (rows with paired columns from the first point): the points
    whose runs all match the first point's in every output (no run differs), as one line naming the
    range and, where known, why the parameter does nothing there."""
    same = [r for r in rows[1:] if all(f"{o}_only_here" in r and int(r[f"{o}_only_here"] or 0) == 0
                                       and int(r[f"{o}_only_baseline"] or 0) == 0 for o in outputs)]
    if not same:
        return []
    varied = [c for c in columns if len({str(r[c]) for r in [rows[0], *same]}) > 1]
    where = "; ".join(f"{c} {_span([rows[0], *same], c)}" for c in varied) or "these points"
    why = [text for c in varied for key, text in WHY_FLAT.items() if c.split(".")[-1] == key]
    return [f"{where}: {len(same) + 1} points whose every run matches the first point's (no run differs on "
            f"common random numbers)" + (f": {why[0]}" if why else "")]


def _span(rows: Sequence[dict], column: str) -> str:
    values = [r[column] for r in rows]
    try:
        numbers = sorted(float(v) for v in values)
    except (TypeError, ValueError):
        return ", ".join(dict.fromkeys(str(v) for v in values))
    return f"{numbers[0]:g} to {numbers[-1]:g}"
