"""The interactive page (Mesa SolaraViz): pick a scenario, move the levers, press play, watch the ladder.

Run it with ``solara run sim/ui/app.py`` (or ``escsim app``); it needs the ``app`` extra
(``pip install 'escalation-sim[app]'``). The page steps the Mesa engine one day at a time and shows
each state's rung with drills shaded, each state's threat, an event log of provocations, accidents,
misperceptions and misperception-driven escalations, and the scenario's key numbers; a button runs an
ensemble of the current settings and shows P(miscalculation) with its 95% interval.

Both go through the resolver every command uses (:func:`sim.engines.resolve.resolve`): a scenario that names a
posterior runs its draws (the stepped run takes the draw that run 0 of seed 0 takes; the ensemble
is ``escsim run SCENARIO --runs 4096`` with the levers as ``--set`` overrides), and the page says so.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import solara
from matplotlib.figure import Figure  # not pyplot: figures drawn on every step must not pile up
from mesa.visualization import SolaraViz
from mesa.visualization.utils import update_counter

from sim.core.errors import InputError
from sim.engines.model import EscalationModel
from sim.engines.run_values import at_values
from sim.ui.plots import OKABE_ITO
from sim.engines.resolve import resolve
from sim.io.replay import replay_events
from sim.model.scenario import ScenarioFile
from sim.model.schema import Scenario
from sim.ui.api import run

SCENARIO_DIR = Path(__file__).resolve().parents[2] / "scenarios"
SCENARIOS = sorted(p.stem for p in SCENARIO_DIR.glob("*.toml"))
ENSEMBLE_RUNS = 4096


def lever_overrides(sc: Scenario, *, cohesion=1.0, drill_scale=1.0, transparency=0.0, hotline=False,
                    backchannel=False, noise=1.0) -> dict:
    """The page's levers as overrides (dotted key path -> value) of scenario ``sc``, for any actors.

    Each lever is relative to the scenario's own values, so the levers at their defaults change
    nothing: ``cohesion`` multiplies every alliance's cohesion (capped at 1), ``drill_scale`` every
    drill's scale, ``noise`` every actor's perception noise; ``transparency`` removes that share of
    what each drill's transparency leaves ambiguous (tau -> tau + (1 - tau) x transparency);
    ``hotline`` and ``backchannel`` add one between every pair of adversaries.
    """
    out = {}
    for name, al in sc.alliances.items():
        if cohesion != 1.0:
            out[f"alliances.{name}.cohesion"] = min(1.0, al.cohesion * cohesion)
    for name, d in sc.drills.items():
        if drill_scale != 1.0:
            out[f"drills.{name}.scale"] = d.scale * drill_scale
        if transparency:
            out[f"drills.{name}.transparency"] = d.transparency + (1.0 - d.transparency) * transparency
    for aid, actor in sc.actors.items():
        if noise != 1.0:
            out[f"actors.{aid}.noise"] = actor.noise * noise
    pairs = sorted({tuple(sorted((a, b))) for a, actor in sc.actors.items() for b in actor.threatened_by})
    for a, b in pairs:
        if hotline:
            out[f"hotlines.page_{a}_{b}"] = {"between": [a, b], "eta": 0.5}
        if backchannel:
            out[f"backchannels.page_{a}_{b}"] = {"between": [a, b], "success": 0.1}
    return out


class InteractiveModel(EscalationModel):
    """The Mesa engine with the page's levers as keyword arguments (see :func:`lever_overrides`).

    Its parameters avoid the name ``scenario`` (Mesa 3.5's page passes its own scenario objects
    under that name). With every lever at its default the model is the scenario as written, exactly
    what ``escsim run`` runs. A combination the scenario schema refuses runs the unmodified scenario
    and leaves the reason in ``self.problem`` for the page to show.
    """

    def __init__(self, scenario_name: str = "korea_baseline", cohesion: float = 1.0, drill_scale: float = 1.0,
                 transparency: float = 0.0, hotline: bool = False, backchannel: bool = False,
                 noise: float = 1.0, rng=None):
        source = ScenarioFile.read(SCENARIO_DIR / f"{scenario_name}.toml")
        self.settings = (f"cohesion x{cohesion:.2f}, drill scale x{drill_scale:.1f}, "
                         f"transparency +{transparency:.2f}, noise x{noise:.2f}, hotlines {'on' if hotline else 'off'}, "
                         f"backchannels {'on' if backchannel else 'off'}")
        self.problem = None
        sc = source.build()
        self.overrides = lever_overrides(sc, cohesion=cohesion, drill_scale=drill_scale, transparency=transparency,
                                         hotline=hotline, backchannel=backchannel, noise=noise)
        try:
            sc = source.build(self.overrides, origin=lambda key: "the page's levers")
        except InputError as exc:
            self.problem = "; ".join(exc.problems)
            self.overrides = {}
        self.built = sc
        # the stepped run takes run 0's values, as escsim run resolves them (a posterior's draw, or point values)
        self.resolved = resolve(sc, overrides=self.overrides, seed=0, runs=1)
        own = self.resolved.run_values_of(0)
        super().__init__(at_values(self.resolved.compiled, own or {}), rng=rng)


model_params = {
    "scenario_name": {"type": "Select", "value": "korea_baseline", "values": SCENARIOS, "label": "Scenario"},
    "cohesion": {"type": "SliderFloat", "value": 1.0, "min": 0.0, "max": 1.5, "step": 0.05,
                 "label": "Alliance cohesion (x scenario's, at most 1)"},
    "drill_scale": {"type": "SliderFloat", "value": 1.0, "min": 0.0, "max": 3.0, "step": 0.1,
                    "label": "Drill scale (x scenario's)"},
    "transparency": {"type": "SliderFloat", "value": 0.0, "min": 0.0, "max": 1.0, "step": 0.05,
                     "label": "Drill transparency (share of the rest added)"},
    "noise": {"type": "SliderFloat", "value": 1.0, "min": 0.0, "max": 3.0, "step": 0.1,
              "label": "Perception noise (x scenario's)"},
    "hotline": {"type": "Checkbox", "value": False, "label": "Hotlines between adversaries"},
    "backchannel": {"type": "Checkbox", "value": False, "label": "Backchannels between adversaries"},
}


def ladder_figure(model):
    """Each actor's realised rung, day by day so far, with drills shaded."""
    sc, t = model.compiled, model.t
    fig = Figure(figsize=(7, 3.4), layout="constrained")
    ax = fig.subplots()
    for name, t0, t1, _ in sc.drill_periods:
        if t0 < t:
            ax.axvspan(t0, min(t1, t) - 0.5, color="0.85", lw=0)
    for i, actor in enumerate(sc.actor_names):
        ax.step(range(t), model.history["realised"][:t, i], where="mid", color=OKABE_ITO[i % 8], label=actor)
    ax.set_xlim(0, sc.horizon)
    ax.set_yticks(range(len(sc.rung_names)), sc.rung_names, fontsize=7)
    ax.set_ylim(-0.3, len(sc.rung_names) - 0.7)
    ax.set_xlabel(f"day since {sc.start}")
    ax.set_title("Escalation ladder (realised rung; grey: drills)", fontsize=9)
    ax.legend(fontsize=7, loc="upper right")
    return fig


