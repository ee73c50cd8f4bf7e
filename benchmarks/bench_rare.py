"""Rare outcomes: adaptive multilevel splitting (sim/analysis/rare.py) against crude Monte Carlo.

    python benchmarks/bench_rare.py            # the small model at 1e-3, 1e-4, 1e-6, then korea_baseline war
    python benchmarks/bench_rare.py --quick    # fewer repetitions and repeats, no korea_baseline part

Part 1, the small model of tests/analysis/test_rare.py (two actors, no noise, no threat memory, accidents at
rungs 3 and above), whose exact probabilities are known: for targets near 1e-3, 1e-4 and 1e-6 it
times crude Monte Carlo (the ensemble engine) and AMS, each `--repeat` times, and prints the medians
of the timings, the relative error of one AMS repetition, and the work-normalised variance gain

    gain = [p (1 - p) x (crude seconds per run)] / [variance of one AMS repetition x (its seconds)],

the factor by which AMS beats crude Monte Carlo at equal wall time (and the same in model steps).
Then P about 1e-6 at 10% relative error: repetitions until the t interval's relative error is 10%,
and the wall time that took.

Part 2, scenarios/korea_baseline.toml, P(war): AMS for a fixed budget of repetitions, its estimate,
interval, relative error and time, and what crude Monte Carlo would need for the same relative error.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from sim.analysis import rare, splitting  # noqa: E402
from sim.model.compile import compile_scenario  # noqa: E402
from sim.engines.parallel import default_workers  # noqa: E402
from sim.model.scenario import load_scenario, validate_scenario  # noqa: E402
from sim.engines.simulate import simulate  # noqa: E402
from test_rare import chain_raw, exact_probability  # noqa: E402

# (label, chain parameters, target): P(war) near 1e-3, 1e-4 and 1e-6, exactly known
CASES = [
    ("1e-3", dict(h=0.005, accident=[0, 0, 0, 0.025, 0.025, 0], cool=0.3, horizon=100), 5),
    ("1e-4", dict(h=0.005, accident=[0, 0, 0, 0.006, 0.006, 0], cool=0.3, horizon=100), 5),
    ("1e-6", dict(h=0.005, accident=[0, 0, 0, 0.0006, 0.0006, 0], cool=0.3, horizon=100), 5),
]


def median_time(fn, repeat):
    times, out = [], []
    for i in range(repeat):
        t0 = time.perf_counter()
        out.append(fn(i))
        times.append(time.perf_counter() - t0)
    return float(np.median(times)), out


def crude_seconds_per_run(sc, runs, workers, repeat):
    seconds, _ = median_time(lambda i: simulate(sc, runs, seed=100 + i, workers=workers, per_run=False), repeat)
    return seconds / runs


def ams_reps(sc, target, replicas, repetitions, workers, repeat, score):
    """Median seconds per repetition and every repetition's estimate and steps, over `repeat` seeds."""
    seconds, results = median_time(
        lambda i: rare.estimate_rare(sc, target, replicas=replicas, repetitions=repetitions, seed=200 + i,
                                     score=score, workers=workers), repeat)
    est = np.concatenate([r.estimates for r in results])
    steps = np.mean([x.steps for r in results for x in r.repetitions])
    return seconds / repetitions, est, steps


