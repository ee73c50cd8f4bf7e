"""Scenario files: TOML loading, `extends`, overrides, and validation against the schema, with errors naming file and key.

:class:`ScenarioFile` is the one path from a TOML file to a validated :class:`~sim.model.schema.Scenario`:
read and merged once (``extends`` resolved, each key's origin kept for messages), then built with
overrides (dotted key paths) and validated (:func:`validate_scenario`).
"""

from __future__ import annotations

import copy
import os
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from sim.core.errors import InputError, problem
from sim.model.schema import RuleSpec, Scenario, _where, check_references, format_pydantic_error

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
    problems = check_references(sc)
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




