"""StateAgent: one state of the scenario, stepping its phases by calling the kernel on its own row."""

from __future__ import annotations

import mesa
import numpy as np

from . import kernel


class StateAgent(mesa.Agent):
    """A state on the escalation ladder.

    Holds its posture ``level`` (rung), ``threat`` (rungs) and today's ``intended``, ``realised`` and
    ``perceived`` (its reading of every actor, shape (N,)). Each phase method is one step of MODEL.md
    section 4 and calls the same kernel function the ensemble engine calls, on a batch of one run and
    one observer row, so its numbers are the ensemble's bit for bit.
    """

    def __init__(self, model, index: int):
        super().__init__(model)
        sc = model.compiled
        self.index = index
        self.actor_id = sc.actor_ids[index]
        self.name = sc.actor_names[index]
        self.row = slice(index, index + 1)
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
        m = self.model
        x, provoked, contact = kernel.intend_phase(m.compiled, m.t, m.now["level"], m.now["threat"], m.draws,
                                                   m.regime, self.row)
        self.intended, self.provoked, self.contact = int(x[0, 0]), bool(provoked[0, 0]), bool(contact[0, 0])

    def execute(self) -> None:
        """Phase 2: the action as carried out; an accident takes it one rung higher."""
        m = self.model
        a, accident = kernel.execute_phase(m.compiled, m.now["intended"], m.draws, self.row)
        self.realised, self.accident = int(a[0, 0]), bool(accident[0, 0])

    def perceive(self) -> None:
        """Phase 3: read every actor's realised action through noise, bias and drill ambiguity."""
        m = self.model
        p, misread = kernel.perceive_phase(m.compiled, m.t, m.now["level"], m.now["realised"], m.draws,
                                           self.row)
        self._perceived = p
        self.perceived, self.misread = p[0, 0], misread[0, 0]

    def update_threat(self) -> None:
        """Phase 4: accumulate perceived hostility above each adversary's baseline."""
        m = self.model
        th = kernel.threat_phase(m.compiled, m.t, m.now["threat"], self._perceived, self.row)
        self.next_threat = float(th[0, 0])

    def decide(self) -> None:
        """Phases 5-6: the rule and deterrence, and the same on intended actions (the MDE tag)."""
        m = self.model
        decided, mde, source, q = kernel.decide_phase(
            m.compiled, m.now["level"], m.now["intended"], self._perceived,
            np.array([[self.next_threat]]), m.draws, self.row)
        self.decided, self.escalated_by_misperception = int(decided[0, 0]), bool(mde[0, 0])
        self.source, self.hostile_level = int(source[0, 0]), float(q[0, 0])

    def advance(self) -> None:
        """End of step: tomorrow's posture and threat become today's."""
        self.level, self.threat = self.next_level, self.next_threat
