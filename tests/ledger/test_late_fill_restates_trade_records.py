"""A sale booked at a gain that a late fill of an earlier loss sale turns into a loss.

A-1 holds A-1-L1 (100 VTI at 80.00, 2020) and A-1-L2 (50 VTI at 120.00, 2026-06-01).
- 2026-10-01: sells both at 100 (L1 +2,000; L2 -1,000): this fill reaches the ledger late.
- 2026-10-10: buys 50 VTI at 90 (lot B-1, 4,500): it replaces L2's 50 loss shares (IRC §1091(a)),
  so its basis is 4,500 + 1,000 = 5,500 (§1091(d)).
- 2026-11-05: sells B-1's 50 at 100 (5,000): booked before the 10-01 fill was known, at a gain
  of 500; once that fill arrives the replay restates the sale to a loss of 500 (5,000 - 5,500).

That 11-05 loss is an ordinary loss sale for §1091(a): a purchase of VTI (or ITOT, its group) up
to 2026-12-05 disallows it. The engine learns of loss sales from the trade records'
``realised_gain`` / ``realised_loss``, so the replay restates those from the sale's lots, and a run
on 2026-11-20 does not buy the group back (docs/ledger.md, "Runs never wash across a household").
"""

from datetime import date
from decimal import Decimal

import pytest

from rebalancing import engine
from rebalancing.engine_inputs import rebalance_inputs_load
from rebalancing.ledger.executions import executions_import
from rebalancing.models import RealisedLot, TradeRecord

from .helpers import buy, execution_csv, fill, release, sell

pytestmark = pytest.mark.django_db

SOLD_FIRST = date(2026, 10, 1)
BOUGHT = date(2026, 10, 10)
SOLD_AGAIN = date(2026, 11, 5)
RUN = date(2026, 11, 20)


@pytest.fixture
def history(book, pm):
    account = book["account"]
    [first] = release(account, [sell("VTI", 150, 100.0, [("A-1-L1", 100), ("A-1-L2", 50)])], pm=pm,
                      as_of=SOLD_FIRST)
    [bought] = release(account, [buy("VTI", 50, 90.0)], pm=pm, as_of=BOUGHT)
    executions_import(source=execution_csv(fill("BUY-1", bought, 50, "90", BOUGHT, lot_id="B-1"),
                                           columns=("external_id", "order_id", "kind", "quantity", "price",
                                                    "trade_date", "lot_id")),
                      actor="custodian feed", as_of=BOUGHT)
    [again] = release(account, [sell("VTI", 50, 100.0, [("B-1", 50)])], pm=pm, as_of=SOLD_AGAIN)
    executions_import(source=execution_csv(fill("SELL-2", again, 50, "100", SOLD_AGAIN)), actor="custodian feed",
                      as_of=SOLD_AGAIN)
    booked = TradeRecord.objects.get(external_id="SELL-2")
    assert (booked.realised_gain, booked.realised_loss) == (Decimal("500.00"), Decimal("0.00"))  # as first booked
    # The 10-01 fill arrives late (the custodian's file of that day, read on 11-06).
    executions_import(source=execution_csv(fill("SELL-1", first, 150, "100", SOLD_FIRST)), actor="custodian feed",
                      as_of=date(2026, 11, 6))
    return account


def test_the_replay_turns_the_later_sale_into_a_loss(history):
    l2 = RealisedLot.objects.get(execution__external_id="SELL-1", lot_id="A-1-L2")
    assert l2.disallowed_loss == Decimal("1000.00")
    [again] = RealisedLot.objects.filter(execution__external_id="SELL-2")
    assert (again.cost_basis, again.gain) == (Decimal("5500.00"), Decimal("-500.00"))


def test_the_trade_records_say_what_the_sales_lots_say(history):
    """Each sale's record: net gain = its lots' gains, loss = its losing lots' (as a fill books them)."""
    for external_id in ("SELL-1", "SELL-2"):
        trade = TradeRecord.objects.get(external_id=external_id)
        gains = list(RealisedLot.objects.filter(execution__external_id=external_id).values_list("gain", flat=True))
        assert (trade.realised_gain, trade.realised_loss) == (sum(gains), sum(min(g, 0) for g in gains)), external_id
    again = TradeRecord.objects.get(external_id="SELL-2")
    assert (again.realised_gain, again.realised_loss) == (Decimal("-500.00"), Decimal("-500.00"))
    first = TradeRecord.objects.get(external_id="SELL-1")
    assert (first.realised_gain, first.realised_loss) == (Decimal("1000.00"), Decimal("-1000.00"))


def test_a_run_within_30_days_does_not_buy_the_group_back(history):
    [inputs] = rebalance_inputs_load([history.pk], as_of=RUN)
    result = engine.rebalance(inputs.request)
    bought = {t.symbol for t in result.trades if t.side == "buy"}
    # The model wants 60% VTI and the account holds none: without the block it buys VTI, and that
    # purchase (11-20, 15 days after the 11-05 loss sale) disallows the 500 loss.
    assert not bought & {"VTI", "ITOT"}, bought


def test_a_run_after_the_window_may_buy_the_group_again(history):
    """The block ends 30 days after the loss sale (IRC §1091(a)): 12-06 may buy VTI."""
    [inputs] = rebalance_inputs_load([history.pk], as_of=date(2026, 12, 6))
    result = engine.rebalance(inputs.request)
    assert {t.symbol for t in result.trades if t.side == "buy"} & {"VTI", "ITOT"}
