"""The `escsim` command line: parse, call the API, print. No model logic lives here."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .errors import InputError

DEFAULT_RUNS = {"ensemble": 10_000, "mesa": 200}
RUNS_TABLE_LIMIT = 100_000  # above this many runs the per-run table is left out unless asked for


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
                     help="number of runs (default: 10,000 with the ensemble engine, 200 with mesa)")
    run.add_argument("--seed", type=_seed, default=0, help="seed; the same seed gives the same numbers")
    run.add_argument("--out", type=Path, help="results directory (default: results/SCENARIO_NAME)")
    run.add_argument("--engine", choices=sorted(DEFAULT_RUNS), default="ensemble",
                     help="ensemble: all runs as NumPy arrays (default); mesa: one Mesa model per run")
    run.add_argument("--workers", type=_positive_int, help="processes to use (default: all cores)")
    run.add_argument("--runs-table", choices=("auto", "yes", "no"), default="auto",
                     help=f"write runs.csv, one row per run (auto: up to {RUNS_TABLE_LIMIT:,} runs)")
    run.add_argument("--twins", action="store_true",
                     help="also run perfect-perception twins on the same draws (gives P(inadvertent crisis))")
    run.add_argument("--json", action="store_true", help="print the summary as JSON instead of a table")
    run.add_argument("--no-plot", action="store_true", help="skip the escalation-curve figure")

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

    cal = sub.add_parser("calibrate", help="fit scenario parameters to yearly counts in data, by simulation")
    cal.add_argument("calibration", type=Path, help="calibration TOML file")
    cal.add_argument("--runs", type=_positive_int, help="runs per evaluation, overriding the file")
    cal.add_argument("--workers", type=_positive_int, help="processes to use (default: all cores)")
    cal.add_argument("--out", type=Path, help="write the report as JSON to this file")

    rpt = sub.add_parser("report", help="write experiments/README.md from the experiments' sweep results")
    rpt.add_argument("experiments", type=Path, nargs="+", help="experiment TOML files, in page order")
    rpt.add_argument("--results", type=Path, default=Path("results"),
                     help="where the sweeps' results are, one directory per experiment name (default: results)")
    rpt.add_argument("--out", type=Path, default=Path("experiments/README.md"), help="the page to write")

    ap = sub.add_parser("app", help="open the interactive page (needs the app extra): solara run sim/app.py")
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
    from .scenario import load_scenario

    problems = []
    for path in args.scenarios:
        try:
            sc = load_scenario(path)
            print(f"ok: {path} ({sc.scenario.name}: {len(sc.actors)} actors, {sc.scenario.horizon} days)")
        except InputError as exc:
            problems.extend(exc.problems)
    if problems:
        raise InputError(problems)
    return 0


def _run(args) -> int:
    from .compile import compile_scenario
    from .plots import run_figures
    from .results import check_run_dir, format_table, replace_dir, summarise, write_results
    from .scenario import load_scenario
    from .simulate import simulate

    scenario = load_scenario(args.scenario)  # raises InputError before anything is written
    compiled = compile_scenario(scenario)
    runs = args.runs or DEFAULT_RUNS[args.engine]
    out = args.out or Path("results") / compiled.name
    check_run_dir(out, scenario)  # refuse another scenario's results before the runs, not after
    per_run = args.runs_table == "yes" or (args.runs_table == "auto" and runs <= RUNS_TABLE_LIMIT)
    result = simulate(compiled, runs, args.seed, engine=args.engine, workers=args.workers, twins=args.twins,
                      per_run=per_run, progress=sys.stderr.isatty())

    def fill(directory: Path) -> dict:
        paths = write_results(result, scenario, directory, command=["escsim", *sys.argv[1:]])
        if not args.no_plot:
            paths["figures"] = run_figures(directory)
        return paths

    # The whole directory is replaced, so figures of an earlier run never sit beside new numbers.
    written = replace_dir(out, fill)
    summary = summarise(result)
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(format_table(summary))
        names = [p.name for value in written.values() for p in (value if isinstance(value, list) else [value])]
        print(f"results in {out}: " + ", ".join(names))
    return 0


def _sweep(args) -> int:
    from .experiment import load_experiment
    from .sweep import run_sweep

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
        from .plots import sweep_figures

        print("figures: " + ", ".join(str(p) for p in sweep_figures([out])))
    return 0


def _plot(args) -> int:
    from .plots import results_kind, run_figures, sweep_figures

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
    from .calibrate import calibrate
    from .results import atomic_write

    def show(k, x, stats, loss):
        print(f"  evaluation {k:3d}: {', '.join(f'{v:.5g}' for v in x)} -> mean {stats['mean']:.2f}, "
              f"variance {stats['variance']:.1f} (loss {loss:.4f})", file=sys.stderr, flush=True)

    report = calibrate(args.calibration, runs=args.runs, workers=args.workers, progress=show)
    d, sim = report["data"], report["simulated"]
    print(f"{report['calibration']}: {report['evaluations']} evaluations of {report['runs_per_evaluation']:,} runs "
          f"({report['method']}, converged: {report['converged']})")
    for key, value in report["fitted"].items():
        print(f"  {key} = {value:.6g}")
    print(f"  {'':10}{'data':>10}{'simulated':>12}{'residual':>10}")
    for t in ("mean", "variance"):
        print(f"  {t:10}{d[t]:10.2f}{sim[t]:12.2f}{report['residuals'][t]:10.2f}")
    if args.out:
        atomic_write(args.out, json.dumps(report, indent=2) + "\n")
        print(f"report: {args.out}")
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
    from .report import write_report

    print(f"report: {write_report(args.experiments, args.results, args.out)}")
    return 0


def _hindcast(args) -> int:
    from .hindcast import format_comparison, hindcast_report, load_hindcast, simulate_years
    from .plots import plot_hindcast, save_figure
    from .results import atomic_write, replace_dir

    hc = load_hindcast(args.hindcast)  # every year's scenario is validated before anything runs
    out = args.out or Path("results") / hc.name
    years = simulate_years(hc, args.runs, args.seed, workers=args.workers, progress=sys.stderr.isatty())
    report = hindcast_report(hc, years, runs=args.runs, seed=args.seed, command=["escsim", *sys.argv[1:]])

    def fill(directory: Path) -> None:
        atomic_write(directory / "hindcast.json", json.dumps(report["json"], indent=2) + "\n")
        atomic_write(directory / "hindcast.csv", report["csv"])
        if not args.no_plot:
            fig = plot_hindcast(report["comparison"], report["period"], title=hc.name)
            for suffix in ("png", "svg"):
                save_figure(fig, directory / f"hindcast.{suffix}")

    replace_dir(out, fill)
    print(format_comparison(report["comparison"]))
    for key, c in report["period"].items():
        print(f"{key:24} observed {c.observed:8.3g}   simulated {c.median:8.3g} [{c.low:.3g}, {c.high:.3g}]"
              f"{'' if c.inside else '   OUTSIDE'}")
    print(f"results in {out}")
    return 0


def _replay(args) -> int:
    from .results import atomic_write, replay_events, replay_model, replay_outcomes, replay_table

    out = args.out
    if out is not None and (out.is_dir() or any(p.exists() and not p.is_dir() for p in out.parents)):
        raise InputError(f"--out {out}: name a CSV file in a folder")  # refused before the run, not after
    model, label = replay_model(args.target, args.run, args.seed)  # every input error comes from here
    model.run()
    print(f"{label}: what changed, day by day")
    for line in replay_events(model):
        print(line)
    print(f"outcomes (as in runs.csv): {replay_outcomes(model)}")
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(out, replay_table(model))
        print(f"path written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
