"""The `escsim` command line: parse, call the API, print. No model logic lives here."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from sim.core.errors import InputError
from sim.ui.parser import build_parser



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
        return globals()[f"_{args.command.replace('-', '_')}"](args)  # subcommand NAME: the function _NAME (- as _)
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
        parallel = sys.modules.get("sim.engines.parallel")  # by its full name: the cli moved, the pool did not
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
    if result.ensemble is None:  # every --rare target certain: said so, nothing run or written
        return 0
    names = [p.name for value in result.written.values() for p in (value if isinstance(value, list) else [value])]
    print(f"results in {result.saved_to}: " + ", ".join(names))
    return 0


def _sweep(args) -> int:
    from sim.analysis.experiment import load_experiment
    from sim.ui import api

    exp = load_experiment(args.experiment, runs=args.runs)  # plans and validates every point before the banner
    out = args.out or Path("results") / exp.meta.name
    print(f"{exp.meta.name}: {len(exp.points)} points ({exp.meta.sampler}) x {exp.runs:,} runs of "
          f"{exp.base.scenario.name}; results in {out}", flush=True)
    result = api.sweep(exp, out=out, workers=args.workers, scheduler=args.scheduler,
                       progress=sys.stderr.isatty(), command=["escsim", *sys.argv[1:]])
    report = result.report
    print(f"computed {report.computed} points, {report.reused} were already done; table: {report.table}")
    if report.sensitivity:
        print(f"Sobol indices: {report.sensitivity}")
    if result.finished:
        print(result.table())
        print("figures: " + ", ".join(str(p) for p in result.figures))
    return 0


def _plot(args) -> int:
    from sim.ui.plots import results_kind, run_figures, sweep_figures

    kinds = [results_kind(d) for d in args.results]  # raises InputError for a directory of neither
    if kinds == ["run"]:
        for flag in ("x", "y", "output", "risk"):
            if getattr(args, flag) is not None:
                raise InputError(f"--{flag} is for sweep figures; a run directory's figures (curves, paths) "
                                 "take only --kind and --out")
        written = run_figures(args.results[0], (args.kind,) if args.kind else None, args.out)
    elif set(kinds) == {"sweep"}:
        if args.kind in ("curves", "paths", "tail"):
            raise InputError(f"--kind {args.kind} is for run directories; sweeps have response, effects, scatter, "
                             "map, sensitivity")
        written = sweep_figures(args.results, args.kind, args.out, args.x, args.y, args.output, args.risk)
    else:
        raise InputError("give one run directory, or one or more sweep directories")
    print("figures: " + ", ".join(str(p) for p in written))
    return 0


def _calibrate(args) -> int:
    from sim.engines.parallel import on_scheduler
    from sim.ui.api import calibrate

    if args.rounds is not None:
        raise InputError("--rounds: the calibration has no rounds (ABC-SMC's); it simulates one reference table "
                         "(calibration.table in the file) and keeps the --samples histories nearest the record")
    with on_scheduler(args.scheduler):
        result = calibrate(args.calibration, samples=args.samples, workers=args.workers, out=args.out,
                           command=["escsim", *sys.argv[1:]],
                           log=lambda text: print(f"  {text}", file=sys.stderr, flush=True))
    print(result.text())
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
    from sim.ui.api import hindcast

    result = hindcast(args.hindcast, runs=args.runs, seed=args.seed, posterior=args.posterior or "scenario",
                      workers=args.workers, command=["escsim", *sys.argv[1:]], progress=sys.stderr.isatty())
    out = result.save(args.out, figures=not args.no_plot)
    print(result.table())
    print(f"results in {out}")
    return 0


def _compare(args) -> int:
    from sim.ui import api

    result = api.compare(args.targets, args.set, over=args.over, runs=args.runs, seed=args.seed,
                         posterior=args.posterior, workers=args.workers, progress=sys.stderr.isatty())
    print(json.dumps(result.to_dict(), indent=2, default=str) if args.json else result.table())
    return 0


def _levers(args) -> int:
    from sim.ui import api

    ranking = api.levers(args.experiment, runs=args.runs, out=args.out, workers=args.workers,
                         scheduler=args.scheduler, progress=sys.stderr.isatty(), command=["escsim", *sys.argv[1:]])
    print(ranking.table())
    print(f"ranking: {ranking.path}")
    return 0


def _optimize(args) -> int:
    from sim.engines.parallel import on_scheduler
    from sim.ui import api

    with on_scheduler(args.scheduler):
        result = api.optimize(args.experiment, runs=args.runs, out=args.out, workers=args.workers,
                              figures=not args.no_plot, progress=sys.stderr.isatty())
    print(json.dumps(result.to_dict(), indent=2, default=str) if args.json else result.table())
    if args.json:  # the table ends with them; the JSON has no place for them
        for note in result.notes:
            print(note, file=sys.stderr)
    print(f"results in {result.out}")
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
    from sim.io.replay import replay_events, replay_model, replay_outcomes, replay_table, twin_lines

    out = args.out
    if out is not None and (out.is_dir() or any(p.exists() and not p.is_dir() for p in out.parents)):
        raise InputError(f"--out {out}: name a CSV file in a folder")  # refused before the run, not after
    model, twin, label = replay_model(args.target, args.run, args.seed)  # every input error comes from here
    model.run()
    twin.run()
    print(f"{label}: what changed, day by day")
    for line in replay_events(model):
        print(line)
    for line in twin_lines(model, twin):
        print(line)
    print(f"outcomes (as in runs.csv): {replay_outcomes(model, twin)}")
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(out, replay_table(model))
        print(f"path written to {out}")
    return 0


def _import_record(args) -> int:
    from sim.ui.api import import_record

    written = import_record(args.events, args.out, clashes=args.clashes, years=args.years)
    print("written: " + ", ".join(map(str, written)))
    return 0


def _options(args) -> dict:
    """forecast and evaluate: the ABC and forecast settings given on the command line."""
    return {k: v for k in ("samples", "draws", "runs_per_draw") if (v := getattr(args, k)) is not None}


def _forecast(args) -> int:
    from sim.engines.parallel import on_scheduler
    from sim.ui.api import forecast

    with on_scheduler(args.scheduler):
        print(forecast(args.calibration, year=args.year, origin=args.origin, table=args.table, seed=args.seed,
                       workers=args.workers, log=lambda t: print(f"  {t}", file=sys.stderr, flush=True),
                       **_options(args)))
    return 0


def _evaluate(args) -> int:
    from sim.engines.parallel import on_scheduler
    from sim.ui.api import evaluate

    with on_scheduler(args.scheduler):
        result = evaluate(args.calibration, origins=tuple(args.origins), table=args.table, seed=args.seed,
                          workers=args.workers, log=lambda t: print(f"  {t}", file=sys.stderr, flush=True),
                          **_options(args))
    out = result.save(args.out or Path("results") / f"evaluate_{args.calibration.stem}", figures=not args.no_plot,
                      command=["escsim", *sys.argv[1:]])
    print(result.text())
    print(f"results in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
