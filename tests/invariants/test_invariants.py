"""Invariants that guard classes of defects: `extends` keeps what a child does not set, and numbers do
not depend on capability units, actor names or the order of tables."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import SCENARIOS, compiled, two_actor_raw
from sim.model.compile import compile_scenario
from sim.model.scenario import ScenarioFile, _deep_merge, load_scenario
from sim.engines.simulate import simulate

BASE = ScenarioFile.read(SCENARIOS / "korea_baseline.toml").raw

# ---------------------------------------------------------------- `extends` merging


def _leaves(d: dict, prefix=()):
    for k, v in d.items():
        if isinstance(v, dict) and v:
            yield from _leaves(v, (*prefix, k))
        else:
            yield (*prefix, k), v


def _get(d: dict, path):
    for k in path:
        if not isinstance(d, dict) or k not in d:
            return KeyError
        d = d[k]
    return d


def _tables(d: dict, prefix=()):
    """Key paths of every table (dict) in ``d``, the root included."""
    yield prefix
    for k, v in d.items():
        if isinstance(v, dict):
            yield from _tables(v, (*prefix, k))


scalars = st.one_of(st.integers(-5, 5), st.floats(0, 1), st.text(max_size=5), st.booleans())


@st.composite
def child_of_base(draw):
    """A child scenario: a few tables of the base touched, each with a few keys set or added."""
    tables = [t for t in _tables(BASE) if t]
    child: dict = {}
    for path in draw(st.lists(st.sampled_from(tables), min_size=1, max_size=4)):
        node = child
        for k in path:
            node = node.setdefault(k, {})
        table = _get(BASE, path)
        keys = list(table) + ["new_key"]
        for key in draw(st.lists(st.sampled_from(keys), min_size=1, max_size=3)):
            if not isinstance(table.get(key), dict):  # never replace a sub-table by a scalar
                node[key] = draw(scalars)
    return child


def _rule_switched(path, child) -> bool:
    """Whether ``path`` lies in an actor's rule table that the child switches to another rule."""
    if len(path) >= 3 and path[0] == "actors" and path[2] == "rule":
        new = _get(child, path[:3])
        old = _get(BASE, path[:3])
        return isinstance(new, dict) and new.get("name", old.get("name")) != old.get("name")
    return False


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(child_of_base())
def test_every_base_key_the_child_does_not_set_survives(child):
    merged = _deep_merge(copy.deepcopy(BASE), child)
    for path, value in _leaves(BASE):
        if _get(child, path) is KeyError and not _rule_switched(path, child):
            assert _get(merged, path) == value, path
    for path, value in _leaves(child):
        if value != {}:  # an empty table in the child sets nothing
            assert _get(merged, path) == value, path


def test_naming_the_scenario_or_an_actor_keeps_the_rest(tmp_path):
    (tmp_path / "base.toml").write_text(
        '[scenario]\nname = "base"\nstart = 2025-01-01\nhorizon = 200\ndescription = "kept"\n'
        '[actors.china]\ncapability = 2.0\nnoise = 0.3\n[actors.china.rule]\nname = "graduated"\nthreshold = 2.0\n'
        '[actors.taiwan]\ncapability = 1.0\nthreatened_by = { china = 1.0 }\n')
    (tmp_path / "child.toml").write_text(
        'extends = "base.toml"\n[scenario]\nname = "child"\n[actors.china]\nname = "PRC"\n')
    sc = load_scenario(tmp_path / "child.toml")
    assert (sc.scenario.start.isoformat(), sc.scenario.horizon, sc.scenario.description) == ("2025-01-01", 200, "kept")
    china = sc.actors["china"]
    assert (china.name, china.capability, china.noise, china.rule.params()) == ("PRC", 2.0, 0.3, {"threshold": 2.0})
    # switching the rule is the one table that is replaced whole: the old rule's parameters go
    (tmp_path / "switch.toml").write_text(
        'extends = "base.toml"\n[actors.china.rule]\nname = "tit_for_tat"\n')
    assert load_scenario(tmp_path / "switch.toml").actors["china"].rule.params() == {}


# ---------------------------------------------------------------- invariances of the numbers


def _unopposed_raw(cap_a: float, cap_b: float, lam: float) -> dict:
    """Two actors nobody threatens: deterrence must leave both alone whatever their capabilities."""
    raw = two_actor_raw()
    raw["actors"]["a"].update(capability=cap_a, deterrence=lam, threatened_by={})
    raw["actors"]["b"].update(capability=cap_b, deterrence=lam, threatened_by={})
    return raw


@given(st.floats(1e-3, 1e3), st.floats(1e-3, 1e3), st.floats(0, 5))
def test_an_actor_nobody_opposes_is_not_deterred(cap_a, cap_b, lam):
    assert np.array_equal(compiled(_unopposed_raw(cap_a, cap_b, lam)).deterrence, [1.0, 1.0])


SHIPPED = sorted(p.stem for p in SCENARIOS.glob("*.toml"))


def _scaled(name: str, factor: float) -> dict:
    sc = load_scenario(SCENARIOS / f"{name}.toml")
    return {f"actors.{a}.capability": actor.capability * factor for a, actor in sc.actors.items()}


@pytest.mark.parametrize("name", SHIPPED)
@given(factor=st.sampled_from([1e-3, 0.37, 2.0, 1e4]))
@settings(max_examples=4, deadline=None)
def test_scaling_every_capability_changes_no_weight(name, factor):
    base = compile_scenario(load_scenario(SCENARIOS / f"{name}.toml"))
    scaled = compile_scenario(load_scenario(SCENARIOS / f"{name}.toml", _scaled(name, factor)))
    np.testing.assert_allclose(scaled.deterrence, base.deterrence, rtol=1e-12)
    np.testing.assert_allclose(scaled.weight, base.weight, rtol=1e-12)


