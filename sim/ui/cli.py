"""The `escsim` command line: parse, call the API, print. No model logic lives here."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from sim.core.errors import InputError
from sim.engines.resolve import DEFAULT_DRAWS, DEFAULT_RUNS



def _whole_number(minimum: int):
    """An argparse type: a whole number >= ``minimum``, with a message naming what was wrong."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value

    return parse


_positive_int = _whole_number(1)
_seed = _whole_number(0)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="escsim", description="Estimate the probability of miscalculation in escalation scenarios.")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run a scenario's ensemble, print its headline numbers, write results")
    run.add_argument("scenario", type=Path, help="scenario TOML file")
    run.add_argument("--runs", type=_positive_int,
                     help=f"number of runs (default: {DEFAULT_DRAWS} posterior draws x the scenario's runs_per_draw "
                          f"when the runs draw from a posterior, else {DEFAULT_RUNS['ensemble']:,} with the ensemble "
                          f"engine, {DEFAULT_RUNS['mesa']} with mesa)")
    run.add_argument("--seed", type=_seed, default=0, help="seed; the same seed gives the same numbers")
    run.add_argument("--out", type=Path, help="results directory (default: results/SCENARIO_NAME, with the --set "
                     "overrides and a --posterior other than the scenario's appended, so a what-if never replaces "
                     "the plain run)")
    run.add_argument("--engine", choices=sorted(DEFAULT_RUNS), default="ensemble",
                     help="ensemble: all runs as NumPy arrays (default); mesa: one Mesa model per run")
    run.add_argument("--workers", type=_positive_int, help="processes to use (default: all cores)")
    run.add_argument("--runs-table", choices=("auto", "yes", "no"), default="auto",
                     help="write runs.csv, one row per run (auto: up to 100,000 runs)")
    run.add_argument("--json", action="store_true", help="print the summary as JSON instead of a table")
    run.add_argument("--no-plot", action="store_true", help="skip the escalation-curve figure")
    run.add_argument("--posterior", metavar="FILE|none",
                     help="draw each run's parameters from this posterior (escsim calibrate's CSV); default: the "
                          "scenario's own 'posterior', if it names one; 'none' runs the scenario's point values")
    run.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a scenario value: a dotted key path "
                     "and a TOML value (alliances.us_rok.cohesion=0.95); repeat for more (give --out to keep the "
                     "results of the scenario as written)")
    run.add_argument("--rare", action="append", metavar="TARGET",
                     help="also estimate P(TARGET reached within the horizon) by adaptive multilevel splitting, "
                          "for outcomes too rare for the runs: crisis, war, nuclear, a rung's name or number; "
                          "repeat for more")
    run.add_argument("--replicas", type=int, metavar="N", help="--rare: replicas per AMS repetition (default 200)")
    run.add_argument("--repetitions", type=int, metavar="R",
                     help="--rare: independent AMS repetitions, whose mean and t interval are reported (default 20)")
    run.add_argument("--score", choices=("progress", "rung"), default="progress",
                     help="--rare: the AMS score: the highest rung an actor stands at plus the postures and threat "
                          "of all (default), or the highest rung realised alone")

    sw = sub.add_parser("sweep", help="run an experiment: one ensemble per point, resumable")
    sw.add_argument("experiment", type=Path, help="experiment TOML file")
    sw.add_argument("--out", type=Path, help="results directory (default: results/EXPERIMENT_NAME)")
    sw.add_argument("--workers", type=_positive_int, help="processes on this machine (default: all cores)")
    sw.add_argument("--runs", type=_positive_int, help="runs per point, overriding the file (a quick look)")
    sw.add_argument("--scheduler", metavar="ADDRESS",
                    help="run the points on this Dask scheduler (e.g. tcp://10.0.0.5:8786); needs the dask extra")

    pl = sub.add_parser("plot", help="draw figures from results directories",
                        description="Draw figures from results directories. A flag the chosen figure does not "
                        "read, a name not in the results, or a design the figure cannot show is refused "
                        "(exit 2) and nothing is written.")
    pl.add_argument("results", type=Path, nargs="+", help="one escsim run directory, or escsim sweep directories "
                    "(several only for response: one-parameter grids over the same parameter, overlaid)")
    pl.add_argument("--kind", choices=("curves", "paths", "response", "effects", "scatter", "map", "sensitivity"),
                    help="which figure. A run: curves, paths (default: both). A sweep (default by its design): "
                    "response (a grid of one parameter, or of two: one line per level of the other; not OAT: "
                    "use effects), effects (grid or oat), scatter (numeric parameters), map (a grid of two "
                    "numeric parameters), sensitivity (a saltelli sweep)")
    pl.add_argument("--out", type=Path, help="write this one file (.png, .svg or .pdf; missing folders are made) "
                    "instead of the figure's PNG and SVG inside RESULTS; on a run directory it needs --kind")
    pl.add_argument("--x", help="response and map: the sweep parameter on the x axis (default: the first numeric "
                    "one); others refuse it")
    pl.add_argument("--y", help="map only: the sweep parameter on the y axis (default: the other one)")
    pl.add_argument("--output", help="sweeps: the probability drawn, one of the sweep's outputs (default: "
                    "response and effects draw a panel per output, the others p_miscalculation)")
    pl.add_argument("--risk", type=float, help="map only: a probability in (0, 1) whose contour is drawn")

    cal = sub.add_parser("calibrate", help="Bayesian calibration on the record 2011-2021 (reference-table ABC, with "
                         "its coverage check)")
    cal.add_argument("calibration", type=Path, help="calibration TOML file (e.g. calibration/korea.toml)")
    cal.add_argument("--samples", type=_positive_int, help="posterior sample: the N simulated histories nearest the "
                     "record, overriding the file's samples (the coverage check keeps as many)")
    cal.add_argument("--rounds", type=_positive_int, help=argparse.SUPPRESS)  # ABC-SMC's; refused, with why
    cal.add_argument("--workers", type=_positive_int, help="processes to use (default: all cores; the numbers do not "
                     "depend on it)")
    cal.add_argument("--out", type=Path, help="directory for the posterior (default: beside the calibration file)")

    rpt = sub.add_parser("report", help="write experiments/README.md from the experiments' sweep results")
    rpt.add_argument("experiments", type=Path, nargs="+", help="experiment TOML files, in page order")
    rpt.add_argument("--results", type=Path, default=Path("results"),
                     help="where the sweeps' results are, one directory per experiment name (default: results)")
    rpt.add_argument("--out", type=Path, default=Path("experiments/README.md"), help="the page to write")
    rpt.add_argument("--above", type=float, default=0.05, help="sampling sweeps: the P(miscalculation) whose boxes "
                     "'when is the risk high?' finds (default 0.05; needs the discover extra)")

    ap = sub.add_parser("app", help="open the interactive page (needs the app extra): solara run sim/ui/app.py")
    ap.add_argument("--host", default="127.0.0.1", help="address to serve on (default: this machine only)")
    ap.add_argument("--port", type=_positive_int, default=8765, help="port (default 8765)")

    rep = sub.add_parser("replay", help="replay one run in the Mesa engine and show what changed, day by day",
                         description="Replay run K of a scenario's ensemble (ensemble engine, seed S), or of an "
                         "escsim run results directory, whose manifest gives the scenario as resolved, seed, engine "
                         "and runs. Prints each change of rung, provocation, accident, misperception-driven "
                         "escalation, and each actor's crisis and war as it begins and ends, then the run's outcomes "
                         "as runs.csv has them.")
    rep.add_argument("target", type=Path, metavar="SCENARIO|RESULTS",
                     help="a scenario TOML file, or a results directory written by escsim run")
    rep.add_argument("--run", type=_seed, required=True, help="the run's index in the ensemble (runs.csv 'run')")
    rep.add_argument("--seed", type=_seed, help="a scenario file's ensemble seed (default 0); a results directory's "
                     "manifest gives its own, so --seed is refused there")
    rep.add_argument("--out", type=Path, help="write the run's day-by-day path to this CSV file")

    hc = sub.add_parser("hindcast", help="simulate each year of the record (2011-2021) and compare with it")
    hc.add_argument("hindcast", type=Path, help="hindcast TOML file (e.g. calibration/hindcast.toml)")
    hc.add_argument("--runs", type=_positive_int, default=4096, help="runs per year (default 4,096)")
    hc.add_argument("--seed", type=_seed, default=0, help="seed; year Y draws from its own stream of it")
    hc.add_argument("--workers", type=_positive_int, help="processes to use (default: all cores)")
    hc.add_argument("--out", type=Path, help="results directory (default: results/HINDCAST_NAME)")
    hc.add_argument("--no-plot", action="store_true", help="skip the figure")
    hc.add_argument("--posterior", metavar="FILE|none",
                    help="draw each history's parameters from this posterior; default: the template scenario's own "
                         "'posterior', if it names one; 'none' runs the template's point values")

    cmp = sub.add_parser("compare", help="run scenarios on the same random numbers and print paired differences",
                         description="Run every scenario on the same random numbers (or read escsim run directories "
                         "whose seed, stream and runs match) and print, against the first, each probability's "
                         "difference and ratio with 95%% paired intervals (Newcombe's hybrid score interval; Bonett "
                         "and Price's for the ratio). With --over, do that at every point of an experiment: how "
                         "often each setting lowers the risk, and by how much, over the draws.")
    cmp.add_argument("targets", type=Path, nargs="+", metavar="SCENARIO|RESULTS",
                     help="scenario files or escsim run directories; the first is the baseline (the same file "
                     "twice with --set N:... compares a what-if)")
    cmp.add_argument("--set", action="append", metavar="[N:]KEY=VALUE",
                     help="override a value (dotted key path, TOML value) in every scenario, or with N: in the N-th "
                     "only (from 1; wins over the former); repeat for more")
    cmp.add_argument("--runs", type=_positive_int, help="runs of each (default 10,000; with --over, the experiment's)")
    cmp.add_argument("--seed", type=_seed, help="the seed all run on (default 0: the runs of escsim run --seed 0)")
    cmp.add_argument("--workers", type=_positive_int, help="processes to use (default: all cores)")
    cmp.add_argument("--over", type=Path, metavar="EXPERIMENT",
                     help="compare at every point of this experiment (e.g. an lhs sweep of the assumptions): its "
                     "parameter values, seed and runs per point; its own scenario is not run")
    cmp.add_argument("--posterior", metavar="FILE|none",
                     help="draw every scenario file's runs from this posterior ('none': point values); default: each "
                          "scenario's own, which must be the same for all (runs pair only on the same draws)")
    cmp.add_argument("--json", action="store_true", help="print the comparison as JSON")

    dis = sub.add_parser("discover", help="find the boxes of a sweep's parameters where a probability is high (PRIM)",
                         description="Scenario discovery on a sweep's results with PRIM (the EMA Workbench; needs "
                         "the discover extra): prints each box (each parameter's range, the box's coverage and "
                         "density) and draws the coverage-density trade-off and the boxes to RESULTS/discovery.png "
                         "and .svg, or --out.")
    dis.add_argument("results", type=Path, help="an escsim sweep directory (lhs, sobol, saltelli, or a grid)")
    dis.add_argument("--above", type=float, required=True, help="the threshold: a point is high when its estimate "
                     "is above it (a probability, 0 to 1)")
    dis.add_argument("--output", default="p_miscalculation", help="the probability (default p_miscalculation)")
    dis.add_argument("--density", type=float, default=0.8,
                     help="each box: the highest coverage with at least this density (default 0.8)")
    dis.add_argument("--boxes", type=_positive_int, default=3, help="at most this many boxes (default 3)")
    dis.add_argument("--out", type=Path, help="write the figure to this one file (.png, .svg or .pdf)")
    dis.add_argument("--json", action="store_true", help="print the boxes as JSON")

    val = sub.add_parser("validate", help="check scenario files without running them")
    val.add_argument("scenarios", type=Path, nargs="+", help="scenario TOML files")
    return parser


