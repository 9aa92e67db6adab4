"""Two instructions that each sell something and buy the same Y buy Y with both their proceeds (docs/
engine.md, "Instructions": the purchase is the whole proceeds, the instruction wins over the model).
The minimum purchase took the larger of the two, so under a turnover cap half the money the client
asked to go to Y went to another holding."""

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rebalancing.engine import (
    Account,
    CashParams,
    InfeasibleParameters,
    Instruction,
    Model,
    Parameters,
    RebalanceRequest,
    Security,
    Sleeve,
    TaxLot,
    TradingParams,
    rebalance,
)

SECURITIES = (Security("A", 100.0, "eq"), Security("B", 100.0, "eq"), Security("Y", 100.0, "eq"),
              Security("BD", 100.0, "bonds"))
MODEL = Model("m", (Sleeve("eq", 0.6, {"A": 0.4, "B": 0.3, "Y": 0.3}), Sleeve("bonds", 0.4, {"BD": 1.0})))


def _request(a_amount, b_amount, turnover=None, y_shares=20.0, whole=True):
    lots = (TaxLot("a", "A", 30, 3000.0, date(2020, 1, 6)), TaxLot("b", "B", 30, 3000.0, date(2020, 1, 6)),
            TaxLot("c", "BD", 20, 2000.0, date(2020, 1, 6)), TaxLot("y", "Y", y_shares, 100.0 * y_shares, date(2020, 1, 6)))
    return RebalanceRequest(
        date(2025, 6, 30), Account("P", 0.0, lots=lots), SECURITIES, MODEL,
        Parameters(cash=CashParams(target=0.0), trading=TradingParams(max_turnover=turnover, whole_shares=whole),
                   instructions=(Instruction("sell_buy", sell="A", buy="Y", amount=a_amount),
                                 Instruction("sell_buy", sell="B", buy="Y", amount=b_amount))))


def _bought(result, symbol):
    return sum(t.value for t in result.trades if t.side == "buy" and t.symbol == symbol)


def test_both_proceeds_buy_y_under_a_turnover_cap():
    # The cap leaves room for the instructions' trades alone: before, $1,000 of Y and $1,000 of BD
    result = rebalance(_request(1000.0, 1000.0, turnover=0.2))
    assert _bought(result, "Y") == 2000.0 and _bought(result, "BD") == 0.0


@settings(max_examples=150, deadline=None)
@given(a=st.floats(100.0, 2500.0), b=st.floats(100.0, 2500.0), y=st.floats(0.0, 40.0),
       cap=st.none() | st.floats(0.3, 0.6))
def test_y_is_bought_with_at_least_both_proceeds(a, b, y, cap):
    request = _request(a, b, turnover=cap, y_shares=y, whole=False)
    if cap is not None and cap < (a + b) / (8000.0 + 100.0 * y) + 1e-4:
        # A cap the instructions' own trades pass is refused by name, not met by buying less Y
        with pytest.raises(InfeasibleParameters, match="trading.max_turnover"):
            rebalance(request)
        return
    result = rebalance(request)
    sold = {t.symbol: t.value for t in result.trades if t.side == "sell"}
    assert sold["A"] >= a - 0.01 and sold["B"] >= b - 0.01
    cost = request.parameters.trading.trading_cost_bps / 1e4  # (the proceeds after the sales' and buys' costs)
    assert _bought(result, "Y") >= (a + b) * (1 - cost) / (1 + cost) * (1 - 1e-6) - 0.01
