"""experiments/README.md from sweep and optimisation results: for each experiment its question, command, figure and numbers.

The page is generated, never written by hand: `escsim report` reads each experiment's results
directory (the table, the manifest, the Sobol indices), copies its default figure next to the page,
and writes the headline numbers with their 95% intervals. It updates the sections of the experiments
it is given and keeps the page's others (each section carries a marker naming its experiment file
and its runs per point), and it refuses to replace a section, or its figure, with a run of fewer
runs per point than the page shows: a quick look never overwrites a shipped figure. An optimisation
file (one with an ``[optimize]`` table, run by ``escsim optimize``) gets the Pareto set, the hypervolume
by generation, the robust choice with its regret and satisficing, the value of information (EVPPI) and
the PRIM boxes of where each policy fails, from its ``optimize.json`` (:mod:`sim.ui.report_optimize`).
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sim.analysis.discover import available, discover
from sim.analysis.experiment import Experiment, load_experiment
from sim.analysis.levers import LeverRanking, difference_text, draw_shares_text, rank_levers
from sim.analysis.sweep import load_sweep
from sim.core.errors import InputError
from sim.core.files import atomic_write
from sim.io.notes import flat_notes
from sim.model.outcomes import LABELS
from sim.ui.markdown import table as _table
from sim.ui.plots import discovery_figures, sweep_figures

MARKER = re.compile(r"<!-- experiment: (?P<file>\S+) runs=(?P<runs>\d+) -->")
PREAMBLE = ("Every number is a probability over its scenario's horizon (stated in each section) with its 95% "
            "interval. Where the scenario names a posterior, every point's runs draw the calibrated parameters "
            "from it (the same draws at every point) and the interval is over those draws: Monte Carlo error and "
            "the uncertainty of the calibrated parameters together (docs/model.md section 13); at point values it "
            "is Wilson's. The assumptions the record does not pin down are what the sampling experiments vary. "
            "The scenarios say which of their values are calibrated to data and which are assumptions.")


@dataclass
class Section:
    """One experiment's part of the page: its file, runs per point, markdown, and the figures to write
    (target path -> a function that writes it), written only once every section has been checked."""

    file: str
    runs: int
    lines: list[str]
    figures: dict[Path, Callable[[Path], object]] = field(default_factory=dict)

    def text(self) -> str:
        return "\n".join([f"<!-- experiment: {self.file} runs={self.runs} -->", *self.lines]).rstrip() + "\n"


def _pct(row: dict, name: str) -> str:
    if row.get(name + "_low") in (None, ""):
        return f"{100 * float(row[name]):.2f}% (no interval: {row.get('interval', 'too few draws')})"
    return (f"{100 * float(row[name]):.2f}% [{100 * float(row[name + '_low']):.2f}, "
            f"{100 * float(row[name + '_high']):.2f}]")


def _diff(row: dict, name: str) -> str:
    """A paired difference in percentage points with its interval, and the runs that differ."""
    counts = f"({row[name + '_only_here']} / {row[name + '_only_baseline']})"
    if row.get(name + "_diff_low") in (None, ""):
        return f"{100 * float(row[name + '_diff']):+.2f} (no interval) {counts}"
    return (f"{100 * float(row[name + '_diff']):+.2f} [{100 * float(row[name + '_diff_low']):+.2f}, "
            f"{100 * float(row[name + '_diff_high']):+.2f}] {counts}")


def paired_table(rows: list[dict], columns: list[str], outputs: list[str]) -> list[str]:
    """The paired differences of a sweep on common random numbers from its first point, or nothing."""
    outputs = [o for o in outputs if all(r.get(f"{o}_diff") not in (None, "") for r in rows)]
    if not outputs:
        return []
    kind = ("over the posterior draws both points' runs took, the draw as the unit"
            if "posterior" in str(rows[0].get("interval", "")) else "Newcombe's hybrid score interval")
    lines = ["Each point against the first (the baseline), run by run on the same random numbers: the difference "
             f"in percentage points with its paired 95% interval ({kind}), and the runs "
             "that differ (with the outcome only at the point / only at the baseline); an interval that excludes "
             "0 is an effect, whether or not the intervals above overlap.", ""]
    header = columns + [f"change in {LABELS.get(o, o)}" for o in outputs]
    lines += _table(header, [[r[c] for c in columns] + [_diff(r, o) for o in outputs] for r in rows[1:]])
    return lines + [""] + [f"*Flat by design.* {n}" for n in flat_notes(rows, columns, outputs)] + [""]


def ranking_lines(ranking: LeverRanking) -> list[str]:
    """A lever ranking (:mod:`sim.analysis.levers`) as the page shows it: each posture's paired change
    from the baseline, sorted by the first output's, with the shares of draws it lowered / raised."""
    head = ranking.outputs[0]
    lines = [f"Every posture against the baseline (all levers off: {LABELS.get(head, head)} "
             f"{100 * float(ranking.baseline[head]):.2f}%), run by run on the same random numbers and posterior "
             f"draws, sorted by the change in {LABELS.get(head, head)}: the change in percentage points with its "
             f"paired 95% interval ({ranking.interval}, the draw as the unit), and the shares of draws in which it "
             "lowered / raised the outcome. The table is also `levers.csv` in the results directory.", ""]
    header = ["posture"] + [f"change in {LABELS.get(o, o)} (draws -/+)" for o in ranking.outputs]
    body = [[r["posture"]] + [f"{_ranking_cell(r, o)}" for o in ranking.outputs] for r in ranking.rows]
    return lines + _table(header, body) + [""]


