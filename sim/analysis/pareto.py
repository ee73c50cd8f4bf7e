"""An optimisation from file to results: the search, its Pareto set and convergence, the robustness of its policies, as tables and files.

:func:`optimize` runs what ``escsim optimize`` runs: the search (:mod:`sim.analysis.optimize`), the
Pareto set over every seed's candidates, the hypervolume by generation per seed, and, with a
``[robustness]`` table, regret and satisficing of the Pareto policies (:mod:`sim.analysis.robust`),
the value of information of each uncertain parameter for the choice among them (EVPPI,
:mod:`sim.analysis.evppi`, net benefit = -P(miscalculation)), and PRIM boxes of the futures in which
each policy fails (the discover extra). It writes ``pareto.csv``, ``hypervolume.csv``,
``robustness.csv``, ``evppi.csv``, ``futures.csv``, ``failures.csv``, ``failures.json`` and
``optimize.json`` beside the generations, atomically.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sim.analysis.optimize import COST, Plan, Search, hypervolumes, load_plan, pareto_keys, search, simulator
from sim.analysis.evppi import ValueOfInformation, value_of_information
from sim.analysis.robust import MEASURES, Robustness, assumptions, evaluate_policies, failure_boxes
from sim.core.files import atomic_write
from sim.model.outcomes import LABELS


@dataclass
class Optimization:
    """The results of one optimisation file: the plan, what the search evaluated, the Pareto set (rows),
    hypervolume by generation per seed, and the robustness of the policies (or None)."""

    plan: Plan
    found: Search
    pareto: list[dict]
    hypervolume: dict[int, list[float]]
    robustness: Robustness | None
    policies: list[int]  # rows of the Pareto set the robustness evaluated
    out: Path
    figures: list[Path] = field(default_factory=list)  # once drawn (sim.ui.plots.optimize_figures)
    evppi: ValueOfInformation | None = None  # net benefit -P(miscalculation): values in probability units
    failures: list[dict] | None = None  # per policy: futures failing, PRIM boxes (None: no discover extra)
    notes: list[str] = field(default_factory=list)

    def table(self) -> str:
        opt, plan = self.plan.spec.optimize, self.plan
        names = [p.column for p in plan.levers]
        lines = [f"{plan.spec.experiment.name}: {len(self.found.asked())} postures evaluated on the same "
                 f"{plan.runs:,} runs ({plan.resolution.describe()}); NSGA-II, population {opt.population}, "
                 f"{opt.generations} generations, seeds {', '.join(map(str, opt.seeds))}",
                 f"Pareto set: {len(self.pareto)} postures (probabilities in %, 95% intervals over the posterior "
                 "draws; cost as the experiment defines it)"]
        head = [*names, *(_label(o) for o in opt.objectives)]
        body = [[_show(r[n]) for n in names] + [_objective(r, o) for o in opt.objectives] for r in self.pareto]
        lines += _columns(head, body)
        lines += ["", "hypervolume by generation (objectives scaled to [0, 1] over every posture the search asked for; "
                  "reference point 1.1)"]
        lines += [f"  seed {s}: " + " ".join(f"{h:.3f}" for h in hv) for s, hv in self.hypervolume.items()]
        if self.robustness is not None:
            lines += ["", *self._robust_lines()]
        if self.evppi is not None:
            lines += ["", *self._evppi_lines()]
        if self.failures is not None:
            lines += ["", *self._failure_lines()]
        lines += self.notes
        return "\n".join(lines)

    def _evppi_lines(self) -> list[str]:
        v, rob = self.evppi, self.robustness
        chosen = self.policies[v.chosen]
        lines = [f"value of information for the choice among the {v.options} policies (net benefit: "
                 f"-P(miscalculation); without more information the choice is policy {chosen}, the lowest mean): "
                 "EVPPI, the points of P(miscalculation) a choice made after learning the parameter exactly would "
                 f"save on average; {v.interval}. EVPI (learning everything) {_points(v.evpi)}"]
        head = ["parameter", "kind", "EVPPI (points)", "changes the choice in", "df"]
        body = [[r.name, "calibrated" if r.name in rob.calibrated else "assumption", _points(r),
                 f"{100 * r.changes:.0f}% of futures", f"{r.df:.1f}"] for r in v.parameters]
        return lines + _columns(head, body, left=2)

    def _failure_lines(self) -> list[str]:
        rob = self.robustness
        lines = [f"where each policy fails (P(miscalculation) > {100 * rob.threshold:g}%): PRIM boxes over the "
                 "futures' values (coverage: the share of its failing futures inside; density: the share of the "
                 "box's futures that fail)"]
        for row, f in zip(self.policies, self.failures):
            some = 0 < f["fails"] < f["futures"]
            lines.append(f"  policy {row}: fails in {f['fails']} of {f['futures']} futures"
                         + ("" if some else "; no box to find"))
            for k, b in enumerate(f["boxes"], 1):
                lines.append(f"    box {k}: {box_text(b, rob.ranges)} (coverage {b['coverage']:.2f}, density "
                             f"{b['density']:.2f}, {b['points']} futures)")
        return lines

    def _robust_lines(self) -> list[str]:
        rob = self.robustness
        lines = [f"robustness over {rob.futures} futures (posterior draws x samples of {', '.join(rob.assumptions)}): "
                 f"regret in P(miscalculation) points; satisficing: share of futures with P(miscalculation) <= "
                 f"{100 * rob.threshold:g}%; {rob.interval}"]
        names = [p.column for p in self.plan.levers]
        head = ["policy", *names, "minimax regret", "90th pct regret", "satisficing"]
        body = []
        for i, (row, m) in enumerate(zip(self.policies, rob.rows)):
            r = self.pareto[row]
            body.append([f"{'*' if i == rob.best() else ''}{row}", *(_show(r[n]) for n in names),
                         *(_pct(m[k]) for k in MEASURES)])
        return lines + _columns(head, body) + ["* the most robust: the lowest minimax regret"]

    def __str__(self) -> str:
        return self.table()

    def to_dict(self) -> dict:
        rob, v = self.robustness, self.evppi
        return {"pareto": self.pareto, "hypervolume": {str(s): h for s, h in self.hypervolume.items()},
                "evaluated": len(self.found.asked()),
                "robustness": None if rob is None else {
                    "assumptions": rob.assumptions, "futures": rob.futures, "threshold": rob.threshold,
                    "interval": rob.interval, "best": self.policies[rob.best()],
                    "ranges": {k: list(v) for k, v in rob.ranges.items()}, "calibrated": rob.calibrated,
                    "policies": [{"pareto_row": i, **{m: list(v) for m, v in r.items()}}
                                 for i, r in zip(self.policies, rob.rows)]},
                "evppi": None if v is None else {
                    "net_benefit": "-P(miscalculation)", "units": "probability", "interval": v.interval,
                    "chosen_without_information": self.policies[v.chosen], "evpi": v.evpi.to_dict(),
                    "parameters": [{**r.to_dict(), "kind": "calibrated" if r.name in rob.calibrated else "assumption"}
                                   for r in v.parameters]},
                "failures": None if self.failures is None else [{"pareto_row": i, **f}
                                                                 for i, f in zip(self.policies, self.failures)]}


def optimize(path, *, runs: int | None = None, out: str | Path | None = None, workers: int | None = None,
             progress: bool = False) -> Optimization:
    """Search, report and write an optimisation file's results (see the module docstring)."""
    plan = load_plan(path, runs=runs)
    rob_spec = plan.spec.robustness
    if rob_spec is not None:  # a missing uncertainty file is refused before the search runs
        assumptions(Path(plan.source).parent / rob_spec.uncertainty, plan.source)
    out = Path(out) if out is not None else Path("results") / plan.spec.experiment.name
    found = search(plan, simulator(plan, workers), out, progress)
    front = pareto_keys(found)
    rows = [pareto_row(plan, found, k) for k in front]
    hv = hypervolumes(found)
    rob, chosen = None, []
    if rob_spec is not None:
        chosen = spread(len(rows), rob_spec.policies)
        rob = evaluate_policies(plan, [plan.values(front[i]) for i in chosen], workers, progress,
                                cache=out / "robustness.npz")
    result = Optimization(plan, found, rows, hv, rob, chosen, out)
    if rob is not None:
        information(result)
    write_results(result)
    return result


