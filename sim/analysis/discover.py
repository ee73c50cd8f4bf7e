"""Scenario discovery: the boxes of assumptions where a probability is high, by PRIM.

A sweep over the assumptions the data leave open (a Latin hypercube, a Sobol or Saltelli design, a grid)
gives one probability per point. Scenario discovery asks which combinations of assumptions make it high:
the patient rule induction method (PRIM; Friedman and Fisher 1999, as used for scenario discovery by
Bryant and Lempert 2010) peels a box, a range per parameter, down from the whole space, trading
*coverage* (the share of the high points inside the box) for *density* (the share of the points inside
the box that are high). This module runs the EMA Workbench's PRIM (``ema_workbench.analysis.prim``,
the field's standard implementation), an optional extra (``pip install 'escalation-sim[discover]'``).

A point is *high* when its estimate of the output (P(miscalculation) by default) is above the threshold.
For each box the point chosen on PRIM's peeling trajectory is the one of highest coverage whose density
is at least ``density`` (0.8 by default; the densest point when none reaches it). Further boxes are
searched among the points left outside the boxes found, while they reach that density.
"""

from __future__ import annotations

import importlib.util
import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sim.analysis.sweep import load_sweep
from sim.core.errors import InputError
from sim.model.outcomes import LABELS

EXTRA = "scenario discovery needs the discover extra: pip install 'escalation-sim[discover]'"
DEFAULT_DENSITY = 0.8
MAX_BOXES = 3


def available() -> bool:
    """Whether the discover extra (the EMA Workbench) is installed."""
    return importlib.util.find_spec("ema_workbench") is not None


def _prim():
    """The EMA Workbench's PRIM module, imported quietly (it warns about optional parts it lacks)."""
    if not available():
        raise InputError(EXTRA)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from ema_workbench.analysis import prim
    return prim


@dataclass
class Box:
    """One box: the restricted parameters' limits (numbers: (low, high); switches and names: the
    levels kept), and its coverage, density and mass at the point chosen on its peeling trajectory."""

    limits: dict[str, tuple[float, float] | list[str]]
    coverage: float
    density: float
    mass: float
    points: int  # points inside the box
    high: int  # high points inside the box
    trajectory: list[dict]  # coverage, density, mass, res_dim of each step of peeling and pasting
    chosen: int  # the step chosen

    def to_dict(self) -> dict:
        return {"limits": {k: list(v) for k, v in self.limits.items()}, "coverage": self.coverage,
                "density": self.density, "mass": self.mass, "points": self.points, "high_points": self.high,
                "chosen_step": self.chosen, "trajectory": self.trajectory}


@dataclass
class Discovery:
    """The boxes found in one sweep's table for one output and threshold."""

    path: Path
    name: str
    sampler: str
    output: str
    above: float
    density: float
    columns: list[str]
    ranges: dict[str, tuple[float, float] | list[str]]  # each parameter's whole range (or levels)
    points: int
    high: int
    runs: int
    boxes: list[Box] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"results": str(self.path), "experiment": self.name, "sampler": self.sampler, "output": self.output,
                "above": self.above, "min_density": self.density, "points": self.points, "high_points": self.high,
                "runs_per_point": self.runs, "ranges": {k: list(v) for k, v in self.ranges.items()},
                "boxes": [b.to_dict() for b in self.boxes]}

    def text(self) -> str:

        label = LABELS.get(self.output, self.output)
        lines = [f"{self.name}: {label} above {self.above:g} at {self.high} of {self.points} points "
                 f"({self.sampler} sweep; each point's estimate from {self.runs:,} runs)"]
        for k, b in enumerate(self.boxes, 1):
            short = "" if b.density >= self.density else f"; short of the {self.density:g} asked for"
            lines += [f"box {k}: coverage {b.coverage:.2f} ({b.high} of the {self.high} high points are in it), "
                      f"density {b.density:.2f} ({b.high} of the {b.points} points in it are high{short}), "
                      f"mass {b.mass:.2f} (its share of all points)"]
            for name, lim in b.limits.items():
                lines.append(f"  {name:28} {_range_text(lim, self.ranges[name])}")
            rest = [c for c in self.columns if c not in b.limits]
            if rest:
                lines.append(f"  any value of: {', '.join(rest)}")
            if not b.limits:
                lines.append("  (no restriction: the high points are not confined to any box)")
        lines.append(f"chosen on each box's peeling trajectory: the highest coverage with density >= {self.density:g}")
        return "\n".join(lines)


