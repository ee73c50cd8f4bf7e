"""Runs paired across settings: per-run outcomes as bits, paired differences and ratios, and a sweep's points against its baseline.

Two settings run on one random stream give run k the same draws in both (docs/model.md, section 8),
so their runs pair: only the discordant ones carry the difference. :func:`paired_estimate` gives
P(setting) - P(baseline) with its paired interval (Newcombe's at fixed values; over the posterior
draws when runs share them) and the ratio with its interval; :class:`SweepPairing` gives a sweep on
common random numbers each point's difference from its baseline point (``points.csv``).
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from sim.core.numbers import finite_or_none
from sim.core.stats import MIN_DRAWS, difference_over_draws, paired_difference, paired_ratio, ratio_over_draws
from sim.model.outcomes import outcome_flags


def pack_flags(flags: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Per-run indicators as bit vectors (np.packbits: one bit per run), cheap to ship between processes."""
    return {name: np.packbits(np.asarray(v, dtype=bool)) for name, v in flags.items()}


def unpack_flags(bits: np.ndarray, runs: int) -> np.ndarray:
    return np.unpackbits(np.asarray(bits, dtype=np.uint8), count=runs).astype(bool)


def paired_counts(here: np.ndarray, base: np.ndarray) -> tuple[int, int, int]:
    """(both, only here, only at the baseline): runs with the outcome in both settings, in this one only,
    in the baseline only."""
    here, base = np.asarray(here, dtype=bool), np.asarray(base, dtype=bool)
    if here.shape != base.shape:
        raise ValueError(f"paired runs need the same run count; got {here.shape} and {base.shape}")
    return int((here & base).sum()), int((here & ~base).sum()), int((~here & base).sum())


def paired_estimate(here: np.ndarray, base: np.ndarray, confidence: float = 0.95,
                    runs_per_draw: int | None = None) -> dict:
    """One output of one setting against the baseline, run by run: both probabilities, the difference
    here - baseline and the ratio here / baseline with their intervals, and the counts behind them.

    Runs at fixed values are independent: Newcombe's paired interval for the difference, Bonett and
    Price's for the ratio. Runs that share posterior draws (``runs_per_draw``; run k takes draw
    k // runs_per_draw, the same draw in both settings) are not: the intervals are then over the draws
    (:func:`sim.core.stats.difference_over_draws`, :func:`sim.core.stats.ratio_over_draws`), and have no limits
    with fewer than :data:`sim.core.stats.MIN_DRAWS` draws. JSON-ready (an infinite or undefined ratio or
    limit is None); ``interval`` says which.
    """
    both, only_here, only_base = paired_counts(here, base)
    n = len(here)
    out = {"baseline": (both + only_base) / n, "here": (both + only_here) / n}
    if runs_per_draw is None:
        d, lo, hi = paired_difference(only_here, only_base, both, n, confidence)
        r, rlo, rhi = paired_ratio(only_here, only_base, both, confidence)
        interval = "paired, run by run"
    else:
        draw = np.arange(n) // runs_per_draw
        sizes = np.bincount(draw)
        h = np.bincount(draw, weights=np.asarray(here, dtype=float), minlength=len(sizes))
        b = np.bincount(draw, weights=np.asarray(base, dtype=float), minlength=len(sizes))
        d, lo, hi = difference_over_draws(h - b, sizes, confidence, counts=(only_here, only_base, both))
        r, rlo, rhi = ratio_over_draws(h, b, sizes, confidence, counts=(only_here, only_base, both))
        out["draws"] = len(sizes)
        # in how many draws the setting had fewer (more) runs with the outcome than the baseline: how often
        # it helps over the parameters' uncertainty (each draw's count carries its own Monte Carlo noise)
        out["draws_lower"], out["draws_higher"] = float(np.mean(h < b)), float(np.mean(h > b))
        interval = (f"paired, over {len(sizes)} posterior draws" if len(sizes) >= MIN_DRAWS else
                    f"none: {len(sizes)} posterior draws, fewer than {MIN_DRAWS}")
    return out | {"difference": (only_here - only_base) / n, "diff_low": finite_or_none(lo), "diff_high": finite_or_none(hi),
                  "ratio": finite_or_none(r), "ratio_low": finite_or_none(rlo), "ratio_high": finite_or_none(rhi),
                  "both": both, "only_here": only_here, "only_baseline": only_base, "runs": n, "interval": interval}


