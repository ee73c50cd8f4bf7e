"""Levers ranked by their effect: each lever alone and in pairs against the baseline posture, on common random numbers over the posterior.

A lever experiment is a sweep with the ``pairs`` sampler (or ``oat``, levers alone) and
``common_random_numbers = true``: every point runs the same runs, each on its posterior draw, as the
baseline point, so each point's paired difference from the baseline (:mod:`sim.analysis.pairing`) is
the effect of its levers with the Monte Carlo noise the runs share taken out, and its interval is over
the posterior draws (the draw as the unit). The ranking sorts the points by the effect on the first
output (P(miscalculation) unless the experiment says otherwise) and gives, per output, the difference
in percentage points with its 95% interval and the share of draws in which the lever lowered it.

The table is also written as CSV (``levers.csv`` beside the sweep's ``points.csv``), one row per
posture, for a spreadsheet.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sim.analysis.experiment import BASELINE_SAMPLERS, Experiment
from sim.analysis.sweep import SweepResults
from sim.core.errors import InputError
from sim.core.files import atomic_write
from sim.model.outcomes import LABELS

CSV_NAME = "levers.csv"
SUFFIXES = ("", "_diff", "_diff_low", "_diff_high", "_draws_lower", "_draws_higher")  # each output's columns


@dataclass
class LeverRanking:
    """The postures of a lever sweep sorted by their effect on ``outputs[0]``, most lowering first.

    ``rows``: one dict per posture (every point but the baseline): ``posture`` (what it changes),
    ``levers`` (how many), and per output ``<o>`` (the probability), ``<o>_diff``, ``<o>_diff_low``,
    ``<o>_diff_high`` (here - baseline, as fractions) and ``<o>_draws_lower``, ``<o>_draws_higher``
    (shares of posterior draws in which the posture had fewer, more runs with the outcome; None without
    draws)."""

    name: str
    outputs: list[str]
    baseline: dict
    rows: list[dict]
    interval: str
    path: Path | None = None  # once written: the CSV file

    def table(self) -> str:
        head = self.outputs[0]
        lines = [f"{self.name}: {len(self.rows)} postures against the baseline "
                 f"({LABELS.get(head, head)} {100 * float(self.baseline[head]):.2f}%), sorted by the change in "
                 f"{LABELS.get(head, head)}; differences in percentage points with 95% paired intervals "
                 f"({self.interval}); 'draws -/+': shares of posterior draws in which it lowered / raised the "
                 "outcome (each draw's count carries its own Monte Carlo noise)"]
        width = max(len("posture"), *(len(r["posture"]) for r in self.rows))
        lines.append(f"{'posture':<{width}}" + "".join(f"{LABELS.get(o, o):>34}{'draws -/+':>12}" for o in self.outputs))
        for r in self.rows:
            cells = "".join(f"{difference_text(r, o):>34}{draw_shares_text(r, o):>12}" for o in self.outputs)
            lines.append(f"{r['posture']:<{width}}{cells}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()

    def csv(self) -> str:
        """The ranking as CSV: posture, levers, then each output's probability, difference, interval and
        share of draws lower, in full precision (empty where there is no interval or no draws)."""
        columns = ["posture", "levers", *(f"{o}{s}" for o in self.outputs for s in SUFFIXES)]
        text = io.StringIO()
        w = csv.DictWriter(text, columns, lineterminator="\n", extrasaction="ignore")
        w.writeheader()
        w.writerows([{k: "" if r.get(k) is None else r[k] for k in columns} for r in self.rows])
        return text.getvalue()


def check_lever_experiment(exp: Experiment) -> None:
    """Refuse, before any run, an experiment whose points are not levers changed from a baseline on
    common random numbers: its ranking would compare noise."""
    meta = exp.meta
    if meta.sampler not in BASELINE_SAMPLERS:
        raise InputError(f"{exp.source}: experiment.sampler: {meta.sampler!r}; ranking levers needs "
                         f"{' or '.join(repr(s) for s in BASELINE_SAMPLERS)} (each lever changed from a baseline)")
    if not meta.common_random_numbers or meta.target_half_width is not None:
        raise InputError(f"{exp.source}: experiment.common_random_numbers: ranking levers needs true (and no "
                         "target_half_width), so that every posture runs the baseline's runs")


def rank_levers(sweep: SweepResults, outputs: Sequence[str] | None = None) -> LeverRanking:
    """The ranking of a finished lever sweep (a ``pairs`` or ``oat`` sweep on common random numbers)."""
    if sweep.sampler not in BASELINE_SAMPLERS:
        raise InputError(f"{sweep.path}: a {sweep.sampler} sweep; ranking levers needs a sweep of sampler "
                         f"{' or '.join(BASELINE_SAMPLERS)} (each lever changed from a baseline point)")
    outputs = list(outputs or sweep.outputs)
    if any(r.get(f"{o}_diff") in (None, "") for r in sweep.rows for o in outputs):
        raise InputError(f"{sweep.path}: its points carry no paired differences; ranking levers needs "
                         "common_random_numbers = true in the experiment")
    base, rows = sweep.rows[0], []
    for r in sweep.rows[1:]:
        changed = [c for c in sweep.columns if r[c] != base[c]]
        row = {"posture": ", ".join(f"{c} = {r[c]}" for c in changed), "levers": len(changed)}
        for o in outputs:
            row |= {f"{o}{s}": _number(r.get(f"{o}{s}")) for s in SUFFIXES}
        rows.append(row)
    rows.sort(key=lambda row: row[f"{outputs[0]}_diff"])
    interval = next((str(r["diff_interval"]) for r in sweep.rows[1:] if r.get("diff_interval")), "paired")
    return LeverRanking(sweep.name, outputs, base, rows, interval.removeprefix("paired, "))


def write_ranking(ranking: LeverRanking, out: Path) -> Path:
    """Write the ranking's CSV to ``out`` (a sweep directory) atomically; the path written."""
    path = Path(out) / CSV_NAME
    atomic_write(path, ranking.csv())
    return path


def _number(text) -> float | None:
    return None if text in (None, "") else float(text)


def difference_text(row: dict, o: str) -> str:
    """A posture's change in ``o`` in percentage points with its interval (the table and the page)."""
    d, lo, hi = row[f"{o}_diff"], row[f"{o}_diff_low"], row[f"{o}_diff_high"]
    if lo is None or hi is None:
        return f"{100 * d:+.2f} (no interval)"
    return f"{100 * d:+.2f} [{100 * lo:+.2f}, {100 * hi:+.2f}]"


def draw_shares_text(row: dict, o: str) -> str:
    """The shares of draws in which a posture lowered / raised ``o``, or '-' without draws."""
    lower, higher = row.get(f"{o}_draws_lower"), row.get(f"{o}_draws_higher")
    return "-" if lower is None else f"{100 * lower:.0f}/{100 * higher:.0f}%"
