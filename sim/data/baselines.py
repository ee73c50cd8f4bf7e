"""Naive forecasts of next year's count from the record's years through the origin: climatology, persistence, recent mean, resampling.

Each baseline is refitted on the counts of the years first..T (T the origin) and gives an ensemble
(``size`` draws) of year T+1's count, so that it is scored exactly as the model's runs are:

- ``climatology``: a negative binomial with the years' mean and variance (method of moments; a
  Poisson when the variance does not exceed the mean);
- ``persistence``: a negative binomial with mean last year's count, and climatology's shape;
- ``last_three``: a negative binomial with mean the last three years' mean, and climatology's shape;
- ``resample``: the count of one of the last ``RECENT`` years (fewer when the record through T is
  shorter), each equally likely.

A mean of 0 (a year, or three, without any) is floored at ``FLOOR`` so that a later count above 0 is
not impossible. The draws come from the generator given, so a seed fixes them.
"""

from __future__ import annotations

import numpy as np

BASELINES = ("climatology", "persistence", "last_three", "resample")
RECENT = 5      # years the resampling baseline draws from
FLOOR = 0.5     # the smallest mean a negative binomial baseline takes


def negative_binomial_fit(counts) -> tuple[float, float]:
    """(mean, shape) by the method of moments; shape inf (a Poisson) when variance <= mean."""
    x = np.asarray(counts, dtype=float)
    mean = max(float(x.mean()), FLOOR)
    var = float(x.var(ddof=1)) if len(x) > 1 else 0.0
    return mean, (mean**2 / (var - mean) if var > mean else np.inf)


def negative_binomial_draws(rng: np.random.Generator, mean: float, shape: float, size: int) -> np.ndarray:
    """``size`` draws of a negative binomial with this mean and shape (variance mean + mean^2 / shape)."""
    mean = max(mean, FLOOR)
    if not np.isfinite(shape):
        return rng.poisson(mean, size)
    return rng.negative_binomial(shape, shape / (shape + mean), size)


def baseline_ensembles(counts, size: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Each baseline's ensemble (size,) of next year's count, from the counts of the years through the
    origin (oldest first)."""
    x = np.asarray(counts, dtype=float)
    mean, shape = negative_binomial_fit(x)
    recent = x[-RECENT:]
    return {
        "climatology": negative_binomial_draws(rng, mean, shape, size),
        "persistence": negative_binomial_draws(rng, float(x[-1]), shape, size),
        "last_three": negative_binomial_draws(rng, float(x[-3:].mean()), shape, size),
        "resample": recent[rng.integers(len(recent), size=size)].astype(np.int64),
    }
