"""Same seed, same scenario: the same numbers; Mesa's batch_run reproduces them on 3.3 and 3.5."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from conftest import SCENARIOS
from sim.model.compile import compile_scenario
from sim.engines.draws import Stream, as_root, block_seed, child, make_root
from sim.engines.model import EscalationModel, batch_run
from sim.model.scenario import load_scenario
from sim.engines.simulate import simulate

SC = compile_scenario(load_scenario(SCENARIOS / "korea_baseline.toml"))


def test_same_seed_same_paths_other_seed_other_paths():
    a, b, c = (EscalationModel(SC, rng=s) for s in (5, 5, 6))
    for m in (a, b, c):
        for _ in range(120):
            m.step()
    for key in ("intended", "realised", "perceived", "level", "threat"):
        assert np.array_equal(a.history[key], b.history[key]), key
    assert not np.array_equal(a.history["perceived"], c.history["perceived"])


def test_simulate_runs_do_not_depend_on_how_many_ran():
    five = simulate(SC, runs=5, seed=2)
    three = simulate(SC, runs=3, seed=2)
    for col in ("max_rung", "first_mde_step", "misperceptions"):
        assert np.array_equal(five.per_run[col][:3], three.per_run[col]), col
    again = simulate(SC, runs=5, seed=2)
    assert np.array_equal(five.totals.first_passage, again.totals.first_passage)
    assert np.array_equal(five.totals.occupancy, again.totals.occupancy)


def test_batch_run_is_reproducible_and_matches_direct_runs():
    rows = batch_run(SC, [4, 9, 4], max_steps=80)
    final = {}
    for row in rows:
        if int(row["Step"]) == 80 and row["AgentID"] == 1:
            final.setdefault(row["RunId"], (row["rng"], row["level"], row["threat"]))
    by_seed = {}
    for seed, level, threat in final.values():
        by_seed.setdefault(seed, []).append((level, threat))
    assert sorted(by_seed) == [4, 9] and by_seed[4][0] == by_seed[4][1]
    direct = EscalationModel(SC, rng=4)
    for _ in range(80):
        direct.step()
    assert by_seed[4][0] == (direct.state_agents[0].level, direct.state_agents[0].threat)


# ---------------------------------------------------------------- a stream per purpose


def _state(seq) -> tuple:
    return tuple(seq.generate_state(4))


ROOT_PURPOSES = [Stream.RUN, Stream.SWEEP_POINT, Stream.SWEEP_SHARED, Stream.CALIBRATION, Stream.HINDCAST,
                 Stream.RARE]
CHILD_PURPOSES = [Stream.BLOCK, Stream.REGIME, Stream.MESA_RUN, Stream.YEAR, Stream.POSTERIOR, Stream.DRAW,
                  Stream.MODEL_REGIME]


@given(st.integers(0, 2**40), st.integers(0, 50), st.integers(0, 50))
def test_every_purpose_and_index_has_a_stream_of_its_own(seed, i, j):
    """Roots of every purpose (with and without an index), their children of every purpose and index,
    and grandchildren (a calibration batch's years and their blocks) are pairwise different streams,
    whether the caller passed an int or a root; so is the bare SeedSequence(seed)."""
    roots = [make_root(seed, p, *idx) for p in ROOT_PURPOSES for idx in ((), (i,), (i + 1,))]
    streams = [*roots, np.random.SeedSequence(seed)]
    for root in roots:
        for c in CHILD_PURPOSES:
            streams += [child(root, c, j), child(root, c, j + 1)]
        year = child(root, Stream.YEAR, 2011 + j)
        streams += [block_seed(year, 0), block_seed(year, 1), child(year, Stream.REGIME, 0)]
    # an int stands for its RUN root, and only for it
    for c in CHILD_PURPOSES:
        assert child(seed, c, j).spawn_key == child(make_root(seed, Stream.RUN), c, j).spawn_key
    states = [_state(s) for s in streams]
    assert len(set(states)) == len(states)


@given(st.integers(0, 2**40), st.sampled_from(CHILD_PURPOSES), st.lists(st.integers(0, 99), max_size=3))
def test_a_child_is_never_its_parent(seed, purpose, index):
    """No function returns its argument under another purpose: a child's key always extends the root's."""
    for root in (make_root(seed, Stream.RUN), make_root(seed, Stream.CALIBRATION, 3)):
        c = child(root, purpose, *index)
        assert c.spawn_key[:len(root.spawn_key)] == root.spawn_key
        assert len(c.spawn_key) == len(root.spawn_key) + 1 + len(index)
        assert _state(c) != _state(root)
    assert as_root(seed).spawn_key == (Stream.RUN,)
    assert as_root(seed, Stream.HINDCAST).spawn_key == (Stream.HINDCAST,)


def test_a_root_cannot_be_made_into_another_root():
    import pytest

    with pytest.raises(TypeError, match="child"):
        make_root(make_root(3, Stream.RUN), Stream.CALIBRATION)
    with pytest.raises(ValueError):
        make_root(-1, Stream.RUN)


def test_every_year_of_a_history_draws_its_own_stream(monkeypatch):
    """simulate_years gives each year a stream of its own, from an int seed and from a calibration root."""
    import sim.data.hindcast
    from sim.data.hindcast import load_hindcast, simulate_years
    from conftest import ROOT

    hc = load_hindcast(ROOT / "calibration" / "hindcast.toml")
    seen = []

    def capture(jobs, **kwargs):
        seen.append([_state(as_root(seed)) for _, _, seed, _ in jobs])
        raise RuntimeError("captured")

    monkeypatch.setattr(sim.data.hindcast, "run_ensembles", capture)
    for seed in (0, make_root(0, Stream.CALIBRATION, 0), make_root(0, Stream.CALIBRATION, 1)):
        try:
            simulate_years(hc, 8, seed)
        except RuntimeError:
            pass
    assert len(seen) == 3 and all(len(set(s)) == len(hc.years) for s in seen)
    assert len({x for s in seen for x in s}) == 3 * len(hc.years)


def test_a_seed_sequence_passed_in_is_never_advanced():
    seq = np.random.SeedSequence(11)
    a, b = EscalationModel(SC, rng=seq), EscalationModel(SC, rng=seq)
    assert seq.n_children_spawned == 0
    assert np.array_equal(a.regime, b.regime)
    root = make_root(4, Stream.SWEEP_POINT, 2)
    simulate(SC, runs=3, seed=root, workers=1)
    assert root.n_children_spawned == 0


def test_a_sweep_point_does_not_replay_escsim_run():
    run = simulate(SC, runs=1024, seed=5, workers=1).per_run
    point = simulate(SC, runs=1024, seed=make_root(5, Stream.SWEEP_POINT, 0), workers=1).per_run
    assert not np.array_equal(run["misperceptions"], point["misperceptions"])


def test_batches_keep_every_worker_busy():
    from sim.engines.ensemble import batch_size

    assert batch_size(16, 2) == 4  # two batches of 4 each, not 3 + 3 + 3 on one worker and 3 + 3 + 1 on the other
    assert batch_size(10, 2) == 1  # five blocks each: batches of 2 would leave one worker three, the other two
    assert batch_size(4, 2) == 2  # a calibration year's 4,096 runs: a batch on each core, not one on one
    assert batch_size(10, 1) == 4 and batch_size(1000, 2) == 4  # work enough for all: the largest batches
    assert batch_size(1, 8) == 1 and batch_size(3, 8) == 1  # fewer blocks than workers: one each
