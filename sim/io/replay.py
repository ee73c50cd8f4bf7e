"""Replaying one run in the Mesa engine, on exactly the random numbers it saw, and telling what happened.

A run of a scenario file is replayed as ``escsim run`` resolves it; a run of a results directory
takes its manifest's scenario, seed and engine and its own values from ``parameters.npz``.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

import numpy as np

from sim.core.errors import InputError
from sim.engines.run_values import at_values
from sim.io.rundir import read_manifest, run_parameters_of, runs_columns
from sim.model.loops import perceived_rung


def replay_table(model) -> str:
    """A run's day-by-day path as CSV: per actor intended, realised, level, threat, perceived hostility, MDE."""
    sc, h = model.compiled, model.history
    text = io.StringIO()
    w = csv.writer(text, lineterminator="\n")
    fields_ = ("intended", "realised", "level", "threat", "hostile_level", "mde")
    w.writerow(["step", "date", *[f"{a}.{f}" for a in sc.actor_ids for f in fields_]])
    for t in range(model.t):
        row = []
        for i in range(sc.n_actors):
            row += [h["intended"][t, i], h["realised"][t, i], h["level"][t, i], round(float(h["threat"][t, i]), 6),
                    round(float(h["hostile_level"][t, i]), 6), int(h["mde"][t, i])]
        w.writerow([t, sc.start + dt.timedelta(days=t), *row])
    return text.getvalue()


def replay_events(model, misperceptions: bool = False) -> list[str]:
    """What changed in a run, day by day: one line per day on which something happened.

    Listed: every change of an actor's rung (its realised action), with what caused it (a drill, a
    provocation, an accident); provocations and accidents that left the rung where it was; each
    misperception-driven escalation (a decision for the next day); and each actor's crisis and war,
    one line when it begins and one when it ends. A day with nothing new prints nothing, and a run of
    consecutive days with the same events prints as one line over the span.

    With ``misperceptions`` (the interactive page's log), also each misreading of an adversary's
    action, and every day is its own line, so that each misreading is listed once per day it happened.
    """
    return _day_lines(model.compiled, _event_days(model, misperceptions), collapse=not misperceptions)


def _event_days(model, misperceptions: bool = False) -> list[str]:
    """Each day's events as one text ("" for a day with none)."""
    sc, h = model.compiled, model.history
    days = []
    for t in range(model.t):
        events = _misreadings(sc, h, t) if misperceptions else []
        events += [e for i in range(sc.n_actors) for e in _actor_events(sc, h, t, i)]
        events += [e for i in range(sc.n_actors) if (e := _crisis_event(sc, h, t, i))]
        days.append("; ".join(events))
    return days


def parted_day(model, twin) -> int | None:
    """The first day on which a run and its perfect-perception twin (the same draws) differ: in an
    actor's realised action or in the posture it decided for the next day. None if they never do."""
    h, g = model.history, twin.history
    for t in range(min(model.t, twin.t)):
        if not (np.array_equal(h["realised"][t], g["realised"][t]) and np.array_equal(h["level"][t + 1], g["level"][t + 1])):
            return t
    return None


def twin_lines(model, twin) -> list[str]:
    """The perfect-perception twin beside the run: the day the two parted, and what the twin did from
    then on (the same day-by-day lines as :func:`replay_events`)."""
    t = parted_day(model, twin)
    if t is None:
        return ["its perfect-perception twin (the same draws, every reading exact) follows the same path every day"]
    day = model.compiled.start + dt.timedelta(days=t)
    days = _event_days(twin)
    days[:t] = [""] * t
    return ([f"its perfect-perception twin (the same draws, every reading exact) follows the same path until "
             f"{day} (day {t}), where they part; the twin from then on:"] +
            ["  " + line for line in _day_lines(twin.compiled, days)])


def _misreadings(sc, h, t: int) -> list[str]:
    """Day t's misreadings of an adversary's action."""
    names, out = sc.actor_names, []
    for i, j in zip(*np.nonzero(h["misperceived"][t] & (sc.threat_weight > 0))):
        seen = int(perceived_rung(h["perceived"][t, i, j], sc.top_rung))
        out.append(f"{names[i]} reads {names[j]}'s {sc.rung_names[h['realised'][t, j]]} as {sc.rung_names[seen]}")
    return out


def _actor_events(sc, h, t: int, i: int) -> list[str]:
    """Actor i's day t: its change of rung (or a provocation or accident that changed none), and a
    misperception-driven escalation it decided on."""
    rung, name = sc.rung_names, sc.actor_names[i]
    x, a, posture = h["intended"][t, i], h["realised"][t, i], h["level"][t, i]
    before = h["realised"][t - 1, i] if t else posture  # before day 0: its starting posture
    provoked, accident = bool(h["provoked"][t, i]), a > x
    out = []
    if a != before or provoked or accident:
        causes = ["provokes"] if provoked else []
        if x == sc.drill_rung[t, i] > posture and a != before:  # the drill set today's action
            causes.insert(0, "drills")
        move = (f"up to {rung[a]} from {rung[before]}" if a > before else
                f"down to {rung[a]} from {rung[before]}" if a < before else f"stays at {rung[a]}")
        head = f"{name} {' and '.join(causes)}," if causes else name
        out.append(f"{head} {move}" + (f" by accident (meant {rung[x]})" if accident else ""))
    if h["mde"][t, i]:
        out.append(f"{name} escalates on a misreading, to {rung[h['level'][t + 1, i]]} from the next day "
                   f"(read hostility {h['hostile_level'][t, i]:.2f})")
    return out


