"""The benchmark's risk model at each decision, estimated from the prices up to that day only."""

from __future__ import annotations

from collections.abc import Callable

from rebalancing.engine.request import RiskModel
from rebalancing.engine.risk_estimation import MIN_OBSERVATIONS, estimate_risk_model

from .prices import PriceHistory
from .strategies import Market

__all__ = ["RISK_LOOKBACK_DAYS", "estimated_risk"]

# Six months of daily returns: what the backtest found tracks best (ex-ante tracking error matched
# the realised one; two years reacted too slowly to regime changes, e.g. autumn 2008).
RISK_LOOKBACK_DAYS = 126


def estimated_risk(
    history: PriceHistory, lookback: int = RISK_LOOKBACK_DAYS, halflife: float | None = None
) -> Callable[[Market], RiskModel | None]:
    """A risk source for ``EngineStrategy``: the model of the trailing ``lookback`` days, cached by
    day (cohorts overlap)."""
    cache: dict[int, RiskModel | None] = {}

    def risk(market: Market) -> RiskModel | None:
        key = int(market.past_dates[-1])
        if key not in cache:
            window = market.past[-(lookback + 1) :]
            cache[key] = (
                estimate_risk_model(window, market.symbols, halflife=halflife)
                if len(window) > MIN_OBSERVATIONS
                else None
            )
        return cache[key]

    return risk
