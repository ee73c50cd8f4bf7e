"""Deterrence rules: how an actor picks tomorrow's rung, and the registry users add their own to.

A rule is a pure, elementwise function ``rule(l, q, th, b, u, U, **params) -> r`` over NumPy arrays
of one shape S: (R,) for one actor, or (R, G) for G actors that share the rule, which the engines
decide in one call (one column per actor):

- ``l``  int   current rung of the deciding actor (S)
- ``q``  float perceived hostile level it answers, in rungs, unclipped (S)
- ``th`` float its threat after today's update, in rungs (S)
- ``b``, ``u`` int: its baseline and ceiling (its own decisions stay in [b, u]); a number, or (G,)
  one per column
- ``U``  float uniform draw in [0, 1) of this actor and step, for stochastic rules (S)
- ``params`` numbers, or arrays that broadcast against S: (G,) one per column, (R,) or (R, G) with
  per-run parameters

and returns integer rungs in [b, u] of shape S. Elementwise means an element of ``r`` depends only
on the same element of each input, so an actor's rungs are the same whoever it is grouped with and
whichever runs are passed (the MDE tag re-decides a subset of runs). Both engines call these
functions (the Mesa engine with R = 1), so they are the only copy of the decision logic. Deterrence
(the draw against D_i before an up-step into crisis) is applied by the kernel after the rule, not
by rules.

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

    Calls it on a small batch (3 runs) for two actors at once, as the engines do, with their
    baselines, ceilings and parameters as columns, and checks that it returns one integer rung per
    element, in [b, u], for each actor exactly what a call of its own gives, and for a subset of the
    runs what it gave them among all. TypeError saying which of these fails otherwise.
    """
    l, q, th, b, u, U = _trial_inputs()
    contract = ("rules must be elementwise: an element of r may depend only on the same element of l, q, "
                "th, U and on that actor's b, u and parameters, which arrive as numbers or one per column "
                "(sim/rules.py)")
    columns = {k: np.array([v, v]) for k, v in defaults.items()}  # each parameter, one value per actor
    try:
        together = np.asarray(func(l, q, th, b, u, U, **columns))
    except Exception as exc:  # noqa: BLE001 - whatever the user's code raised, say what the engines need
        raise TypeError(f"rule {name!r} fails on two actors decided together ({type(exc).__name__}: {exc}); "
                        f"{contract}") from exc
    if together.shape != l.shape or not np.issubdtype(together.dtype, np.integer):
        raise TypeError(f"rule {name!r} returned {together.dtype} of shape {together.shape} for int rungs of "
                        f"shape {l.shape}; {contract}")
    for g in range(l.shape[1]):
        alone = func(l[:, g], q[:, g], th[:, g], int(b[g]), int(u[g]), U[:, g], **defaults)
        if not np.array_equal(together[:, g], alone):
            raise TypeError(f"rule {name!r} gives actor {g} {together[:, g].tolist()} decided with another and "
                            f"{np.asarray(alone).tolist()} alone; {contract}")
    some = [0, 2]  # the MDE tag re-decides only the runs where someone climbed
    subset = func(l[some], q[some], th[some], b, u, U[some], **columns)
    if not np.array_equal(together[some], subset):
        raise TypeError(f"rule {name!r} gives runs {some} {np.asarray(subset).tolist()} when decided as some of the "
                        f"runs and {together[some].tolist()} among all; {contract}")
    if np.any((together < b) | (together > u)):
        raise TypeError(f"rule {name!r} returned rungs outside [b, u]: {together.tolist()} for b {b.tolist()}, "
                        f"u {u.tolist()}")


def _trial_inputs():
    """A small batch to try a rule on: 3 runs of two actors deciding together, as the engines call
    rules ((R, G) arrays; b, u one per column). Returns l, q, th, b, u, U."""
    l = np.array([[0, 1], [2, 3], [1, 4]])
    q = np.array([[0.4, 3.6], [4.5, 1.0], [2.5, 6.2]])
    th = np.array([[0.0, 2.0], [1.5, 0.5], [3.0, 4.0]])
    U = np.array([[0.05, 0.5], [0.95, 0.2], [0.5, 0.01]])
    return l, q, th, np.array([0, 1]), np.array([4, 5]), U


_COMPILED: dict[str, RuleFunction] = {}


def engine_function(name: str) -> RuleFunction:
    """What the engines call for rule ``name``: the rule compiled by Numba when it compiles and gives
    exactly the NumPy function's rungs on a trial batch, else the NumPy function itself.

    Compiled once per rule and process (and cached on disk for rules defined in files), for the
    arrays the engines pass: C-ordered (R, G) int64 and float64 arrays, b and u int64 (G,),
    parameters float64, (G,) or (R, G) per run. A rule either compiles for all of them or runs as
    NumPy for all: the engines never mix the two for one rule.
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
    l, q, th, b, u, U = _trial_inputs()
    trials = [{k: np.full(2, v) for k, v in rule.defaults.items()},  # one value per column
              {k: np.full((3, 2), v) for k, v in rule.defaults.items()}]  # per-run values
    for cache in (True, False):  # the disk cache needs the rule's source file; a notebook's has none
        try:
            compiled = numba.njit(cache=cache)(rule.function)
            for params in trials:
                if not np.array_equal(compiled(l, q, th, b, u, U, **params), rule.function(l, q, th, b, u, U, **params)):
                    return None
            return compiled
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
