"""Rare outcomes: adaptive multilevel splitting with conditional Monte Carlo of the last jump, against crude Monte Carlo.

    python benchmarks/bench_rare.py            # chains at 1e-4 .. 1e-10, 1e-8 to 10%, then korea_baseline
    python benchmarks/bench_rare.py --quick    # one repeat, no korea_baseline part
    python benchmarks/bench_rare.py --korea-only

Part 1, a two-actor chain of tests/analysis/test_rare_jumps.py (both provoke at rung 2 and climb, accidents at
rung 2 of 1%, and at rung 3 the accident rate into the crisis set so that P is 1e-4, 1e-6, 1e-8 and
1e-10, each exactly known): for each, `--repeat` estimates of `--repetitions` AMS repetitions on
`--workers` processes, and the medians over the repeats of the relative error (standard error / mean),
the wall time, and the gain over crude Monte Carlo at equal wall time,

    gain = [p (1 - p) x (crude seconds per run)] / [variance of one AMS repetition x (its seconds)],

crude Monte Carlo timed on the same chain with the ensemble engine. Then P about 1e-8 at 10% relative
error: repetitions in batches until the t interval's relative error is 10%, and the wall time it took.

Part 2, scenarios/korea_baseline.toml at its point values (no posterior), P(war) and P(nuclear use) with
120 repetitions of 200 replicas (about 10% relative error): medians over the repeats of the estimate, its
interval, the relative error, the wall time, the seconds crude Monte Carlo would need for the same
relative error (timed in the same run, without the perfect-perception twins P(war) does not need), and
their ratio, the gain.
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
sys.path.insert(0, str(ROOT / "tests" / "analysis"))

from sim.analysis import rare  # noqa: E402
from sim.engines.parallel import default_workers  # noqa: E402
from sim.engines.simulate import simulate  # noqa: E402
from sim.model.compile import compile_scenario  # noqa: E402
from sim.model.scenario import load_scenario, validate_scenario  # noqa: E402
from test_rare_jumps import chain_scenario, tuned  # noqa: E402

ACTORS = [dict(h=0.01, ceiling=3, threshold=1.0, cool=0.3, rung=2), dict(h=0.005, ceiling=3, threshold=1.0, cool=0.3,
                                                                        rung=2)]
AIMS = [1e-4, 1e-6, 1e-8, 1e-10]


def chain(aim):
    """The chain near ``aim`` (compiled) and its exact P(crisis)."""
    actors, accident, T, _, exact, _ = tuned((ACTORS, [0.0, 0.0, 0.01, 0.0, 0.0, 0.0], 100, 4, aim))
    return compile_scenario(validate_scenario(chain_scenario(actors, accident, T), "chain")), exact


def crude_seconds_per_run(sc, runs, workers):
    t0 = time.perf_counter()
    simulate(sc, runs, seed=100, workers=workers, per_run=False)
    return (time.perf_counter() - t0) / runs


def timed_estimate(sc, target, args, workers, seed, replicas=None, repetitions=None):
    """One estimate: its summary, its repetitions' estimates and its wall time."""
    t0 = time.perf_counter()
    res = rare.estimate_rare(sc, target, replicas=replicas or args.replicas, repetitions=repetitions or args.repetitions,
                             seed=seed, workers=workers)
    return rare.summarise_rare(res), res.estimates, time.perf_counter() - t0


def row(p, s, est, seconds, t_run):
    """Relative error, seconds and the gain in wall time over crude Monte Carlo of one estimate."""
    var = est.var(ddof=1)
    gain = p * (1 - p) * t_run / (var * seconds / len(est)) if var > 0 else np.inf
    return s["relative_error"] or 0.0, seconds, gain


