"""Intervals and curves from integer counts: Wilson intervals, escalation curves, summaries."""

from __future__ import annotations

import numpy as np
from scipy.stats import norm


def wilson_interval(successes, trials, confidence: float = 0.95):
    """Wilson score interval for a binomial proportion, elementwise.

    successes, trials: integer arrays (or scalars) of the same shape, trials > 0.
    Returns (estimate, low, high) as float arrays of that shape.
    """
    k = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    if np.any(n <= 0):
        raise ValueError("Wilson interval needs at least one trial")
    z = norm.ppf(0.5 + confidence / 2.0)
    p = k / n
    denom = 1.0 + z**2 / n
    centre = (p + z**2 / (2 * n)) / denom
    half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denom
    # At k = 0 and k = n the bounds are exactly 0 and 1; the formula leaves rounding error there
    # (a lower bound 1.7e-18 above an estimate of 0 once broke error bars).
    low = np.where(k == 0, 0.0, np.clip(centre - half, 0.0, 1.0))
    high = np.where(k == n, 1.0, np.clip(centre + half, 0.0, 1.0))
    return p, low, high


def estimate(successes: int, trials: int, confidence: float = 0.95) -> dict:
    """One probability as ``{"estimate", "ci_low", "ci_high", "successes", "runs"}``."""
    p, lo, hi = wilson_interval(successes, trials, confidence)
    return {"estimate": float(p), "ci_low": float(lo), "ci_high": float(hi),
            "successes": int(successes), "runs": int(trials)}


def escalation_curves(first_passage_hist: np.ndarray, runs: int):
    """P(max realised rung so far >= k at step t) with Wilson 95% bands.

    first_passage_hist (K+1, T+1): runs whose running max first reached rung k at step t (column T:
    never). Returns (p, low, high), each (K+1, T).
    """
    reached = np.cumsum(first_passage_hist[:, :-1], axis=1)
    return wilson_interval(reached, np.full(reached.shape, runs))
