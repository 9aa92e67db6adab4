"""Wash-sale rules: window of 30 days before/after, household-wide, substantially identical groups."""

import random
from datetime import timedelta

import pytest

from rebalancing.engine import (
    CashParams,
    HarvestParams,
    HouseholdTrade,
    Instruction,
    InvalidRequest,
    Model,
    Parameters,
    Restrictions,
    Security,
    Sleeve,
    TradingParams,
    WashSaleParams,
    rebalance,
    request_from_dict,
    request_to_dict,
    result_from_dict,
    result_to_dict,
)
from rebalancing.engine.explain import explain
from rebalancing.engine.wash_sales import Equivalence, find_violations, window_activity

from .builders import AS_OF, funds, lot, model, request


def test_equivalence_groups_merge_transitively():
    eq = Equivalence([("VTI", "SCHB"), ("SCHB", "ITOT")])
    assert eq.group("VTI") == eq.group("ITOT")
    assert eq.group("BND") == "BND"
    assert eq.members("VTI") == {"VTI", "SCHB", "ITOT"}


def test_window_counts_household_trades_of_the_last_30_days_only():
    eq = Equivalence([("EQ", "EQ2")])
    trades = [
        HouseholdTrade(AS_OF - timedelta(days=30), "EQ2", "sell", 10, -50.0, "IRA"),
        HouseholdTrade(AS_OF - timedelta(days=31), "BD", "sell", 10, -50.0),
        HouseholdTrade(AS_OF - timedelta(days=3), "BD", "buy", 5),
        HouseholdTrade(AS_OF - timedelta(days=3), "RE", "sell", 5, 100.0),
    ]
    window = window_activity(AS_OF, trades, [], eq)
    assert set(window.loss_sales) == {eq.group("EQ")}
    assert window.purchases == {"BD": 5}


def test_find_violations_reports_buys_after_loss_sales_and_loss_sales_after_buys():
    trades = [
        HouseholdTrade(AS_OF - timedelta(days=5), "EQ", "sell", 10, -100.0),
        HouseholdTrade(AS_OF - timedelta(days=5), "BD", "buy", 10),
    ]
    problems = find_violations(AS_OF, trades, [], ["EQ"], [("L9", "BD")], WashSaleParams())
    assert len(problems) == 2


def test_engine_never_buys_a_security_sold_at_a_loss_in_the_household_window():
    # given EQ underweight, but sold at a loss in the spouse's IRA 10 days ago
    req = request([lot("L1", "BD", 100, 10_000)], funds(EQ=100, BD=100), model(EQ=0.5, BD=0.5))
    trades = (HouseholdTrade(AS_OF - timedelta(days=10), "EQ", "sell", 5, -200.0, "IRA-2"),)
    req = request(req.account.lots, req.securities, req.model, household_trades=trades)
    # when rebalanced, then EQ is not bought
    result = rebalance(req)
    assert all(t.symbol != "EQ" for t in result.trades)


def test_unknown_gain_of_a_household_sale_counts_as_a_loss():
    trades = (HouseholdTrade(AS_OF - timedelta(days=10), "EQ", "sell", 5, None),)
    req = request(
        [lot("L1", "BD", 100, 10_000)], funds(EQ=100, BD=100), model(EQ=0.5, BD=0.5), household_trades=trades
    )
    assert all(t.symbol != "EQ" for t in rebalance(req).trades)


def test_engine_never_sells_at_a_loss_within_30_days_of_a_purchase():
    # given EQ overweight with a loss lot, and EQ bought in another account last week
    lots = [lot("LOSS", "EQ", 80, 10_000), lot("B", "BD", 20, 2_000)]
    trades = (HouseholdTrade(AS_OF - timedelta(days=7), "EQ", "buy", 5, account_id="ROTH"),)
    req = request(lots, funds(EQ=100, BD=100), model(EQ=0.5, BD=0.5), household_trades=trades)
    # when rebalanced, then the loss lot is not sold
    result = rebalance(req)
    assert all(t.symbol != "EQ" for t in result.trades)


