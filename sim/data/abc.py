"""Reference-table ABC: the simulations nearest the data, kernel-weighted and regression-adjusted, and the coverage check that tests it.

Nothing here knows the model: a *table* is parameter vectors drawn from the prior, (N, d), and the
summary statistics each one's simulation gave, (N, m); :mod:`sim.data.calibrate` builds it from the
hindcast. For observed statistics s (m,):

1. **Distance**: Euclidean, on the statistics divided by their spread over the table
   (:func:`statistic_scale`: the median absolute deviation, as a normal standard deviation), so that
   no statistic's units decide the fit.
2. **Rejection with a kernel**: the ``samples`` nearest rows are kept; row i gets the Epanechnikov
   weight 1 - (d_i / h)^2, h the distance of the next-nearest row (so every kept row weighs > 0).
   When more rows than that match s exactly (discrete statistics), all exact matches are kept with
   weight 1: rejection at tolerance 0, which is the exact posterior.
3. **Local-linear regression adjustment** (Beaumont, Zhang and Balding 2002, Genetics 162: 2025-2035):
   on the kept rows, each parameter on a free scale, phi = logit(F(theta)) with F the prior's CDF
   (logit of the position in the range for a uniform prior, of the log position for a log-uniform
   one), is regressed on the scaled statistics' difference from s by weighted least squares, and each
   row is moved along the fitted slope to s: phi_i - (s_i - s) beta. Back on the parameter scale the
   adjusted values stay inside the prior's range. This removes most of the effect of the tolerance,
   which would otherwise widen the posterior.

The table is simulated once; the posterior of any data set then costs one pass over it. That is
what makes the **coverage check** (Prangle, Blum, Popovic and Sisson 2014, Aust. N. Z. J. Stat. 56:
309-329; Talts et al. 2018, arXiv:1804.06788) cheap: for M data sets simulated at parameters
theta* drawn from the prior, each one's posterior rank of theta* (the posterior weight below it)
is uniform on [0, 1] when the posterior is calibrated, so theta* lies in the central 50% and 90%
intervals of M posteriors 0.5 M and 0.9 M times within binomial error. :func:`coverage_ranks` gives
the ranks, :func:`coverage_summary` the counts against their binomial bands.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

DISTRIBUTIONS = ("uniform", "loguniform")
MAD_TO_SD = 1.482602218505602  # 1 / Phi^-1(3/4): a normal's standard deviation from its MAD
EDGE = 1e-12  # CDF positions are clipped to [EDGE, 1 - EDGE] before the logit, so the prior's ends stay finite


@dataclass(frozen=True)
class Box:
    """Independent priors, each uniform or log-uniform on [low, high]: distributions (d,), low and high
    (d,) arrays in the parameters' units (low > 0 for a log-uniform one)."""

    distributions: tuple[str, ...]
    low: np.ndarray
    high: np.ndarray

    def __post_init__(self):
        low, high = np.asarray(self.low, dtype=float), np.asarray(self.high, dtype=float)
        object.__setattr__(self, "low", low)
        object.__setattr__(self, "high", high)
        if not (len(self.distributions) == low.shape[0] == high.shape[0]) or low.ndim != 1:
            raise ValueError("a Box needs one distribution, low and high per parameter")
        if any(d not in DISTRIBUTIONS for d in self.distributions):
            raise ValueError(f"distributions are {DISTRIBUTIONS}; got {self.distributions}")
        if not np.all(low < high):
            raise ValueError(f"needs low < high; got {low}, {high}")
        if np.any(self._log & (low <= 0)):
            raise ValueError("a log-uniform prior needs low > 0")

    @property
    def _log(self) -> np.ndarray:
        return np.array([d == "loguniform" for d in self.distributions])

    @property
    def dimension(self) -> int:
        return len(self.distributions)

    def _ends(self) -> tuple[np.ndarray, np.ndarray]:
        log = self._log
        return np.where(log, np.log(np.where(log, self.low, 1.0)), self.low), \
            np.where(log, np.log(np.where(log, self.high, 1.0)), self.high)

    def from_unit(self, u: np.ndarray) -> np.ndarray:
        """Parameters (..., d) at CDF positions u (..., d) in [0, 1]."""
        a, b = self._ends()
        x = a + np.asarray(u, dtype=float) * (b - a)
        return np.where(self._log, np.exp(x), x)

    def to_unit(self, theta: np.ndarray) -> np.ndarray:
        """CDF positions (..., d) in [0, 1] of parameters (..., d) inside the box."""
        a, b = self._ends()
        theta = np.asarray(theta, dtype=float)
        x = np.where(self._log, np.log(np.where(self._log, np.maximum(theta, 1e-300), 1.0)), theta)
        return np.clip((x - a) / (b - a), 0.0, 1.0)

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """n draws from the prior, (n, d)."""
        return self.from_unit(rng.random((n, self.dimension)))

    def to_free(self, theta: np.ndarray) -> np.ndarray:
        """The free (unbounded) scale of the regression: logit of the CDF position, (..., d)."""
        u = np.clip(self.to_unit(theta), EDGE, 1.0 - EDGE)
        return np.log(u) - np.log1p(-u)

    def from_free(self, phi: np.ndarray) -> np.ndarray:
        """Parameters (..., d) from the free scale: always inside [low, high]."""
        u = 1.0 / (1.0 + np.exp(-np.asarray(phi, dtype=float)))
        return np.clip(self.from_unit(u), self.low, self.high)


