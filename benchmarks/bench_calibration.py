"""Wall time of the Bayesian calibration (issue 11's goal: under 15 minutes on 2 cores), and what the
shared pool of years buys a calibration batch.

Usage: python benchmarks/bench_calibration.py [--file calibration/korea.toml] [--repeats 3] [--quick]

Prints, from one run of this script (these machines are noisy: compare ratios, not absolutes):
- one calibration batch (``batch_size`` parameter vectors, one 11-year history each) on 1 worker and
  on all cores, the median of ``--repeats``, and their ratio;
- the whole calibration as ``escsim calibrate`` runs it (ABC-SMC, then the posterior predictive
  check), its wall time, histories simulated, histories per second, effective sample size, and the
  ratio to the 15-minute goal. ``--quick`` runs 200 samples and 3 rounds instead of the file's, for
  a look in a minute or two (not the figure to quote). Needs the ``calibrate`` extra (ELFI).
Nothing is written: the posterior goes to a temporary directory.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sim.calibrate import load_calibration, simulate_statistics  # noqa: E402
from sim.parallel import default_workers  # noqa: E402

GOAL_SECONDS = 15 * 60


def batch_seconds(cal, workers: int, repeats: int) -> float:
    """Median seconds of one calibration batch at the priors' midpoints."""
    n = cal.meta.batch_size
    values = {p.key: np.full(n, (p.range[0] + p.range[1]) / 2) for p in cal.spec.priors}
    times = []
    for r in range(repeats):
        start = time.perf_counter()
        simulate_statistics(cal, values, r, workers=workers)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", type=Path, default=ROOT / "calibration" / "korea.toml")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="200 samples, 3 rounds (not the figure to quote)")
    args = parser.parse_args()
    cal = load_calibration(args.file)
    cores = default_workers()
    print(f"calibration {cal.meta.name}: {len(cal.years)} years, batch of {cal.meta.batch_size} histories, "
          f"{cores} cores")
    one, all_ = batch_seconds(cal, 1, args.repeats), batch_seconds(cal, cores, args.repeats)
    print(f"one batch: {one:.2f} s on 1 worker, {all_:.2f} s on {cores} (median of {args.repeats}); "
          f"ratio {one / all_:.2f}x")
    command = [sys.executable, "-m", "sim", "calibrate", str(args.file)]
    if args.quick:
        command += ["--samples", "200", "--rounds", "3"]
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        done = subprocess.run([*command, "--out", out], capture_output=True, text=True, cwd=ROOT)
        seconds = time.perf_counter() - start
    if done.returncode:
        print(done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "calibration failed")
        return done.returncode
    headline = next(line for line in done.stdout.splitlines() if "simulated histories" in line)
    histories = int(headline.split(":", 1)[1].split("simulated")[0].replace(",", ""))
    print(f"whole calibration{' (--quick)' if args.quick else ''}: {seconds:.0f} s wall time "
          f"({seconds / 60:.1f} min), {histories:,} histories, {histories / seconds:.0f} histories/s")
    print(f"  {headline.strip()}")
    print(f"ratio to the 15-minute goal: {seconds / GOAL_SECONDS:.2f} (goal <= 1)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
