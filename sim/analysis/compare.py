"""Paired comparisons: scenario files (or `escsim run` directories) on the same random numbers and posterior draws.

Two settings run on one random stream, and resolved with the same posterior draws, give run k the
same numbers in both (docs/model.md, sections 8 and 13), so their runs pair: most end the same way,
and only the discordant ones carry the difference (:mod:`sim.analysis.pairing`). :func:`compare`
runs (or reads) every target and pairs each with the first (``escsim compare``); targets whose runs
did not take the same draws are refused. :mod:`sim.analysis.over` does it at every point of an
experiment (``escsim compare --over``).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sim.io.notes import top_rung_note
from sim.analysis.pairing import paired_estimate
from sim.core.errors import InputError
from sim.core.stats import estimate
from sim.engines.draws import Stream, describe_seed, root_from, stream_label
from sim.engines.resolve import _show, resolve
from sim.engines.simulate import simulate_resolved
from sim.model.compile import CompiledScenario, compile_scenario
from sim.model.outcomes import LABELS, OUTPUTS, outcome_flags
from sim.io.rundir import read_manifest
from sim.model.overrides import set_overrides
from sim.model.scenario import ScenarioFile, validate_scenario


def _build(path: Path, overrides: dict, origin=None):
    """A scenario file with overrides, validated (InputError names the file, the key and the --set)."""

    return ScenarioFile.read(path).build(overrides, origin=origin or (lambda key: f"--set {key}"),
                                         where=lambda key: f"--set {key}")


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

    def __str__(self) -> str:
        return self.table()

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
        if "p_nuclear_use" in self.outputs:
            lines.append(f"note: {top_rung_note(self.settings[0].compiled.rung_names[-1])}")
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
    man, man_path = read_manifest(path, "compare (besides scenario files; a sweep on common random numbers has "
                                        "each point's paired difference in points.csv)")
    scenario = validate_scenario(man["scenario"], str(man_path))
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

    targets = [Path(t) for t in targets]
    if len(targets) < 2:
        raise InputError("compare needs at least two scenarios or results directories (the first is the baseline)")
    settings = [_setting(label, path, over) for label, path, over
                in zip(_labels(len(targets)), targets, set_overrides(sets, len(targets)))]
    _resolve_files(settings, runs, seed, engine, posterior)
    _same_actors(settings)
    _same_draws(settings)
    ident = settings[0].identity
    n_runs, per_draw = ident["runs"], (ident["posterior"] or {}).get("runs_per_draw")
    for s in settings:
        if s.results:
            s.flags = _read_flags(s.source, n_runs, s.compiled.top_rung)
        else:
            s.flags = outcome_flags(simulate_resolved(s.resolved, workers=workers, progress=progress).per_run,
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


def _setting(label: str, path: Path, overrides: dict) -> Setting:
    """One target, checked: a results directory (its manifest read, no --set) or a scenario file."""
    if _is_results(path):
        if overrides:
            raise InputError(f"--set: {path} is a results directory, whose runs are done; --set changes "
                             "scenario files only (give N:KEY=VALUE for a scenario file's position)")
        man, compiled = _read_results(path)
        return Setting(label, path, compiled, {}, results=True, identity=_manifest_identity(man, path))
    if not path.exists():
        raise InputError(f"{path}: no such scenario file or results directory")
    return Setting(label, path, None, overrides)


def _resolve_files(settings: list[Setting], runs, seed, engine, posterior) -> None:
    """Resolve every scenario file's runs: with the first results directory's seed, runs, engine and
    posterior when there is one (differing arguments refused), else with the arguments'."""
    done = [s for s in settings if s.results]
    if done:
        ident = done[0].identity
        _refuse_arguments(done[0].source, ident, runs, seed, engine, posterior)
        kwargs = dict(seed=root_from(ident), runs=ident["runs"], engine=ident["engine"],
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
