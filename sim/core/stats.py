"""Intervals and curves from integer counts: Wilson intervals, intervals over posterior draws, curves.

Runs at fixed parameter values are independent: a probability's interval is Wilson's. Runs that share
posterior draws are not: R runs in D draws of M runs carry about D draws' worth of information on the
parameters, however large M. Their intervals (:func:`over_draws`, :func:`difference_over_draws`,
:func:`ratio_over_draws`) treat the draw as the unit (a cluster), so they hold the Monte Carlo error
and the parameters' uncertainty together, for the probability integrated over the posterior.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import norm
from scipy.stats import t as student

MIN_DRAWS = 10
"""Fewer posterior draws than this give no interval: so few draw means cannot measure the spread the
parameters make, and an interval from them would claim a precision the runs do not have."""


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


def _wilson(p, n, z):
    """Wilson's interval for an estimate ``p`` from ``n`` (possibly effective, non-integer) trials."""
    denom = 1.0 + z**2 / n
    centre = (p + z**2 / (2 * n)) / denom
    half = z * np.sqrt(np.maximum(p * (1 - p) / n + z**2 / (4 * n**2), 0.0)) / denom
    low = np.where(p <= 0, 0.0, np.clip(centre - half, 0.0, 1.0))
    high = np.where(p >= 1, 1.0, np.clip(centre + half, 0.0, 1.0))
    return low, high