def main(argv: list[str] | None = None) -> int:
    import signal
    import threading

    args = build_parser().parse_args(argv)
    # SIGTERM stops a command the way Ctrl-C does, so that the same unwinding (workers killed, no
    # temporary file left) runs for both; only the exit status and the word differ.
    stopped_by = signal.SIGINT

    def terminate(signum, frame):
        nonlocal stopped_by
        stopped_by = signum
        raise KeyboardInterrupt

    in_main_thread = threading.current_thread() is threading.main_thread()  # only there can signals be set
    previous = signal.signal(signal.SIGTERM, terminate) if in_main_thread else None
    try:
        return globals()[f"_{args.command}"](args)  # each subcommand NAME is handled by the function _NAME
    except InputError as exc:
        for line in exc.problems:
            print(f"error: {line}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        word = "interrupted" if stopped_by == signal.SIGINT else "terminated"
        print(f"{word}; files already written are complete", file=sys.stderr)
        return 128 + stopped_by
    except BrokenPipeError:  # output piped into a reader that stopped early (e.g. head)
        sys.stderr.close()
        return 0
    finally:
        # A pool whose iterator was left by an exception (even an unexpected one) would otherwise
        # keep its workers computing, and Python's exit would wait for every queued task. Only a
        # command that imported the pool module can have one.
        parallel = sys.modules.get(f"{__package__}.parallel")
        if parallel is not None:
            parallel.end_pools()
        if in_main_thread:
            signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)


