"""A risk model estimated from prices (Ledoit-Wolf shrinkage written as a factor model)."""

import numpy as np
import pytest

from rebalancing.engine import InvalidRequest
from rebalancing.engine.risk_estimation import estimate_risk_model


def _prices(cov: np.ndarray, days: int, seed: int = 7) -> np.ndarray:
    rng = np.random.default_rng(seed)
    returns = rng.multivariate_normal(np.zeros(len(cov)), cov / 252, size=days)
    return 100 * np.exp(np.vstack([np.zeros(len(cov)), np.cumsum(returns, axis=0)]))


def _covariance(model, symbols):
    load = np.array([model.loadings[s] for s in symbols])
    return load @ np.array(model.factor_covariance) @ load.T + np.diag(
        [model.specific_variance[s] for s in symbols]
    )


def test_the_estimate_recovers_an_annual_covariance_and_its_correlations():
    # given two names that move together (0.8) and a third on its own, annual vols 20/30/25%
    vol = np.array([0.20, 0.30, 0.25])
    corr = np.array([[1, 0.8, 0.0], [0.8, 1, 0.0], [0.0, 0.0, 1]])
    true = corr * np.outer(vol, vol)
    model = estimate_risk_model(_prices(true, 2_000), ["A", "B", "C"])
    cov = _covariance(model, ["A", "B", "C"])
    assert np.sqrt(np.diag(cov)) == pytest.approx(vol, rel=0.08)
    est = cov / np.outer(np.sqrt(np.diag(cov)), np.sqrt(np.diag(cov)))
    assert est[0, 1] == pytest.approx(0.8, abs=0.05) and abs(est[0, 2]) < 0.1


def test_many_names_become_a_few_factors_plus_specific_risk():
    rng = np.random.default_rng(3)
    market = rng.normal(size=(1, 40)) * 0.15 + 0.15
    true = market.T @ market + np.diag(np.full(40, 0.04))
    symbols = [f"S{i}" for i in range(40)]
    model = estimate_risk_model(_prices(true, 600), symbols, max_factors=5)
    assert len(model.factors) == 5 and all(len(model.loadings[s]) == 5 for s in symbols)
    assert min(model.specific_variance.values()) > 0.01  # what the 5 factors leave is specific risk
    total = np.trace(_covariance(model, symbols))
    assert total == pytest.approx(np.trace(true), rel=0.15)


@pytest.mark.parametrize(
    ("prices", "message"),
    [(np.ones((30, 2)), "at least 61 days"), (np.vstack([np.ones((80, 2)), [[1.0, -1.0]]]), "positive")],
)
def test_too_little_or_bad_history_is_refused(prices, message):
    with pytest.raises(InvalidRequest, match=message):
        estimate_risk_model(prices, ["A", "B"])


@pytest.mark.parametrize(("names", "days", "halflife"), [(4, 127, None), (30, 127, 40.0), (300, 100, None)])
def test_the_factors_are_the_top_components_of_sklearns_ledoit_wolf_covariance(names, days, halflife):
    # given more or fewer names than days, with or without recent days weighing more
    rng = np.random.default_rng(names)
    market = rng.normal(0, 0.01, (days, 1))
    prices = 100 * np.exp(np.cumsum(market * rng.uniform(0.5, 1.5, names) + rng.normal(0, 0.01, (days, names)), axis=0))
    symbols = [f"S{i}" for i in range(names)]
    model = estimate_risk_model(prices, symbols, halflife=halflife)
    # the covariance built the plain way: sklearn's estimator on the (weighted) returns, eigh, top k
    from sklearn.covariance import LedoitWolf

    returns = np.diff(np.log(prices), axis=0)
    if halflife:
        w = 0.5 ** (np.arange(len(returns))[::-1] / halflife)
        w /= w.sum()
        x = (returns - w @ returns) * np.sqrt(w * len(returns))[:, None]
        cov = LedoitWolf(assume_centered=True).fit(x).covariance_ * 252
    else:
        cov = LedoitWolf().fit(returns).covariance_ * 252
    values, vectors = np.linalg.eigh(cov)
    k = len(model.factors)
    top = np.argsort(values)[::-1][:k]
    expected = (vectors[:, top] * values[top]) @ vectors[:, top].T
    loadings = np.array([model.loadings[s] for s in symbols])
    assert k == min(20, names)
    np.testing.assert_allclose(loadings @ loadings.T, expected, atol=1e-12 * np.abs(expected).max())
    specific = np.array([model.specific_variance[s] for s in symbols])
    np.testing.assert_allclose(specific, np.clip(np.diag(cov) - np.diag(expected), 0, None),
                               atol=1e-12 * np.diag(cov).max())
