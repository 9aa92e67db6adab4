"""Small households for the household engine's tests (data shipped with the tests)."""

from __future__ import annotations

from datetime import date

from rebalancing.engine import (
    Account,
    CashParams,
    HouseholdAccount,
    HouseholdRequest,
    Model,
    Parameters,
    RebalanceRequest,
    Security,
    Sleeve,
    TaxLot,
    TradingParams,
)

from .builders import AS_OF, LONG_AGO

SECURITIES = (
    Security("EQ", 100.0, "equity"),
    Security("BD", 50.0, "bonds"),
    Security("RE", 20.0, "real_estate"),
)
SIXTY_FORTY = Model("60/40", (Sleeve("equity", 0.6, {"EQ": 1.0}), Sleeve("bonds", 0.4, {"BD": 1.0})))
PARAMS = Parameters(cash=CashParams(target=0.0), trading=TradingParams(whole_shares=True))


def lot(lot_id: str, symbol: str, quantity: float, cost_basis: float, acquired: date = LONG_AGO) -> TaxLot:
    return TaxLot(lot_id, symbol, float(quantity), float(cost_basis), acquired)


def member(
    account_id: str,
    status: str,
    lots=(),
    cash: float = 0.0,
    parameters: Parameters = PARAMS,
    allowed=None,
    model: Model = SIXTY_FORTY,
    securities=SECURITIES,
    **account,
) -> HouseholdAccount:
    acct = Account(account_id, float(cash), lots=tuple(lots), taxable=status == "taxable", **account)
    return HouseholdAccount(RebalanceRequest(AS_OF, acct, securities, model, parameters), status, allowed)


def household(
    *accounts: HouseholdAccount, model: Model = SIXTY_FORTY, securities=SECURITIES, **kw
) -> HouseholdRequest:
    return HouseholdRequest("H1", AS_OF, model, securities, tuple(accounts), **kw)


def trades_of(result, account_id: str) -> dict[str, tuple[str, float]]:
    r = next(r for r in result.accounts if r.account_id == account_id)
    return {t.symbol: (t.side, t.quantity) for t in r.trades}