def statistic_scale(statistics: np.ndarray) -> np.ndarray:
    """Each statistic's spread over the table, (m,) from (N, m): its median absolute deviation times
    1.4826 (a normal's standard deviation; robust to the long tails explosive histories give), or its
    standard deviation where more than half the rows share one value. Raises ValueError for a statistic
    that is the same in every row: it cannot tell parameters apart."""
    x = np.asarray(statistics, dtype=float)
    mad = MAD_TO_SD * np.median(np.abs(x - np.median(x, axis=0)), axis=0)
    scale = np.where(mad > 0, mad, x.std(axis=0))
    if np.any(scale <= 0):
        raise ValueError(f"statistics {np.flatnonzero(scale <= 0).tolist()} take one value in every simulation")
    return scale


@dataclass(frozen=True)
class Fit:
    """The ABC posterior of one data set: ``theta`` (k, d) kept (and adjusted) parameter vectors,
    ``weights`` (k,) summing to 1, ``rows`` (k,) their rows in the table, ``bandwidth`` h (scaled
    distance units; 0 for exact matches), and the effective sample size (sum w)^2 / sum w^2."""

    theta: np.ndarray
    weights: np.ndarray
    rows: np.ndarray
    bandwidth: float

    @property
    def effective_sample_size(self) -> float:
        return float(1.0 / np.sum(self.weights**2))


def nearest(scaled: np.ndarray, observed: np.ndarray, samples: int) -> tuple[np.ndarray, np.ndarray, float]:
    """The kept rows of a table of scaled statistics (N, m) for scaled observed statistics (m,): their
    rows (in table order), distances and the bandwidth h (see the module docstring)."""
    d = np.sqrt(np.sum((scaled - observed) ** 2, axis=1))
    n = len(d)
    if samples >= n:
        raise ValueError(f"samples ({samples}) must be fewer than the table's rows ({n})")
    h = float(np.partition(d, samples)[samples])  # the (samples + 1)-th nearest
    rows = np.flatnonzero(d < h) if h > 0 else np.flatnonzero(d == 0)
    return rows, d[rows], h


def posterior(theta: np.ndarray, scaled: np.ndarray, observed: np.ndarray, box: Box, samples: int,
              adjust: bool = True) -> Fit:
    """The ABC posterior of scaled observed statistics (m,) from a table: theta (N, d) drawn from
    ``box``, scaled statistics (N, m) (the statistics over :func:`statistic_scale`). ``samples``
    nearest rows are kept; ``adjust`` applies the local-linear regression adjustment."""
    rows, d, h = nearest(scaled, observed, samples)
    w = 1.0 - (d / h) ** 2 if h > 0 else np.ones(len(rows))
    kept = theta[rows]
    if adjust and h > 0:
        kept = adjusted(kept, scaled[rows] - observed, w, box)
    return Fit(kept, w / w.sum(), rows, h)


