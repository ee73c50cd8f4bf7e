"""Per-run parameters: one ensemble whose runs each carry their own values of chosen scenario parameters.

A calibration step, a Latin hypercube or a posterior draws many parameter vectors; rather than one
ensemble per vector, one ensemble gives run k the k-th vector. The compiled arrays of the varied
parameters gain a run axis: per-actor arrays (N,) become (R, N), drill arrays (T, N) become (T, R, N),
rule parameters become (R,) arrays; the kernel indexes every one of them the same way either way, so
run k computes exactly what a scenario compiled with the k-th values computes, operation for
operation (``tests/engines/test_run_values.py`` replays runs in the Mesa engine to show it).

Keys are dotted key paths of the scenario, as overrides and sweeps use them. Supported:

- ``actors.ID.provocation.base_rate``, ``.kappa``, ``.spiral_cap``, ``.regime_dispersion``,
  ``.regime_persistence``, ``.regime_last_year``, ``.contact_rate``, ``.drill_deterrence``,
  ``.drill_deterrence_days`` (drills that deter: docs/model.md section 3)
- ``actors.ID.noise``, ``actors.ID.in_kind``, ``actors.ID.decay``, ``actors.ID.grievance``
- ``actors.ID.deterrence`` (lambda: the factor D is recomputed from it)
- ``actors.ID.rule.PARAM`` (a parameter of the actor's rule)
- ``drills.*.scale_factor`` and ``drills.*.ambiguity_factor``: multiply every drill's scale and
  ambiguity (not scenario keys: factors keep the scenario's drills in proportion, so a posterior
  fitted on the record's exercises carries over to a scenario with larger drills)

``*`` in place of an actor id sets every actor's value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import numpy as np

from sim.model.compile import CompiledScenario, deterrence
from sim.core.errors import InputError

ACTOR_FIELDS = {
    "provocation.base_rate": "base_rate",
    "provocation.kappa": "kappa",
    "provocation.spiral_cap": "spiral_cap",
    "provocation.regime_dispersion": "regime_dispersion",
    "provocation.regime_persistence": "regime_persistence",
    "provocation.regime_last_year": "regime_last_year",
    "provocation.contact_rate": "contact_rate",
    "provocation.drill_deterrence": "drill_deterrence",
    "provocation.drill_deterrence_days": "drill_deterrence_days",
    "noise": "noise",
    "in_kind": "in_kind",
    "decay": "decay",
    "grievance": "grievance",
    "deterrence": "deterrence",
}
DRILL_KEYS = ("drills.*.scale_factor", "drills.*.ambiguity_factor")
PER_ACTOR = tuple(dict.fromkeys(ACTOR_FIELDS.values()))  # compiled (N,) fields that may become (R, N)
PER_DRILL_DAY = ("drill_scale", "drill_ambiguity")  # compiled (T, N) fields that may become (T, R, N)


def check_keys(sc: CompiledScenario, keys, file: str = "<parameters>") -> None:
    """Refuse keys that are not per-run parameters of ``sc``, one line each naming what is allowed."""
    problems = []
    for key in keys:
        try:
            _targets(sc, key)
        except KeyError as exc:
            problems.append(f"{file}: {key}: {exc.args[0]}")
    if problems:
        raise InputError(problems)


def _targets(sc: CompiledScenario, key: str) -> list[tuple[str, int | None, str | None]]:
    """(compiled field, actor index or None, rule parameter or None) that ``key`` sets."""
    if key in DRILL_KEYS:
        return [(key.rsplit(".", 1)[1].removesuffix("_factor"), None, None)]
    parts = key.split(".")
    allowed = (f"per-run parameters are actors.ID.{{{', '.join(ACTOR_FIELDS)}}}, actors.ID.rule.PARAM and "
               f"{', '.join(DRILL_KEYS)} (ID an actor of {sc.name!r} or *)")
    if len(parts) < 3 or parts[0] != "actors":
        raise KeyError(allowed)
    ids = list(sc.actor_ids) if parts[1] == "*" else [parts[1]]
    if any(a not in sc.actor_ids for a in ids):
        raise KeyError(f"unknown actor {parts[1]!r}; actors: {', '.join(sc.actor_ids)}")
    rest = ".".join(parts[2:])
    out = []
    for a in ids:
        i = sc.actor_ids.index(a)
        if parts[2] == "rule" and len(parts) == 4:
            if parts[3] not in sc.rule_params[i]:
                raise KeyError(f"rule {sc.rule_names[i]!r} of {a} has no parameter {parts[3]!r}; it has "
                               f"{', '.join(sc.rule_params[i]) or 'none'}")
            out.append(("rule", i, parts[3]))
        elif rest in ACTOR_FIELDS:
            out.append((ACTOR_FIELDS[rest], i, None))
        else:
            raise KeyError(allowed)
    return out


def with_run_values(sc: CompiledScenario, values: Mapping[str, np.ndarray]) -> CompiledScenario:
    """``sc`` with run k taking ``values[key][k]`` for every key (see the module docstring); all arrays
    have the same length R.

    Unvaried parameters keep their shapes; the perfect-perception twin of the result
    (:meth:`CompiledScenario.perfect_perception`) keeps the per-run values of everything but perception.
    """
    if not values:
        return sc
    lengths = {len(np.atleast_1d(v)) for v in values.values()}
    if len(lengths) != 1:
        raise ValueError(f"per-run parameters need one value per run each; got lengths {sorted(lengths)}")
    R = lengths.pop()
    changes: dict[str, np.ndarray] = {}
    rule_params = [dict(p) for p in sc.rule_params]
    for key, v in values.items():
        v = np.asarray(v, dtype=float).reshape(R)
        for field, i, param in _targets(sc, key):
            if field == "rule":
                rule_params[i][param] = v
            elif field in ("scale", "ambiguity"):
                changes[f"drill_{field}"] = v
            elif field == "deterrence":  # lambda in, the factor D out, as compile_scenario computes it
                arr = changes.setdefault(field, np.tile(sc.deterrence, (R, 1)))
                arr[:, i] = deterrence(v, sc.opposing_log_ratio[i])
            else:
                arr = changes.setdefault(field, np.tile(getattr(sc, field), (R, 1)))
                arr[:, i] = v
    out = {k: a for k, a in changes.items() if k not in PER_DRILL_DAY}  # the drills' factors follow
    drilling = (sc.drill_rung >= 0)[:, None, :]  # (T, 1, N)
    if "drill_scale" in changes:
        out["drill_scale"] = np.where(drilling, sc.drill_scale[:, None, :] * changes["drill_scale"][None, :, None], 1.0)
    if "drill_ambiguity" in changes:
        out["drill_ambiguity"] = sc.drill_ambiguity[:, None, :] * changes["drill_ambiguity"][None, :, None]
    return replace(sc, rule_params=tuple(rule_params), **out)


def at_values(sc: CompiledScenario, values: Mapping[str, float | np.ndarray]) -> CompiledScenario:
    """``sc`` at one run's values of per-run keys, as point values: what :func:`with_run_values` gives
    a run of one, with the run axis dropped (so arrays keep the scenario's shapes). ``values`` maps
    each key to a number or a one-element array."""
    if not values:
        return sc
    one = with_run_values(sc, {k: np.asarray(v, dtype=float).reshape(1) for k, v in values.items()})
    out = {name: getattr(one, name)[0] for name in PER_ACTOR if getattr(one, name).ndim == 2}
    out |= {name: getattr(one, name)[:, 0] for name in PER_DRILL_DAY if getattr(one, name).ndim == 3}
    rules = tuple({k: (float(np.asarray(v).reshape(-1)[0]) if np.ndim(v) else v) for k, v in p.items()}
                  for p in one.rule_params)
    return replace(one, rule_params=rules, **out)


def select_rows(sc: CompiledScenario, rows: np.ndarray) -> CompiledScenario:
    """The per-run arrays of runs ``rows`` (an index array), in that order; other arrays unchanged.

    For callers that step a changing subset of runs (rare-outcome replicas that have not yet reached
    their target): run ``rows[j]``'s values become row j's."""
    if run_count(sc) is None:
        return sc
    out = {name: getattr(sc, name)[rows] for name in PER_ACTOR if getattr(sc, name).ndim == 2}
    out |= {name: getattr(sc, name)[:, rows] for name in PER_DRILL_DAY if getattr(sc, name).ndim == 3}
    rules = tuple({k: (v[rows] if np.ndim(v) else v) for k, v in p.items()} for p in sc.rule_params)
    return replace(sc, rule_params=rules, **out)


def run_count(sc: CompiledScenario) -> int | None:
    """R when ``sc`` carries per-run parameters, else None."""
    for name in PER_ACTOR:
        if getattr(sc, name).ndim == 2:
            return getattr(sc, name).shape[0]
    for name in PER_DRILL_DAY:
        if getattr(sc, name).ndim == 3:
            return getattr(sc, name).shape[1]
    for p in sc.rule_params:
        for v in p.values():
            if np.ndim(v):
                return len(v)
    return None

