"""Paired comparisons: settings run on the same random numbers, and their differences with paired intervals.

Two settings (scenarios, or one scenario with and without a change) run on one random stream give run k
the same draws in both (docs/model.md, section 8), so their runs pair: most runs end the same way in
both, and only the discordant ones (the outcome in one setting and not the other) carry the difference.
A paired interval uses that; two separate intervals do not, and hide real effects behind overlapping
bars. Every difference here is P(setting) - P(baseline) with Newcombe's hybrid score interval for
paired proportions (:func:`sim.stats.paired_difference`) and every ratio P(setting) / P(baseline) with
Bonett and Price's interval (:func:`sim.stats.paired_ratio`).

- :func:`compare` runs scenario files on one seed (or reads `escsim run` results directories whose
  seed, stream and run count match) and pairs each with the first (``escsim compare``).
- :func:`compare_over` does that at every point of an experiment (Latin hypercube draws of the
  assumptions the data leave open, say): how often a lever lowers the risk, and by how much, over the
  plausible worlds (``escsim compare ... --over EXPERIMENT``).
- :class:`SweepPairing` gives a sweep on common random numbers each point's difference from its
  baseline point (``points.csv``: ``<output>_diff`` and its interval, and the discordant counts).
- :func:`set_overrides` turns ``--set [N:]KEY=VALUE`` arguments into scenario overrides.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .compile import CompiledScenario, compile_scenario
from .draws import as_root, describe_seed, root_from, stream_label
from .errors import InputError
from .outcomes import NEVER
from .parameters import check_keys
from .stats import estimate, paired_difference, paired_ratio

OUTPUTS = ("p_miscalculation", "p_crisis", "p_war", "p_nuclear_use", "p_crisis_perfect_perception",
           "p_crisis_after_misreading", "p_misperception_driven_escalation")
LABELS = {
    "p_miscalculation": "P(miscalculation)",
    "p_crisis": "P(crisis)",
    "p_war": "P(war)",
    "p_nuclear_use": "P(top rung)",
    "p_misperception_driven_escalation": "P(misperception-driven escalation)",
    "p_crisis_perfect_perception": "P(crisis, perfect perception)",
    "p_crisis_after_misreading": "P(crisis after a misreading)",
}
DEFAULT_RUNS = 10_000


# ---------------------------------------------------------------- per-run outcomes


def outcome_flags(per_run: dict[str, np.ndarray], top_rung: int, outputs=OUTPUTS) -> dict[str, np.ndarray]:
    """Each output's per-run indicator (bool, one per run) from per-run columns
    (:meth:`sim.outcomes.OutcomeTracker.per_run`, or runs.csv read back). An output whose column is
    missing (``p_miscalculation`` of runs without twins) is left out."""
    def col(name):
        return np.asarray(per_run[name]).astype(np.int64)

    make = {
        "p_miscalculation": lambda: col("miscalculation") != 0,
        "p_crisis": lambda: col("crisis") != 0,
        "p_war": lambda: col("war") != 0,
        "p_nuclear_use": lambda: col("max_rung") >= top_rung,
        "p_misperception_driven_escalation": lambda: col("first_mde_step") != NEVER,
        "p_crisis_perfect_perception": lambda: col("twin_crisis") != 0,
        "p_crisis_after_misreading": lambda: col("crisis_after_misreading") != 0,
    }
    needs = {"p_miscalculation": "miscalculation", "p_crisis": "crisis", "p_war": "war", "p_nuclear_use": "max_rung",
             "p_misperception_driven_escalation": "first_mde_step", "p_crisis_perfect_perception": "twin_crisis",
             "p_crisis_after_misreading": "crisis_after_misreading"}
    return {o: make[o]() for o in outputs if needs[o] in per_run}


def pack_flags(flags: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Per-run indicators as bit vectors (np.packbits: one bit per run), cheap to ship between processes."""
    return {name: np.packbits(np.asarray(v, dtype=bool)) for name, v in flags.items()}


def unpack_flags(bits: np.ndarray, runs: int) -> np.ndarray:
    return np.unpackbits(np.asarray(bits, dtype=np.uint8), count=runs).astype(bool)


