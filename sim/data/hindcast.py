"""Hindcast of 2011-2021: one scenario per year from a template and that year's exercises, held against the record.

A hindcast file (``calibration/hindcast.toml``) names a template scenario, the years, the three data
files of :mod:`sim.data.record`, how the windows file's participant codes map to the template's actor ids,
and the drill parameters (rung, scale, ambiguity, transparency) of each exercise kind.
:func:`load_hindcast` checks the file with pydantic (unknown keys, types and ranges give the project's
one-line errors), reads the record, and builds and validates every year's scenario, so a bad file fails
before anything runs. :func:`simulate_years` runs every year, one history a run across the years, and
:func:`hindcast_report` holds them against the record (:mod:`sim.data.predictive`).

Decisions:

- **The year scenario**: the template as written (actors, alliances, ladder, rules, the calibrated
  provocation rate; summits and other dated tables are kept too, and refused as outside the year
  unless they fall inside it), with ``start`` = 1 January of the year, ``horizon`` = the days of the
  year, and its drills replaced by one drill per dated row of the windows file for that year (rows of
  kind ``none``, exercises not held, make none). A drill's window is its row's, clipped to the year;
  its participants are the row's codes mapped through ``[participants]``; ``approximate = true`` where
  ``verified`` is not "yes"; rung, scale, ambiguity and transparency are those of its kind under
  ``[kinds]``. No date is written by hand: change the data file and the scenarios follow.
- **Drill names**: the exercise's name in lower case with every run of other characters turned into
  ``_`` (``Key Resolve`` -> ``key_resolve``); a second row of the same name in a year gets ``_2``.
- **Kinds**: each kind the years use (CPX, FTX, air; CPX+FTX and trilateral in later years) must have
  a table under ``[kinds]``; the shipped values are the template's drills (see the file's comments).
- **Errors** in a year scenario are reported against the hindcast file, with the data row or settings
  key that set the value (``drills.key_resolve.rung (set in ... kinds.CPX, ... line 2)``).
- **Predictive statistics and the comparison** with the record: :mod:`sim.data.predictive`.
"""

from __future__ import annotations

import calendar
import copy
import datetime as dt
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import numpy as np
from pydantic import Field

from sim.core.errors import InputError, problem
from sim.core.files import versions
from sim.engines.draws import BLOCK_SIZE, Stream, as_root, block_regime_uniforms, child
from sim.engines.ensemble import run_ensembles
from sim.engines.resolve import resolve
from sim.engines.run_values import with_run_values
from sim.model.compile import compile_scenario
from sim.model.regime import regime_score
from sim.data.record import NOT_HELD, Exercise, Record, read_record
from sim.model.scenario import ScenarioFile, read_input_file, validate_scenario
from sim.model.schema import Scenario, StrictTable
from sim.data.predictive import (STATISTICS, Check, YearRuns, compare_to_record, period_statistics, predict,
                                 lag1_autocorrelation, record_steps, year_patterns)

class DrillKind(StrictTable):
    """Drill parameters of one exercise kind (the meanings of the scenario keys ``drills.NAME.*``)."""

    rung: Annotated[int, Field(ge=0)]
    scale: Annotated[float, Field(ge=0.0)]
    ambiguity: Annotated[float, Field(ge=0.0)]
    transparency: Annotated[float, Field(ge=0.0, le=1.0)]


class HindcastMeta(StrictTable):
    name: str
    description: str = ""
    scenario: str                 # the template, relative to the hindcast file
    actor: str                    # whose provocation days the record counts
    years: Annotated[tuple[int, int], Field(strict=False)]   # first and last year, inclusive
    provocations: str             # data files, relative to the hindcast file (see sim.data.record)
    exercises: str
    clashes: str


class HindcastFile(StrictTable):
    hindcast: HindcastMeta
    participants: Annotated[dict[str, str], Field(min_length=1)]   # windows-file code -> actor id
    kinds: Annotated[dict[str, DrillKind], Field(min_length=1)]    # windows-file kind -> drill parameters


@dataclass(frozen=True)
class Hindcast:
    """A loaded hindcast: its settings, the observed record, and one validated scenario per year."""

    path: Path
    template: Path
    settings: HindcastFile = field(repr=False)
    record: Record = field(repr=False)
    scenarios: Mapping[int, Scenario] = field(repr=False)   # year -> its validated scenario, in year order

    @property
    def name(self) -> str:
        return self.settings.hindcast.name

    @property
    def actor(self) -> str:
        return self.settings.hindcast.actor

    @property
    def years(self) -> tuple[int, ...]:
        return tuple(self.scenarios)

    def scenario_for(self, year: int) -> Scenario:
        """The validated scenario of ``year`` (1 January to 31 December, that year's exercises as drills)."""
        try:
            return self.scenarios[year]
        except KeyError:
            raise ValueError(f"no year {year} in hindcast {self.name!r}; "
                             f"years {self.years[0]}-{self.years[-1]}") from None