def test_allowing_wash_sales_reports_the_disallowed_loss():
    # given the same situation but wash sales explicitly allowed
    lots = [lot("LOSS", "EQ", 80, 10_000), lot("B", "BD", 20, 2_000)]
    trades = (HouseholdTrade(AS_OF - timedelta(days=7), "EQ", "buy", 20, account_id="ROTH"),)
    params = Parameters(cash=CashParams(target=0.0), wash_sale=WashSaleParams(allow=True))
    req = request(
        lots, funds(EQ=100, BD=100), model(EQ=0.5, BD=0.5), household_trades=trades, parameters=params
    )
    result = rebalance(req)
    sale = next(t for t in result.trades if t.symbol == "EQ")
    # then 30 shares are sold at a 25/share loss; 20 of them are matched by the purchase, and the
    # loss of those 20 is disallowed (Pub. 550: fewer bought than sold, only their part; before,
    # the engine showed 20 / 80 of the loss sold, 187.50, the shares held instead of those sold)
    assert sale.quantity == 30
    assert sale.lots[0].disallowed_loss == pytest.approx(20 * 25)
    assert result.summary.disallowed_losses == pytest.approx(500.0)
    assert result.summary.realised_short_term_loss + result.summary.realised_long_term_loss == pytest.approx(250.0)
    assert any(a.code == "wash_sale_disallowed" for a in result.alerts)


def _allowed(lots, trades, **account):
    params = Parameters(cash=CashParams(target=0.0), wash_sale=WashSaleParams(allow=True))
    return rebalance(request(lots, funds(EQ=100, BD=100), model(EQ=0.5, BD=0.5), household_trades=trades,
                             parameters=params, **account))


def test_a_loss_in_an_ira_is_never_disallowed():
    # given an IRA selling EQ at a loss with EQ bought in the household last week, wash sales allowed
    lots = [lot("LOSS", "EQ", 80, 10_000), lot("B", "BD", 20, 2_000)]
    trades = (HouseholdTrade(AS_OF - timedelta(days=7), "EQ", "buy", 20, account_id="TAX"),)
    result = _allowed(lots, trades, taxable=False)
    # then nothing is disallowed: a sale inside an IRA realises no loss (the ledger records none;
    # before, the proposal showed 187.50 disallowed)
    assert any(t.symbol == "EQ" and t.side == "sell" for t in result.trades)
    assert result.summary.disallowed_losses == 0.0
    assert all(s.disallowed_loss == 0.0 for t in result.trades for s in t.lots)


def test_the_rest_of_the_loss_lots_own_purchase_replaces_nothing():
    # given a lot bought 10 days ago and now at a loss, partly sold, wash sales allowed
    lots = [lot("NEW", "EQ", 80, 10_000, AS_OF - timedelta(days=10)), lot("B", "BD", 20, 2_000)]
    result = _allowed(lots, ())
    sale = next(t for t in result.trades if t.symbol == "EQ")
    # then the shares kept are not its replacements (Rev. Rul. 56-602): nothing is disallowed
    assert 0 < sale.quantity < 80
    assert result.summary.disallowed_losses == 0.0


def test_losses_take_the_replacement_shares_in_the_order_the_loss_shares_were_bought():
    # given two loss lots sold whole (the model drops EQ) and 25 shares bought in the window
    old, new = AS_OF - timedelta(days=900), AS_OF - timedelta(days=200)
    lots = [lot("NEWER", "EQ", 20, 3_000, new), lot("OLDER", "EQ", 20, 2_400, old), lot("B", "BD", 20, 2_000)]
    trades = (HouseholdTrade(AS_OF - timedelta(days=3), "EQ", "buy", 25, account_id="SPOUSE"),)
    params = Parameters(cash=CashParams(target=0.0), wash_sale=WashSaleParams(allow=True))
    result = rebalance(request(lots, funds(EQ=100, BD=100), model(BD=1.0), household_trades=trades,
                               parameters=params))
    sold = {s.lot_id: s for t in result.trades for s in t.lots}
    # then the older lot's 20 loss shares (400 lost) are all replaced, the newer's 5 of 20 (1,000 lost)
    assert sold["OLDER"].disallowed_loss == pytest.approx(400.0)
    assert sold["NEWER"].disallowed_loss == pytest.approx(250.0)
    assert result.summary.disallowed_losses == pytest.approx(650.0)


def test_harvest_never_buys_back_an_equivalent_of_what_it_sells_at_a_loss():
    # given a harvestable loss in EQ whose configured substitute is substantially identical
    lots = [lot("L1", "EQ", 50, 8_000), lot("L2", "BD", 50, 5_000)]
    params = Parameters(
        cash=CashParams(target=0.0),
        harvest=HarvestParams(substitutes={"EQ": "EQ2"}),
        wash_sale=WashSaleParams(equivalent_groups=(("EQ", "EQ2"),)),
    )
    req = request(lots, funds(EQ=100, EQ2=100, BD=100), model(EQ=0.5, BD=0.5), parameters=params)
    result = rebalance(req)
    # then nothing is harvested and the alert says why
    assert all(t.symbol != "EQ2" for t in result.trades)
    alert = next(a for a in result.alerts if a.code == "harvest_opportunity")
    assert "EQ2" in alert.message