def information(result: Optimization) -> None:
    """The robust step's value of information and failure boxes, into ``result``. Without the discover
    extra the boxes are left out with a one-line note."""
    from sim.analysis.discover import EXTRA, available

    rob, spec = result.robustness, result.plan.spec
    if len(result.policies) >= 2:
        result.evppi = value_of_information(-rob.p, rob.values, resamples=spec.robustness.evppi_resamples,
                                            rng=np.random.default_rng([spec.experiment.seed, 11]))
    else:
        result.notes.append("value of information: one policy, so no choice to inform")
    if available():
        result.failures = [failure_boxes(rob, i) for i in range(len(result.policies))]
    else:
        result.notes.append("PRIM boxes of where each policy fails: " + EXTRA.replace("scenario discovery needs",
                                                                                     "they need"))


def pareto_row(plan: Plan, found: Search, key: tuple) -> dict:
    e = found.evaluated[key]
    row = dict(plan.values(key))
    for o in plan.outputs:
        row[o], row[f"{o}_low"], row[f"{o}_high"] = e[o]
    return row | {COST: e[COST]}


def spread(n: int, k: int) -> list[int]:
    """At most ``k`` of ``n`` rows sorted along the front, evenly spaced, the ends included."""
    return list(range(n)) if n <= k else sorted(set(np.linspace(0, n - 1, k).round().astype(int).tolist()))


