"""The calibration at full size, as ``escsim calibrate`` runs it: wall time (goal: under 15 minutes on 2 cores), and the coverage check's result per parameter.

Usage: python benchmarks/bench_calibration.py [--file calibration/korea.toml] [--quick] [--shared-stream-bug]

Runs ``escsim calibrate FILE`` in this process (reference table, posterior, coverage check on the
file's data sets, posterior predictive check) into a temporary directory, and prints:
- the table's size, the posterior's samples and effective sample size, and the wall time of each
  part and of the whole command, with its ratio to the 15-minute goal;
- per parameter, the share of the coverage data sets whose true value lies in the posterior's
  central 50% and 90% intervals, with its 95% Wilson interval, against the 99% family-wise band a
  calibrated posterior's share falls in (binomial, Bonferroni over the 14 counts);
- the posterior's 90% interval per parameter.
``--quick`` uses the slow test's size (a table of 32,768 histories, 500 samples, 300 data sets),
not the figure to quote. ``--shared-stream-bug`` reintroduces, while the table is simulated and
nowhere else, the bug of commit eb79668 (every year of a calibration history drew one stream: the
YEAR child of a calibration batch's root was the root itself), to show that the coverage check
catches a calibration whose simulator differs from the model the rest of the tool runs.
Nothing is written outside the temporary directory.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import sim.data.calibrate as calibrate_module  # noqa: E402
from sim.engines import draws  # noqa: E402
from sim.ui.cli import main as escsim  # noqa: E402
from sim.engines.parallel import default_workers  # noqa: E402
from sim.core.stats import wilson_interval  # noqa: E402

GOAL_SECONDS = 15 * 60
QUICK = {"table": 32768, "samples": 500, "coverage": 300}


@contextlib.contextmanager
def shared_year_streams():
    """The bug of commit eb79668, for the table only: year Y of a calibration batch's history draws
    from the batch's root itself instead of its (YEAR, Y) child, so every year draws one stream."""
    child, build = draws.child, calibrate_module.build_table

    def collapsed(seed, purpose, *index):
        root = draws.as_root(seed)
        if purpose == draws.Stream.YEAR and root.spawn_key[:1] == (int(draws.Stream.CALIBRATION),):
            return root
        return child(seed, purpose, *index)

    def buggy_table(*args, **kwargs):
        draws.child = collapsed
        try:
            return build(*args, **kwargs)
        finally:
            draws.child = child

    calibrate_module.build_table = buggy_table
    try:
        yield
    finally:
        calibrate_module.build_table = build


def calibration_copy(path: Path, directory: Path, quick: bool) -> Path:
    """The calibration file with its hindcast path made absolute (and the quick sizes), in ``directory``."""
    text = path.read_text()
    hindcast = next(line for line in text.splitlines() if line.startswith("hindcast = ")).split('"')[1]
    text = text.replace(f'hindcast = "{hindcast}"', f'hindcast = "{(path.parent / hindcast).resolve()}"')
    if quick:
        for key, value in QUICK.items():
            text = text.replace(f"\n{key} = ", f"\n{key} = {value} #", 1)
    copy = directory / path.name
    copy.write_text(text)
    return copy


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", type=Path, default=ROOT / "calibration" / "korea.toml")
    parser.add_argument("--quick", action="store_true", help="the slow test's size (not the figure to quote)")
    parser.add_argument("--shared-stream-bug", action="store_true",
                        help="reintroduce commit eb79668's bug while the table is simulated")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        path = calibration_copy(args.file, tmp, args.quick)
        bug = shared_year_streams() if args.shared_stream_bug else contextlib.nullcontext()
        start = time.perf_counter()
        with bug:
            code = escsim(["calibrate", str(path), "--out", str(tmp)])
        seconds = time.perf_counter() - start
        if code:
            return code
        name = next(tmp.glob("*_posterior.json"))
        report = json.loads(name.read_text())
    m, t, cov = report["method"], report["timing"], report["coverage"]
    print()
    print(f"calibration {report['calibration']}{' (--quick)' if args.quick else ''}"
          f"{' WITH THE SHARED-STREAM BUG in the table' if args.shared_stream_bug else ''}: "
          f"{default_workers()} cores")
    print(f"reference table: {m['table']:,} histories in {t['table']:.0f} s ({m['table'] / t['table']:.0f} histories/s); "
          f"posterior: the {m['samples']:,} nearest ({m['acceptance']:.2%}), {m['adjustment']} adjustment, "
          f"effective sample size {report['effective_sample_size']:.0f}, {t['posterior']:.1f} s")
    print(f"coverage check: {cov['data_sets']:,} data sets, {t['coverage']:.0f} s; posterior predictive check: "
          f"{report['check']['runs']:,} histories, {t['check']:.0f} s")
    print(f"whole command: {seconds:.0f} s wall time ({seconds / 60:.1f} min); ratio to the 15-minute goal "
          f"{seconds / GOAL_SECONDS:.2f} (goal <= 1)")
    M = cov["data_sets"]
    print(f"coverage per parameter: share of {M} data sets whose true value lies in the central interval "
          f"[95% Wilson interval]; a calibrated posterior's share lies in the band "
          f"({cov['confidence']:.0%} family-wise):")
    levels = cov["levels"]
    print(f"  {'':50}" + "".join(f"{float(lv):.0%} band [{e['band_share'][0]:.3f}, {e['band_share'][1]:.3f}]".ljust(34)
                                 for lv, e in levels.items()) + "posterior 90% interval")
    for key in report["keys"]:
        cells = []
        for e in levels.values():
            k = e["covered"][key]
            _, lo, hi = wilson_interval(k, M)
            cells.append(f"{k / M:.3f} [{float(lo):.3f}, {float(hi):.3f}]{'' if e['inside_band'][key] else ' OUTSIDE'}"
                         .ljust(34))
        s = report["posterior"][key]
        print(f"  {key:50}" + "".join(cells) + f"[{s['q05']:.4g}, {s['q95']:.4g}]")
    print(f"coverage check: {'passed' if cov['passed'] else 'FAILED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
