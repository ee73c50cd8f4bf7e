"""What runs report (MODEL.md section 6): per-run outcomes as they accrue, and integer totals to fold.

:class:`OutcomeTracker` follows R runs step by step (the Mesa engine uses R = 1); :class:`Totals`
holds only integer counts, so totals of blocks or runs add up exactly in any grouping.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from sim.model import loops

NEVER = -1  # step value for an event that did not happen

OUTPUTS = ("p_miscalculation", "p_crisis", "p_war", "p_nuclear_use", "p_crisis_perfect_perception",
           "p_crisis_after_misreading", "p_misperception_driven_escalation")
"""The headline probabilities, each the share of runs with a per-run outcome (:func:`outcome_flags`)."""
LABELS = {
    "p_miscalculation": "P(miscalculation)",
    "p_crisis": "P(crisis)",
    "p_war": "P(war)",
    "p_nuclear_use": "P(top rung)",
    "p_misperception_driven_escalation": "P(misperception-driven escalation)",
    "p_crisis_perfect_perception": "P(crisis, perfect perception)",
    "p_crisis_after_misreading": "P(crisis after a misreading)",
}
"""How tables and figures name each probability."""
_NEEDS = {"p_miscalculation": "miscalculation", "p_crisis": "crisis", "p_war": "war", "p_nuclear_use": "max_rung",
          "p_misperception_driven_escalation": "first_mde_step", "p_crisis_perfect_perception": "twin_crisis",
          "p_crisis_after_misreading": "crisis_after_misreading"}


class OutcomeTracker:
    """Running outcomes of R runs of one compiled scenario.

    Per run: provocation days per actor (all, and those on exercise days: days on which some actor
    drills), contact incidents per actor, crisis onsets (days a crisis begins after a day without
    one: the model's counterpart of a recorded clash), max realised rung, first-passage step of the
    running max to each rung, first crisis, first and last misperception-driven escalation (MDE), the
    first crisis that came within the window after an MDE (a *crisis after a misreading*) and its lag
    from that MDE, its count of misperceptions, its MDEs per observer-observed pair, and each actor's
    own max realised rung (who reached crisis or war). Across runs: occupancy (T, N, K+1), runs at each
    realised rung, and misperceptions per observer-observed pair (N, N). Whether a crisis is a
    *miscalculation* needs the run's perfect-perception twin: :meth:`per_run` and
    :meth:`Totals.from_tracker` take the twin's tracker.
    """

    PER_ACTOR = ("actor_max_rung", "provocations", "exercise_provocations", "contacts")
    """Per-actor quantities, each a per-run column ``<name>_<i>`` for actor index i: per-run columns
    are 1-D, and the tracker knows actors by index only (:func:`sim.io.rundir.runs_columns` names them)."""

    def __init__(self, runs: int, n_actors: int, top_rung: int, horizon: int,
                 crisis_rung: int, war_rung: int, window: int, exercise_days: np.ndarray | None = None,
                 crisis_only: bool = False, days_of: int | None = None):
        R, N, K, T = runs, n_actors, top_rung, horizon
        # A perfect-perception twin is asked one thing, whether its run had a crisis: a crisis-only
        # tracker follows first_crisis and leaves every other count at zero.
        self.crisis_only = crisis_only
        self.crisis_rung, self.war_rung, self.window, self.horizon = crisis_rung, war_rung, window, T
        self.exercise_days = np.zeros(T, dtype=bool) if exercise_days is None else np.asarray(exercise_days, bool)
        self.exercise_provocations = np.zeros((R, N), dtype=np.int64)
        self.contacts = np.zeros((R, N), dtype=np.int64)
        self.crisis_onsets = np.zeros(R, dtype=np.int64)
        self._in_crisis = np.zeros(R, dtype=bool)
        self.max_rung = np.zeros(R, dtype=np.int64)
        self.actor_max_rung = np.zeros((R, N), dtype=np.int64)
        self.first_passage = np.full((R, K + 1), NEVER, dtype=np.int64)
        self.first_crisis = np.full(R, NEVER, dtype=np.int64)
        self.first_mde = np.full(R, NEVER, dtype=np.int64)
        self.last_mde = np.full(R, NEVER, dtype=np.int64)
        self.misreading_crisis_step = np.full(R, NEVER, dtype=np.int64)
        self.misreading_lag = np.full(R, NEVER, dtype=np.int64)
        self.misperceptions = np.zeros(R, dtype=np.int64)
        self.misperception_pairs = np.zeros((N, N), dtype=np.int64)  # summed over the runs
        self.mde = np.zeros((R, N, N), dtype=np.int64)
        self.provocations = np.zeros((R, N), dtype=np.int64)
        self.occupancy = np.zeros((T, N, K + 1), dtype=np.int64)
        # the steps on which actor ``days_of`` provoked, per run (R, T): a hindcast's monthly counts and
        # lags are made of them; a per-run entry of per_run, but not a CSV column
        self.days_of = days_of
        self.provocation_steps = np.zeros((R, T), dtype=bool) if days_of is not None else None

    @classmethod
    def for_scenario(cls, sc, runs: int, crisis_only: bool = False, days_of: int | None = None) -> OutcomeTracker:
        """A tracker of ``runs`` runs of compiled scenario ``sc`` (its exercise days: any actor drilling);
        ``crisis_only`` for a twin's, which follows its crises alone; ``days_of`` an actor index whose
        provocation days to keep (``provocation_steps``)."""
        return cls(runs, sc.n_actors, sc.top_rung, sc.horizon, sc.crisis_rung, sc.war_rung, sc.window,
                   exercise_days=(sc.drill_rung >= 0).any(axis=1), crisis_only=crisis_only, days_of=days_of)

    def tally(self, t: int, realised, misperceived, mde, mde_source, provoked, contact=None) -> None:
        """Fold step t: realised (R, N) int, misperceived (R, N, N) bool, mde (R, N) bool, mde_source (R, N),
        provoked (R, N) bool, contact (R, N) bool (contact incidents; None: none)."""
        if self.crisis_only:
            loops.note_crises(t, realised, self.crisis_rung, self.first_crisis)
            return
        if self.provocation_steps is not None:
            self.provocation_steps[:, t] = provoked[:, self.days_of]
        loops.tally_into(t, self.exercise_days[t], self.crisis_rung, self.window, realised, misperceived, mde,
                          mde_source, provoked, np.zeros(provoked.shape, dtype=bool) if contact is None else contact,
                          self.provocations, self.exercise_provocations, self.contacts, self.actor_max_rung,
                          self.max_rung, self.first_passage, self.crisis_onsets, self._in_crisis, self.first_crisis,
                          self.first_mde, self.last_mde, self.misreading_crisis_step, self.misreading_lag,
                          self.misperceptions, self.misperception_pairs, self.mde, self.occupancy)

    @property
    def crisis(self) -> np.ndarray:
        return self.first_crisis != NEVER

    @property
    def war(self) -> np.ndarray:
        return self.max_rung >= self.war_rung

    @property
    def crisis_after_misreading(self) -> np.ndarray:
        """A crisis within the window after an MDE (the secondary, tag-based measure)."""
        return self.misreading_crisis_step != NEVER

    def miscalculation(self, twin: OutcomeTracker) -> np.ndarray:
        """The headline: a crisis in the run and none in its perfect-perception ``twin`` (R,) bool."""
        return self.crisis & ~twin.crisis

    def per_run(self, twin: OutcomeTracker | None = None) -> dict[str, np.ndarray]:
        """Columns of the per-run table (one row per run); ``miscalculation`` and ``twin_crisis``
        only with the runs' twins."""
        cols = {
            "max_rung": self.max_rung,
            "crisis": self.crisis,
            "war": self.war,
            **({"miscalculation": self.miscalculation(twin), "twin_crisis": twin.crisis} if twin is not None else {}),
            "crisis_after_misreading": self.crisis_after_misreading,
            "first_crisis_step": self.first_crisis,
            "first_mde_step": self.first_mde,
            "misreading_crisis_step": self.misreading_crisis_step,
            "misperceptions": self.misperceptions,
            "mde": self.mde.sum(axis=(1, 2)),
            "provocations": self.provocations.sum(axis=1),
            "crisis_onsets": self.crisis_onsets,
        }
        # the step the run's highest realised rung first reached rung k (NEVER: not reached)
        cols.update({f"first_passage_{k}": self.first_passage[:, k] for k in range(1, self.first_passage.shape[1])})
        for name in self.PER_ACTOR:
            values = getattr(self, name)
            cols.update({f"{name}_{i}": values[:, i] for i in range(values.shape[1])})
        if self.provocation_steps is not None:
            cols["provocation_steps"] = self.provocation_steps
        return cols


@dataclass
class Totals:
    """Integer counts over runs; ``a + b`` folds two groups of runs exactly.

    ``miscalculation`` counts runs with a crisis and none in their perfect-perception twin, so it
    needs twins (``twin_runs`` > 0; else it is 0 and means nothing); ``crisis_after_misreading`` counts
    runs with a crisis within the window after an MDE. Histograms use index T (or W+1) for 'never'.
    Shapes: first_passage (K+1, T+1), max_rung (K+1,), occupancy (T, N, K+1), misperceptions and mde
    (N, N) pair sums, misreading_lag (W+1,) lags of crises after misreadings, provocations (N,) provocation days per actor summed over runs and
    provocations_sq (N,) their squares (for the variance across runs, as calibration needs),
    exercise_provocations (N,) those on exercise days, contacts (N,) contact incidents, crisis_onsets
    and crisis_onsets_sq (scalars) crisis onsets and their squares summed over runs.
    """

    runs: int
    crisis: int
    war: int
    miscalculation: int
    crisis_after_misreading: int
    runs_with_mde: int
    twin_runs: int
    twin_crisis: int
    first_passage: np.ndarray
    max_rung: np.ndarray
    occupancy: np.ndarray
    misperceptions: np.ndarray
    mde: np.ndarray
    misreading_lag: np.ndarray
    provocations: np.ndarray
    provocations_sq: np.ndarray
    exercise_provocations: np.ndarray
    contacts: np.ndarray
    crisis_onsets: int
    crisis_onsets_sq: int

    @classmethod
    def from_tracker(cls, tr: OutcomeTracker, twin: OutcomeTracker | None = None) -> Totals:
        T, K = tr.horizon, tr.first_passage.shape[1] - 1
        fp = np.where(tr.first_passage == NEVER, T, tr.first_passage)
        first_passage = np.stack([np.bincount(fp[:, k], minlength=T + 1) for k in range(K + 1)])
        lag = tr.misreading_lag[tr.crisis_after_misreading]
        return cls(
            runs=len(tr.max_rung),
            crisis=int(tr.crisis.sum()),
            war=int(tr.war.sum()),
            miscalculation=0 if twin is None else int(tr.miscalculation(twin).sum()),
            crisis_after_misreading=int(tr.crisis_after_misreading.sum()),
            runs_with_mde=int((tr.first_mde != NEVER).sum()),
            twin_runs=0 if twin is None else len(twin.max_rung),
            twin_crisis=0 if twin is None else int(twin.crisis.sum()),
            first_passage=first_passage,
            max_rung=np.bincount(tr.max_rung, minlength=K + 1),
            occupancy=tr.occupancy.copy(),
            misperceptions=tr.misperception_pairs.copy(),
            mde=tr.mde.sum(axis=0),
            misreading_lag=np.bincount(lag, minlength=tr.window + 1)[: tr.window + 1],
            provocations=tr.provocations.sum(axis=0),
            provocations_sq=(tr.provocations**2).sum(axis=0),
            exercise_provocations=tr.exercise_provocations.sum(axis=0),
            contacts=tr.contacts.sum(axis=0),
            crisis_onsets=int(tr.crisis_onsets.sum()),
            crisis_onsets_sq=int((tr.crisis_onsets**2).sum()),
        )

    def provocation_moments(self) -> tuple[np.ndarray, np.ndarray]:
        """Mean and sample variance (ddof 1; 0 for one run) across runs of each actor's provocation
        days over the horizon, from the integer sums. (N,), (N,)."""
        n = self.runs
        mean = self.provocations / n
        var = (self.provocations_sq - n * mean**2) / (n - 1) if n > 1 else np.zeros_like(mean)
        return mean, var

    def __add__(self, other: Totals) -> Totals:
        return Totals(**{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)})


