"""Sweep throughput: points per second on 1 and on all cores, for a small grid on a shipped scenario.

Usage: python benchmarks/bench_sweep.py [--points 8] [--runs 2048] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sim.analysis.experiment import load_experiment  # noqa: E402
from sim.engines.parallel import default_workers  # noqa: E402
from sim.analysis.sweep import run_sweep  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=8)
    parser.add_argument("--runs", type=int, default=2048)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.toml"
        path.write_text(f"""[experiment]
name = "bench"
scenario = "{ROOT / 'scenarios' / 'korea_baseline.toml'}"
runs = {args.runs}
seed = 1
[[parameters]]
key = "alliances.us_rok.cohesion"
range = [0.0, 1.0]
steps = {args.points}
""")
        exp = load_experiment(path)
        cores = default_workers()
        rates = {}
        for workers in sorted({1, cores}):
            times = []
            for r in range(args.repeats):
                start = time.perf_counter()
                run_sweep(exp, Path(tmp) / f"out{workers}-{r}", workers=workers)
                times.append(time.perf_counter() - start)
            rates[workers] = args.points / statistics.median(times)
    print(f"sweep of {args.points} points x {args.runs:,} runs of korea_baseline; median of {args.repeats}")
    for workers, rate in rates.items():
        print(f"  {workers} worker(s): {rate:6.2f} points/s  ({rate * args.runs:,.0f} runs/s)")
    if len(rates) > 1:
        print(f"  speed-up {cores} / 1 workers: {rates[cores] / rates[1]:.2f}x")


if __name__ == "__main__":
    main()