def load_hindcast(path: str | Path, template: str | Path | None = None) -> Hindcast:
    """Read and check a hindcast file, read the record, and build and validate every year's scenario.

    ``template`` replaces the file's ``hindcast.scenario`` (a path as given, not relative to the file).
    Raises :class:`sim.core.errors.InputError` (one line per problem) on a bad file, data file or scenario.
    """
    path = Path(path)
    file = str(path)
    settings = read_input_file(path, HindcastFile)
    meta = settings.hindcast

    def beside(rel: str) -> Path:
        return Path(os.path.normpath(path.parent / rel))

    for key in ("scenario", "provocations", "exercises", "clashes"):
        if not (key == "scenario" and template is not None) and not beside(getattr(meta, key)).is_file():
            raise InputError(problem(file, f"hindcast.{key}", f"file {beside(getattr(meta, key))} not found"))
    template_path = Path(template) if template is not None else beside(meta.scenario)
    record = read_record(beside(meta.provocations), beside(meta.exercises), beside(meta.clashes))

    first, last = meta.years
    if not (record.years[0] <= first <= last <= record.years[-1]):
        raise InputError(problem(file, "hindcast.years", f"{[first, last]}: needs first <= last within the "
                                 f"record's years {record.years[0]}-{record.years[-1]}"))
    source = ScenarioFile.read(template_path)
    raw, origins = source.raw, source.origins
    base = source.build()
    if meta.actor not in base.actors:
        raise InputError(problem(file, "hindcast.actor", f"unknown actor {meta.actor!r}; actors in "
                                 f"{template_path}: {', '.join(base.actors)}"))
    unknown = [code for code, actor in settings.participants.items() if actor not in base.actors]
    if unknown:  # checked for every code, not only those the years use
        raise InputError([problem(file, f"participants.{code}", f"unknown actor {settings.participants[code]!r}; "
                                  f"actors in {template_path}: {', '.join(base.actors)}") for code in unknown])
    scenarios = {}
    for year in range(first, last + 1):
        year_raw, year_origins = _year_raw(raw, origins, year, record, settings, file)
        scenarios[year] = validate_scenario(year_raw, file, year_origins)
    return Hindcast(path=path, template=template_path, settings=settings, record=record, scenarios=scenarios)


def _year_raw(raw: dict, origins: dict, year: int, record: Record, settings: HindcastFile,
              file: str) -> tuple[dict, dict]:
    """The template's raw mapping turned into ``year``'s, and the origins of its keys for messages."""
    out = copy.deepcopy(raw)
    where = {k: v for k, v in origins.items() if k[0] != "drills"}
    meta = out.setdefault("scenario", {})
    template_name = meta.get("name", "hindcast")
    meta.update(name=f"{template_name}_{year}", start=dt.date(year, 1, 1),
                horizon=366 if calendar.isleap(year) else 365,
                description=f"{template_name} in {year}, with that year's exercises from "
                            f"{Path(record.files['exercises']).name}")
    for key in ("name", "start", "horizon", "description"):
        where[("scenario", key)] = f"{file} (year {year})"

    drills: dict[str, dict] = {}
    problems = []
    exercises_file = record.files["exercises"]
    for e in (e for e in record.exercises if e.year == year and e.kind != NOT_HELD):
        window = e.window_in(year)
        kind = settings.kinds.get(e.kind)
        if kind is None:
            problems.append(problem(exercises_file, f"line {e.line}, kind", f"{e.kind!r} has no drill parameters; "
                                    f"kinds in {file} [kinds]: {', '.join(settings.kinds)}"))
        unknown = [p for p in e.participants if p not in settings.participants]
        if unknown:
            problems.append(problem(exercises_file, f"line {e.line}, participants",
                                    f"{', '.join(map(repr, unknown))} not mapped to an actor; codes in {file} "
                                    f"[participants]: {', '.join(settings.participants)}"))
        if kind is None or unknown or window is None:
            continue
        name = _drill_name(e, drills)
        drills[name] = {
            "participants": list(dict.fromkeys(settings.participants[p] for p in e.participants)),
            "windows": [list(window)],
            "approximate": e.verified != "yes",
            **kind.model_dump(),
        }
        row = f"{exercises_file} line {e.line}"
        where[("drills", name)] = row
        where[("drills", name, "participants")] = f"{file} [participants], {row}"
        for key in DrillKind.model_fields:
            where[("drills", name, key)] = f"{file} kinds.{e.kind}, {row}"
    if problems:
        raise InputError(problems)
    out["drills"] = drills
    return out, where