def _draw_variance(sums: np.ndarray, sizes: np.ndarray):
    """The ratio estimate sum/n of draws' totals, its variance with the draw as the unit, and the
    skewness of the draws' contributions, elementwise over the trailing axes.

    sums (D, ...) per-draw totals of a per-run value, sizes (D,) runs per draw (the last may be
    short). The variance is the cluster (linearisation) estimator D/(D-1) sum_d z_d^2 / D^2 with
    z_d = (y_d - est m_d) D / n, each draw's contribution to the estimate's error; the skewness is
    mean(z^3) / mean(z^2)^1.5 (0 where every z is 0). Returns (est, var, skew, D, n).
    """
    y = np.asarray(sums, dtype=float)
    m = np.asarray(sizes, dtype=float).reshape((-1,) + (1,) * (y.ndim - 1))
    D, n = len(m), float(m.sum())
    est = y.sum(axis=0) / n
    z = (y - est * m) * (D / n)
    m2 = (z**2).mean(axis=0)
    var = m2 * D / (D - 1) / D if D > 1 else np.full(est.shape, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        skew = np.where(m2 > 0, (z**3).mean(axis=0) / np.where(m2 > 0, m2, 1.0) ** 1.5, 0.0)
    return est, var, skew, D, n


def _skew_corrected_t(est, var, skew, D: int, confidence: float):
    """Hall's (1992, JRSS B 54, 221-228) interval for a mean from D skewed, independent contributions:
    Student's t with D - 1 degrees of freedom passed through the cubic transformation
    g(t) = t + a t^2 + a^2 t^3 / 3 + b, a = skew / (3 sqrt D), b = skew / (6 sqrt D), which removes
    the first-order effect of skewness. A few draws with large values (the draws where war is likely,
    say) make the draw means right-skewed; a plain t interval then misses high too often."""
    q = student.ppf(0.5 + confidence / 2, D - 1)
    a, b = skew / (3 * np.sqrt(D)), skew / (6 * np.sqrt(D))

    def g_inverse(u):  # g(t) = ((1 + a t)^3 - 1) / (3 a) + b, increasing in t
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(a != 0, (np.cbrt(1 + 3 * a * (u - b)) - 1) / np.where(a != 0, a, 1.0), u - b)

    se = np.sqrt(var)
    return est - g_inverse(q) * se, est - g_inverse(-q) * se


def mean_interval(values, confidence: float = 0.95):
    """The mean of independent, possibly skewed values (rare-outcome repetitions' estimates: mostly
    small, a few large) with Hall's skewness-corrected t interval (:func:`_skew_corrected_t`), floored
    at 0. A plain t interval on such values misses high: on the rare-event chain of tests/analysis/test_rare.py
    (skewness 1-4.6 over 60 repetitions) one of eight seeds' 99% t intervals missed the exact value,
    none of the corrected ones. Returns (mean, low, high); NaN limits from fewer than 2 values."""
    x = np.asarray(values, dtype=float)
    if len(x) < 2:
        return float(x.mean()) if len(x) else np.nan, np.nan, np.nan
    mean, var, skew, D, _ = _draw_variance(x, np.ones(len(x)))
    low, high = _skew_corrected_t(mean, var, skew, D, confidence)
    return float(mean), max(0.0, float(low)), float(high)


def over_draws(successes, sizes, confidence: float = 0.95):
    """A probability over runs that share posterior draws, with an interval over the draws, elementwise.

    successes (D, ...) runs with the outcome in each draw; sizes (D,) runs of each draw. The estimate
    is the share of all runs; its variance treats draws as clusters (:func:`_draw_variance`). The
    interval is the envelope of two that each fail where the other holds: Hall's skewness-corrected t
    (:func:`_skew_corrected_t`), for draws whose probabilities differ a lot, and Wilson's interval at
    the effective sample size n / deff (deff = the cluster variance over the binomial one, at least 1;
    Korn and Graubard 1998) with Student's t quantile, for probabilities near 0 or 1 (where every
    draw may show none, and the t interval collapses). It covers the posterior-integrated probability:
    Monte Carlo error and the parameters' spread together (tests/core/test_intervals.py measures its
    coverage). Fewer than :data:`MIN_DRAWS` draws give NaN limits.
    Returns (estimate, low, high, design effect) arrays.
    """
    p, var, skew, D, n = _draw_variance(successes, sizes)
    binomial = p * (1 - p) / n
    with np.errstate(invalid="ignore", divide="ignore"):
        deff = np.where(binomial > 0, np.maximum(1.0, var / np.where(binomial > 0, binomial, 1.0)), 1.0)
    if D < MIN_DRAWS:
        nan = np.full(np.shape(p), np.nan)
        return p, nan, nan.copy(), deff
    low, high = _wilson(p, n / deff, student.ppf(0.5 + confidence / 2, D - 1))
    t_low, t_high = _skew_corrected_t(p, var, skew, D, confidence)
    return p, np.clip(np.minimum(low, t_low), 0.0, 1.0), np.clip(np.maximum(high, t_high), 0.0, 1.0), deff


def _paired_deff(diff_sums, sizes, only_here, only_base) -> float:
    """The design effect of a paired difference over draws: its cluster variance over the variance it
    would have if the runs were independent ((b + c - (b - c)^2 / n) / n^2), at least 1."""
    d, var, _, _, n = _draw_variance(diff_sums, sizes)
    iid = ((only_here + only_base) - (only_here - only_base) ** 2 / n) / n**2
    return float(max(1.0, var / iid)) if iid > 0 else 1.0


def difference_over_draws(diff_sums, sizes, confidence: float = 0.95, counts=None):
    """The mean of a per-run paired difference (-1, 0, 1: P(here) - P(baseline)) over runs that share
    posterior draws, with an interval over the draws, clipped to [-1, 1].

    The interval is Hall's skewness-corrected t over the draws (:func:`_skew_corrected_t`); with
    ``counts`` = (runs with the outcome only here, only at the baseline, in both), it is the envelope
    of that and Newcombe's paired interval at the effective sample size (the counts over the design
    effect, :func:`_paired_deff`). The t interval alone covers too little when few runs differ (0.86-0.89
    in tests/core/test_intervals.py's sparse worlds: a handful of discordant runs say little about their
    spread); the score interval alone too little when the draws' differences are dense and skewed.
    No run differing gives a difference of exactly 0, with [0, 0] from the t interval alone and
    Newcombe's symmetric interval around 0 with ``counts`` (no discordant run among n does not prove
    that none could differ). Fewer than :data:`MIN_DRAWS` draws give NaN limits.
    Returns (difference, low, high)."""
    d, var, skew, D, n = _draw_variance(diff_sums, sizes)
    if D < MIN_DRAWS:
        return d, np.full(np.shape(d), np.nan), np.full(np.shape(d), np.nan)
    low, high = _skew_corrected_t(d, var, skew, D, confidence)
    if counts is not None:
        b, c, a = (float(x) for x in counts)
        deff = _paired_deff(diff_sums, sizes, b, c)
        _, n_low, n_high = paired_difference(b / deff, c / deff, a / deff, n / deff, confidence)
        low, high = np.minimum(low, n_low), np.maximum(high, n_high)
    return d, np.clip(low, -1.0, 1.0), np.clip(high, -1.0, 1.0)


def ratio_over_draws(here, base, sizes, confidence: float = 0.95, counts=None):
    """P(here) / P(baseline) over runs that share posterior draws: the ratio of the totals, with a
    Student t interval on the log scale from the linearised cluster variance of the ratio
    (sum_d (h_d - r b_d)^2 D/(D-1) / B^2); with ``counts`` (as :func:`difference_over_draws` takes them),
    the envelope of that and Bonett and Price's paired interval at the effective sample size. here,
    base: (D,) runs with the outcome per draw. Returns (ratio, low, high): inf and nan as
    :func:`paired_ratio` gives them when a total is 0 (the interval then runs from 0 to inf); NaN
    limits below :data:`MIN_DRAWS` draws."""
    h, b = np.asarray(here, dtype=float), np.asarray(base, dtype=float)
    H, B, D = h.sum(), b.sum(), len(h)
    if B == 0 or H == 0:
        ratio = np.inf if H > 0 else (0.0 if B > 0 else np.nan)
        return ratio, (np.nan if D < MIN_DRAWS else 0.0), (np.nan if D < MIN_DRAWS else np.inf)
    r = H / B
    if D < MIN_DRAWS:
        return r, np.nan, np.nan
    var = D / (D - 1) * ((h - r * b) ** 2).sum() / B**2
    half = student.ppf(0.5 + confidence / 2, D - 1) * np.sqrt(var) / r
    low, high = r * np.exp(-half), r * np.exp(half)
    if counts is not None:
        only_here, only_base, both = (float(x) for x in counts)
        deff = _paired_deff(h - b, sizes, only_here, only_base)
        _, s_low, s_high = paired_ratio(only_here / deff, only_base / deff, both / deff, confidence)
        low, high = min(low, float(s_low)), max(high, float(s_high))
    return r, low, high


def estimate(successes: int, trials: int, confidence: float = 0.95, by_draw=None) -> dict:
    """One probability as ``{"estimate", "ci_low", "ci_high", "successes", "runs", "interval"}``.

    Without ``by_draw`` the runs are independent and the interval is Wilson's. With ``by_draw`` =
    (successes per draw (D,), runs per draw (D,)) the interval is over the draws (:func:`over_draws`),
    and ``draws`` and ``design_effect`` are added; with fewer than :data:`MIN_DRAWS` draws the limits
    are None and ``interval`` says why.
    """
    if by_draw is None:
        p, lo, hi = wilson_interval(successes, trials, confidence)
        return {"estimate": float(p), "ci_low": float(lo), "ci_high": float(hi),
                "successes": int(successes), "runs": int(trials), "interval": "Wilson"}
    counts, sizes = by_draw
    p, lo, hi, deff = over_draws(counts, sizes, confidence)
    D = len(sizes)
    ok = D >= MIN_DRAWS
    return {"estimate": float(p), "ci_low": float(lo) if ok else None, "ci_high": float(hi) if ok else None,
            "successes": int(successes), "runs": int(trials), "draws": D, "design_effect": float(deff),
            "interval": f"over {D} posterior draws" if ok else f"none: {D} posterior draws, fewer than {MIN_DRAWS}"}


def escalation_curves(first_passage_hist: np.ndarray, runs: int, by_draw=None):
    """P(max realised rung so far >= k at step t) with 95% bands.

    first_passage_hist (K+1, T+1): runs whose running max first reached rung k at step t (column T:
    never). Bands are Wilson's, or with ``by_draw`` = (the per-draw histograms (D, K+1, T+1), runs per
    draw (D,)) over the posterior draws (:func:`over_draws`; NaN with fewer than :data:`MIN_DRAWS`).
    Returns (p, low, high), each (K+1, T).
    """
    reached = np.cumsum(first_passage_hist[:, :-1], axis=1)
    if by_draw is None:
        return wilson_interval(reached, np.full(reached.shape, runs))
    hist, sizes = by_draw
    p, low, high, _ = over_draws(np.cumsum(np.asarray(hist)[:, :, :-1], axis=2), sizes)
    return reached / runs, low, high


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
