"""A risk model estimated from price history: shrinkage covariance as a statistical factor model.

The sample covariance of a few hundred daily returns is noisy (and singular with more names than
days); Ledoit-Wolf shrinkage toward a scaled identity (scikit-learn's ``LedoitWolf``, the
estimator of Ledoit & Wolf 2004) gives a well-conditioned estimate.  It is then written as the
engine's ``RiskModel``: the largest ``max_factors`` principal components as factors (unit
variance, loadings = eigenvector x sqrt(eigenvalue)) and the rest of each name's variance as
specific variance, so a universe of 500 names stays a 20-factor problem for the optimiser.

The names x names covariance is never formed: the shrunk estimate ``(1 - s) S + s mu I`` has the
sample covariance's eigenvectors, which come from a thin SVD of the days x names returns (at most
as many components as days), and its diagonal is known.  A firm's 3,000 names take milliseconds
instead of a minute and a 70 MB matrix.
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
    from sklearn.covariance import ledoit_wolf_shrinkage

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
        centred = (returns - w @ returns) * np.sqrt(w * len(returns))[:, None]
    else:
        centred = returns - returns.mean(axis=0)
    n = len(centred)
    shrinkage = float(ledoit_wolf_shrinkage(centred, assume_centered=True))
    # Sample covariance S = X'X / n = V diag(sigma^2 / n) V'; the shrunk one is (1-s) S + s mu I.
    _, sigma, vt = np.linalg.svd(centred, full_matrices=False)
    sample_var = np.einsum("ij,ij->j", centred, centred) / n
    mu = sample_var.mean()
    values = ((1 - shrinkage) * sigma**2 / n + shrinkage * mu) * periods_per_year
    diagonal = ((1 - shrinkage) * sample_var + shrinkage * mu) * periods_per_year
    k = min(max_factors, len(symbols), len(sigma))
    top = np.argsort(values)[::-1][:k]
    loadings = vt[top].T * np.sqrt(values[top])
    # The components left out are each name's specific risk (their diagonal).
    specific = np.clip(diagonal - np.square(loadings).sum(axis=1), 0.0, None)
    return RiskModel(
        factors=tuple(f"pc{j + 1}" for j in range(k)),
        loadings={s: tuple(float(x) for x in loadings[i]) for i, s in enumerate(symbols)},
        factor_covariance=tuple(tuple(1.0 if a == b else 0.0 for b in range(k)) for a in range(k)),
        specific_variance={s: float(specific[i]) for i, s in enumerate(symbols)},
    )
