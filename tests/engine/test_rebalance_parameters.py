"""Harvesting, instructions and the lot-selection methods, end to end."""

from datetime import date

import pytest

from rebalancing.engine import (
    CashParams,
    HarvestParams,
    InfeasibleParameters,
    Instruction,
    Parameters,
    Restrictions,
    TradingParams,
    TransitionParams,
    rebalance,
)
from rebalancing.engine.result import REASONS

from .builders import funds, lot, model, request, trades_by_symbol, with_params


def _harvest_request(**harvest):
    lots = [
        lot("LOSS", "EQ", 50, 6_500, date(2025, 1, 2)),
        lot("GAIN", "EQ", 10, 500),
        lot("B", "BD", 40, 4_000),
    ]
    params = Parameters(
        cash=CashParams(target=0.0), harvest=HarvestParams(substitutes={"EQ": "EQ2"}, **harvest)
    )
    return request(lots, funds(EQ=100, EQ2=100, BD=100), model(EQ=0.6, BD=0.4), parameters=params)


def test_harvest_sells_the_loss_lot_and_buys_the_substitute():
    result = rebalance(_harvest_request())
    trades = {t.symbol: t for t in result.trades}
    sale = trades["EQ"]
    # then the whole short-term loss lot is sold, the gain lot is kept as part of the target
    assert [ls.lot_id for ls in sale.lots] == ["LOSS"]
    assert sale.lots[0].gain == pytest.approx(-1_500)
    assert sale.lots[0].term == "short"
    assert "harvest" in sale.reasons
    # and the substitute takes the harvested weight
    assert trades["EQ2"].side == "buy" and trades["EQ2"].quantity == 50
    assert result.summary.harvested_losses == pytest.approx(1_500)
    assert result.summary.realised_short_term_loss == pytest.approx(1_500)


def test_harvest_thresholds_are_both_required():
    # a $1,500 / 23% loss does not pass a $2,000 threshold
    result = rebalance(_harvest_request(min_loss_value=2_000))
    assert "EQ2" not in trades_by_symbol(result)


def test_harvest_opportunity_alert_when_harvesting_is_off():
    req = with_params(_harvest_request(), harvest=None)
    result = rebalance(req)
    alert = next(a for a in result.alerts if a.code == "harvest_opportunity")
    assert alert.symbol == "EQ" and alert.amount == pytest.approx(1_500)


def test_sell_x_buy_y_instruction():
    lots = [lot("L1", "EQ", 60, 3_000), lot("L2", "BD", 40, 4_000)]
    req = request(lots, funds(EQ=100, EQ2=100, BD=100), model(EQ=0.6, BD=0.4))
    result = rebalance(with_params(req, instructions=(Instruction("sell_buy", sell="EQ", buy="EQ2"),)))
    assert trades_by_symbol(result) == {"EQ": ("sell", 60.0), "EQ2": ("buy", 60.0)}
    assert all("instruction" in t.reasons for t in result.trades)


def test_raise_cash_sets_aside_the_amount():
    lots = [lot("L1", "EQ", 60, 3_000), lot("L2", "BD", 40, 4_000)]
    req = request(lots, funds(EQ=100, BD=100), model(EQ=0.6, BD=0.4))
    result = rebalance(with_params(req, instructions=(Instruction("raise_cash", amount=2_000),)))
    assert result.summary.cash_after >= 2_000 - 1e-9
    assert result.summary.cash_after < 2_200


def test_liquidate_sells_everything_and_overrides_the_tax_budget_with_an_alert():
    lots = [lot("L1", "EQ", 60, 3_000), lot("L2", "BD", 40, 4_000)]
    req = request(lots, funds(EQ=100, BD=100), model(EQ=0.6, BD=0.4))
    req = with_params(
        req,
        instructions=(Instruction("liquidate"),),
        transition=TransitionParams(max_net_gain_per_run=100.0),
    )
    result = rebalance(req)
    assert result.summary.cash_after == pytest.approx(10_000)
    assert {t.side for t in result.trades} == {"sell"}
    assert any(a.code == "tax_limit_exceeded" for a in result.alerts)


def test_liquidate_against_hold_is_infeasible():
    lots = [lot("L1", "EQ", 60, 3_000), lot("L2", "BD", 40, 4_000)]
    req = request(lots, funds(EQ=100, BD=100), model(EQ=0.6, BD=0.4))
    req = with_params(req, instructions=(Instruction("liquidate"),), restrictions=Restrictions(hold=("BD",)))
    with pytest.raises(InfeasibleParameters) as err:
        rebalance(req)
    assert set(err.value.conflicts) == {"instructions.liquidate", "restrictions.hold"}


def test_bring_to_model_ignores_the_tax_budget():
    lots = [lot("L1", "EQ", 70, 3_500), lot("L2", "BD", 30, 3_000)]
    req = request(lots, funds(EQ=100, BD=100), model(EQ=0.6, BD=0.4))
    req = with_params(
        req,
        transition=TransitionParams(max_net_gain_per_run=0.0),
        instructions=(Instruction("bring_to_model"),),
    )
    result = rebalance(req)
    assert trades_by_symbol(result) == {"EQ": ("sell", 10.0), "BD": ("buy", 10.0)}


@pytest.mark.parametrize(
    ("method", "expected"),
    [("fifo", ["OLD"]), ("highest_cost", ["HIGH"]), ("tax_optimal", ["CHEAP"])],
)
def test_lot_selection_methods(method, expected):
    # given the oldest lot, the highest-cost lot (short-term: 2/share at 37% = 0.74 tax per share)
    # and a long-term lot with a lower cost (3/share at 20% = 0.60 tax per share)
    lots = [
        lot("OLD", "EQ", 10, 500, date(2015, 1, 2)),
        lot("HIGH", "EQ", 10, 980, date(2025, 2, 3)),
        lot("CHEAP", "EQ", 10, 970, date(2020, 1, 2)),
        lot("B", "BD", 70, 7_000),
    ]
    req = request(lots, funds(EQ=100, BD=100), model(EQ=0.2, BD=0.8))
    result = rebalance(with_params(req, trading=TradingParams(lot_selection=method)))
    sale = next(t for t in result.trades if t.symbol == "EQ")
    assert sale.quantity == 10
    assert [ls.lot_id for ls in sale.lots] == expected


def test_every_trade_has_reasons_from_the_vocabulary():
    result = rebalance(_harvest_request())
    assert result.trades
    for t in result.trades:
        assert t.reasons and set(t.reasons) <= set(REASONS)