def outcome_flags(per_run: dict[str, np.ndarray], top_rung: int, outputs=OUTPUTS) -> dict[str, np.ndarray]:
    """Each output's per-run indicator (bool, one per run) from per-run columns
    (:meth:`OutcomeTracker.per_run`, or runs.csv read back). An output whose column is missing
    (``p_miscalculation`` of runs without twins) is left out."""
    def col(name):
        return np.asarray(per_run[name]).astype(np.int64)

    make = {
        "p_miscalculation": lambda: col("miscalculation") != 0,
        "p_crisis": lambda: col("crisis") != 0,
        "p_war": lambda: col("war") != 0,
        "p_nuclear_use": lambda: col("max_rung") >= top_rung,
        "p_misperception_driven_escalation": lambda: col("first_mde_step") != NEVER,
        "p_crisis_perfect_perception": lambda: col("twin_crisis") != 0,
        "p_crisis_after_misreading": lambda: col("crisis_after_misreading") != 0,
    }
    return {o: make[o]() for o in outputs if _NEEDS[o] in per_run}


@dataclass
class DrawCounts:
    """Counts per posterior draw, for runs that share draws (run k takes draw k // runs_per_draw).

    ``sizes`` (D,) runs of each draw (the last may be short); ``outcomes`` output name (OUTPUTS) ->
    (D,) runs with it; ``first_passage`` (D, K+1, T+1) the escalation-curve histogram of
    :class:`Totals` per draw (None when the per-run table had no first-passage columns).
    """

    sizes: np.ndarray
    outcomes: dict[str, np.ndarray]
    first_passage: np.ndarray | None = None

    @classmethod
    def from_runs(cls, per_run: dict[str, np.ndarray], runs_per_draw: int, top_rung: int,
                  horizon: int | None = None) -> DrawCounts:
        """Fold per-run columns by draw; ``horizon`` (T) asks for the first-passage histograms too."""
        flags = outcome_flags(per_run, top_rung)
        runs = len(next(iter(flags.values())))
        draw = np.arange(runs) // runs_per_draw
        D = int(draw[-1]) + 1
        sizes = np.bincount(draw, minlength=D)
        outcomes = {o: np.bincount(draw, weights=f, minlength=D).astype(np.int64) for o, f in flags.items()}
        hist = None
        if horizon is not None and "first_passage_1" in per_run:
            T = horizon
            hist = np.zeros((D, top_rung + 1, T + 1), dtype=np.int64)
            hist[:, 0, 0] = sizes  # every run stands at rung 0 or above from step 0
            for k in range(1, top_rung + 1):
                fp = np.asarray(per_run[f"first_passage_{k}"], dtype=np.int64)
                np.add.at(hist, (draw, k, np.where(fp == NEVER, T, fp)), 1)
        return cls(sizes, outcomes, hist)

    def of(self, output: str) -> tuple[np.ndarray, np.ndarray]:
        """(runs with the output per draw, runs per draw): the ``by_draw`` of :func:`sim.core.stats.estimate`."""
        return self.outcomes[output], self.sizes
