"""Scenario files: the TOML schema, loading with `extends` and overrides, and errors naming file and key.

A scenario is validated in two passes: pydantic checks keys, types and ranges of each value; then
:func:`_check_references` checks what pydantic cannot see alone (actors named in drills, alliances and
rules exist, rule parameters belong to the rule, dates fall inside the scenario's span). Any problem
raises :class:`sim.core.errors.InputError` whose lines read ``FILE: KEY: message; allowed``.
"""

from __future__ import annotations

import copy
import datetime as dt
import os
import re
import tomllib
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sim.core.errors import InputError, problem
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
    rung: Rung | None = None  # default: rung 3 (provocation), or the top rung of a shorter ladder
    contact_rate: NonNegative = 0.0  # daily hazard of a contact incident (fire at a contact line) at zero threat
    # the most threat can multiply both hazards (exp(kappa th) saturates here); None: no cap, as MODEL.md
    spiral_cap: Annotated[float, Field(ge=1.0)] | None = None


class RuleSpec(BaseModel):
    # extra="allow": the rule's own parameters; checked against the registry in _check_references.
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


# ---------------------------------------------------------------- loading

_COLLECTIONS = ("alliances", "drills", "summits", "backchannels", "hotlines")


def load_scenario(path: str | Path, overrides: dict[str, Any] | None = None) -> Scenario:
    """Read, merge (`extends`), override and validate a scenario file.

    ``overrides`` maps dotted key paths (``"alliances.trilateral.cohesion"``) to values; a path must
    name a key the scenario has or its schema allows. To build many variants of one file, read it
    once with :meth:`ScenarioFile.read` and call :meth:`ScenarioFile.build` for each.
    """
    return ScenarioFile.read(path).build(overrides)


@dataclass(frozen=True)
class ScenarioFile:
    """A scenario file read and merged once (`extends` resolved): the one path from TOML to a Scenario.

    ``raw`` is the merged mapping as read; ``origins`` maps each key path to the file that set it, so
    an error in an inherited key names the file to fix.
    """

    path: Path
    raw: dict
    origins: dict

    @classmethod
    def read(cls, path: str | Path) -> ScenarioFile:
        raw, origins = read_with_extends(Path(path), ())
        return cls(Path(path), raw, origins)

    def build(self, overrides: dict[str, Any] | None = None, origin: Callable[[str], str] | None = None,
              where: Callable[[str], str] | None = None) -> Scenario:
        """The scenario with ``overrides`` (dotted key path -> value) applied, validated.

        ``origin(key)`` says where an override came from in error messages (default ``override KEY``);
        ``where(key)`` names the key path in the message for an override that names no table of the
        scenario (default: the key path itself).
        """
        raw, origins = copy.deepcopy(self.raw), dict(self.origins)
        file = str(self.path)
        for key, value in (overrides or {}).items():
            try:
                set_key_path(raw, key, value, file)
            except InputError as exc:
                if where is None:
                    raise
                reason = exc.problems[0].split(": ", 2)[-1]
                raise InputError(f"{where(key)}: {key!r} is not a key of scenario {file}: {reason}") from None
            origins[tuple(key.split("."))] = origin(key) if origin else f"override {key}"
        sc = validate_scenario(raw, file, origins)
        if sc.scenario.posterior is not None:  # a path relative to the file that names it
            setter = origins.get(("scenario", "posterior"), file)
            base = Path(setter).parent if Path(setter).suffix == ".toml" else Path(".")
            path = Path(os.path.normpath(base / sc.scenario.posterior))
            sc = sc.model_copy(update={"scenario": sc.scenario.model_copy(update={"posterior": str(path)})})
        return sc


def read_input_file(path: str | Path, schema: type[BaseModel]) -> BaseModel:
    """Read a TOML input file (experiment, calibration, ...) and validate it against ``schema``;
    problems are one line each, naming the file and key (InputError)."""
    try:
        return schema.model_validate(read_toml(Path(path), None))
    except ValidationError as exc:
        raise InputError([format_pydantic_error(e, str(path), {}, schema) for e in exc.errors()]) from None


