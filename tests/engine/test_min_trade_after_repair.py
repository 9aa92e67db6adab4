"""trading.min_trade_value drops discretionary trades (docs/engine.md, "Trading"); the cash
repair after rounding does not bring back a sale the minimum dropped, unless the floor needs it."""

from __future__ import annotations

import os
from datetime import date

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rebalancing.engine import (
    Account,
    CashParams,
    InfeasibleParameters,
    Model,
    Parameters,
    RebalanceRequest,
    Security,
    Sleeve,
    TaxLot,
    TradingParams,
    rebalance,
)

from .builders import AS_OF


def _request(cash=0.0, floor=0.0, price_c=97.0, qty_d=215.0, qty_a=200.0):
    secs = (
        Security("A", 10.0, "equity"),
        Security("C", price_c, "bonds", fractional=False),
        Security("D", 10.0, "bonds"),
    )
    lots = (
        TaxLot("LC", "C", 60, 60 * price_c, date(2020, 1, 2)),
        TaxLot("LD", "D", qty_d, qty_d * 10.0, date(2020, 1, 2)),
        TaxLot("LA", "A", qty_a, qty_a * 10.0, date(2020, 1, 2)),
    )
    the_model = Model("m", (Sleeve("equity", 0.5, {"A": 1.0}), Sleeve("bonds", 0.5, {"C": 0.6, "D": 0.4})))
    params = Parameters(
        cash=CashParams(target=floor, floor=floor), trading=TradingParams(whole_shares=False, min_trade_value=250.0)
    )
    return RebalanceRequest(AS_OF, Account("T", cash, lots=lots), secs, the_model, params)


def test_a_sale_the_minimum_dropped_is_not_brought_back_by_the_cash_repair():
    """D is 15.6 shares (156) over its target: the minimum of 250 drops that sale. C trades whole
    shares and its sale rounds to 29; the repair rounds it up and trims the purchase of A for the
    rest, rather than selling 7.5 shares (75) of D (before the fix it did)."""
    result = rebalance(_request())
    small = [(t.side, t.symbol, round(t.value, 2)) for t in result.trades if t.value < 250.0]
    assert small == [], small
    assert result.summary.cash_after >= -1e-6
    assert not any(t.symbol == "D" for t in result.trades)


def test_a_sale_rounding_took_to_zero_is_not_rounded_up_under_the_minimum():
    """C is worth 2,400 (60 shares at 40) against a target of 2,382: the optimiser sells 0.45 of a
    share ($18), rounding takes it to none, and buying 97 shares of A for the 952 of D sold leaves
    cash $18 short of its floor of zero. A trades fractional shares: the repair buys $18 less of
    it, rather than selling one share of C for $40 under the $250 minimum (before the fix it did:
    the minimum's drop was read only from sales rounding left above zero)."""
    result = rebalance(_request(cash=0.0, floor=0.0, price_c=40.0, qty_d=254.0, qty_a=300.0))
    trades = {t.symbol: (t.side, round(t.value, 2)) for t in result.trades}
    assert "C" not in trades, trades
    assert trades["D"] == ("sell", 952.0)
    assert trades["A"] == ("buy", 952.0)
    assert 0.0 <= result.summary.cash_after < 0.01  # (A's trim is rounded to a millionth of a share)


def test_a_buy_the_cash_repair_trimmed_below_the_minimum_is_not_made():
    """The optimiser buys 56.7 shares of A ($567) with $64 of cash and sells 6.495 shares of C
    ($259.80) and 24.32 of D ($243.20). D's sale is under the $250 minimum, C's rounds to 6 shares
    ($240) and is too: both are dropped, and the cash repair trims A's buy to the $64 there is. A $64 buy is a
    discretionary trade under the minimum as much as the optimiser's own would be: it is not
    made, and the $64 stays in cash (before the fix it was bought)."""
    result = rebalance(_request(cash=64.0, floor=0.0, price_c=40.0, qty_d=167.0, qty_a=300.0))
    small = [(t.side, t.symbol, round(t.value, 2)) for t in result.trades if t.value < 250.0]
    assert small == [], small
    assert result.trades == ()
    assert result.summary.cash_after == 64.0


def _simple_small_trades(req, result):
    """The rule read simply: a trade under the minimum is allowed only when it closes the position,
    or when it is a sale the hard floor needs - without it, even with no purchase at all, cash would
    end below the floor."""
    p = req.parameters
    cost = p.trading.trading_cost_bps / 1e4
    prices = {s.symbol: s.price for s in req.securities}
    held = dict.fromkeys(prices, 0.0)
    for lot in req.account.lots:
        held[lot.symbol] += lot.quantity
    V = req.account.cash + sum(held[s] * prices[s] for s in prices)
    after = dict(held)
    for t in result.trades:
        after[t.symbol] += t.quantity if t.side == "buy" else -t.quantity
    bought = sum(t.value for t in result.trades if t.side == "buy")
    no_buys = result.summary.cash_after + bought * (1 + cost)
    bad = []
    for t in result.trades:
        if t.value >= p.trading.min_trade_value - 0.01:
            continue
        closes = t.side == "sell" and abs(after[t.symbol]) < 1e-9
        floor_needs = t.side == "sell" and no_buys - t.value * (1 - cost) < p.cash.floor * V - 1e-6
        if not closes and not floor_needs:
            bad.append((t.side, t.symbol, round(t.value, 2)))
    return bad


@settings(
    max_examples=int(os.environ.get("PROP_N", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    cash=st.floats(0, 500),
    floor=st.sampled_from([0.0, 0.0, 0.01]),
    price_c=st.floats(40, 200).map(lambda p: round(p, 2)),
    qty_d=st.floats(150, 300).map(lambda q: round(q, 1)),
    qty_a=st.floats(100, 300).map(lambda q: round(q, 1)),
)
def test_no_small_discretionary_trade_over_random_accounts(cash, floor, price_c, qty_d, qty_a):
    req = _request(cash, floor, price_c, qty_d, qty_a)
    try:
        result = rebalance(req)
    except InfeasibleParameters:
        return
    assert _simple_small_trades(req, result) == []