def test_a_buy_blocked_by_a_household_loss_sale_says_which_sale_and_when_it_clears():
    # given EQ underweight by 5,000, sold at a loss in the spouse's IRA 10 days ago and, earlier,
    # at a smaller loss in another account
    trades = (
        HouseholdTrade(AS_OF - timedelta(days=20), "EQ", "sell", 5, -900.0, "JOINT"),
        HouseholdTrade(AS_OF - timedelta(days=10), "EQ", "sell", 5, -200.0, "IRA-2"),
    )
    req = request(
        [lot("L1", "BD", 100, 10_000)], funds(EQ=100, BD=100), model(EQ=0.5, BD=0.5), household_trades=trades
    )
    # when rebalanced
    result = rebalance(req)
    # then the money stays in cash and the result names the latest sale and the first clean day
    (blocked,) = result.blocked_buys
    assert blocked.symbol == "EQ" and blocked.sale_symbol == "EQ"
    assert blocked.sale_date == AS_OF - timedelta(days=10) and blocked.sale_account_id == "IRA-2"
    assert blocked.sale_loss == 200.0 and not blocked.sale_in_proposal
    assert blocked.buyable_on == AS_OF + timedelta(days=21)
    assert blocked.shortfall == pytest.approx(5_000.0)
    # and the JSON form and the CLI table carry it
    data = result_to_dict(result)
    assert data["blocked_buys"][0]["buyable_on"] == (AS_OF + timedelta(days=21)).isoformat()
    assert result_from_dict(data).blocked_buys == result.blocked_buys
    assert "EQ 5,000.00 below target" in explain(result) and "buyable again on" in explain(result)


def test_a_sale_31_days_ago_blocks_nothing_and_day_30_still_does():
    def blocked(days):
        trades = (HouseholdTrade(AS_OF - timedelta(days=days), "EQ", "sell", 5, -200.0, "IRA"),)
        req = request(
            [lot("L1", "BD", 100, 10_000)],
            funds(EQ=100, BD=100),
            model(EQ=0.5, BD=0.5),
            household_trades=trades,
        )
        return rebalance(req).blocked_buys

    assert blocked(31) == ()
    (b,) = blocked(30)
    assert b.buyable_on == AS_OF + timedelta(days=1)


def test_an_equivalent_sold_at_a_loss_in_this_proposal_is_named_as_the_blocking_sale():
    # given a harvestable EQ loss whose substitute EQ2 takes its target, and EQ2's own sibling
    # EQ3 (same group as EQ) under target
    lots = [lot("L1", "EQ", 50, 8_000), lot("L2", "BD", 50, 5_000)]
    params = Parameters(
        cash=CashParams(target=0.0),
        harvest=HarvestParams(substitutes={"EQ": "EQ2"}),
        wash_sale=WashSaleParams(equivalent_groups=(("EQ", "EQ3"),)),
    )
    securities = (*funds(EQ=100, EQ2=100, BD=100), *funds(EQ3=100))
    the_model = Model(
        "m", (Sleeve("equity", 0.6, {"EQ": 0.5, "EQ3": 0.5}), Sleeve("bonds", 0.4, {"BD": 1.0}))
    )
    req = request(lots, securities, the_model, parameters=params)
    result = rebalance(req)
    # then EQ is harvested, EQ3 is not bought, and the harvest is the blocking sale
    assert any(t.symbol == "EQ" and t.side == "sell" for t in result.trades)
    (b,) = [b for b in result.blocked_buys if b.symbol == "EQ3"]
    assert b.sale_symbol == "EQ" and b.sale_in_proposal and b.sale_date == AS_OF
    assert b.sale_loss == pytest.approx(3_000.0)
    assert b.buyable_on == AS_OF + timedelta(days=31)


def test_when_every_name_is_blocked_the_cash_waits_and_the_result_says_until_when():
    # given nothing held but cash, and both funds of the model sold at a loss in the household
    trades = (
        HouseholdTrade(AS_OF - timedelta(days=3), "EQ", "sell", 5, -50.0, "IRA"),
        HouseholdTrade(AS_OF - timedelta(days=12), "BD", "sell", 5, -50.0, "IRA"),
    )
    req = request([], funds(EQ=100, BD=100), model(EQ=0.5, BD=0.5), cash=10_000.0, household_trades=trades)
    result = rebalance(req)
    assert result.trades == ()
    assert {b.symbol: b.buyable_on for b in result.blocked_buys} == {
        "EQ": AS_OF + timedelta(days=28),
        "BD": AS_OF + timedelta(days=19),
    }


