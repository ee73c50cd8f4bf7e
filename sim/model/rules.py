"""Deterrence rules: how an actor picks tomorrow's rung, and the registry users add their own to.

A rule is a pure, elementwise function ``rule(l, q, th, b, u, U, **params) -> r`` over 1-D NumPy
arrays of one length, one element per decision: the engines decide all the actors that share a rule,
in all runs of a batch, in one call (element k is run k // G, actor k % G of the G actors). For each
decision:

- ``l``  int   current rung of the deciding actor
- ``q``  float perceived hostile level it answers, in rungs, unclipped
- ``th`` float its threat after today's update, in rungs
- ``b``, ``u`` int: its baseline and ceiling (its own decisions stay in [b, u])
- ``U``  float uniform draw in [0, 1) of this actor and step, for stochastic rules
- ``params`` float, each parameter's value for this actor (and run, with per-run parameters)

all as arrays of that same length, and it returns integer rungs in [b, u], one per element.
Elementwise means an element of ``r`` depends only on the same element of each input, so an
actor's rungs are the same whoever it is decided with and whichever runs are passed (the MDE tag
re-decides a subset of runs). Both engines call these functions, compiled by Numba where it
compiles them (:func:`engine_function`), so they are the only copy of the decision logic.
Deterrence (the draw against D_i before an up-step into crisis) is applied by the kernel after the
rule, not by rules.

Register a rule of your own with :func:`register_rule`; scenarios then name it in ``actors.X.rule.name``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass

import numba
import numpy as np
from numba.extending import register_jitable

RuleFunction = Callable[..., np.ndarray]


@register_jitable
def clip(x, low, high):
    """np.clip as two ufuncs, for rules in NumPy or compiled (its bounds may be arrays)."""
    return np.minimum(np.maximum(x, low), high)


@register_jitable
def round_half_up(x):
    """MODEL.md's round(x) = floor(x + 0.5), never NumPy's round-half-to-even. Int rungs."""
    return np.floor(np.add(x, 0.5)).astype(np.int64)


@dataclass(frozen=True)
class Rule:
    """A registered rule: its function and its parameters' defaults (name -> float)."""

    name: str
    function: RuleFunction
    defaults: dict[str, float]


_REGISTRY: dict[str, Rule] = {}


def register_rule(name: str, function: RuleFunction | None = None):
    """Register ``function`` as rule ``name``; usable as ``@register_rule("name")``.

    The function's keyword parameters after ``U`` are the rule's parameters; each needs a default.
    Re-registering a name replaces it (so a notebook can redefine a rule).
    """

    def add(func: RuleFunction) -> RuleFunction:
        sig = inspect.signature(func)
        names = list(sig.parameters)
        if names[:6] != ["l", "q", "th", "b", "u", "U"]:
            raise TypeError(f"rule {name!r} must take (l, q, th, b, u, U, **params); got ({', '.join(names)})")
        defaults = {}
        for p in list(sig.parameters.values())[6:]:
            if p.default is inspect.Parameter.empty:
                raise TypeError(f"rule {name!r}: parameter {p.name!r} needs a default")
            defaults[p.name] = float(p.default)
        check_elementwise(name, func, defaults)
        _REGISTRY[name] = Rule(name, func, defaults)
        _COMPILED.pop(name, None)  # a redefined rule is compiled afresh
        return func

    return add if function is None else add(function)


def check_elementwise(name: str, func: RuleFunction, defaults: dict[str, float]) -> None:
    """Refuse a rule that is not elementwise, at registration rather than deep inside a run.

    Calls it on a small batch (3 runs of two actors, six decisions) as the engines do, and checks
    that it returns one integer rung per decision, in [b, u], for each actor exactly what a call for
    that actor alone gives, and for a subset of the runs what it gave them among all. TypeError
    saying which of these fails otherwise.
    """
    l, q, th, b, u, U = _trial_inputs()
    contract = ("rules must be elementwise: an element of r may depend only on the same element of l, q, "
                "th, b, u, U and of each parameter, all 1-D arrays of one length (sim/model/rules.py)")
    params = {k: np.full(l.shape, v) for k, v in defaults.items()}

    def call(how: str, *args, **kwargs):
        try:
            return np.asarray(func(*args, **kwargs))
        except Exception as exc:  # noqa: BLE001 - whatever the user's code raised, say what the engines need
            raise TypeError(f"rule {name!r} fails on {how} ({type(exc).__name__}: {exc}); {contract}") from exc

    together = call("two actors decided together", *_flat(l, q, th, b, u, U), **_flat_params(params))
    if together.shape != (l.size,) or not np.issubdtype(together.dtype, np.integer):
        raise TypeError(f"rule {name!r} returned {together.dtype} of shape {together.shape} for {l.size} int "
                        f"rungs; {contract}")
    together = together.reshape(l.shape)
    for g in range(l.shape[1]):
        alone = call(f"actor {g} alone", *(x[:, g].copy() for x in (l, q, th, b, u, U)),
                     **{k: v[:, g].copy() for k, v in params.items()})
        if not np.array_equal(together[:, g], alone):
            raise TypeError(f"rule {name!r} gives actor {g} {together[:, g].tolist()} decided with another and "
                            f"{np.asarray(alone).tolist()} alone; {contract}")
    some = [0, 2]  # the MDE tag re-decides only the runs where someone climbed
    subset = call("some of the runs", *_flat(*(x[some] for x in (l, q, th, b, u, U))),
                  **_flat_params({k: v[some] for k, v in params.items()}))
    if not np.array_equal(together[some].ravel(), subset):
        raise TypeError(f"rule {name!r} gives runs {some} {np.asarray(subset).tolist()} when decided as some of the "
                        f"runs and {together[some].ravel().tolist()} among all; {contract}")
    if np.any((together < b) | (together > u)):
        raise TypeError(f"rule {name!r} returned rungs outside [b, u]: {together.tolist()} for b {b[0].tolist()}, "
                        f"u {u[0].tolist()}")


