"""A fill that sells a losing lot with a winning one nets to a gain, yet the losing lot's shares were
sold at a loss: a purchase of the group within 30 days washes that loss share by share (IRC
§1091(a); Treas. Reg. §1.1091-1(c); Pub. 550), so the engine must not make one.

A-1 holds A-1-L1 (100 VTI at 80.00, long-term) and A-1-L2 (50 VTI at 120.00). Sold together at 100
on 2026-11-10: +2,000 on L1, -1,000 on L2, +1,000 net."""

import importlib
from datetime import date

import pytest

from rebalancing import engine
from rebalancing.engine_inputs import rebalance_inputs_load
from rebalancing.ledger.executions import executions_import
from rebalancing.models import RealisedLot, TradeRecord

from .helpers import execution_csv, fill, release, sell

pytestmark = pytest.mark.django_db
SOLD = date(2026, 11, 10)
AS_OF = date(2026, 11, 20)


@pytest.fixture
def sold_both(book, pm):
    [order] = release(book["account"], [sell("VTI", 150, 100.0, [("A-1-L1", 100), ("A-1-L2", 50)])], pm=pm,
                      as_of=SOLD)
    executions_import(source=execution_csv(fill("S-MIX", order, 150, "100", SOLD)), actor="custodian feed",
                      as_of=AS_OF)
    return book["account"]


def test_the_trade_record_keeps_the_losing_lots_loss_beside_the_net(sold_both):
    assert sorted(RealisedLot.objects.values_list("lot_id", "gain")) == [("A-1-L1", 2000), ("A-1-L2", -1000)]
    trade = TradeRecord.objects.get(external_id="S-MIX")
    assert (trade.realised_gain, trade.realised_loss) == (1000, -1000)


def test_a_net_gain_sale_with_a_losing_lot_blocks_buying_the_group_back(sold_both):
    [inputs] = rebalance_inputs_load([sold_both.pk], as_of=AS_OF)
    [sale] = [t for t in inputs.request.account.household_trades if t.side == "sell"]
    assert (sale.symbol, sale.date, sale.realised_gain) == ("VTI", SOLD, -1000.0)

    result = engine.rebalance(inputs.request)

    # The account holds no US equity now and its model wants 60%: without the block it buys VTI.
    bought = {t.symbol for t in result.trades if t.side == "buy"}
    assert not bought & {"VTI", "ITOT"}
    blocked = {b.symbol: b for b in result.blocked_buys}
    assert blocked and {b.sale_date for b in blocked.values()} == {SOLD}


def test_the_migration_fills_in_the_losses_of_sales_booked_before_it(sold_both):
    from django.apps import apps

    migration = importlib.import_module("rebalancing.migrations.0040_trade_realised_loss")
    TradeRecord.objects.create(account=sold_both, security_id=TradeRecord.objects.get(external_id="S-MIX").security_id,
                               side="sell", quantity=1, price=100, trade_date=SOLD, realised_gain=5,
                               external_id="IMPORTED")  # a custodian's trade: no lots known
    TradeRecord.objects.update(realised_loss=None)

    migration.losses_from_realised_lots(apps, None)

    assert dict(TradeRecord.objects.values_list("external_id", "realised_loss")) == {"S-MIX": -1000, "IMPORTED": None}


def test_a_loss_sale_inside_an_ira_blocks_no_purchase(book, pm):
    # An IRA's sale realises nothing for tax (IRC §408(e)(1)): there is no loss for a purchase to wash,
    # as the ledger's replay reads it - the taxable account may buy VTI back the next day.
    from rebalancing.models import Account
    from rebalancing.planned_trades import trades_planned_by

    from ..rebalancing.book import make_account

    ira = make_account("A-1-IRA", model=book["model"], household=book["account"].household,
                       holdings=[("VTI", 40, 6_000, date(2026, 6, 1))])
    Account.objects.filter(pk=ira.pk).update(tax_status=Account.TaxStatus.TRADITIONAL)
    [order] = release(ira, [sell("VTI", 40, 100.0, [("A-1-IRA-L1", 40)])], pm=pm, as_of=SOLD)
    executions_import(source=execution_csv(fill("S-IRA", order, 40, "100", SOLD)), actor="custodian feed",
                      as_of=AS_OF)
    assert TradeRecord.objects.get(external_id="S-IRA").realised_loss == -2000  # recorded as sold

    [inputs] = rebalance_inputs_load([book["account"].pk], as_of=AS_OF)

    [sale] = [t for t in inputs.request.account.household_trades if t.side == "sell"]
    assert (sale.account_id, sale.realised_gain) == ("A-1-IRA", 0.0)
    # ...and an IRA's open proposal selling at a loss is no loss sale either
    planned = trades_planned_by([{"symbol": "VTI", "side": "sell", "quantity": 10,
                                  "lots": [{"quantity": 10, "gain": -500.0}]}],
                                account_number="A-1-IRA", as_of=AS_OF, taxable=False)
    assert [t.realised_gain for t in planned] == [0.0]
