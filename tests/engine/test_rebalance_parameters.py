"""Harvesting, instructions and the lot-selection methods, end to end."""

from dataclasses import replace
from datetime import date

import pytest

from rebalancing.engine import (
    CashParams,
    HarvestParams,
    InfeasibleParameters,
    Instruction,
    InvalidRequest,
    Parameters,
    Restrictions,
    ScreenParams,
    TradingParams,
    TransitionParams,
    WashSaleParams,
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


@pytest.mark.parametrize(("other", "named"), [(Instruction("bring_to_model"), "bring_to_model"),
                                               (Instruction("sell_buy", sell="EQ", buy="BD"), "sell EQ, buy BD")])
def test_liquidating_with_an_instruction_that_buys_is_refused_not_half_done(other, named):
    # liquidate + bring_to_model was carried out as bring_to_model, without a word
    lots = [lot("L1", "EQ", 60, 3_000), lot("L2", "BD", 40, 4_000)]
    req = request(lots, funds(EQ=100, BD=100), model(EQ=0.6, BD=0.4))
    with pytest.raises(InvalidRequest, match=f"liquidate sells everything, and {named} would buy"):
        rebalance(with_params(req, instructions=(Instruction("liquidate"), other)))


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


def test_an_instructions_sale_counts_inside_the_per_run_limit():
    # RE (+2,000) and EQ2 (+9,000) are off the model; the run may realise 10,000 of net gain. The
    # advisor's "sell RE, buy EQ" is made, and the rest gets the 8,000 it leaves: before, its gain
    # was added on top (12,000 allowed), so all of EQ2 went too - 11,000, with a "limit exceeded" alert.
    lots = [lot("R", "RE", 20, 0.0), lot("X", "EQ2", 100, 1_000), lot("E", "EQ", 40, 4_000),
            lot("B", "BD", 50, 5_000)]
    req = request(lots, funds(EQ=100, EQ2=100, BD=100, RE=100), model(EQ=0.5, BD=0.5))
    req = with_params(req, transition=TransitionParams(max_net_gain_per_run=10_000.0),
                      instructions=(Instruction("sell_buy", sell="RE", buy="EQ"),))
    result = rebalance(req)

    sold = {t.symbol: t.quantity for t in result.trades if t.side == "sell"}
    assert sold["RE"] == 20
    assert sold["EQ2"] == 88  # whole shares of +90 each: 88 x 90 = 7,920 of the 8,000 left
    assert result.summary.net_realised_gain == pytest.approx(9_920, abs=0.01)
    assert not any(a.code == "tax_limit_exceeded" for a in result.alerts)


def test_an_instruction_beyond_the_per_run_limit_stretches_it_to_its_own_gain_only():
    lots = [lot("R", "RE", 20, 0.0), lot("X", "EQ2", 100, 1_000), lot("E", "EQ", 40, 4_000),
            lot("B", "BD", 50, 5_000)]
    req = request(lots, funds(EQ=100, EQ2=100, BD=100, RE=100), model(EQ=0.5, BD=0.5))
    req = with_params(req, transition=TransitionParams(max_net_gain_per_run=1_000.0),
                      instructions=(Instruction("sell_buy", sell="RE", buy="EQ"),))
    result = rebalance(req)

    assert {t.symbol for t in result.trades if t.side == "sell"} == {"RE"}
    assert result.summary.net_realised_gain == pytest.approx(2_000, abs=0.01)
    [alert] = [a for a in result.alerts if a.code == "tax_limit_exceeded"]
    assert alert.amount == pytest.approx(1_000)


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


def test_an_instructed_purchase_of_a_harvestable_name_wins_over_the_harvest():
    # EQ holds a harvestable loss; the advisor asks to sell the bonds and buy EQ. Harvesting EQ in
    # the same run would be washed by that purchase (and was an internal error), so EQ's loss lot
    # is kept, the instruction is carried out, and the result says why EQ was not harvested.
    req = with_params(_harvest_request(), instructions=(Instruction("sell_buy", sell="BD", buy="EQ"),))
    result = rebalance(req)
    trades = {t.symbol: t for t in result.trades}
    assert trades["BD"].side == "sell" and trades["BD"].quantity == 40
    assert trades["EQ"].side == "buy" and trades["EQ"].quantity == 40
    assert "EQ2" not in trades
    assert result.summary.harvested_losses == 0
    alert = next(a for a in result.alerts if a.code == "harvest_opportunity")
    assert alert.symbol == "EQ" and "an instruction buys EQ" in alert.message


def test_an_instructed_purchase_of_an_equivalent_stops_the_harvest_of_its_group():
    # EQ and EQ3 are substantially identical: buying EQ3 on instruction washes a harvest of EQ.
    req = with_params(
        _harvest_request(),
        instructions=(Instruction("sell_buy", sell="BD", buy="EQ3"),),
        wash_sale=WashSaleParams(equivalent_groups=(("EQ", "EQ3"),)),
    )
    req = replace(req, securities=(*req.securities, *funds(EQ3=100)))
    result = rebalance(req)
    trades = {t.symbol: t for t in result.trades}
    assert trades["EQ3"].side == "buy" and "EQ" not in trades and "EQ2" not in trades
    assert result.summary.harvested_losses == 0


def test_an_instructed_purchase_washing_another_instructions_loss_sale_is_refused_by_name():
    # One instruction sells EQ at a loss, another buys EQ3, substantially identical: the purchase
    # would wash the loss. It used to be dropped silently; now the error names both.
    req = with_params(
        _harvest_request(),
        harvest=None,
        instructions=(
            Instruction("sell_buy", sell="EQ"),
            Instruction("sell_buy", sell="BD", buy="EQ3"),
        ),
        wash_sale=WashSaleParams(equivalent_groups=(("EQ", "EQ3"),)),
    )
    req = replace(req, securities=(*req.securities, *funds(EQ3=100)))
    with pytest.raises(InfeasibleParameters) as error:
        rebalance(req)
    assert "EQ3" in str(error.value) and "EQ" in str(error.value)
    assert "wash_sale.equivalent_groups" in error.value.conflicts


@pytest.mark.parametrize("second", [Instruction("sell_buy", sell="BD", buy="EQ"), Instruction("sell_buy", sell="BD")])
def test_an_instruction_selling_what_another_buys_is_refused_naming_both(second):
    # "sell EQ, buy BD" with "sell BD, buy EQ": each undoes the other, and BD's loss sale would be
    # washed by the purchase (it was an internal error).
    lots = [lot("L1", "EQ", 60, 3_000), lot("L2", "BD", 40, 4_400, acquired=date(2026, 10, 1))]
    req = request(lots, funds(EQ=100, BD=100), model(EQ=0.6, BD=0.4))
    with pytest.raises(InfeasibleParameters) as error:
        rebalance(with_params(req, instructions=(Instruction("sell_buy", sell="EQ", buy="BD"), second)))
    said = '"sell BD, buy EQ"' if second.buy else '"sell BD"'
    assert str(error.value) == f'two instructions contradict each other: {said} sells BD and "sell EQ, buy BD" buys it'
    assert tuple(error.value.conflicts) == ("instructions",)


@pytest.mark.parametrize(("params", "words", "conflict"), [
    ({"screen": ScreenParams(excluded_symbols=("EQ2",))}, "the account's values screen", "screen"),
    ({"restrictions": Restrictions(do_not_buy=("EQ2",))}, "a do-not-buy restriction", "restrictions.do_not_buy"),
])
def test_an_instruction_buying_a_forbidden_security_is_refused_in_words_naming_what_forbids_it(params, words, conflict):
    lots = [lot("L1", "EQ", 60, 3_000), lot("L2", "BD", 40, 4_000)]
    req = request(lots, funds(EQ=100, EQ2=100, BD=100), model(EQ=0.6, BD=0.4))
    with pytest.raises(InfeasibleParameters) as error:
        rebalance(with_params(req, instructions=(Instruction("sell_buy", sell="EQ", buy="EQ2"),), **params))
    assert str(error.value) == f"instruction buys EQ2, which {words} forbids"
    assert conflict in error.value.conflicts


def test_an_instruction_buying_into_a_removed_asset_class_is_refused_naming_the_removal():
    # Found by an audit (2026-12-07): "sell BD, buy RE" with real estate removed bought RE and then
    # warned that RE "is in a removed asset class but kept" - the instruction had bought it.
    lots = [lot("L1", "EQ", 60, 6_000), lot("L2", "BD", 40, 4_000)]
    req = request(lots, funds(EQ=100, BD=100, RE=100), model(EQ=0.6, BD=0.3, RE=0.1))
    with pytest.raises(InfeasibleParameters) as error:
        rebalance(with_params(req, removed_asset_classes=("real_estate",),
                              instructions=(Instruction("sell_buy", sell="BD", buy="RE"),)))
    assert str(error.value) == "instruction buys RE, which the removal of its asset class from the model forbids"
    assert tuple(error.value.conflicts) == ("instructions", "removed_asset_classes")