def validate_scenario(raw: dict, file: str = "<memory>", origins: dict | None = None) -> Scenario:
    """Validate a merged raw mapping (as read from TOML) into a :class:`Scenario`."""
    origins = origins or {}
    try:
        sc = Scenario.model_validate(raw)
    except ValidationError as exc:
        raise InputError([format_pydantic_error(e, file, origins) for e in exc.errors()]) from None
    sc = sc.model_copy(update={"source": file})
    problems = _check_references(sc)
    if problems:
        raise InputError([problem(file, _where(k, origins, file), m) for k, m in problems])
    return sc


def read_toml(path: Path, referrer: str | None) -> dict:
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        where = f" (named by 'extends' in {referrer})" if referrer else ""
        raise InputError(f"{path}: file not found{where}") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory, not a TOML file") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path}: not valid TOML: {exc}") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a UTF-8 text file") from None


def read_with_extends(path: Path, chain: tuple[Path, ...]) -> tuple[dict, dict]:
    """Raw merged mapping and, for each key path, the file that set it last."""
    resolved = path.resolve()
    if resolved in chain:
        cycle = " -> ".join(str(p) for p in (*chain, resolved))
        raise InputError(problem(str(chain[-1]), "extends", f"cycle: {cycle}; a scenario may not extend itself"))
    raw = read_toml(path, str(chain[-1]) if chain else None)
    origins = {k: str(path) for k in _leaf_paths(raw)}
    parent = raw.get("extends")
    if parent is None:
        return raw, origins
    if not isinstance(parent, str):
        raise InputError(problem(str(path), "extends", f"must be a file path string, got {parent!r}"))
    base, base_origins = read_with_extends(path.parent / parent, (*chain, resolved))
    base.pop("extends", None)
    merged = _deep_merge(base, raw)
    base_origins.update(origins)
    return merged, base_origins


def _deep_merge(base: dict, over: dict, path: tuple[str, ...] = ()) -> dict:
    """Tables merge key by key; any other value (arrays included) replaces the base's.

    One exception: an actor's ``rule`` table naming another rule replaces the base's rule whole, so
    the old rule's parameters do not linger. No other table is ever replaced whole (a renamed actor
    or scenario keeps the base's other keys).
    """
    out = dict(base)
    for k, v in over.items():
        old = out.get(k)
        here = (*path, k)
        mergeable = isinstance(v, dict) and isinstance(old, dict) and not _switches_rule(here, old, v)
        out[k] = _deep_merge(old, v, here) if mergeable else v
    return out


def _switches_rule(path: tuple[str, ...], old: dict, new: dict) -> bool:
    """Whether ``new`` at ``path`` is an actor's rule table naming a different rule than ``old``."""
    if len(path) != 3 or path[0] != "actors" or path[2] != "rule":
        return False
    default = RuleSpec.model_fields["name"].default
    return new.get("name", old.get("name", default)) != old.get("name", default)


def _leaf_paths(d: dict, prefix: tuple = ()) -> list[tuple]:
    out = []
    for k, v in d.items():
        out.extend(_leaf_paths(v, (*prefix, k)) if isinstance(v, dict) and v else [(*prefix, k)])
    return out


def set_key_path(raw: dict, dotted: str, value: Any, file: str) -> None:
    """Set a dotted key path in the raw mapping; intermediate tables must exist (no typos create keys).

    The scenario's top-level collections (``alliances``, ``drills``, ...) exist even where the file
    leaves them out, so an override may add an entry to them.
    """
    parts = dotted.split(".")
    if len(parts) > 1 and parts[0] in _COLLECTIONS:
        raw.setdefault(parts[0], {})
    node = raw
    for i, part in enumerate(parts[:-1]):
        nxt = node.get(part) if isinstance(node, dict) else None
        if not isinstance(nxt, dict):
            have = sorted(node) if isinstance(node, dict) else []
            raise InputError(
                problem(file, dotted, f"no table {'.'.join(parts[: i + 1])!r} in the scenario; "
                        f"tables there: {', '.join(have) or 'none'}")
            )
        node = nxt
    node[parts[-1]] = value  # unknown leaf keys are caught by the schema (extra='forbid')