def _trial_inputs():
    """A small batch to try a rule on: 3 runs of two actors, as (runs, actors) grids of l, q, th, b,
    u, U (the engines pass them flattened, run by run: :func:`_flat`)."""
    l = np.array([[0, 1], [2, 3], [1, 4]])
    q = np.array([[0.4, 3.6], [4.5, 1.0], [2.5, 6.2]])
    th = np.array([[0.0, 2.0], [1.5, 0.5], [3.0, 4.0]])
    U = np.array([[0.05, 0.5], [0.95, 0.2], [0.5, 0.01]])
    return l, q, th, np.tile([0, 1], (3, 1)), np.tile([4, 5], (3, 1)), U


def _flat(*grids):
    """(runs, actors) grids as the 1-D arrays rules take, run by run."""
    return [np.ascontiguousarray(x).ravel() for x in grids]


def _flat_params(params: dict) -> dict:
    return dict(zip(params, _flat(*params.values())))


_COMPILED: dict[str, RuleFunction] = {}


def engine_function(name: str) -> RuleFunction:
    """What the engines call for rule ``name``: the rule compiled by Numba when it compiles and gives
    exactly the NumPy function's rungs on a trial batch, else the NumPy function itself.

    Compiled once per rule and process (and cached on disk for rules defined in files) for what the
    engines pass: 1-D C-ordered arrays, int64 l, b, u and float64 q, th, U and parameters. A rule
    either runs compiled or as NumPy, in both engines alike.
    """
    try:
        return _COMPILED[name]
    except KeyError:
        pass
    rule = get_rule(name)
    _COMPILED[name] = function = _compiled(rule) or rule.function
    return function


def _compiled(rule: Rule) -> RuleFunction | None:
    """``rule.function`` compiled in nopython mode and checked on the trial batch, or None."""
    grids = _trial_inputs()
    args = _flat(*grids)
    params = _flat_params({k: np.full(grids[0].shape, v) for k, v in rule.defaults.items()})
    for cache in (True, False):  # the disk cache needs the rule's source file; a notebook's has none
        try:
            compiled = numba.njit(cache=cache)(rule.function)
            same = np.array_equal(compiled(*args, **params), rule.function(*args, **params))
            return compiled if same else None
        except Exception:  # noqa: BLE001 - Numba's typing, lowering or caching errors: NumPy it is
            continue
    return None


def get_rule(name: str) -> Rule:
    """The registered rule ``name``; KeyError naming the registered ones otherwise."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown rule {name!r}; registered: {', '.join(sorted(_REGISTRY))}") from None


def registered_rules() -> list[str]:
    """Names of all registered rules, sorted."""
    return sorted(_REGISTRY)


@register_rule("tit_for_tat")
def tit_for_tat(l, q, th, b, u, U):
    """Match the perceived hostile level: clip(round(q), b, u)."""
    return clip(round_half_up(q), b, u)


@register_rule("graduated")
def graduated(l, q, th, b, u, U, threshold=1.5, cool_rate=0.1):
    """One rung up when q exceeds l by ``threshold``; one down with probability ``cool_rate`` when q <= l."""
    up = (q - l) >= threshold
    down = (q <= l) & (U < cool_rate)
    return clip(np.where(up, l + 1, np.where(down, l - 1, l)), b, u)


@register_rule("massive_retaliation")
def massive_retaliation(l, q, th, b, u, U, trigger=3.5):
    """Jump to the ceiling when q reaches ``trigger``; otherwise sit at baseline."""
    return np.where(q >= trigger, u, b).astype(np.int64)


@register_rule("restraint")
def restraint(l, q, th, b, u, U, trigger=3.5, cool_rate=0.3):
    """One rung up only when q reaches ``trigger``; else one down with probability ``cool_rate``."""
    up = np.minimum(l + 1, u)
    down = np.maximum(l - 1, b)
    return np.where(q >= trigger, up, np.where(U < cool_rate, down, l)).astype(np.int64)