def test_scaling_capabilities_changes_no_outcome():
    base = compile_scenario(load_scenario(SCENARIOS / "korea_baseline.toml"))
    scaled = compile_scenario(load_scenario(SCENARIOS / "korea_baseline.toml", _scaled("korea_baseline", 1e3)))
    # D and w agree to rounding; outcomes over 1,024 runs must be the same counts
    a, b = simulate(base, 1024, seed=3, workers=1).totals, simulate(scaled, 1024, seed=3, workers=1).totals
    assert (a.crisis, a.miscalculation, a.runs_with_mde) == (b.crisis, b.miscalculation, b.runs_with_mde)


def _renamed(raw: dict, reverse_actors: bool) -> dict:
    """The same scenario with every actor id renamed, every table but the actors' in reverse order,
    and (``reverse_actors``) the actor tables reversed too."""
    new = {a: f"x_{a}" for a in raw["actors"]}

    def rename(value, depth=0):
        if isinstance(value, str):
            return new.get(value, value)
        if isinstance(value, list):
            return [rename(v, depth + 1) for v in value]
        if isinstance(value, dict):
            items = [(new.get(k, k), rename(v, depth + 1)) for k, v in value.items()]
            return dict(reversed(items) if depth == 1 else items)  # alliances, drills, ... in reverse
        return value

    out = {k: (rename(v) if k != "scenario" else v) for k, v in raw.items()}
    actors = list(out["actors"].items())
    out["actors"] = dict(reversed(actors) if reverse_actors else actors)
    return out


def _plain_raw(name: str) -> dict:
    raw = copy.deepcopy(ScenarioFile.read(SCENARIOS / f"{name}.toml").raw)
    raw.pop("extends", None)
    for actor in raw["actors"].values():
        actor.pop("name", None)  # display names would differ, by design
    return raw


@pytest.mark.parametrize("name", ["korea_baseline", "asian_nato", "regional"])
def test_renaming_actors_and_reordering_tables_changes_no_number(name):
    from sim.model.scenario import validate_scenario

    raw = _plain_raw(name)
    a = compile_scenario(validate_scenario(copy.deepcopy(raw)))
    b = compile_scenario(validate_scenario(_renamed(raw, reverse_actors=False)))
    ta, tb = simulate(a, 1024, seed=1, workers=1).totals, simulate(b, 1024, seed=1, workers=1).totals
    for f in ("crisis", "war", "miscalculation", "runs_with_mde"):
        assert getattr(ta, f) == getattr(tb, f), f
    assert np.array_equal(ta.occupancy, tb.occupancy) and np.array_equal(ta.first_passage, tb.first_passage)


@pytest.mark.parametrize("name", ["korea_baseline", "regional"])
def test_reordering_actors_permutes_every_compiled_array(name):
    from sim.model.scenario import validate_scenario

    raw = _plain_raw(name)
    a = compile_scenario(validate_scenario(copy.deepcopy(raw)))
    b = compile_scenario(validate_scenario(_renamed(raw, reverse_actors=True)))
    order = [b.actor_ids.index(f"x_{x}") for x in a.actor_ids]
    assert order == list(range(a.n_actors))[::-1]
    for field in ("capability", "baseline", "ceiling", "noise", "deterrence", "base_rate", "kappa"):
        np.testing.assert_array_equal(getattr(b, field)[order], getattr(a, field), err_msg=field)
    for field in ("threat_weight", "weight", "engaged", "bias", "hotline_eta"):
        np.testing.assert_array_equal(getattr(b, field)[np.ix_(order, order)], getattr(a, field), err_msg=field)
    for field in ("drill_rung", "drill_scale", "drill_ambiguity", "summit_relief"):
        np.testing.assert_array_equal(getattr(b, field)[:, order], getattr(a, field), err_msg=field)


@given(st.integers(1, 10**7).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
def test_wilson_bounds_hold_the_estimate_and_are_exact_at_the_ends(kn):
    from sim.core.stats import wilson_interval

    k, n = kn
    p, low, high = wilson_interval(k, n)
    assert 0.0 <= low <= p <= high <= 1.0
    assert (low == 0.0) == (k == 0) and (high == 1.0) == (k == n)


@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_a_crisis_only_tracker_finds_the_crises_a_full_one_finds(data):
    """A twin's tracker follows its crises only (all a miscalculation needs of it): on any sequence
    of realised actions it must give the full tracker's crisis flags and first crisis steps."""
    from sim.model.outcomes import OutcomeTracker

    R, N, T = data.draw(st.integers(1, 5)), data.draw(st.integers(2, 4)), data.draw(st.integers(1, 12))
    actions = np.array(data.draw(st.lists(st.lists(st.lists(st.integers(0, 6), min_size=N, max_size=N),
                                                   min_size=R, max_size=R), min_size=T, max_size=T)))
    trackers = [OutcomeTracker(R, N, 6, T, crisis_rung=4, war_rung=6, window=3, crisis_only=c) for c in (False, True)]
    quiet = np.zeros((R, N), dtype=bool)
    for t in range(T):
        for tracker in trackers:
            tracker.tally(t, actions[t], np.zeros((R, N, N), dtype=bool), quiet, np.full((R, N), -1), quiet, quiet)
    full, light = trackers
    assert np.array_equal(full.crisis, light.crisis) and np.array_equal(full.first_crisis, light.first_crisis)
    assert np.array_equal(full.crisis, (actions >= 4).any(axis=(0, 2)))
