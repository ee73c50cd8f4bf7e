"""Paired comparisons: settings run on the same random numbers, and their differences with paired intervals.

Two settings (scenarios, or one scenario with and without a change) run on one random stream give run k
the same draws in both (docs/model.md, section 8), so their runs pair: most runs end the same way in
both, and only the discordant ones (the outcome in one setting and not the other) carry the difference.
A paired interval uses that; two separate intervals do not, and hide real effects behind overlapping
bars. Every difference here is P(setting) - P(baseline) with Newcombe's hybrid score interval for
paired proportions (:func:`sim.core.stats.paired_difference`) and every ratio P(setting) / P(baseline) with
Bonett and Price's interval (:func:`sim.core.stats.paired_ratio`).

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

from sim.model.compile import CompiledScenario, compile_scenario
from sim.engines.draws import describe_seed, root_from, stream_label
from sim.core.errors import InputError
from sim.model.outcomes import OUTPUTS, outcome_flags
from sim.core.stats import (MIN_DRAWS, difference_over_draws, estimate, paired_difference, paired_ratio,
                    ratio_over_draws)

LABELS = {
    "p_miscalculation": "P(miscalculation)",
    "p_crisis": "P(crisis)",
    "p_war": "P(war)",
    "p_nuclear_use": "P(top rung)",
    "p_misperception_driven_escalation": "P(misperception-driven escalation)",
    "p_crisis_perfect_perception": "P(crisis, perfect perception)",
    "p_crisis_after_misreading": "P(crisis after a misreading)",
}

# ---------------------------------------------------------------- per-run outcomes


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


def paired_estimate(here: np.ndarray, base: np.ndarray, confidence: float = 0.95,
                    runs_per_draw: int | None = None) -> dict:
    """One output of one setting against the baseline, run by run: both probabilities, the difference
    here - baseline and the ratio here / baseline with their intervals, and the counts behind them.

    Runs at fixed values are independent: Newcombe's paired interval for the difference, Bonett and
    Price's for the ratio. Runs that share posterior draws (``runs_per_draw``; run k takes draw
    k // runs_per_draw, the same draw in both settings) are not: the intervals are then over the draws
    (:func:`sim.core.stats.difference_over_draws`, :func:`sim.core.stats.ratio_over_draws`), and have no limits
    with fewer than :data:`sim.core.stats.MIN_DRAWS` draws. JSON-ready (an infinite or undefined ratio or
    limit is None); ``interval`` says which.
    """
    both, only_here, only_base = paired_counts(here, base)
    n = len(here)
    out = {"baseline": (both + only_base) / n, "here": (both + only_here) / n}
    if runs_per_draw is None:
        d, lo, hi = paired_difference(only_here, only_base, both, n, confidence)
        r, rlo, rhi = paired_ratio(only_here, only_base, both, confidence)
        interval = "paired, run by run"
    else:
        draw = np.arange(n) // runs_per_draw
        sizes = np.bincount(draw)
        h = np.bincount(draw, weights=np.asarray(here, dtype=float), minlength=len(sizes))
        b = np.bincount(draw, weights=np.asarray(base, dtype=float), minlength=len(sizes))
        d, lo, hi = difference_over_draws(h - b, sizes, confidence, counts=(only_here, only_base, both))
        r, rlo, rhi = ratio_over_draws(h, b, sizes, confidence, counts=(only_here, only_base, both))
        out["draws"] = len(sizes)
        interval = (f"paired, over {len(sizes)} posterior draws" if len(sizes) >= MIN_DRAWS else
                    f"none: {len(sizes)} posterior draws, fewer than {MIN_DRAWS}")
    return out | {"difference": (only_here - only_base) / n, "diff_low": _finite(lo), "diff_high": _finite(hi),
                  "ratio": _finite(r), "ratio_low": _finite(rlo), "ratio_high": _finite(rhi),
                  "both": both, "only_here": only_here, "only_baseline": only_base, "runs": n, "interval": interval}


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
    from sim.model.scenario import ScenarioFile

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
    identity: dict | None = None  # what its runs took (sim.engines.resolve.Resolved.identity, or a manifest's)
    resolved: object | None = None  # a scenario file's resolution (sim.engines.resolve.Resolved)

    @property
    def title(self) -> str:
        what = f"{self.compiled.name} ({self.source}{', results' if self.results else ''})"
        if self.overrides:
            what += " with " + ", ".join(f"{k}={_show(v)}" for k, v in self.overrides.items())
        return what


from sim.engines.resolve import _show  # noqa: E402  (one way to print an override's value)


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
                 "setting drew the same random numbers" + (" and the same posterior draw" if self._draws() else "")]
        lines += [f"  {s.label}: {s.title}" for s in self.settings]
        post = self.settings[0].identity["posterior"]
        lines.append("parameters: " + (f"drawn from {post['file']} ({post['draws']} draws x {post['runs_per_draw']} "
                                       "runs)" if post else "the scenarios' point values"))
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
        kind = self.paired[0][self.outputs[0]]["interval"] if self.paired else "paired, run by run"
        lines += ["", "runs differing: runs with the outcome only in the setting / only in the baseline; "
                  "every other run ended the same way in both",
                  _paired_note(kind)]
        return "\n".join(lines)

    def _draws(self) -> bool:
        return self.settings[0].identity["posterior"] is not None


def _paired_note(kind: str) -> str:
    """What a comparison's intervals are, in one line."""
    if kind.startswith("none"):
        return (f"no intervals: {kind.split(': ', 1)[1]}: too few to measure the parameters' uncertainty "
                f"(docs/model.md section 13)")
    if "posterior" in kind:
        return (f"95% intervals: {kind.removeprefix('paired, ')}, the draw as the unit (both settings took the same "
                "draw): Monte Carlo error and parameter uncertainty together (docs/model.md section 13)")
    return ("95% intervals: paired, run by run (Newcombe's hybrid score interval for the difference, Bonett and "
            "Price's for the ratio)")


