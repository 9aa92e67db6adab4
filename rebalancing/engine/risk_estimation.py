"""A risk model estimated from price history: shrinkage covariance as a statistical factor model.

The sample covariance of a few hundred daily returns is noisy (and singular with more names than
days); Ledoit-Wolf shrinkage toward a scaled identity (scikit-learn's ``LedoitWolf``, the
estimator of Ledoit & Wolf 2004) gives a well-conditioned estimate.  It is then written as the
engine's ``RiskModel``: the largest ``max_factors`` principal components as factors (unit
variance, loadings = eigenvector x sqrt(eigenvalue)) and the rest of each name's variance as
specific variance, so a universe of 500 names stays a 20-factor problem for the optimiser.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .errors import InvalidRequest
from .request import RiskModel

__all__ = ["estimate_risk_model", "MIN_OBSERVATIONS"]

MIN_OBSERVATIONS = 60


def estimate_risk_model(
    prices: np.ndarray,
    symbols: Sequence[str],
    *,
    periods_per_year: int = 252,
    max_factors: int = 20,
    halflife: float | None = None,
) -> RiskModel:
    """Annualised risk model of ``symbols`` from ``prices`` (rows = consecutive trading days,
    columns = symbols, positive).  Raises ``InvalidRequest`` when there are fewer than
    ``MIN_OBSERVATIONS`` returns or a price is not positive."""
    from sklearn.covariance import LedoitWolf

    prices = np.asarray(prices, dtype=float)
    if prices.ndim != 2 or prices.shape[1] != len(symbols):
        raise InvalidRequest("prices must be a days x symbols matrix")
    if prices.shape[0] - 1 < MIN_OBSERVATIONS:
        raise InvalidRequest(
            f"a risk model needs at least {MIN_OBSERVATIONS + 1} days of prices, got {prices.shape[0]}"
        )
    if not np.all(np.isfinite(prices)) or np.any(prices <= 0):
        raise InvalidRequest("every price must be a positive number")
    returns = np.diff(np.log(prices), axis=0)
    if halflife:
        # Recent days weigh more (weight halves every ``halflife`` days): rows scaled by the
        # square root of their weight, demeaned with the weighted mean.
        w = 0.5 ** (np.arange(len(returns))[::-1] / halflife)
        w /= w.sum()
        mean = w @ returns
        returns = (returns - mean) * np.sqrt(w * len(returns))[:, None]
        cov = LedoitWolf(assume_centered=True).fit(returns).covariance_ * periods_per_year
    else:
        cov = LedoitWolf().fit(returns).covariance_ * periods_per_year
    values, vectors = np.linalg.eigh((cov + cov.T) / 2)
    values = np.clip(values, 0.0, None)
    k = min(max_factors, len(symbols))
    top = np.argsort(values)[::-1][:k]
    loadings = vectors[:, top] * np.sqrt(values[top])
    # The components left out are each name's specific risk (their diagonal).
    specific = np.clip(np.diag(cov) - np.square(loadings).sum(axis=1), 0.0, None)
    return RiskModel(
        factors=tuple(f"pc{j + 1}" for j in range(k)),
        loadings={s: tuple(float(x) for x in loadings[i]) for i, s in enumerate(symbols)},
        factor_covariance=tuple(tuple(1.0 if a == b else 0.0 for b in range(k)) for a in range(k)),
        specific_variance={s: float(specific[i]) for i, s in enumerate(symbols)},
    )