def _validate(args) -> int:
    from sim.engines.resolve import resolve

    problems = []
    for path in args.scenarios:
        try:
            resolved = resolve(path, runs=1)  # everything run checks: the file, and the posterior it names
            sc = resolved.scenario
            print(f"ok: {path} ({sc.scenario.name}: {len(sc.actors)} actors, {sc.scenario.horizon} days; "
                  f"parameters: {'a posterior, ' + str(sc.scenario.posterior) if resolved.draws else 'point values'})")
        except InputError as exc:
            problems.extend(exc.problems)
    if problems:
        raise InputError(problems)
    return 0


def _run(args) -> int:
    from sim.model.overrides import set_overrides
    from sim.ui.api import run

    # every input error (file, --set, posterior, --out, --rare) comes before anything runs or is written
    result = run(args.scenario, runs=args.runs, seed=args.seed, posterior=args.posterior or "scenario",
                 overrides=set_overrides(args.set)[0], engine=args.engine, workers=args.workers, rare=args.rare or (),
                 replicas=args.replicas, repetitions=args.repetitions, score=args.score, save=True, out=args.out,
                 runs_table=args.runs_table, figures=not args.no_plot, command=["escsim", *sys.argv[1:]],
                 progress=sys.stderr.isatty())
    if args.json:
        print(json.dumps(result.summary, indent=2))
        return 0
    print(result.table())
    names = [p.name for value in result.written.values() for p in (value if isinstance(value, list) else [value])]
    print(f"results in {result.saved_to}: " + ", ".join(names))
    return 0


