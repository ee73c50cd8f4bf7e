"""The value of information for a choice among options: EVPPI of each uncertain parameter by regression (Strong, Oakley and Brennan 2014), and the EVPI.

A decision picks one of ``D`` options (here, the robustness step's policies) whose net benefit is
uncertain. We have a sample of ``N`` futures (joint draws of everything uncertain) and each option's
net benefit in each future, ``nb[d, j]``. Choosing now, with what we know, takes the option of the
highest expected net benefit, ``max_d mean_j nb[d, j]``. The expected value of *perfect* information
(EVPI) is what knowing the whole future before choosing would add:
``mean_j max_d nb[d, j] - max_d mean_j nb[d, j]``. The expected value of *partial* perfect information
about one parameter ``phi`` (EVPPI) is what learning ``phi`` alone would add:
``E_phi[max_d E(nb_d | phi)] - max_d E(nb_d)``. It is 0 when no value of ``phi`` would change the
choice, and at most the EVPI.

The regression method (Strong, Oakley and Brennan 2014, Medical Decision Making 34:311-326) estimates
``E(nb_d | phi)`` from the same sample by regressing each option's net benefit on ``phi`` with a
smoother, ``g_d``, and takes ``mean_j max_d g_d(phi_j) - max_d mean_j g_d(phi_j)``. The smoother here
is a penalised cubic regression spline (a P-spline, Eilers and Marx 1996: a cubic B-spline basis from
scipy on up to 10 equal segments of ``phi``'s range, a second-difference penalty, the penalty chosen
by generalised cross-validation over ``phi``'s distinct values), the one-variable GAM the method uses. All options share one
smoother, fitted to their net benefits less the mean over options in each future: the choice depends
only on the differences between options, so the EVPPI is unchanged by anything added to every
option's net benefit in a future (a baseline, a constant), and it is never negative (a mean of maxima
is at least the maximum of the means). With few futures the smoother can overshoot the EVPI, which
the EVPPI cannot exceed; an estimate above it is reported as the EVPI. The spline has at most one
segment per 4 distinct values of ``phi`` (the futures of one sample share its value), and GCV counts
each degree of freedom 1.4 times (Kim and Gu 2004, mgcv's ``gamma``): with few distinct values a
curve through all of them would take the other parameters' effects for ``phi``'s.

Intervals: percentile bootstrap over futures (resampled whole, all options and parameters together),
the smoother refitted to each resample with its penalty chosen again. The interval is the spread the
estimate would have over other samples of as many futures; it includes the regression's error and
the noise in each future's net benefit, not the estimator's bias. That bias is upward: noise in the
fitted ``g_d`` makes some future look as if another option won there, so a parameter that does not
matter has a small positive EVPPI, of the order of the noise's standard deviation times
``sqrt(df / N)`` (``df``: the smoother's effective degrees of freedom, reported), and the EVPI
computed from noisy net benefits is biased upward the same way, by the noise itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

LEVEL = 0.95
SEGMENTS = 10  # the spline's segments over phi's range (fewer when phi takes fewer distinct values)
PENALTIES = np.logspace(-4, 6, 21)  # the GCV grid, relative to the basis' scale
RIDGE = 1e-9  # keeps a resample in which phi takes one value solvable (its slope then goes to 0)
MIN_FUTURES = 4
GAMMA = 1.4  # GCV counts each degree of freedom 1.4 times (Kim and Gu 2004; mgcv's gamma): less overfitting


@dataclass(frozen=True)
class Value:
    """One value of information, in the net benefit's units: the estimate and its bootstrap interval
    (NaN without resamples); for a parameter, the share of futures in which knowing it changes the
    choice (the option best given ``phi_j`` is not the one chosen now) and the smoother's effective
    degrees of freedom (2 is a straight line)."""

    name: str
    estimate: float
    low: float
    high: float
    changes: float
    df: float

    def to_dict(self) -> dict:
        return {"parameter": self.name, "evppi": self.estimate, "evppi_low": self.low, "evppi_high": self.high,
                "changes_choice": self.changes, "df": self.df}


@dataclass(frozen=True)
class ValueOfInformation:
    """EVPI and each parameter's EVPPI (sorted, largest first) for one decision."""

    options: int
    futures: int
    evpi: Value
    parameters: list[Value]
    chosen: int  # the option of highest mean net benefit: the choice without more information
    resamples: int
    level: float

    @property
    def interval(self) -> str:
        if not self.resamples:
            return "no interval (no resamples)"
        return (f"{100 * self.level:g}% percentile bootstrap over the {self.futures} futures ({self.resamples} "
                "resamples, the smoother refitted to each)")

    def rows(self) -> list[dict]:
        return [v.to_dict() for v in self.parameters]