def _stream_text(root: np.random.SeedSequence) -> str:
    from sim.engines.draws import Stream

    if tuple(root.spawn_key) == (Stream.RUN,):
        return f"seed {root.entropy} (the runs of escsim run --seed {root.entropy})"
    return f"stream {stream_label(root)}"


def _points(p: dict) -> str:
    if p["diff_low"] is None:
        return f"{100 * p['difference']:+.2f} (no interval)"
    return f"{100 * p['difference']:+.2f} [{100 * p['diff_low']:+.2f}, {100 * p['diff_high']:+.2f}]"


def _ratio(p: dict) -> str:
    def f(x):
        return "inf" if x is None else f"{x:.2f}"

    if p["ratio"] is None and p["both"] + p["only_here"] + p["only_baseline"] == 0:
        return "n/a (none in either)"
    if p["ratio_low"] is None and p["ratio_high"] is None:
        return f"{f(p['ratio'])} (no interval)"
    return f"{f(p['ratio'])} [{f(p['ratio_low'])}, {f(p['ratio_high'])}]"


def _is_results(path: Path) -> bool:
    return Path(path).is_dir()


def _read_results(path: Path) -> tuple[dict, CompiledScenario]:
    """An `escsim run` directory's manifest and compiled scenario, or one InputError line."""
    from sim.model.scenario import validate_scenario

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
            seed: int | None = None, workers: int | None = None, engine: str | None = None,
            posterior: str | None = None, progress: bool = False) -> Comparison:
    """Run (or read) every target on one random stream and pair each with the first.

    ``targets`` are scenario files or `escsim run` directories (read from their runs.csv). Every
    scenario file is resolved (:func:`sim.engines.resolve.resolve`) as ``escsim run`` resolves it: its
    posterior (or ``posterior``: a file, or ``"none"`` for point values), the ``--set`` overrides
    ``sets`` (:func:`set_overrides`), the seed (default 0) and runs (default: as ``escsim run``). With
    results directories, their manifests decide seed, runs, engine and posterior, and the scenario files
    are resolved with those. Runs pair only when every target took the same seed, stream, runs, engine
    and posterior draws (file digest, draws, runs per draw): otherwise the comparison is refused, since
    differences would come from the draws as much as from the settings. All targets must have the same
    actors in the same order. Everything is checked before anything runs.
    """
    from sim.engines.resolve import resolve
    from sim.engines.simulate import run

    targets = [Path(t) for t in targets]
    if len(targets) < 2:
        raise InputError("compare needs at least two scenarios or results directories (the first is the baseline)")
    overrides = set_overrides(sets, len(targets))
    settings = []
    for label, path, over in zip(_labels(len(targets)), targets, overrides):
        if _is_results(path):
            if over:
                raise InputError(f"--set: {path} is a results directory, whose runs are done; --set changes "
                                 "scenario files only (give N:KEY=VALUE for a scenario file's position)")
            man, compiled = _read_results(path)
            settings.append(Setting(label, path, compiled, {}, results=True, identity=_manifest_identity(man, path)))
        elif not path.exists():
            raise InputError(f"{path}: no such scenario file or results directory")
        else:
            settings.append(Setting(label, path, None, over))
    done = [s for s in settings if s.results]
    if done:
        ident = done[0].identity
        _refuse_arguments(done[0].source, ident, runs, seed, engine, posterior)
        root = root_from(ident)
        kwargs = dict(seed=root, runs=ident["runs"], engine=ident["engine"],
                      posterior=ident["posterior"]["file"] if ident["posterior"] else None)
    else:
        kwargs = dict(seed=0 if seed is None else seed, runs=runs, engine=engine or "ensemble",
                      posterior=posterior or "scenario")
    for s in settings:
        if not s.results:
            s.resolved = resolve(s.source, overrides=s.overrides, origin=lambda key: f"--set {key}", **kwargs)
            s.compiled, s.identity = s.resolved.compiled, s.resolved.identity()
            if kwargs["runs"] is None:  # the first scenario's default runs hold for every target
                kwargs["runs"] = s.resolved.runs
    _same_actors(settings)
    _same_draws(settings)
    ident = settings[0].identity
    n_runs, per_draw = ident["runs"], (ident["posterior"] or {}).get("runs_per_draw")
    for s in settings:
        if s.results:
            s.flags = _read_flags(s.source, n_runs, s.compiled.top_rung)
        else:
            s.flags = outcome_flags(run(s.resolved, workers=workers, per_run=True, progress=progress).per_run,
                                    s.compiled.top_rung)
    outputs = [o for o in OUTPUTS if all(o in s.flags for s in settings)]

    def by_draw(flags):
        if per_draw is None:
            return None
        draw = np.arange(n_runs) // per_draw
        return np.bincount(draw, weights=flags).astype(np.int64), np.bincount(draw)

    estimates = [{o: estimate(int(s.flags[o].sum()), n_runs, by_draw=by_draw(s.flags[o])) for o in outputs}
                 for s in settings]
    base = settings[0].flags
    paired = [{o: paired_estimate(s.flags[o], base[o], runs_per_draw=per_draw) for o in outputs}
              for s in settings[1:]]
    return Comparison(settings, n_runs, root_from(ident), ident["engine"], outputs, estimates, paired)