def part_small_model(args, workers):
    print(f"Part 1: the small model (two actors, 100 days), {workers} workers, medians of {args.repeat} timings")
    print(f"{'target':>8}{'exact p':>11}{'AMS mean':>11}{'rel.err/rep':>13}{'AMS s/rep':>11}{'crude s/run':>13}"
          f"{'gain (time)':>13}{'gain (steps)':>14}")
    for label, params, target in CASES:
        sc = compile_scenario(validate_scenario(chain_raw(**params), "chain"))
        p = exact_probability(**params, target=target)
        t_run = crude_seconds_per_run(sc, args.crude_runs, workers, args.repeat)
        t_rep, est, steps = ams_reps(sc, str(target), args.replicas, args.repetitions, workers, args.repeat,
                                     args.score)
        var = est.var(ddof=1)
        gain_time = p * (1 - p) * t_run / (var * t_rep)
        gain_steps = p * (1 - p) * sc.horizon / (var * steps)
        print(f"{label:>8}{p:11.3g}{est.mean():11.3g}{np.sqrt(var) / p:13.2f}{t_rep:11.3f}{t_run:13.2e}"
              f"{gain_time:13.3g}{gain_steps:14.3g}", flush=True)

    label, params, target = CASES[-1]
    sc = compile_scenario(validate_scenario(chain_raw(**params), "chain"))
    p = exact_probability(**params, target=target)
    t0 = time.perf_counter()
    batch, est = max(8, 4 * workers), np.zeros(0)
    while True:  # repetitions in batches until the t interval's relative error is at most 10%
        res = rare.estimate_rare(sc, str(target), replicas=args.replicas, repetitions=batch,
                                 seed=1000 + len(est), score=args.score, workers=workers)
        est = np.concatenate([est, res.estimates])
        rel = est.std(ddof=1) / np.sqrt(len(est)) / est.mean() if est.mean() > 0 else np.inf
        if rel <= 0.10 or time.perf_counter() - t0 > 600:
            break
    seconds = time.perf_counter() - t0
    print(f"P about 1e-6 (exact {p:.3g}): AMS {est.mean():.3g}, relative error {rel:.1%} after {len(est)} repetitions "
          f"of {args.replicas} replicas in {seconds:.1f} s on {workers} workers "
          f"({'under' if seconds < 60 else 'over'} 60 s); crude Monte Carlo would need "
          f"{(1 - p) / (p * rel**2):.3g} runs", flush=True)


def part_korea(args, workers):
    sc = compile_scenario(load_scenario(ROOT / "scenarios" / "korea_baseline.toml"))
    t_run = crude_seconds_per_run(sc, 8192, workers, args.repeat)
    t0 = time.perf_counter()
    res = rare.estimate_rare(sc, "war", replicas=args.korea_replicas, repetitions=args.korea_repetitions, seed=7,
                             score=args.score, workers=workers)
    seconds = time.perf_counter() - t0
    s = rare.summarise_rare(res)
    p, rel = s["estimate"], s["relative_error"]
    crude = (1 - p) / (p * rel**2)  # runs for the same relative error
    print(f"\nPart 2: korea_baseline P(war): AMS {p:.3g} [{s['ci_low']:.3g}, {s['ci_high']:.3g}], relative error "
          f"{rel:.0%}, {s['repetitions']} x {s['replicas']} replicas in {seconds:.1f} s ({s['model_steps']:.3g} model "
          f"steps); crude Monte Carlo: {t_run * 1e3:.2f} ms a run, {crude:.3g} runs ({crude * t_run / 3600:.3g} h) "
          f"for that error: gain {crude * t_run / seconds:.3g} in time")
    paths = s["paths"]
    if paths:
        print(f"  paths to war: {paths['began_with_mde']:.0%} began with a misperception-driven escalation; first to "
              "climb: " + ", ".join(f"{a} {v:.0%}" for a, v in paths["first_climber"].items()))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer repetitions and repeats; skip korea_baseline")
    ap.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    ap.add_argument("--repeat", type=int, default=3, help="timings per figure; medians are printed")
    ap.add_argument("--replicas", type=int, default=200)
    ap.add_argument("--repetitions", type=int, default=100, help="AMS repetitions per timing (part 1)")
    ap.add_argument("--crude-runs", type=int, default=32_768)
    ap.add_argument("--korea-replicas", type=int, default=400)
    ap.add_argument("--korea-repetitions", type=int, default=40)
    ap.add_argument("--score", default=splitting.DEFAULT_SCORE, choices=sorted(splitting.SCORES))
    args = ap.parse_args()
    if args.quick:
        args.repeat, args.repetitions, args.crude_runs = 1, 40, 16_384
    workers = args.workers or default_workers()
    part_small_model(args, workers)
    if not args.quick:
        part_korea(args, workers)


if __name__ == "__main__":
    main()