def test_groups_of_many_symbols_are_each_symbols_group():
    eq = Equivalence([("VTI", "ITOT"), ("ITOT", "SCHB"), ("BND", "AGG")])
    symbols = ["SCHB", "AGG", "VXUS", "VTI", "BND"]
    assert eq.groups(symbols) == [eq.group(s) for s in symbols] == ["ITOT", "AGG", "VXUS", "ITOT", "AGG"]


def _equivalents_at_a_loss(eq_shares: float):
    """EQ on the model, EQ2 (substantially identical to EQ, off the model) held at a loss, BD short."""
    lots = [lot("L1", "EQ", eq_shares, eq_shares * 100), lot("L2", "EQ2", 20, 3_000),
            lot("L3", "BD", 80 - eq_shares, (80 - eq_shares) * 100)]
    params = Parameters(cash=CashParams(target=0.0), wash_sale=WashSaleParams(equivalent_groups=(("EQ", "EQ2"),)))
    return request(lots, funds(EQ=100, EQ2=100, BD=100), model(EQ=0.5, BD=0.5), parameters=params)


def test_an_equivalent_off_the_model_is_sold_at_a_loss_when_its_group_needs_no_purchase():
    # Given EQ already at its target (50 of 100 shares' worth) and EQ2, its equivalent, at a loss
    result = rebalance(_equivalents_at_a_loss(50))
    # Then EQ2 is sold (the loss is realised: nothing of its group is bought, so no wash sale) and
    # BD bought with the proceeds - where the engine used to keep EQ2 so that EQ stayed buyable.
    trades = {(t.side, t.symbol): t.quantity for t in result.trades}
    assert trades == {("sell", "EQ2"): 20, ("buy", "BD"): 20}


def test_an_equivalent_off_the_model_keeps_its_loss_while_its_group_needs_buying():
    # Given EQ under its target (40 shares' worth of a 50 target) and EQ2 at a loss
    result = rebalance(_equivalents_at_a_loss(40))
    # Then EQ2 is not sold at a loss: EQ stays buyable (a purchase beside the sale would wash it)
    assert ("sell", "EQ2") not in {(t.side, t.symbol) for t in result.trades}


def test_a_loss_a_recent_purchase_blocks_says_which_purchase_and_when_it_becomes_harvestable():
    # given EQ down a quarter, bought again 12 days ago by the spouse's IRA and 20 days ago here
    lots = [lot("L1", "EQ", 80, 10_000), lot("L2", "BD", 100, 10_000)]
    trades = (
        HouseholdTrade(AS_OF - timedelta(days=20), "EQ", "buy", 2, account_id="JOINT"),
        HouseholdTrade(AS_OF - timedelta(days=12), "EQ", "buy", 3, account_id="IRA-2"),
    )
    params = Parameters(cash=CashParams(target=0.0), harvest=HarvestParams(substitutes={"EQ": "EQ2"}))
    req = request(lots, funds(EQ=100, EQ2=100, BD=100), model(EQ=0.5, BD=0.5), household_trades=trades,
                  parameters=params)
    # when rebalanced, nothing of EQ is sold at a loss and the alert names the latest purchase
    result = rebalance(req)
    assert not any(t.symbol == "EQ" and t.side == "sell" for t in result.trades)
    alert = next(a for a in result.alerts if a.code == "harvest_opportunity")
    bought = AS_OF - timedelta(days=12)
    assert f"was bought on {bought.isoformat()}" in alert.message
    assert f"harvestable from {(bought + timedelta(days=31)).isoformat()}" in alert.message
    # and with an equivalent configured, the purchase of the equivalent is what counts
    grouped = Parameters(
        cash=CashParams(target=0.0),
        harvest=HarvestParams(substitutes={"EQ": "BD"}),
        wash_sale=WashSaleParams(equivalent_groups=(("EQ", "EQ2"),)),
    )
    eq2 = (HouseholdTrade(AS_OF - timedelta(days=5), "EQ2", "buy", 1, account_id="IRA-2"),)
    result = rebalance(request(lots, funds(EQ=100, EQ2=100, BD=100), model(EQ=0.5, BD=0.5),
                               household_trades=eq2, parameters=grouped))
    alert = next(a for a in result.alerts if a.code == "harvest_opportunity")
    assert "or a substantially identical security was bought on" in alert.message
    assert (AS_OF - timedelta(days=5) + timedelta(days=31)).isoformat() in alert.message