def threat_figure(model):
    """Each actor's accumulated threat, in rungs."""
    sc, t = model.compiled, model.t
    fig = Figure(figsize=(7, 2.6), layout="constrained")
    ax = fig.subplots()
    for i, actor in enumerate(sc.actor_names):
        ax.plot(range(t + 1), model.history["threat"][: t + 1, i], color=OKABE_ITO[i % 8], label=actor)
    ax.set_xlim(0, sc.horizon)
    ax.set_xlabel("day")
    ax.set_ylabel("threat (rungs)")
    ax.set_title("Threat perception", fontsize=9)
    return fig


@solara.component
def LadderChart(model):
    update_counter.get()
    solara.FigureMatplotlib(ladder_figure(model), format="png")


@solara.component
def ThreatChart(model):
    update_counter.get()
    solara.FigureMatplotlib(threat_figure(model), format="png")


@solara.component
def EventLog(model):
    update_counter.get()
    lines = replay_events(model, misperceptions=True)[-12:]
    misread = model.history["misperceived"][: model.t]
    of_adversaries = int((misread & (model.compiled.threat_weight > 0)).sum())  # the ones the log lists
    solara.Markdown("#### Events\n" + f"Misperceptions so far: **{int(misread.sum())}**, "
                    f"of an adversary's action: **{of_adversaries}** (listed below)\n\n"
                    + ("\n".join(f"- {line}" for line in lines) if lines else "_nothing yet_"))


@solara.component
def KeyNumbers(model):
    update_counter.get()
    sc, out = model.compiled, model.outcomes
    ensemble, set_ensemble = solara.use_state(None)
    if model.problem:
        solara.Error(f"These settings cannot be used: {model.problem}. Showing the scenario as written.")
    day = sc.start + dt.timedelta(days=max(model.t - 1, 0))
    solara.Markdown(
        f"#### {sc.name}\n"
        f"Day {model.t} of {sc.horizon} ({day}). Highest rung so far: **{sc.rung_names[int(out.max_rung[0])]}**. "
        f"Crisis: **{'yes' if out.crisis[0] else 'no'}**. Misperception-driven escalations: "
        f"**{int(out.mde.sum())}**. Crisis after a misreading: **{'yes' if out.crisis_after_misreading[0] else 'no'}** "
        "(whether it is a miscalculation needs the run's perfect-perception twin: see the ensemble).\n\n"
        f"Settings: {model.settings}.")

    def run_ensemble():
        # resolved as escsim run --runs 4096 resolves it (seed 0, the scenario's posterior, the levers as --set)
        res = run(resolve(model.built, overrides=model.overrides, seed=0, runs=ENSEMBLE_RUNS), workers=1,
                  runs_table="no").summary
        set_ensemble({**res["p_miscalculation"], "parameters": res["parameters"]["text"]})

    solara.Markdown(f"Parameters: {model.resolved.describe().replace('(1 draw x 1 run)', '(this run: one draw)')}.")
    solara.Button(f"Run an ensemble of {ENSEMBLE_RUNS:,} runs", on_click=run_ensemble)
    if ensemble is not None:
        interval = (f"95% interval {ensemble['ci_low']:.4f} to {ensemble['ci_high']:.4f}, {ensemble['interval']}"
                    if ensemble["ci_low"] is not None else f"no interval: {ensemble['interval']}")
        solara.Markdown(f"P(miscalculation) = **{ensemble['estimate']:.4f}** ({interval}; {ensemble['runs']:,} runs; "
                        f"parameters {ensemble['parameters']})")


model = InteractiveModel()
page = SolaraViz(model, components=[LadderChart, ThreatChart, EventLog, KeyNumbers], model_params=model_params,
                 name="escalation-sim")