def part_chains(args, workers):
    print(f"Part 1: a two-actor chain (100 days), {args.repetitions} x {args.replicas} replicas, {workers} workers, "
          f"medians of {args.repeat}")
    print(f"{'aim':>7}{'exact p':>11}{'estimate':>11}{'covered':>9}{'rel.err':>9}{'seconds':>9}{'gain (time)':>13}")
    for aim in AIMS:
        sc, p = chain(aim)
        t_run = crude_seconds_per_run(sc, args.crude_runs, workers)
        rows, covered, means = [], 0, []
        for i in range(args.repeat):
            s, est, seconds = timed_estimate(sc, "4", args, workers, 200 + i)
            rows.append(row(p, s, est, seconds, t_run))
            covered += s["ci_low"] * (1 - 1e-9) <= p <= s["ci_high"] * (1 + 1e-9)
            means.append(s["estimate"])
        rel, seconds, gain = np.median(rows, axis=0)
        print(f"{aim:>7.0e}{p:11.3g}{np.median(means):11.3g}{covered:>6}/{args.repeat}{rel:9.1%}{seconds:9.1f}"
              f"{gain:13.3g}", flush=True)
    sc, p = chain(1e-8)
    t0, est, batch = time.perf_counter(), np.zeros(0), max(8, 4 * workers)
    while True:  # repetitions in batches until the relative error is at most 10%
        res = rare.estimate_rare(sc, "4", replicas=args.replicas, repetitions=batch, seed=1000 + len(est),
                                 workers=workers)
        est = np.concatenate([est, res.estimates])
        rel = est.std(ddof=1) / np.sqrt(len(est)) / est.mean() if est.mean() > 0 else np.inf
        if rel <= 0.10 or time.perf_counter() - t0 > 600:
            break
    seconds = time.perf_counter() - t0
    print(f"P about 1e-8 (exact {p:.3g}): {est.mean():.3g}, relative error {rel:.1%} after {len(est)} repetitions of "
          f"{args.replicas} replicas in {seconds:.1f} s on {workers} workers ({'under' if seconds <= 60 else 'over'} "
          f"60 s); crude Monte Carlo would need {(1 - p) / (p * rel**2):.3g} runs", flush=True)


def part_korea(args, workers):
    """korea_baseline at point values: P(war) and P(nuclear use) with --korea-repetitions x --korea-replicas
    (enough for about 10% relative error), against crude Monte Carlo of the same runs without their
    perfect-perception twins (which P(war) does not need), timed in this run on the same workers."""
    sc = compile_scenario(load_scenario(ROOT / "scenarios" / "korea_baseline.toml"))  # point values
    simulate(sc, 1024, seed=99, workers=workers, per_run=False, twins=False)  # warm: compiled rules, the pool
    t0 = time.perf_counter()
    crude = simulate(sc, args.korea_crude_runs, seed=100, workers=workers, per_run=False, twins=False)
    t_run = (time.perf_counter() - t0) / args.korea_crude_runs
    p_crude = crude.totals.war / args.korea_crude_runs
    print(f"\nPart 2: korea_baseline at point values, {args.korea_repetitions} x {args.korea_replicas} replicas, "
          f"{workers} workers, medians of {args.korea_repeat}; crude Monte Carlo (no twins) {t_run * 1e3:.3f} ms a run, "
          f"P(war) {p_crude:.3g} from {args.korea_crude_runs:,} runs")
    print(f"{'target':>14}{'estimate':>11}{'95% interval':>24}{'rel.err':>9}{'seconds':>9}{'crude s, same err':>19}"
          f"{'gain (time)':>13}")
    for target, label in (("war", "P(war)"), ("nuclear", "P(nuclear use)")):
        out = []
        for i in range(args.korea_repeat):
            s, est, seconds = timed_estimate(sc, target, args, workers, 7 + i, args.korea_replicas,
                                             args.korea_repetitions)
            p, rel = s["estimate"], s["relative_error"]
            crude_s = (1 - p) / (p * rel**2) * t_run  # crude runs for the same relative error, timed
            out.append((p, s["ci_low"], s["ci_high"], rel, seconds, crude_s, crude_s / seconds))
        p, lo, hi, rel, seconds, crude_s, gain = np.median(out, axis=0)
        print(f"{label:>14}{p:11.3g}   [{lo:9.3g}, {hi:9.3g}]{rel:9.1%}{seconds:9.1f}{crude_s:19.1f}{gain:13.3g}",
              flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="one repeat; skip korea_baseline")
    ap.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    ap.add_argument("--repeat", type=int, default=3, help="estimates per figure; medians are printed")
    ap.add_argument("--replicas", type=int, default=100)
    ap.add_argument("--repetitions", type=int, default=40, help="AMS repetitions per estimate (part 1)")
    ap.add_argument("--crude-runs", type=int, default=32_768)
    ap.add_argument("--korea-replicas", type=int, default=200)
    ap.add_argument("--korea-repetitions", type=int, default=120, help="about 10%% relative error on korea_baseline")
    ap.add_argument("--korea-repeat", type=int, default=3, help="estimates per korea_baseline figure")
    ap.add_argument("--korea-crude-runs", type=int, default=65_536)
    ap.add_argument("--korea-only", action="store_true", help="skip the chains")
    args = ap.parse_args()
    if args.quick:
        args.repeat, args.crude_runs = 1, 16_384
    workers = args.workers or default_workers()
    if not args.korea_only:
        part_chains(args, workers)
    if not args.quick:
        part_korea(args, workers)


if __name__ == "__main__":
    main()