def test_restrictions_are_named_as_what_keeps_a_loss_unharvested():
    lots = [lot("L1", "EQ", 80, 10_000), lot("L2", "BD", 100, 10_000)]
    for field_, words in (("hold", "restrictions.hold"), ("do_not_sell", "restrictions.do_not_sell")):
        params = Parameters(cash=CashParams(target=0.0), harvest=HarvestParams(substitutes={"EQ": "EQ2"}),
                            restrictions=Restrictions(**{field_: ("EQ",)}))
        result = rebalance(request(lots, funds(EQ=100, EQ2=100, BD=100), model(EQ=0.5, BD=0.5), parameters=params))
        alert = next(a for a in result.alerts if a.code == "harvest_opportunity")
        assert alert.message.endswith(f"not harvested: {words} keeps it")


# Gifts (IRC §1091(a) counts shares "acquired by purchase"; §1015): a lot received in the window is
# no replacement of a loss, though its holding period may start on the gift day.
def _gift_beside_a_loss(received: frozenset[str], **params):
    lots = [lot("LOSS", "EQ", 80, 10_000), lot("GIFT", "EQ", 20, 1_500, AS_OF - timedelta(days=10)),
            lot("B", "BD", 20, 2_000)]
    return rebalance(request(lots, funds(EQ=100, BD=100), model(EQ=0.5, BD=0.5),
                             parameters=Parameters(cash=CashParams(target=0.0), **params), received_lots=received))


def test_a_gift_received_in_the_window_does_not_block_selling_a_loss():
    # given EQ overweight with an old loss lot, and 20 EQ shares received as a gift 10 days ago
    sold = {t.symbol: t for t in _gift_beside_a_loss(frozenset({"GIFT"})).trades if t.side == "sell"}
    # then the loss lot is sold (bought 10 days ago, the same lot would freeze it: the control)
    assert any(s.lot_id == "LOSS" for s in sold["EQ"].lots)
    control = _gift_beside_a_loss(frozenset())
    assert not any(s.lot_id == "LOSS" for t in control.trades for s in t.lots)


def test_a_gift_received_in_the_window_replaces_no_loss_when_wash_sales_are_allowed():
    allowed = {"wash_sale": WashSaleParams(allow=True)}
    gift = _gift_beside_a_loss(frozenset({"GIFT"}), **allowed)
    bought = _gift_beside_a_loss(frozenset(), **allowed)
    # then nothing is disallowed beside the gift; beside the same lot bought, its 20 shares are
    assert gift.summary.disallowed_losses == 0.0
    assert bought.summary.disallowed_losses == pytest.approx(20 * 25)


def test_received_lots_must_name_lots_of_the_account():
    with pytest.raises(InvalidRequest, match="received_lots names no lot of the account: NOPE"):
        _gift_beside_a_loss(frozenset({"NOPE"}))
    with pytest.raises(InvalidRequest, match="received_lots must be lot ids"):
        _gift_beside_a_loss("GIFT")


def test_received_lots_round_trip_through_json():
    lots = [lot("GIFT", "EQ", 20, 1_500, AS_OF - timedelta(days=10))]
    req = request(lots, funds(EQ=100), model(EQ=1.0), received_lots=frozenset({"GIFT"}))
    again = request_from_dict(request_to_dict(req))
    assert again.account.received_lots == frozenset({"GIFT"})
    assert request_to_dict(again) == request_to_dict(req)


def test_a_gift_sold_at_a_loss_is_replaced_by_a_purchase_in_the_window():
    # given 20 EQ received as a gift 10 days ago, below the donor's basis (its loss basis 150 a
    # share, held from the gift), 5 EQ bought by a spouse 5 days ago, and a model without EQ
    lots = [lot("GIFT", "EQ", 20, 3_000, AS_OF - timedelta(days=10)), lot("B", "BD", 20, 2_000)]
    trades = (HouseholdTrade(AS_OF - timedelta(days=5), "EQ", "buy", 5, account_id="SPOUSE"),)
    params = Parameters(cash=CashParams(target=0.0), wash_sale=WashSaleParams(allow=True))
    result = rebalance(request(lots, funds(EQ=100, BD=100), model(BD=1.0), household_trades=trades,
                               parameters=params, received_lots=frozenset({"GIFT"})))
    sold = {s.lot_id: s for t in result.trades for s in t.lots}
    # then the gift is sold whole and the 5 purchased shares replace 5 of its loss shares (the
    # gift itself is no purchase: it takes no replacement share out of the window's)
    assert sold["GIFT"].quantity == 20
    assert sold["GIFT"].disallowed_loss == pytest.approx(5 * 50)