def paired_counts(here: np.ndarray, base: np.ndarray) -> tuple[int, int, int]:
    """(both, only here, only at the baseline): runs with the outcome in both settings, in this one only,
    in the baseline only."""
    here, base = np.asarray(here, dtype=bool), np.asarray(base, dtype=bool)
    if here.shape != base.shape:
        raise ValueError(f"paired runs need the same run count; got {here.shape} and {base.shape}")
    return int((here & base).sum()), int((here & ~base).sum()), int((~here & base).sum())


def paired_estimate(here: np.ndarray, base: np.ndarray, confidence: float = 0.95) -> dict:
    """One output of one setting against the baseline, run by run: both probabilities, the difference
    here - baseline with Newcombe's paired interval, the ratio here / baseline with Bonett and Price's,
    and the counts behind them. JSON-ready (an infinite or undefined ratio or limit is None)."""
    both, only_here, only_base = paired_counts(here, base)
    n = len(here)
    d, lo, hi = paired_difference(only_here, only_base, both, n, confidence)
    r, rlo, rhi = paired_ratio(only_here, only_base, both, confidence)
    return {"baseline": (both + only_base) / n, "here": (both + only_here) / n,
            "difference": float(d), "diff_low": float(lo), "diff_high": float(hi),
            "ratio": _finite(r), "ratio_low": _finite(rlo), "ratio_high": _finite(rhi),
            "both": both, "only_here": only_here, "only_baseline": only_base, "runs": n}


def _finite(x) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None


# ---------------------------------------------------------------- --set KEY=VALUE

_SET = re.compile(r"(?:(\d+):)?([A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*)=(.*)", re.S)
_BARE = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


def parse_set(text: str) -> tuple[int | None, str, object]:
    """``[N:]KEY=VALUE`` -> (N or None, KEY, VALUE). VALUE is read as a TOML value (``0.9``, ``true``,
    ``[1, 2]``, ``"text"``, ``2024-03-04``); a bare word that is no TOML value (``tit_for_tat``) is
    taken as text, so a rule name needs no quotes in the shell."""
    m = _SET.fullmatch(text)
    if not m:
        raise InputError(f"--set {text}: expected KEY=VALUE (a dotted key path, e.g. alliances.us_rok.cohesion=0.9), "
                         "or N:KEY=VALUE for the N-th scenario only")
    index, key, raw = m.groups()
    raw = raw.strip()
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        if not _BARE.fullmatch(raw):
            raise InputError(f"--set {text}: {raw!r} is not a TOML value (a number, true/false, a date, "
                             "[a, list] or \"quoted text\")") from None
        value = raw
    return (int(index) if index is not None else None), key, value


def set_overrides(items: list[str] | None, targets: int = 1) -> list[dict]:
    """The overrides of each of ``targets`` scenarios from ``--set`` arguments: ``KEY=VALUE`` applies to
    every scenario, ``N:KEY=VALUE`` to the N-th only (from 1) and wins over the former."""
    common, own = {}, [{} for _ in range(targets)]
    for text in items or []:
        index, key, value = parse_set(text)
        if index is None:
            common[key] = value
        elif not 1 <= index <= targets:
            raise InputError(f"--set {text}: there {'is 1 scenario' if targets == 1 else f'are {targets} scenarios'}; "
                             f"N in N:KEY=VALUE counts them from 1")
        else:
            own[index - 1][key] = value
    return [{**common, **o} for o in own]


def _build(path: Path, overrides: dict, origin=None):
    """A scenario file with overrides, validated (InputError names the file, the key and the --set)."""
    from .scenario import ScenarioFile

    return ScenarioFile.read(path).build(overrides, origin=origin or (lambda key: f"--set {key}"),
                                         where=lambda key: f"--set {key}")


# ---------------------------------------------------------------- compare


@dataclass
class Setting:
    """One side of a comparison: a scenario file with its overrides, or an `escsim run` directory."""

    label: str  # A, B, C, ...
    source: Path
    compiled: CompiledScenario
    overrides: dict = field(default_factory=dict)
    results: bool = False  # a results directory, read rather than run
    flags: dict[str, np.ndarray] | None = None

    @property
    def title(self) -> str:
        what = f"{self.compiled.name} ({self.source}{', results' if self.results else ''})"
        if self.overrides:
            what += " with " + ", ".join(f"{k}={_show(v)}" for k, v in self.overrides.items())
        return what