def _ranking_cell(row: dict, o: str) -> str:
    shares = draw_shares_text(row, o)
    return difference_text(row, o) + ("" if shares == "-" else f" ({shares})")


def discovery_section(results: Path, page_dir: Path, name: str, above: float, section: Section) -> list[str]:
    """"When is the risk high?": the PRIM boxes of a sampling sweep where P(miscalculation) > ``above``
    (their figure added to ``section``'s)."""
    lines = ["### When is the risk high?", "",
             f"Scenario discovery (PRIM) over the points: the ranges of the parameters inside which "
             f"P(miscalculation) is above {above:g}.", ""]
    if not available():
        return lines + ["(Install the discover extra, `pip install 'escalation-sim[discover]'`, and write this "
                        "page again to find the boxes.)", ""]
    try:
        found = discover(results, above)
    except InputError as exc:  # no point above the threshold, or every point
        why = exc.problems[0].split(": ", 1)[-1]
        return lines + [why[:1].upper() + why[1:] + ".", ""]
    target = page_dir / "figures" / f"{name}_discovery.png"
    section.figures[target] = lambda path: discovery_figures(found, path)
    body = []
    for k, b in enumerate(found.boxes, 1):
        ranges = "; ".join(f"{c} {_limits(v, found.ranges[c])}" for c, v in b.limits.items()) or "no restriction"
        body.append([str(k), ranges, f"{b.coverage:.2f} ({b.high} of {found.high})",
                     f"{b.density:.2f} ({b.high} of {b.points})"])
    lines += [f"{found.high} of {found.points} points are above {above:g}. Coverage: the share of those inside the "
              "box; density: the share of the box's points above it.", ""]
    lines += _table(["box", "parameter ranges (the others: any value)", "coverage", "density"], body)
    return lines + ["", f"![{name} discovery]({os.path.relpath(target, page_dir)})", ""]


def _limits(v, whole) -> str:
    if isinstance(v, list):
        return "in {" + ", ".join(v) + "}"
    return f"from {v[0]:.3g}" if v[1] == whole[1] else f"up to {v[1]:.3g}" if v[0] == whole[0] else \
        f"{v[0]:.3g} to {v[1]:.3g}"


def _finished_sweep(path: Path, results: Path) -> tuple[Experiment, list[dict]]:
    """The experiment as its sweep ran it, and its table; refused unless the sweep is complete and of
    this version of the file."""
    table = results / "points.csv"
    if not table.exists():
        raise InputError(f"{results}: no points.csv; run: escsim sweep {path} --out {results}")
    manifest = json.loads((results / "manifest.json").read_text())
    # A sweep run with --runs has its own runs per point: plan the experiment with those to compare.
    exp = load_experiment(path, runs=manifest.get("runs_per_point"))
    if manifest.get("fingerprint") != exp.fingerprint:
        raise InputError(f"{results}: holds results of another version of {path} (the file or its scenario "
                         "changed since the sweep ran); run the sweep again")
    with open(table, newline="") as file:
        rows = list(csv.DictReader(file))
    if len(rows) != len(exp.points):
        raise InputError(f"{results}: {len(rows)} of {len(exp.points)} points done; finish with: "
                         f"escsim sweep {path} --out {results}")
    return exp, rows


def _design_lines(exp: Experiment, rows: list[dict], outputs: list[str], results: Path) -> list[str]:
    """The numbers the design calls for: Sobol indices, the spread over sampled points, or every point
    with its paired difference from the first."""
    meta, columns = exp.meta, [p.column for p in exp.parameters]
    lines = []
    if meta.sampler == "saltelli":
        sens = json.loads((results / "sensitivity.json").read_text())["indices"]
        for out in outputs:
            lines += [f"Sobol indices of {LABELS.get(out, out)} (95% intervals):", ""]
            lines += _table(["parameter", "first order S1", "total ST"], [
                [name, f"{v['S1']:.3f} ± {v['S1_conf']:.3f}", f"{v['ST']:.3f} ± {v['ST_conf']:.3f}"]
                for name, v in sens[out].items()])
            lines.append("")
        return lines
    if meta.sampler in ("lhs", "sobol"):
        lines += ["Parameter uncertainty: the spread of each probability over the sampled points, beside the "
                  "typical 95% half-width of one point (its runs' error, and the posterior's where they draw from "
                  "one):", ""]
        body = []
        for out in outputs:
            est = np.array([float(r[out]) for r in rows])
            half = np.median([(float(r[out + "_high"] or "nan") - float(r[out + "_low"] or "nan")) / 2 for r in rows])
            q = np.percentile(est, [5, 50, 95])
            body.append([LABELS.get(out, out), f"{100 * q[1]:.2f}%", f"{100 * q[0]:.2f}% - {100 * q[2]:.2f}%",
                         f"± {100 * half:.2f}%"])
        return lines + _table(["probability", "median", "5% - 95% over the points", "95% half-width (one point)"],
                              body) + [""]
    if meta.sampler == "pairs":
        return ranking_lines(rank_levers(load_sweep(results), outputs))
    header = columns + [LABELS.get(o, o) + " [95% CI]" for o in outputs] + ["runs"]
    lines += _table(header, [[r[c] for c in columns] + [_pct(r, o) for o in outputs] + [r["runs"]] for r in rows])
    return lines + [""] + paired_table(rows, columns, outputs)