def _crisis_event(sc, h, t: int, i: int) -> str | None:
    """Actor i's crisis or war beginning or ending on day t (MODEL.md section 1: its realised action at
    or above the crisis or war rung), or None when its state is yesterday's."""
    def state(a):
        return 2 if a >= sc.war_rung else 1 if a >= sc.crisis_rung else 0

    a = h["realised"][t, i]
    now, before = state(a), state(h["realised"][t - 1, i]) if t else 0  # nothing before day 0
    name, at = sc.actor_names[i], sc.rung_names[a]
    if now == before:
        return None
    if now > before:
        return f"WAR begins: {name} at {at}" if now == 2 else f"CRISIS begins: {name} at {at}"
    if now == 1:
        return f"WAR ends: {name} down to {at}, still in crisis"
    return f"{'WAR and CRISIS end' if before == 2 else 'CRISIS ends'}: {name} down to {at}"


def _day_lines(sc, days: list[str], collapse: bool = True) -> list[str]:
    """One line per day with events; with ``collapse``, consecutive days with the same events become one."""
    lines, t = [], 0
    while t < len(days):
        last = t
        while collapse and last + 1 < len(days) and days[last + 1] == days[t]:
            last += 1
        if days[t]:
            first_day, last_day = sc.start + dt.timedelta(days=t), sc.start + dt.timedelta(days=last)
            when = (f"{first_day} (day {t})" if last == t else
                    f"{first_day} to {last_day} (days {t}-{last}, each day)")
            lines.append(f"{when}: {days[t]}")
        t = last + 1
    return lines


def replay_model(target: Path, run: int, seed: int | None = None):
    """The model (not yet run) that replays run ``run``, its perfect-perception twin on the same draws
    (for the miscalculation flag; docs/model.md section 6), and a line naming that run.

    ``target`` is a scenario file, whose ensemble-engine ensemble seeded ``seed`` (default 0) is
    replayed as ``escsim run`` resolves it (:func:`sim.engines.resolve.resolve`: run ``run`` takes the
    posterior draw it takes there), or an `escsim run` results directory, whose manifest decides the
    scenario (as resolved), seed, engine and run count, and whose parameters.npz gives the run's own
    values; ``seed`` is then refused. A Mesa-engine run k is not a row of an ensemble block: it is
    replayed as ``simulate`` ran it, on its own stream ``run_seed(root, k)``.
    """
    from sim.engines.model import EscalationModel
    from sim.engines.resolve import resolve

    target = Path(target)
    if target.is_dir():
        make, label = _replay_from_results(target, run, seed)
    else:
        seed = 0 if seed is None else seed
        resolved = resolve(target, seed=seed, runs=run + 1)  # run k's draw does not depend on the run count
        own = resolved.run_values_of(run)
        compiled = at_values(resolved.compiled, own or {})

        def make(perfect):
            return EscalationModel.replay(compiled, seed, run, perfect_perception=perfect)

        d = resolved.draws
        values = (f"posterior draw {run // d.runs_per_draw} of {d.posterior.path}, as escsim run takes it" if d else
                  "the scenario's point values")
        label = f"{compiled.name}, seed {seed}, run {run} (ensemble engine; {values})"
    return make(False), make(True), label


def _replay_from_results(results: Path, run: int, seed: int | None):
    """What builds the replay of run ``run`` of a results directory (given perfect_perception), and its line."""
    from sim.model.compile import compile_scenario
    from sim.engines.draws import Stream, root_from, run_seed, stream_label
    from sim.engines.model import EscalationModel
    from sim.model.scenario import validate_scenario

    if seed is not None:
        raise InputError(f"--seed {seed}: {results} is a results directory, whose manifest.json gives the seed; "
                         "drop --seed")
    man, path = read_manifest(results, "replay")
    runs, engine = man["runs"], man["engine"]
    if not 0 <= run < runs:
        raise InputError(f"--run {run}: {results} holds {runs} runs, numbered 0 to {runs - 1}")
    compiled = compile_scenario(validate_scenario(man["scenario"], str(path)))
    parameters = run_parameters_of(results, man, run)
    if parameters:  # drawn from a posterior: this run's values
        compiled = at_values(compiled, parameters)
    root = root_from(man)
    seed_text = f"seed {root.entropy}" if root.spawn_key == (Stream.RUN,) else f"stream {stream_label(root)}"
    where = f"{compiled.name}, run {run} of {runs} in {results} ({seed_text}"
    if engine == "ensemble":
        return (lambda perfect: EscalationModel.replay(compiled, root, run, perfect_perception=perfect),
                f"{where}, ensemble engine)")
    if engine == "mesa":
        return (lambda perfect: EscalationModel(compiled, rng=run_seed(root, run), perfect_perception=perfect),
                f"{where}, Mesa engine: its own stream, not an ensemble-engine row)")
    raise InputError(f"{path}: engine {engine!r} is neither ensemble nor mesa")


def replay_outcomes(model, twin=None) -> str:
    """A finished run's outcomes as ``name=value`` pairs, named and written as in runs.csv; with its
    finished perfect-perception ``twin``, the miscalculation flag too."""
    cols = runs_columns(model.compiled, model.outcomes.per_run(None if twin is None else twin.outcomes))
    return " ".join(f"{k}={v[0]}" for k, v in cols.items())
