"""Small builders of engine requests for the tests (data shipped with the tests)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

from rebalancing.engine import (
    Account,
    CashParams,
    Model,
    Parameters,
    RebalanceRequest,
    Security,
    Sleeve,
    TaxLot,
    TradingParams,
)

AS_OF = date(2025, 6, 30)
LONG_AGO = date(2019, 1, 2)
EXAMPLES = Path(__file__).resolve().parents[2] / "rebalancing" / "engine" / "examples"


def lot(lot_id: str, symbol: str, quantity: float, cost_basis: float, acquired: date = LONG_AGO) -> TaxLot:
    return TaxLot(lot_id, symbol, quantity, cost_basis, acquired)


def funds(**prices: float) -> tuple[Security, ...]:
    """Securities named like ``EQ``/``BD``/``RE``...; the asset class is taken from the name."""
    classes = {"EQ": "equity", "EQ2": "equity", "BD": "bonds", "BD2": "bonds", "RE": "real_estate"}
    return tuple(Security(s, p, classes.get(s, "other")) for s, p in prices.items())


def model(**weights: float) -> Model:
    """One sleeve per symbol, named by the symbol's asset class."""
    classes = {"EQ": "equity", "BD": "bonds", "RE": "real_estate"}
    return Model("test", tuple(Sleeve(classes.get(s, s.lower()), w, {s: 1.0}) for s, w in weights.items()))


def request(
    lots,
    securities,
    the_model,
    cash: float = 0.0,
    parameters: Parameters | None = None,
    **account,
) -> RebalanceRequest:
    params = parameters or Parameters(cash=CashParams(target=0.0), trading=TradingParams(whole_shares=True))
    return RebalanceRequest(
        AS_OF, Account("T", cash, lots=tuple(lots), **account), tuple(securities), the_model, params
    )


def with_params(req: RebalanceRequest, **changes) -> RebalanceRequest:
    return replace(req, parameters=replace(req.parameters, **changes))


def trades_by_symbol(result) -> dict[str, tuple[str, float]]:
    return {t.symbol: (t.side, t.quantity) for t in result.trades}
