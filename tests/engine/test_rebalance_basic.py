"""Rebalances whose right answer is known by hand."""

import pytest

from rebalancing.engine import (
    CASH_KEY,
    CashParams,
    DriftParams,
    InfeasibleParameters,
    Parameters,
    Restrictions,
    TradingParams,
    TransitionParams,
    rebalance,
)

from .builders import funds, lot, model, request, trades_by_symbol, with_params


def test_two_asset_rebalance_sells_the_overweight_and_buys_the_underweight():
    # given 70/30 at $100 a share against a 60/40 model and no cash target
    req = request(
        [lot("L1", "EQ", 70, 5_000), lot("L2", "BD", 30, 2_400)], funds(EQ=100, BD=100), model(EQ=0.6, BD=0.4)
    )
    # when rebalanced
    result = rebalance(req)
    # then 10 shares move from EQ to BD and the account is exactly on model
    assert trades_by_symbol(result) == {"EQ": ("sell", 10.0), "BD": ("buy", 10.0)}
    assert result.weights_after["EQ"] == pytest.approx(0.6)
    assert result.weights_after["BD"] == pytest.approx(0.4)
    assert result.summary.drift_before == pytest.approx(0.1)
    assert result.summary.drift_after == pytest.approx(0.0, abs=1e-9)
    # and the sale's gain is long-term: 10 x (100 - 5000/70)
    sale = next(t for t in result.trades if t.side == "sell")
    assert sale.lots[0].term == "long"
    assert sale.lots[0].gain == pytest.approx(1_000 - 5_000 / 7)
    assert sale.reasons == ("drift",)


def test_cash_target_is_invested_and_kept():
    # given $10,000 of cash only and a 1% cash target
    req = request([], funds(EQ=100, BD=50), model(EQ=0.5, BD=0.5), cash=10_000, parameters=Parameters())
    # when rebalanced
    result = rebalance(req)
    # then 49.5% goes to each fund (whole shares) and 1% stays in cash
    assert trades_by_symbol(result) == {"EQ": ("buy", 49.0), "BD": ("buy", 99.0)}
    assert result.summary.cash_after == pytest.approx(10_000 - 4_900 - 4_950)
    assert result.targets[CASH_KEY] == pytest.approx(0.01)


def test_zero_tax_budget_may_only_sell_losses():
    # given an overweight fund with a big gain lot and a small loss lot, and a zero gain budget
    lots = [
        lot("G", "EQ", 60, 3_000),  # +3,000 gain
        lot("L", "EQ", 20, 2_400),  # -400 loss
        lot("B", "BD", 20, 2_000),
    ]
    params = Parameters(cash=CashParams(target=0.0), transition=TransitionParams(max_net_gain_per_run=0.0))
    req = request(lots, funds(EQ=100, BD=100), model(EQ=0.5, BD=0.5), parameters=params)
    # when rebalanced
    result = rebalance(req)
    # then the loss lot is sold, gains only as far as the loss offsets them, net gain <= 0
    sale = next(t for t in result.trades if t.symbol == "EQ")
    sold = {ls.lot_id: ls.quantity for ls in sale.lots}
    assert sold["L"] == 20
    assert result.summary.net_realised_gain <= 1e-6
    # and the warning says the budget stopped the transition
    assert any("the limit on net realised gain stopped the transition" in w for w in result.warnings)


def test_tax_budget_prefers_long_term_gains_to_short_term_ones():
    # given two overweight positions with equal gains per share, one short-term, one long-term
    from datetime import date

    lots = [lot("S", "EQ", 50, 4_000, date(2025, 3, 1)), lot("LT", "EQ", 50, 4_000, date(2020, 3, 1))]
    params = Parameters(cash=CashParams(target=0.0), transition=TransitionParams(max_net_gain_per_run=500.0))
    req = request(lots, funds(EQ=100, BD=100), model(EQ=0.5, BD=0.5), parameters=params)
    # when rebalanced
    sale = next(t for t in rebalance(req).trades if t.symbol == "EQ")
    # then the long-term lot is sold first (taxed at 20%, not 37%)
    assert [ls.lot_id for ls in sale.lots] == ["LT"]
    assert sale.realised_gain <= 500.0 + 1e-6


