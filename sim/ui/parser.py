"""The `escsim` command line's arguments: one function per command, each flag with what it changes."""

from __future__ import annotations

import argparse
from pathlib import Path

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

    _add_run(sub)
    _add_sweep(sub)
    _add_plot(sub)
    _add_calibrate(sub)
    _add_report(sub)
    _add_app(sub)
    _add_replay(sub)
    _add_hindcast(sub)
    _add_compare(sub)
    _add_levers(sub)
    _add_optimize(sub)
    _add_discover(sub)
    _add_validate(sub)
    _add_record_commands(sub)
    return parser


def _add_run(sub) -> None:
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


def _add_sweep(sub) -> None:
    sw = sub.add_parser("sweep", help="run an experiment: one ensemble per point, resumable")
    sw.add_argument("experiment", type=Path, help="experiment TOML file")
    sw.add_argument("--out", type=Path, help="results directory (default: results/EXPERIMENT_NAME)")
    sw.add_argument("--workers", type=_positive_int, help="processes on this machine (default: all cores)")
    sw.add_argument("--runs", type=_positive_int, help="runs per point, overriding the file (a quick look)")
    sw.add_argument("--scheduler", metavar="ADDRESS",
                    help="run the points on this Dask scheduler (e.g. tcp://10.0.0.5:8786); needs the dask extra")


def _add_levers(sub) -> None:
    lv = sub.add_parser("levers", help="rank levers alone and in pairs by their effect, over the posterior",
                        description="Run a lever experiment (sampler pairs or oat, common random numbers) as "
                        "escsim sweep does, then print its postures sorted by the paired change in the first "
                        "output, with 95%% intervals over the posterior draws and the share of draws in which "
                        "each lowered it, and write them to levers.csv in the results directory.")
    _experiment_args(lv, "experiment TOML file (sampler pairs or oat)")
    lv.add_argument("--scheduler", metavar="ADDRESS", help="run the postures on this Dask scheduler")


def _experiment_args(p, what: str) -> None:
    """The experiment file, --out, --workers and --runs of a command that runs postures."""
    p.add_argument("experiment", type=Path, help=what)
    p.add_argument("--out", type=Path, help="results directory (default: results/EXPERIMENT_NAME)")
    p.add_argument("--workers", type=_positive_int, help="processes on this machine (default: all cores)")
    p.add_argument("--runs", type=_positive_int, help="runs per posture, overriding the file (a quick look)")


def _add_optimize(sub) -> None:
    what = ("NSGA-II over an optimisation file's lever combinations, each on the same runs and posterior draws: the "
            "Pareto set, hypervolume by generation per seed, and with [robustness] regret and satisficing over "
            "posterior draws x samples of the unpinned assumptions. Resumes an interrupted search.")
    op = sub.add_parser("optimize", help="many-objective search over lever combinations", description=what)
    _experiment_args(op, "optimisation TOML file (an experiment with an [optimize] table)")
    op.add_argument("--no-plot", action="store_true", help="skip the Pareto and hypervolume figures")
    op.add_argument("--json", action="store_true", help="print the results as JSON instead of tables")
    op.add_argument("--scheduler", metavar="ADDRESS", help="evaluate the postures and the futures on this Dask "
                    "scheduler (needs the dask extra); the numbers are the same")