def _drill_name(e: Exercise, taken: Mapping[str, object]) -> str:
    base = re.sub(r"[^a-z0-9]+", "_", e.name.lower()).strip("_") or "exercise"
    name, n = base, 1
    while name in taken:
        n += 1
        name = f"{base}_{n}"
    return name


# ---------------------------------------------------------------- simulating the years


def simulate_years(hc: Hindcast, runs: int, seed=0, workers: int | None = None,
                   progress: bool = False, run_values: Mapping[str, np.ndarray] | None = None,
                   compiled: Mapping[int, object] | None = None) -> dict[int, YearRuns]:
    """Run ``runs`` runs of every year's scenario; year Y draws from the stream ``root + (YEAR, Y)``.

    ``root`` is ``seed`` when it is a root (a calibration batch's), else the seed's HINDCAST root.
    Run k of every year is read as one simulated history of the whole period. The years' streams are
    independent; what links them is the provocation regime when it persists
    (``provocation.regime_persistence`` > 0): year Y's run k takes year Y-1's regime score as its
    ``regime_last_year`` (:func:`linked_regimes`). ``run_values`` (:mod:`sim.engines.run_values`) gives
    history k its own values in every year. The years share one pool of workers
    (:func:`sim.engines.ensemble.run_ensembles`), so small ensembles (a calibration batch: one block a
    year) keep every core busy. ``compiled`` (year -> CompiledScenario) saves compiling the years again.
    """

    years = compiled or {year: compile_scenario(scenario) for year, scenario in hc.scenarios.items()}
    root = as_root(seed, Stream.HINDCAST)
    roots = {year: child(root, Stream.YEAR, year) for year in years}
    values, scores = linked_regimes(years, roots, runs, run_values)
    jobs = [(sc, runs, roots[year], values[year]) for year, sc in years.items()]
    actor = {j: sc.actor_ids.index(hc.actor) for j, sc in enumerate(years.values())}
    out = {}
    for (year, sc), (_, table, _) in zip(years.items(), run_ensembles(jobs, workers=workers, per_run=True,
                                                                       progress=progress, days_of=actor)):
        i = sc.actor_ids.index(hc.actor)
        exercise = (sc.drill_rung >= 0).any(axis=1)
        out[year] = YearRuns(table[f"provocations_{i}"], table[f"exercise_provocations_{i}"],
                             table["crisis_onsets"], int(exercise.sum()), scores[year][:, i],
                             *year_patterns(table["provocation_steps"], sc.start, exercise))
    return out