def adjusted(theta: np.ndarray, difference: np.ndarray, weights: np.ndarray, box: Box) -> np.ndarray:
    """Beaumont's adjustment: theta (k, d) kept rows, difference (k, m) their scaled statistics less
    the observed, weights (k,). Weighted least squares of phi = box.to_free(theta) on [1, difference];
    returns box.from_free(phi - difference beta), (k, d). Collinear statistics (a clash count that is
    0 in every kept row) get the minimum-norm slope, so they move nothing."""
    phi = box.to_free(theta)
    root = np.sqrt(weights)[:, None]
    design = np.hstack([np.ones((len(theta), 1)), difference]) * root
    coef, *_ = np.linalg.lstsq(design, phi * root, rcond=None)
    return box.from_free(phi - difference @ coef[1:])


def rank(theta: np.ndarray, weights: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Posterior rank of ``truth`` (d,) in a weighted sample theta (k, d), weights (k,): the weight
    below it plus half the weight equal to it, (d,) in [0, 1]."""
    below = (theta < truth).astype(float) + 0.5 * (theta == truth)
    return weights @ below


def coverage_ranks(theta: np.ndarray, scaled: np.ndarray, truths: np.ndarray, data: np.ndarray, box: Box,
                   samples: int, adjust: bool = True, log=None) -> np.ndarray:
    """The posterior rank of each true parameter vector: truths (M, d) drawn from the prior, data (M, m)
    the scaled statistics each one's simulation gave; the table as for :func:`posterior`. (M, d)."""
    out = np.empty(truths.shape)
    for j in range(len(truths)):
        fit = posterior(theta, scaled, data[j], box, samples, adjust)
        out[j] = rank(fit.theta, fit.weights, truths[j])
        if log and (j + 1) % 200 == 0:
            log(f"coverage: {j + 1} of {len(truths)} posteriors")
    return out


def binomial_band(trials: int, p: float, confidence: float) -> tuple[int, int]:
    """The central ``confidence`` interval [low, high] of a Binomial(trials, p) count: P(count < low) and
    P(count > high) are each at most (1 - confidence) / 2."""
    from scipy.stats import binom

    low, high = binom.interval(confidence, trials, p)
    return int(low), int(high)


def coverage_summary(ranks: np.ndarray, keys: Sequence[str], levels: Sequence[float] = (0.5, 0.9),
                     confidence: float = 0.99, bins: int = 10) -> dict:
    """Coverage of central intervals from posterior ranks (M, d): truth inside the central ``level``
    interval when its rank lies in [(1 - level) / 2, (1 + level) / 2].

    Each count is held against the band a calibrated posterior's count falls in: the central interval
    of Binomial(M, level), family-wise at ``confidence`` over the d x len(levels) counts (Bonferroni:
    each at 1 - (1 - confidence) / (d len(levels))), so a calibrated posterior fails the check with
    probability at most 1 - confidence. Also the rank histogram (``bins`` equal bins) per parameter,
    with the pointwise ``confidence`` band of Binomial(M, 1 / bins). Returns a JSON-ready dict.
    """
    M, d = ranks.shape
    each = 1.0 - (1.0 - confidence) / (d * len(levels))
    out = {"data_sets": M, "confidence": confidence, "per_count_confidence": each, "levels": {}, "passed": True}
    for level in levels:
        inside = (ranks >= (1 - level) / 2) & (ranks <= (1 + level) / 2)
        low, high = binomial_band(M, level, each)
        counts = inside.sum(axis=0)
        ok = (counts >= low) & (counts <= high)
        out["levels"][f"{level:g}"] = {
            "band": [low, high], "band_share": [low / M, high / M],
            "covered": {k: int(c) for k, c in zip(keys, counts)},
            "share": {k: float(c) / M for k, c in zip(keys, counts)},
            "inside_band": {k: bool(x) for k, x in zip(keys, ok)}}
        out["passed"] = out["passed"] and bool(ok.all())
    hist = np.stack([np.histogram(np.clip(ranks[:, j], 0, 1), bins=bins, range=(0, 1))[0] for j in range(d)])
    low, high = binomial_band(M, 1.0 / bins, confidence)
    out["ranks"] = {"bins": bins, "band": [low, high], "counts": {k: hist[j].tolist() for j, k in enumerate(keys)}}
    return out