@pytest.mark.parametrize("seed", range(40))
def test_the_windows_purchases_are_the_shares_bought_in_it_never_those_received(seed):
    # Random accounts of EQ lots - old, bought in the last 40 days, received as gifts in them -
    # and household purchases, against a plain count: shares bought (not received) in the 30 days
    # up to today, and the household's purchases in them.
    from rebalancing.engine.rebalancer import _prepare

    rng = random.Random(seed)
    lots, received, trades = [lot("B", "BD", 20, 2_000)], set(), []
    expected = 0.0
    for k in range(rng.randint(1, 6)):
        age = rng.choice((400, rng.randint(0, 40)))
        qty = float(rng.randint(1, 50))
        lots.append(lot(f"L{k}", "EQ", qty, qty * rng.uniform(60, 140), AS_OF - timedelta(days=age)))
        if age <= 40 and rng.random() < 0.5:
            received.add(f"L{k}")
        elif age <= 30:
            expected += qty
    for _ in range(rng.randint(0, 3)):
        age, qty = rng.randint(0, 40), float(rng.randint(1, 9))
        trades.append(HouseholdTrade(AS_OF - timedelta(days=age), "EQ", "buy", qty, account_id="SPOUSE"))
        expected += qty if age <= 30 else 0.0
    params = Parameters(cash=CashParams(target=0.0), wash_sale=WashSaleParams(allow=True))
    req = request(lots, funds(EQ=100, BD=100), model(EQ=0.5, BD=0.5), household_trades=tuple(trades),
                  parameters=params, received_lots=frozenset(received))
    prepared = _prepare(req)
    eq = prepared.limits.group[prepared.book.index["EQ"]]
    assert prepared.limits.replacement_shares[eq] == pytest.approx(expected)


def test_a_lot_partly_sold_since_its_purchase_is_counted_once_beside_the_trade_that_bought_it():
    # given 100 EQ bought 10 days ago (the account's own trade), 60 of them still held as lot NEW
    day = AS_OF - timedelta(days=10)
    lots = [lot("OLD", "EQ", 80, 10_000), lot("NEW", "EQ", 60, 6_000, day), lot("B", "BD", 20, 2_000)]
    own = HouseholdTrade(day, "EQ", "buy", 100, account_id="T")
    spouse = HouseholdTrade(day, "EQ", "buy", 60, account_id="SPOUSE")
    params = Parameters(cash=CashParams(target=0.0), wash_sale=WashSaleParams(allow=True))
    from rebalancing.engine.rebalancer import _prepare

    def pool(*trades):
        req = request(lots, funds(EQ=100, BD=100), model(EQ=0.5, BD=0.5), household_trades=trades, parameters=params)
        return _prepare(req).limits.replacement_shares[0]

    # then the window holds the 100 bought, not 160; a spouse's 60 the same day are 60 more,
    # never the lot's own shares (before: 160, and 60 with the spouse's trade alone)
    assert pool(own) == 100
    assert pool(own, spouse) == 160
    assert pool(spouse) == 120