def linked_regimes(years: Mapping[int, object], roots: Mapping[int, object], runs: int,
                   run_values: Mapping[str, np.ndarray] | None):
    """Each year's run values with the previous year's regime scores, and every year's scores.

    years: year -> CompiledScenario, in calendar order; roots: year -> the year's ensemble root.
    Returns (year -> run values, year -> regime scores (runs, N)). Run k's regime uniforms are the
    ones its ensemble draws (:func:`sim.engines.draws.block_regime_uniforms`), so the scores are the
    regimes the runs have. Where no actor persists (every ``regime_persistence`` 0) the run values
    are returned unchanged and the years are independent, bit for bit as without persistence; the
    first year takes the scenario's own ``regime_last_year`` (unknown by default)."""
    values, scores, last = {}, {}, None
    for year, sc in years.items():
        N = sc.n_actors
        blocks = -(-runs // BLOCK_SIZE)
        u = np.concatenate([block_regime_uniforms(roots[year], b, N) for b in range(blocks)])[:runs]
        here = with_run_values(sc, run_values or {})
        rho = np.broadcast_to(here.regime_persistence, (runs, N))
        if last is None:
            last = np.broadcast_to(here.regime_last_year, (runs, N))
        linked = (rho > 0).any(axis=0)
        values[year] = dict(run_values or {})
        for i in np.flatnonzero(linked & (year != next(iter(years)))):
            values[year][f"actors.{sc.actor_ids[i]}.provocation.regime_last_year"] = np.array(last[:, i])
        scores[year] = regime_score(u, rho, last)
        last = scores[year]
    return {y: (v or None) for y, v in values.items()}, scores


# what a history's statistics are made of, per year (Y, R) or (Y,): see history_statistics
YEAR_FIELDS = ("provocations", "inside", "onsets", "largest_month", "active_months", "answered")


def year_arrays(years) -> dict[str, np.ndarray]:
    """Simulated years (year -> :class:`sim.data.predictive.YearRuns`, in order) as the (Y, R) arrays
    of YEAR_FIELDS and the (Y,) window_days and starts that :func:`history_statistics` takes."""
    rs = list(years.values())
    out = {name: np.array([getattr(r, attr) for r in rs]) for name, attr in zip(YEAR_FIELDS, (
        "provocation_days", "provocation_days_in_windows", "crisis_onsets", "largest_month", "active_months",
        "windows_answered"))}
    out["window_days"] = np.array([r.window_days for r in rs])
    out["starts"] = np.array([r.window_starts for r in rs])
    return out


def record_arrays(hc: Hindcast, through: int | None = None) -> dict[str, np.ndarray]:
    """The record's years (up to ``through``) as :func:`year_arrays` gives simulated ones (one history),
    with ``year_days``; the patterns within each year use that year's exercise days in the hindcast."""
    rows = {}
    for y in hc.years:
        if through is not None and y > through:
            break
        r, sc = hc.record[y], compile_scenario(hc.scenarios[y])
        exercise = (sc.drill_rung >= 0).any(axis=1)
        big, active, answered, starts = year_patterns(record_steps(r.provocation_dates, sc.start, sc.horizon),
                                                      sc.start, exercise)
        rows[y] = (r.provocation_days, r.provocation_days_in_windows, r.core_clashes, big[0], active[0], answered[0],
                   r.window_days, starts, r.days)
    cols = list(zip(*rows.values()))
    out = {name: np.array(cols[k])[:, None] for k, name in enumerate(YEAR_FIELDS)}
    out["window_days"], out["starts"], out["year_days"] = (np.array(c) for c in cols[6:])
    return out


def record_patterns(hc: Hindcast) -> dict[str, float]:
    """The record's values of :data:`sim.data.predictive.PATTERN_STATISTICS` over the hindcast's years."""
    r = record_arrays(hc)
    return {"lag1_autocorrelation": float(lag1_autocorrelation(r["provocations"])[0]),
            "largest_month": int(r["largest_month"].max()), "active_months": int(r["active_months"].sum()),
            "windows_answered": float(r["answered"].sum() / max(int(r["starts"].sum()), 1))}


def resolve_histories(hc: Hindcast, runs: int, seed=0, posterior="scenario"):
    """What each simulated history takes (:func:`sim.engines.resolve.resolve`, one draw per history): the
    template's posterior (or ``posterior``: a file, a :class:`sim.engines.posterior.Posterior`, or None /
    ``"none"`` for point values), drawn on the stream ``root + (POSTERIOR,)`` of the hindcast's root
    (``seed`` when it is a root, else the seed's HINDCAST root). History k takes run k's values in
    every year, so a history is one world, as the record is."""

    return resolve(ScenarioFile.read(hc.template), posterior=posterior, seed=as_root(seed, Stream.HINDCAST),
                   runs=runs, runs_per_draw=1)


def hindcast_report(hc: Hindcast, years: Mapping[int, YearRuns], *, runs: int, seed: int,
                    command: list[str] | None = None, band: float = 0.9, parameters: str | None = None) -> dict:
    """The comparison, the period's checks, and their JSON and CSV forms for a results directory."""
    import csv
    import io


    comparison = compare_to_record(hc.record, predict(years, band))
    period = period_statistics(hc.record, years, band, record_patterns(hc))

    def check(c: Check) -> dict:
        return {"observed": c.observed, "median": c.median, "low": c.low, "high": c.high, "inside": c.inside}

    text = io.StringIO()
    w = csv.writer(text, lineterminator="\n")
    w.writerow(["year", "statistic", "observed", "median", "low", "high", "inside"])
    for r in comparison:
        for key, c in r.checks.items():
            w.writerow([r.year, key, c.observed, c.median, c.low, c.high, int(c.inside)])
    doc = {
        "hindcast": hc.name, "file": str(hc.path), "template": str(hc.template), "runs_per_year": runs,
        "seed": seed, "stream": [int(Stream.HINDCAST), int(Stream.YEAR), "YEAR"], "band": band,
        "parameters": parameters or "the template's point values",
        "years": {str(r.year): {k: check(c) for k, c in r.checks.items()} | {"p_clash": r.p_clash}
                  for r in comparison},
        "inside": {k: sum(r.checks[k].inside for r in comparison) for k in STATISTICS},
        "period": {k: check(c) for k, c in period.items()},
        "command": command, "versions": versions(),
    }
    return {"comparison": comparison, "period": period, "json": doc, "csv": text.getvalue()}
