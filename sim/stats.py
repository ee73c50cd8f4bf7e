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


def paired_difference(here_only, base_only, both, trials, confidence: float = 0.95):
    """Newcombe's hybrid score interval for the difference of two paired proportions, elementwise.

    Runs of two settings paired run by run (the same random numbers) form a 2x2 table: ``both`` runs
    with the outcome in either setting, ``here_only`` with it only in this setting, ``base_only`` only
    in the baseline, the rest in neither; ``trials`` runs in all. The difference is
    P(here) - P(baseline) = (here_only - base_only) / trials. The interval is Newcombe's method 10
    (Statistics in Medicine 17, 2635-2650, 1998): the Wilson limits (l, u) of each proportion combined as
    ``d - sqrt((p1 - l1)^2 - 2 phi (p1 - l1)(u2 - p2) + (u2 - p2)^2)`` below and
    ``d + sqrt((p2 - l2)^2 - 2 phi (p2 - l2)(u1 - p1) + (u1 - p1)^2)`` above, where phi estimates the
    correlation of the pairs: (ad - bc - n/2) / sqrt(efgh) when ad - bc > n/2, 0 when 0 <= ad - bc <= n/2,
    (ad - bc) / sqrt(efgh) when negative, and 0 when a margin e, f, g, h is empty. With phi = 0 it is
    the interval for independent samples of the same size (:func:`unpaired_difference`).
    Returns (difference, low, high) as float arrays.
    """
    b, c, a, n = (np.asarray(v, dtype=float) for v in (here_only, base_only, both, trials))
    if np.any(n <= 0):
        raise ValueError("a paired interval needs at least one trial")
    d = n - a - b - c
    if np.any(d < 0) or np.any(np.minimum(np.minimum(a, b), c) < 0):
        raise ValueError("paired counts must be >= 0 and add up to at most the trials")
    margins = (a + b) * (c + d) * (a + c) * (b + d)
    cross = a * d - b * c
    num = np.where(cross > n / 2, cross - n / 2, np.where(cross < 0, cross, 0.0))
    with np.errstate(invalid="ignore", divide="ignore"):
        phi = np.where(margins > 0, num / np.sqrt(np.where(margins > 0, margins, 1.0)), 0.0)
    return _hybrid(a + b, a + c, n, phi, confidence, diff=(b - c) / n)


def unpaired_difference(successes_here, successes_base, trials, confidence: float = 0.95):
    """Newcombe's hybrid score interval (method 10 of Statistics in Medicine 17, 873-890, 1998) for the
    difference of two independent proportions with the same number of trials: what the paired interval
    would be if the runs shared no random numbers. Returns (difference, low, high)."""
    k1, k2, n = (np.asarray(v, dtype=float) for v in (successes_here, successes_base, trials))
    return _hybrid(k1, k2, n, np.zeros(np.broadcast(k1, k2, n).shape), confidence)


def _hybrid(k1, k2, n, phi, confidence, diff=None):
    p1, l1, u1 = wilson_interval(k1, n, confidence)
    p2, l2, u2 = wilson_interval(k2, n, confidence)
    diff = p1 - p2 if diff is None else diff  # paired: (b - c) / n, exactly 0 when no run differs
    below = (p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) ** 2
    above = (p2 - l2) ** 2 - 2 * phi * (p2 - l2) * (u1 - p1) + (u1 - p1) ** 2
    low = np.clip(diff - np.sqrt(np.maximum(below, 0.0)), -1.0, 1.0)
    high = np.clip(diff + np.sqrt(np.maximum(above, 0.0)), -1.0, 1.0)
    return diff, low, high


def paired_ratio(here_only, base_only, both, confidence: float = 0.95):
    """Bonett and Price's hybrid Wilson score interval for the ratio of two paired proportions,
    P(here) / P(baseline) = (both + here_only) / (both + base_only), elementwise (Statistics in
    Medicine 25, 3039-3047, 2006). Only runs with the outcome in either setting enter it. The ratio is
    inf with no baseline runs (nan with none at all), and so is the upper limit.
    Returns (ratio, low, high) as float arrays.
    """
    b, c, a = (np.asarray(v, dtype=float) for v in (here_only, base_only, both))
    n1, n2, m = a + b, a + c, a + b + c
    z0 = norm.ppf(0.5 + confidence / 2.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        spread = np.sqrt((b + c + 2) / ((n1 + 1) * (n2 + 1)))
        s1 = np.sqrt((1 - (n1 + 1) / (m + 2)) / (n1 + 1))
        s2 = np.sqrt((1 - (n2 + 1) / (m + 2)) / (n2 + 1))
        z = spread / (s1 + s2) * z0
        mm = np.where(m > 0, m, 1.0)

        def wilson(k):
            root = z * np.sqrt(z**2 + 4 * k * (1 - k / mm))
            return (2 * k + z**2 - root) / (2 * (mm + z**2)), (2 * k + z**2 + root) / (2 * (mm + z**2))

        lo1, hi1 = wilson(n1)
        lo2, hi2 = wilson(n2)
        ratio = np.where(n2 > 0, n1 / np.where(n2 > 0, n2, 1.0), np.where(n1 > 0, np.inf, np.nan))
        low = np.where(m > 0, lo1 / hi2, 0.0)
        high = np.where((m > 0) & (lo2 > 0), hi1 / np.where(lo2 > 0, lo2, 1.0), np.inf)
    return ratio, low, high


def spread_over_draws(outcome, runs_per_draw: int, quantiles=(0.05, 0.5, 0.95)) -> dict:
    """How a probability moves over parameter draws: runs k*M .. k*M + M - 1 share draw k.

    outcome (R,) bool; a last draw cut short (R not a multiple of M = runs_per_draw) is left out.
    Returns the draws' count, the quantiles
    of the per-draw estimates (which carry Monte Carlo noise of about sqrt(p(1-p)/M) besides the
    parameters' effect), and the between-draw standard deviation with that noise taken out
    (var(p_d) - mean(p_d(1-p_d)/(M-1)), floored at 0): the part the parameters make.
    """
    x = np.asarray(outcome, dtype=float)
    M = int(runs_per_draw)
    if M < 2 or len(x) < M:
        raise ValueError(f"need at least 2 runs per draw and one whole draw; got {len(x)} runs, {M} per draw")
    p = x[: len(x) // M * M].reshape(-1, M).mean(axis=1)  # whole draws only (the last may be cut short)
    noise = np.mean(p * (1 - p) / (M - 1))
    between = max(0.0, float(np.var(p, ddof=1) - noise)) if len(p) > 1 else 0.0
    return {"draws": len(p), "runs_per_draw": M, **{f"q{round(100 * q):02d}": float(np.quantile(p, q)) for q in quantiles},
            "between_draw_sd": float(np.sqrt(between))}
