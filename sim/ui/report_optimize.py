"""An optimisation's section of experiments/README.md: the Pareto set, hypervolume, robust choice, value of information and failure boxes.

:func:`optimisation_section` builds its parts from ``escsim optimize``'s ``optimize.json`` for
:func:`sim.ui.report.write_report`, which makes them a section and keeps the page's other sections.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from sim.core.errors import InputError
from sim.model.outcomes import LABELS
from sim.ui.markdown import table as _table


def is_optimisation(path: Path) -> bool:
    """Whether ``path`` is an optimisation file (it has an ``[optimize]`` table)."""
    import tomllib

    try:
        with open(path, "rb") as f:
            return "optimize" in tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError):
        return False  # load_experiment says what is wrong with it


def optimisation_section(path: Path, results: Path, page_dir: Path) -> tuple[str, int, list[str], dict]:
    """An optimisation's section: its file and runs (for the page's marker), its lines (the Pareto set,
    hypervolume, robust choice, value of information and failure boxes) and its figures (target path ->
    a function that writes it), from ``results`` (refused unless it holds this file's finished
    optimisation)."""
    from sim.analysis.optimize import COST, load_plan
    from sim.analysis.pareto import _objective, box_text
    from sim.ui.plots import plot_evppi, plot_hypervolume, plot_pareto

    plan = load_plan(path)
    meta, opt, here = plan.spec.experiment, plan.spec.optimize, os.path.relpath
    command = f"escsim optimize {here(path)} --out {here(results)}"
    done = results / "optimize.json"
    if not done.exists():
        raise InputError(f"{results}: no optimize.json; run: {command}")
    manifest = json.loads((results / "manifest.json").read_text())
    if manifest.get("fingerprint") != plan.fingerprint:
        raise InputError(f"{results}: holds the results of another version of {path} (its levers, runs, seed or "
                         f"scenario changed); run: {command}")
    res = json.loads(done.read_text())
    levers = [p.column for p in plan.levers]
    figures_to_write = {}
    figures = page_dir / "figures"
    pareto_png, hv_png, evppi_png = (figures / f"{meta.name}_{k}.png" for k in ("pareto", "hypervolume", "evppi"))
    figures_to_write[pareto_png] = lambda dest: plot_pareto(res["pareto"], levers, list(opt.objectives), LABELS,
                                                           path=dest, title=meta.name)
    figures_to_write[hv_png] = lambda dest: plot_hypervolume({int(k): v for k, v in res["hypervolume"].items()},
                                                            path=dest, title=meta.name)
    lines = [f"## {meta.name}", "", f"**Question.** {meta.question or meta.description}", "",
             f"**Command.** `{command}` (NSGA-II, population {opt.population}, {opt.generations} generations, seeds "
             f"{', '.join(map(str, opt.seeds))}: {res['evaluated']} postures asked for, each on the same "
             f"{plan.runs:,} runs and posterior draws, seed {meta.seed}).", "",
             f"**Pareto set**: {len(res['pareto'])} postures, sorted by the first objective; probabilities in % with "
             "95% intervals over the posterior draws, cost as the file defines it (per unit of change from each "
             "lever's baseline; a switch counts 1).", "",
             f"![{meta.name} Pareto set]({here(pareto_png, page_dir)})", ""]
    head = ["row", *levers, *(COST if o == COST else LABELS.get(o, o) for o in opt.objectives)]
    body = [[str(i), *(_cell(r[n]) for n in levers),
             *(_objective(r, o) for o in opt.objectives)]
            for i, r in enumerate(res["pareto"])]
    lines += _table(head, body) + [""]
    lines += ["Hypervolume of each seed's front by generation (objectives scaled to [0, 1] over every posture asked "
              "for; reference point 1.1): " + "; ".join(f"seed {s} from {h[0]:.3f} to {h[-1]:.3f} (last 4 generations: "
                                                         f"{h[-1] - h[max(0, len(h) - 4)]:+.3f})"
                                                         for s, h in res["hypervolume"].items()) + ".", "",
              f"![{meta.name} hypervolume]({here(hv_png, page_dir)})", ""]
    rob = res.get("robustness")
    if rob is not None:
        lines += _robust_lines(res, rob, levers)
    if res.get("evppi"):
        figures_to_write[evppi_png] = lambda dest: plot_evppi(res["evppi"]["parameters"], res["evppi"]["evpi"],
                                                             path=dest, title=meta.name)
        lines += _evppi_lines(res["evppi"]) + [f"![{meta.name} EVPPI]({here(evppi_png, page_dir)})", ""]
    if res.get("failures") is not None:
        lines += _failure_lines(res["failures"], rob, box_text)
    elif rob is not None:
        lines += ["(PRIM boxes of where each policy fails need the discover extra, `pip install "
                  "'escalation-sim[discover]'`; run the optimisation again with it, then this page.)", ""]
    return here(path), plan.runs, lines, figures_to_write


def _cell(v) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def _robust_lines(res: dict, rob: dict, levers: list[str]) -> list[str]:
    lines = ["### The robust choice", "",
             f"The Pareto policies (at most the file's `policies`, spread over the front) in each of {rob['futures']} "
             f"futures: a posterior draw x a Latin-hypercube sample of the assumptions the record does not pin down "
             f"({', '.join(rob['assumptions'])}). Regret: a policy's P(miscalculation) less the lowest any policy "
             f"reached in that future, in points; satisficing: the share of futures with P(miscalculation) at most "
             f"{100 * rob['threshold']:g}%; {rob['interval']}. **Bold**: the most robust (the lowest minimax regret, "
             "then the highest satisficing).", ""]
    body = []
    for p in rob["policies"]:
        r = res["pareto"][p["pareto_row"]]
        row = str(p["pareto_row"])
        body.append([f"**{row}**" if p["pareto_row"] == rob["best"] else row, *(_cell(r[n]) for n in levers),
                     *(f"{100 * p[m][0]:.2f} [{100 * p[m][1]:.2f}, {100 * p[m][2]:.2f}]"
                       for m in ("minimax_regret", "regret_p90")),
                     f"{100 * p['satisficing'][0]:.1f}% [{100 * p['satisficing'][1]:.1f}, "
                     f"{100 * p['satisficing'][2]:.1f}]"])
    return lines + _table(["Pareto row", *levers, "minimax regret (points)", "90th-percentile regret", "satisficing"],
                          body) + [""]


def _evppi_lines(info: dict) -> list[str]:
    evpi = info["evpi"]
    lines = ["### The value of information", "",
             "Which assumption, if learned, would change the choice among these policies, and by how much: the "
             "expected value of partial perfect information (EVPPI, by regression: Strong, Oakley and Brennan "
             "2014), with net benefit -P(miscalculation), so in points of P(miscalculation) that a choice made "
             f"after learning the parameter exactly would save on average, against choosing now (Pareto row "
             f"{info['chosen_without_information']}, the lowest mean P(miscalculation) over the futures). Learning "
             f"everything (the EVPI) would save {_voi(evpi)}. Intervals: {info['interval']}. 'Changes the choice': "
             "the share of futures in which the policy best given the parameter's value is another. An EVPPI near "
             "0 means the choice does not hinge on that parameter. Each future's probability carries Monte Carlo "
             "noise, which biases the estimates (docs/model.md, the value of information).", ""]
    body = [[r["parameter"], r["kind"], _voi(r), f"{100 * r['changes_choice']:.0f}%"] for r in info["parameters"]]
    return lines + _table(["parameter", "kind", "EVPPI (points)", "changes the choice"], body) + [""]


def _voi(r: dict) -> str:
    low = r.get("evppi_low")
    inner = "" if low is None or low != low else f" [{100 * low:.2f}, {100 * r['evppi_high']:.2f}]"
    return f"{100 * r['evppi']:.2f}{inner}"


def _failure_lines(failures: list[dict], rob: dict, box_text) -> list[str]:
    ranges = {k: tuple(v) for k, v in rob.get("ranges", {}).items()}
    lines = ["### Where each policy fails", "",
             f"PRIM boxes (the EMA Workbench) of the futures in which a policy's P(miscalculation) is above "
             f"{100 * rob['threshold']:g}%, over the futures' values (the assumptions and the calibrated parameters): "
             "coverage, the share of its failing futures inside the box; density, the share of the box's futures "
             "that fail. Parameters not named take any value.", ""]
    body = []
    for f in failures:
        where = f"{f['fails']} of {f['futures']}"
        if not f["boxes"]:
            body.append([str(f["pareto_row"]), where, "-", "no box: it fails in " +
                         ("no future" if f["fails"] == 0 else "every future" if f["fails"] == f["futures"]
                          else "futures no box separates"), "", ""])
        for k, b in enumerate(f["boxes"], 1):
            body.append([str(f["pareto_row"]) if k == 1 else "", where if k == 1 else "", str(k),
                         box_text(b, ranges), f"{b['coverage']:.2f}", f"{b['density']:.2f}"])
    return lines + _table(["Pareto row", "futures failing", "box", "where (the others: any value)", "coverage",
                           "density"], body) + [""]