def _range_text(lim, whole) -> str:
    """'from 1.2', 'up to 0.4' or '0.2 to 0.6' (a side left free is the whole range's end), and the range."""
    if isinstance(lim, list):
        return f"{', '.join(lim)}  (of {', '.join(whole)})"
    lo, hi = lim
    wlo, whi = whole
    text = f"from {lo:.4g}" if hi == whi else f"up to {hi:.4g}" if lo == wlo else f"{lo:.4g} to {hi:.4g}"
    return f"{text}  (of {wlo:.4g} to {whi:.4g})"


def check_threshold(above: float) -> float:
    if not 0.0 <= above <= 1.0:
        raise InputError(f"--above {above:g}: a probability from 0 to 1")
    return above


def discover(results: str | Path, above: float, output: str = "p_miscalculation", *,
             density: float = DEFAULT_DENSITY, boxes: int = MAX_BOXES) -> Discovery:
    """PRIM boxes of the parameter values where ``output`` is above ``above`` in a sweep's results.

    Refused with one InputError line: a threshold outside [0, 1], a density outside (0, 1], a missing
    extra, a directory that is not a finished sweep, an output the sweep lacks, a sweep of one point or
    whose parameters take one value each, and a threshold that no point (or every point) exceeds.
    """
    check_threshold(above)
    if not 0.0 < density <= 1.0:
        raise InputError(f"--density {density:g}: a share in (0, 1]")
    if boxes < 1:
        raise InputError(f"--boxes {boxes}: at least 1")
    _prim()  # the extra, before anything is read
    import pandas as pd

    sweep, ranges, planned, runs = _load(Path(results))
    if output not in sweep.outputs:
        raise InputError(f"--output {output}: not an output of {sweep.path}; choose from {', '.join(sweep.outputs)}")
    rows = sweep.rows
    if len(rows) < planned:
        raise InputError(f"{sweep.path}: {len(rows)} of {planned} points done; finish the sweep (run its escsim sweep "
                         "again) before discovery")
    if len(rows) < 2:
        raise InputError(f"{sweep.path}: a {sweep.sampler} sweep with one point; discovery needs points spread over "
                         "the parameters (an lhs, sobol or saltelli sweep, or a grid of several points)")
    x = pd.DataFrame({c: _column(rows, c) for c in sweep.columns})
    varied = [c for c in sweep.columns if x[c].nunique() > 1]
    if not varied:
        raise InputError(f"{sweep.path}: every parameter takes one value; discovery needs parameters that vary")
    x = x[varied]
    y = np.array([float(r[output]) > above for r in rows])
    found = Discovery(sweep.path, sweep.name, sweep.sampler, output, above, density, varied,
                      {c: ranges[c] for c in varied}, len(rows), int(y.sum()), runs)
    if y.sum() == 0 or y.all():
        est = [float(r[output]) for r in rows]
        which = "no point has it" if y.sum() == 0 else "every point has it"
        raise InputError(f"{sweep.path}: {which} above {above:g} ({output} from {min(est):.4g} to {max(est):.4g} over "
                         f"the {len(rows)} points): no box separates high from low; choose another --above")
    found.boxes = find_boxes(x, y, density=density, boxes=boxes, ranges=found.ranges)
    return found