def _add_plot(sub) -> None:
    pl = sub.add_parser("plot", help="draw figures from results directories",
                        description="Draw figures from results directories. A flag the chosen figure does not "
                        "read, a name not in the results, or a design the figure cannot show is refused "
                        "(exit 2) and nothing is written.")
    pl.add_argument("results", type=Path, nargs="+", help="one escsim run directory, or escsim sweep directories "
                    "(several only for response: one-parameter grids over the same parameter, overlaid)")
    pl.add_argument("--kind", choices=("curves", "paths", "tail", "response", "effects", "scatter", "map", "sensitivity"),
                    help="which figure. A run: curves, paths (default: both, and tail where the run has --rare "
                    "estimates: P(highest rung >= k) on a log axis, crude and by splitting). A sweep (default by its design): "
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


def _add_calibrate(sub) -> None:
    cal = sub.add_parser("calibrate", help="Bayesian calibration on the record 2011-2021 (reference-table ABC, with "
                         "its coverage check)")
    cal.add_argument("calibration", type=Path, help="calibration TOML file (e.g. calibration/korea.toml)")
    cal.add_argument("--samples", type=_positive_int, help="posterior sample: the N simulated histories nearest the "
                     "record, overriding the file's samples (the coverage check keeps as many)")
    cal.add_argument("--rounds", type=_positive_int, help=argparse.SUPPRESS)  # ABC-SMC's; refused, with why
    cal.add_argument("--workers", type=_positive_int, help="processes to use (default: all cores; the numbers do not "
                     "depend on it)")
    cal.add_argument("--out", type=Path, help="directory for the posterior (default: beside the calibration file)")
    cal.add_argument("--scheduler", metavar="ADDRESS", help="simulate the table's batches on this Dask scheduler "
                     "(e.g. tcp://10.0.0.5:8786; needs the dask extra); the numbers are the same")


def _add_report(sub) -> None:
    rpt = sub.add_parser("report", help="write experiments/README.md from the experiments' sweep and "
                         "optimisation results")
    rpt.add_argument("experiments", type=Path, nargs="+", help="experiment TOML files, in page order")
    rpt.add_argument("--results", type=Path, default=Path("results"),
                     help="where the sweeps' results are, one directory per experiment name (default: results)")
    rpt.add_argument("--out", type=Path, default=Path("experiments/README.md"), help="the page to write")
    rpt.add_argument("--above", type=float, default=0.05, help="sampling sweeps: the P(miscalculation) whose boxes "
                     "'when is the risk high?' finds (default 0.05; needs the discover extra)")


def _add_app(sub) -> None:
    ap = sub.add_parser("app", help="open the interactive page (needs the app extra): solara run sim/ui/app.py")
    ap.add_argument("--host", default="127.0.0.1", help="address to serve on (default: this machine only)")
    ap.add_argument("--port", type=_positive_int, default=8765, help="port (default 8765)")


def _add_replay(sub) -> None:
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


def _add_hindcast(sub) -> None:
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


def _add_compare(sub) -> None:
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


def _add_discover(sub) -> None:
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


def _add_validate(sub) -> None:
    val = sub.add_parser("validate", help="check scenario files without running them")
    val.add_argument("scenarios", type=Path, nargs="+", help="scenario TOML files")


def _add_record_commands(sub) -> None:
    """import-record, forecast and evaluate (issue 23): the record extended, and forecasts from it."""
    imp = sub.add_parser("import-record", help="check a provocation event list (CSIS format) and a clash list and "
                         "write them as the record's files")
    imp.add_argument("events", type=Path, help="provocation events CSV (columns date, type, event, ...)")
    imp.add_argument("--out", type=Path, required=True, help="directory to write the record's files into")
    imp.add_argument("--clashes", type=Path, help="clash list CSV (columns date, event, class, ...) to import too")
    imp.add_argument("--years", type=int, nargs=2, metavar=("FIRST", "LAST"),
                     help="keep the rows of these years only (default: the years the events span)")
    for name, what in (("forecast", "forecast a year from the record through an origin: provocation days, clashes, "
                                     "P(crisis), P(war), P(miscalculation)"),
                       ("evaluate", "score forecasts of each year T+1 from the record through T against naive "
                                    "baselines (CRPS, log score, interval score, PIT)")):
        cmd = sub.add_parser(name, help=what)
        cmd.add_argument("calibration", type=Path, help="calibration TOML file (e.g. calibration/korea.toml): its "
                         "priors, hindcast (template scenario, record, exercise calendars) and seed")
        if name == "forecast":
            cmd.add_argument("--year", type=int, required=True, help="the year forecast (its exercise calendar "
                             "must be in the windows file)")
            cmd.add_argument("--origin", type=int, help="condition on the record through this year (default: the "
                             "year before --year, or the record's last)")
        else:
            cmd.add_argument("--origins", type=int, nargs=2, metavar=("FIRST", "LAST"), default=(2013, 2020),
                             help="forecast origins T, each forecasting T+1 (default 2013 2020)")
            cmd.add_argument("--out", type=Path, help="results directory (default: results/evaluate_CALIBRATION)")
            cmd.add_argument("--no-plot", action="store_true", help="skip the figure")
        cmd.add_argument("--table", type=_positive_int, help="reference-table histories (default 32,768)")
        cmd.add_argument("--samples", type=_positive_int, help="table histories kept by the ABC (default 500)")
        cmd.add_argument("--draws", type=_positive_int, help="posterior draws of a forecast (default 500)")
        cmd.add_argument("--runs-per-draw", type=_positive_int, help="runs per posterior draw (default 8)")
        cmd.add_argument("--seed", type=_seed, default=0, help="seed of the forecasts' runs (the table takes the "
                         "calibration file's)")
        cmd.add_argument("--workers", type=_positive_int, help="processes to use (default: all cores)")
        cmd.add_argument("--scheduler", metavar="ADDRESS", help="run the table's batches and the forecasts on this "
                         "Dask scheduler (needs the dask extra); the numbers are the same")
