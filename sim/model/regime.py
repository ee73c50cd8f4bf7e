"""The provocation regime: each run's multiplier on the base rates, and how a year's regime carries into the next.

A run is one year lived under one regime (docs/model.md, section 3): a Gamma(mean 1, variance
dispersion) multiplier drawn once per run from the run's own uniform. In a history of years the
regime persists through a Gaussian AR(1) copula on its normal score. Both engines and the splitting
call :func:`run_regimes`; the hindcast chains the years with :func:`regime_score`.
"""

from __future__ import annotations

import numpy as np
from scipy.special import gammaincinv, ndtr, ndtri


def regime_multiplier(u, dispersion, persistence=0.0, last_year=np.nan):
    """Each run's provocation regime: a multiplier on the base rate held for the whole run.

    Gamma-distributed with mean 1 and variance ``dispersion`` (the inverse CDF at the run's uniform),
    so a year's provocation count is a Poisson mixture, overdispersed as the data are; dispersion 0
    gives exactly 1. u (R, N) uniforms; dispersion, persistence, last_year (N,), or (R, N) with
    per-run parameters. Returns (R, N).

    Persistence links a year to the one before (a Gaussian AR(1) copula): where ``persistence`` rho
    > 0 and ``last_year`` (the previous year's regime as a standard normal score z) is known, the
    year's score is z = rho last_year + sqrt(1 - rho^2) Phi^-1(u) and the regime is the Gamma's
    inverse CDF at Phi(z). Elsewhere (rho = 0, or no previous year: NaN) the uniform is used as it
    is, so a scenario without persistence gives today's regimes bit for bit; with no previous year
    the regime has the same Gamma marginal whatever rho is.
    """
    u = np.asarray(u, dtype=float)
    dispersion = np.broadcast_to(dispersion, u.shape)
    linked = (np.broadcast_to(persistence, u.shape) > 0) & np.isfinite(np.broadcast_to(last_year, u.shape))
    if linked.any():
        u = np.where(linked, ndtr(regime_score(u, persistence, last_year)), u)
    out = np.ones(u.shape)
    some = dispersion > 0
    if some.any():
        shape = 1.0 / dispersion[some]
        out[some] = gammaincinv(shape, u[some]) / shape
    return out


def regime_score(u, persistence=0.0, last_year=np.nan):
    """The year's regime as a standard normal score z (R, N): rho last_year + sqrt(1 - rho^2) Phi^-1(u)
    where the previous year is known (finite ``last_year``), else Phi^-1(u). This is what the next
    year takes as its ``last_year``; shapes as in :func:`regime_multiplier`."""
    u = np.asarray(u, dtype=float)
    rho = np.broadcast_to(persistence, u.shape)
    last = np.broadcast_to(last_year, u.shape)
    z = ndtri(u)
    known = np.isfinite(last) & (rho > 0)
    return np.where(known, rho * np.where(known, last, 0.0) + np.sqrt(1.0 - rho**2) * z, z)


def run_regimes(sc, u):
    """The runs' regimes (R, N) of compiled scenario ``sc`` from their uniforms u (R, N): what both
    engines and the splitting call (:func:`regime_multiplier` with the scenario's dispersion,
    persistence and previous year)."""
    return regime_multiplier(u, sc.regime_dispersion, sc.regime_persistence, sc.regime_last_year)
