"""The compiled loops index only inside their arrays: every shipped scenario, both engines, run with
Numba's bounds checking on.

Compiled code does not check indices: a loop that took its sizes from the wrong array (an observer
count for an actor count, say) would read past an array's end and return wrong numbers silently.
This runs each phase on every shipped scenario's shapes (4 to 6 actors, hotlines, backchannels,
per-run parameters, twins) in a fresh process that compiles everything with bounds checks, so such
a read raises IndexError instead.
"""

import os
import subprocess
import sys
import textwrap

import pytest

from conftest import ROOT

SCRIPT = textwrap.dedent("""
    import numpy as np
    from pathlib import Path
    from sim.model.compile import compile_scenario
    from sim.model.scenario import load_scenario
    from sim.engines.ensemble import run_batch
    from sim.engines.model import EscalationModel
    for path in sorted(Path("scenarios").glob("*.toml")):
        sc = compile_scenario(load_scenario(path))
        rng = np.random.default_rng(0)
        per_run = {key: rng.uniform(0.1, 0.9, 1024) for key in
                   ("actors.*.noise", "actors.*.decay", "actors.*.provocation.base_rate", "drills.*.scale_factor")}
        i = next(i for i, p in enumerate(sc.rule_params) if p)  # an actor whose rule has parameters
        per_run[f"actors.{sc.actor_ids[i]}.rule.{next(iter(sc.rule_params[i]))}"] = rng.uniform(0.1, 3.0, 1024)
        for parameters in (None, per_run):
            run_batch(sc, 1, 0, 1, 1024, twins=True, per_run=True, run_values=parameters)
        EscalationModel(sc, rng=1).run()
        EscalationModel(sc, rng=2, perfect_perception=True).run()
        print(path.stem, "ok")
""")


@pytest.mark.slow  # it compiles every loop afresh with bounds checks: about 30 s of one core
def test_every_phase_stays_inside_its_arrays(tmp_path):
    env = {**os.environ, "NUMBA_BOUNDSCHECK": "1", "NUMBA_CACHE_DIR": str(tmp_path)}  # a fresh cache: compile here
    done = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count(" ok") == len(list((ROOT / "scenarios").glob("*.toml")))