def _show(v) -> str:
    if isinstance(v, bool):
        return str(v).lower()
    return json.dumps(v, default=str) if isinstance(v, (str, list, dict)) else str(v)


@dataclass
class Comparison:
    """Settings run on the same random numbers: each one's probabilities and, from the second on, its
    paired difference and ratio against the first (``paired[k - 1][output]``)."""

    settings: list[Setting]
    runs: int
    seed: np.random.SeedSequence
    engine: str
    outputs: list[str]
    estimates: list[dict]
    paired: list[dict]

    def to_dict(self) -> dict:
        return {
            "runs": self.runs, **describe_seed(self.seed), "engine": self.engine,
            "settings": [{"label": s.label, "scenario": s.compiled.name, "source": str(s.source),
                          "results_directory": s.results, "overrides": s.overrides} for s in self.settings],
            "estimates": {s.label: e for s, e in zip(self.settings, self.estimates)},
            "paired": {f"{s.label}-{self.settings[0].label}": p for s, p in zip(self.settings[1:], self.paired)},
        }

    def table(self) -> str:
        base = self.settings[0]
        lines = [f"{self.runs:,} runs of each, {self.engine} engine, {_stream_text(self.seed)}: run k of every "
                 "setting drew the same random numbers"]
        lines += [f"  {s.label}: {s.title}" for s in self.settings]
        for s, paired in zip(self.settings[1:], self.paired):
            lines += ["", f"{s.label} against {base.label}: difference {s.label} - {base.label} in percentage points "
                      f"and ratio {s.label}/{base.label}, with 95% paired intervals",
                      f"{'':36}{base.label:>9}{s.label:>9}{'difference [95%]':>28}{'ratio [95%]':>24}"
                      f"{'runs differing':>18}"]
            for out in self.outputs:
                p = paired[out]
                lines.append(f"{LABELS[out]:36}{100 * p['baseline']:>8.2f}%{100 * p['here']:>8.2f}%"
                             f"{_points(p):>28}{_ratio(p):>24}"
                             f"{p['only_here']:>8} / {p['only_baseline']:<7}")
        lines += ["", "runs differing: runs with the outcome only in the setting / only in the baseline; "
                  "every other run ended the same way in both"]
        return "\n".join(lines)


def _stream_text(root: np.random.SeedSequence) -> str:
    from .draws import Stream

    if tuple(root.spawn_key) == (Stream.RUN,):
        return f"seed {root.entropy} (the runs of escsim run --seed {root.entropy})"
    return f"stream {stream_label(root)}"


def _points(p: dict) -> str:
    return f"{100 * p['difference']:+.2f} [{100 * p['diff_low']:+.2f}, {100 * p['diff_high']:+.2f}]"


def _ratio(p: dict) -> str:
    def f(x):
        return "inf" if x is None else f"{x:.2f}"

    if p["ratio"] is None and p["both"] + p["only_here"] + p["only_baseline"] == 0:
        return "n/a (none in either)"
    return f"{f(p['ratio'])} [{f(p['ratio_low'])}, {f(p['ratio_high'])}]"


def _is_results(path: Path) -> bool:
    return Path(path).is_dir()


def _read_results(path: Path) -> tuple[dict, CompiledScenario]:
    """An `escsim run` directory's manifest and compiled scenario, or one InputError line."""
    from .scenario import validate_scenario

    if (path / "points.csv").exists():
        raise InputError(f"{path}: a sweep's results; compare takes scenario files or escsim run directories "
                         "(a sweep on common random numbers has each point's paired difference in points.csv)")
    man_path = path / "manifest.json"
    try:
        man = json.loads(man_path.read_text())
        scenario = validate_scenario(man["scenario"], str(man_path))
        man["runs"], man["seed"], man["stream"], man["engine"]
    except FileNotFoundError:
        raise InputError(f"{path}: no manifest.json; not an escsim run directory") from None
    except (OSError, ValueError, KeyError, TypeError):
        raise InputError(f"{man_path}: not the manifest of an escsim run this version can read") from None
    if not (path / "runs.csv").exists():
        raise InputError(f"{path}: no runs.csv, so its runs cannot be paired (above 100,000 runs escsim run leaves "
                         "it out): run it again with --runs-table yes")
    return man, compile_scenario(scenario)