def _manifest_identity(man: dict, path: Path) -> dict:
    """A results directory's identity, as :meth:`sim.engines.resolve.Resolved.identity` gives a scenario's."""
    post = man.get("posterior")
    if post is not None and not (isinstance(post, dict) and {"sha256", "draws", "runs_per_draw"} <= set(post)):
        raise InputError(f"{path}: written by an older escsim, whose manifest does not say which posterior draws its "
                         "runs took; run it again")
    return {"seed": man["seed"], "stream": list(man["stream"]), "runs": man["runs"], "engine": man["engine"],
            "posterior": post}


def _pairing_key(ident: dict) -> tuple:
    post = ident["posterior"]
    return (ident["seed"], tuple(ident["stream"]), ident["runs"], ident["engine"],
            None if post is None else (post["sha256"], post["draws"], post["runs_per_draw"]))


def _same_draws(settings: list[Setting]) -> None:
    """Refuse settings whose runs did not take the same random numbers and posterior draws."""
    first = settings[0]
    for s in settings[1:]:
        if _pairing_key(s.identity) != _pairing_key(first.identity):
            raise InputError(f"{s.source} and {first.source} did not run on the same random numbers and parameter "
                             f"draws ({_describe(s.identity)} against {_describe(first.identity)}): their runs do not "
                             "pair; give both the same posterior (or --posterior), --seed and --runs")