def _check(nb, name: str = "net_benefit") -> np.ndarray:
    nb = np.asarray(nb, dtype=float)
    if nb.ndim != 2:
        raise ValueError(f"{name}: a 2-D array (options, futures); got shape {nb.shape}")
    if nb.shape[0] < 2:
        raise ValueError(f"{name}: a choice needs at least 2 options (rows); got {nb.shape[0]}")
    if nb.shape[1] < MIN_FUTURES:
        raise ValueError(f"{name}: at least {MIN_FUTURES} futures (columns); got {nb.shape[1]}")
    if not np.all(np.isfinite(nb)):
        raise ValueError(f"{name}: every value finite")
    return nb


def _check_phi(phi, futures: int, name: str) -> np.ndarray:
    try:
        x = np.asarray(phi, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"parameter {name!r}: numbers (a switch as 0/1)") from None
    if x.shape != (futures,):
        raise ValueError(f"parameter {name!r}: one value per future, shape ({futures},); got {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"parameter {name!r}: every value finite")
    return x


def _counts(futures: int, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """(1 + resamples, futures) weights: the sample itself, then bootstrap counts."""
    if resamples < 0:
        raise ValueError(f"resamples: >= 0; got {resamples}")
    c = np.zeros((1 + resamples, futures))
    c[0] = 1.0
    if resamples:
        idx = rng.integers(0, futures, (resamples, futures))
        np.add.at(c, (np.arange(1, resamples + 1)[:, None], idx), 1.0)
    return c


def _basis(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The cubic B-spline basis at ``x`` (N, K) on equal segments of its range (at most one per 4
    distinct values, at most ``SEGMENTS``), and the
    second-difference penalty (K, K)."""
    from scipy.interpolate import BSpline

    lo, hi = float(x.min()), float(x.max())
    t = (x - lo) / (hi - lo)
    segments = int(min(SEGMENTS, max(1, len(np.unique(x)) // 4)))
    knots = np.r_[np.zeros(3), np.linspace(0.0, 1.0, segments + 1), np.ones(3)]
    B = BSpline.design_matrix(np.clip(t, 0.0, 1.0), knots, 3).toarray()
    D = np.diff(np.eye(B.shape[1]), n=2, axis=0)
    return B, D.T @ D


def _fits(x: np.ndarray, y: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, float]:
    """The smoother of every column of ``y`` (N, D) on ``x``, for each row of ``counts`` (R, N) as
    weights, its penalty chosen by GCV for each: fitted values at every ``x`` (R, N, D), and the first
    row's effective degrees of freedom."""
    R, N = counts.shape
    if np.ptp(x) == 0:  # a parameter that takes one value tells nothing: the fit is the mean
        mean = counts @ y / counts.sum(axis=1, keepdims=True)
        return np.repeat(mean[:, None, :], N, axis=1), 1.0
    B, P = _basis(x)
    K = B.shape[1]
    G = np.einsum("rn,nk,nl->rkl", counts, B, B)  # (R, K, K)
    H = np.einsum("rn,nk,nd->rkd", counts, B, y)  # (R, K, D)
    yy = np.einsum("rn,nd->rd", counts, y * y)  # (R, D)
    scale = np.trace(G[0]) / max(np.trace(P), 1e-300)
    lam = PENALTIES * scale
    A = G[:, None] + lam[None, :, None, None] * P + RIDGE * scale * np.eye(K)  # (R, L, K, K)
    # one solve gives the coefficients and, for the effective degrees of freedom, tr(A^-1 G)
    rhs = np.concatenate([H, G], axis=2)[:, None]  # (R, 1, K, D + K)
    sol = np.linalg.solve(A, np.broadcast_to(rhs, (R, len(lam), K, rhs.shape[-1])))
    coef, df = sol[..., :y.shape[1]], np.trace(sol[..., y.shape[1]:], axis1=2, axis2=3)  # (R, L, K, D), (R, L)
    # weighted residual sum of squares from the normal equations: y'Wy - 2 b'H + b'G b, summed over columns
    rss = (yy.sum(axis=1)[:, None] - 2 * np.einsum("rlkd,rkd->rl", coef, H)
           + np.einsum("rlkd,rkm,rlmd->rl", coef, G, coef))
    # GCV over phi's distinct values: replicates of one value (the futures of one sample share its
    # assumptions, those of one draw its calibrated values) count once, their within-value scatter left
    # out, so a curve through every distinct value (which other parameters' effects can make look
    # good) is not taken for phi's effect. Without replicates this is the ordinary GCV.
    _, value = np.unique(x, return_inverse=True)
    onehot = np.eye(value.max() + 1)[value]  # (N, U)
    n_value = counts @ onehot  # (R, U)
    sums = np.einsum("rn,nu,nd->rud", counts, onehot, y)
    within = yy.sum(axis=1) - np.einsum("rud,ru->r", sums ** 2, np.where(n_value > 0, 1 / np.maximum(n_value, 1), 0))
    values = (n_value > 0).sum(axis=1)[:, None]  # distinct values in each resample
    room = values - GAMMA * df
    gcv = np.where(room > 1e-6, values * np.maximum(rss - within[:, None], 0.0) / np.maximum(room, 1e-6) ** 2, np.inf)
    # no room (as many coefficients as values): the most penalised fit, through the values' means
    best = np.where(np.isfinite(gcv).any(axis=1), np.argmin(gcv, axis=1), len(lam) - 1)
    chosen = coef[np.arange(R), best]  # (R, K, D)
    return np.einsum("nk,rkd->rnd", B, chosen), float(df[0, best[0]])


def _summary(name: str, values: np.ndarray, changes: float, df: float, level: float) -> Value:
    low, high = (np.quantile(values[1:], [(1 - level) / 2, (1 + level) / 2]) if len(values) > 1
                 else (np.nan, np.nan))
    return Value(name, float(values[0]), float(low), float(high), float(changes), float(df))


def value_of_information(net_benefit, parameters: Mapping[str, object], *, resamples: int = 500,
                         rng: np.random.Generator | int | None = None, level: float = LEVEL) -> ValueOfInformation:
    """EVPI and the EVPPI of each parameter for a choice among options (see the module docstring).

    ``net_benefit``: (options, futures), each option's net benefit in each future, in any units (higher
    is better; the values of information come out in the same units). ``parameters``: name -> (futures,)
    numbers, each parameter's value in each future (a switch as 0/1). ``resamples``: bootstrap resamples
    of the futures for the intervals (0: none). ``rng``: a NumPy Generator or seed for the resamples.
    ``level``: the intervals' coverage. Raises ValueError on inputs of the wrong shape or non-finite.
    """
    nb = _check(net_benefit)
    if not 0 < level < 1:
        raise ValueError(f"level: in (0, 1); got {level}")
    D, N = nb.shape
    if not isinstance(resamples, (int, np.integer)) or isinstance(resamples, bool):
        raise ValueError(f"resamples: a whole number >= 0; got {resamples!r}")
    xs = {str(k): _check_phi(v, N, str(k)) for k, v in parameters.items()}
    counts = _counts(N, int(resamples), np.random.default_rng(rng))
    y = (nb - nb.mean(axis=0)).T  # (N, D): only the differences between options matter
    w = counts / counts.sum(axis=1, keepdims=True)
    now = w @ y  # (R, D): each option's mean net benefit in each resample
    best_now = now.max(axis=1)
    chosen = int(np.argmax(now[0]))
    evpi = w @ y.max(axis=1) - best_now
    out = []
    for name, x in xs.items():
        fit, df = _fits(x, y, counts)  # (R, N, D)
        evppi = np.einsum("rn,rn->r", w, fit.max(axis=2)) - best_now
        changes = float(np.mean(np.argmax(fit[0], axis=1) != chosen))
        # never below 0 (rounding) nor above the EVPI: a smoother can overshoot it with few futures
        out.append(_summary(name, np.clip(evppi, 0.0, np.maximum(evpi, 0.0)), changes, df, level))
    out.sort(key=lambda v: -v.estimate)
    return ValueOfInformation(D, N, _summary("all (EVPI)", evpi, float(np.mean(np.argmax(y, axis=1) != chosen)),
                                             float(N), level), out, chosen, int(resamples), level)


def evppi(net_benefit, phi, *, resamples: int = 500, rng: np.random.Generator | int | None = None,
          level: float = LEVEL) -> Value:
    """The EVPPI of one parameter: ``net_benefit`` (options, futures), ``phi`` (futures,); see
    :func:`value_of_information`."""
    return value_of_information(net_benefit, {"phi": phi}, resamples=resamples, rng=rng, level=level).parameters[0]


def evpi(net_benefit, *, resamples: int = 500, rng: np.random.Generator | int | None = None,
         level: float = LEVEL) -> Value:
    """The expected value of perfect information on everything: ``mean_j max_d nb[d, j] - max_d mean_j
    nb[d, j]`` for ``net_benefit`` (options, futures), with its bootstrap interval."""
    return value_of_information(net_benefit, {}, resamples=resamples, rng=rng, level=level).evpi