def _read_flags(path: Path, runs: int, top_rung: int) -> dict[str, np.ndarray]:
    with open(path / "runs.csv", newline="") as f:
        reader = csv.DictReader(f)
        fields = reader.fieldnames or []
        if "crisis_after_misreading" not in fields:  # written before miscalculation needed the twin
            raise InputError(f"{path}/runs.csv: written by an older escsim, whose 'miscalculation' column meant "
                             "something else; run it again")
        wanted = [c for c in ("run", "miscalculation", "crisis", "war", "max_rung", "first_mde_step", "twin_crisis",
                              "crisis_after_misreading") if c in fields]
        cols = {c: [] for c in wanted}
        for row in reader:
            for c in wanted:
                cols[c].append(int(row[c]))
    table = {c: np.array(v, dtype=np.int64) for c, v in cols.items()}
    if "run" not in table or len(table["run"]) != runs or not np.array_equal(table["run"], np.arange(runs)):
        raise InputError(f"{path}/runs.csv: does not hold runs 0 to {runs - 1} in order, as its manifest says; "
                         "run it again")
    return outcome_flags(table, top_rung)


def _labels(n: int) -> list[str]:
    return [chr(ord("A") + k) if k < 26 else f"S{k + 1}" for k in range(n)]


def _same_actors(settings: list[Setting]) -> None:
    first = settings[0]
    for s in settings[1:]:
        if s.compiled.actor_ids != first.compiled.actor_ids:
            raise InputError(f"{s.source} has actors {', '.join(s.compiled.actor_ids)} and {first.source} has "
                             f"{', '.join(first.compiled.actor_ids)}: compare pairs runs of the same actors, in the "
                             "same order")


def compare(targets: list[str | Path], sets: list[str] | None = None, *, runs: int | None = None,
            seed: int | None = None, workers: int | None = None,
            engine: str | None = None, progress: bool = False) -> Comparison:
    """Run (or read) every target on one random stream and pair each with the first.

    ``targets`` are scenario files, run with ``simulate(compiled, runs, seed)`` (default 10,000 runs,
    seed 0: the numbers ``escsim run --seed S`` gives), or `escsim run` directories, read from their
    runs.csv. Directories must share seed, stream, engine and run count, and scenario files then run on
    theirs; ``runs``, ``seed`` or ``engine`` that differ from them are refused. ``sets`` are ``--set``
    arguments (:func:`set_overrides`): they apply to scenario files only. All targets must have the same
    actors in the same order. Everything is checked before anything runs.
    """
    from .simulate import simulate

    targets = [Path(t) for t in targets]
    if len(targets) < 2:
        raise InputError("compare needs at least two scenarios or results directories (the first is the baseline)")
    overrides = set_overrides(sets, len(targets))
    settings, manifests = [], []
    for label, path, over in zip(_labels(len(targets)), targets, overrides):
        if _is_results(path):
            if over:
                raise InputError(f"--set: {path} is a results directory, whose runs are done; --set changes "
                                 "scenario files only (give N:KEY=VALUE for a scenario file's position)")
            man, compiled = _read_results(path)
            manifests.append((path, man))
            settings.append(Setting(label, path, compiled, {}, results=True))
        elif not path.exists():
            raise InputError(f"{path}: no such scenario file or results directory")
        else:
            settings.append(Setting(label, path, compile_scenario(_build(path, over)), over))
    _same_actors(settings)
    root, n_runs, eng = _stream(manifests, runs, seed, engine)
    for s in settings:
        if s.results:
            s.flags = _read_flags(s.source, n_runs, s.compiled.top_rung)
        else:
            result = simulate(s.compiled, n_runs, root, engine=eng, workers=workers, per_run=True,
                              progress=progress)
            s.flags = outcome_flags(result.per_run, s.compiled.top_rung)
    outputs = [o for o in OUTPUTS if all(o in s.flags for s in settings)]
    estimates = [{o: estimate(int(s.flags[o].sum()), n_runs) for o in outputs} for s in settings]
    base = settings[0].flags
    paired = [{o: paired_estimate(s.flags[o], base[o]) for o in outputs} for s in settings[1:]]
    return Comparison(settings, n_runs, root, eng, outputs, estimates, paired)


