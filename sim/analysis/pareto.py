"""An optimisation from file to results: the search, its Pareto set and convergence, the robustness of its policies, as tables and files.

:func:`optimize` runs what ``escsim optimize`` runs: the search (:mod:`sim.analysis.optimize`), the
Pareto set over every seed's candidates, the hypervolume by generation per seed, and, with a
``[robustness]`` table, regret and satisficing of the Pareto policies (:mod:`sim.analysis.robust`).
It writes ``pareto.csv``, ``hypervolume.csv``, ``robustness.csv`` and ``optimize.json`` beside the
generations, atomically.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sim.analysis.optimize import COST, Plan, Search, hypervolumes, load_plan, pareto_keys, search, simulator
from sim.analysis.robust import MEASURES, Robustness, assumptions, evaluate_policies
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
        return "\n".join(lines)

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
        rob = self.robustness
        return {"pareto": self.pareto, "hypervolume": {str(s): h for s, h in self.hypervolume.items()},
                "evaluated": len(self.found.asked()),
                "robustness": None if rob is None else {
                    "assumptions": rob.assumptions, "futures": rob.futures, "threshold": rob.threshold,
                    "interval": rob.interval, "best": self.policies[rob.best()],
                    "policies": [{"pareto_row": i, **{m: list(v) for m, v in r.items()}}
                                 for i, r in zip(self.policies, rob.rows)]}}


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
    write_results(result)
    return result


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
    atomic_write(out / "optimize.json", json.dumps(result.to_dict(), indent=2, default=str) + "\n")


def _csv(rows: list[dict]) -> str:
    text = io.StringIO()
    w = csv.DictWriter(text, list(rows[0]) if rows else [], lineterminator="\n")
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


def _columns(head: list[str], body: list[list[str]]) -> list[str]:
    widths = [max(len(h), *(len(b[i]) for b in body)) if body else len(h) for i, h in enumerate(head)]
    return ["  ".join(h.rjust(w) for h, w in zip(head, widths))] + ["  ".join(v.rjust(w) for v, w in zip(b, widths))
                                                                   for b in body]