def _sweep(args) -> int:
    from sim.analysis.experiment import load_experiment
    from sim.analysis.sweep import run_sweep

    exp = load_experiment(args.experiment, runs=args.runs)  # plans and validates every point first
    out = args.out or Path("results") / exp.meta.name
    print(f"{exp.meta.name}: {len(exp.points)} points ({exp.meta.sampler}) x {exp.runs:,} runs of "
          f"{exp.base.scenario.name}; results in {out}", flush=True)
    report = run_sweep(exp, out, workers=args.workers, scheduler=args.scheduler, progress=sys.stderr.isatty(),
                       command=["escsim", *sys.argv[1:]])
    print(f"computed {report.computed} points, {report.reused} were already done; table: {report.table}")
    if report.sensitivity:
        print(f"Sobol indices: {report.sensitivity}")
    if report.computed + report.reused == len(exp.points):
        from sim.ui.plots import sweep_figures

        print("figures: " + ", ".join(str(p) for p in sweep_figures([out])))
    return 0


def _plot(args) -> int:
    from sim.ui.plots import results_kind, run_figures, sweep_figures

    kinds = [results_kind(d) for d in args.results]  # raises InputError for a directory of neither
    if kinds == ["run"]:
        for flag in ("x", "y", "output", "risk"):
            if getattr(args, flag) is not None:
                raise InputError(f"--{flag} is for sweep figures; a run directory's figures (curves, paths) "
                                 "take only --kind and --out")
        written = run_figures(args.results[0], (args.kind,) if args.kind else ("curves", "paths"), args.out)
    elif set(kinds) == {"sweep"}:
        if args.kind in ("curves", "paths"):
            raise InputError(f"--kind {args.kind} is for run directories; sweeps have response, effects, scatter, "
                             "map, sensitivity")
        written = sweep_figures(args.results, args.kind, args.out, args.x, args.y, args.output, args.risk)
    else:
        raise InputError("give one run directory, or one or more sweep directories")
    print("figures: " + ", ".join(str(p) for p in written))
    return 0


