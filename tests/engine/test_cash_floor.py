"""The cash floor is hard: met after rounding and repairs, or ``InfeasibleParameters``.

Regressions found by the hypothesis invariants (``test_properties.py``), rebuilt by hand.
"""

from datetime import timedelta

import pytest

from rebalancing.engine import (
    CashParams,
    DriftParams,
    InfeasibleParameters,
    Model,
    Parameters,
    Security,
    Sleeve,
    TradingParams,
    TransitionParams,
    rebalance,
)

from .builders import AS_OF, direct_index_request, funds, lot, model, request


def _value_before(req) -> float:
    prices = {s.symbol: s.price for s in req.securities}
    return req.account.cash + sum(lot.quantity * prices[lot.symbol] for lot in req.account.lots)


def _assert_floor(req, result) -> None:
    floor = req.parameters.cash.floor * _value_before(req)
    assert result.summary.cash_after >= floor - 1e-6
    assert not any("below its floor" in w for w in result.warnings)


def test_a_whole_share_sale_rounded_away_is_rounded_up_to_keep_the_floor():
    # $20 account, no cash, floor 3.125% ($0.625).  The optimiser sells 0.4 of a C share (C trades
    # whole shares only) to buy D; rounding C to nothing used to leave cash at $0.31.
    securities = (
        Security("A", 5.0, "equity"),
        Security("B", 5.0, "equity"),
        Security("C", 10.0, "bonds", fractional=False),
        Security("D", 5.0, "bonds"),
    )
    the_model = Model(
        "m", (Sleeve("equity", 0.5, {"A": 0.5, "B": 0.5}), Sleeve("bonds", 0.5, {"C": 0.6, "D": 0.4}))
    )
    lots = [lot("L0", "A", 1, 5.0), lot("L1", "B", 1, 5.0), lot("L2", "C", 1, 10.0)]
    params = Parameters(
        cash=CashParams(target=0.03125, floor=0.03125), trading=TradingParams(whole_shares=False)
    )
    req = request(lots, securities, the_model, cash=0.0, parameters=params)
    result = rebalance(req)
    _assert_floor(req, result)
    # the rounded-up sale is the one the optimiser wanted, and D is still bought
    sides = {t.symbol: t.side for t in result.trades}
    assert sides.get("C") == "sell" and sides.get("D") == "buy"


def test_zero_gain_budget_sells_a_whole_loss_share_to_keep_the_floor():
    # Zero gain budget, no cash.  The optimiser offsets a tiny gain on N0 with a sliver (0.002
    # shares) of N1's loss lot; whole shares rounded the sliver away, the budget trim then took
    # back every N0 share and the buys were trimmed to nothing: no trades, cash below the floor.
    recent = AS_OF - timedelta(days=1)
    lots = [
        lot("L0", "N9", 13, 106.21, recent),
        lot("L1", "N0", 1, 69.16, recent),
        lot("L2", "N0", 1, 98.62, recent),
        lot("L3", "N0", 38, 5_255.73, recent),
        lot("L4", "N1", 1, 64.40, AS_OF - timedelta(days=150)),
    ]
    req = direct_index_request(lots, {"N0": 138.31, "N1": 40.73, "N9": 16.34})
    result = rebalance(req)
    _assert_floor(req, result)
    assert result.summary.net_realised_gain <= 0.005
    sold = {ls.lot_id for t in result.trades if t.side == "sell" for ls in t.lots}
    assert "L4" in sold  # the loss lot pays for the floor (and frees budget)


def test_floor_beyond_whole_shares_and_budget_names_the_conflict():
    # One $1,000 share with a $500 gain, no cash, floor 1%: the optimiser can sell 0.01 share
    # ($5 of gain, within the $10 budget), but a whole share realises $500.
    params = Parameters(
        cash=CashParams(target=0.01, floor=0.01),
        transition=TransitionParams(max_net_gain_per_run=10.0),
        trading=TradingParams(whole_shares=True),
    )
    req = request([lot("L1", "EQ", 1, 500.0)], funds(EQ=1_000.0), model(EQ=1.0), cash=0.0, parameters=params)
    with pytest.raises(InfeasibleParameters) as err:
        rebalance(req)
    conflicts = set(err.value.conflicts)
    assert {"cash.floor", "transition.max_net_gain_per_run", "trading.whole_shares"} <= conflicts


def test_cash_below_its_floor_is_outside_the_drift_band():
    # Cash 0 against a 2% target is inside a 3% absolute band, but below the 1% floor: the account
    # must not be left alone as "inside tolerance".
    params = Parameters(
        cash=CashParams(target=0.02, floor=0.01),
        drift=DriftParams(absolute_band=0.03, relative_band=0.25),
        trading=TradingParams(whole_shares=False),
    )
    lots = [lot("E", "EQ", 60, 5_000.0), lot("B", "BD", 40, 4_000.0)]
    req = request(lots, funds(EQ=100.0, BD=100.0), model(EQ=0.6, BD=0.4), cash=0.0, parameters=params)
    result = rebalance(req)
    _assert_floor(req, result)
    assert result.diagnostics.status != "inside_tolerance"