def find_boxes(x, high, *, density: float = DEFAULT_DENSITY, boxes: int = MAX_BOXES,
               ranges: dict | None = None) -> list[Box]:
    """PRIM boxes of the rows of ``x`` (a DataFrame or a mapping column -> values: numbers, or text for
    switches and names) where ``high`` (bool per row) holds; see the module docstring for the choice of
    each box on its trajectory. A box side that PRIM left where the data end is given as the end of the
    parameter's whole range (``ranges``: column -> (low, high); default: the data's own)."""
    prim = _prim()
    import pandas as pd

    x = pd.DataFrame(x).reset_index(drop=True)
    high = np.asarray(high, dtype=bool)
    found = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # binary mode: the cases of interest are the rows with y >= threshold, i.e. the high ones; a box is
        # kept whatever its density (our choice on the trajectory decides), unless it holds no high row
        finder = prim.Prim(x, high.astype(int), threshold=1e-9, peel_alpha=0.05, paste_alpha=0.05, mass_min=0.05)
        for k in range(boxes):
            box = finder.find_box()
            if box is None:
                break
            chosen = _choose(box.peeling_trajectory, density)
            if k and box.peeling_trajectory["density"].iloc[chosen] < density:
                break  # a further box only when it is as dense as asked
            box.select(chosen)
            found.append(_box(box, chosen, finder.box_init, ranges or {}))
            if sum(b.high for b in found) >= high.sum():
                break
    return found


def _column(rows: list[dict], c: str):
    values = [r[c] for r in rows]
    try:
        if all(str(v) not in ("True", "False") for v in values):
            return np.array([float(v) for v in values])
    except (TypeError, ValueError):
        pass
    return [str(v) for v in values]


def _load(results: Path):
    """The sweep's table (sim.analysis.sweep.load_sweep), each parameter's whole range, the planned points, runs."""

    sweep = load_sweep(results)
    man = json.loads((results / "manifest.json").read_text())
    resolved = man["resolved"]
    params = resolved["experiment"]["parameters"]
    ranges = {}
    for p in params:
        column = p.get("name") or (p["key"] if isinstance(p["key"], str) else p["key"][0])
        values = _column(sweep.rows, column)
        if isinstance(values, list):
            ranges[column] = list(dict.fromkeys(str(v) for v in (p.get("values") or values)))
        elif p.get("range"):
            ranges[column] = (float(p["range"][0]), float(p["range"][1]))
        else:
            ranges[column] = (float(values.min()), float(values.max()))
    return sweep, ranges, len(resolved["points"]), int(man.get("runs_per_point") or sweep.rows[0]["runs"])


def _choose(trajectory, density: float) -> int:
    """The step of highest coverage with density >= ``density`` (fewer restricted parameters, then higher
    density, break ties); the densest step when none reaches it."""
    t = trajectory.reset_index(drop=True)
    ok = t[t["density"] >= density - 1e-12]
    if len(ok):
        best = ok.sort_values(["coverage", "res_dim", "density"], ascending=[False, True, False], kind="stable")
    else:
        best = t.sort_values(["density", "coverage"], ascending=[False, False], kind="stable")
    return int(best.index[0])


def _box(box, chosen: int, box_init, ranges: dict) -> Box:
    lims = box.box_lims[chosen]
    limits = {}
    for c in lims.columns:
        lo, hi = lims[c].iloc[0], lims[c].iloc[1]
        first, last = box_init[c].iloc[0], box_init[c].iloc[1]
        if isinstance(lo, set):
            if set(lo) != set(first):
                limits[c] = sorted(str(v) for v in lo)
        elif lo != first or hi != last:
            whole = ranges.get(c, (first, last))
            limits[c] = (float(whole[0] if lo == first else lo), float(whole[1] if hi == last else hi))
    t = box.peeling_trajectory.reset_index(drop=True)
    step = t.iloc[chosen]
    trajectory = [{"coverage": float(r.coverage), "density": float(r.density), "mass": float(r.mass),
                   "res_dim": int(r.res_dim)} for r in t.itertuples()]
    return Box(limits, float(step["coverage"]), float(step["density"]), float(step["mass"]), int(step["n"]),
               int(step["k"]), trajectory, chosen)


# ---------------------------------------------------------------- figure


