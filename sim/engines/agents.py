"""StateAgent: one state of the scenario, taking its own row of each phase the model computes for all states."""

from __future__ import annotations

import mesa
import numpy as np


class StateAgent(mesa.Agent):
    """A state on the escalation ladder.

    Holds its posture ``level`` (rung), ``threat`` (rungs) and today's ``intended``, ``realised`` and
    ``perceived`` (its reading of every actor, shape (N,)). Each phase method is one step of MODEL.md
    section 4. The model evaluates a phase once for all states, calling the kernel on every row of a
    batch of one run (the same call the ensemble engine makes for its runs), and publishes the rows
    (``model.today``: name -> one value per state); each agent's phase method then takes its own
    row. One call per phase rather than one per agent is what makes the engine fast: on arrays this
    small NumPy's cost is per call, not per element.
    """

    def __init__(self, model, index: int):
        super().__init__(model)
        sc = model.compiled
        self.index = index
        self.actor_id = sc.actor_ids[index]
        self.name = sc.actor_names[index]
        self.level = int(sc.baseline[index])
        self.threat = 0.0
        self.intended = self.realised = self.next_level = self.level
        self.next_threat = 0.0
        self.provoked = self.contact = self.accident = self.escalated_by_misperception = False
        self.perceived = np.zeros(sc.n_actors)
        self.misread = np.zeros(sc.n_actors, dtype=bool)
        self.hostile_level = 0.0
        self.source = -1

    # -- phases, in the order the model calls them --------------------------------------------

    def intend(self) -> None:
        """Phase 1: drill, provoke or hold: the action this state means to take today."""
        today, i = self.model.today, self.index
        self.intended, self.provoked, self.contact = today["intended"][i], today["provoked"][i], today["contact"][i]

    def execute(self) -> None:
        """Phase 2: the action as carried out; an accident takes it one rung higher."""
        today, i = self.model.today, self.index
        self.realised, self.accident = today["realised"][i], today["accident"][i]

    def perceive(self) -> None:
        """Phase 3: its reading of every actor's realised action through noise, bias and drill ambiguity,
        and the hostile level it reads in the actions of those it is engaged with."""
        now, i = self.model.now, self.index
        self.perceived, self.misread = now["perceived"][0, i], now["misread"][0, i]
        self.hostile_level = self.model.today["hostile_level"][i]

    def update_threat(self) -> None:
        """Phase 4: its threat after accumulating perceived hostility above each adversary's baseline."""
        self.next_threat = self.model.today["next_threat"][self.index]

    def decide(self) -> None:
        """Phases 5-6: the rule and deterrence, and whether misreading drove the step (the MDE tag)."""
        today, i = self.model.today, self.index
        self.decided, self.escalated_by_misperception = today["decided"][i], today["mde"][i]
        self.source = today["source"][i]

    def advance(self) -> None:
        """End of step: tomorrow's posture and threat become today's."""
        self.level, self.threat = self.next_level, self.next_threat