def _calibrate(args) -> int:
    import time

    from sim.data.calibrate import calibrate, load_calibration
    from sim.ui.plots import plot_coverage
    from sim.data.hindcast import hindcast_report, resolve_histories, simulate_years
    from sim.ui.plots import plot_hindcast, save_figure
    from sim.engines.posterior import Posterior, write_posterior

    if args.rounds is not None:
        raise InputError("--rounds: the calibration has no rounds (ABC-SMC's); it simulates one reference table "
                         "(calibration.table in the file) and keeps the --samples histories nearest the record")
    cal = load_calibration(args.calibration)  # the file, its hindcast and every year, before any run
    out = args.out or args.calibration.parent
    if not out.is_dir():
        raise InputError(f"--out {out}: no such directory")
    if args.samples is not None and args.samples >= cal.meta.table:
        raise InputError(f"--samples {args.samples}: needs fewer than the table's {cal.meta.table:,} histories "
                         f"(calibration.table in {args.calibration})")
    def log(text):
        print(f"  {text}", file=sys.stderr, flush=True)

    report = calibrate(cal, samples=args.samples, workers=args.workers, log=log)
    report.pop("coverage_ranks")
    # Posterior predictive check: the hindcast with each history's parameters drawn from the posterior.
    started = time.perf_counter()
    posterior = Posterior(report["keys"], report["samples"], report["weights"], {})
    runs, seed = cal.meta.check_runs, report["seed"]
    histories = resolve_histories(cal.hindcast, runs, seed, posterior)  # one draw per history
    years = simulate_years(cal.hindcast, runs, seed, workers=args.workers, parameters=histories.parameters)
    check = hindcast_report(cal.hindcast, years, runs=runs, seed=seed)
    report["check"] = {"runs": runs, "years_inside": check["json"]["inside"], "period": check["json"]["period"]}
    report["timing"]["check"] = time.perf_counter() - started
    report["seconds"] += report["timing"]["check"]
    name = report["calibration"]
    figures = {out / f"{name}_check.png": plot_hindcast(check["comparison"], check["period"],
                                                          title=f"{cal.hindcast.name}, posterior predictive"),
               out / f"{name}_coverage.png": plot_coverage(report["coverage"], report["keys"], title=name)}
    csv_path, json_path = write_posterior(report, out, command=["escsim", *sys.argv[1:]])
    for path, fig in figures.items():
        save_figure(fig, path)
    m = report["method"]
    print(f"{name}: reference table of {m['table']:,} histories, posterior of the {m['samples']:,} nearest the record "
          f"({m['acceptance']:.2%}, {m['adjustment']} adjustment), effective sample size "
          f"{report['effective_sample_size']:.0f}; {report['simulations']:,} simulated histories and a check of "
          f"{runs:,} in {report['seconds']:.0f} s")
    summary = json.loads(json_path.read_text())["posterior"]
    for key, s in summary.items():
        print(f"  {key:48} median {s['median']:.4g}  90% [{s['q05']:.4g}, {s['q95']:.4g}]")
    cov = report["coverage"]
    bands = ", ".join(f"{float(lv):.0%} [{e['band'][0]}, {e['band'][1]}]" for lv, e in cov["levels"].items())
    print(f"coverage over {cov['data_sets']:,} data sets simulated from the prior (counts inside the central "
          f"intervals; {cov['confidence']:.0%} family-wise bands {bands}): "
          f"{'calibrated' if cov['passed'] else 'NOT CALIBRATED'}")
    for key in report["keys"]:
        cells = "  ".join(f"{float(lv):.0%}: {e['covered'][key]:>5}{'' if e['inside_band'][key] else ' OUTSIDE'}"
                          for lv, e in cov["levels"].items())
        print(f"  {key:48} {cells}")
    print("posterior predictive, years inside the 90% band: " +
          ", ".join(f"{k} {v}/{len(years)}" for k, v in report["check"]["years_inside"].items()))
    for key, c in check["period"].items():
        print(f"  {key:24} observed {c.observed:8.3g}   simulated {c.median:8.3g} [{c.low:.3g}, {c.high:.3g}]"
              f"{'' if c.inside else '   OUTSIDE'}")
    print(f"posterior: {csv_path}, {json_path}; check: {', '.join(map(str, figures))}")
    return 0


def app_server(host: str, port: int) -> tuple[list[str], dict[str, str]]:
    """The command that serves the interactive page, and the environment to run it in.

    Solara checks PyPI for a newer release at start and sends usage telemetry by default; the page
    must not reach the network, so both are switched off here, wherever the project starts it.
    """
    import os

    page = Path(__file__).with_name("app.py")
    command = [sys.executable, "-m", "solara", "run", str(page), "--host", host, "--port", str(port),
               "--production", "--no-check-version"]
    return command, {**os.environ, "SOLARA_TELEMETRY_MIXPANEL_ENABLE": "False"}