PAIRED_FILE = "paired_baseline.npz"


PAIRED_SAMPLERS = ("grid", "oat", "pairs")


def sweep_baseline(exp) -> int | None:
    """The point a sweep's points are paired with, or None when they are not paired: point 0 (the
    baseline of a one-at-a-time design, the first combination of a grid) of a grid or oat sweep on
    common random numbers with the same runs at every point (no ``target_half_width``)."""
    meta = exp.meta
    ok = (meta.common_random_numbers and meta.target_half_width is None and meta.sampler in PAIRED_SAMPLERS
          and len(exp.points) > 1)
    return 0 if ok else None


def paired_columns(output: str, p: dict) -> dict:
    """The points.csv columns of one output's paired difference from the baseline point, and what its
    interval is (``diff_interval``, one column for every output: they share their runs and draws)."""
    return {f"{output}_diff": p["difference"], f"{output}_diff_low": p["diff_low"],
            f"{output}_diff_high": p["diff_high"], f"{output}_only_here": p["only_here"],
            f"{output}_only_baseline": p["only_baseline"], "diff_interval": p["interval"],
            **{f"{output}_{k}": p[k] for k in ("draws_lower", "draws_higher") if k in p}}


class SweepPairing:
    """Paired differences of a sweep's points from its baseline point (:func:`sweep_baseline`).

    Each point's worker returns its runs' outcomes as bit vectors (``outcome_bits`` of
    :func:`sim.analysis.sweep.run_point`, one bit per run and output); the baseline's are kept in memory and in
    ``paired_baseline.npz`` (so a resumed sweep has them), and every other point's row gets its
    discordant counts against them and the difference with its paired interval. A point that finishes
    before the baseline waits for it (the baseline is sent first, so few ever do).
    """

    def __init__(self, exp, out: Path):
        self.baseline = sweep_baseline(exp)
        self.outputs = tuple(exp.meta.outputs) if self.baseline is not None else ()
        self.runs = exp.runs
        self.runs_per_draw = exp.runs_per_draw
        self.path = Path(out) / PAIRED_FILE
        self.flags = self._load() if self.baseline is not None else None
        self.pending: dict[int, dict] = {}

    def _load(self) -> dict[str, np.ndarray] | None:
        try:
            with np.load(self.path) as f:
                if int(f["runs"]) != self.runs or int(f["baseline"]) != self.baseline:
                    return None
                return {o: unpack_flags(f[o], self.runs) for o in self.outputs}
        except (OSError, KeyError, ValueError):
            return None

    def plan(self, todo: list, points: list) -> list:
        """The points to run, the baseline first; the baseline again when its runs' outcomes were not kept."""
        if self.baseline is None:
            return todo
        if self.flags is None and all(p.index != self.baseline for p in todo):
            todo = [points[self.baseline], *todo]
        return sorted(todo, key=lambda p: p.index != self.baseline)

    def ready(self, index: int, summary: dict) -> list[tuple[int, dict]]:
        """The points whose rows can be written now, each summary with its ``paired_columns``."""
        bits = summary.pop("outcome_bits", None)
        if self.baseline is None:
            return [(index, summary)]
        flags = {o: unpack_flags(bits[o], summary["runs"]) for o in self.outputs}
        if index == self.baseline:
            self.flags = flags
            self._save(bits)
        elif self.flags is None:
            self.pending[index] = (summary, flags)
            return []
        out = [(index, summary, flags)] + [(i, s, f) for i, (s, f) in sorted(self.pending.items())]
        self.pending.clear()
        for i, s, f in out:
            s["paired_columns"] = {k: v for o in self.outputs
                                   for k, v in paired_columns(o, paired_estimate(f[o], self.flags[o], runs_per_draw=self.runs_per_draw)).items()}
        return [(i, s) for i, s, _ in out]

    def _save(self, bits: dict) -> None:
        from sim.core.files import atomic_write

        buf = io.BytesIO()
        np.savez_compressed(buf, runs=self.runs, baseline=self.baseline, **bits)
        atomic_write(self.path, buf.getvalue())


def pack_outcomes(tables: list[dict], top_rung: int, outputs) -> dict[str, np.ndarray]:
    """Per-run tables of consecutive run ranges -> each output's bit vector over all their runs."""
    joined = {k: np.concatenate([t[k] for t in tables]) for k in tables[0]}
    return pack_flags(outcome_flags(joined, top_rung, outputs))
