"""Run an ensemble of one scenario with either engine and collect what it reports."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from tqdm.auto import tqdm

from .compile import CompiledScenario
from .draws import run_seed
from .model import EscalationModel
from .outcomes import Totals

ENGINES = ("mesa",)
SAMPLE_PATHS = 5  # runs whose full level paths are kept for plots


@dataclass
class EnsembleResult:
    """What an ensemble returns: integer totals, optional per-run columns, a few sample paths.

    ``sample_levels`` is (S, T + 1, N): the posture paths of the first S runs.
    """

    scenario: CompiledScenario
    runs: int
    seed: int
    engine: str
    totals: Totals
    per_run: dict[str, np.ndarray] | None = None
    sample_levels: np.ndarray = field(default_factory=lambda: np.zeros((0, 0, 0)))


def simulate(scenario: CompiledScenario, runs: int = 1000, seed: int = 0, *, engine: str = "mesa",
             twins: bool = False, per_run: bool = True, progress: bool = False) -> EnsembleResult:
    """Run ``runs`` runs of ``scenario`` seeded from ``seed`` and fold their outcomes.

    Run k uses draws fixed by (seed, k) alone, so any subset of runs gives the same per-run numbers.
    With ``twins`` each run also runs its perfect-perception twin on the same draws, which gives
    the inadvertent-escalation count (MODEL.md section 6).
    """
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; choose from {', '.join(ENGINES)}")
    if runs < 1:
        raise ValueError(f"runs must be at least 1, got {runs}")
    totals = None
    columns: dict[str, list] = {}
    samples = []
    for k in tqdm(range(runs), desc=f"{scenario.name} (mesa)", unit="run", disable=not progress,
                  delay=1.0, leave=False):
        model = EscalationModel(scenario, rng=run_seed(seed, k)).run()
        twin = None
        if twins:
            # The same rng gives the twin the same draws (the layout never depends on the state).
            twin = EscalationModel(scenario, rng=run_seed(seed, k), perfect_perception=True).run().outcomes
        part = Totals.from_tracker(model.outcomes, twin)
        totals = part if totals is None else totals + part
        if per_run:
            for name, col in model.outcomes.per_run(twin).items():
                columns.setdefault(name, []).append(col)
        if k < SAMPLE_PATHS:
            samples.append(model.history["level"])
    table = {"run": np.arange(runs), **{k: np.concatenate(v) for k, v in columns.items()}} if per_run else None
    return EnsembleResult(scenario, runs, seed, "mesa", totals, table, np.stack(samples))