def _app(args) -> int:
    import importlib.util
    import subprocess

    if importlib.util.find_spec("solara") is None:
        raise InputError("the page needs the app extra: pip install 'escalation-sim[app]'")
    print(f"serving the page on http://{args.host}:{args.port}/ (Ctrl-C stops it)", flush=True)
    command, env = app_server(args.host, args.port)
    return subprocess.call(command, env=env)


def _report(args) -> int:
    from sim.analysis.discover import check_threshold
    from sim.ui.report import write_report

    print(f"report: {write_report(args.experiments, args.results, args.out, check_threshold(args.above))}")
    return 0


def _hindcast(args) -> int:
    from sim.data.hindcast import format_comparison, hindcast_report, load_hindcast, resolve_histories, simulate_years
    from sim.ui.plots import plot_hindcast, save_figure
    from sim.core.files import atomic_write, replace_dir

    hc = load_hindcast(args.hindcast)  # every year's scenario is validated before anything runs
    resolved = resolve_histories(hc, args.runs, args.seed, args.posterior or "scenario")
    point_values = resolved.draws is None and resolved.scenario.scenario.posterior is not None
    out = args.out or Path("results") / (hc.name + ("__posterior=none" if point_values else ""))
    years = simulate_years(hc, args.runs, args.seed, workers=args.workers, progress=sys.stderr.isatty(),
                           parameters=resolved.parameters)
    report = hindcast_report(hc, years, runs=args.runs, seed=args.seed, command=["escsim", *sys.argv[1:]],
                             parameters=resolved.describe())

    def fill(directory: Path) -> None:
        atomic_write(directory / "hindcast.json", json.dumps(report["json"], indent=2) + "\n")
        atomic_write(directory / "hindcast.csv", report["csv"])
        if not args.no_plot:
            fig = plot_hindcast(report["comparison"], report["period"], title=hc.name)
            for suffix in ("png", "svg"):
                save_figure(fig, directory / f"hindcast.{suffix}")

    replace_dir(out, fill)
    print(f"{hc.name}: {args.runs:,} histories, seed {args.seed}; parameters: {resolved.describe()}")
    print(format_comparison(report["comparison"]))
    for key, c in report["period"].items():
        print(f"{key:24} observed {c.observed:8.3g}   simulated {c.median:8.3g} [{c.low:.3g}, {c.high:.3g}]"
              f"{'' if c.inside else '   OUTSIDE'}")
    print(f"results in {out}")
    return 0


def _compare(args) -> int:
    from sim.analysis.compare import compare
    from sim.analysis.over import compare_over

    if args.over is not None:
        if args.seed is not None:
            raise InputError("--seed: with --over the experiment decides it (its seed)")
        if args.posterior is not None:
            raise InputError("--posterior: with --over the experiment decides it (its scenario's posterior and its "
                             "'posterior' setting)")
        result = compare_over(args.targets, args.over, args.set, runs=args.runs, workers=args.workers,
                              progress=sys.stderr.isatty())
    else:
        result = compare(args.targets, args.set, runs=args.runs, seed=args.seed, workers=args.workers,
                         posterior=args.posterior, progress=sys.stderr.isatty())
    print(json.dumps(result.to_dict(), indent=2, default=str) if args.json else result.table())
    return 0


def _discover(args) -> int:
    from sim.analysis.discover import check_threshold, discover
    from sim.ui.plots import discovery_figures
    from sim.ui.plots import check_out

    check_threshold(args.above)
    check_out(args.out)
    found = discover(args.results, args.above, args.output, density=args.density, boxes=args.boxes)
    written = discovery_figures(found, args.out)
    print(json.dumps(found.to_dict(), indent=2) if args.json else found.text())
    print("figure: " + ", ".join(str(p) for p in written), file=sys.stderr if args.json else sys.stdout)
    return 0


def _replay(args) -> int:
    from sim.core.files import atomic_write
    from sim.io.replay import replay_events, replay_model, replay_outcomes, replay_table

    out = args.out
    if out is not None and (out.is_dir() or any(p.exists() and not p.is_dir() for p in out.parents)):
        raise InputError(f"--out {out}: name a CSV file in a folder")  # refused before the run, not after
    model, twin, label = replay_model(args.target, args.run, args.seed)  # every input error comes from here
    model.run()
    twin.run()
    print(f"{label}: what changed, day by day")
    for line in replay_events(model):
        print(line)
    print(f"outcomes (as in runs.csv): {replay_outcomes(model, twin)}")
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(out, replay_table(model))
        print(f"path written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