def experiment_section(path: Path, results: Path, page_dir: Path, above: float = 0.05) -> Section:
    """One experiment's section of the page, its figures not yet written (see :func:`write_report`); a
    sampling sweep also gets "when is the risk high?" (P(miscalculation) above ``above``)."""
    exp, rows = _finished_sweep(path, results)
    meta = exp.meta
    here = os.path.relpath  # commands are run from the working directory (the project root)
    target = page_dir / "figures" / f"{meta.name}.png"
    section = Section(here(path), exp.runs, [])
    section.figures[target] = lambda dest: shutil.copyfile(sweep_figures([results], formats=("png",))[0], dest)
    section.lines = [
        f"## {meta.name}", "", f"**Question.** {meta.question or meta.description}", "",
        f"**Command.** `escsim sweep {here(path)} --out {here(results)}` ({len(rows)} points x {exp.runs:,} runs of "
        f"{exp.base.scenario.horizon} days from {exp.base.scenario.start}, sampler `{meta.sampler}`, seed "
        f"{meta.seed}{', common random numbers' if meta.common_random_numbers else ''}), then "
        f"`escsim plot {here(results)}`.", "", f"![{meta.name}]({os.path.relpath(target, page_dir)})", ""]
    outputs = [o for o in meta.outputs if o in rows[0]]
    section.lines += _design_lines(exp, rows, outputs, results)
    if meta.sampler in ("lhs", "sobol", "saltelli") and "p_miscalculation" in outputs:
        section.lines += discovery_section(results, page_dir, meta.name, above, section)
    return section


def page_sections(text: str) -> dict[str, Section]:
    """The sections of a page this module wrote, by experiment name (their markers say file and runs)."""
    out = {}
    for part in re.split(r"(?=^<!-- experiment: )", text, flags=re.M)[1:]:
        m = MARKER.match(part)
        heading = re.search(r"^## (\S+)", part, flags=re.M)
        if m and heading:
            out[heading.group(1)] = Section(m["file"], int(m["runs"]), part.rstrip().split("\n")[1:])
    return out


def write_report(experiments: list[Path], results_root: Path, out: Path, above: float = 0.05) -> Path:
    """Update the page ``out`` with the sections of ``experiments`` (results under ``results_root/NAME``):
    the page's other sections stay, in their order, and new ones follow. A section (and its figures)
    is not replaced by a sweep of fewer runs per point than the page shows: refused, with the command
    that writes a page of its own. ``above`` is the P(miscalculation) "when is the risk high?" looks for."""
    out = Path(out)
    page_dir = out.parent
    sections = page_sections(out.read_text()) if out.exists() else {}
    new = {}
    from sim.ui.report_optimize import is_optimisation, optimisation_section

    for path in experiments:
        if is_optimisation(Path(path)):
            from sim.analysis.optimize import load_plan

            name = load_plan(path).spec.experiment.name
            section = Section(*optimisation_section(Path(path), results_root / name, page_dir))
        else:
            name = load_experiment(path).meta.name
            section = experiment_section(Path(path), results_root / name, page_dir, above)
        shown = sections.get(name)
        if shown is not None and section.runs < shown.runs:
            raise InputError(f"{results_root / name}: {section.runs:,} runs per point, and {out} shows {name} from "
                             f"{shown.runs:,}: a smaller run does not replace it; give --out for a page of your own")
        new[name] = section
    for section in new.values():
        (page_dir / "figures").mkdir(parents=True, exist_ok=True)
        for target, write in section.figures.items():
            write(target)
    sections |= new
    command = " ".join(["escsim report", *(s.file for s in sections.values())])
    if Path(results_root) != Path("results"):
        command += f" --results {os.path.relpath(results_root)}"
    if above != 0.05:
        command += f" --above {above:g}"
    head = ["# Experiments", "", "Generated from the results of the sweeps and optimisations below by the command "
            "that follows; do not edit by hand. Each section lists the command that makes its results; run them, "
            "then this one:", "",
            f"    {command}", "", PREAMBLE, ""]
    atomic_write(out, "\n".join(head) + "\n" + "\n".join(s.text() for s in sections.values()))
    return out