def write_results(result: Optimization) -> None:
    out = result.out
    atomic_write(out / "pareto.csv", _csv(result.pareto))
    atomic_write(out / "hypervolume.csv", _csv([{"seed": s, "generation": g, "hypervolume": h}
                                                for s, hv in result.hypervolume.items() for g, h in enumerate(hv)]))
    rob = result.robustness
    if rob is not None:
        atomic_write(out / "robustness.csv", _csv([
            {"pareto_row": i, **{f"{m}{s}": v[j] for m, v in r.items() for j, s in enumerate(("", "_low", "_high"))}}
            for i, r in zip(result.policies, rob.rows)]))
    if result.evppi is not None:
        v = result.evppi
        kind = {r.name: "calibrated" if r.name in rob.calibrated else "assumption" for r in v.parameters}
        atomic_write(out / "evppi.csv", _csv([{**r.to_dict(), "kind": kind[r.name]} for r in v.parameters]
                                             + [{**v.evpi.to_dict(), "kind": "all"}]))
    if rob is not None:
        futures = [{"future": j, "sample": j // _draws(result), "draw": j % _draws(result),
                    **{k: float(x[j]) for k, x in rob.values.items()},
                    **{f"p_miscalculation_policy_{i}": float(rob.p[k, j]) for k, i in enumerate(result.policies)}}
                   for j in range(rob.futures)]
        atomic_write(out / "futures.csv", _csv(futures))
    if result.failures is not None:
        atomic_write(out / "failures.json", json.dumps([{"pareto_row": i, **f} for i, f in
                                                        zip(result.policies, result.failures)], indent=2) + "\n")
        atomic_write(out / "failures.csv", _csv(
            [{"pareto_row": i, "fails": f["fails"], "futures": f["futures"], "box": k, "coverage": b["coverage"],
              "density": b["density"], "parameter": name, "low": lim[0], "high": lim[1]}
             for i, f in zip(result.policies, result.failures) for k, b in enumerate(f["boxes"], 1)
             for name, lim in b["limits"].items()], FAILURE_COLUMNS))
    atomic_write(out / "optimize.json", json.dumps(result.to_dict(), indent=2, default=str) + "\n")


def _draws(result: Optimization) -> int:
    return result.plan.spec.robustness.draws


def box_text(box: dict, ranges: dict) -> str:
    """A failure box's restricted parameters: 'kappa from 0.4; cohesion up to 0.6' (the others: any value)."""
    parts = []
    for name, (lo, hi) in box["limits"].items():
        whole = ranges.get(name)
        if whole is not None and hi >= whole[1]:
            parts.append(f"{name} from {lo:.3g}")
        elif whole is not None and lo <= whole[0]:
            parts.append(f"{name} up to {hi:.3g}")
        else:
            parts.append(f"{name} {lo:.3g} to {hi:.3g}")
    return "; ".join(parts) or "no restriction"


FAILURE_COLUMNS = ["pareto_row", "fails", "futures", "box", "coverage", "density", "parameter", "low", "high"]


def _csv(rows: list[dict], columns: list[str] | None = None) -> str:
    text = io.StringIO()
    w = csv.DictWriter(text, columns or (list(rows[0]) if rows else []), lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return text.getvalue()


def _label(o: str) -> str:
    return COST if o == COST else LABELS.get(o, o)


def _show(v) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def _objective(row: dict, o: str) -> str:
    if o == COST:
        return f"{row[COST]:g}"
    lo, hi = row[f"{o}_low"], row[f"{o}_high"]
    inner = "" if lo is None else f" [{100 * lo:.2f}, {100 * hi:.2f}]"
    return f"{100 * row[o]:.2f}{inner}"


def _pct(v) -> str:
    return f"{100 * v[0]:.2f} [{100 * v[1]:.2f}, {100 * v[2]:.2f}]"


def _points(v) -> str:
    """A value of information in points of P(miscalculation), with its interval."""
    inner = "" if np.isnan(v.low) else f" [{100 * v.low:.2f}, {100 * v.high:.2f}]"
    return f"{100 * v.estimate:.2f}{inner}"


def _columns(head: list[str], body: list[list[str]], left: int = 0) -> list[str]:
    """Aligned columns, the first ``left`` of them to the left (names), the rest to the right (numbers)."""
    widths = [max(len(h), *(len(b[i]) for b in body)) if body else len(h) for i, h in enumerate(head)]

    def line(cells):
        return "  ".join(c.ljust(w) if i < left else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))
    return [line(head)] + [line(b) for b in body]