def _refuse_arguments(first: Path, ident: dict, runs, seed, engine, posterior) -> None:
    """With a results directory, its manifest decides; a differing argument is refused, not dropped."""
    if seed is not None and describe_seed(seed) != describe_seed(root_from(ident)):
        raise InputError(f"--seed {seed}: {first} ran on {_describe(ident)}; its runs pair only with runs of that "
                         "stream: drop --seed")
    if runs is not None and runs != ident["runs"]:
        raise InputError(f"--runs {runs}: {first} holds {ident['runs']:,} runs; drop --runs")
    if engine is not None and engine != ident["engine"]:
        raise InputError(f"--engine {engine}: {first} ran on the {ident['engine']} engine; drop --engine")
    if posterior is not None:
        raise InputError(f"--posterior {posterior}: {first}'s manifest decides the posterior its runs drew from; "
                         "drop --posterior")


def _describe(ident: dict) -> str:
    post = ident["posterior"]
    what = (f"{post['draws']} draws x {post['runs_per_draw']} runs of {post['file']} ({post['sha256'][:12]})"
            if post else "point values")
    return f"{ident['runs']:,} runs, {ident['engine']} engine, {_stream_text(root_from(ident))}, {what}"


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
    from tqdm.auto import tqdm

    from sim.analysis.experiment import load_experiment
    from sim.engines.parallel import map_in_order
    from sim.model.scenario import ScenarioFile
    from sim.analysis.sweep import run_point

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
    tasks = [(r.compiled, r.seed, r.parameters) for draw in at for r in draw]
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
    :func:`sim.analysis.sweep.run_point`, one bit per run and output); the baseline's are kept in memory and in
    ``paired_baseline.npz`` (so a resumed sweep has them), and every other point's row gets its
    discordant counts against them and the difference with its paired interval. A point that finishes
    before the baseline waits for it (the baseline is sent first, so few ever do).
    """

    def __init__(self, exp, out: Path):
        self.baseline = sweep_baseline(exp)
        self.outputs = tuple(exp.meta.outputs) if self.baseline is not None else ()
        self.runs = exp.runs
        self.runs_per_draw = exp.runs_per_draw
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
                                   for k, v in paired_columns(o, paired_estimate(f[o], self.flags[o], runs_per_draw=self.runs_per_draw)).items()}
        return [(i, s) for i, s, _ in out]

    def _save(self, bits: dict) -> None:
        from sim.io.results import atomic_write

        buf = io.BytesIO()
        np.savez_compressed(buf, runs=self.runs, baseline=self.baseline, **bits)
        atomic_write(self.path, buf.getvalue())


def pack_outcomes(tables: list[dict], top_rung: int, outputs) -> dict[str, np.ndarray]:
    """Per-run tables of consecutive run ranges -> each output's bit vector over all their runs."""
    joined = {k: np.concatenate([t[k] for t in tables]) for k in tables[0]}
    return pack_flags(outcome_flags(joined, top_rung, outputs))
