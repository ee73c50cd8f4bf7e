"""The interactive page (Mesa SolaraViz): pick a scenario, move the levers, press play, watch the ladder.

Run it with ``solara run sim/app.py`` (or ``escsim app``); it needs the ``app`` extra
(``pip install 'escalation-sim[app]'``). The page steps the Mesa engine one day at a time and shows
each state's rung with drills shaded, each state's threat, an event log of provocations, accidents,
misperceptions and misperception-driven escalations, and the scenario's key numbers; a button runs an
ensemble of the current settings and shows P(miscalculation) with its 95% interval.
"""

from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path

import solara
from matplotlib.figure import Figure  # not pyplot: figures drawn on every step must not pile up
from mesa.visualization import SolaraViz
from mesa.visualization.utils import update_counter

from sim.compile import compile_scenario
from sim.errors import InputError
from sim.model import EscalationModel
from sim.plots import OKABE_ITO
from sim.results import replay_events, summarise
from sim.scenario import read_with_extends, validate_scenario
from sim.simulate import simulate

SCENARIO_DIR = Path(__file__).resolve().parents[1] / "scenarios"
SCENARIOS = sorted(p.stem for p in SCENARIO_DIR.glob("*.toml"))
ENSEMBLE_RUNS = 4096


def lever_settings(raw: dict, *, cohesion=None, drill_scale=1.0, transparency=None, hotline=False,
                   backchannel=False, noise=None) -> dict:
    """A raw scenario with the page's levers applied, for any scenario (no actor is named here).

    cohesion sets every alliance's; drill_scale multiplies every drill's scale; transparency sets
    every drill's; hotline and backchannel add one between every pair of adversaries; noise sets
    every actor's perception noise. None leaves the scenario's own value.
    """
    out = copy.deepcopy(raw)
    for al in out.get("alliances", {}).values():
        if cohesion is not None:
            al["cohesion"] = cohesion
    for d in out.get("drills", {}).values():
        d["scale"] = d.get("scale", 1.0) * drill_scale
        if transparency is not None:
            d["transparency"] = transparency
    actors = out.get("actors", {})
    pairs = sorted({tuple(sorted((a, b))) for a, spec in actors.items() for b in spec.get("threatened_by", {})
                    if b in actors and b != a})
    for a, b in pairs:
        if hotline:
            out.setdefault("hotlines", {})[f"page_{a}_{b}"] = {"between": [a, b], "eta": 0.5}
        if backchannel:
            out.setdefault("backchannels", {})[f"page_{a}_{b}"] = {"between": [a, b], "success": 0.1}
    if noise is not None:
        for spec in actors.values():
            spec["noise"] = noise
    return out


class InteractiveModel(EscalationModel):
    """The Mesa engine with the page's levers as keyword arguments.

    Its parameters avoid the name ``scenario`` (Mesa 3.5's page passes its own scenario objects
    under that name). A combination the scenario schema refuses runs the unmodified scenario and
    leaves the reason in ``self.problem`` for the page to show.
    """

    def __init__(self, scenario_name: str = "korea_baseline", cohesion: float = 0.8, drill_scale: float = 1.0,
                 transparency: float = 0.3, hotline: bool = False, backchannel: bool = False,
                 noise: float = 0.2, rng=None):
        path = SCENARIO_DIR / f"{scenario_name}.toml"
        self.settings = (f"cohesion {cohesion:.2f}, drill scale {drill_scale:.1f}x, transparency {transparency:.2f}, "
                         f"noise {noise:.2f}, hotlines {'on' if hotline else 'off'}, "
                         f"backchannels {'on' if backchannel else 'off'}")
        raw, origins = read_with_extends(path, ())
        self.problem = None
        try:
            sc = validate_scenario(lever_settings(raw, cohesion=cohesion, drill_scale=drill_scale,
                                                  transparency=transparency, hotline=hotline,
                                                  backchannel=backchannel, noise=noise), str(path), origins)
        except InputError as exc:
            self.problem = "; ".join(exc.problems)
            sc = validate_scenario(raw, str(path), origins)
        super().__init__(compile_scenario(sc), rng=rng)


model_params = {
    "scenario_name": {"type": "Select", "value": "korea_baseline", "values": SCENARIOS, "label": "Scenario"},
    "cohesion": {"type": "SliderFloat", "value": 0.8, "min": 0.0, "max": 1.0, "step": 0.05,
                 "label": "Alliance cohesion"},
    "drill_scale": {"type": "SliderFloat", "value": 1.0, "min": 0.0, "max": 3.0, "step": 0.1,
                    "label": "Drill scale (x scenario's)"},
    "transparency": {"type": "SliderFloat", "value": 0.3, "min": 0.0, "max": 1.0, "step": 0.05,
                     "label": "Drill transparency"},
    "noise": {"type": "SliderFloat", "value": 0.2, "min": 0.0, "max": 1.0, "step": 0.05,
              "label": "Perception noise (rungs)"},
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
        f"**{int(out.mde.sum())}**. Miscalculation: **{'yes' if out.miscalculation[0] else 'no'}**.\n\n"
        f"Settings: {model.settings}.")

    def run_ensemble():
        res = summarise(simulate(sc, ENSEMBLE_RUNS, seed=0, workers=1, per_run=False))
        set_ensemble(res["p_miscalculation"])

    solara.Button(f"Run an ensemble of {ENSEMBLE_RUNS:,} runs", on_click=run_ensemble)
    if ensemble is not None:
        solara.Markdown(f"P(miscalculation) = **{ensemble['estimate']:.4f}** "
                        f"(95% interval {ensemble['ci_low']:.4f} to {ensemble['ci_high']:.4f}, "
                        f"{ensemble['runs']:,} runs)")


model = InteractiveModel()
page = SolaraViz(model, components=[LadderChart, ThreatChart, EventLog, KeyNumbers], model_params=model_params,
                 name="escalation-sim")
