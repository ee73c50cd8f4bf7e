"""The scenario schema: what a scenario file may say (pydantic), what its errors say, and the cross-references.

A scenario is validated in two passes: pydantic checks keys, types and ranges of each value; then
:func:`check_references` checks what pydantic cannot see alone (actors named in drills, alliances and
rules exist, rule parameters belong to the rule, dates fall inside the scenario's span). Any problem
is one line ``FILE: KEY: message; allowed`` (:func:`format_pydantic_error`).
"""

from __future__ import annotations

import datetime as dt
import re
import types
import typing
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from sim.core.errors import problem
from sim.model.rules import get_rule, registered_rules

Probability = Annotated[float, Field(ge=0.0, le=1.0)]
NonNegative = Annotated[float, Field(ge=0.0)]
Rung = Annotated[int, Field(ge=0)]
Date = Annotated[dt.date, Field(strict=False)]
Window = Annotated[tuple[Date, Date], Field(strict=False)]  # TOML arrays are lists

DEFAULT_RUNGS = (
    "normal relations",
    "hostile rhetoric",
    "show of force",
    "provocation",
    "limited clash",
    "major war",
    "nuclear use",
)


class StrictTable(BaseModel):
    """A table of an input file: unknown keys are errors, numbers are strict, values are frozen."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Meta(StrictTable):
    name: str
    description: str = ""
    start: Date = dt.date(2024, 1, 1)
    horizon: Annotated[int, Field(ge=1, le=100_000)] = 365
    posterior: str | None = None  # a posterior sample (escsim calibrate) each run draws its parameters from
    runs_per_draw: Annotated[int, Field(ge=2)] = 64  # runs that share one posterior draw


class Ladder(StrictTable):
    rungs: Annotated[list[str], Field(min_length=2)] = list(DEFAULT_RUNGS)
    crisis_rung: Rung = 4
    war_rung: Rung = 5
    lever_rung: Rung = 3
    accident: list[Probability] | None = None  # per rung; default 0 below rung 3


class ModelParams(StrictTable):
    gamma: NonNegative = 0.25
    engage: Probability = 0.5
    window: Annotated[int, Field(ge=1)] = 30


class Provocation(StrictTable):
    base_rate: NonNegative = 0.0
    kappa: NonNegative = 0.0
    regime_dispersion: NonNegative = 0.0  # variance of the run's Gamma(mean 1) multiplier on base_rate
    # a year's regime against the year before's (the correlation of their normal scores; docs/model.md):
    # it acts where last year's regime is known, in histories of years and in forecasts
    regime_persistence: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.0
    # the previous year's regime as a standard normal score (histories and forecasts set it); None: unknown
    regime_last_year: float | None = None
    rung: Rung | None = None  # default: rung 3 (provocation), or the top rung of a shorter ladder
    contact_rate: NonNegative = 0.0  # daily hazard of a contact incident (fire at a contact line) at zero threat
    # the most threat can multiply both hazards (exp(kappa th) saturates here); None: no cap, as MODEL.md
    spiral_cap: Annotated[float, Field(ge=1.0)] | None = None
    # drills aimed at this actor deter it: both hazards times exp(-drill_deterrence E), E the exercised
    # capability of its adversaries' latest drills, fading with e-folding time drill_deterrence_days
    drill_deterrence: NonNegative = 0.0
    drill_deterrence_days: Annotated[float, Field(gt=0.0)] = 7.0


class RuleSpec(BaseModel):
    # extra="allow": the rule's own parameters; checked against the registry in check_references.
    model_config = ConfigDict(extra="allow", strict=True, frozen=True)
    name: str = "graduated"

    def params(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class Actor(StrictTable):
    name: str | None = None
    capability: Annotated[float, Field(gt=0.0)]
    baseline: Rung = 0
    ceiling: Rung | None = None
    noise: NonNegative = 0.2
    decay: Probability = 0.95
    grievance: NonNegative = 0.0
    deterrence: NonNegative = 0.3
    bias: dict[str, float] = {}
    threatened_by: dict[str, Probability] = {}
    rule: RuleSpec = RuleSpec()
    provocation: Provocation = Provocation()
    in_kind: Probability = 0.0  # chance of answering an engaged adversary's contact incident the same day


class Alliance(StrictTable):
    members: Annotated[list[str], Field(min_length=2)]
    cohesion: Probability = 0.5
    enabled: bool = True


class Drill(StrictTable):
    participants: Annotated[list[str], Field(min_length=1)]
    windows: list[Window]
    rung: Rung = 2
    scale: NonNegative = 1.0
    ambiguity: NonNegative = 0.0
    transparency: Probability = 0.0
    approximate: bool = False
    enabled: bool = True
    repeat_every_days: Annotated[int, Field(ge=1)] | None = None  # repeat each window until the horizon


class Summit(StrictTable):
    participants: Annotated[list[str], Field(min_length=2, max_length=2)]
    windows: list[Window]
    backchannel: Probability = 0.5
    relief: Probability = 0.05
    enabled: bool = True


class Backchannel(StrictTable):
    between: Annotated[list[str], Field(min_length=2, max_length=2)]
    success: Probability = 0.1
    enabled: bool = True


class Hotline(StrictTable):
    between: Annotated[list[str], Field(min_length=2, max_length=2)]
    eta: Probability = 0.5
    enabled: bool = True


class Scenario(StrictTable):
    """A validated scenario, `extends` resolved. Build it with :func:`load_scenario`."""

    extends: str | None = None
    scenario: Meta
    ladder: Ladder = Ladder()
    model: ModelParams = ModelParams()
    actors: Annotated[dict[str, Actor], Field(min_length=1)]
    alliances: dict[str, Alliance] = {}
    drills: dict[str, Drill] = {}
    summits: dict[str, Summit] = {}
    backchannels: dict[str, Backchannel] = {}
    hotlines: dict[str, Hotline] = {}
    source: str = Field(default="<memory>", exclude=True)

    @property
    def K(self) -> int:
        return len(self.ladder.rungs) - 1

    @property
    def end(self) -> dt.date:
        """The last simulated day (inclusive)."""
        return self.scenario.start + dt.timedelta(days=self.scenario.horizon - 1)


# ---------------------------------------------------------------- pydantic error messages


def _loc_to_key(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def format_pydantic_error(err: dict, file: str, origins: dict, schema: type[BaseModel] | None = None) -> str:
    """One pydantic error as a problem line; ``schema`` is the root model (default: Scenario)."""
    loc = tuple(err["loc"])
    key = _loc_to_key(loc)
    kind = err["type"]
    got = err.get("input")
    if kind == "extra_forbidden":
        allowed = _allowed_keys(schema or Scenario, loc[:-1])
        msg = f"unknown key; allowed here: {', '.join(allowed)}"
    elif kind == "missing":
        msg = "required key is missing"
    else:
        msg = err["msg"]
        if kind.startswith("date") and isinstance(got, str):
            msg += " (write dates as TOML dates, e.g. 2024-03-04, or ISO strings)"
        if not isinstance(got, (dict, list)):
            msg += f"; got {got!r}"
    return problem(file, _where(key, origins, file), msg)


def _allowed_keys(model: type[BaseModel], loc: tuple) -> list[str]:
    """Field names of the schema table at ``loc`` (dict keys and list indices stepped over)."""
    ann: Any = model
    for part in loc:
        ann = _unwrap(ann)
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            field = ann.model_fields.get(part)
            if field is None:
                return []
            ann = field.annotation
        elif typing.get_origin(ann) is dict:
            ann = typing.get_args(ann)[1]
        elif typing.get_origin(ann) in (list, tuple):
            ann = typing.get_args(ann)[0]
    ann = _unwrap(ann)
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return [n for n, f in ann.model_fields.items() if not f.exclude]
    return []


def _unwrap(ann: Any) -> Any:
    """Strip Annotated[...] and Optional[...] down to the table type."""
    while True:
        origin = typing.get_origin(ann)
        if origin is Annotated:
            ann = typing.get_args(ann)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(ann) if a is not type(None)]
            ann = args[0]
        else:
            return ann

def _where(key: str, origins: dict, file: str) -> str:
    """The key path, with the file that set it when that came from a base scenario or an override."""
    parts = tuple(p for p in re.split(r"\.|\[\d+\]", key) if p)
    for n in range(len(parts), 0, -1):
        if parts[:n] in origins:
            src = origins[parts[:n]]
            return key if src == file else f"{key} (set in {src})"
    return key


# ---------------------------------------------------------------- cross-references


def check_references(sc: Scenario) -> list[tuple[str, str]]:
    """Problems pydantic cannot see field by field: (key path, message) pairs, in file order."""
    return [*_ladder_problems(sc), *(p for aid in sc.actors for p in _actor_problems(sc, aid)),
            *_table_problems(sc)]


def _unknown_actor(sc: Scenario, key: str, name: str) -> list[tuple[str, str]]:
    return [] if name in sc.actors else [(key, f"unknown actor {name!r}; actors in this scenario: "
                                               f"{', '.join(sc.actors)}")]


def _above_ladder(sc: Scenario, key: str, value: int) -> list[tuple[str, str]]:
    K = sc.K
    return [(key, f"rung {value} is above the ladder's top rung {K} (rungs 0..{K})")] if value > K else []


def _ladder_problems(sc: Scenario) -> list[tuple[str, str]]:
    lad, out = sc.ladder, []
    for key in ("crisis_rung", "war_rung", "lever_rung"):
        out += _above_ladder(sc, f"ladder.{key}", getattr(lad, key))
    if lad.war_rung < lad.crisis_rung:
        out.append(("ladder.war_rung", f"must be >= crisis_rung ({lad.crisis_rung}); got {lad.war_rung}"))
    if lad.accident is not None and len(lad.accident) != sc.K + 1:
        out.append(("ladder.accident", f"needs one probability per rung ({sc.K + 1}); got {len(lad.accident)}"))
    return out


def _actor_problems(sc: Scenario, aid: str) -> list[tuple[str, str]]:
    """An actor's rungs on the ladder, the actors it names, its rule and the rule's parameters."""
    a, pre = sc.actors[aid], f"actors.{aid}"
    out = _above_ladder(sc, f"{pre}.baseline", a.baseline)
    if a.ceiling is not None:
        out += _above_ladder(sc, f"{pre}.ceiling", a.ceiling)
        if a.ceiling < a.baseline:
            out.append((f"{pre}.ceiling", f"must be >= baseline ({a.baseline}); got {a.ceiling}"))
    if a.provocation.rung is not None:
        out += _above_ladder(sc, f"{pre}.provocation.rung", a.provocation.rung)
    for other in a.bias:
        out += _unknown_actor(sc, f"{pre}.bias.{other}", other)
    for other in a.threatened_by:
        out += _unknown_actor(sc, f"{pre}.threatened_by.{other}", other)
        if other == aid:
            out.append((f"{pre}.threatened_by.{other}", "an actor cannot threaten itself"))
    try:
        rule = get_rule(a.rule.name)
    except KeyError:
        return out + [(f"{pre}.rule.name", f"unknown rule {a.rule.name!r}; registered rules: "
                       f"{', '.join(registered_rules())}")]
    for pname, value in a.rule.params().items():
        if pname not in rule.defaults:
            allowed = ", ".join(["name", *rule.defaults]) or "name"
            out.append((f"{pre}.rule.{pname}", f"not a parameter of rule {rule.name!r}; allowed: {allowed}"))
        elif isinstance(value, bool) or not isinstance(value, (int, float)):
            out.append((f"{pre}.rule.{pname}", f"must be a number; got {value!r}"))
    return out


def _table_problems(sc: Scenario) -> list[tuple[str, str]]:
    """Alliances, drills, summits, backchannels and hotlines: the actors they name, once each, and their
    windows inside the scenario's span (an entry switched off never runs, so its dates may fall outside)."""
    span = f"the scenario runs {sc.scenario.start} to {sc.end} (start + horizon - 1)"
    out = []
    for kind, table, field in (("alliances", sc.alliances, "members"), ("drills", sc.drills, "participants"),
                               ("summits", sc.summits, "participants"), ("backchannels", sc.backchannels, "between"),
                               ("hotlines", sc.hotlines, "between")):
        for name, item in table.items():
            members = getattr(item, field)
            for i, m in enumerate(members):
                out += _unknown_actor(sc, f"{kind}.{name}.{field}[{i}]", m)
            if len(set(members)) != len(members):
                out.append((f"{kind}.{name}.{field}", f"names an actor twice: {members}"))
            for i, (a, b) in enumerate(getattr(item, "windows", [])):
                key = f"{kind}.{name}.windows[{i}]"
                if b < a:
                    out.append((key, f"ends ({b}) before it starts ({a}); write [start, end]"))
                elif item.enabled and (a < sc.scenario.start or b > sc.end):
                    out.append((key, f"{a}..{b} falls outside the scenario: {span}"))
    for name, d in sc.drills.items():
        out += _above_ladder(sc, f"drills.{name}.rung", d.rung)
    return out
