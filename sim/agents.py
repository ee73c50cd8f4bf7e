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
        self.provoked = self.accident = self.escalated_by_misperception = False
        self.perceived = np.zeros(sc.n_actors)
        self.misread = np.zeros(sc.n_actors, dtype=bool)
        self.hostile_level = 0.0
        self.source = -1

    # -- phases, in the order the model calls them --------------------------------------------

    def intend(self) -> None:
        """Phase 1: drill, provoke or hold: the action this state means to take today."""
        sc, m, i = self.model.compiled, self.model, self.index
        chance = kernel.provocation_probability(np.array([[self.threat]]), sc.base_rate[self.row],
                                                sc.kappa[self.row], sc.deterrence[self.row])
        provokes = m.draws.provocation[:, self.row] < chance
        x = kernel.intend(np.array([[self.level]]), sc.drill_rung[m.t, self.row], provokes,
                          sc.provocation_rung[self.row])
        self.provoked, self.intended = bool(provokes[0, 0]), int(x[0, 0])

    def execute(self) -> None:
        """Phase 2: the action as carried out; an accident takes it one rung higher."""
        sc = self.model.compiled
        a, acc = kernel.execute(np.array([[self.intended]]), self.model.draws.accident[:, self.row],
                                sc.accident, sc.top_rung)
        self.realised, self.accident = int(a[0, 0]), bool(acc[0, 0])

    def perceive(self) -> None:
        """Phase 3: read every actor's realised action through noise, bias and drill ambiguity."""
        sc, m = self.model.compiled, self.model
        realised = m.actions("realised")
        hot = kernel.hotline_open(np.array([[self.level]]), m.actions("level"), sc.lever_rung)
        p = kernel.perceive(realised, sc.bias[self.row], sc.drill_ambiguity[m.t], sc.noise[self.row],
                            sc.hotline_eta[self.row], hot, m.draws.normals[:, self.row, :])
        self._perceived = p
        self.perceived = p[0, 0]
        self.misread = kernel.misperceived(p, realised, np.array([self.index]), sc.top_rung)[0, 0]

    def update_threat(self) -> None:
        """Phase 4: accumulate perceived hostility above each adversary's baseline."""
        sc, m = self.model.compiled, self.model
        th = kernel.update_threat(np.array([[self.threat]]), self._perceived, sc.weight[self.row],
                                  sc.drill_scale[m.t], sc.baseline, sc.decay[self.row],
                                  sc.grievance[self.row], sc.summit_relief[m.t, self.row])
        self.next_threat = float(th[0, 0])

    def decide(self) -> None:
        """Phases 5-6: apply the rule and deterrence, then the same on intended actions (the tag)."""
        sc, m, i = self.model.compiled, self.model, self.index
        engaged = sc.engaged[self.row]
        q, source = kernel.hostile_level(self._perceived, engaged)
        q_star, _ = kernel.hostile_level(m.actions("intended")[:, None, :].astype(float), engaged)
        level = np.array([self.level])
        args = (sc.rule_names[i], sc.rule_params[i])
        common = dict(threat=np.array([self.next_threat]), baseline=sc.baseline[i], ceiling=sc.ceiling[i],
                      u_rule=m.draws.rule[:, i], u_deter=m.draws.deterrence[:, i],
                      deterrence=sc.deterrence[i], crisis_rung=sc.crisis_rung)
        r = kernel.decide(*args, level, q[:, 0], **common)
        r_star = kernel.decide(*args, level, q_star[:, 0], **common)
        self.hostile_level, self.source = float(q[0, 0]), int(source[0, 0])
        self.decided = int(r[0])
        self.escalated_by_misperception = bool(kernel.misperception_driven(level, r, r_star)[0])

    def advance(self) -> None:
        """End of step: tomorrow's posture and threat become today's."""
        self.level, self.threat = self.next_level, self.next_threat
