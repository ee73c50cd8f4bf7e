"""Speed and memory of the two engines on a shipped scenario: runs/s, ratios, peak memory.

Usage: python benchmarks/bench_engines.py [--scenario FILE] [--repeats 3] [--mesa-runs 20] [--quick] [--mesa-only]

Prints, from one run of this script (these machines are noisy: compare ratios, not absolutes):
Mesa runs/s and agent-steps/s (runs x steps x actors per second; the median of --mesa-runs runs),
with its ratio to the goal of 50,000 agent-steps/s, and what each bookkeeping part of a Mesa step
costs (the step timed with that part switched off; what remains with all off is the kernel's);
ensemble runs/s on 1 core and on all cores; the time to draw the same random numbers alone (the
floor); the ratios the project targets; and peak memory at 10^4, 10^5 and 10^6 runs (each in a
fresh process; --quick stops at 10^5). --mesa-only stops after the Mesa figures.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
ALL_OFF = "all of them"
MESA_GOAL = 50_000  # agent-steps/s (issue 15: ten times the engine's speed when it was filed)
sys.path.insert(0, str(ROOT))

from sim.model.compile import compile_scenario  # noqa: E402
from sim.engines.draws import BLOCK_SIZE, fill_step, n_uniforms, run_seed  # noqa: E402
from sim.engines.ensemble import run_ensemble  # noqa: E402
from sim.engines.model import EscalationModel  # noqa: E402
from sim.engines.parallel import default_workers  # noqa: E402
from sim.model.scenario import load_scenario  # noqa: E402


def median_time(func, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def draw_only(sc, runs: int) -> None:
    """Draw exactly the numbers an ensemble of ``runs`` runs draws, and nothing else."""
    n = sc.n_actors
    u = np.empty((BLOCK_SIZE, n_uniforms(n)))
    e = np.empty((BLOCK_SIZE, n, n))
    for block in range(-(-runs // BLOCK_SIZE)):
        rng = np.random.default_rng(block)
        for _ in range(sc.horizon):
            fill_step(rng, u, e)


def mesa_run_time(sc, runs: int) -> float:
    """Median seconds of one Mesa run (the seeds of an ensemble's first ``runs`` runs)."""
    times = []
    for k in range(runs):
        start = time.perf_counter()
        EscalationModel(sc, rng=run_seed(0, k)).run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def mesa_step_parts(sc, runs: int) -> dict[str, float]:
    """Median Mesa run time with one part of the step switched off at a time (part -> seconds): where a
    Mesa step's time goes. The kernel's share is what is left with every bookkeeping part off."""
    import mesa

    from sim.model.outcomes import OutcomeTracker

    def skip(owner, name, replacement):
        original = getattr(owner, name)
        setattr(owner, name, replacement)
        return lambda: setattr(owner, name, original)

    parts = {
        "DataCollector.collect": [(mesa.DataCollector, "collect", lambda self, model: None)],
        "AgentSet.do (the agents' phases)": [(mesa.agent.AgentSet, "do", lambda self, *a, **k: self)],
        "OutcomeTracker.record": [(OutcomeTracker, "record", lambda self, *a, **k: None)],
        "history and outcomes (model.record)": [(EscalationModel, "record", lambda self: None)],
    }
    parts[ALL_OFF] = [entry for entries in parts.values() for entry in entries]
    out = {}
    for part, entries in parts.items():
        restores = [skip(*entry) for entry in entries]
        try:
            out[part] = mesa_run_time(sc, runs)
        finally:
            for restore in reversed(restores):
                restore()
    return out


def memory_probe(scenario: Path, runs: int) -> dict:
    """Peak resident memory (MiB) of this process and of its largest worker, for one ensemble."""
    sc = compile_scenario(load_scenario(scenario))
    start = time.perf_counter()
    run_ensemble(sc, runs, 0)
    return {
        "runs": runs,
        "seconds": time.perf_counter() - start,
        "main_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "worker_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", type=Path, default=ROOT / "scenarios" / "korea_baseline.toml")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--mesa-runs", type=int, default=20)
    parser.add_argument("--quick", action="store_true", help="skip the 10^6-run memory probe")
    parser.add_argument("--mesa-only", action="store_true", help="measure the Mesa engine only")
    parser.add_argument("--memory-probe", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_probe:
        print(json.dumps(memory_probe(args.scenario, args.memory_probe)))
        return

    sc = compile_scenario(load_scenario(args.scenario))
    T, N, cores = sc.horizon, sc.n_actors, default_workers()
    # Warm up: the first call of each compiled function loads it from Numba's cache (or compiles it,
    # after an install or an edit), which is no part of a run's cost.
    EscalationModel(sc, rng=0).run()
    run_ensemble(sc, BLOCK_SIZE, 0, workers=1)
    print(f"scenario {sc.name}: {N} actors, {T} steps; {cores} cores; median of {args.repeats} repeats")

    mesa_seconds = mesa_run_time(sc, args.mesa_runs)
    mesa = 1 / mesa_seconds
    mesa_steps = mesa * T * N
    print(f"  {'Mesa engine, 1 core':36}{f'{mesa:,.1f} runs/s':>18}  {mesa_steps:,.0f} agent-steps/s")
    print(f"  {f'Mesa / goal of {MESA_GOAL:,} agent-steps/s':37}{mesa_steps / MESA_GOAL:10.2f}x   (>= 1)")
    print(f"  Mesa step, {1e6 * mesa_seconds / T:,.0f} us; what each part costs (the step without it):")
    for part, seconds in mesa_step_parts(sc, args.mesa_runs).items():
        if part == ALL_OFF:
            label = "the rest: kernel, draws, publishing"
            print(f"    {label:36}{1e6 * seconds / T:6.0f} us (the step with all of them off)")
        else:
            print(f"    {part:36}{1e6 * (mesa_seconds - seconds) / T:6.0f} us")
    if args.mesa_only:
        return

    one_runs = 8 * BLOCK_SIZE
    all_runs = one_runs * cores
    t_one = median_time(lambda: run_ensemble(sc, one_runs, 0, workers=1), args.repeats)
    t_all = median_time(lambda: run_ensemble(sc, all_runs, 0, workers=cores), args.repeats)
    t_draw = median_time(lambda: draw_only(sc, one_runs), args.repeats)
    ens1, ens_all = one_runs / t_one, all_runs / t_all

    rows = [
        ("ensemble, 1 core", f"{ens1:,.0f} runs/s", f"{ens1 * T * N:,.0f} agent-steps/s"),
        (f"ensemble, {cores} cores", f"{ens_all:,.0f} runs/s", f"{ens_all * T * N:,.0f} agent-steps/s"),
        ("drawing the numbers alone, 1 core", f"{one_runs / t_draw:,.0f} runs/s", ""),
    ]
    for label, a, b in rows:
        print(f"  {label:36}{a:>18}  {b}")
    print("ratios (target):")
    print(f"  ensemble 1 core / Mesa               {ens1 / mesa:10.1f}x")
    print(f"  ensemble {cores} cores / 1 core            {ens_all / ens1:10.2f}x   (>= 1.8 on 2 cores)")
    print(f"  engine time / draw time, 1 core      {t_one / t_draw:10.2f}    (<= 2)")

    print("peak memory (fresh process each; main process and largest worker):")
    sizes = [10_000, 100_000] if args.quick else [10_000, 100_000, 1_000_000]
    peaks = []
    for runs in sizes:
        done = subprocess.run([sys.executable, __file__, "--scenario", str(args.scenario), "--memory-probe",
                               str(runs)], capture_output=True, text=True, check=True)
        probe = json.loads(done.stdout)
        peaks.append(probe["main_mib"] + probe["worker_mib"])
        print(f"  {runs:>9,} runs: main {probe['main_mib']:7.1f} MiB, worker {probe['worker_mib']:7.1f} MiB, "
              f"{probe['seconds']:7.1f} s ({runs / probe['seconds']:,.0f} runs/s)")
    print(f"  peak at {sizes[-1]:,} / peak at {sizes[0]:,} runs    {peaks[-1] / peaks[0]:6.2f}    (<= 1.5)")


if __name__ == "__main__":
    main()