def _stream(manifests, runs, seed, engine):
    """The stream, run count and engine every target runs on: the results directories' (which must
    agree), else the arguments' (defaults: seed 0's run stream, 10,000 runs, the ensemble engine)."""
    if not manifests:
        return as_root(0 if seed is None else seed), runs or DEFAULT_RUNS, engine or "ensemble"
    first, man = manifests[0]
    key = (man["seed"], list(man["stream"]), man["runs"], man["engine"])
    for path, other in manifests[1:]:
        theirs = (other["seed"], list(other["stream"]), other["runs"], other["engine"])
        if theirs != key:
            raise InputError(f"{path} and {first} did not run on the same random numbers ({_describe(other)} against "
                             f"{_describe(man)}): their runs do not pair; run both with the same --seed and --runs")
    root = root_from(man)
    if seed is not None and describe_seed(seed) != describe_seed(root):
        raise InputError(f"--seed {seed}: {first} ran on {_describe(man)}; its runs pair only with runs of that "
                         "stream: drop --seed")
    if runs is not None and runs != man["runs"]:
        raise InputError(f"--runs {runs}: {first} holds {man['runs']:,} runs; drop --runs")
    if engine is not None and engine != man["engine"]:
        raise InputError(f"--engine {engine}: {first} ran on the {man['engine']} engine; drop --engine")
    return root, man["runs"], man["engine"]


def _describe(man: dict) -> str:
    return f"{man['runs']:,} runs, {man['engine']} engine, {_stream_text(root_from(man))}"


# ---------------------------------------------------------------- over the draws of an experiment


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
    lo = np.array([p[output]["diff_low"] for p in per_draw])
    hi = np.array([p[output]["diff_high"] for p in per_draw])
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
    from tqdm.auto import tqdm

    from .experiment import load_experiment
    from .parallel import map_in_order
    from .scenario import ScenarioFile
    from .sweep import run_point

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

    built = []  # [draw][target] compiled
    for p in points:  # every draw of every target is validated before anything runs
        built.append([compile_scenario(f.build({**p.overrides, **o}, origin=origin)) for f, o in zip(files, overrides)])
    settings = [Setting(label, t, c, o) for label, t, c, o in zip(_labels(len(targets)), targets, built[0], overrides)]
    _same_actors(settings)
    outputs = OUTPUTS

    def drawn(p, o, compiled):
        """The posterior draws of the experiment's runs (as its sweep gives them), less the keys this
        draw or this setting's --set fixes; checked against the setting before anything runs."""
        params = {k: v for k, v in (exp.point_parameters(p) or {}).items() if k not in o} or None
        if params:
            check_keys(compiled, params, f"{where}: the posterior of {exp.base.scenario.posterior}")
        return params

    # one task per draw and setting, each on one process (as a sweep's points): the pool stays busy
    tasks = [(c, p.seed, drawn(p, o, c)) for p, compiled in zip(points, built) for c, o in zip(compiled, overrides)]
    results = map_in_order(run_point, tasks, workers, runs=exp.runs, outcome_bits=outputs)
    results = tqdm(results, total=len(tasks), desc="draws x settings", disable=not progress, leave=False)
    summaries = list(results)
    paired = [[] for _ in settings[1:]]
    for i in range(len(points)):
        flags = [{o: unpack_flags(s["outcome_bits"][o], exp.runs) for o in outputs}
                 for s in summaries[i * len(targets):(i + 1) * len(targets)]]
        for k, f in enumerate(flags[1:]):
            paired[k].append({o: paired_estimate(f[o], flags[0][o]) for o in outputs})
    return OverDraws(settings, str(experiment), [p.values for p in points], exp.runs, list(outputs), paired)