@pytest.mark.parametrize("seed", range(40))
def test_the_windows_purchases_count_each_purchase_once_whoever_tells_of_it(seed):
    # Random lots of the account (some bought in the window and partly sold since, some of them
    # replacements held from before), its own buy trades of some of those days, other accounts'
    # buys, against a plain count: every buy trade in the window, and each lot bought in it whose
    # day no buy trade of the account tells of.
    from rebalancing.engine.rebalancer import _prepare

    rng = random.Random(1000 + seed)
    lots, trades, expected = [lot("B", "BD", 20, 2_000)], [], 0.0
    purchased_on, bought_day = {}, {}
    for k in range(rng.randint(1, 6)):
        age = rng.choice((400, rng.randint(0, 35)))
        held = float(rng.randint(1, 50))
        day = AS_OF - timedelta(days=age)
        # some are replacements: held from a loss sale's lot 200 days before they were bought
        acquired = day - timedelta(days=200) if rng.random() < 0.3 else day
        if acquired != day:
            purchased_on[f"L{k}"] = day
        bought_day[f"L{k}"] = day
        lots.append(lot(f"L{k}", "EQ", held, held * rng.uniform(60, 140), acquired))
        if age <= 35 and rng.random() < 0.6:
            trades.append(HouseholdTrade(day, "EQ", "buy", held + rng.randint(0, 20), account_id="T"))
    for _ in range(rng.randint(0, 3)):
        day = AS_OF - timedelta(days=rng.randint(0, 35))
        trades.append(HouseholdTrade(day, "EQ", "buy", float(rng.randint(1, 50)), account_id="SPOUSE"))
    window = [t for t in trades if t.date >= AS_OF - timedelta(days=30)]
    told_days = {t.date for t in window if t.account_id == "T"}
    expected = sum(t.quantity for t in window)
    expected += sum(x.quantity for x in lots[1:] if bought_day[x.id] >= AS_OF - timedelta(days=30)
                    and bought_day[x.id] not in told_days)
    params = Parameters(cash=CashParams(target=0.0), wash_sale=WashSaleParams(allow=True))
    req = request(lots, funds(EQ=100, BD=100), model(EQ=0.5, BD=0.5), household_trades=tuple(trades),
                  parameters=params, purchased_on=purchased_on)
    prepared = _prepare(req)
    assert prepared.limits.replacement_shares[prepared.book.index["EQ"]] == pytest.approx(expected)


# A wash-sale replacement's holding period is tacked back (IRC §1223(3)): its ``acquired`` is not
# the day it was bought, which the window reads (``Account.purchased_on``).
def _replacement_sold(quantity_kept: float, *other_trades, **account):
    day = AS_OF - timedelta(days=10)
    lots = [lot("R", "EQ", 20, 3_000, AS_OF - timedelta(days=210)), lot("B", "BD", 20, 2_000)]
    trades = (HouseholdTrade(day, "EQ", "buy", 20, account_id="T"), *other_trades)
    params = Parameters(cash=CashParams(target=0.0), wash_sale=WashSaleParams(allow=True),
                        restrictions=Restrictions(hold=()))
    target = model(BD=1.0) if not quantity_kept else model(EQ=quantity_kept * 100 / 4_000, BD=1 - quantity_kept * 100 / 4_000)
    result = rebalance(request(lots, funds(EQ=100, BD=100), target, household_trades=trades, parameters=params,
                               **account))
    return {s.lot_id: s for t in result.trades for s in t.lots}


def test_a_replacement_sold_at_a_loss_is_not_its_own_replacement():
    # given a lot bought 10 days ago as a replacement (held from 210 days ago), now 1,000 down
    bought = {"purchased_on": {"R": AS_OF - timedelta(days=10)}}
    # when it is sold whole, then nothing is disallowed: its own shares replace nothing (before,
    # the engine read its purchase as another's and disallowed all 1,000 - the control below)
    assert _replacement_sold(0, **bought)["R"].disallowed_loss == 0.0
    assert _replacement_sold(0)["R"].disallowed_loss == pytest.approx(1_000)
    # a spouse's 5 shares bought since do replace 5 of its loss shares
    spouse = HouseholdTrade(AS_OF - timedelta(days=2), "EQ", "buy", 5, account_id="S")
    assert _replacement_sold(0, spouse, **bought)["R"].disallowed_loss == pytest.approx(250)


def test_a_replacement_sold_in_part_keeps_no_replacement_of_its_own():
    # when 10 of its 20 shares are sold, the 10 kept are shares of its own purchase (Rev. Rul. 56-602)
    sold = _replacement_sold(10, purchased_on={"R": AS_OF - timedelta(days=10)})["R"]
    assert sold.quantity == 10
    assert sold.disallowed_loss == 0.0


@pytest.mark.parametrize(("fields", "problem"), [
    ({"purchased_on": {"NOPE": AS_OF}}, "purchased_on names no lot of the account: NOPE"),
    ({"purchased_on": {"GIFT": AS_OF}, "received_lots": frozenset({"GIFT"})},
     "a lot is either received or bought, not both: GIFT"),
    ({"purchased_on": {"GIFT": "2025-01-01"}}, "purchased_on must map lot ids to days"),
    ({"purchased_on": 5}, "purchased_on must map lot ids to days"),
    ({"purchased_on": [5]}, "purchased_on must map lot ids to days"),
    ({"purchased_on": [("GIFT",)]}, "purchased_on must map lot ids to days"),
    ({"purchased_on": "GIFT"}, "purchased_on must map lot ids to days"),
    ({"received_lots": 5}, "received_lots must be lot ids"),
    ({"received_lots": [5]}, "received_lots must be lot ids"),
])
def test_purchase_days_must_name_lots_bought_on_days(fields, problem):
    with pytest.raises(InvalidRequest, match=problem):
        request([lot("GIFT", "EQ", 20, 1_500)], funds(EQ=100), model(EQ=1.0), **fields)


