"""Per-run parameters: run k of one ensemble is the scenario compiled with the k-th values, exactly."""

import numpy as np
import pytest

from conftest import SCENARIOS
from sim.model.compile import compile_scenario
from sim.engines.ensemble import run_batch, run_ensemble
from sim.core.errors import InputError
from sim.engines.model import EscalationModel
from sim.model.scenario import load_scenario

SC = compile_scenario(load_scenario(SCENARIOS / "korea_baseline.toml"))


def _values(R: int, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    return {"actors.north_korea.provocation.base_rate": rng.uniform(0.01, 0.05, R),
            "actors.north_korea.provocation.kappa": rng.uniform(0, 0.6, R),
            "actors.north_korea.provocation.regime_dispersion": rng.uniform(0, 1.0, R),
            "actors.north_korea.provocation.contact_rate": rng.uniform(0, 0.01, R),
            "actors.south_korea.in_kind": rng.uniform(0, 1, R),
            "actors.*.noise": rng.uniform(0.1, 0.5, R),
            "actors.north_korea.deterrence": rng.uniform(0, 1, R),
            "actors.south_korea.rule.threshold": rng.uniform(1, 2, R),
            "drills.*.scale_factor": rng.uniform(0.5, 2, R),
            "drills.*.ambiguity_factor": rng.uniform(0, 1.5, R),
            "actors.north_korea.provocation.drill_deterrence": rng.uniform(0, 1.5, R),
            "actors.north_korea.provocation.drill_deterrence_days": rng.uniform(1, 30, R)}


def _overrides(values: dict, k: int) -> dict:
    """Run k's values as ordinary scenario overrides, the wildcards spelled out (drill factors are not
    scenario keys: they are left out and checked on their own below)."""
    out = {}
    for key, v in values.items():
        if key.startswith("actors.*."):
            out |= {key.replace("*", a): float(v[k]) for a in SC.actor_ids}
        elif not key.startswith("drills.*."):
            out[key] = float(v[k])
    return out


def test_each_run_is_the_scenario_compiled_with_its_values_step_for_step():
    R = 1024
    values = {k: v for k, v in _values(R).items() if not k.startswith("drills.")}
    batch = run_batch(SC, 7, 0, 1, R, trace=True, run_values=values).trace
    for k in (0, 333, 1023):
        own = compile_scenario(load_scenario(SCENARIOS / "korea_baseline.toml", _overrides(values, k)))
        for model in (EscalationModel.replay(own, 7, k), EscalationModel.replay(SC, 7, k, run_values=values)):
            model.run()
            for key in ("intended", "realised", "perceived", "level", "threat", "mde", "contact"):
                assert np.array_equal(model.history[key], batch[key][k]), (k, key)


def test_drill_factors_multiply_every_drills_scale_and_ambiguity_and_replay_exactly():
    from sim.engines.run_values import with_run_values

    f = np.array([0.0, 0.5, 2.0])
    sc = with_run_values(SC, {"drills.*.scale_factor": f, "drills.*.ambiguity_factor": f[::-1]})
    drilling = SC.drill_rung >= 0
    for k in range(3):
        assert np.array_equal(sc.drill_scale[:, k], np.where(drilling, SC.drill_scale * f[k], 1.0))
        assert np.array_equal(sc.drill_ambiguity[:, k], SC.drill_ambiguity * f[::-1][k])
    values = _values(1024, seed=2)
    batch = run_batch(SC, 4, 0, 1, 1024, trace=True, run_values=values).trace
    for k in (5, 900):
        model = EscalationModel.replay(SC, 4, k, run_values=values).run()
        assert np.array_equal(model.history["perceived"], batch["perceived"][k])
        assert np.array_equal(model.history["threat"], batch["threat"][k])


def test_per_run_results_do_not_depend_on_workers_or_batching():
    values = _values(2500, seed=1)
    a = run_ensemble(SC, 2500, 3, workers=1, per_run=True, run_values=values)[1]
    b = run_ensemble(SC, 2500, 3, workers=2, blocks_per_batch=1, per_run=True, run_values=values)[1]
    assert all(np.array_equal(a[k], b[k]) for k in a)
    # the first 1,024 runs of a longer ensemble are those of a shorter one
    c = run_ensemble(SC, 1024, 3, workers=1, per_run=True, run_values={k: v[:1024] for k, v in values.items()})[1]
    assert all(np.array_equal(a[k][:1024], c[k]) for k in c)


def test_bad_per_run_keys_and_lengths_are_refused():
    with pytest.raises(InputError, match="per-run parameters are"):
        run_ensemble(SC, 10, 0, run_values={"alliances.us_rok.cohesion": np.ones(10)})
    with pytest.raises(InputError, match="unknown actor 'china'"):
        run_ensemble(SC, 10, 0, run_values={"actors.china.noise": np.ones(10)})
    with pytest.raises(InputError, match="has no parameter 'trigger'"):
        run_ensemble(SC, 10, 0, run_values={"actors.south_korea.rule.trigger": np.ones(10)})
    with pytest.raises(ValueError, match="10 values each"):
        run_ensemble(SC, 10, 0, run_values={"actors.japan.noise": np.ones(9)})