def _where(key: str, origins: dict, file: str) -> str:
    """The key path, with the file that set it when that came from a base scenario or an override."""
    parts = tuple(p for p in re.split(r"\.|\[\d+\]", key) if p)
    for n in range(len(parts), 0, -1):
        if parts[:n] in origins:
            src = origins[parts[:n]]
            return key if src == file else f"{key} (set in {src})"
    return key


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


# ---------------------------------------------------------------- cross-references


def _check_references(sc: Scenario) -> list[tuple[str, str]]:
    """Problems pydantic cannot see field by field: (key path, message) pairs."""
    out: list[tuple[str, str]] = []
    actors = list(sc.actors)
    K = sc.K
    known = f"actors in this scenario: {', '.join(actors)}"

    def need_actor(key: str, name: str) -> None:
        if name not in sc.actors:
            out.append((key, f"unknown actor {name!r}; {known}"))

    def need_rung(key: str, value: int) -> None:
        if value > K:
            out.append((key, f"rung {value} is above the ladder's top rung {K} (rungs 0..{K})"))

    lad = sc.ladder
    for key in ("crisis_rung", "war_rung", "lever_rung"):
        need_rung(f"ladder.{key}", getattr(lad, key))
    if lad.war_rung < lad.crisis_rung:
        out.append(("ladder.war_rung", f"must be >= crisis_rung ({lad.crisis_rung}); got {lad.war_rung}"))
    if lad.accident is not None and len(lad.accident) != K + 1:
        out.append(("ladder.accident", f"needs one probability per rung ({K + 1}); got {len(lad.accident)}"))

    span = f"the scenario runs {sc.scenario.start} to {sc.end} (start + horizon - 1)"
    for aid, a in sc.actors.items():
        pre = f"actors.{aid}"
        need_rung(f"{pre}.baseline", a.baseline)
        if a.ceiling is not None:
            need_rung(f"{pre}.ceiling", a.ceiling)
            if a.ceiling < a.baseline:
                out.append((f"{pre}.ceiling", f"must be >= baseline ({a.baseline}); got {a.ceiling}"))
        if a.provocation.rung is not None:
            need_rung(f"{pre}.provocation.rung", a.provocation.rung)
        for other in a.bias:
            need_actor(f"{pre}.bias.{other}", other)
        for other in a.threatened_by:
            need_actor(f"{pre}.threatened_by.{other}", other)
            if other == aid:
                out.append((f"{pre}.threatened_by.{other}", "an actor cannot threaten itself"))
        try:
            rule = get_rule(a.rule.name)
        except KeyError:
            out.append((f"{pre}.rule.name", f"unknown rule {a.rule.name!r}; registered rules: "
                        f"{', '.join(registered_rules())}"))
            continue
        for pname, value in a.rule.params().items():
            if pname not in rule.defaults:
                allowed = ", ".join(["name", *rule.defaults]) or "name"
                out.append((f"{pre}.rule.{pname}", f"not a parameter of rule {rule.name!r}; allowed: {allowed}"))
            elif isinstance(value, bool) or not isinstance(value, (int, float)):
                out.append((f"{pre}.rule.{pname}", f"must be a number; got {value!r}"))

    for kind, table, field in (("alliances", sc.alliances, "members"), ("drills", sc.drills, "participants"),
                               ("summits", sc.summits, "participants"), ("backchannels", sc.backchannels, "between"),
                               ("hotlines", sc.hotlines, "between")):
        for name, item in table.items():
            members = getattr(item, field)
            for i, m in enumerate(members):
                need_actor(f"{kind}.{name}.{field}[{i}]", m)
            if len(set(members)) != len(members):
                out.append((f"{kind}.{name}.{field}", f"names an actor twice: {members}"))
            for i, (a, b) in enumerate(getattr(item, "windows", [])):
                key = f"{kind}.{name}.windows[{i}]"
                if b < a:
                    out.append((key, f"ends ({b}) before it starts ({a}); write [start, end]"))
                elif item.enabled and (a < sc.scenario.start or b > sc.end):  # a switched-off entry never runs
                    out.append((key, f"{a}..{b} falls outside the scenario: {span}"))
    for name, d in sc.drills.items():
        need_rung(f"drills.{name}.rung", d.rung)
    return out
