"""A lever over the plausible worlds: settings compared at every point of an experiment (``escsim compare --over``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from sim.core.errors import InputError
from sim.analysis.compare import Setting, _is_results, _labels, _same_actors
from sim.analysis.experiment import load_experiment
from sim.analysis.pairing import paired_estimate, unpack_flags
from sim.analysis.sweep import run_point
from sim.engines.parallel import map_in_order
from sim.model.compile import compile_scenario
from sim.model.outcomes import LABELS, OUTPUTS
from sim.model.overrides import set_overrides
from sim.model.scenario import ScenarioFile


@dataclass
class OverDraws:
    """Settings compared at every point (draw) of an experiment: per draw and setting the paired
    estimates against the first setting, and per setting and output a summary over the draws."""

    settings: list[Setting]
    experiment: str
    draws: list[dict]  # each point's parameter values
    runs: int
    outputs: list[str]
    paired: list[list[dict]]  # [setting k - 1][draw] -> {output: paired estimate}
    summary: list[dict] = field(default_factory=list)  # [setting k - 1] -> {output: over-draws summary}

    def __post_init__(self):
        self.summary = [{o: _over(draws, o) for o in self.outputs} for draws in self.paired]

    def rows(self) -> list[dict]:
        """One row per draw and setting (from the second): the draw's values, both probabilities, the
        difference with its paired interval (for a table or a DataFrame)."""
        out = []
        for s, per_draw in zip(self.settings[1:], self.paired):
            for i, (values, paired) in enumerate(zip(self.draws, per_draw)):
                row = {"draw": i, "setting": s.label, **values}
                for o in self.outputs:
                    p = paired[o]
                    row |= {f"{o}_baseline": p["baseline"], o: p["here"], f"{o}_diff": p["difference"],
                            f"{o}_diff_low": p["diff_low"], f"{o}_diff_high": p["diff_high"]}
                out.append(row)
        return out

    def to_dict(self) -> dict:
        return {"experiment": self.experiment, "draws": len(self.draws), "runs": self.runs,
                "settings": [{"label": s.label, "scenario": s.compiled.name, "source": str(s.source),
                              "overrides": s.overrides} for s in self.settings],
                "summary": {f"{s.label}-{self.settings[0].label}": v for s, v in zip(self.settings[1:], self.summary)},
                "rows": self.rows()}

    def __str__(self) -> str:
        return self.table()

    def table(self) -> str:
        base = self.settings[0]
        n = len(self.draws)
        lines = [f"{n} draws of {self.experiment}, {self.runs:,} runs each; in every draw all settings ran on the "
                 "same random numbers with the draw's parameter values"]
        lines += [f"  {s.label}: {s.title}" for s in self.settings]
        for s, summ in zip(self.settings[1:], self.summary):
            lines += ["", f"{s.label} against {base.label}, over the draws (differences in percentage points; "
                      "'surely': the 95% paired interval excludes 0)",
                      f"{'':36}{'lowers it':>14}{'surely lowers':>15}{'surely raises':>15}"
                      f"{'difference: 5%':>17}{'median':>9}{'95%':>8}"]
            for o in self.outputs:
                v = summ[o]
                lines.append(f"{LABELS[o]:36}{v['lower']:>5}/{n} ({100 * v['share_lower']:3.0f}%)"
                             f"{v['surely_lower']:>15}{v['surely_higher']:>15}"
                             f"{100 * v['q05'] + 0.0:>+17.2f}{100 * v['median'] + 0.0:>+9.2f}"
                             f"{100 * v['q95'] + 0.0:>+8.2f}")
            v = summ.get("p_miscalculation")
            if v is not None:
                lines += ["", f"{s.label} {_verdict(v, n)}"]
        return "\n".join(lines)


def _over(per_draw: list[dict], output: str) -> dict:
    d = np.array([p[output]["difference"] for p in per_draw])
    # a draw without an interval (too few posterior draws within it) is never 'surely' either way
    lo = np.array([np.nan if p[output]["diff_low"] is None else p[output]["diff_low"] for p in per_draw])
    hi = np.array([np.nan if p[output]["diff_high"] is None else p[output]["diff_high"] for p in per_draw])
    q05, median, q95 = (float(x) for x in np.percentile(d, [5, 50, 95]))
    return {"draws": len(d), "lower": int((d < 0).sum()), "share_lower": float((d < 0).mean()),
            "higher": int((d > 0).sum()), "surely_lower": int((hi < 0).sum()), "surely_higher": int((lo > 0).sum()),
            "q05": q05, "median": median, "q95": q95, "min": float(d.min()), "max": float(d.max())}


def _verdict(v: dict, n: int) -> str:
    """A sentence: 'lowers P(miscalculation) in 94% of the draws (30 of 32), by 0.20 to 1.10 points ...'."""
    if v["lower"] >= v["higher"]:
        word, count, a, b = "lowers", v["lower"], -v["q95"], -v["q05"]
    else:
        word, count, a, b = "raises", v["higher"], v["q05"], v["q95"]
    return (f"{word} P(miscalculation) in {100 * count / n:.0f}% of the draws ({count} of {n}), by "
            f"{100 * a + 0.0:.2f} to {100 * b + 0.0:.2f} points (5% to 95% of the draws' differences; "
            f"{v['surely_lower']} surely lower, {v['surely_higher']} surely higher)")


def compare_over(targets: list[str | Path], experiment: str | Path, sets: list[str] | None = None, *,
                 runs: int | None = None, workers: int | None = None, max_draws: int | None = None,
                 progress: bool = False) -> OverDraws:
    """Compare scenario files at every point of an experiment: robustness of a lever over the draws.

    At draw i every target is built with the draw's parameter values (the experiment's overrides at
    point i), then the ``--set`` overrides (which win, so a lever that sets a drawn key is what is
    compared), and all targets run on point i's stream (the experiment's seed; shared by every point
    when it has ``common_random_numbers``) with the experiment's runs per point (``runs`` overrides
    them). The experiment's own scenario is not run: its design is. ``max_draws`` uses the first draws
    only (a quick look). Twins run when the experiment asks for them.
    """

    targets = [Path(t) for t in targets]
    if len(targets) < 2:
        raise InputError("compare needs at least two scenarios (the first is the baseline)")
    for t in targets:
        if _is_results(t):
            raise InputError(f"{t}: a results directory; with --over every target is a scenario file, run at each "
                             "draw of the experiment")
        if not t.exists():
            raise InputError(f"{t}: no such scenario file")
    exp = load_experiment(experiment, runs=runs)
    points = exp.points[:max_draws] if max_draws else exp.points
    overrides = set_overrides(sets, len(targets))
    files = [ScenarioFile.read(t) for t in targets]
    where = f"--over {experiment}"

    def origin(key):
        return f"--set {key}" if any(key in o for o in overrides) else f"{where} (a drawn parameter)"

    def resolved(f, p, o):
        """A target at draw p: the draw's values, then this setting's --set; the experiment's posterior
        draws less the keys these fix (:meth:`sim.engines.resolve.Resolved.varied`)."""
        built = f.build({**p.overrides, **o}, origin=origin)
        return exp.resolution.varied(built, compile_scenario(built), {**p.overrides, **o}, p.seed)

    # every draw of every target is resolved, and so validated, before anything runs
    at = [[resolved(f, p, o) for f, o in zip(files, overrides)] for p in points]  # [draw][target]
    settings = [Setting(label, t, r.compiled, o) for label, t, r, o in zip(_labels(len(targets)), targets, at[0], overrides)]
    _same_actors(settings)
    outputs = OUTPUTS
    per_draw = exp.runs_per_draw

    # one task per draw and setting, each on one process (as a sweep's points): the pool stays busy
    tasks = [(r.compiled, r.seed, r.run_values) for draw in at for r in draw]
    results = map_in_order(run_point, tasks, workers, runs=exp.runs, outcome_bits=outputs, runs_per_draw=per_draw)
    results = tqdm(results, total=len(tasks), desc="draws x settings", disable=not progress, leave=False)
    summaries = list(results)
    paired = [[] for _ in settings[1:]]
    for i in range(len(points)):
        flags = [{o: unpack_flags(s["outcome_bits"][o], exp.runs) for o in outputs}
                 for s in summaries[i * len(targets):(i + 1) * len(targets)]]
        for k, f in enumerate(flags[1:]):
            paired[k].append({o: paired_estimate(f[o], flags[0][o], runs_per_draw=per_draw) for o in outputs})
    return OverDraws(settings, str(experiment), [p.values for p in points], exp.runs, list(outputs), paired)