def test_inside_drift_bands_nothing_trades():
    # given 61/39 against 60/40 with 3% bands
    req = request(
        [lot("L1", "EQ", 61, 5_000), lot("L2", "BD", 39, 3_500)], funds(EQ=100, BD=100), model(EQ=0.6, BD=0.4)
    )
    req = with_params(req, drift=DriftParams(absolute_band=0.03, relative_band=0.0))
    # when rebalanced
    result = rebalance(req)
    # then nothing trades and the solver is not even called
    assert result.trades == ()
    assert result.diagnostics.solves == 0
    assert any("inside its drift band" in w for w in result.warnings)


def test_outside_a_band_the_whole_account_is_rebalanced():
    req = request(
        [lot("L1", "EQ", 65, 5_000), lot("L2", "BD", 35, 3_500)], funds(EQ=100, BD=100), model(EQ=0.6, BD=0.4)
    )
    req = with_params(req, drift=DriftParams(absolute_band=0.03, relative_band=0.0))
    assert trades_by_symbol(rebalance(req)) == {"EQ": ("sell", 5.0), "BD": ("buy", 5.0)}


def test_do_not_buy_keeps_the_position_and_rescales_nothing_else_across_sleeves():
    # given BD underweight but on the do-not-buy list
    req = request(
        [lot("L1", "EQ", 70, 5_000), lot("L2", "BD", 30, 2_500)], funds(EQ=100, BD=100), model(EQ=0.6, BD=0.4)
    )
    req = with_params(req, restrictions=Restrictions(do_not_buy=("BD",)))
    result = rebalance(req)
    # then BD is never bought
    assert all(not (t.symbol == "BD" and t.side == "buy") for t in result.trades)


def test_hold_pins_the_position_and_rescales_the_rest():
    # given EQ overweight at 70% but on hold
    req = request(
        [lot("L1", "EQ", 70, 5_000), lot("L2", "BD", 30, 2_500)], funds(EQ=100, BD=100), model(EQ=0.6, BD=0.4)
    )
    result = rebalance(with_params(req, restrictions=Restrictions(hold=("EQ",))))
    # then EQ's target is its weight, BD's shrinks to fit, and nothing trades
    assert result.targets["EQ"] == pytest.approx(0.7)
    assert result.targets["BD"] == pytest.approx(0.3)
    assert result.trades == ()


def test_min_trade_value_drops_small_trades():
    req = request(
        [lot("L1", "EQ", 61, 5_000), lot("L2", "BD", 39, 3_500)], funds(EQ=100, BD=100), model(EQ=0.6, BD=0.4)
    )
    result = rebalance(with_params(req, trading=TradingParams(min_trade_value=500.0)))
    assert result.trades == ()


def test_cash_floor_against_do_not_sell_is_infeasible_and_names_both():
    # given no cash, a 5% cash floor, and the only holding on the do-not-sell list
    req = request([lot("L1", "EQ", 100, 5_000)], funds(EQ=100), model(EQ=1.0))
    req = with_params(
        req,
        cash=CashParams(target=0.05, floor=0.05),
        restrictions=Restrictions(do_not_sell=("EQ",)),
    )
    # when rebalanced, then the error names the two conflicting parameters
    with pytest.raises(InfeasibleParameters) as err:
        rebalance(req)
    assert set(err.value.conflicts) == {"cash.floor", "restrictions.do_not_sell"}
    assert err.value.code == "infeasible_parameters"


def test_max_turnover_caps_the_trade():
    req = request([lot("L1", "EQ", 100, 5_000)], funds(EQ=100, BD=100), model(EQ=0.5, BD=0.5))
    result = rebalance(with_params(req, trading=TradingParams(max_turnover=0.1)))
    assert result.summary.turnover <= 0.1 + 1e-9
    assert result.summary.turnover > 0.05


def test_yearly_budget_counts_gains_already_realised_this_year():
    # given $1,000 of yearly budget of which $800 was realised earlier this year
    lots = [lot("G", "EQ", 80, 4_000), lot("B", "BD", 20, 2_000)]
    params = Parameters(
        cash=CashParams(target=0.0), transition=TransitionParams(max_net_gain_per_year=1_000.0)
    )
    req = request(
        lots, funds(EQ=100, BD=100), model(EQ=0.5, BD=0.5), parameters=params, realised_long_term_ytd=800.0
    )
    # when rebalanced, then at most $200 more is realised: 4 shares at $50 of gain each
    result = rebalance(req)
    assert result.summary.net_realised_gain <= 200.0 + 1e-6
    assert trades_by_symbol(result)["EQ"] == ("sell", 4.0)