# ---------------------------------------------------------------- sweeps: each point against its baseline

PAIRED_FILE = "paired_baseline.npz"
PAIRED_SAMPLERS = ("grid", "oat")


def sweep_baseline(exp) -> int | None:
    """The point a sweep's points are paired with, or None when they are not paired: point 0 (the
    baseline of a one-at-a-time design, the first combination of a grid) of a grid or oat sweep on
    common random numbers with the same runs at every point (no ``target_half_width``)."""
    meta = exp.meta
    ok = (meta.common_random_numbers and meta.target_half_width is None and meta.sampler in PAIRED_SAMPLERS
          and len(exp.points) > 1)
    return 0 if ok else None


def paired_columns(output: str, p: dict) -> dict:
    """The points.csv columns of one output's paired difference from the baseline point."""
    return {f"{output}_diff": p["difference"], f"{output}_diff_low": p["diff_low"],
            f"{output}_diff_high": p["diff_high"], f"{output}_only_here": p["only_here"],
            f"{output}_only_baseline": p["only_baseline"]}


class SweepPairing:
    """Paired differences of a sweep's points from its baseline point (:func:`sweep_baseline`).

    Each point's worker returns its runs' outcomes as bit vectors (``outcome_bits`` of
    :func:`sim.sweep.run_point`, one bit per run and output); the baseline's are kept in memory and in
    ``paired_baseline.npz`` (so a resumed sweep has them), and every other point's row gets its
    discordant counts against them and the difference with its paired interval. A point that finishes
    before the baseline waits for it (the baseline is sent first, so few ever do).
    """

    def __init__(self, exp, out: Path):
        self.baseline = sweep_baseline(exp)
        self.outputs = tuple(exp.meta.outputs) if self.baseline is not None else ()
        self.runs = exp.runs
        self.path = Path(out) / PAIRED_FILE
        self.flags = self._load() if self.baseline is not None else None
        self.pending: dict[int, dict] = {}

    def _load(self) -> dict[str, np.ndarray] | None:
        try:
            with np.load(self.path) as f:
                if int(f["runs"]) != self.runs or int(f["baseline"]) != self.baseline:
                    return None
                return {o: unpack_flags(f[o], self.runs) for o in self.outputs}
        except (OSError, KeyError, ValueError):
            return None

    def plan(self, todo: list, points: list) -> list:
        """The points to run, the baseline first; the baseline again when its runs' outcomes were not kept."""
        if self.baseline is None:
            return todo
        if self.flags is None and all(p.index != self.baseline for p in todo):
            todo = [points[self.baseline], *todo]
        return sorted(todo, key=lambda p: p.index != self.baseline)

    def ready(self, index: int, summary: dict) -> list[tuple[int, dict]]:
        """The points whose rows can be written now, each summary with its ``paired_columns``."""
        bits = summary.pop("outcome_bits", None)
        if self.baseline is None:
            return [(index, summary)]
        flags = {o: unpack_flags(bits[o], summary["runs"]) for o in self.outputs}
        if index == self.baseline:
            self.flags = flags
            self._save(bits)
        elif self.flags is None:
            self.pending[index] = (summary, flags)
            return []
        out = [(index, summary, flags)] + [(i, s, f) for i, (s, f) in sorted(self.pending.items())]
        self.pending.clear()
        for i, s, f in out:
            s["paired_columns"] = {k: v for o in self.outputs
                                   for k, v in paired_columns(o, paired_estimate(f[o], self.flags[o])).items()}
        return [(i, s) for i, s, _ in out]

    def _save(self, bits: dict) -> None:
        from .results import atomic_write

        buf = io.BytesIO()
        np.savez_compressed(buf, runs=self.runs, baseline=self.baseline, **bits)
        atomic_write(self.path, buf.getvalue())


def pack_outcomes(tables: list[dict], top_rung: int, outputs) -> dict[str, np.ndarray]:
    """Per-run tables of consecutive run ranges -> each output's bit vector over all their runs."""
    joined = {k: np.concatenate([t[k] for t in tables]) for k in tables[0]}
    return pack_flags(outcome_flags(joined, top_rung, outputs))