def test_purchase_days_round_trip_through_json():
    req = request([lot("R", "EQ", 20, 1_500), lot("G", "EQ", 5, 400)], funds(EQ=100), model(EQ=1.0),
                  purchased_on={"R": AS_OF - timedelta(days=3)}, received_lots=frozenset({"G"}))
    again = request_from_dict(request_to_dict(req))
    assert again.account.purchased_on == (("R", AS_OF - timedelta(days=3)),)
    assert again.account.bought_on() == {"R": AS_OF - timedelta(days=3), "G": None}
    assert request_to_dict(again) == request_to_dict(req)
    with pytest.raises(InvalidRequest, match="account/purchased_on/R: 'soon' is not a 'date'"):
        request_from_dict({**request_to_dict(req), "account": {**request_to_dict(req)["account"],
                                                               "purchased_on": {"R": "soon"}}})


def test_a_blocked_name_harvested_here_hands_its_whole_target_to_its_substitute():
    # Given an equity sleeve of EQ 80% and EQ2 20%, both sold at a loss by the spouse today (30 days
    # in which neither may be bought here), and this account holding EQ at a loss (harvested, into
    # its substitute SUB) and too little EQ2, with plenty of cash
    trades = (HouseholdTrade(AS_OF, "EQ", "sell", 5, -50.0, "SPOUSE"),
              HouseholdTrade(AS_OF, "EQ2", "sell", 5, -50.0, "SPOUSE"))
    lots = [lot("L1", "EQ", 20, 3_000), lot("L2", "EQ2", 50, 500)]
    securities = (*funds(EQ=100, EQ2=10), Security("SUB", 100, "equity"))
    sleeve = Model("m", (Sleeve("equity", 1.0, {"EQ": 0.8, "EQ2": 0.2}),))
    params = Parameters(cash=CashParams(target=0.0),
                        harvest=HarvestParams(min_loss_value=50, substitutes={"EQ": "SUB"}))
    result = rebalance(request(lots, securities, sleeve, cash=7_500.0, parameters=params, household_trades=trades))
    # EQ is harvested and SUB bought for all of EQ's 80% (8,000 of the 10,000), not just the 2,000
    # the sale raised; EQ2, short and blocked, is kept as it is (selling it would only add to its
    # shortfall) and its missing 1,500 waits in cash, named
    sides = {t.symbol: (t.side, t.quantity) for t in result.trades}
    assert sides["EQ"] == ("sell", 20) and "harvest" in next(t for t in result.trades if t.symbol == "EQ").reasons
    assert "EQ2" not in sides
    assert sides["SUB"] == ("buy", pytest.approx(80, abs=1))
    assert [(b.symbol, round(b.shortfall)) for b in result.blocked_buys] == [("EQ2", 1_500)]


def test_an_iras_own_loss_sale_is_not_given_as_a_wash_sale_blocking_a_buy():
    # An account told to sell $5,000 of EQ sells two whole shares ($6,000, a $3,000 loss) and ends
    # $1,000 below EQ's target, which it does not buy back. In a taxable account a purchase would
    # wash that loss, and the result says so; an IRA's sales realise nothing for tax (IRC
    # §408(e)(1)), so there is no loss of its own to wash and the result must not say there is.
    def blocked(taxable):
        params = Parameters(cash=CashParams(target=0.0), trading=TradingParams(whole_shares=True),
                            instructions=(Instruction("sell_buy", sell="EQ", amount=5_000.0),))
        req = request([lot("L1", "EQ", 10, 45_000), lot("L2", "BD", 300, 30_000)], funds(EQ=3_000, BD=100),
                      model(EQ=0.5, BD=0.5), parameters=params, taxable=taxable)
        result = rebalance(req)
        assert [(t.symbol, t.side, t.quantity) for t in result.trades if t.side == "sell"] == [("EQ", "sell", 2.0)]
        return [(b.symbol, b.sale_in_proposal) for b in result.blocked_buys]

    assert blocked(taxable=True) == [("EQ", True)]
    assert blocked(taxable=False) == []
